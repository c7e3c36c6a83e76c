// A sink is delivered by one node of a cluster at a time (its lease), and a delivery that
// takes long keeps it: the lease is renewed while a batch is being sent. Before, it was renewed
// only between batches, so a receiver slower than the lease had another node post the same
// batch while the first waited for its answer, and the two then took the lease from each
// other without end, neither able to move the cursor. And a sink changed after a failed
// delivery (a smaller batchSize for a receiver that refuses the size) reads its batch afresh:
// before, the failed batch was sent again as it was, whatever the change.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SYSTEM } from '../../src/core/audit/service.js';
import { AuditStreaming } from '../../src/core/audit/streaming/streamer.js';
import { appWithWebhook, until, WebhookReceiver } from '../support/audit-receivers.js';
import { DB_KINDS, type TestApp } from '../support/harness.js';

const HMAC_KEY = `hmac-${randomBytes(24).toString('hex')}`;

for (const kind of DB_KINDS) {
  describe(`audit streaming: the lease during a slow delivery, and a sink changed after a failure (${kind})`, () => {
    let t: TestApp;
    let hook: WebhookReceiver;
    let caPem: string;
    const nodes: AuditStreaming[] = [];

    const the = appWithWebhook(kind, HMAC_KEY);
    before(() => ({ t, hook, caPem } = the));
    after(async () => {
      for (const n of nodes) await n.stop(0);
    });

    /** A node of the cluster on this database, with a short lease. */
    const node = (name: string) => {
      const n = new AuditStreaming(t.core.store, t.core.auditSinks, t.core.audit, name, t.core.log, { leaseMs: 4000, pollMs: 100 });
      nodes.push(n);
      return n;
    };
    const sink = async (name: string, body: Record<string, unknown> = {}) => {
      const r = await t.req('POST', '/api/v1/audit-sinks', { token: t.adminToken, body: { name, kind: 'webhook', url: hook.url, hmacKey: HMAC_KEY, caPem, retryInitialMs: 200, retryMaxMs: 200, startAt: 'now', ...body } });
      assert.equal(r.statusCode, 201, r.body);
      return r.json().id as string;
    };

    it('two nodes, a receiver slower than the lease: each batch is posted once', { timeout: 120_000 }, async () => {
      // Its answer comes well after the lease would run out unrenewed (4 s), within the sink's timeout.
      await sink(`slow-${kind}`, { timeoutSeconds: 30 });
      hook.answerDelayMs = 9000;
      const a = node('node-a');
      a.start();
      const first = await t.core.audit.record(SYSTEM, { action: 'test.slow-first' });
      // A is posting (the receiver has the body and holds its answer); then B starts.
      await until(() => hook.received > 0, () => 'the first post under way', 30_000);
      const b = node('node-b');
      b.start();
      const second = await t.core.audit.record(SYSTEM, { action: 'test.slow-second' });
      await until(() => hook.events.some((e) => e.seq === second.seq), () => `both events delivered (${hook.deliveries.length} deliveries)`, 60_000);
      hook.answerDelayMs = 0;
      const seqs = hook.deliveries.filter((d) => d.sink === `slow-${kind}`).flatMap((d) => d.events.map((e) => e.seq));
      // Before: B posted A's batch again once A's lease had run out (and again, each taking the lease from the other).
      assert.deepEqual(seqs, [...new Set(seqs)].sort((x, y) => x - y), `each event once, in order: ${seqs.join(',')}`);
      assert.ok(seqs.includes(first.seq) && seqs.includes(second.seq));
      for (const n of nodes.splice(0)) await n.stop(0);
    });

    it('a sink changed after a failed delivery reads its batch afresh (a smaller batchSize is kept)', { timeout: 120_000 }, async () => {
      const id = await sink(`resized-${kind}`, { batchSize: 100 });
      const start = hook.deliveries.length;
      hook.failing = true;
      const a = node('node-c');
      const events: { seq: number }[] = [];
      for (let i = 0; i < 5; i++) events.push(await t.core.audit.record(SYSTEM, { action: `test.resize-${i}` }));
      a.start();
      await until(() => hook.refused.some((d) => d.sink === `resized-${kind}` && d.events.length >= 5), () => 'a batch of five refused', 30_000);
      const changed = await t.req('PATCH', `/api/v1/audit-sinks/${id}`, { token: t.adminToken, body: { batchSize: 2 } });
      assert.equal(changed.statusCode, 200, changed.body);
      hook.failing = false;
      await until(() => hook.events.some((e) => e.seq === events.at(-1)!.seq), () => 'all five delivered', 30_000);
      const mine = hook.deliveries.slice(start).filter((d) => d.sink === `resized-${kind}`);
      // Before: the refused batch of five was sent again as it was.
      assert.ok(mine.every((d) => d.events.length <= 2), `batches after the change: ${mine.map((d) => d.events.length).join(',')}`);
      for (const n of nodes.splice(0)) await n.stop(0);
    });
  });
}
