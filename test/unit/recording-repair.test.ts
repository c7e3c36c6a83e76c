// Crash repair of recording files made by hand: a torn last line (asciicast) or record (ghrec)
// is cut off and everything before it kept byte for byte; the last event's time and the bytes
// of each direction are read from what is kept; files without a usable header are refused.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { encodeGhrecHeader, encodeGhrecMarker, encodeGhrecRecord, GhrecReader, GHREC_MAX_RECORD, readGhrec } from '../../src/core/sessions/ghrec.js';
import { repairRecording, scanAsciicast, sha256File, UnreadableRecording } from '../../src/core/sessions/recording-repair.js';
import { RDP_RECORDED_TRAFFIC, RDPREC } from '../../src/protocols/rdp/recording/records.js';
import { withDir as withTempDir } from '../support/with-dir.js';

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir('gh-repair-', fn);

const CAST_HEADER = JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1700000000, env: { TERM: 'xterm' } }) + '\n';
const ev = (t: number, type: string, text: string) => JSON.stringify([t, type, text]) + '\n';
const GH_HEADER = { format: 'rdp', formatVersion: 1, startedAt: '2026-01-02T03:04:05.678Z' };
const traffic = { rdp: RDP_RECORDED_TRAFFIC };

describe('the seal\'s hash of a file', () => {
  it('refuses bytes after the last gzip member, a NUL first included (zlib stops there quietly)', () =>
    withDir(async (dir) => {
      const path = join(dir, 's.cast.gz');
      const content = Buffer.from(CAST_HEADER + ev(1, 'o', 'a'));
      writeFileSync(path, gzipSync(content));
      assert.equal(await sha256File(path), createHash('sha256').update(content).digest('hex'));
      appendFileSync(path, Buffer.from([0, 0, 0x41]));
      await assert.rejects(sha256File(path), /3 byte\(s\) after the last gzip member/);
    }));

  it('a stored file is what its name says; a copy of any name is sniffed for gzip only when asked (verify <file>)', () =>
    withDir(async (dir) => {
      const content = Buffer.from(CAST_HEADER + ev(1, 'o', 'a'));
      const plainSha = createHash('sha256').update(content).digest('hex');
      const path = join(dir, 's.cast');
      // A .cast replaced by a gzip of itself: not the sealed bytes (downloads would serve gzip).
      writeFileSync(path, gzipSync(content));
      assert.notEqual(await sha256File(path), plainSha);
      assert.equal(await sha256File(path, { sniff: true }), plainSha);
    }));
});

describe('asciicast repair', () => {
  it('cuts off a torn last line (half an event, a split UTF-8 character) and keeps the rest byte for byte', () =>
    withDir(async (dir) => {
      const path = join(dir, 's.cast');
      const good = CAST_HEADER + ev(0.25, 'o', 'héllo\r\n') + ev(1.5, 'i', 'ls\r') + ev(2.125, 'r', '100x30') + ev(3.5, 'm', 'binary output: 4096 bytes') + ev(4.75, 'o', '$ ');
      writeFileSync(path, good);
      const torn = Buffer.concat([Buffer.from('[9.5, "o", "torn-wr'), Buffer.from('é').subarray(0, 1)]);
      appendFileSync(path, torn);
      const f = await repairRecording(path);
      assert.equal(readFileSync(path, 'utf8'), good, 'exactly the whole lines are kept');
      assert.deepEqual(f, {
        format: 'asciicast-v2',
        size: Buffer.byteLength(good),
        tornBytes: torn.length,
        events: 5,
        lastEventMs: 4750,
        startedAt: null,
        bytesIn: 3,
        bytesOut: Buffer.byteLength('héllo\r\n') + 4096 + 2,
      });
      // Whole now: a second repair changes nothing.
      const again = await repairRecording(path);
      assert.equal(again.tornBytes, 0);
      assert.equal(readFileSync(path, 'utf8'), good);
    }));

  it('keeps a shared session\'s input events (a fourth element, the sender) at the end', () =>
    withDir(async (dir) => {
      const path = join(dir, 's.cast');
      const good = CAST_HEADER + ev(0.5, 'o', '$ ') + JSON.stringify([0.75, 'i', 'ls\r', 'bob']) + '\n' + JSON.stringify([0.9, 'i', 'pwd\r', 'carol']) + '\n';
      writeFileSync(path, good + '[1.0, "o", "tor');
      const f = await repairRecording(path);
      // Before: both input lines were cut off as if torn (they were the last lines).
      assert.equal(readFileSync(path, 'utf8'), good);
      assert.equal(f.events, 3);
      assert.equal(f.lastEventMs, 900);
      assert.equal(f.bytesIn, 3 + 4);
    }));

  it('also cuts off whole lines at the end that are no event (zeros a lost write left)', () =>
    withDir(async (dir) => {
      const path = join(dir, 's.cast');
      const good = CAST_HEADER + ev(1, 'o', 'a') + '{"not":"an event"}\n' + ev(2, 'o', 'b');
      writeFileSync(path, good + '\0\0\0\0\n[3, "o"]\n' + '\0'.repeat(100));
      const f = await repairRecording(path);
      assert.equal(readFileSync(path, 'utf8'), good, 'a bad line in the middle stays (only the end is torn)');
      assert.equal(f.events, 2);
      assert.equal(f.lastEventMs, 2000);
    }));

  it('keeps a header-only recording whole: no events, time 0', () =>
    withDir(async (dir) => {
      const path = join(dir, 's.cast');
      writeFileSync(path, CAST_HEADER);
      const f = await repairRecording(path);
      assert.deepEqual([f.size, f.tornBytes, f.events, f.lastEventMs, f.bytesIn, f.bytesOut], [CAST_HEADER.length, 0, 0, 0, 0, 0]);
      assert.equal(readFileSync(path, 'utf8'), CAST_HEADER);
    }));

  it('refuses an empty file, a torn header and a file that is no asciicast, leaving them untouched', () =>
    withDir(async (dir) => {
      for (const [name, content, why] of [
        ['empty', '', /empty/],
        ['torn-header', CAST_HEADER.slice(0, 20), /cut off inside its header/],
        ['not-cast', '{"version":1}\n' + ev(1, 'o', 'x'), /not an asciicast v2 header/],
      ] as const) {
        const path = join(dir, `${name}.cast`);
        writeFileSync(path, content);
        await assert.rejects(repairRecording(path), (e: Error) => e instanceof UnreadableRecording && why.test(e.message), name);
        assert.equal(readFileSync(path, 'utf8'), content, `${name} untouched`);
      }
    }));

  it('a line with no newline for longer than any event is torn, however long', () =>
    withDir(async (dir) => {
      const path = join(dir, 's.cast');
      const good = CAST_HEADER + ev(1, 'o', 'x');
      writeFileSync(path, good + 'A'.repeat(17 << 20));
      const f = await scanAsciicast(path);
      assert.equal(f.size, Buffer.byteLength(good));
      assert.equal(f.tornBytes, 17 << 20);
    }));

  it('a missing file is an error (ENOENT), not an empty recording', () =>
    withDir(async (dir) => {
      await assert.rejects(repairRecording(join(dir, 'nope.cast')), /ENOENT/);
    }));
});

describe('ghrec repair', () => {
  const records = [
    encodeGhrecRecord(RDPREC.DESKTOP, 0, new Uint8Array(6)),
    encodeGhrecRecord(RDPREC.FASTPATH_OUTPUT, 40, new Uint8Array(1000)),
    encodeGhrecRecord(RDPREC.INPUT, 90, new Uint8Array(14)),
    encodeGhrecMarker(120, 'note', 'x'),
    encodeGhrecRecord(RDPREC.SLOWPATH_OUTPUT, 2500, new Uint8Array(300)),
    encodeGhrecRecord(RDPREC.KEYS, 2600, new Uint8Array(3)),
  ];
  const good = Buffer.concat([encodeGhrecHeader(GH_HEADER), ...records]);

  it('cuts off a torn last record (head and part of its payload) at the last whole record', () =>
    withDir(async (dir) => {
      const path = join(dir, 's.ghrec');
      const torn = encodeGhrecRecord(RDPREC.FASTPATH_OUTPUT, 2700, new Uint8Array(5000)).subarray(0, 9 + 1234);
      writeFileSync(path, Buffer.concat([good, torn]));
      assert.equal(readGhrec(readFileSync(path)).truncated, true);
      const f = await repairRecording(path, traffic);
      assert.ok(readFileSync(path).equals(good), 'exactly the whole records are kept');
      assert.equal(readGhrec(readFileSync(path)).truncated, false);
      assert.deepEqual(f, { format: 'ghrec-rdp', size: good.length, tornBytes: torn.length, events: 6, lastEventMs: 2600, startedAt: Date.parse(GH_HEADER.startedAt), bytesIn: 14, bytesOut: 1300 });
      assert.equal(await sha256File(path), createHash('sha256').update(good).digest('hex'));
    }));

  it('a record cut inside its 9-byte head is torn too', () =>
    withDir(async (dir) => {
      const path = join(dir, 's.ghrec');
      writeFileSync(path, Buffer.concat([good, Buffer.from([2, 0, 1])]));
      const f = await repairRecording(path, traffic);
      assert.equal(f.tornBytes, 3);
      assert.ok(readFileSync(path).equals(good));
    }));

  it('a record claiming more than the container allows ends the good part; the records before it all count', () =>
    withDir(async (dir) => {
      const path = join(dir, 's.ghrec');
      const bad = Buffer.alloc(64, 0xff);
      writeFileSync(path, Buffer.concat([good, bad]));
      const r = new GhrecReader();
      assert.throws(() => r.push(readFileSync(path)), /claims/);
      assert.equal(r.consumed, good.length, 'the reader says where the good part ended');
      const f = await repairRecording(path, traffic);
      assert.deepEqual([f.size, f.tornBytes, f.events, f.lastEventMs, f.bytesIn, f.bytesOut], [good.length, 64, 6, 2600, 14, 1300]);
      assert.ok(readFileSync(path).equals(good));
      assert.ok(GHREC_MAX_RECORD < 0xffffffff);
    }));

  it('without the format\'s traffic map, times still count and bytes stay 0', () =>
    withDir(async (dir) => {
      const path = join(dir, 's.ghrec');
      writeFileSync(path, good);
      const f = await repairRecording(path);
      assert.deepEqual([f.events, f.lastEventMs, f.bytesIn, f.bytesOut, f.tornBytes], [6, 2600, 0, 0, 0]);
    }));

  it('keeps a header-only recording whole', () =>
    withDir(async (dir) => {
      const path = join(dir, 's.ghrec');
      const head = encodeGhrecHeader(GH_HEADER);
      writeFileSync(path, head);
      const f = await repairRecording(path, traffic);
      assert.deepEqual([f.size, f.tornBytes, f.events, f.lastEventMs], [head.length, 0, 0, 0]);
      assert.equal(statSync(path).size, head.length);
    }));

  it('refuses an empty file, a torn header and a file with a bad magic, leaving them untouched', () =>
    withDir(async (dir) => {
      const head = encodeGhrecHeader(GH_HEADER);
      for (const [name, content, why] of [
        ['empty', Buffer.alloc(0), /empty/],
        ['torn-header', Buffer.from(head.subarray(0, head.length - 5)), /cut off inside its header/],
        ['bad-magic', Buffer.concat([Buffer.from('NOTGHREC'), Buffer.from(head.subarray(8))]), /bad magic/],
      ] as const) {
        const path = join(dir, `${name}.ghrec`);
        writeFileSync(path, content);
        await assert.rejects(repairRecording(path, traffic), (e: Error) => e instanceof UnreadableRecording && why.test(e.message), name);
        assert.ok(readFileSync(path).equals(content), `${name} untouched`);
      }
    }));
});
