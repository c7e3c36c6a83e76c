// The asciicast writer's ASCII path (asciicast-line.ts): event lines encoded straight from
// the bytes are byte for byte what the string path (UTF-8 decode, JSON.stringify, encode)
// writes, for every ASCII byte, across chunks that cut a UTF-8 sequence, with a live view
// listening or not; non-pty output is still told apart as text or binary.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { CastWriter } from '../../src/core/sessions/asciicast.js';
import { asciiEventLine, BINARY_OUTPUT, NOT_ASCII } from '../../src/core/sessions/asciicast-line.js';

const HEADER = { version: 2 as const, width: 80, height: 24, timestamp: 1700000000 };
const reference = (time: number, type: string, text: string) => Buffer.from(JSON.stringify([time, type, text]) + '\n');

/** A deterministic byte sequence (no Math.random: a failure must repeat). */
function bytes(n: number, seed: number, max = 128): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = (x >>> 16) % max;
  }
  return b;
}

describe('asciicast lines from ASCII bytes', () => {
  it('escape every ASCII byte as JSON.stringify does', () => {
    for (let c = 0; c < 0x80; c++) {
      const chunk = Buffer.from([0x41, c, 0x42]);
      assert.deepEqual(asciiEventLine(1.5, 'o', chunk, false), reference(1.5, 'o', chunk.toString('utf8')), `byte 0x${c.toString(16)}`);
    }
    for (let seed = 1; seed <= 50; seed++) {
      const chunk = bytes(1 + seed * 97, seed);
      const time = seed * 0.013;
      assert.deepEqual(asciiEventLine(time, 'i', chunk, false), reference(time, 'i', chunk.toString('utf8')));
    }
    assert.deepEqual(asciiEventLine(0, 'o', Buffer.alloc(0), false), reference(0, 'o', ''));
    // Every byte an escape (the worst case the scratch is sized for), bigger than the scratch kept.
    const controls = Buffer.alloc(300_000, 0x01);
    assert.deepEqual(asciiEventLine(2, 'o', controls, false), reference(2, 'o', controls.toString('utf8')));
    const text = Buffer.from('tab\tnewline\ncr\resc\x1b[0m"q"\\');
    assert.deepEqual(asciiEventLine(3, 'o', text, true), reference(3, 'o', text.toString('utf8')));
  });

  it('the four-bytes-at-a-time scan: every byte value at every place of a word, at every alignment, amid plain runs', () => {
    // What the one-byte-at-a-time definition gives: binary wins, then not ASCII, else JSON's line.
    const expected = (chunk: Buffer, binaryCheck: boolean) => {
      if (binaryCheck && chunk.some((c) => c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x1b)) return BINARY_OUTPUT;
      if (chunk.some((c) => c >= 0x80)) return NOT_ASCII;
      return reference(0.25, 'o', chunk.toString('latin1'));
    };
    const backing = Buffer.alloc(64);
    for (let c = 0; c < 0x100; c++)
      for (let offset = 0; offset < 4; offset++)
        for (const len of [1, 3, 4, 5, 8, 9, 13, 20]) {
          // Plain bytes around one byte c, at each place, in a view that starts `offset` bytes into its memory.
          for (let at = 0; at < len; at++) {
            const chunk = backing.subarray(offset, offset + len).fill(0x61 + (at % 26));
            chunk[at] = c;
            for (const binaryCheck of [false, true])
              assert.deepEqual(asciiEventLine(0.25, 'o', chunk, binaryCheck), expected(chunk, binaryCheck), `byte 0x${c.toString(16)} at ${at} of ${len}, offset ${offset}, binaryCheck ${binaryCheck}`);
          }
        }
    // Bytes next to the tested ones that a borrow could hide: the neighbours of each special byte.
    const edge = [0x00, 0x01, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x5b, 0x5c, 0x5d, 0x7e, 0x7f, 0x80, 0xff];
    for (const a of edge) for (const b of edge) for (const c of edge) for (const d of edge) {
      const chunk = Buffer.from([0x41, a, b, c, d, 0x42, 0x43, 0x44]).subarray(1, 5);
      for (const binaryCheck of [false, true]) assert.deepEqual(asciiEventLine(0.25, 'o', chunk, binaryCheck), expected(chunk, binaryCheck), `${chunk.toString('hex')}`);
    }
    // Long runs: the bench's text (one escape per line), and runs of every length between escapes.
    const lines = Buffer.from('The quick brown fox jumps over the lazy dog; 0123456789.\n'.repeat(700));
    for (let offset = 0; offset < 4; offset++) assert.deepEqual(asciiEventLine(0.25, 'o', lines.subarray(offset, offset + 32768), true), expected(lines.subarray(offset, offset + 32768), true));
    const runs = Buffer.concat(Array.from({ length: 40 }, (_, n) => Buffer.from('x'.repeat(n) + '"')));
    assert.deepEqual(asciiEventLine(0.25, 'i', runs, false), reference(0.25, 'i', runs.toString('latin1')));
  });

  it('send bytes ≥ 0x80 to the string path, and tell binary output (binary wins)', () => {
    assert.equal(asciiEventLine(0, 'o', Buffer.from('abc é'), false), NOT_ASCII);
    assert.equal(asciiEventLine(0, 'o', Buffer.from('abc é'), true), NOT_ASCII);
    for (const c of [0x00, 0x01, 0x07, 0x08, 0x0b, 0x0c, 0x1f]) {
      assert.equal(asciiEventLine(0, 'o', Buffer.from([0x61, c]), true), BINARY_OUTPUT, `0x${c.toString(16)}`);
      assert.equal(asciiEventLine(0, 'o', Buffer.from([0xc3, 0xa9, c]), true), BINARY_OUTPUT, 'binary also after a non-ASCII byte');
      assert.ok(Buffer.isBuffer(asciiEventLine(0, 'o', Buffer.from([0x61, c]), false)), 'pty output is never binary');
    }
  });

  it('make the same file as the string path, across UTF-8 sequences cut between chunks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-castline-'));
    try {
      // ASCII, then a 3-byte character cut after its first byte, then ASCII that must wait
      // for the decoder (it holds the cut sequence), then invalid bytes, then ASCII again.
      const euro = Buffer.from('€');
      const chunks: { type: 'o' | 'i'; data: Buffer }[] = [
        { type: 'o', data: Buffer.from('plain "quoted" \\ text\r\n\x1b[1mbold\x1b[0m\t\x07\x00') },
        { type: 'o', data: Buffer.concat([Buffer.from('before '), euro.subarray(0, 1)]) },
        { type: 'i', data: Buffer.from('ls -la\r') },
        { type: 'o', data: euro.subarray(1, 2) },
        { type: 'o', data: Buffer.concat([euro.subarray(2), Buffer.from(' after\n')]) },
        { type: 'o', data: Buffer.from([0x61, 0xff, 0xfe, 0x62]) },
        { type: 'o', data: Buffer.concat([Buffer.from('tail '), euro.subarray(0, 2)]) },
        { type: 'o', data: Buffer.from('x') },
        { type: 'o', data: bytes(70_000, 7) },
      ];
      for (const listening of [false, true]) {
        const path = join(dir, `r-${listening}.cast`);
        const lines: string[] = [];
        const w = new CastWriter(path, HEADER, (l) => lines.push(l));
        w.linesWanted = () => listening;
        const ref = [Buffer.from(JSON.stringify(HEADER) + '\n')];
        const decoders = { o: new StringDecoder('utf8'), i: new StringDecoder('utf8') };
        for (const c of chunks) {
          w.data(c.type, c.data);
          const text = decoders[c.type].write(c.data);
          if (text) ref.push(reference(0, c.type, text));
        }
        await w.close();
        const rest = decoders.o.end();
        if (rest) ref.push(reference(0, 'o', rest));
        // Times differ between runs: compare with the time of each written line.
        const got = readFileSync(path, 'utf8').split('\n');
        const want = Buffer.concat(ref).toString('utf8').split('\n');
        assert.equal(got.length, want.length);
        for (let i = 1; i < got.length - 1; i++) {
          const g = JSON.parse(got[i]!) as [number, string, string];
          const w2 = JSON.parse(want[i]!) as [number, string, string];
          assert.deepEqual([g[1], g[2]], [w2[1], w2[2]], `line ${i}`);
          assert.equal(got[i], JSON.stringify([g[0], w2[1], w2[2]]), `line ${i} is JSON.stringify's text`);
        }
        assert.equal(got[0], JSON.stringify(HEADER));
        // The live view gets the same lines as the file, only while it listens.
        assert.deepEqual(lines, listening ? got.slice(1, -1).map((l) => l + '\n') : []);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('record non-pty text in full and leave binary to the caller', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-castline-'));
    try {
      const path = join(dir, 't.cast');
      const w = new CastWriter(path, HEADER);
      assert.equal(w.text(Buffer.from('text with ESC \x1b[0m and a tab\t\n')), true);
      assert.equal(w.text(Buffer.from('caf\xc3\xa9 \xe2\x82', 'latin1')), true);
      assert.equal(w.text(Buffer.from('\xac!\n', 'latin1')), true);
      assert.equal(w.text(Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00])), false);
      await w.close();
      const events = readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => (JSON.parse(l) as [number, string, string]).slice(1));
      assert.deepEqual(events, [
        ['o', 'text with ESC \x1b[0m and a tab\t\n'],
        ['o', 'café '],
        ['o', '€!\n'],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
