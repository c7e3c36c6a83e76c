// A webhook sink's URL is a secret (Slack/Teams-style path tokens, collector paths, `?api-key=`
// query strings): it is sealed under the sink's data key like the HMAC key. Answers (create,
// update, get, list), the audit events about the sink (which are streamed to every sink) and
// the database in clear carry only its display form (scheme, host, port and `/…`), while the
// deliveries still go to the whole URL. A sink stored before (its URL in clear in the config
// JSON) still delivers and is moved to the sealed form on first read or when streaming starts,
// once, however many readers race to do it, leaving no data key behind.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SYSTEM } from '../../src/core/audit/service.js';
import { newId } from '../../src/core/util.js';
import { appWithWebhook, until, WebhookReceiver } from '../support/audit-receivers.js';
import { DB_KINDS, type TestApp } from '../support/harness.js';

const T = { timeout: 180_000 };
const HMAC_KEY = `hmac-${randomBytes(24).toString('hex')}`;
const token = (tag: string) => `${tag}${randomBytes(16).toString('hex')}`;

/** The forms a secret could be stored or shown in: as is and base64 / base64url encoded. */
const forms = (secret: string) => [secret, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('base64url')];

for (const kind of DB_KINDS) {
  describe(`audit streaming: a webhook URL is sealed, shown only as its host (${kind})`, () => {
    let t: TestApp;
    let hook: WebhookReceiver;
    let caPem: string;
    // Path token and query key of the URL the sink is made with, then of the one it is changed to.
    const pathToken = token('ptok');
    const queryKey = token('qkey');
    const pathToken2 = token('ptwo');
    const queryKey2 = token('qtwo');
    const legacyToken = token('lgcy');
    const lazyToken = token('lazy');
    const secrets = [pathToken, queryKey, pathToken2, queryKey2, legacyToken, lazyToken];
    let sinkId: string;

    const the = appWithWebhook(kind, HMAC_KEY);
    before(() => ({ t, hook, caPem } = the));

    const admin = (method: string, path: string, body?: unknown) => t.req(method, path, { token: t.adminToken, body });
    const shown = () => `${hook.origin}/…`;
    const assertNoSecret = (haystack: string, where: string) => {
      for (const s of secrets) for (const f of forms(s)) assert.ok(!haystack.includes(f), `${where} must not carry ${f}`);
    };
    /** Every column of every sink row and every audit event row, as text. */
    const databaseText = async () => {
      const sinks = await t.core.store.db.selectFrom('auditSinks').selectAll().execute();
      const events = await t.core.store.db.selectFrom('auditEvents').selectAll().execute();
      return [...sinks, ...events].map((r) => Object.values(r).map((v) => (v === null || v === undefined ? '' : String(v))).join('\u0000')).join('\n');
    };

    it('the URL with a path token and a query key is in no answer and no audit event; deliveries reach the whole URL', T, async () => {
      const url = `${hook.origin}/services/T0/B0/${pathToken}?api-key=${queryKey}`;
      const c = await admin('POST', '/api/v1/audit-sinks', { name: 'tokened', kind: 'webhook', url, hmacKey: HMAC_KEY, caPem, retryInitialMs: 100, retryMaxMs: 200, startAt: 'now' });
      assert.equal(c.statusCode, 201, c.body);
      assertNoSecret(c.body, 'the create answer');
      sinkId = c.json().id;
      assert.equal(c.json().url, shown(), 'the answer shows scheme, host and port, the rest as /…');
      assert.equal(c.json().tls, true);

      const g = await admin('GET', `/api/v1/audit-sinks/${sinkId}`);
      assert.equal(g.statusCode, 200, g.body);
      assertNoSecret(g.body, 'GET');
      assert.equal(g.json().url, shown());
      const l = await admin('GET', '/api/v1/audit-sinks');
      assert.equal(l.statusCode, 200, l.body);
      assertNoSecret(l.body, 'the list');

      // A change that does not send the URL keeps it.
      const u = await admin('PATCH', `/api/v1/audit-sinks/${sinkId}`, { batchSize: 3 });
      assert.equal(u.statusCode, 200, u.body);
      assertNoSecret(u.body, 'the update answer');
      assert.equal(u.json().url, shown());
      // Sending back what an answer shows would replace the URL with a broken one: refused.
      const back = await admin('PATCH', `/api/v1/audit-sinks/${sinkId}`, { url: shown() });
      assert.equal(back.statusCode, 400, back.body);

      t.core.auditStreaming.start();
      const ev = await t.core.audit.record(SYSTEM, { action: 'test.to-the-token-url' });
      await until(() => hook.deliveries.some((d) => d.sink === 'tokened' && d.events.some((e) => e.seq === ev.seq)), () => `a delivery to the sink (${hook.deliveries.length} so far)`, 60_000);
      const paths = new Set(hook.deliveries.filter((d) => d.sink === 'tokened').map((d) => d.path));
      assert.deepEqual([...paths], [`/services/T0/B0/${pathToken}?api-key=${queryKey}`], 'posted to the whole URL');

      // Sending a URL replaces it: deliveries go to the new one.
      const r = await admin('PATCH', `/api/v1/audit-sinks/${sinkId}`, { url: `${hook.origin}/collector/${pathToken2}?api-key=${queryKey2}` });
      assert.equal(r.statusCode, 200, r.body);
      assertNoSecret(r.body, 'the update answer (new URL)');
      assert.equal(r.json().url, shown());
      const ev2 = await t.core.audit.record(SYSTEM, { action: 'test.to-the-new-url' });
      await until(() => hook.deliveries.some((d) => d.sink === 'tokened' && d.events.some((e) => e.seq === ev2.seq)), () => 'a delivery after the URL changed', 60_000);
      const last = hook.deliveries.filter((d) => d.sink === 'tokened').at(-1)!;
      assert.equal(last.path, `/collector/${pathToken2}?api-key=${queryKey2}`);
      assert.equal(hook.badSignatures, 0);

      // The audit events about the sink: the display form and the names of the fields changed.
      const audit = await admin('GET', '/api/v1/audit?action=audit.sink_*&limit=100');
      assert.equal(audit.statusCode, 200, audit.body);
      assertNoSecret(audit.body, 'the audit events');
      const items = audit.json().items as { action: string; targetId?: string; details: Record<string, unknown> }[];
      const mine = items.filter((e) => e.action === 'audit.sink_create' || e.action === 'audit.sink_update');
      assert.ok(mine.length >= 3, `create and two updates audited (the refused one is not) (${mine.length})`);
      for (const e of mine) assert.equal(e.details.url, shown(), `${e.action} shows the display form`);
      assert.ok(mine.some((e) => e.action === 'audit.sink_update' && (e.details.changed as string[]).includes('url')), 'the URL change is named');
      // What the sink itself got streamed (these audit events among them).
      assertNoSecret(JSON.stringify(hook.deliveries.map((d) => [d.events, d.checkpoints])), 'the streamed events');
    });

    it('a sink stored with its URL in clear (before sealing) still delivers and is sealed once, however many readers race', T, async () => {
      const dataKeysBefore = (await t.core.store.db.selectFrom('dataKeys').select('id').execute()).length;
      const legacy = async (name: string, tok: string) => {
        const id = newId();
        const sealed = await t.core.dataKeys.encrypt(JSON.stringify({ hmacKey: HMAC_KEY, caPem }), `audit-sink:${id}`);
        const config = { host: null, port: null, tls: true, serverName: null, facility: 13, hostname: null, url: `${hook.origin}/hooks/${tok}?api-key=${tok}`, batchSize: 100, timeoutSeconds: 10, retryInitialMs: 100, retryMaxMs: 200 };
        const cursor = await t.core.auditSinks.head();
        const ts = Date.now();
        await t.core.store.db
          .insertInto('auditSinks')
          .values({ id, name, kind: 'webhook', enabled: 1, config: JSON.stringify(config), secretDataKeyId: sealed.dataKeyId, secretSealed: sealed.sealed, cursor, checkpointCursor: 0, delivered: 0, lastDeliveredAt: null, attempts: 0, nextAttemptAt: 0, lastError: null, lastErrorAt: null, leaseNode: null, leaseUntil: 0, createdAt: ts, updatedAt: ts })
          .execute();
        return id;
      };
      const lazyId = await legacy('legacy-lazy', lazyToken);
      const runningId = await legacy('legacy-running', legacyToken);
      const rowText = async (id: string) => JSON.stringify(await t.core.store.db.selectFrom('auditSinks').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
      assert.ok((await rowText(lazyId)).includes(lazyToken), 'the legacy row holds its URL in clear');

      // Several readers at once (as several nodes would): each answer shows the display form.
      const answers = await Promise.all([1, 2, 3, 4].map(() => admin('GET', `/api/v1/audit-sinks/${lazyId}`)));
      for (const a of answers) {
        assert.equal(a.statusCode, 200, a.body);
        assertNoSecret(a.body, 'an answer about a legacy sink');
      }
      assert.equal(answers[0]!.json().url, shown());
      // Streaming starts again (as at a node's start): the other legacy sink, read by no one yet, is sealed.
      await t.core.auditStreaming.stop(0);
      t.core.auditStreaming.start();
      await until(async () => !(await rowText(runningId)).includes(legacyToken), () => 'the legacy sink sealed when streaming started', 30_000);
      // Both deliver to their whole URL.
      const ev = await t.core.audit.record(SYSTEM, { action: 'test.to-legacy-sinks' });
      for (const [name, tok] of [['legacy-lazy', lazyToken], ['legacy-running', legacyToken]] as const) {
        await until(() => hook.deliveries.some((d) => d.sink === name && d.events.some((e) => e.seq === ev.seq)), () => `a delivery to ${name}`, 60_000);
        assert.deepEqual([...new Set(hook.deliveries.filter((d) => d.sink === name).map((d) => d.path))], [`/hooks/${tok}?api-key=${tok}`], `${name} posts to its whole URL`);
      }
      // Both sealed: the clear URL gone from their rows; no data key left over from the race.
      assert.ok(!(await rowText(lazyId)).includes(lazyToken));
      const cfg = JSON.parse((await t.core.store.db.selectFrom('auditSinks').select('config').where('id', '=', runningId).executeTakeFirstOrThrow()).config);
      assert.equal(cfg.url, shown());
      assert.equal((await t.core.store.db.selectFrom('dataKeys').select('id').execute()).length, dataKeysBefore + 2, 'one data key per legacy sink, none orphaned');
      // A change after the move keeps the URL (sealed) and it still delivers there.
      const p = await admin('PATCH', `/api/v1/audit-sinks/${runningId}`, { batchSize: 2 });
      assert.equal(p.statusCode, 200, p.body);
      const ev2 = await t.core.audit.record(SYSTEM, { action: 'test.legacy-after-change' });
      await until(() => hook.deliveries.some((d) => d.sink === 'legacy-running' && d.events.some((e) => e.seq === ev2.seq)), () => 'a delivery after the change', 60_000);
      assert.equal(hook.deliveries.filter((d) => d.sink === 'legacy-running').at(-1)!.path, `/hooks/${legacyToken}?api-key=${legacyToken}`);
    });

    it('the database holds none of the URLs in clear (every column of the sinks and of the audit events)', T, async () => {
      assertNoSecret(await databaseText(), 'the database');
    });
  });
}
