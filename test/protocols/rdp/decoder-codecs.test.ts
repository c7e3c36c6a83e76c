// The bitmap codecs of the RDP recording decoder against hand-made vectors whose expected
// pixels follow from the specs: interleaved RLE (MS-RDPBCGR 3.1.9, every order kind),
// planar (MS-RDPEGDI 3.1.9: the worked RLE example of 3.1.9.2.3, delta rows, long runs,
// raw planes, alpha, colour loss levels, chroma subsampling), uncompressed bottom-up
// bitmaps at 8/15/16/24/32 bpp, padding and clipping; then whole 1920 × 1080 screens of
// tiles and one full-screen bitmap, every pixel checked.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rleDecompress } from '../../../src/protocols/rdp/recording/decoder/interleaved.js';
import { PlanarScratch, planarDecompress, planarRlePlane } from '../../../src/protocols/rdp/recording/decoder/planar.js';
import { RdpScreen } from '../../../src/protocols/rdp/recording/decoder/index.js';
import { RDPREC } from '../../../src/protocols/rdp/recording/records.js';
import { bitmapUpdate, bytes, fastPathPdu, interleavedEncode, le16, paletteUpdate, pixel, planarEncode, rows, type RectSpec } from './decoder-support.js';

const rle = (src: Uint8Array, width: number, height: number, bpp: number) => {
  const dst = new Uint32Array(width * height);
  const n = rleDecompress(src, 0, src.length, dst, width, height, bpp);
  return { n, px: Array.from(dst) };
};

/** A screen with one fast-path bitmap update of the given rectangles applied. */
function draw(rects: RectSpec[], w = 16, h = 8): RdpScreen {
  const s = new RdpScreen(w, h);
  assert.equal(s.apply({ type: RDPREC.FASTPATH_OUTPUT, time: 0, payload: fastPathPdu([{ code: 1, data: bitmapUpdate(rects) }]) }), true, `drawn; warnings ${JSON.stringify([...s.warnings])}`);
  assert.equal(s.warnings.size, 0, JSON.stringify([...s.warnings]));
  return s;
}

const RED = [255, 0, 0];
const GREEN = [0, 255, 0];
const BLUE = [0, 0, 255];
const WHITE = [255, 255, 255];
const BLACK = [0, 0, 0];

describe('interleaved RLE (MS-RDPBCGR 3.1.9)', () => {
  it('colour image, foreground run, background runs (with the inserted foreground pixel), lite set-fg run, white and black', () => {
    // 16 bpp, 4 × 3, scanlines as sent (bottom-up).
    const src = bytes(
      0x82, le16(0x1234), le16(0x5678), // REGULAR_COLOR_IMAGE 2
      0x22, // REGULAR_FG_RUN 2: first line, so the foreground colour (white) itself
      0x03, // REGULAR_BG_RUN 3: copies the line above
      0x01, // REGULAR_BG_RUN 1 right after a background run: one foreground pixel (above ^ fg)
      0xc2, le16(0x00ff), // LITE_SET_FG_FG_RUN 2, fg = 0x00FF: above ^ fg
      0xfd, // SPECIAL_WHITE
      0xfe, // SPECIAL_BLACK
    );
    const { n, px } = rle(src, 4, 3, 16);
    assert.equal(n, 12);
    assert.deepEqual(px, [0x1234, 0x5678, 0xffff, 0xffff, 0x1234, 0x5678, 0xffff, 0x0000, 0x1234 ^ 0x00ff, 0x5678 ^ 0x00ff, 0xffff, 0x0000]);
  });

  it('foreground/background images, first line and later lines, with set-foreground (8 bpp)', () => {
    const src = bytes(
      0x41, 0xa5, // REGULAR_FGBG_IMAGE, 1 × 8 pixels, mask 10100101 (LSB first): fg where set, black elsewhere
      0xf7, le16(8), 0x0f, 0x0f, // MEGA_MEGA_SET_FGBG_IMAGE 8, fg = 0x0F, mask 00001111: above ^ fg, then above
    );
    const { n, px } = rle(src, 8, 2, 8);
    assert.equal(n, 16);
    assert.deepEqual(px, [0xff, 0, 0xff, 0, 0, 0xff, 0, 0xff, 0xf0, 0x0f, 0xf0, 0x0f, 0, 0xff, 0, 0xff]);
  });

  it('length forms: regular with an extra byte (+32, FGBG +1), lite (+16), mega-mega (u16)', () => {
    const src = bytes(
      0x60, 8, le16(0x001f), // REGULAR_COLOR_RUN, length 0 → 8 + 32 = 40
      0xf1, le16(20), // MEGA_MEGA_FG_RUN 20: above ^ white
      0xc0, 2, le16(0x0001), // LITE_SET_FG_FG_RUN, length 0 → 2 + 16 = 18, fg = 0x0001
      0x40, 1, 0x01, // REGULAR_FGBG_IMAGE, length 0 → 1 + 1 = 2, mask 01
    );
    const { n, px } = rle(src, 40, 2, 16);
    assert.equal(n, 80);
    assert.deepEqual(px.slice(0, 40), Array(40).fill(0x001f));
    assert.deepEqual(px.slice(40, 60), Array(20).fill(0x001f ^ 0xffff));
    assert.deepEqual(px.slice(60, 78), Array(18).fill(0x001f ^ 0x0001));
    assert.deepEqual(px.slice(78), [0x001f ^ 0x0001, 0x001f]);
  });

  it('dithered runs and mega-mega colour runs (24 bpp, pixels B, G, R)', () => {
    const src = bytes(0xe2, 0x33, 0x22, 0x11, 0x66, 0x55, 0x44, 0xf3, le16(4), 0xff, 0x00, 0x00);
    const { n, px } = rle(src, 4, 2, 24);
    assert.equal(n, 8);
    assert.deepEqual(px, [0x112233, 0x445566, 0x112233, 0x445566, 0x0000ff, 0x0000ff, 0x0000ff, 0x0000ff]);
  });

  it('special FGBG orders 1 and 2 (masks 0x03 and 0x05) at 15 bpp', () => {
    const { n, px } = rle(bytes(0xf9, 0xfa), 8, 2, 15);
    assert.equal(n, 16);
    assert.deepEqual(px, [0x7fff, 0x7fff, 0, 0, 0, 0, 0, 0, 0, 0x7fff, 0x7fff, 0, 0, 0, 0, 0]);
  });

  it('two background runs on the first line: the second starts with a foreground pixel', () => {
    const { n, px } = rle(bytes(0x03, 0x02, 0x63, 0x2a), 8, 1, 8);
    assert.equal(n, 8);
    assert.deepEqual(px, [0, 0, 0, 0xff, 0, 0x2a, 0x2a, 0x2a]);
  });

  it('a background run longer than a row repeats the rows above it', () => {
    // Row 0: 1 2 3; then a background run of 6 fills rows 1 and 2 with copies.
    const { n, px } = rle(bytes(0x83, 1, 2, 3, 0x06), 3, 3, 8);
    assert.equal(n, 9);
    assert.deepEqual(px, [1, 2, 3, 1, 2, 3, 1, 2, 3]);
  });

  it('malformed streams fail instead of writing outside the bitmap', () => {
    assert.equal(rle(bytes(0xa0), 4, 1, 8).n, -1, 'no order starts with 0xA0');
    assert.equal(rle(bytes(0xf5), 4, 1, 8).n, -1, '0xF5 is undefined');
    assert.equal(rle(bytes(0x65, 0x01), 4, 1, 8).n, -1, 'a run longer than the bitmap');
    assert.equal(rle(bytes(0x84, 1, 2), 4, 1, 8).n, -1, 'colour image cut short');
    assert.equal(rle(bytes(0xf3, 0x04), 4, 1, 8).n, -1, 'mega-mega length cut short');
    assert.equal(rle(bytes(0x60), 40, 1, 8).n, -1, 'extended length byte missing');
  });

  it('round trip through the reference encoder at every depth', () => {
    for (const bpp of [8, 15, 16, 24] as const) {
      const mask = bpp === 8 ? 0xff : bpp === 24 ? 0xffffff : 0xffff;
      const values = Array.from({ length: 37 * 11 }, (_, i) => (i % 13 < 6 ? 0x5a5a5a : (i * 2654435761) >>> 0) & mask);
      const { n, px } = rle(interleavedEncode(values, bpp), 37, 11, bpp);
      assert.equal(n, values.length, `${bpp} bpp`);
      assert.deepEqual(px, values, `${bpp} bpp`);
    }
  });

  it('through a bitmap update: bottom-up rows land top-down, colours converted (16 bpp RGB565)', () => {
    const data = bytes(0x84, le16(0xf800), le16(0x07e0), le16(0x001f), le16(0xffff), 0x64, le16(0x0000));
    const s = draw([{ left: 2, top: 1, width: 4, height: 2, bpp: 16, flags: 0x1, data }]);
    assert.deepEqual(rows(s, 2, 1, 4, 2), [
      [BLACK, BLACK, BLACK, BLACK],
      [RED, GREEN, BLUE, WHITE],
    ]);
  });

  it('through a bitmap update without the compression header (NO_BITMAP_COMPRESSION_HDR) at 15 and 24 bpp', () => {
    const s = draw([
      { left: 0, top: 0, width: 2, height: 1, bpp: 15, flags: 0x401, data: bytes(0x82, le16(0x7c00), le16(0x03e0)) },
      { left: 0, top: 1, width: 2, height: 1, bpp: 24, flags: 0x401, data: bytes(0x82, 0xff, 0, 0, 0x80, 0x40, 0x20) },
    ]);
    assert.deepEqual(rows(s, 0, 0, 2, 2), [
      [RED, GREEN],
      [BLUE, [0x20, 0x40, 0x80]],
    ]);
  });

  it('8 bpp goes through the palette from a palette update', () => {
    const s = new RdpScreen(4, 1, 8);
    const palette = Array.from({ length: 256 }, (_, i) => [i, 255 - i, 7]);
    s.apply({ type: RDPREC.FASTPATH_OUTPUT, time: 0, payload: fastPathPdu([{ code: 2, data: paletteUpdate(palette) }]) });
    s.apply({ type: RDPREC.FASTPATH_OUTPUT, time: 0, payload: fastPathPdu([{ code: 1, data: bitmapUpdate([{ left: 0, top: 0, width: 4, height: 1, bpp: 8, flags: 0x1, data: bytes(0x84, 0, 1, 128, 255) }]) }]) });
    assert.deepEqual(rows(s, 0, 0, 4, 1), [[[0, 255, 7], [1, 254, 7], [128, 127, 7], [255, 0, 7]]]);
    assert.equal(s.warnings.size, 0);
  });
});

describe('planar (MS-RDPEGDI 3.1.9)', () => {
  it('the worked RLE example of 3.1.9.2.3: a 6 × 3 plane', () => {
    const src = bytes(0x13, 0xff, 0x20, 0xfe, 0xfd, 0x60, 0x01, 0x7d, 0xf5, 0xc2, 0x9a, 0x38, 0x60, 0x01, 0x67, 0x8b, 0xa3, 0x78, 0xaf);
    const plane = new Uint8Array(18);
    assert.equal(planarRlePlane(src, 0, src.length, plane, 6, 3), src.length);
    // Row 1: deltas 1→-1, 125→-63, 245→-123, 194→+97, 154→+77, 56→+28 on 255 255 255 255 254 253 (mod 256).
    // Row 2: deltas 1→-1, 103→-52, 139→-70, 163→-82, 120→+60, 175→-88 on row 1.
    assert.deepEqual(Array.from(plane), [255, 255, 255, 255, 254, 253, 254, 192, 132, 96, 75, 25, 253, 140, 62, 14, 135, 193]);
  });

  it('long runs (run length fields 1 and 2) repeat the last raw value, or delta, across segments', () => {
    // Row 0: raw 9 + run 15, then run 16 + 8 = 24 more of the same value → 40 × 9.
    // Row 1: run 32 + 0 of delta 0 (no raw value yet: 0), then raw 3 (= -2) + run 7.
    const src = bytes(0x1f, 9, 0x81, 0x02, 0x17, 0x03);
    const plane = new Uint8Array(80);
    assert.equal(planarRlePlane(src, 0, src.length, plane, 40, 2), src.length);
    assert.deepEqual(Array.from(plane.subarray(0, 40)), Array(40).fill(9));
    assert.deepEqual(Array.from(plane.subarray(40)), [...Array(32).fill(9), ...Array(8).fill(7)]);
  });

  it('RLE planes, no alpha: a 3 × 2 image from its red, green and blue planes (bottom-up, deltas wrap)', () => {
    // Top row: red, green, blue; bottom row: white, white, black. Planes start with the bottom row.
    const stream = bytes(
      0x30, // RLE | NA, CLL 0 (RGB)
      0x30, 0xff, 0xff, 0x00, 0x30, 0x00, 0x02, 0x00, // R: 255 255 0, then deltas 0, +1 (255→0), 0
      0x30, 0xff, 0xff, 0x00, 0x30, 0x02, 0x00, 0x00, // G: 255 255 0, then +1 (→0), 0, 0
      0x30, 0xff, 0xff, 0x00, 0x30, 0x02, 0x02, 0x01, // B: 255 255 0, then +1, +1, -1 (0→255)
    );
    const s = draw([{ left: 1, top: 1, width: 3, height: 2, bpp: 32, flags: 0x401, data: stream }]);
    assert.deepEqual(rows(s, 1, 1, 3, 2), [
      [RED, GREEN, BLUE],
      [WHITE, WHITE, BLACK],
    ]);
  });

  it('RLE with an alpha plane first: the alpha plane is stepped over', () => {
    const stream = bytes(0x10, 0x20, 0x80, 0x40, 0x20, 0x11, 0x22, 0x20, 0x33, 0x44, 0x20, 0x55, 0x66);
    const s = draw([{ left: 0, top: 0, width: 2, height: 1, bpp: 32, flags: 0x401, data: stream }]);
    assert.deepEqual(rows(s, 0, 0, 2, 1), [[[0x11, 0x33, 0x55], [0x22, 0x44, 0x66]]]);
    assert.deepEqual(pixel(s, 0, 0)[3], 255, 'the screen stays opaque');
  });

  it('raw planes with alpha and the pad byte, behind a TS_CD_HEADER', () => {
    // 2 × 2, header 0x00: alpha, R, G, B planes of 4 bytes (bottom row first), pad.
    const stream = bytes(0x00, [9, 9, 9, 9], [1, 2, 3, 4], [5, 6, 7, 8], [10, 20, 30, 40], 0x00);
    const s = draw([{ left: 0, top: 0, width: 2, height: 2, bpp: 32, flags: 0x1, data: stream }]);
    assert.deepEqual(rows(s, 0, 0, 2, 2), [
      [[3, 7, 30], [4, 8, 40]],
      [[1, 5, 10], [2, 6, 20]],
    ]);
  });

  it('colour loss levels 1 and 3: YCoCg back to RGB (with the red/blue swap of 3.1.9.1.1)', () => {
    // CLL 1, raw, no alpha: Y 100, Co 10, Cg -20 → t = Y - Cg = 120, R = t - Co, G = Y + Cg, B = t + Co.
    // Second pixel: Y 200, Co -128, Cg 0 → R 328 clamps to 255, G 200, B 72.
    let s = draw([{ left: 0, top: 0, width: 2, height: 1, bpp: 32, flags: 0x401, data: bytes(0x21, [100, 200], [10, 0x80], [0xec, 0]) }]);
    assert.deepEqual(rows(s, 0, 0, 2, 1), [[[110, 80, 130], [255, 200, 72]]]);
    // CLL 3: chroma stored shifted right by 3; restored by << 2 as a signed byte: 5 → 20, 0x3F → 0xFC = -4.
    s = draw([{ left: 0, top: 0, width: 1, height: 1, bpp: 32, flags: 0x401, data: bytes(0x23, [50], [5], [0x3f]) }]);
    assert.deepEqual(rows(s, 0, 0, 1, 1), [[[34, 46, 74]]]);
  });

  it('chroma subsampling: each chroma sample covers 2 × 2 pixels of the (bottom-up) planes, odd sizes round up', () => {
    // 3 × 3, CLL 1 + CS, raw, no alpha: luma 9 × 100, Co plane 2 × 2 = 0 10 / 20 30, Cg 0.
    const stream = bytes(0x29, Array(9).fill(100), [0, 10, 20, 30], [0, 0, 0, 0]);
    const s = draw([{ left: 0, top: 0, width: 3, height: 3, bpp: 32, flags: 0x401, data: stream }]);
    const px = (co: number) => [100 - co, 100, 100 + co];
    assert.deepEqual(rows(s, 0, 0, 3, 3), [
      [px(20), px(20), px(30)], // plane row 2 → chroma row 1
      [px(0), px(0), px(10)], // plane row 1 → chroma row 0
      [px(0), px(0), px(10)], // plane row 0 → chroma row 0
    ]);
  });

  it('RLE planes with chroma subsampling use the subsampled size', () => {
    // Luma 2 × 2 (row 0: two raw 100s, row 1: two zero deltas), Co and Cg 1 × 1 (one raw 0).
    const stream = bytes(0x39, 0x20, 100, 100, 0x20, 0, 0, 0x10, 0, 0x10, 0);
    const s = draw([{ left: 0, top: 0, width: 2, height: 2, bpp: 32, flags: 0x401, data: stream }]);
    assert.deepEqual(rows(s, 0, 0, 2, 2), [
      [[100, 100, 100], [100, 100, 100]],
      [[100, 100, 100], [100, 100, 100]],
    ]);
  });

  it('malformed streams are rejected', () => {
    const out = new Uint32Array(16);
    const sc = new PlanarScratch();
    const ok = (b: Uint8Array, w: number, h: number) => planarDecompress(b, 0, b.length, w, h, out, sc);
    assert.equal(ok(bytes(0x28, [1, 2, 3]), 1, 1), false, 'chroma subsampling without a colour loss level');
    assert.equal(ok(bytes(0x20, [1, 2]), 1, 1), false, 'raw planes cut short');
    assert.equal(ok(bytes(0x30, 0x50, 1, 2, 3, 4, 5), 2, 1), false, 'an RLE row longer than the width');
    assert.equal(ok(bytes(0x30, 0x10, 1), 1, 1), false, 'RLE planes missing');
    assert.equal(ok(bytes(), 1, 1), false, 'empty');
  });

  it('round trip through the reference encoder', () => {
    const w = 45;
    const h = 17;
    const rgba = new Uint8Array(w * h * 4);
    for (let i = 0; i < w * h; i++) rgba.set([(i * 7) & 0xff, i % 5 ? 200 : 13, (i >> 3) & 0xff, 255], i * 4);
    const s = draw([{ left: 0, top: 0, width: w, height: h, bpp: 32, flags: 0x401, data: planarEncode(rgba, w, h) }], w, h);
    assert.deepEqual(Array.from(s.rgba), Array.from(rgba));
  });
});

describe('uncompressed bitmaps: bottom-up, rows padded to 4 bytes', () => {
  it('24 bpp B, G, R with 3 bytes of padding per row', () => {
    const data = bytes([0xff, 0xff, 0xff, 0, 0, 0, 0x10, 0x20, 0x30], [0, 0, 0], [0, 0, 0xff, 0, 0xff, 0, 0xff, 0, 0], [0, 0, 0]);
    const s = draw([{ left: 0, top: 0, width: 3, height: 2, bpp: 24, data }]);
    assert.deepEqual(rows(s, 0, 0, 3, 2), [
      [RED, GREEN, BLUE],
      [WHITE, BLACK, [0x30, 0x20, 0x10]],
    ]);
  });

  it('16 bpp (RGB565) and 15 bpp (RGB555), 5/6-bit channels widened to full range', () => {
    const s = draw([
      { left: 0, top: 0, width: 3, height: 1, bpp: 16, data: bytes(le16(0xf800), le16(0x07e0), le16(0x8410), 0, 0) },
      { left: 0, top: 1, width: 2, height: 1, bpp: 15, data: bytes(le16(0x7c00), le16(0x4210)) },
    ]);
    assert.deepEqual(rows(s, 0, 0, 3, 1), [[RED, GREEN, [0x84, 0x82, 0x84]]]);
    assert.deepEqual(rows(s, 0, 1, 2, 1), [[RED, [0x84, 0x84, 0x84]]]);
  });

  it('32 bpp BGRX: the fourth byte does not make the screen transparent', () => {
    const s = draw([{ left: 0, top: 0, width: 2, height: 2, bpp: 32, data: bytes([1, 2, 3, 0], [4, 5, 6, 0], [7, 8, 9, 0x80], [10, 11, 12, 0xff]) }]);
    assert.deepEqual(rows(s, 0, 0, 2, 2), [
      [[9, 8, 7], [12, 11, 10]],
      [[3, 2, 1], [6, 5, 4]],
    ]);
    assert.equal(pixel(s, 0, 0)[3], 255);
  });

  it('rows without padding when the data is exactly that long', () => {
    const s = draw([{ left: 0, top: 0, width: 3, height: 2, bpp: 24, data: bytes([0, 0, 0xff, 0, 0xff, 0, 0xff, 0, 0], [0xff, 0, 0, 0xff, 0, 0, 0xff, 0, 0]) }]);
    assert.deepEqual(rows(s, 0, 0, 3, 2), [
      [BLUE, BLUE, BLUE],
      [RED, GREEN, BLUE],
    ]);
  });

  it('a bitmap wider than its destination (padded) draws only the destination; destinations clip at the screen edge', () => {
    const data = bytes([0, 0, 0xff, 0, 0xff, 0, 0xff, 0, 0, 0xff, 0xff, 0xff]);
    let s = draw([{ left: 0, top: 0, width: 4, height: 1, right: 2, bottom: 0, bpp: 24, data }], 8, 2);
    assert.deepEqual(rows(s, 0, 0, 4, 1), [[RED, GREEN, BLUE, BLACK]]);
    s = draw([{ left: 6, top: 1, width: 4, height: 1, bpp: 24, data }], 8, 2);
    assert.deepEqual(rows(s, 5, 1, 3, 1), [[BLACK, RED, GREEN]]);
  });

  it('a bitmap too short for its size, or of an unknown depth, is skipped and counted', () => {
    const s = new RdpScreen(8, 8);
    const update = bitmapUpdate([
      { left: 0, top: 0, width: 4, height: 4, bpp: 24, data: bytes(1, 2, 3) },
      { left: 0, top: 0, width: 1, height: 1, bpp: 12, data: bytes(1, 2, 3, 4) },
      { left: 0, top: 0, width: 1, height: 1, bpp: 24, data: bytes(0xff, 0xff, 0xff, 0) },
    ]);
    assert.equal(s.apply({ type: RDPREC.FASTPATH_OUTPUT, time: 0, payload: fastPathPdu([{ code: 1, data: update }]) }), true, 'the good rectangle still draws');
    assert.equal(s.warnings.get('bad-bitmap'), 2);
    assert.deepEqual(pixel(s, 0, 0), [255, 255, 255, 255]);
    assert.deepEqual(pixel(s, 1, 1), [0, 0, 0, 255]);
  });
});

describe('whole screens', () => {
  /** The test picture: stripes that change every 8 columns and 4 rows, blue only in each tile's first 8 rows. */
  const picture = (x: number, y: number): [number, number, number] => {
    const v = ((x >> 3) ^ (y >> 2)) & 0xff;
    return [v, (v * 3) & 0xff, y % 64 < 8 ? 255 : 0];
  };

  /** A 1920 × 1080 screen worth of 64 × 64 tiles (what xrdp and FreeRDP send), as fast-path PDUs with fragments. */
  function fullScreen(encode: (rgba: Uint8Array, w: number, h: number) => RectSpec): Uint8Array[] {
    const pdus: Uint8Array[] = [];
    for (let ty = 0; ty < 1080; ty += 64) {
      for (let tx = 0; tx < 1920; tx += 64) {
        const w = Math.min(64, 1920 - tx);
        const h = Math.min(64, 1080 - ty);
        const rgba = new Uint8Array(w * h * 4);
        for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgba.set([...picture(tx + x, ty + y), 255], (y * w + x) * 4);
        pdus.push(fastPathPdu([{ code: 1, data: bitmapUpdate([{ ...encode(rgba, w, h), left: tx, top: ty }]) }]));
      }
    }
    return pdus;
  }

  /** Decodes the PDUs onto a 1920 × 1080 screen and compares every pixel with `expect`. */
  function decodeAll(label: string, pdus: Uint8Array[], expect: (x: number, y: number) => number[]): void {
    const s = new RdpScreen(1920, 1080);
    for (const payload of pdus) s.apply({ type: RDPREC.FASTPATH_OUTPUT, time: 0, payload });
    assert.equal(s.warnings.size, 0, `${label}: ${JSON.stringify([...s.warnings])}`);
    let wrong = 0;
    let first = '';
    for (let y = 0; y < 1080; y++)
      for (let x = 0; x < 1920; x++) {
        const want = [...expect(x, y), 255];
        const o = (y * 1920 + x) * 4;
        if (s.rgba[o] !== want[0] || s.rgba[o + 1] !== want[1] || s.rgba[o + 2] !== want[2] || s.rgba[o + 3] !== 255) {
          if (!wrong++) first = `${x},${y}: ${JSON.stringify(pixel(s, x, y))} instead of ${JSON.stringify(want)}`;
        }
      }
    assert.equal(wrong, 0, `${label}: ${wrong} wrong pixels, the first at ${first}`);
  }

  it('a full screen of planar (32 bpp) tiles decodes exactly', () => {
    decodeAll('planar', fullScreen((rgba, w, h) => ({ left: 0, top: 0, width: w, height: h, bpp: 32, flags: 0x401, data: planarEncode(rgba, w, h) })), picture);
  });

  it('a full screen of interleaved RLE (16 bpp) tiles, and one single 1920 × 1080 RLE bitmap in fragments', () => {
    const pdus = fullScreen((rgba, w, h) => {
      const values: number[] = [];
      for (let y = h - 1; y >= 0; y--) for (let x = 0; x < w; x++) values.push(((rgba[(y * w + x) * 4]! >> 3) << 11) | ((rgba[(y * w + x) * 4 + 1]! >> 2) << 5));
      return { left: 0, top: 0, width: w, height: h, bpp: 16, flags: 0x401, data: interleavedEncode(values, 16) };
    });
    // RGB565 without blue: 5 and 6 bit channels widened by repeating their top bits.
    decodeAll('interleaved', pdus, (x, y) => {
      const [r, g] = picture(x, y);
      return [((r >> 3) << 3) | (r >> 5), ((g >> 2) << 2) | (g >> 6), 0];
    });
    // One bitmap for the whole screen, as a real encoder would make it fit 64 KiB: the first
    // row as colour runs (vertical stripes), every 8th row a foreground/background image of
    // background bits, the others a pixel and a background run (copy of the row above).
    const parts: number[] = [];
    for (let k = 0; k < 120; k++) parts.push(0x70, ...le16(k & 1 ? 0xf800 : 0x001f));
    for (let y = 1; y < 1080; y++) {
      if (y % 8 === 0) parts.push(0xf2, ...le16(1920), ...Array(240).fill(0));
      else parts.push(0x81, ...le16(0x001f), 0xf0, ...le16(1919));
    }
    const one = bitmapUpdate([{ left: 0, top: 0, width: 1920, height: 1080, bpp: 16, flags: 0x401, data: Uint8Array.from(parts) }]);
    assert.ok(one.length < 65536 + 22, `fits the 16-bit bitmapLength (${one.length})`);
    const s = new RdpScreen(1920, 1080);
    const chunks: Uint8Array[] = [];
    for (let o = 0; o < one.length; o += 16000) chunks.push(fastPathPdu([{ code: 1, data: one.subarray(o, o + 16000), frag: o === 0 ? 2 : o + 16000 >= one.length ? 1 : 3 }]));
    for (const payload of chunks) s.apply({ type: RDPREC.FASTPATH_OUTPUT, time: 0, payload });
    assert.equal(s.warnings.size, 0, JSON.stringify([...s.warnings]));
    assert.deepEqual(pixel(s, 0, 0), [0, 0, 255, 255]);
    assert.deepEqual(pixel(s, 16, 1079), [255, 0, 0, 255]);
  });
});
