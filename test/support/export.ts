// Reading what `gatehouse recording export` writes (and, re-exported, making sure the CLI
// under test is built from the current sources).
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';

/** The CLI runs dist/: built from the current sources (see ./built.ts). */
export { ensureBuilt } from './built.js';

/** Decodes an 8-bit RGBA PNG with unfiltered rows (what the exporter writes), checking every chunk CRC. */
export function decodePng(file: Buffer): { width: number; height: number; rgba: Buffer } {
  assert.deepEqual([...file.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  for (let o = 8; o < file.length; ) {
    const len = file.readUInt32BE(o);
    const type = file.toString('latin1', o + 4, o + 8);
    const data = file.subarray(o + 8, o + 8 + len);
    assert.equal(file.readUInt32BE(o + 8 + len), crc32(file.subarray(o + 4, o + 8 + len)), `${type} CRC`);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.deepEqual([...data.subarray(8)], [8, 6, 0, 0, 0], 'RGBA, 8 bits, no interlace');
    } else if (type === 'IDAT') idat.push(data);
    o += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const rgba = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    assert.equal(raw[y * (width * 4 + 1)], 0, 'filter type 0');
    raw.copy(rgba, y * width * 4, y * (width * 4 + 1) + 1, (y + 1) * (width * 4 + 1));
  }
  return { width, height, rgba };
}

function crc32(b: Buffer): number {
  let c = ~0;
  for (const byte of b) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

