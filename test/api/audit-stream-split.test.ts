// A webhook receiver that refuses a batch for its size (413) gets the same stretch of the chain
// in halves, at once, until it takes them; the batch grows back after deliveries at a size. Before, the
// sink retried the refused batch as it was, with backoff, until someone lowered batchSize by
// hand. One event refused alone is a failure like any other (backoff, the sink's lastError).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SYSTEM } from '../../src/core/audit/service.js';
import { AuditStreaming } from '../../src/core/audit/streaming/streamer.js';
import { appWithWebhook, until, WebhookReceiver } from '../support/audit-receivers.js';
import type { TestApp } from '../support/harness.js';

const HMAC_KEY = `hmac-${randomBytes(24).toString('hex')}`;

describe('audit streaming: a webhook refusing a batch for its size', () => {
  let t: TestApp;
  let hook: WebhookReceiver;
  let caPem: string;
  let node: AuditStreaming | undefined;

  const the = appWithWebhook('sqlite', HMAC_KEY);
  before(() => ({ t, hook, caPem } = the));
  after(async () => {
    await node?.stop(0);
  });

  it('sends fewer events at once after a 413, every event once and in order, and grows back', { timeout: 120_000 }, async () => {
    const r = await t.req('POST', '/api/v1/audit-sinks', { token: t.adminToken, body: { name: 'split', kind: 'webhook', url: hook.url, hmacKey: HMAC_KEY, caPem, batchSize: 16, retryInitialMs: 60_000, retryMaxMs: 60_000, startAt: 'now' } });
    assert.equal(r.statusCode, 201, r.body);
    const id = r.json().id as string;
    hook.maxEvents = 3;
    const mine: number[] = [];
    for (let i = 0; i < 12; i++) mine.push((await t.core.audit.record(SYSTEM, { action: `test.split-${i}` })).seq);
    node = new AuditStreaming(t.core.store, t.core.auditSinks, t.core.audit, 'node-split', t.core.log, { pollMs: 100 });
    node.start();
    // The backoff is a minute: only the halvings, never a retry after a failed attempt, can deliver within the wait.
    await until(() => hook.events.some((e) => e.seq === mine.at(-1)), () => `all delivered (refused sizes ${hook.refused.map((d) => d.events.length).join(',')})`, 30_000);
    const seqs = hook.events.map((e) => e.seq);
    assert.deepEqual(seqs, [...new Set(seqs)].sort((x, y) => x - y), `each event once, in order: ${seqs.join(',')}`);
    for (const s of mine) assert.ok(seqs.includes(s));
    assert.ok(hook.deliveries.every((d) => d.events.length <= 3));
    assert.ok(hook.refused.length > 0 && hook.refused.every((d) => d.events.length > 3), 'refused only for their size');
    const status = await t.req('GET', `/api/v1/audit-sinks/${id}`, { token: t.adminToken });
    assert.equal(status.json().status.attempts, 0, 'the halvings are not failed attempts');

    // The receiver takes more again: the batch grows back (up to batchSize).
    hook.maxEvents = Infinity;
    const more: number[] = [];
    // Doubled after 8 deliveries in a row at a size: 2 → 4 → 8 → 16 within 8·(2+4+8) = 112 events.
    for (let round = 0; round < 12 && !hook.deliveries.some((d) => d.events.length > 8); round++) {
      // Sixteen at once (one group commit), so the node finds them pending together.
      const written = await Promise.all(Array.from({ length: 16 }, (_, i) => t.core.audit.record(SYSTEM, { action: `test.split-more-${round}-${i}` })));
      more.push(...written.map((e) => e.seq));
      await until(() => hook.events.some((e) => e.seq === more.at(-1)), () => `round ${round} delivered`, 30_000);
    }
    assert.ok(
      hook.deliveries.some((d) => d.events.length > 8),
      `batches grew back: ${hook.deliveries.map((d) => d.events.length).join(',')}`,
    );
  });

  it('one event refused alone backs off and says so in the sink status', { timeout: 120_000 }, async () => {
    await node?.stop(0);
    const r = await t.req('POST', '/api/v1/audit-sinks', { token: t.adminToken, body: { name: 'split-one', kind: 'webhook', url: hook.url, hmacKey: HMAC_KEY, caPem, batchSize: 4, retryInitialMs: 300, retryMaxMs: 300, startAt: 'now' } });
    assert.equal(r.statusCode, 201, r.body);
    const id = r.json().id as string;
    hook.maxEvents = 0;
    const e = await t.core.audit.record(SYSTEM, { action: 'test.split-alone' });
    node = new AuditStreaming(t.core.store, t.core.auditSinks, t.core.audit, 'node-split-2', t.core.log, { pollMs: 100 });
    node.start();
    await until(() => hook.refused.filter((d) => d.sink === 'split-one' && d.events.length === 1).length >= 2, () => 'the single event refused twice', 30_000);
    const status = (await t.req('GET', `/api/v1/audit-sinks/${id}`, { token: t.adminToken })).json();
    assert.ok(status.status.attempts >= 1, `a failed attempt counted: ${JSON.stringify(status)}`);
    assert.match(status.status.lastError ?? '', /HTTP 413/);
    hook.maxEvents = Infinity;
    await until(() => hook.deliveries.some((d) => d.sink === 'split-one' && d.events.some((x) => x.seq === e.seq)), () => 'delivered once taken', 30_000);
  });
});
