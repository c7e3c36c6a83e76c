// The ghrec container: what the writer appends the reader gets back, in pieces or whole;
// a file cut anywhere reads up to its last whole record; bad files fail with a reason.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeGhrecMarker, encodeGhrecHeader, encodeGhrecRecord, GHREC_MARKER, GhrecError, GhrecReader, readGhrec } from '../../src/core/sessions/ghrec.js';
import { GhrecWriter } from '../../src/core/sessions/ghrec-writer.js';

describe('ghrec container', () => {
  it('round-trips header, records and markers through the writer; the file is 0600', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ghrec-'));
    try {
      const seen: Uint8Array[] = [];
      const path = join(dir, 'a', 'b.ghrec');
      const w = new GhrecWriter(path, { format: 'test', formatVersion: 3, startedAt: '2026-11-23T00:00:00.000Z', extra: 'é' }, (r) => seen.push(r));
      w.record(7, new Uint8Array([1, 2, 3]));
      w.marker('note', 'hello');
      w.record(8, new Uint8Array(0));
      w.close();
      w.record(9, new Uint8Array([9])); // after close: ignored
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const { header, records, truncated } = readGhrec(readFileSync(path));
      assert.deepEqual(header, { format: 'test', formatVersion: 3, startedAt: '2026-11-23T00:00:00.000Z', extra: 'é' });
      assert.equal(truncated, false);
      assert.deepEqual(
        records.map((r) => [r.type, [...r.payload]]),
        [
          [7, [1, 2, 3]],
          [GHREC_MARKER, [...new TextEncoder().encode(JSON.stringify({ kind: 'note', text: 'hello' }))]],
          [8, []],
        ],
      );
      assert.deepEqual(decodeGhrecMarker(records[1]!.payload), { kind: 'note', text: 'hello' });
      assert.equal(seen.length, 3, 'observers see every record');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads byte by byte the same as whole, and a cut file up to its last whole record', () => {
    const head = encodeGhrecHeader({ format: 'x', formatVersion: 1, startedAt: 'now' });
    const recs = [encodeGhrecRecord(1, 10, new Uint8Array([1])), encodeGhrecRecord(2, 20, new Uint8Array(300).fill(5)), encodeGhrecRecord(3, 4e9, new Uint8Array([3]))];
    const file = Buffer.concat([head, ...recs]);
    const r = new GhrecReader();
    const got = [];
    for (const b of file) got.push(...r.push(new Uint8Array([b])));
    assert.deepEqual(got.map((g) => [g.type, g.time, g.payload.length]), [[1, 10, 1], [2, 20, 300], [3, 4e9, 1]]);
    for (let cut = head.length; cut < file.length; cut++) {
      const { records, truncated } = readGhrec(file.subarray(0, cut));
      const whole = recs.reduce((acc, rec, i) => (head.length + recs.slice(0, i + 1).reduce((n, x) => n + x.length, 0) <= cut ? i + 1 : acc), 0);
      assert.equal(records.length, whole, `cut at ${cut}`);
      assert.equal(truncated, cut !== head.length + recs.slice(0, whole).reduce((n, x) => n + x.length, 0));
    }
  });

  it('refuses what is not a recording, with a reason', () => {
    const head = encodeGhrecHeader({ format: 'x', formatVersion: 1, startedAt: 'now' });
    assert.throws(() => readGhrec(Buffer.from('{"version": 2, "width": 80}\n[0.1, "o", "x"]\n')), (e: Error) => e instanceof GhrecError && /bad magic/.test(e.message));
    const v2 = Buffer.from(head);
    v2.writeUInt16LE(2, 8);
    assert.throws(() => readGhrec(v2), /container version 2/);
    const huge = Buffer.from(head);
    huge.writeUInt32LE(1 << 30, 10);
    assert.throws(() => readGhrec(huge), /header too large/);
    const badJson = Buffer.concat([head.subarray(0, 10), Buffer.from([3, 0, 0, 0]), Buffer.from('{x}')]);
    assert.throws(() => readGhrec(badJson), /not valid JSON/);
    const noFormat = encodeGhrecHeader({ format: 'x', formatVersion: 1, startedAt: 'now' });
    const patched = Buffer.from(new TextDecoder().decode(noFormat).replace('"format"', '"formax"'), 'latin1');
    assert.throws(() => readGhrec(patched), /lacks format/);
    const bigRecord = Buffer.concat([head, Buffer.from([1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f])]);
    assert.throws(() => readGhrec(bigRecord), /claims/);
    assert.throws(() => readGhrec(head.subarray(0, 5)), /cut off inside its header/);
  });
});
