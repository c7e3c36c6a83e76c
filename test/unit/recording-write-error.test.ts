// A write that fails partway (ENOSPC, EIO…) must not leave a torn gzip member (or a torn
// asciicast line) at the end of a recording that is then sealed: the writer cuts the file
// back to the whole members (whole events) written before it reports the error, so the seal
// has a hash, the file inflates, and downloads and players read it to its end.
//
// The failing disk is the process's own file size limit (RLIMIT_FSIZE, set with prlimit on
// this test process): write(2) writes up to the limit and returns short, and the next
// write fails with EFBIG (Node ignores SIGXFSZ), as on a disk that fills in the middle of a
// member. The limit is set only once the writer thread runs and is lifted before anything
// else is written.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CastWriter } from '../../src/core/sessions/asciicast.js';
import { memberIndex } from '../../src/core/sessions/recording-gzip.js';
import { sha256File } from '../../src/core/sessions/recording-repair.js';
import { LocalRecordingStorage } from '../../src/core/sessions/recording-storage.js';
import { RecordingWriter } from '../../src/core/sessions/recording-writer.js';
import { withDir as withTempDir } from '../support/with-dir.js';

const HEADER = { version: 2 as const, width: 80, height: 24, timestamp: 1700000000 };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const gunzipWithTool = (path: string): Buffer => execFileSync('gzip', ['-dc', path], { maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });

/** The soft file size limit of this process, as prlimit takes it back ('unlimited' or bytes). */
function fileSizeLimit(): string {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max file size'))!;
  return line.split(/\s{2,}/)[1]!;
}

/** Runs `fn` with writes to regular files limited to `bytes` (process-wide, the writer thread too). */
async function withFileSizeLimit<T>(bytes: number, fn: () => Promise<T>): Promise<T> {
  const before = fileSizeLimit();
  execFileSync('prlimit', ['--pid', String(process.pid), `--fsize=${bytes}:`]);
  try {
    return await fn();
  } finally {
    execFileSync('prlimit', ['--pid', String(process.pid), `--fsize=${before}:`]);
  }
}

/**
 * Records a few events, then one more whose write hits a file size limit a little past the
 * file's end: the write of that flush is cut partway and then fails. Returns what the file
 * held before it and the error reported.
 */
async function recordThenFail(path: string, writer: RecordingWriter | undefined): Promise<{ before: number; errors: NodeJS.ErrnoException[]; written: string[] }> {
  const errors: NodeJS.ErrnoException[] = [];
  const gzip = path.endsWith('.gz');
  const w = new CastWriter(path, HEADER, undefined, performance.now(), (e) => errors.push(e), { gzip, ...(writer ? { writer } : {}) });
  const written: string[] = [];
  for (let i = 0; i < 3; i++) {
    const text = `line ${i}: ${'the quick brown fox '.repeat(20)}\r\n`;
    w.event('o', text);
    written.push(text);
    w.flush();
  }
  await w.written();
  const before = statSync(path).size;
  await withFileSizeLimit(before + 100, async () => {
    // Random hex: a member (or line) of several KiB, far past the 100 bytes the disk still takes.
    w.event('o', randomBytes(8192).toString('hex'));
    w.flush();
    await w.written();
  });
  assert.equal(errors.length, 1, 'the failure is reported once');
  assert.equal(errors[0]!.code, 'EFBIG');
  await w.close();
  return { before, errors, written };
}

/** The seal's hash, as the session's end takes it (storage.sha256). */
const sealHash = (path: string) => new LocalRecordingStorage(dirname(path), path.endsWith('.gz') ? 'gzip' : 'none').sha256(basename(path));

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir('gh-write-error-', fn);

/** What every case checks of an asciicast: the header and the events written before the failure, whole. */
function assertWholeCast(content: Buffer, written: string[]): void {
  const lines = content.toString('utf8').split('\n');
  assert.equal(lines.pop(), '', 'ends with a whole line');
  assert.deepEqual(JSON.parse(lines[0]!), HEADER);
  assert.deepEqual(lines.slice(1).map((l) => JSON.parse(l)[2]), written);
}

describe('a recording write that fails partway', () => {
  for (const [name, thread] of [['on the writer thread', true], ['written synchronously (no writer thread)', false]] as const) {
    it(`compressed, ${name}: the file is cut back to its last whole member; it inflates and its seal has a hash`, () =>
      withDir(async (dir) => {
        const writer = thread ? new RecordingWriter({ sessionQueueBytes: 1 << 20, totalQueueBytes: 1 << 30, gzipLevel: 1 }) : undefined;
        try {
          const path = join(dir, 'r.cast.gz');
          const { before, written } = await recordThenFail(path, writer);
          const { end, size } = memberIndex(path);
          assert.equal(size, before, `the torn member is cut off (${size - before} bytes of it were left)`);
          assert.equal(end, size, 'the file ends at a whole member');
          const content = gunzipWithTool(path);
          assertWholeCast(content, written);
          assert.equal(await sha256File(path), sha(content));
          assert.equal(await sealHash(path), sha(content), 'the seal has a hash');
        } finally {
          await writer?.stop();
        }
      }));

    it(`plain, ${name}: the file is cut back to its last whole event`, () =>
      withDir(async (dir) => {
        const writer = thread ? new RecordingWriter({ sessionQueueBytes: 1 << 20, totalQueueBytes: 1 << 30, gzipLevel: 1 }) : undefined;
        try {
          const path = join(dir, 'r.cast');
          const { before, written } = await recordThenFail(path, writer);
          assert.equal(statSync(path).size, before, 'the torn line is cut off');
          const content = readFileSync(path);
          assertWholeCast(content, written);
          assert.equal(await sealHash(path), sha(content));
        } finally {
          await writer?.stop();
        }
      }));
  }
});
