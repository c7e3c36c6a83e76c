// The recording decoder (keyframes, live view, player) draws a compressed bitmap only when its
// data decodes to exactly width × height pixels (decoder/bitmap.ts): a header claiming
// 2048 × 2048 with no data, or a stream that stops short, is skipped and counted as a bad
// bitmap instead of costing a whole bitmap's work and drawing a partial picture. The densest
// valid streams still draw.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compressedMayFill } from '../../../src/protocols/rdp/recording/decoder/bitmap.js';
import { RdpScreen } from '../../../src/protocols/rdp/recording/decoder/index.js';
import { RDPREC } from '../../../src/protocols/rdp/recording/records.js';
import { bitmapUpdate, bytes, fastPathPdu, le16, pixel, type RectSpec } from './decoder-support.js';

const fp = (rects: RectSpec[]) => ({ type: RDPREC.FASTPATH_OUTPUT, time: 0, payload: fastPathPdu([{ code: 1, data: bitmapUpdate(rects) }]) });

/** Interleaved RLE (16 bpp) of n pixels of one colour: MEGA_MEGA_COLOR_RUNs, then a regular colour run. */
function solidRle16(n: number, colour: number): Uint8Array {
  const parts: number[] = [];
  for (; n >= 0xffff; n -= 0xffff) parts.push(0xf3, 0xff, 0xff, ...le16(colour));
  if (n >= 32) parts.push(0x60, n - 32, ...le16(colour));
  else if (n) parts.push(0x60 | n, ...le16(colour));
  return Uint8Array.from(parts);
}

/** A 64 × 64 screen painted green (RGB565 0x07e0) by one uncompressed bitmap. */
function greenScreen(): RdpScreen {
  const s = new RdpScreen(64, 64);
  const data = new Uint8Array(64 * 64 * 2);
  for (let i = 0; i < data.length; i += 2) data.set(le16(0x07e0), i);
  assert.equal(s.apply(fp([{ left: 0, top: 0, width: 64, height: 64, bpp: 16, data }])), true);
  return s;
}

const GREEN = [0, 255, 0, 255];

/** Every pixel of the screen is still green. */
function allGreen(s: RdpScreen): boolean {
  for (let y = 0; y < s.height; y++) for (let x = 0; x < s.width; x++) if (pixel(s, x, y).join() !== GREEN.join()) return false;
  return true;
}

describe('recording decoder: compressed bitmaps are drawn only when they decode whole', () => {
  const empty: RectSpec = { left: 0, top: 0, right: 2046, bottom: 2047, width: 2048, height: 2048, bpp: 16, flags: 0x401, data: new Uint8Array(0) };

  it('a 2048 × 2048 rectangle with no data is skipped and counted, alone or 1,819 to a PDU', () => {
    let s = greenScreen();
    s.apply(fp([empty]));
    assert.equal(s.warnings.get('bad-bitmap'), 1);
    assert.ok(allGreen(s), 'nothing drawn');
    s = greenScreen();
    const many = fp(Array.from({ length: 1819 }, () => empty));
    assert.ok(many.payload.length <= 0x7fff);
    s.apply(many);
    assert.equal(s.warnings.get('bad-bitmap'), 1819);
    assert.ok(allGreen(s));
    // The same behind a TS_CD_HEADER.
    s = greenScreen();
    s.apply(fp([{ ...empty, flags: 0x1 }]));
    assert.equal(s.warnings.get('bad-bitmap'), 1);
  });

  it('a stream that stops short (valid orders, fewer pixels than the bitmap) is skipped, not drawn in part', () => {
    const s = greenScreen();
    // 63 of the 65 runs a solid 2048 × 2048 bitmap takes.
    s.apply(fp([{ ...empty, data: solidRle16(63 * 0xffff, 0xf800) }]));
    // A 16 × 4 bitmap whose stream covers its first (bottom) two rows only.
    s.apply(fp([{ left: 0, top: 0, width: 16, height: 4, bpp: 16, flags: 0x401, data: solidRle16(32, 0xf800) }]));
    // The same with a compression header.
    s.apply(fp([{ left: 0, top: 0, width: 16, height: 4, bpp: 16, flags: 0x1, data: solidRle16(32, 0xf800) }]));
    assert.equal(s.warnings.get('bad-bitmap'), 3);
    assert.ok(allGreen(s), 'no partial picture');
  });

  it('the densest whole streams still draw: solid RLE, mega-mega dithered runs at 8 bpp, planar long runs', () => {
    const s = greenScreen();
    s.apply(fp([{ ...empty, data: solidRle16(2048 * 2048, 0xf800) }]));
    assert.equal(s.warnings.size, 0, JSON.stringify([...s.warnings]));
    assert.deepEqual(pixel(s, 63, 63), [255, 0, 0, 255]);
    // Two MEGA_MEGA_DITHERED_RUNs: 10 bytes for 2 × 131,070 pixels, the most pixels per byte there are.
    const dithered = bytes(0xf8, le16(0xffff), 1, 2, 0xf8, le16(0xffff), 1, 2);
    assert.ok(compressedMayFill(dithered.length, 1020, 257, 8));
    assert.ok(!compressedMayFill(dithered.length - 1, 1020, 257, 8));
    s.apply(fp([{ left: 0, top: 0, width: 1020, height: 257, bpp: 8, flags: 0x401, data: dithered }]));
    // Planar, RLE, no alpha: each row of each plane one control byte, a run of 47 (32 + 15).
    const planar = bytes(0x30, Array(3 * 5).fill(0xf2));
    assert.ok(compressedMayFill(planar.length, 47, 5, 32));
    s.apply(fp([{ left: 0, top: 0, width: 47, height: 5, bpp: 32, flags: 0x401, data: planar }]));
    assert.equal(s.warnings.size, 0, JSON.stringify([...s.warnings]));
    assert.deepEqual(pixel(s, 0, 0), [0, 0, 0, 255]);
  });
});
