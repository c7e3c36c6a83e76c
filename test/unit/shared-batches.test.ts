// Shared memory for recording batches (shared-batches.ts) is kept once the writer thread has
// written a batch and serves the next ones: many recordings written at once through one
// writer thread still hold exactly their own bytes, plain and compressed; only large
// batches are kept, at most KEEP of them; a batch of a recording that failed is never kept
// (the thread may still hold it in its queue).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { constants, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { CastWriter } from '../../src/core/sessions/asciicast.js';
import { RecordingWriter } from '../../src/core/sessions/recording-writer.js';
import { BATCH_BYTES, KEEP, SharedBatches } from '../../src/core/sessions/shared-batches.js';

const HEADER = { version: 2 as const, width: 80, height: 24, timestamp: 1700000000 };
const KiB = 1024;

/** A deterministic printable chunk of `n` bytes, different per recording and chunk. */
function text(rec: number, chunk: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  let x = rec * 7919 + chunk * 104729 + 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = 0x20 + ((x >>> 16) % 95);
  }
  return b;
}

describe('shared recording batches', () => {
  it('keep large batches once written, by size, small ones never, at most KEEP of a size', () => {
    const pool = new SharedBatches();
    const small = pool.get(1000);
    assert.ok(small.buffer instanceof SharedArrayBuffer && small.length === 1000);
    pool.written(small);
    assert.equal(pool.kept, 0, 'a small batch has memory of its own');
    const big = pool.get(300 * KiB);
    assert.equal(big.length, 512 * KiB, 'the size that fits');
    pool.written(big.subarray(0, 280 * KiB));
    assert.equal(pool.kept, 1);
    pool.written(big);
    assert.equal(pool.kept, 1, 'the same memory is kept once');
    assert.equal(pool.get(100 * KiB).length, 128 * KiB, 'a smaller batch takes its own size');
    assert.equal(pool.get(400 * KiB).buffer, big.buffer, 'a batch of that size gets the kept memory');
    const huge = pool.get(BATCH_BYTES + 1);
    assert.equal(huge.length, BATCH_BYTES + 1);
    pool.written(huge);
    assert.equal(pool.kept, 0, 'a batch larger than the largest size is not kept');
    for (let i = 0; i < 40; i++) pool.written(Buffer.from(new SharedArrayBuffer(64 * KiB)));
    for (let i = 0; i < 40; i++) pool.written(Buffer.from(new SharedArrayBuffer(100 * KiB)));
    assert.equal(pool.kept, KEEP, 'at most KEEP of a size; odd sizes never');
  });

  it('eight recordings written at once through one writer thread hold exactly their own bytes, plain and compressed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-batches-'));
    const writer = new RecordingWriter({ sessionQueueBytes: 64 << 20, totalQueueBytes: 1 << 30, gzipLevel: 1 });
    try {
      const recs = Array.from({ length: 8 }, (_, r) => new CastWriter(join(dir, `r${r}.cast${r % 2 ? '.gz' : ''}`), HEADER, undefined, performance.now(), (e) => assert.fail(e), { writer, gzip: r % 2 === 1 }));
      // Interleaved, 30 KiB chunks, over several turns so that written batches come back and are reused.
      for (let round = 0; round < 12; round++) {
        for (let c = 0; c < 10; c++) recs.forEach((w, r) => w.text(text(r, round * 10 + c, 30 * KiB)));
        await new Promise((r) => setTimeout(r, 5));
      }
      await Promise.all(recs.map((w) => w.close()));
      assert.ok(writer.batches.kept > 0, 'written batches were kept for reuse');
      recs.forEach((w, r) => {
        const raw = readFileSync(w.path);
        const lines = (r % 2 ? gunzipSync(raw) : raw).toString().trim().split('\n');
        assert.equal(lines.length, 1 + 120, `recording ${r}: every event`);
        lines.slice(1).forEach((l, i) => assert.equal((JSON.parse(l) as [number, string, string])[2], text(r, i, 30 * KiB).toString(), `recording ${r}, event ${i}`));
      });
    } finally {
      await writer.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a failed recording gives none of its batches back, not even the one the thread finishes writing later', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-batches-'));
    const fifo = join(dir, 'stalled');
    execFileSync('mkfifo', [fifo]);
    // A stalled disk: a FIFO nobody reads until the end (read and write, so opening does not wait).
    const fd = openSync(fifo, constants.O_RDWR);
    const writer = new RecordingWriter({ sessionQueueBytes: 2 << 20, totalQueueBytes: 1 << 30, gzipLevel: 1, drainTimeoutMs: 60_000 });
    const errors: NodeJS.ErrnoException[] = [];
    try {
      const sink = writer.attach(fd, { fileBytes: 0, contentBytes: 0 }, false, (e) => errors.push(e));
      // 300 KiB batches in kept-size memory: the pipe takes 64 KiB of the first, then the thread blocks; the queue fills.
      let handed = 0;
      while (errors.length === 0 && handed < 20) {
        const b = sink.batch(300 * KiB).subarray(0, 300 * KiB).fill(0x61 + handed);
        if (sink.write(b)) handed++;
      }
      assert.equal(errors[0]?.code, 'queue_full', 'the queue filled');
      assert.ok(handed >= 6, `${handed} batches handed over`);
      // The disk comes back: the thread finishes the write it was blocked in (and drops the rest).
      const reader = spawn('cat', [fifo], { stdio: ['ignore', 'ignore', 'ignore'] });
      await sink.close();
      reader.kill();
      assert.equal(writer.batches.kept, 0, 'nothing of a failed recording was kept');
    } finally {
      await writer.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
