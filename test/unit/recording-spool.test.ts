// Recordings for object storage, without the store: the segmented writer (recording-spool.ts)
// cuts a recording into segment files of about a part each, in order, whose concatenation is
// the recording (plain and gzip, through the writer thread); readers of the live recording
// read across segments and are refused what left the spool. The envelope
// (recording-envelope.ts) gives back exactly what was sealed and refuses a tampered,
// reordered, renamed or truncated object.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { CastWriter } from '../../src/core/sessions/asciicast.js';
import { envelopeHeader, FrameSealer, openEnvelope } from '../../src/core/sessions/recording-envelope.js';
import { MAX_PART_BYTES, MAX_PARTS, partBytesAt } from '../../src/core/sessions/recording-s3-upload.js';
import type { RecordingSpool, SpoolEvents } from '../../src/core/sessions/spool-contract.js';
import { RecordingWriter } from '../../src/core/sessions/recording-writer.js';
import type { ToWriter } from '../../src/core/sessions/recording-writer-worker.js';
import { openAppender } from '../../src/core/sessions/recording-spool.js';

const HEADER = { version: 2 as const, width: 80, height: 24, timestamp: 0 };

/** A spool that keeps what it is told; releases on demand. */
class TestSpool implements RecordingSpool {
  events: SpoolEvents | null = null;
  readonly sealedList: number[] = [];
  finished: { last: number; failed: boolean } | null = null;
  constructor(
    readonly base: string,
    readonly size: number | ((index: number) => number),
  ) {}
  segmentBytes(index: number): number {
    return typeof this.size === 'number' ? this.size : this.size(index);
  }
  segmentPath(i: number): string {
    return `${this.base}.${i}`;
  }
  attach(e: SpoolEvents): void {
    this.events = e;
  }
  sealed(i: number): void {
    this.sealedList.push(i);
  }
  async finish(last: number, failed: boolean): Promise<void> {
    this.finished = { last, failed };
  }
}

/** A writer thread whose writes can be held back on the main side: what a kill -9 loses is what the thread had not written. */
class HoldingWriter extends RecordingWriter {
  holding = false;
  readonly held: ToWriter[] = [];
  override post(m: ToWriter): void {
    if (this.holding && m.t !== 'open') this.held.push(m);
    else super.post(m);
  }
  release(): void {
    this.holding = false;
    for (const m of this.held.splice(0)) super.post(m);
  }
}

const collect = async (r: Readable): Promise<Buffer> => {
  const out: Buffer[] = [];
  for await (const c of r) out.push(c as Buffer);
  return Buffer.concat(out);
};

describe('segmented recordings (object storage spool)', () => {
  for (const gzip of [false, true]) {
    it(`cuts a recording into segments whose concatenation is the recording (${gzip ? 'gzip' : 'plain'})`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'gh-spool-'));
      const writer = new RecordingWriter();
      try {
        const spool = new TestSpool(join(dir, 's.cast' + (gzip ? '.gz' : '')), gzip ? 16 * 1024 : 32 * 1024);
        const w = new CastWriter(join(dir, 'unused'), HEADER, undefined, performance.now(), undefined, { writer, gzip, spool });
        for (let i = 0; i < 400; i++) {
          w.data('o', Buffer.from(randomBytes(300).toString('base64') + '\n'));
          if (i % 50 === 0) await w.written();
        }
        await w.written();
        const whole = w.readFrom(0);
        await w.close();
        assert.ok(spool.finished && !spool.finished.failed);
        const n = spool.finished.last + 1;
        assert.ok(n > 3, `several segments: ${n}`);
        assert.deepEqual(spool.sealedList, [...Array(n - 1).keys()], 'every full segment sealed, in order');
        const files = [...Array(n).keys()].map((i) => readFileSync(spool.segmentPath(i)));
        const joined = Buffer.concat(files);
        assert.ok((gzip ? gunzipSync(joined) : joined).equals(whole), 'the segments are the recording');
        assert.match(whole.toString().split('\n')[0]!, /"version":2/);
        assert.equal(new Set(whole.toString().trim().split('\n').slice(1).map((l) => l.startsWith('['))).size, 1, 'whole events only');
      } finally {
        await writer.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('an upload that fails keeps the events not flushed yet: they go to the segment on disk (the disk is fine)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-spool-'));
    try {
      const spool = new TestSpool(join(dir, 's.cast'), 1 << 20);
      const errors: Error[] = [];
      const w = new CastWriter(join(dir, 'unused'), HEADER, undefined, performance.now(), (e) => void errors.push(e), { spool });
      w.data('o', Buffer.from('flushed before\n'));
      w.flush();
      // Relayed already, waiting for the next flush, when the store fails.
      w.data('o', Buffer.from('relayed, not flushed yet\n'));
      spool.events!.failed(new Error('uploading the recording to object storage failed (test)'));
      await w.close();
      assert.equal(errors.length, 1, 'the session is told (it ends: fail closed)');
      assert.deepEqual(spool.finished, { last: 0, failed: true });
      const stored = readFileSync(spool.segmentPath(0), 'utf8');
      assert.match(stored, /flushed before/);
      assert.match(stored, /relayed, not flushed yet/, 'kept for completeFromRow to store');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a crash at a rollover leaves a prefix of the recording on disk, never a hole in its middle', async () => {
    // Before: the next segment's first chunk was written as its head at once, on the event
    // loop, while the full segment's last chunks still waited for the writer thread; a kill -9
    // then left the newer bytes on disk without the older ones, and recovery stored both as if
    // nothing were missing.
    const dir = mkdtempSync(join(tmpdir(), 'gh-spool-'));
    const writer = new HoldingWriter();
    try {
      const spool = new TestSpool(join(dir, 's.cast'), 4096);
      const f = openAppender(join(dir, 'unused'), Buffer.from('head\n'), 60_000, 1, undefined, { writer, spool });
      f.append(Buffer.alloc(3000, 'a'));
      await f.written();
      writer.holding = true;
      f.append(Buffer.alloc(2000, 'b')); // into segment 0 (3005 bytes < 4096), queued
      f.append(Buffer.alloc(1000, 'c')); // segment 0 is full: segment 1 starts with this
      assert.ok(existsSync(spool.segmentPath(1)), 'the rollover happened');
      // What a kill -9 leaves now: the files as they are (the page cache survives the process).
      const onDisk = Buffer.concat([readFileSync(spool.segmentPath(0)), readFileSync(spool.segmentPath(1))]);
      writer.release();
      await f.written();
      const whole = f.readFrom(0);
      await f.close();
      assert.ok(whole.equals(Buffer.concat([Buffer.from('head\n'), Buffer.alloc(3000, 'a'), Buffer.alloc(2000, 'b'), Buffer.alloc(1000, 'c')])));
      assert.ok(whole.subarray(0, onDisk.length).equals(onDisk), `the files at the crash are a prefix of the recording (${onDisk.length} bytes: ${JSON.stringify(onDisk.subarray(-8).toString())} at their end)`);
      assert.ok(Buffer.concat([readFileSync(spool.segmentPath(0)), readFileSync(spool.segmentPath(1))]).equals(whole), 'and the segments are the recording once written');
    } finally {
      await writer.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('asks the spool for each segment\'s size: later segments may be larger', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-spool-'));
    try {
      const spool = new TestSpool(join(dir, 's.cast'), (i) => 4096 * (i + 1));
      const w = new CastWriter(join(dir, 'unused'), HEADER, undefined, performance.now(), undefined, { spool });
      for (let i = 0; i < 200; i++) {
        w.data('o', Buffer.from('y'.repeat(200) + '\n'));
        w.flush();
      }
      await w.close();
      const n = spool.finished!.last + 1;
      assert.ok(n >= 4, `several segments: ${n}`);
      // A segment is cut at the first flush past its size: it holds at least that, less one event more.
      for (let i = 0; i < n - 1; i++) {
        const size = readFileSync(spool.segmentPath(i)).length;
        assert.ok(size >= 4096 * (i + 1) && size < 4096 * (i + 1) + 512, `segment ${i}: ${size} bytes`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('S3 part sizes double every 1,000 parts up to 1 GiB, so 10,000 parts hold terabytes', () => {
    const MiB = 1024 * 1024;
    assert.equal(partBytesAt(8 * MiB, 0), 8 * MiB);
    assert.equal(partBytesAt(8 * MiB, 999), 8 * MiB);
    assert.equal(partBytesAt(8 * MiB, 1000), 16 * MiB);
    assert.equal(partBytesAt(8 * MiB, 7000), MAX_PART_BYTES);
    assert.equal(partBytesAt(1024 * MiB, 5000), MAX_PART_BYTES, 'never above 1 GiB');
    assert.equal(partBytesAt(5 * MiB, MAX_PARTS - 2), MAX_PART_BYTES);
    assert.equal(partBytesAt(5 * MiB, MAX_PARTS - 1), Infinity, 'the last part S3 allows is never cut');
    let total = 0;
    for (let i = 0; i < MAX_PARTS - 1; i++) total += partBytesAt(8 * MiB, i);
    // With a fixed 8 MiB, the 10,000th part came at 80 GB (S3 refuses part 10,001).
    assert.ok(total > 3.5 * 1024 ** 4, `10,000 parts of the default size hold ${total} bytes`);
  });

  it('reads across segments and refuses what left the spool', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-spool-'));
    try {
      const spool = new TestSpool(join(dir, 's.cast'), 8 * 1024);
      // A graphical session's keyframe follower is fed here, while the segment is still readable.
      const before: Buffer[] = [];
      const w: CastWriter = new CastWriter(join(dir, 'unused'), HEADER, undefined, performance.now(), undefined, { spool, beforeRelease: async () => void before.push(w.readFrom(0)) });
      for (let i = 0; i < 100; i++) {
        w.data('o', Buffer.from('x'.repeat(500) + '\n'));
        w.flush();
      }
      const all = w.readFrom(0);
      assert.equal(all.length, w.size);
      // A full segment is sealed once its file is closed (a promise later).
      await new Promise((r) => setImmediate(r));
      assert.ok(spool.sealedList.length >= 2, `sealed: ${spool.sealedList}`);
      await spool.events!.releasing(0);
      assert.equal(before.length, 1, 'asked before the segment went');
      assert.ok(before[0]!.equals(all.subarray(0, before[0]!.length)) && before[0]!.length >= all.length, 'and it could still read from the start');
      unlinkSync(spool.segmentPath(0));
      assert.ok(w.keptFrom > 0);
      assert.throws(() => w.readFrom(0), /left this node's spool/);
      assert.ok(w.readFrom(w.keptFrom).equals(all.subarray(w.keptFrom)), 'from keptFrom on, the same bytes');
      spool.events!.failed(Object.assign(new Error('store down'), { code: 'upload_failed' }));
      await w.close();
      assert.equal(spool.finished?.failed, true);
      assert.ok(existsSync(spool.segmentPath(1)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('recording envelope (Gatehouse-side encryption)', () => {
  const key = randomBytes(32);
  const plain = randomBytes(3 * 1024 * 1024 + 17);
  const sealed = (name = 'a/b.cast', final = true) => {
    const s = new FrameSealer(key, name);
    // Sealed in two parts, as two uploads would.
    return Buffer.concat([envelopeHeader('dk1'), s.seal(plain.subarray(0, 1_500_000), false), s.seal(plain.subarray(1_500_000), final)]);
  };
  const open = (data: Buffer, name = 'a/b.cast') => collect(openEnvelope(Readable.from([data.subarray(0, 7), data.subarray(7, 100_000), data.subarray(100_000)]), name, async (id) => (assert.equal(id, 'dk1'), key)));

  it('gives back exactly what was sealed', async () => {
    const data = sealed();
    assert.ok(!data.includes(plain.subarray(1000, 1032)), 'no plaintext in it');
    assert.ok((await open(data)).equals(plain));
  });

  it('refuses a flipped bit, another name, a missing final frame and a cut', async () => {
    const data = sealed();
    const flipped = Buffer.from(data);
    flipped[flipped.length - 40]! ^= 1;
    await assert.rejects(open(flipped));
    await assert.rejects(open(data, 'a/other.cast'));
    await assert.rejects(open(sealed('a/b.cast', false)), /truncated/);
    await assert.rejects(open(data.subarray(0, data.length - 10)), /truncated/);
  });
});
