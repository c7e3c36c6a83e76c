// Backpressure from the recording writer thread (recording-writer.ts): a recording whose
// queue is past half its bound says it is backlogged, and calls back once it is down to a
// quarter, so the SSH relay can hold the target's output meanwhile instead of outrunning
// the recording until it fails; a queue that does not drain (a stalled disk) still fails
// the recording (queue_full) after the drain timeout, and a failed recording lets nobody
// wait. The stalled disk is a FIFO nobody reads: the thread blocks in write(2) once the
// pipe is full. Counts and sizes are checked, not times.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CastWriter } from '../../src/core/sessions/asciicast.js';
import { RecordingWriter } from '../../src/core/sessions/recording-writer.js';

const HEADER = { version: 2 as const, width: 80, height: 24, timestamp: 1700000000 };
const KiB = 1024;

describe('recording backlog', () => {
  it('is reported past half the queue and drains to a quarter before the producer goes on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-backlog-'));
    const writer = new RecordingWriter({ sessionQueueBytes: 256 * KiB, totalQueueBytes: 1 << 30, gzipLevel: 1 });
    try {
      const w = new CastWriter(join(dir, 'b.cast'), HEADER, undefined, performance.now(), (e) => assert.fail(e), { writer });
      assert.equal(w.backlogged, false);
      let drained = 0;
      w.whenDrained(() => drained++);
      assert.equal(drained, 1, 'not behind: at once');
      // Handed over in one turn: the thread has answered none of it yet.
      let written = 0;
      while (!w.backlogged) {
        w.event('o', 'x'.repeat(16 * KiB));
        w.flush();
        written++;
      }
      assert.ok(written * 16 * KiB >= 128 * KiB && written * 16 * KiB < 256 * KiB, `backlogged after ${written} chunks`);
      const sink = (w as unknown as { file: { sink: { queuedBytes: number } } }).file.sink;
      await new Promise<void>((resolve) =>
        w.whenDrained(() => {
          assert.ok(sink.queuedBytes <= 64 * KiB, `${sink.queuedBytes} bytes still queued`);
          resolve();
        }),
      );
      assert.equal(w.backlogged, false);
      await w.close();
      // Everything that was held back is in the file.
      const lines = execFileSync('wc', ['-l', join(dir, 'b.cast')], { encoding: 'utf8' });
      assert.equal(Number(lines.trim().split(' ')[0]), 1 + written);
    } finally {
      await writer.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails the recording (queue_full) when the queue does not drain in time: a stalled disk ends the session', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-backlog-'));
    const fifo = join(dir, 'stalled');
    execFileSync('mkfifo', [fifo]);
    // Read and write, so that opening does not wait for a reader; nobody reads until the end.
    // The writer thread owns the descriptor from attach() on (it closes it).
    const fd = openSync(fifo, constants.O_RDWR);
    const writer = new RecordingWriter({ sessionQueueBytes: 1 << 20, totalQueueBytes: 1 << 30, gzipLevel: 1, drainTimeoutMs: 200 });
    const errors: NodeJS.ErrnoException[] = [];
    try {
      const sink = writer.attach(fd, { fileBytes: 0, contentBytes: 0 }, false, (e) => errors.push(e));
      // 640 KiB: the pipe takes 64 KiB, then the thread blocks in write(2); the rest stays queued.
      for (let i = 0; i < 10; i++) assert.equal(sink.write(Buffer.alloc(64 * KiB, 0x61)), true);
      assert.equal(sink.backlogged, true);
      let called = 0;
      await new Promise<void>((resolve) =>
        sink.whenDrained(() => {
          called++;
          resolve();
        }),
      );
      assert.equal(called, 1, 'the waiting producer is let go…');
      assert.equal(errors.length, 1, '…because the recording failed');
      assert.equal(errors[0]!.code, 'queue_full');
      assert.equal(sink.backlogged, false);
      assert.equal(sink.write(Buffer.from('later')), false, 'a failed recording takes nothing more');
      // The disk comes back (a reader empties the pipe): the thread drops what was queued and closes the file.
      const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'ignore'] });
      let got = 0;
      reader.stdout.on('data', (d: Buffer) => (got += d.length));
      // Listened for before the close: cat ends as soon as the thread closes the file, which
      // can be before the thread's answer reaches us (a listener added after would wait for ever).
      const readerClosed = new Promise((r) => reader.once('close', r));
      await sink.close();
      await readerClosed;
      assert.ok(got < 640 * KiB, `${got} bytes reached the disk: what waited was dropped`);
    } finally {
      await writer.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
