// gatehouse_relayed_bytes_total and gatehouse_recording_bytes_total are counters: what a
// session relayed and recorded is counted while it is live, then among the ended sessions'
// totals. A session leaves `live` as its end begins, and its end is written after (the
// recording's hash, the database write, tried again every 2 s when the database refuses it).
// Before, its bytes reached the ended totals only in the end listeners, after all that: a
// scrape in between counted them nowhere, the counters went down, and Prometheus read a
// reset. Likewise a session closing its recording (ended, still in `live`) was left out of the
// recording bytes, and bytes a door reported after the session left `live` (the tail it flushes
// while closing) were never counted. The test holds the end at each of those points and scrapes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { adminSessionPlans, DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';
import { samples, value } from '../support/prometheus.js';

interface Figures {
  in: number;
  out: number;
  recorded: number;
}

for (const kind of DB_KINDS) {
  describe(`byte counters while a session's end is being written (${kind})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(async () => {
      await t?.close();
    });

    const scrape = async (): Promise<Figures> => {
      const m = samples((await t.core.metrics.exposition()).body);
      return {
        in: value(m, 'gatehouse_relayed_bytes_total', { protocol: 'ssh', direction: 'in' }),
        out: value(m, 'gatehouse_relayed_bytes_total', { protocol: 'ssh', direction: 'out' }),
        recorded: value(m, 'gatehouse_recording_bytes_total'),
      };
    };
    /** Scrapes and checks that no counter went down since the last scrape. */
    const seen: { when: string; f: Figures }[] = [];
    const scrapeNotLower = async (when: string): Promise<Figures> => {
      const f = await scrape();
      const last = seen.at(-1);
      if (last) for (const k of ['in', 'out', 'recorded'] as const) assert.ok(f[k] >= last.f[k], `${k} went down ${when} (${last.f[k]} ${last.when} → ${f[k]})`);
      seen.push({ when, f });
      return f;
    };

    it('never go down: closing the recording, hashing it, the database refusing the end, after', async () => {
      const plan = await adminSessionPlans(t, `metrics-end-${kind}`);
      const base = await scrapeNotLower('before the session');
      const s = await t.core.sessions.start(await plan(), { clientIp: '127.0.0.1', door: 'ssh' });
      s.begin({ cols: 80, rows: 24, term: 'xterm' });
      s.input(Buffer.from('uptime\r'));
      s.output(Buffer.from('up 3 days, load average: 0.01\r\n'));
      await s.recordingWritten();
      const live = await scrapeNotLower('while live');
      assert.equal(live.in - base.in, s.bytesIn);
      assert.equal(live.out - base.out, s.bytesOut);
      assert.ok(live.recorded > base.recorded, 'the live recording is counted');

      // The end is held at the recording's hash, then the database refuses it once.
      const storage = t.core.sessions.storage;
      const sha256 = storage.sha256.bind(storage);
      let hashing!: () => void;
      const hashStarted = new Promise<void>((r) => (hashing = r));
      let releaseHash!: () => void;
      const hashReleased = new Promise<void>((r) => (releaseHash = r));
      storage.sha256 = async (rel) => {
        hashing();
        await hashReleased;
        return sha256(rel);
      };
      const audit = t.core.audit;
      const recordIf = audit.recordIf.bind(audit);
      let refused = false;
      audit.recordIf = async (when, events) => {
        if (!refused && events[0]?.input.action === 'session.end' && events[0].input.target?.id === s.id) {
          refused = true;
          throw new Error('the database refused the end (test)');
        }
        return recordIf(when, events);
      };
      try {
        const ending = s.end('finished').then(
          () => null,
          (e: Error) => e,
        );
        // Its recording is being closed: ended, still in `live`.
        await scrapeNotLower('while its recording closes');
        await hashStarted;
        assert.equal(t.core.sessions.live.has(s.id), false, 'it has left live');
        // The door still reports the tail it flushes while closing. Before: never counted.
        s.traffic(5, 7);
        const late = await scrapeNotLower('while its recording is hashed');
        assert.deepEqual([late.in - base.in, late.out - base.out], [s.bytesIn, s.bytesOut], 'bytes after it left live are counted');
        releaseHash();
        const failed = await ending;
        assert.ok(refused && failed, 'the end was refused once: the door learned it');
        await scrapeNotLower('while its end waits to be tried again');
        const row = () => t.core.store.db.selectFrom('sessions').select('status').where('id', '=', s.id).executeTakeFirstOrThrow();
        for (let i = 0; (await row()).status !== 'ended'; i++) {
          assert.ok(i < 200, 'the end was written again within 10 s');
          await scrapeNotLower('while its end is tried again');
          await new Promise((r) => setTimeout(r, 50));
        }
        await t.core.sessions.settled();
      } finally {
        storage.sha256 = sha256;
        audit.recordIf = recordIf;
      }
      // Counted once: among the ended sessions' totals, no more in the live ones.
      const ended = await scrapeNotLower('after its end is written');
      assert.equal(ended.in - base.in, s.bytesIn);
      assert.equal(ended.out - base.out, s.bytesOut);
      assert.equal(ended.recorded - base.recorded, s.cast!.size);
    });
  });
}
