// A webhook delivery that failed is retried as it was: the same events under the same
// X-Gatehouse-Delivery id, even when events were appended during the backoff (they go in the
// next delivery). What docs/operations.md promises receivers that deduplicate on the id.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SYSTEM } from '../../src/core/audit/service.js';
import { appWithWebhook, until, WebhookReceiver } from '../support/audit-receivers.js';
import { DB_KINDS, type TestApp } from '../support/harness.js';

const HMAC_KEY = `hmac-${randomBytes(24).toString('hex')}`;

for (const kind of DB_KINDS) {
  describe(`audit streaming: a failed webhook delivery is retried as it was (${kind})`, () => {
    let t: TestApp;
    let hook: WebhookReceiver;
    let caPem: string;

    const the = appWithWebhook(kind, HMAC_KEY);
    before(() => ({ t, hook, caPem } = the));

    it('the resend carries the same events and the same delivery id; the new event goes next', { timeout: 120_000 }, async () => {
      // Long enough a backoff (5 s) that the event below is appended before the retry.
      const r = await t.req('POST', '/api/v1/audit-sinks', { token: t.adminToken, body: { name: 'retried', kind: 'webhook', url: hook.url, hmacKey: HMAC_KEY, caPem, retryInitialMs: 5000, retryMaxMs: 5000, startAt: 'now' } });
      assert.equal(r.statusCode, 201, r.body);
      hook.failNext = 1;
      t.core.auditStreaming.start();
      await t.core.audit.record(SYSTEM, { action: 'test.first' });
      await until(() => hook.refused.length >= 1, () => 'the first delivery refused', 60_000);
      const refused = hook.refused[0]!;
      // During the backoff another event is appended.
      const late = await t.core.audit.record(SYSTEM, { action: 'test.during-backoff' });
      await until(() => hook.events.some((e) => e.seq === late.seq), () => `the event appended during the backoff delivered (${hook.deliveries.length} deliveries)`, 60_000);
      const resent = hook.deliveries[0]!;
      assert.deepEqual(resent.events, refused.events, 'the resend carries exactly the refused events');
      assert.deepEqual(resent.checkpoints, refused.checkpoints);
      assert.equal(resent.delivery, refused.delivery, 'under the same delivery id');
      assert.ok(!resent.events.some((e) => e.seq === late.seq), 'the new event is not in the resend');
      assert.equal(hook.deliveries[1]?.events[0]?.seq, resent.events.at(-1)!.seq + 1, 'the next delivery goes on from the resend (with the new event)');
      assert.deepEqual(hook.events.map((e) => e.seq), [...new Set(hook.events.map((e) => e.seq))].sort((a, b) => a - b), 'each event once, in order');
    });

    it('a change also starts the backoff afresh: the failure count goes back to 0', async () => {
      const r = await t.req('POST', '/api/v1/audit-sinks', { token: t.adminToken, body: { name: 'count-reset', kind: 'webhook', url: `${hook.origin}/count`, hmacKey: HMAC_KEY, caPem, enabled: false, startAt: 'now' } });
      assert.equal(r.statusCode, 201, r.body);
      const id = r.json().id as string;
      await t.core.store.db.updateTable('auditSinks').set({ attempts: 12 }).where('id', '=', id).execute();
      const p = await t.req('PATCH', `/api/v1/audit-sinks/${id}`, { token: t.adminToken, body: { retryInitialMs: 500 } });
      assert.equal(p.statusCode, 200, p.body);
      // Before: 12 stayed, and the first failure after the fix waited 2^12 × the initial wait (up to retryMaxMs).
      assert.equal((await t.core.store.db.selectFrom('auditSinks').select('attempts').where('id', '=', id).executeTakeFirstOrThrow()).attempts, 0);
      await t.req('DELETE', `/api/v1/audit-sinks/${id}`, { token: t.adminToken });
    });

    it('two creates of one name at once: one is made, the other is a 409 (not a 500), and no data key is left behind', async () => {
      const keys = async () => (await t.core.store.db.selectFrom('dataKeys').select('id').execute()).length;
      const before = await keys();
      const body = { name: 'same-name-race', kind: 'webhook', url: `${hook.origin}/race`, hmacKey: HMAC_KEY, caPem, enabled: false, startAt: 'now' };
      // The race made certain: each create waits, past its name check, until all three have passed theirs.
      const dataKeys = t.core.dataKeys;
      const encrypt = dataKeys.encrypt.bind(dataKeys);
      let arrived = 0;
      let all!: () => void;
      const together = new Promise<void>((r) => (all = r));
      dataKeys.encrypt = async (...a: Parameters<typeof encrypt>) => {
        if (++arrived === 3) all();
        await Promise.race([together, new Promise((r) => setTimeout(r, 5000))]);
        return encrypt(...a);
      };
      let answers;
      try {
        answers = await Promise.all([0, 1, 2].map(() => t.req('POST', '/api/v1/audit-sinks', { token: t.adminToken, body })));
      } finally {
        dataKeys.encrypt = encrypt;
      }
      assert.equal(arrived, 3, 'all three passed the name check');
      assert.deepEqual(answers.map((a) => a.statusCode).sort(), [201, 409, 409], answers.map((a) => a.body).join('\n'));
      const made = answers.find((a) => a.statusCode === 201)!.json().id as string;
      assert.equal(await keys(), before + 1, "one data key: the sink's own");
      await t.req('DELETE', `/api/v1/audit-sinks/${made}`, { token: t.adminToken });
    });

    it('a sink changed while a delivery is failing is tried again at once, not after that failure\'s backoff', { timeout: 120_000 }, async () => {
      // This sink alone receives (the one of the test before is removed).
      for (const sink of (await t.req('GET', '/api/v1/audit-sinks', { token: t.adminToken })).json().items as { id: string }[]) await t.req('DELETE', `/api/v1/audit-sinks/${sink.id}`, { token: t.adminToken });
      // A backoff far longer than the bound below: only a retry at once delivers in time.
      const r = await t.req('POST', '/api/v1/audit-sinks', { token: t.adminToken, body: { name: 'fixed-while-failing', kind: 'webhook', url: `${hook.origin}/before`, hmacKey: HMAC_KEY, caPem, retryInitialMs: 300_000, retryMaxMs: 300_000, startAt: 'now' } });
      assert.equal(r.statusCode, 201, r.body);
      const id = r.json().id as string;
      const seen = hook.received;
      hook.failNext = 1;
      hook.answerDelayMs = 3000;
      t.core.auditStreaming.start();
      const e = await t.core.audit.record(SYSTEM, { action: 'test.fixed-while-failing' });
      // The delivery is under way (its 503 held back) when an administrator changes the sink.
      await until(() => hook.received > seen, () => 'the first delivery received', 60_000);
      const p = await t.req('PATCH', `/api/v1/audit-sinks/${id}`, { token: t.adminToken, body: { url: `${hook.origin}/after` } });
      assert.equal(p.statusCode, 200, p.body);
      hook.answerDelayMs = 0;
      await until(() => hook.deliveries.some((d) => d.path === '/after' && d.events.some((x) => x.seq === e.seq)), () => `delivered to the changed sink (${hook.refused.length} refused, ${hook.deliveries.length} delivered)`, 60_000);
      assert.equal(hook.refused.at(-1)?.path, '/before', 'the failure was the delivery before the change');
      await t.req('DELETE', `/api/v1/audit-sinks/${id}`, { token: t.adminToken });
    });
  });
}
