// OpenPSM on both databases (one app playing both sides through test/support/openpsm.ts):
// the endsession notice written when a session starts survives the process (a new gateway
// instance, as after a restart, sends it), an IAM that is down gets the call again with
// backoff, and getcredential answers a personal credential opened with the master password.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { AppError } from '../../src/core/errors.js';
import { DRAINING_MESSAGE } from '../../src/core/launch/service.js';
import { OpenPsmGateway } from '../../src/core/openpsm/gateway.js';
import { IamClient } from '../../src/core/openpsm/iam-client.js';
import type { Sessions } from '../../src/core/sessions/service.js';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';
import { openpsmLoop, type OpenPsmLoop } from '../support/openpsm.js';
import { whileActionRefused } from '../support/audit-refused.js';

for (const kind of DB_KINDS) {
  describe(`OpenPSM endsession notices and getcredential on ${kind}`, () => {
    let t: TestApp;
    let psm: OpenPsmLoop;
    let target: Server;
    let secretId = '';

    /** A gateway as a new process would build it: no live session of the old one. */
    const freshGateway = (draining: () => boolean = () => false) =>
      new OpenPsmGateway({
        store: t.core.store,
        settings: t.core.settings,
        dataKeys: t.core.dataKeys,
        // Its node's id (a restart keeps it): that node's rows still 'live' are the old process's.
        sessions: { live: new Map(), node: t.core.sessions.node, onSessionEnd: () => undefined, start: (plan: Parameters<Sessions['start']>[0], ctx: Parameters<Sessions['start']>[1]) => t.core.sessions.start(plan, ctx) } as unknown as Sessions,
        audit: t.core.audit,
        log: t.core.log,
        client: new IamClient(() => t.core.settings.get('openpsmTrustedCa')),
        draining,
      });
    const notice = async (loginSessionId: string) => (await t.core.store.db.selectFrom('openpsmEndNotices').selectAll().where('loginSessionId', '=', loginSessionId).executeTakeFirst())!;

    before(async () => {
      t = await startTestApp(kind);
      // Something listening where the secret points, so the gateway finds its server reachable (the test never logs in).
      target = createServer((s) => s.end());
      await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
      const s = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name: 'psm-target', template: 'unix-account', fields: { machine: '127.0.0.1', port: (target.address() as AddressInfo).port, username: 'root', password: 'Psm-Target-Pw-1' } } });
      assert.equal(s.statusCode, 201, s.body);
      secretId = s.json().id;
      psm = await openpsmLoop(t, secretId);
    });
    after(async () => {
      await t?.core.sessions.endAll('test over');
      await psm?.close();
      await new Promise((r) => target?.close(r));
      await t?.close();
    });

    it('a notice owed when the process stopped mid-session is sent by the next one', async () => {
      const q = await psm.link();
      const loginSessionId = q.get('LoginSessionID')!;
      const id = await psm.start(q);
      assert.equal((await t.core.openpsm.gateway.submitPassword(id, psm.master, '127.0.0.1')).status, 'ready');
      // The old process stops sending (as if it died); its session is live.
      t.core.openpsm.gateway.stop();
      const handle = await t.core.openpsm.gateway.open(id, { clientIp: '127.0.0.1' });
      let n = await notice(loginSessionId);
      assert.equal(n.outcome, null);
      assert.equal(n.attempts, 0);
      assert.ok(!n.apiKeySealed.includes(q.get('ApiKey')!), 'the ApiKey is sealed');
      const next = freshGateway();
      try {
        await next.resume();
        n = await (async () => {
          for (let i = 0; i < 100; i++) {
            const r = await notice(loginSessionId);
            if (r.outcome) return r;
            await new Promise((res) => setTimeout(res, 50));
          }
          return notice(loginSessionId);
        })();
        assert.equal(n.outcome, 'delivered');
        const ended = await t.core.store.db.selectFrom('openpsmLinks').select('endedAt').where('id', '=', loginSessionId).executeTakeFirstOrThrow();
        assert.ok(ended.endedAt, 'the IAM side marked the session ended');
      } finally {
        next.stop();
        await handle.end('test over');
      }
    });

    it('an IAM that is down gets the call again later (backoff), then it is delivered', async () => {
      assert.equal((await t.req('PATCH', '/api/v1/settings', { token: t.adminToken, body: { openpsmEndSessionBackoffSeconds: 3600 } })).statusCode, 200);
      const q = await psm.link();
      const loginSessionId = q.get('LoginSessionID')!;
      const gw = freshGateway();
      try {
        const started = await gw.begin(Object.fromEntries(q), '127.0.0.1');
        assert.ok(started.ok);
        const id = started.id;
        assert.equal((await gw.submitPassword(id, psm.master, '127.0.0.1')).status, 'ready');
        psm.proxy.down = true;
        const handle = await gw.open(id, { clientIp: '127.0.0.1' });
        await t.core.store.db.updateTable('openpsmEndNotices').set({ nextAt: Date.now() }).where('loginSessionId', '=', loginSessionId).execute();
        gw.kick();
        let n = await notice(loginSessionId);
        for (let i = 0; i < 100 && n.attempts === 0; i++) {
          await new Promise((res) => setTimeout(res, 50));
          n = await notice(loginSessionId);
        }
        assert.equal(n.attempts, 1);
        assert.equal(n.outcome, null);
        assert.equal(n.lastError, 'HTTP 503');
        assert.ok(n.nextAt > Date.now() + 60_000, 'the next try waits (backoff)');
        psm.proxy.down = false;
        await t.core.store.db.updateTable('openpsmEndNotices').set({ nextAt: Date.now() }).where('loginSessionId', '=', loginSessionId).execute();
        gw.kick();
        for (let i = 0; i < 100 && !n.outcome; i++) {
          await new Promise((res) => setTimeout(res, 50));
          n = await notice(loginSessionId);
        }
        assert.equal(n.outcome, 'delivered');
        assert.equal(n.attempts, 2);
        await handle.end('test over');
      } finally {
        psm.proxy.down = false;
        gw.stop();
      }
    });

    it('getcredential answers a personal credential opened with the master password', async () => {
      const unlock = await t.req('POST', '/api/v1/me/master-password/unlock', { token: t.adminToken, body: { masterPassword: psm.master } });
      assert.equal(unlock.statusCode, 200, unlock.body);
      const pc = await t.req('POST', '/api/v1/me/personal-credentials', { token: t.adminToken, body: { name: 'my-own', target: { secretId }, username: 'me', domain: 'CORP', password: 'My-Own-Personal-Pw-1' } });
      assert.equal(pc.statusCode, 201, pc.body);
      const l = await t.req('POST', '/api/v1/openpsm/links', { token: t.adminToken, body: { secretId, mode: 'SSH', personalCredentialId: pc.json().id } });
      assert.equal(l.statusCode, 200, l.body);
      const q = new URL(l.json().url).searchParams;
      assert.equal(q.get('IsPersonalCred'), 'true');
      assert.equal(q.get('CredentialID'), pc.json().id);
      const r = await t.req('POST', '/api/services/v1/secureaccessgateway/getcredential', { headers: psm.headers(q), body: psm.body(q) });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().UserName, 'CORP\\me');
      assert.equal(r.json().Password, 'My-Own-Personal-Pw-1');
      assert.equal(r.json().IsPasswordSSHKey, false);
    });

    // Last in the suite: a drain cannot be undone.
    it('a session whose openpsm.session event cannot be written after its start is ended, not left live with no door holding it', async () => {
      const gw = t.core.openpsm.gateway;
      const terminal = await psm.ready();
      const live = t.core.sessions.live.size;
      const started = async () => (await t.core.audit.list({ limit: 500, offset: 0, action: 'session.start' })).items;
      const before = (await started()).length;
      await whileActionRefused(t.core.store, 'openpsm.session', () => assert.rejects(gw.open(terminal, { clientIp: '127.0.0.1' }), /refused on purpose/));
      const mine = (await started()).slice(0, (await started()).length - before);
      assert.equal(mine.length, 1, 'it had started');
      await t.core.sessions.settled();
      assert.equal(t.core.sessions.live.size, live, 'not live in this process');
      const row = await t.core.store.db.selectFrom('sessions').select(['status', 'endReason']).where('id', '=', mine[0]!.targetId!).executeTakeFirstOrThrow();
      assert.equal(row.status, 'ended', 'its row ended');
      assert.match(row.endReason ?? '', /could not be set up after it started/);
    });

    it('a drain that begins while an open probes its servers: refused before its session starts, and waited for until then', async () => {
      // The first look says "not draining"; by the second (after the probe) the drain has begun.
      let looks = 0;
      let gw: OpenPsmGateway;
      const openingAtSecondLook: number[] = [];
      gw = freshGateway(() => {
        if (looks++ === 0) return false;
        openingAtSecondLook.push(gw.opening);
        return true;
      });
      try {
        const q = await psm.link();
        const started = await gw.begin(Object.fromEntries(q), '127.0.0.1');
        assert.ok(started.ok);
        assert.equal((await gw.submitPassword(started.id, psm.master, '127.0.0.1')).status, 'ready');
        const starts = async () => (await t.core.audit.list({ limit: 500, offset: 0, action: 'session.start' })).items.length;
        const before = await starts();
        await assert.rejects(gw.open(started.id, { clientIp: '127.0.0.1' }), (e: unknown) => e instanceof AppError && e.status === 503 && e.code === 'draining');
        assert.equal(looks, 2, 'looked again after the probe');
        assert.deepEqual(openingAtSecondLook, [1], 'counted as an open under way (the drain waits for it)');
        assert.equal(gw.opening, 0);
        assert.equal(await starts(), before, 'no session.start');
        const n = await notice(q.get('LoginSessionID')!);
        assert.ok(n.outcome === 'delivered' || n.nextAt <= Date.now(), 'the IAM is told the session ended');
      } finally {
        gw.stop();
      }
    });

    it('a draining node starts no OpenPSM session: the browser terminal and browser RDP opens are refused as launches are (503 draining), no session.start is audited, and the IAM is told the sessions ended', async () => {
      const gw = t.core.openpsm.gateway;
      const terminal = await psm.ready();
      const rdpLink = await psm.link('RDP');
      const rdpStart = await psm.start(rdpLink);
      const ready = await gw.submitPassword(rdpStart, psm.master, '127.0.0.1');
      assert.ok(ready.status === 'ready' && ready.rdp, JSON.stringify(ready));
      const starts = async () => (await t.core.audit.list({ limit: 500, offset: 0, action: 'session.start' })).items.length;
      const before = await starts();
      const drainRefusals = async () => (await t.core.audit.list({ limit: 500, offset: 0, action: 'openpsm.session' })).items.filter((e) => e.outcome === 'failure' && e.details.reason === 'draining').length;
      const refusedBefore = await drainRefusals();
      const live = t.core.sessions.live.size;
      t.core.launching.drain();
      const draining = (e: unknown) => e instanceof AppError && e.status === 503 && e.code === 'draining' && e.message === DRAINING_MESSAGE;
      await assert.rejects(gw.open(terminal, { clientIp: '127.0.0.1' }), draining);
      await assert.rejects(gw.openRdp(ready.rdp.ticket, { clientIp: '127.0.0.1' }), draining);
      assert.equal(await starts(), before, 'no session.start');
      assert.equal(t.core.sessions.live.size, live);
      assert.equal((await drainRefusals()) - refusedBefore, 2);
      // endsession is owed for the RDP start (its credential was retrieved): due now, not when a session ends.
      const n = await notice(rdpLink.get('LoginSessionID')!);
      assert.ok(n.outcome === 'delivered' || n.nextAt <= Date.now(), JSON.stringify(n));
    });
  });
}
