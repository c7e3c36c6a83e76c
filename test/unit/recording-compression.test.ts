// Compressed recordings at rest (gzip members per flush, recording-gzip.ts) written through
// the writer thread (recording-writer.ts): the stock `gzip -d` gives back the plain
// recording byte for byte, whose readers (asciicast lines, the ghrec container reader)
// read it as before; any range of it can be read by hopping from member to member; a
// crash that tears the last member is repaired down to the members before it; the seal's
// hash is the plain recording's.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CastWriter } from '../../src/core/sessions/asciicast.js';
import { GhrecWriter } from '../../src/core/sessions/ghrec-writer.js';
import { readGhrec } from '../../src/core/sessions/ghrec.js';
import { gzipMember, memberIndex, readContentSync } from '../../src/core/sessions/recording-gzip.js';
import { repairRecording, sha256File } from '../../src/core/sessions/recording-repair.js';
import { LocalRecordingStorage } from '../../src/core/sessions/recording-storage.js';
import { RecordingWriter } from '../../src/core/sessions/recording-writer.js';
import { withDir as withTempDir } from '../support/with-dir.js';

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir('gh-gzip-', fn);
const gunzipWithTool = (path: string): Buffer => execFileSync('gzip', ['-dc', path], { maxBuffer: 256 << 20 });
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const HEADER = { version: 2 as const, width: 80, height: 24, timestamp: 1700000000 };

/** Writes the same events plain and compressed (each through its own writer thread) and returns both files. */
async function castPair(dir: string, events: number): Promise<{ plain: string; gz: string; writer: RecordingWriter }> {
  const writer = new RecordingWriter();
  const plain = join(dir, 'p.cast');
  const gz = join(dir, 'c.cast.gz');
  const origin = performance.now();
  const a = new CastWriter(plain, HEADER, undefined, origin, undefined, { writer });
  const b = new CastWriter(gz, HEADER, undefined, origin, undefined, { writer, gzip: true });
  for (let i = 0; i < events; i++) {
    const text = `line ${i}: ${'the quick brown fox jumps over the lazy dog '.repeat(1 + (i % 7))}\r\n`;
    // Same times in both: the writers' clocks differ by microseconds, the text is what matters here.
    a.event('o', text);
    b.event('o', text);
    if (i % 500 === 0) {
      a.flush();
      b.flush();
    }
  }
  await Promise.all([a.close(), b.close()]);
  return { plain, gz, writer };
}

describe('compressed recordings (gzip members)', () => {
  it('are several gzip members that gzip -d turns back into the asciicast; smaller; readers and ranges work', () =>
    withDir(async (dir) => {
      const { gz, writer } = await castPair(dir, 5000);
      const content = gunzipWithTool(gz);
      const lines = content.toString('utf8').split('\n').filter(Boolean);
      assert.deepEqual(JSON.parse(lines[0]!), HEADER);
      assert.equal(lines.length, 5001, 'the header and every event');
      for (const l of lines.slice(1)) assert.equal(JSON.parse(l)[1], 'o');
      const { members, end, size } = memberIndex(gz);
      assert.ok(members.length > 2, `one member per flush (${members.length})`);
      assert.equal(end, size, 'every member whole');
      assert.equal(members.reduce((n, m) => n + m.contentLength, 0), content.length);
      assert.ok(size * 5 < content.length, `compressed ${content.length} → ${size}`);
      // Seekable: any range of the plain recording, read by inflating only its members.
      for (const [from, to] of [[0, 10], [12345, 54321], [content.length - 100, content.length], [members[2]!.contentOffset - 3, members[2]!.contentOffset + 3]] as const) {
        assert.deepEqual(readContentSync(gz, from, to), content.subarray(from, to));
      }
      assert.equal(await sha256File(gz), sha(content), 'the seal hash is the plain recording’s');
      const storage = new LocalRecordingStorage(dir, 'gzip');
      assert.equal(await storage.sha256('c.cast.gz'), sha(content));
      const read: Buffer[] = [];
      for await (const c of await storage.read('c.cast.gz')) read.push(c as Buffer);
      assert.deepEqual(Buffer.concat(read), content);
      await writer.stop();
    }));

  it('a live compressed recording reads back whole from the writer: what is on disk and what is on its way', () =>
    withDir(async (dir) => {
      const writer = new RecordingWriter();
      const path = join(dir, 'live.cast.gz');
      const lines: string[] = [];
      const w = new CastWriter(path, HEADER, (l) => lines.push(l), performance.now(), undefined, { writer, gzip: true });
      for (let i = 0; i < 3000; i++) {
        w.event('o', `output ${i} ${'x'.repeat(i % 50)}\n`);
        if (i % 700 === 0) w.flush();
        if (i % 1000 === 999) {
          const all = w.readFrom(0).toString('utf8');
          assert.equal(all, JSON.stringify(HEADER) + '\n' + lines.join(''), `after ${i + 1} events`);
        }
      }
      await w.written();
      assert.equal(gunzipWithTool(path).toString('utf8'), JSON.stringify(HEADER) + '\n' + lines.join(''));
      await w.close();
      await writer.stop();
    }));

  it('crash: a torn last member is cut off at recovery, the members before it kept; gzip -d reads the rest', () =>
    withDir(async (dir) => {
      const { gz, plain, writer } = await castPair(dir, 3000);
      await writer.stop();
      const { members, size } = memberIndex(gz);
      const last = members.at(-1)!;
      const keptContent = last.contentOffset;
      truncateSync(gz, last.offset + Math.floor(last.length / 2));
      const f = await repairRecording(gz);
      assert.equal(statSync(gz).size, last.offset, 'cut at the last whole member');
      assert.equal(f.tornBytes, Math.floor(last.length / 2));
      const kept = gunzipWithTool(gz);
      assert.equal(kept.length, keptContent);
      // Whole events only, and the same bytes the plain file has up to there (times aside).
      const plainLines = readFileSync(plain, 'utf8').split('\n');
      const keptLines = kept.toString('utf8').split('\n');
      assert.equal(keptLines.at(-1), '', 'ends with a whole line');
      assert.equal(f.events, keptLines.length - 2);
      for (let i = 1; i < keptLines.length - 1; i++) assert.equal(JSON.parse(keptLines[i]!)[2], JSON.parse(plainLines[i]!)[2]);
      // Garbage after the members (a write that never finished its header) goes too.
      appendFileSync(gz, Buffer.from([0x1f, 0x8b, 8]));
      const again = await repairRecording(gz);
      assert.equal(again.tornBytes, 3);
      assert.equal(statSync(gz).size, last.offset);
    }));

  it('crash: a whole member that inflates to a cut event keeps the members before it byte for byte, and its whole events as a new last member', () =>
    withDir(async (dir) => {
      const { gz, writer } = await castPair(dir, 2000);
      await writer.stop();
      const before = readFileSync(gz);
      const content = gunzipWithTool(gz);
      const members = memberIndex(gz).members.length;
      // A member that is whole gzip, but whose events end inside one (as a crash inside a flush could leave).
      appendFileSync(gz, gzipMember(Buffer.from('[9.5, "o", "whole"]\n[9.6, "o", "cu')));
      const f = await repairRecording(gz);
      assert.equal(f.tornBytes, '[9.6, "o", "cu'.length);
      const after = readFileSync(gz);
      assert.ok(after.subarray(0, before.length).equals(before), 'the members before it are untouched (not compressed again)');
      assert.equal(memberIndex(gz).members.length, members + 1);
      assert.equal(gunzipWithTool(gz).toString('utf8'), content.toString('utf8') + '[9.5, "o", "whole"]\n');
      // Nothing whole in it: the member goes.
      appendFileSync(gz, gzipMember(Buffer.from('[9.7, "o", "cu')));
      await repairRecording(gz);
      assert.ok(readFileSync(gz).equals(after));
    }));

  it('ghrec: the container reader reads the inflated file, records and markers as written', () =>
    withDir(async (dir) => {
      const writer = new RecordingWriter();
      const path = join(dir, 's.ghrec.gz');
      const w = new GhrecWriter(path, { format: 'rdp', formatVersion: 1, startedAt: new Date().toISOString() }, undefined, performance.now(), undefined, { writer, gzip: true });
      const payloads = Array.from({ length: 200 }, (_, i) => new Uint8Array(1000 + i).fill(i % 256));
      for (const p of payloads) w.record(2, p);
      w.marker('note', 'hello');
      await w.close();
      const rec = readGhrec(new Uint8Array(gunzipWithTool(path)));
      assert.equal(rec.truncated, false);
      assert.equal(rec.records.length, 201);
      assert.deepEqual(rec.records.slice(0, 200).map((r) => r.payload.length), payloads.map((p) => p.length));
      const f = await repairRecording(path);
      assert.equal(f.format, 'ghrec-rdp');
      assert.equal(f.events, 201);
      assert.equal(f.tornBytes, 0);
      await writer.stop();
    }));

  it('the writer thread bounds what waits for the disk: past the bound the recording fails with queue_full', () =>
    withDir(async (dir) => {
      const writer = new RecordingWriter({ sessionQueueBytes: 64 << 10, totalQueueBytes: 1 << 20, gzipLevel: 6 });
      const errors: Error[] = [];
      const w = new CastWriter(join(dir, 'q.cast'), HEADER, undefined, performance.now(), (e) => errors.push(e), { writer });
      // One flush larger than the whole queue: refused at once, without waiting for any disk.
      w.event('o', 'y'.repeat(200 << 10));
      w.flush();
      assert.equal(errors.length, 1);
      assert.equal((errors[0] as NodeJS.ErrnoException).code, 'queue_full');
      await w.close();
      assert.equal(readFileSync(join(dir, 'q.cast'), 'utf8'), JSON.stringify(HEADER) + '\n', 'nothing of the refused chunk was written');
      writeFileSync(join(dir, 'ok'), '');
      await writer.stop();
    }));
});
