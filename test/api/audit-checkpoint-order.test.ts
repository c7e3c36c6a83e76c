// Checkpoints commit in seq order across the nodes of a cluster. Audit streaming sends the
// signed checkpoints after the last one it sent; before, a node's checkpoint read the chain's
// head outside the appends' lock, so another node could append, checkpoint the newer head and
// have it streamed before the first node's (lower) checkpoint committed: that one never
// reached the SIEM. Only PostgreSQL has several nodes on one chain.
//
// The interleaving is made certain by holding node A's checkpoint insert on an uncommitted row
// of the same seq (PostgreSQL makes a second insert of a key wait for the first's outcome).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { AuditService, SYSTEM } from '../../src/core/audit/service.js';
import { AuditSigner } from '../../src/core/audit/signer.js';
import { AuditStreaming } from '../../src/core/audit/streaming/streamer.js';
import { appWithWebhook, until, WebhookReceiver } from '../support/audit-receivers.js';
import type { TestApp } from '../support/harness.js';

const HMAC_KEY = `hmac-${randomBytes(24).toString('hex')}`;

describe('audit checkpoints of two nodes reach a sink in seq order (postgres)', () => {
  let t: TestApp;
  let hook: WebhookReceiver;
  let caPem: string;
  let streaming: AuditStreaming | undefined;
  const keyDir = mkdtempSync(join(tmpdir(), 'gh-cp-order-'));

  const the = appWithWebhook('postgres', HMAC_KEY);
  before(() => ({ t, hook, caPem } = the));
  after(async () => {
    await streaming?.stop(0);
    rmSync(keyDir, { recursive: true, force: true });
  });

  /** Backends of this database waiting on a lock (a row's outcome or the appends' advisory lock). */
  const waiting = async () => {
    const r = await sql<{ n: string }>`select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(t.core.store.db);
    return Number(r.rows[0]!.n);
  };

  it('a checkpoint read before another node appended still reaches the sink', { timeout: 120_000 }, async () => {
    const r = await t.req('POST', '/api/v1/audit-sinks', { token: t.adminToken, body: { name: 'cp-order', kind: 'webhook', url: hook.url, hmacKey: HMAC_KEY, caPem, retryInitialMs: 200, retryMaxMs: 200, startAt: 'now' } });
    assert.equal(r.statusCode, 201, r.body);
    const a = t.core.audit;
    const b = new AuditService(t.core.store, AuditSigner.load(keyDir));
    await b.init();
    const first = await a.record(SYSTEM, { action: 'test.cp-order-a' });

    // Something else is writing a checkpoint of the same seq, not yet committed: A's insert waits on it.
    let release!: () => void;
    const released = new Promise<void>((res) => (release = res));
    let held = false;
    const blocker = t.core.store.db
      .transaction()
      .execute(async (trx) => {
        await trx.insertInto('auditCheckpoints').values({ seq: first.seq, hash: first.hash, signature: 'x', keyId: 'blocker', createdAt: Date.now() }).execute();
        held = true;
        await released;
        throw new Error('rolled back on purpose');
      })
      .catch(() => undefined);
    await until(() => held, () => 'the uncommitted checkpoint row');
    const before = await waiting();
    const cpA = a.checkpoint();
    await until(async () => (await waiting()) > before, () => 'node A waiting to write its checkpoint');

    // Node B appends and signs the newer head. Before the fix it did so at once; now it waits for A's lock.
    let bDone = false;
    const cpB = (async () => {
      const e = await b.record(SYSTEM, { action: 'test.cp-order-b' });
      const cp = await b.checkpoint();
      bDone = true;
      return { e, cp };
    })();
    await until(async () => bDone || (await waiting()) > before + 1, () => 'node B done or waiting');
    streaming = new AuditStreaming(t.core.store, t.core.auditSinks, a, 'node-s', t.core.log, { pollMs: 100 });
    streaming.start();
    if (bDone) {
      // The bug's path: B's checkpoint is streamed before A's exists.
      const { cp } = await cpB;
      await until(() => hook.checkpoints.some((c) => c.seq === cp!.seq), () => 'B\'s checkpoint streamed');
    }
    release();
    await blocker;
    const aSigned = await cpA;
    const { e: bEvent, cp: bSigned } = await cpB;
    assert.equal(aSigned?.seq, first.seq);
    assert.equal(bSigned?.seq, bEvent.seq);
    const last = await a.record(SYSTEM, { action: 'test.cp-order-last' });
    await a.checkpoint();
    await until(() => hook.checkpoints.some((c) => c.seq === last.seq), () => `caught up (checkpoints streamed: ${hook.checkpoints.map((c) => c.seq).join(',')})`);
    const streamed = hook.checkpoints.map((c) => c.seq);
    assert.ok(streamed.includes(first.seq), `A's checkpoint of seq ${first.seq} streamed: ${streamed.join(',')}`);
    assert.ok(streamed.includes(bEvent.seq), `B's checkpoint of seq ${bEvent.seq} streamed: ${streamed.join(',')}`);
    assert.deepEqual(streamed, [...streamed].sort((x, y) => x - y), 'in seq order');
  });
});
