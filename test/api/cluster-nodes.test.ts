// Cluster parts of the core on both databases (issue 16 point 1; the three-node end-to-end
// test is test/protocols/cluster.test.ts):
// - the node registry: a node silent past the dead timeout, or stopped, is dead; start-up
//   recovery ends only the live sessions of this node and of dead nodes, never those of a live
//   node nor of a node that never registered; the ends are audited with who ended whose;
// - the shared identity: the first node's files become the cluster's, a joining node's own are
//   replaced, a replacement (rotation, renewal) is taken only if nobody replaced it first, and
//   other nodes learn of it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';
import { sessionRow } from '../support/session-rows.js';
import { NodeRegistry } from '../../src/core/cluster/registry.js';
import { ClusterIdentity, type IdentityPiece } from '../../src/core/cluster/identity.js';
import { ClusterForwarding } from '../../src/core/cluster/forwarding.js';
import { makePeerCert, peerTls } from '../../src/web/peer/cert.js';
import { PeerClient } from '../../src/web/peer/client.js';
import { createServer, type AddressInfo } from 'node:net';
import { sql } from 'kysely';

for (const kind of DB_KINDS) {
  describe(`cluster nodes and identity (${kind})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(async () => {
      await t?.close();
    });

    it('start-up recovery ends the sessions of this node and of dead nodes only', async () => {
      const { registry } = t.core.cluster;
      const self = registry.self;
      await registry.register(null, '0.1.0');
      const at = await registry.clock();
      const db = t.core.store.db;
      const node = (id: string, heartbeatAt: number, status: 'up' | 'stopped') => ({ id, address: null, version: '0.1.0', startedAt: heartbeatAt - 1000, heartbeatAt, load: 1, status });
      await db.insertInto('clusterNodes').values([node('node-alive', at, 'up'), node('node-silent', at - 10 * 60_000, 'up'), node('node-stopped', at - 1000, 'stopped')]).execute();
      const admin = (await t.core.dir.userByName('admin'))!;
      const session = (id: string, n: string | null) => liveOn(admin.id, id, n, at);
      await db.insertInto('sessions').values([session('sess-self', self), session('sess-alive', 'node-alive'), session('sess-silent', 'node-silent'), session('sess-stopped', 'node-stopped'), session('sess-unknown', 'node-never-registered')]).execute();

      const dead = (await registry.deadWithLiveSessions()).sort();
      assert.deepEqual(dead, ['node-silent', 'node-stopped']);
      const statuses = Object.fromEntries((await registry.list()).map((n) => [n.id, n.status]));
      assert.deepEqual([statuses['node-alive'], statuses['node-silent'], statuses['node-stopped'], statuses[self]], ['up', 'dead', 'stopped', 'up']);

      assert.equal(await t.core.sessions.reapStale(undefined, dead), 3);
      const rows = Object.fromEntries((await db.selectFrom('sessions').select(['id', 'status', 'endReason']).execute()).map((r) => [r.id, `${r.status}/${r.endReason}`]));
      assert.deepEqual(rows, {
        'sess-self': 'ended/interrupted',
        'sess-silent': 'ended/interrupted',
        'sess-stopped': 'ended/interrupted',
        'sess-alive': 'live/null',
        'sess-unknown': 'live/null',
      });
      const ends = await db.selectFrom('auditEvents').select(['targetId', 'details']).where('action', '=', 'session.end').execute();
      const silent = JSON.parse(ends.find((e) => e.targetId === 'sess-silent')!.details as unknown as string);
      assert.equal(silent.node, 'node-silent');
      assert.equal(silent.endedBy, self);
      assert.match(silent.note, /its gateway node node-silent stopped sending heartbeats; ended by node/);
      assert.match(silent.recording, /node node-silent seals it when it starts again/);
      const own = JSON.parse(ends.find((e) => e.targetId === 'sess-self')!.details as unknown as string);
      assert.equal(own.endedBy, undefined, 'this node\'s own: the usual recovery');

      // While running, only the dead nodes' sessions are reaped (never this node's own live ones).
      await db.insertInto('sessions').values([session('sess-self-2', self), session('sess-silent-2', 'node-silent')]).execute();
      assert.equal(await t.core.sessions.reapDeadNodes(await registry.deadWithLiveSessions()), 1);
      const still = await db.selectFrom('sessions').select(['id', 'status']).where('id', 'in', ['sess-self-2', 'sess-silent-2']).orderBy('id').execute();
      assert.deepEqual(still.map((r) => `${r.id}/${r.status}`), ['sess-self-2/live', 'sess-silent-2/ended']);

      // Administrators see the nodes (GET /api/v1/cluster/nodes).
      const r = await t.req('GET', '/api/v1/cluster/nodes', { token: t.adminToken });
      assert.equal(r.statusCode, 200, r.body);
      const listed = r.json() as { nodes: { id: string; status: string; self: boolean; load: number }[]; deadAfterSeconds: number };
      assert.equal(listed.deadAfterSeconds, 30);
      assert.deepEqual(listed.nodes.map((n) => `${n.id}:${n.status}:${n.self}`).sort(), [`${self}:up:true`, 'node-alive:up:false', 'node-silent:dead:false', 'node-stopped:stopped:false'].sort());

      // A clean stop is recorded as such; a beat still on its way then does not undo it (the
      // stop's wait for the heartbeat is bounded); registering again (a start) does.
      const address = (await registry.get(self))!.address;
      await registry.stopped();
      assert.equal((await registry.get(self))!.status, 'stopped');
      await registry.beat(0);
      assert.equal((await registry.get(self))!.status, 'stopped');
      await registry.register(address, t.core.version);
      assert.equal((await registry.get(self))!.status, 'up');
    });

    // Every node looks for live sessions every heartbeat, and to decide for the whole cluster
    // (liveAnywhere); the table keeps every session ever held and had no index on status.
    it('live sessions are found through an index (sessions_status_node), not by reading the whole table', async () => {
      const db = t.core.store.db;
      const plan = await db.transaction().execute(async (trx) => {
        if (kind === 'postgres') {
          // A small table would be read whole anyway: ask whether the index can serve the query.
          await sql`set local enable_seqscan = off`.execute(trx);
          const r = await sql<{ 'QUERY PLAN': string }>`explain select id, node from sessions where status = ${'live'} and user_id = ${'u'}`.execute(trx);
          return r.rows.map((x) => x['QUERY PLAN']).join('\n');
        }
        const r = await sql<{ detail: string }>`explain query plan select id, node from sessions where status = ${'live'} and user_id = ${'u'}`.execute(trx);
        return r.rows.map((x) => x.detail).join('\n');
      });
      assert.match(plan, /sessions_status_node/, plan);
    });

    // Found dead, then back (a pause longer than the dead timeout ends, a network cut heals)
    // before its sessions were ended: they were ended anyway, under a node serving them again.
    it('a node found dead that sends heartbeats again before its sessions are recovered keeps them live', async () => {
      const { registry } = t.core.cluster;
      const db = t.core.store.db;
      const at = await registry.clock();
      await db.insertInto('clusterNodes').values({ id: 'node-back', address: null, version: '0.1.0', startedAt: at - 20 * 60_000, heartbeatAt: at - 10 * 60_000, load: 1, status: 'up' }).execute();
      const admin = (await t.core.dir.userByName('admin'))!;
      await db.insertInto('sessions').values(liveOn(admin.id, 'sess-on-node-back', 'node-back', at)).execute();
      const dead = await registry.deadWithLiveSessions();
      assert.ok(dead.includes('node-back'));
      await db.updateTable('clusterNodes').set({ heartbeatAt: await registry.clock() }).where('id', '=', 'node-back').execute();
      assert.equal(await t.core.sessions.reapDeadNodes(['node-back']), 0);
      assert.equal((await db.selectFrom('sessions').select('status').where('id', '=', 'sess-on-node-back').executeTakeFirstOrThrow()).status, 'live');
      // Silent again past the dead timeout: now it is recovered.
      await db.updateTable('clusterNodes').set({ heartbeatAt: at - 10 * 60_000 }).where('id', '=', 'node-back').execute();
      assert.equal(await t.core.sessions.reapDeadNodes(['node-back']), 1);
      assert.equal((await db.selectFrom('sessions').select('status').where('id', '=', 'sess-on-node-back').executeTakeFirstOrThrow()).status, 'ended');
    });

    // A node that stopped a moment ago is not dead yet by its heartbeat; its peer port refuses.
    // Terminate of one of its sessions answered 500 (an internal error); now 503 with the wait.
    it('terminate of a session whose node does not answer: 503 node_unreachable with Retry-After, not an internal error', async () => {
      const { registry } = t.core.cluster;
      const db = t.core.store.db;
      // A port nothing listens on: one taken and closed again.
      const probe = createServer();
      await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
      const port = (probe.address() as AddressInfo).port;
      await new Promise((r) => probe.close(r));
      const at = await registry.clock();
      await db.insertInto('clusterNodes').values({ id: 'node-gone-quiet', address: `https://127.0.0.1:${port}`, version: '0.1.0', startedAt: at - 60_000, heartbeatAt: at, load: 1, status: 'up' }).execute();
      const admin = (await t.core.dir.userByName('admin'))!;
      await db.insertInto('sessions').values(liveOn(admin.id, 'sess-on-quiet-node', 'node-gone-quiet', at)).execute();
      // The node-to-node client as a cluster node has it (a real mutual-TLS client; the connection is refused before TLS).
      t.core.sessions.forwardTo(new ClusterForwarding(t.core.store, registry, new PeerClient(peerTls(await makePeerCert()))));
      const r = await t.req('POST', '/api/v1/sessions/sess-on-quiet-node/terminate', { token: t.adminToken, body: { reason: 'test' } });
      assert.equal(r.statusCode, 503, r.body);
      assert.equal(r.json().error.code, 'node_unreachable');
      assert.match(r.json().error.message, /the gateway node running this session \(node-gone-quiet\) does not answer/);
      const retry = Number(r.headers['retry-after']);
      assert.ok(retry >= 1 && retry <= 30, `Retry-After ${r.headers['retry-after']}: until the dead timeout`);
      assert.equal((await db.selectFrom('sessions').select('status').where('id', '=', 'sess-on-quiet-node').executeTakeFirstOrThrow()).status, 'live');
    });

    it('the shared identity: made once, adopted from the first node, written over a joining node\'s own, replaced only once', async () => {
      const dirA = mkdtempSync(join(tmpdir(), 'gh-cluster-a-'));
      const dirB = mkdtempSync(join(tmpdir(), 'gh-cluster-b-'));
      try {
        let made = 0;
        const pieces: IdentityPiece[] = [
          { name: 'test-key', files: [{ file: 'test.key', mode: 0o600 }], make: () => [`made-${++made}`] },
          { name: 'test-pair', files: [{ file: 'pair.pem', mode: 0o644 }, { file: 'pair.key', mode: 0o600 }], make: () => ['cert-1', 'key-1'] },
          { name: 'test-memory', files: [], make: () => ['m1', 'm2', 'm3'] },
        ];
        writeFileSync(join(dirA, 'test.key'), 'node-a-own-key', { mode: 0o600 });
        writeFileSync(join(dirB, 'test.key'), 'node-b-own-key', { mode: 0o600 });
        // A temporary file left under the name B writes through (this pid: pid 1 in a container
        // is the same at every start), readable by all: it kept its mode, the key became 0644.
        writeFileSync(join(dirB, `pair.key.${process.pid}.tmp`), 'left over', { mode: 0o644 });
        const a = new ClusterIdentity(t.core.store, t.core.dataKeys, dirA);
        const b = new ClusterIdentity(t.core.store, t.core.dataKeys, dirB);
        assert.deepEqual((await a.join(pieces)).map((o) => `${o.name}:${o.how}`), ['test-key:adopted', 'test-pair:created', 'test-memory:created']);
        assert.deepEqual((await b.join(pieces)).map((o) => `${o.name}:${o.how}`), ['test-key:replaced', 'test-pair:joined', 'test-memory:same']);
        assert.equal(made, 0, 'the first node\'s own key was kept, nothing made');
        assert.equal(readFileSync(join(dirB, 'test.key'), 'utf8'), 'node-a-own-key');
        assert.equal(statSync(join(dirB, 'pair.key')).mode & 0o777, 0o600);
        assert.equal(statSync(join(dirB, 'pair.pem')).mode & 0o777, 0o644);
        assert.deepEqual(b.value('test-memory'), ['m1', 'm2', 'm3']);
        // Sealed in the database: the plaintext is nowhere in the row.
        const row = await t.core.store.db.selectFrom('clusterIdentity').selectAll().where('name', '=', 'test-key').executeTakeFirstOrThrow();
        assert.ok(!row.sealed.includes('node-a-own-key') && !Buffer.from(row.sealed, 'base64').includes('node-a-own-key'));

        // A rotation on A wins; B's rotation, made from the older version, loses and takes A's.
        assert.equal(await a.replace(pieces[0]!, ['rotated-on-a']), true);
        assert.deepEqual(await b.changed(pieces), ['test-key']);
        assert.equal(readFileSync(join(dirB, 'test.key'), 'utf8'), 'rotated-on-a');
        assert.deepEqual(await b.changed(pieces), [], 'nothing new the second time');
        const c = new ClusterIdentity(t.core.store, t.core.dataKeys, dirB);
        await c.join(pieces);
        assert.equal(await a.replace(pieces[0]!, ['again-on-a']), true);
        assert.equal(await c.replace(pieces[0]!, ['late-on-c']), false);
        assert.equal(readFileSync(join(dirB, 'test.key'), 'utf8'), 'again-on-a');
      } finally {
        rmSync(dirA, { recursive: true, force: true });
        rmSync(dirB, { recursive: true, force: true });
      }
    });
  });
}

/** A session of the administrator's, live on node `node` since 5 s before `at`. */
function liveOn(userId: string, id: string, node: string | null, at: number) {
  return sessionRow({ id, userId, username: 'admin', node, startedAt: at - 5000 });
}
