// Audit streaming to a syslog collector that accepts connections but stops reading (rsyslog or
// syslog-ng whose own output is down): once the kernel's buffers are full the write never
// completes. The sink must not hang on it: the attempt fails within the sink's timeout
// (attempts and lastError say so, the documented alert), and once the collector reads again
// every event arrives exactly once, in order (the batch stayed queued on its connection and is
// not written twice). Changes to a stuck sink (another port, disabled) take effect, and stop() returns
// within its drain time while a batch is stuck.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SYSTEM } from '../../src/core/audit/service.js';
import { SyslogReceiver, until } from '../support/audit-receivers.js';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';

const T = { timeout: 300_000 };
/** Events of ~8 KB each: a few hundred fill the loopback socket buffers (about 4 MB here). */
const PAD = 'x'.repeat(8000);

for (const kind of DB_KINDS) {
  describe(`audit streaming to a syslog collector that stops reading (${kind})`, () => {
    let t: TestApp;
    let collector: SyslogReceiver;
    /** A second collector for the second test: a connection that was read has grown buffers (tens of MB) it would take long to fill. */
    let collector2: SyslogReceiver;
    let sinkId: string;

    before(async () => {
      t = await startTestApp(kind);
      collector = await SyslogReceiver.start();
      collector2 = await SyslogReceiver.start();
    });
    after(async () => {
      await t?.core.auditStreaming.stop(0);
      for (const c of [collector, collector2]) {
        c?.resume();
        await c?.close();
      }
      await t?.close();
    });

    const append = async (n: number, tag: string) => {
      for (let i = 0; i < n; i++) await t.core.audit.record(SYSTEM, { action: 'test.padding', details: { tag, i, pad: PAD } });
    };
    const status = async () => {
      const r = await t.req('GET', `/api/v1/audit-sinks/${sinkId}`, { token: t.adminToken });
      assert.equal(r.statusCode, 200, r.body);
      return r.json().status as { cursor: number; head: number; attempts: number; lastError: string | null; node: string | null };
    };

    it('a stuck write fails within the timeout; once the collector reads again every event arrives once, in order', T, async () => {
      collector.stall();
      await append(1000, 'a');
      const r = await t.req('POST', '/api/v1/audit-sinks', { token: t.adminToken, body: { name: 'stalling', kind: 'syslog', host: '127.0.0.1', port: collector.port, batchSize: 100, timeoutSeconds: 1, retryInitialMs: 200, retryMaxMs: 1000 } });
      assert.equal(r.statusCode, 201, r.body);
      sinkId = r.json().id;
      t.core.auditStreaming.start();
      await until(async () => (await status()).attempts >= 2, () => 'the stuck sink counting failed attempts', 120_000);
      const stuck = await status();
      assert.match(stuck.lastError ?? '', /not taken the batch within 1 s/);
      assert.ok(stuck.cursor < stuck.head, 'events are pending');
      assert.equal(collector.connections, 1, 'the batch waits on its connection: no second connection while stuck');
      collector.resume();
      await until(async () => {
        const s = await status();
        return s.cursor === s.head && s.attempts === 0;
      }, () => 'the sink caught up once the collector reads', 120_000);
      const head = (await status()).head;
      await until(() => collector.events.length >= head, () => `collector has ${collector.events.length} of ${head}`);
      assert.deepEqual(
        collector.events.map((e) => e.seq),
        Array.from({ length: head }, (_, i) => i + 1),
        'every event once, in order',
      );
      assert.deepEqual(collector.errors, [], 'no broken frame');
      assert.equal(collector.connections, 1, 'one connection throughout');
    });

    it('a change to the stuck sink takes effect, and stop returns within its drain time', T, async () => {
      // A change applies at once: the sink moves to another collector, which stops reading too.
      collector2.stall();
      const moved = await t.req('PATCH', `/api/v1/audit-sinks/${sinkId}`, { token: t.adminToken, body: { port: collector2.port } });
      assert.equal(moved.statusCode, 200, moved.body);
      await append(1000, 'b');
      let seen: unknown;
      await until(async () => ((seen = await status()) as { attempts: number }).attempts >= 1, () => `the sink stuck on the second collector: ${JSON.stringify(seen)}, ${collector2.connections} connection(s), ${collector2.messages.length} messages`, 120_000);
      assert.equal(collector2.connections, 1);
      // Disabling it ends its loop (the lease goes) even though its batch was never taken.
      const off = await t.req('PATCH', `/api/v1/audit-sinks/${sinkId}`, { token: t.adminToken, body: { enabled: false } });
      assert.equal(off.statusCode, 200, off.body);
      await until(async () => (await status()).node === null, () => 'the disabled sink let go of its lease', 60_000);
      await append(1000, 'c');
      const on = await t.req('PATCH', `/api/v1/audit-sinks/${sinkId}`, { token: t.adminToken, body: { enabled: true, timeoutSeconds: 60 } });
      assert.equal(on.statusCode, 200, on.body);
      // Stuck again, on a new connection, now with a send timeout (60 s) far beyond the drain
      // (0.5 s): wait until its cursor no longer moves (the buffers are full).
      await until(async () => collector2.connections >= 2, () => 'a new connection after re-enabling', 60_000);
      let last = -1;
      let still = 0;
      await until(
        async () => {
          const c = (await status()).cursor;
          still = c === last ? still + 1 : 0;
          last = c;
          await new Promise((res) => setTimeout(res, 500));
          return still >= 6;
        },
        () => 'the sink stuck on its new connection',
        120_000,
      );
      // Before the fix this never returned (the test's own timeout then fails it): stop waited
      // for a batch the collector never takes.
      await t.core.auditStreaming.stop(500);
      const s = await status();
      assert.equal(s.node, null, 'the lease was released');
      assert.ok(s.cursor < s.head, 'what was not taken is still pending (it goes at the next start)');
      assert.ok(s.attempts >= 1, 'the aborted batch counts as a failed attempt');
      assert.match(s.lastError ?? '', /drain time at stop ran out/);
    });
  });
}
