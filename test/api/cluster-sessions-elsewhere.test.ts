// Decisions about live sessions take every node's into account, not only this process's
// (issue 16 point 1). Two cores in this process on one PostgreSQL database, nodes A and B, each
// registered, A forwarding terminate to B as the peer client would (here straight to B's core:
// the transport is the server's, not the core's). A session live on B must be:
// - terminated when the LDAP sync on A disables its user (ldapTerminateSessionsOnDisable);
// - terminated when an administrator on A forces the check-in of its user's checkout;
// - the one that carries a launch checkout on when its user's other session ends on A;
// - a use of its credential that holds back rotation after use on A;
// - left out of A's OpenPSM end notices at start (it is running); a session reaped from a
//   dead node gets its notice then.
// A session of a dead node that A ends (and one A's start-up recovery ends, once A has
// started) has its end listeners run as a live end does: its launch checkout is checked in,
// rotation after use is tried; the node it ran on, back, does none of it again.
// Before, each looked at the sessions live in A's process only.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Attribute, Change, Client } from 'ldapts';
import { AppError } from '../../src/core/errors.js';
import { ClusterForwarding, type PeerTransport } from '../../src/core/cluster/forwarding.js';
import type { ConnectPlan } from '../../src/core/broker.js';
import type { Core } from '../../src/core/core.js';
import type { LiveSession } from '../../src/core/sessions/live.js';
import { sessionRow } from '../support/session-rows.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { startTestApp, type TestApp } from '../support/harness.js';

const NEVER = 8_000_000_000_000_000;
// Nobody dies of slowness here: the dead node of the OpenPSM case is made so by its heartbeat.
// One master key for both nodes, as the nodes of a cluster share it (their data dirs differ).
const env = { GATEHOUSE_NODE_DEAD_SECONDS: '3600', GATEHOUSE_MASTER_KEY: randomBytes(32).toString('base64') };

describe('sessions live on another node of the cluster (postgres)', () => {
  let slapd: Slapd;
  let a: TestApp;
  let b: TestApp;
  let n = 0;
  let transport: PeerTransport;
  /** Node addresses whose forwarded calls fail as a node that does not answer. */
  const unreachable = new Set<string>();

  before(async () => {
    slapd = await startSlapd();
    a = await startTestApp('postgres', env);
    // B on A's database (the harness's own fresh database for B goes unused).
    b = await startTestApp('postgres', { ...env, GATEHOUSE_DATABASE_URL: a.config.databaseUrl! });
    assert.notEqual(a.core.sessions.node, b.core.sessions.node);
    const cores: Record<string, Core> = { 'https://node-a.test': a.core, 'https://node-b.test': b.core };
    await a.core.cluster.registry.register('https://node-a.test', '0.1.0');
    await b.core.cluster.registry.register('https://node-b.test', '0.1.0');
    // What a peer's POST /peer/v1/sessions/:id/terminate does on its node (web/peer/server.ts).
    transport = {
      async terminate(to, actor, id, reason) {
        if (unreachable.has(to.address)) throw new Error('connect ECONNREFUSED');
        try {
          await cores[to.address]!.sessions.terminate(actor, id, reason, { local: true });
          return true;
        } catch (e) {
          if (e instanceof AppError && e.status === 404) return false;
          throw e;
        }
      },
    };
    a.core.sessions.forwardTo(new ClusterForwarding(a.core.store, a.core.cluster.registry, transport));
    b.core.sessions.forwardTo(new ClusterForwarding(b.core.store, b.core.cluster.registry, transport));
  });
  after(async () => {
    await b?.core.sessions.endAll('test over');
    await a?.core.sessions.endAll('test over');
    await b?.close();
    await a?.close();
    await slapd?.stop();
  });

  const secret = async () => {
    const r = await a.req('POST', '/api/v1/secrets', { token: a.adminToken, body: { name: `elsewhere-${++n}`, template: 'generic', fields: { machine: 'db1', username: 'u', password: `pw-elsewhere-${n}` } } });
    assert.equal(r.statusCode, 201, r.body);
    return r.json().id as string;
  };
  const plan = async (user: { id: string; username: string }, secretId: string): Promise<ConnectPlan> => ({
    sessionId: randomUUID(),
    user,
    protocol: 'ssh',
    target: { host: 'db1', port: 22 },
    credential: await a.core.secrets.credential(secretId),
    launcher: await a.core.launchers.get('ssh'),
  });
  /** A session started on `on` as its door starts one; terminated, it ends as the door would end it. */
  const live = async (on: TestApp, user: { id: string; username: string }, secretId: string): Promise<LiveSession> => {
    const s = await on.core.sessions.start(await plan(user, secretId), { clientIp: '127.0.0.1', door: 'ssh' });
    s.begin({ cols: 80, rows: 24, term: 'xterm' });
    s.onTerminate((reason) => void ending.set(s.id, s.end(`terminated: ${reason}`)));
    return s;
  };
  const ending = new Map<string, Promise<void>>();
  /** Its end written (row, audit, end listeners), on whichever node it ran. */
  const ended = async (s: LiveSession) => {
    await ending.get(s.id);
    await settled();
  };
  const admin = async () => {
    const u = (await a.core.dir.userByName('admin'))!;
    return { id: u.id, username: u.username };
  };
  const status = async (id: string) => (await a.core.store.db.selectFrom('sessions').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;
  const settled = async () => {
    await a.core.sessions.settled();
    await b.core.sessions.settled();
  };

  it('the LDAP sync on node A terminates the sessions of a user it disables on node B too', async () => {
    const r = await a.req('POST', '/api/v1/secrets', { token: a.adminToken, body: { name: 'ldap service bind', template: 'generic', fields: { username: slapd.serviceDn, password: slapd.servicePassword } } });
    assert.equal(r.statusCode, 201, r.body);
    const bind = r.json().id as string;
    const config = { enabled: true, url: slapd.url, security: 'starttls', caFile: slapd.caFile, bindDn: slapd.serviceDn, bindSecretId: bind, userBaseDn: slapd.peopleOu, groupBaseDn: slapd.groupsOu, groupMappings: [] };
    const put = await a.req('PUT', '/api/v1/directory/ldap', { token: a.adminToken, body: config });
    assert.equal(put.statusCode, 200, put.body);
    const first = await a.req('POST', '/api/v1/directory/ldap/sync', { token: a.adminToken });
    assert.equal(first.statusCode, 200, first.body);
    assert.ok(first.json().created.includes('bob'), first.body);
    const bob = (await a.core.dir.userByName('bob'))!;
    const box = await secret();
    const onA = await live(a, { id: bob.id, username: 'bob' }, box);
    const onB = await live(b, { id: bob.id, username: 'bob' }, box);

    await setLocked(slapd, 'bob', true);
    try {
      const sync = await a.req('POST', '/api/v1/directory/ldap/sync', { token: a.adminToken });
      assert.equal(sync.statusCode, 200, sync.body);
      assert.deepEqual(sync.json().disabled, ['bob'], sync.body);
      assert.equal(sync.json().terminatedSessions, 2, `both of bob's sessions, on A and on B: ${sync.body}`);
      assert.match(onA.terminated ?? '', /disabled in the directory/);
      assert.match(onB.terminated ?? '', /disabled in the directory/, 'the session on node B was terminated');
      await ended(onB);
      assert.equal(await status(onB.id), 'ended');
      const events = await a.core.store.db.selectFrom('auditEvents').select('targetId').where('action', '=', 'session.terminate').where('targetId', '=', onB.id).execute();
      assert.equal(events.length, 1, 'audited by the node the session ran on');
    } finally {
      await setLocked(slapd, 'bob', false);
    }
  });

  it("a forced check-in on node A ends the former holder's session on node B", async () => {
    const alice = await a.user(`alice-${++n}`, ['User']);
    const id = await secret();
    const share = await a.req('PUT', `/api/v1/secrets/${id}/permissions`, { token: a.adminToken, body: { entries: [{ principalType: 'user', principal: alice.id, level: 'view' }] } });
    assert.equal(share.statusCode, 200, share.body);
    const co = await a.req('POST', `/api/v1/secrets/${id}/checkout`, { token: alice.token, body: { reason: 'work', durationSeconds: 600 } });
    assert.equal(co.statusCode, 200, co.body);
    const me = { id: alice.id, username: `alice-${n}` };
    const onB = await live(b, me, id);
    const other = await live(b, me, await secret());
    const forced = await a.req('POST', `/api/v1/secrets/${id}/checkin`, { token: a.adminToken });
    assert.equal(forced.statusCode, 200, forced.body);
    assert.equal(onB.terminated, 'terminated by admin: the checkout of this credential was ended by an administrator');
    assert.equal(other.terminated, null, 'her session on another credential runs on');
    await ended(onB);
    assert.equal(await status(onB.id), 'ended');
    await other.end('test over');
  });

  /** A new person holding a checkout of a new secret, with a session on it live on node B. */
  const holderLiveOnB = async (name: string) => {
    const who = await a.user(`${name}-${++n}`, ['User']);
    const id = await secret();
    const share = await a.req('PUT', `/api/v1/secrets/${id}/permissions`, { token: a.adminToken, body: { entries: [{ principalType: 'user', principal: who.id, level: 'view' }] } });
    assert.equal(share.statusCode, 200, share.body);
    const co = await a.req('POST', `/api/v1/secrets/${id}/checkout`, { token: who.token, body: { reason: 'work', durationSeconds: 600 } });
    assert.equal(co.statusCode, 200, co.body);
    return { id, onB: await live(b, { id: who.id, username: `${name}-${n}` }, id) };
  };

  it("a forced check-in on node A while node B does not answer: the terminate waits in the database and B's upkeep ends the session", async () => {
    const { id, onB } = await holderLiveOnB('carol');
    unreachable.add('https://node-b.test');
    try {
      const forced = await a.req('POST', `/api/v1/secrets/${id}/checkin`, { token: a.adminToken });
      assert.equal(forced.statusCode, 200, forced.body);
      assert.equal(onB.terminated, null, 'B was not reached');
    } finally {
      unreachable.delete('https://node-b.test');
    }
    // Before: only a log line on A; the former holder's session ran on with the credential passed on.
    assert.ok(a.logs().includes('left in the database for that node to end it'));
    assert.equal(await a.core.sessions.applyQueuedTerminations(), 0, "A's upkeep leaves B's session to B");
    assert.equal(await b.core.sessions.applyQueuedTerminations(), 1, "B's upkeep ends it");
    assert.equal(onB.terminated, 'terminated by admin: the checkout of this credential was ended by an administrator');
    await ended(onB);
    assert.equal(await status(onB.id), 'ended');
    const events = await a.core.store.db.selectFrom('auditEvents').select(['actorName', 'details']).where('action', '=', 'session.terminate').where('targetId', '=', onB.id).execute();
    assert.deepEqual(events.map((e) => e.actorName), ['admin'], 'audited once, as the administrator who forced the check-in');
    assert.equal(await b.core.sessions.applyQueuedTerminations(), 0, 'the note is gone');
    assert.equal((await a.core.store.db.selectFrom('meta').select('key').where('key', 'like', 'terminate-queued:%').execute()).length, 0);
  });

  it('a forced check-in on node A while node B looks dead: the terminate waits in the database (no reap inside the request), and B, beating again, ends the session', async () => {
    // Before: sessions of a node that looked dead were left out (the reaping's to end), and the
    // reaping keeps those of a node that beats again before they are reached: the session ran on
    // with the credential taken away. Reaping that node inside the check-in (the terminate of
    // the API does) would hold the request for minutes with object storage.
    const { id, onB } = await holderLiveOnB('dave');
    const registry = a.core.cluster.registry;
    // B paused past the dead timeout (1 h here).
    await a.core.store.db.updateTable('clusterNodes').set({ heartbeatAt: (await registry.clock()) - 2 * 3_600_000 }).where('id', '=', b.core.sessions.node).execute();
    const sessions = a.core.sessions;
    const reap = sessions.reapDeadNodes.bind(sessions);
    let reaped = 0;
    sessions.reapDeadNodes = async (nodes) => {
      reaped++;
      return reap(nodes);
    };
    try {
      const forced = await a.req('POST', `/api/v1/secrets/${id}/checkin`, { token: a.adminToken });
      assert.equal(forced.statusCode, 200, forced.body);
    } finally {
      sessions.reapDeadNodes = reap;
      // B wakes.
      await b.core.cluster.registry.beat(1);
    }
    assert.equal(reaped, 0, 'nothing reaped inside the request');
    assert.equal(await status(onB.id), 'live');
    assert.equal(onB.terminated, null);
    assert.equal((await a.core.store.db.selectFrom('meta').select('key').where('key', '=', `terminate-queued:${onB.id}`).execute()).length, 1, 'the terminate waits in the database');
    assert.equal(await b.core.sessions.applyQueuedTerminations(), 1, "B's upkeep ends it");
    assert.equal(onB.terminated, 'terminated by admin: the checkout of this credential was ended by an administrator');
    await ended(onB);
    assert.equal(await status(onB.id), 'ended');
  });

  it('a forced check-in on a node with no cluster port queues the terminate too (it read as already ended); a queued terminate that cannot be read is dropped, the upkeep goes on', async () => {
    const dave = await a.user(`dave-${++n}`, ['User']);
    const id = await secret();
    await a.req('PUT', `/api/v1/secrets/${id}/permissions`, { token: a.adminToken, body: { entries: [{ principalType: 'user', principal: dave.id, level: 'view' }] } });
    const co = await a.req('POST', `/api/v1/secrets/${id}/checkout`, { token: dave.token, body: { reason: 'work', durationSeconds: 600 } });
    assert.equal(co.statusCode, 200, co.body);
    const onB = await live(b, { id: dave.id, username: `dave-${n}` }, id);
    await a.core.store.db.insertInto('meta').values({ key: 'terminate-queued:not-a-session', value: 'not json' }).execute();
    // Node A as a node without a cluster port is: it forwards nothing.
    a.core.sessions.forwardTo(null);
    try {
      const forced = await a.req('POST', `/api/v1/secrets/${id}/checkin`, { token: a.adminToken });
      assert.equal(forced.statusCode, 200, forced.body);
    } finally {
      a.core.sessions.forwardTo(new ClusterForwarding(a.core.store, a.core.cluster.registry, transport));
    }
    assert.equal(onB.terminated, null);
    assert.equal(await b.core.sessions.applyQueuedTerminations(), 1);
    assert.equal(onB.terminated, 'terminated by admin: the checkout of this credential was ended by an administrator');
    await ended(onB);
    // Run again while nothing is left: no second session.terminate.
    assert.equal(await b.core.sessions.applyQueuedTerminations(), 0);
    const events = await a.core.store.db.selectFrom('auditEvents').select('seq').where('action', '=', 'session.terminate').where('targetId', '=', onB.id).execute();
    assert.equal(events.length, 1);
    assert.equal((await a.core.store.db.selectFrom('meta').select('key').where('key', 'like', 'terminate-queued:%').execute()).length, 0, 'the unreadable row dropped too');
  });

  it('a launch checkout passes to the same person\'s session on node B when their session on node A ends', async () => {
    const id = await secret();
    a.core.checkouts.addRequirement(async (secretId) => secretId === id);
    const me = await admin();
    // A launch on A takes the checkout, and its session carries it (as a redeem binds it).
    assert.equal(await a.core.checkouts.gate({ id: me.id, name: me.username }, id, Date.now() + 600_000, { required: true }), null);
    const onA = await live(a, me, id);
    await a.core.checkouts.bindSession(me.id, id, onA.id, 0);
    // A second launch of theirs, on B: the checkout is theirs already.
    assert.equal(await b.core.checkouts.gate({ id: me.id, name: me.username }, id, Date.now() + 600_000, { required: true }), null);
    const onB = await live(b, me, id);
    const open = () => a.core.store.db.selectFrom('checkouts').selectAll().where('secretId', '=', id).where('checkedInAt', 'is', null).executeTakeFirst();
    assert.equal((await open())?.sessionId, onA.id);

    await onA.end('finished');
    await settled();
    const carried = await open();
    assert.ok(carried, 'still checked out: the session on node B uses the credential');
    assert.equal(carried.sessionId, onB.id, 'bound to the session on node B now');

    await onB.end('finished');
    await settled();
    assert.equal(await open(), undefined, 'checked in when the last session ended, on node B');
    const checkin = await a.core.store.db.selectFrom('checkouts').select(['checkinReason', 'sessionId']).where('secretId', '=', id).executeTakeFirstOrThrow();
    assert.deepEqual(checkin, { checkinReason: 'session_end', sessionId: onB.id });
  });

  it('rotation after use waits while a session on node B still uses the credential', async () => {
    const id = await secret();
    const patch = await a.req('PATCH', `/api/v1/secrets/${id}`, { token: a.adminToken, body: { account: { rotateAfterUse: true } } });
    assert.equal(patch.statusCode, 200, patch.body);
    const me = await admin();
    const onA = await live(a, me, id);
    const onB = await live(b, me, id);
    // No operator is provided in these cores: a rotation that is tried fails, audited with its trigger.
    const tried = async () => (await a.core.store.db.selectFrom('auditEvents').select('action').where('targetId', '=', id).where('action', 'in', ['secret.rotated', 'secret.rotation_failed']).execute()).length;

    await onA.end('finished');
    await settled();
    await a.core.rotation.settled();
    assert.equal(await tried(), 0, 'not rotated while the session on node B uses the credential');

    await onB.end('finished');
    await settled();
    await b.core.rotation.settled();
    assert.equal(await tried(), 1, 'tried once the last session ended');
  });

  it("OpenPSM at start: the end notice of a session running on node B waits; those of ended and dead nodes' sessions are due", async () => {
    const db = a.core.store.db;
    const me = await admin();
    const at = await a.core.cluster.registry.clock();
    await db.insertInto('clusterNodes').values({ id: 'node-gone', address: null, version: '0.1.0', startedAt: at - 20 * 60_000, heartbeatAt: at - 2 * 3600_000, load: 1, status: 'up' }).execute();
    const row = (node: string | null, status: 'live' | 'ended') => sessionRow({ userId: me.id, username: me.username, node, status, ...(status === 'ended' ? { endedAt: at, endReason: 'finished' } : {}) });
    const rows = {
      onB: row(b.core.sessions.node, 'live'),
      ended: row(b.core.sessions.node, 'ended'),
      // Left 'live' under A's own id by its previous process (A's start-up recovery ends these first).
      oldSelf: row(a.core.sessions.node, 'live'),
      onDead: row('node-gone', 'live'),
    };
    await db.insertInto('sessions').values(Object.values(rows)).execute();
    const notice = (sessionId: string) => ({
      sessionUuid: randomUUID(), apiUrl: 'https://iam.invalid/api', loginSessionId: `login-${sessionId}`, credentialId: 'c1', computerId: 'pc1', dataKeyId: 'none', apiKeySealed: 'sealed', appKey: 'app',
      gatewaySessionId: sessionId, attempts: 0, unauthorized: 0, nextAt: NEVER, lastError: null, createdAt: at, outcome: null, doneAt: null,
    });
    await db.insertInto('openpsmEndNotices').values(Object.values(rows).map((r) => notice(r.id))).execute();
    const due = async () => Object.fromEntries(Object.entries(rows).map(([k]) => [k, false])) as Record<keyof typeof rows, boolean>;
    const seen = async () => {
      const out = await due();
      const notices = await a.core.openpsm.gateway.notices();
      for (const [k, r] of Object.entries(rows)) out[k as keyof typeof rows] = notices.find((x) => x.loginSessionId === `login-${r.id}`)!.due;
      return out;
    };

    // Nothing is sent in this test (the IAM is not there): the sender stays stopped.
    a.core.openpsm.gateway.stop();
    await a.core.openpsm.gateway.resume();
    assert.deepEqual(await seen(), { onB: false, ended: true, oldSelf: true, onDead: false });

    // The dead node's session ended by A's upkeep while running: its notice is due then.
    assert.equal(await a.core.sessions.reapDeadNodes(await a.core.cluster.registry.deadWithLiveSessions()), 1);
    await a.core.sessions.settled();
    assert.deepEqual(await seen(), { onB: false, ended: true, oldSelf: true, onDead: true });
  });

  /** A secret rotated after use, whose launches take a checkout. */
  const usedOnce = async () => {
    const id = await secret();
    const patch = await a.req('PATCH', `/api/v1/secrets/${id}`, { token: a.adminToken, body: { account: { rotateAfterUse: true } } });
    assert.equal(patch.statusCode, 200, patch.body);
    a.core.checkouts.addRequirement(async (secretId) => secretId === id);
    b.core.checkouts.addRequirement(async (secretId) => secretId === id);
    const checkout = () => a.core.store.db.selectFrom('checkouts').select(['checkedInAt', 'checkinReason']).where('secretId', '=', id).executeTakeFirstOrThrow();
    // No operator is provided in these cores: a rotation that is tried fails, audited with its trigger.
    const rotations = async () => (await a.core.store.db.selectFrom('auditEvents').select('action').where('targetId', '=', id).where('action', 'in', ['secret.rotated', 'secret.rotation_failed']).execute()).length;
    return { id, checkout, rotations };
  };

  it("a dead node's session ended by node A does what its end would have done, once: the launch checkout is checked in, rotation after use is tried", async () => {
    const { id, checkout, rotations } = await usedOnce();
    const me = await admin();
    assert.equal(await b.core.checkouts.gate({ id: me.id, name: me.username }, id, Date.now() + 600_000, { required: true }), null);
    const onB = await live(b, me, id);
    await b.core.checkouts.bindSession(me.id, id, onB.id, 0);
    // B stops sending heartbeats (a long pause); A's upkeep finds it dead and ends its session.
    const db = a.core.store.db;
    const beat = (await db.selectFrom('clusterNodes').select('heartbeatAt').where('id', '=', b.core.sessions.node).executeTakeFirstOrThrow()).heartbeatAt;
    await db.updateTable('clusterNodes').set({ heartbeatAt: beat - 2 * 3600_000 }).where('id', '=', b.core.sessions.node).execute();
    try {
      // (With the row the OpenPSM case left live on B.)
      assert.ok((await a.core.sessions.reapDeadNodes(await a.core.cluster.registry.deadWithLiveSessions())) >= 1);
    } finally {
      await db.updateTable('clusterNodes').set({ heartbeatAt: beat }).where('id', '=', b.core.sessions.node).execute();
    }
    // The end listeners run in the background, after the recovery.
    await a.core.sessions.settled();
    await a.core.rotation.settled();
    assert.equal(await status(onB.id), 'ended');
    // Before: the checkout stayed open until it expired (or someone read the secret), and no rotation was tried.
    const c = await checkout();
    assert.equal(c.checkinReason, 'session_end');
    assert.ok(c.checkedInAt !== null);
    const tried = await rotations();
    assert.ok(tried > 0, 'rotation after use was tried');

    // B, back, ends the session too: its end stands as A wrote it, and nothing is done twice.
    await onB.end('finished');
    await settled();
    await b.core.rotation.settled();
    assert.equal(await rotations(), tried, 'not tried again by node B');
    const checkins = await db.selectFrom('auditEvents').select('seq').where('action', '=', 'secret.checkin').where('targetId', '=', id).execute();
    assert.equal(checkins.length, 1);
  });

  it("a node's start-up recovery of its own crashed session does what its end would have done: check-in, rotation after use", async () => {
    const { id, checkout, rotations } = await usedOnce();
    const me = await admin();
    // Left 'live' under A's own id by its previous process, holding a launch checkout.
    const row = sessionRow({ userId: me.id, username: me.username, secretId: id, targetUser: 'u', node: a.core.sessions.node });
    await a.core.store.db.insertInto('sessions').values(row).execute();
    assert.equal(await a.core.checkouts.gate({ id: me.id, name: me.username }, id, Date.now() + 600_000, { required: true }), null);
    await a.core.checkouts.bindSession(me.id, id, row.id, 0);
    assert.ok((await a.core.sessions.reapStale(undefined, [])) >= 1);
    assert.equal(await status(row.id), 'ended');
    // Not while the node starts (a failing start would end the process under a rotation begun):
    // once it has started (server.ts), in the background.
    await a.core.sessions.settled();
    assert.equal((await checkout()).checkinReason, null, 'not before the node has started');
    assert.equal(await rotations(), 0);
    a.core.sessions.tellRecoveredEnds();
    await a.core.sessions.settled();
    await a.core.rotation.settled();
    assert.equal((await checkout()).checkinReason, 'session_end');
    assert.ok((await rotations()) > 0, 'rotation after use was tried');
  });
});

/** Locks (or unlocks) an entry the way the ppolicy overlay does. */
async function setLocked(slapd: Slapd, uid: string, locked: boolean): Promise<void> {
  const c = new Client({ url: slapd.url });
  try {
    await c.bind(slapd.adminDn, slapd.adminPassword);
    await c.modify(slapd.userDn(uid), [new Change({ operation: locked ? 'replace' : 'delete', modification: new Attribute({ type: 'pwdAccountLockedTime', values: locked ? ['000001010000Z'] : [] }) })]);
  } finally {
    await c.unbind();
  }
}
