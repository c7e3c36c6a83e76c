// The browser door's bitmap width fix (src/protocols/rdp-web/bitmap-widths.ts), without
// sockets: fast-path bitmap updates whose bitmap is wider than its destination (as xrdp pads
// them) come out as uncompressed bitmaps exactly as wide as the destination, and our own
// decoder draws the rewritten PDUs exactly as it draws the originals; everything else passes
// as the same bytes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BitmapWidthFix } from '../../src/protocols/rdp-web/bitmap-widths.js';
import { applyBitmapUpdate, DecodeScratch, type BitmapRect } from '../../src/protocols/rdp/recording/decoder/bitmap.js';
import { Palette } from '../../src/protocols/rdp/recording/decoder/colors.js';
import { UpdateParser } from '../../src/protocols/rdp/recording/decoder/updates.js';
import { MAX_SCREEN_PIXELS } from '../../src/protocols/rdp/recording/desktop-size.js';

/** A rectangle as the decoder reads it (bitmap.ts), holding its own bitmap data. */
type Rect = Omit<BitmapRect, 'dataStart' | 'dataEnd'> & { data: Buffer };

function rectBytes(r: Rect): Buffer {
  const h = Buffer.alloc(18);
  [r.left, r.top, r.right, r.bottom, r.width, r.height, r.bpp, r.flags, r.data.length].forEach((v, i) => h.writeUInt16LE(v, 2 * i));
  return Buffer.concat([h, r.data]);
}

function bitmapBody(rects: Rect[]): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16LE(1, 0);
  h.writeUInt16LE(rects.length, 2);
  return Buffer.concat([h, ...rects.map(rectBytes)]);
}

/** One fast-path output PDU holding the given TS_FP_UPDATEs. */
function pdu(...updates: Buffer[]): Buffer {
  const body = Buffer.concat(updates);
  const length = 3 + body.length;
  return Buffer.concat([Buffer.from([0, 0x80 | (length >> 8), length & 0xff]), body]);
}

function fpUpdate(code: number, fragmentation: number, body: Buffer): Buffer {
  const h = Buffer.alloc(3);
  h[0] = code | (fragmentation << 4);
  h.writeUInt16LE(body.length, 1);
  return Buffer.concat([h, body]);
}

/** Our decoder's picture of a sequence of fast-path PDUs. */
function draw(pdus: Buffer[], width = 1100, height = 80): Uint32Array {
  const fb = { px: new Uint32Array(width * height), width, height };
  const palette = new Palette();
  const scratch = new DecodeScratch();
  const parser = new UpdateParser({
    bitmap: (d, off, end) => void applyBitmapUpdate(d, off, end, fb, palette, scratch, (k) => assert.fail(`decoder warned: ${k}`)),
    palette: () => undefined,
    pointer: () => undefined,
    warn: (k) => assert.fail(`parser warned: ${k}`),
  });
  for (const p of pdus) parser.fastPath(p);
  return fb.px;
}

/** Rects of the rewritten PDUs (each a single, uncompressed bitmap update). */
function rectsOf(pdus: Buffer[]): { left: number; top: number; right: number; bottom: number; width: number; height: number; flags: number; length: number }[] {
  const out = [];
  for (const p of pdus) {
    assert.ok(p.length <= 0x7fff, 'a fast-path PDU fits its length field');
    assert.equal(((p[1]! & 0x7f) << 8) | p[2]!, p.length);
    let o = 3;
    while (o < p.length) {
      assert.equal(p[o]! & 0xf0, 0, 'single fragment, not compressed');
      const size = p.readUInt16LE(o + 1);
      const body = p.subarray(o + 3, o + 3 + size);
      let q = 4;
      for (let i = 0; i < body.readUInt16LE(2); i++) {
        const v = (k: number) => body.readUInt16LE(q + 2 * k);
        out.push({ left: v(0), top: v(1), right: v(2), bottom: v(3), width: v(4), height: v(5), flags: v(7), length: v(8) });
        q += 18 + v(8);
      }
      o += 3 + size;
    }
  }
  return out;
}

/** An uncompressed 16 bpp bitmap, bottom-up rows padded to 4 bytes, pixel (x, y) top-down = f(x, y). */
function raw16(width: number, height: number, f: (x: number, y: number) => number): Buffer {
  const row = (width * 2 + 3) & ~3;
  const b = Buffer.alloc(row * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) b.writeUInt16LE(f(x, y) & 0xffff, (height - 1 - y) * row + 2 * x);
  return b;
}

describe('browser door: bitmaps wider than their destination', () => {
  it('an uncompressed bitmap padded to a multiple of 4 pixels becomes one exactly as wide as its destination, drawn the same', () => {
    const original = pdu(fpUpdate(1, 0, bitmapBody([{ left: 10, top: 5, right: 12, bottom: 6, width: 4, height: 2, bpp: 16, flags: 0, data: raw16(4, 2, (x, y) => 0x100 * y + x + 1) }])));
    const fix = new BitmapWidthFix();
    const out = fix.frame(original);
    assert.notDeepEqual(out, [original]);
    assert.deepEqual(rectsOf(out), [{ left: 10, top: 5, right: 12, bottom: 6, width: 3, height: 2, flags: 0, length: 16 }]);
    assert.deepEqual(draw(out), draw([original]));
    assert.equal(fix.rewritten, 1);
  });

  it('an RLE-compressed bitmap (16 bpp, xrdp\'s form) is decoded and sent uncompressed, drawn the same', () => {
    // Interleaved RLE: a colour run of 7 pixels of 0x1234, then 7 of 0xf800 (bottom row first), in a 7×2 bitmap shown 5 wide.
    const rle = Buffer.from([0x60 | 7, 0x34, 0x12, 0x60 | 7, 0x00, 0xf8]);
    const cd = Buffer.alloc(8);
    cd.writeUInt16LE(rle.length, 2);
    cd.writeUInt16LE(14, 4);
    cd.writeUInt16LE(28, 6);
    const original = pdu(fpUpdate(1, 0, bitmapBody([{ left: 100, top: 20, right: 104, bottom: 21, width: 7, height: 2, bpp: 16, flags: 1, data: Buffer.concat([cd, rle]) }])));
    const out = new BitmapWidthFix().frame(original);
    assert.deepEqual(rectsOf(out), [{ left: 100, top: 20, right: 104, bottom: 21, width: 5, height: 2, flags: 0, length: 24 }]);
    const px = draw(out);
    assert.deepEqual(px, draw([original]));
    assert.notEqual(px[20 * 1100 + 100], px[21 * 1100 + 100], 'two different rows');
  });

  it('a large bitmap in fragments is reassembled and cut into bands that fit fast-path PDUs', () => {
    const body = bitmapBody([{ left: 3, top: 1, right: 1003, bottom: 30, width: 1004, height: 30, bpp: 16, flags: 0, data: raw16(1004, 30, (x, y) => (x * 7 + y * 13) & 0xffff) }]);
    const parts = [body.subarray(0, 25_000), body.subarray(25_000, 50_000), body.subarray(50_000)];
    const original = [pdu(fpUpdate(1, 2, parts[0]!)), pdu(fpUpdate(1, 3, parts[1]!)), pdu(fpUpdate(1, 1, parts[2]!))];
    const fix = new BitmapWidthFix();
    const out = original.flatMap((p) => fix.frame(p));
    const rects = rectsOf(out);
    assert.ok(rects.length > 1, 'more than one band');
    assert.deepEqual(
      rects.map((r) => [r.top, r.bottom]),
      rects.map((_, i) => [1 + i * rects[0]!.height, Math.min(30, (i + 1) * rects[0]!.height)]),
      'consecutive bands of whole rows',
    );
    assert.ok(rects.every((r) => r.width === 1001 && r.left === 3 && r.right === 1003));
    assert.deepEqual(draw(out), draw(original));
  });

  it('a slow-path bitmap Update PDU (how xrdp sends them, no compression header) is rewritten with its headers, drawn the same', () => {
    // xrdp: RLE with NO_BITMAP_COMPRESSION_HDR (0x401), a 302-pixel window padded to 304.
    // Two MEGA_MEGA_COLOR_RUNs of 304 pixels: the bottom row 0x1234, the top row 0xf800.
    const rle = Buffer.from([0xf3, 0x30, 0x01, 0x34, 0x12, 0xf3, 0x30, 0x01, 0x00, 0xf8]);
    const body = bitmapBody([{ left: 600, top: 30, right: 901, bottom: 31, width: 304, height: 2, bpp: 16, flags: 0x401, data: rle }]);
    const header = Buffer.alloc(18);
    header.writeUInt16LE(18 + body.length, 0);
    header.writeUInt16LE(0x17, 2); // PDUTYPE_DATAPDU, version 1
    header.writeUInt16LE(1002, 4);
    header.writeUInt32LE(0x103ea, 6);
    header[11] = 1; // streamId
    header.writeUInt16LE(18 + body.length - 14, 12);
    header[14] = 0x02; // PDUTYPE2_UPDATE
    const data = Buffer.concat([header, body]);
    const fix = new BitmapWidthFix();
    const out = fix.slowPath(data);
    assert.ok(out, 'rewritten');
    assert.equal(out.length, 1);
    assert.deepEqual(out[0]!.subarray(2, 12), data.subarray(2, 12), 'the same share headers');
    assert.equal(out[0]!.readUInt16LE(0), out[0]!.length);
    assert.equal(out[0]!.readUInt16LE(12), out[0]!.length - 14);
    const asFastPath = (d: Buffer) => pdu(fpUpdate(1, 0, d.subarray(18)));
    const rects = rectsOf([asFastPath(out[0]!)]);
    assert.deepEqual(rects.map((r) => [r.left, r.right, r.width, r.height, r.flags]), [[600, 901, 302, 2, 0]]);
    assert.deepEqual(draw([asFastPath(out[0]!)]), draw([asFastPath(data)]));
    assert.equal(fix.slowPath(Buffer.concat([header.subarray(0, 14), Buffer.from([0x1f]), header.subarray(15), body])), null, 'another data PDU type passes');
  });

  it('a large slow-path bitmap is cut into Update PDUs whose MCS length fits PER (under 16 KiB)', () => {
    const body = bitmapBody([{ left: 0, top: 0, right: 300, bottom: 99, width: 304, height: 100, bpp: 16, flags: 0, data: raw16(304, 100, (x, y) => x * 3 + y) }]);
    const header = Buffer.alloc(18);
    header.writeUInt16LE(18 + body.length, 0);
    header.writeUInt16LE(0x17, 2);
    header[14] = 0x02;
    const out = new BitmapWidthFix().slowPath(Buffer.concat([header, body]))!;
    assert.ok(out.length > 1);
    assert.ok(out.every((d) => d.length < 0x4000 - 16));
    const drawBodies = (bodies: Buffer[]) => {
      const fb = { px: new Uint32Array(400 * 120), width: 400, height: 120 };
      for (const b of bodies) applyBitmapUpdate(b, 0, b.length, fb, new Palette(), new DecodeScratch(), (k) => assert.fail(k));
      return fb.px;
    };
    assert.deepEqual(drawBodies(out.map((d) => d.subarray(18))), drawBodies([body]));
  });

  it('bitmaps as wide as their destination, other updates and what does not parse pass as the same bytes', () => {
    const fix = new BitmapWidthFix();
    const exact = pdu(fpUpdate(1, 0, bitmapBody([{ left: 0, top: 0, right: 3, bottom: 1, width: 4, height: 2, bpp: 16, flags: 0, data: raw16(4, 2, () => 7) }])));
    const pointer = pdu(fpUpdate(5, 0, Buffer.alloc(0)));
    const junk = Buffer.from([0x00, 0x05, 0x01, 0xff]);
    for (const p of [exact, pointer, junk]) {
      const out = fix.frame(p);
      assert.equal(out.length, 1);
      assert.equal(out[0], p);
    }
    assert.equal(fix.rewritten, 0);
  });

  it('a padded bitmap next to other updates in one PDU keeps their order', () => {
    const pointer = fpUpdate(6, 0, Buffer.alloc(0));
    const padded = fpUpdate(1, 0, bitmapBody([{ left: 0, top: 0, right: 0, bottom: 0, width: 2, height: 1, bpp: 16, flags: 0, data: raw16(2, 1, () => 9) }]));
    const out = new BitmapWidthFix().frame(pdu(pointer, padded, pointer));
    assert.equal(out.length, 1);
    const codes: number[] = [];
    for (let o = 3; o < out[0]!.length; o += 3 + out[0]!.readUInt16LE(o + 1)) codes.push(out[0]![o]! & 0x0f);
    assert.deepEqual(codes, [6, 1, 6]);
  });
});

/** A slow-path Share Data PDU (Update, bitmap) around a TS_UPDATE_BITMAP_DATA, as xrdp sends them. */
function slowPathUpdate(body: Buffer): Buffer {
  const header = Buffer.alloc(18);
  header.writeUInt16LE(18 + body.length, 0);
  header.writeUInt16LE(0x17, 2); // PDUTYPE_DATAPDU, version 1
  header.writeUInt16LE(1002, 4);
  header.writeUInt32LE(0x103ea, 6);
  header[11] = 1;
  header.writeUInt16LE(18 + body.length - 14, 12);
  header[14] = 0x02; // PDUTYPE2_UPDATE
  return Buffer.concat([header, body]);
}

/** Interleaved RLE (16 bpp) of n pixels of one colour: MEGA_MEGA_COLOR_RUNs of up to 65535, then a regular colour run for the rest. */
function solidRle16(n: number, colour: number): Buffer {
  const parts: number[] = [];
  for (; n >= 0xffff; n -= 0xffff) parts.push(0xf3, 0xff, 0xff, colour & 0xff, colour >> 8);
  if (n >= 32) parts.push(0x60, n - 32, colour & 0xff, colour >> 8);
  else if (n) parts.push(0x60 | n, colour & 0xff, colour >> 8);
  return Buffer.from(parts);
}

const total = (out: Buffer[]) => out.reduce((n, b) => n + b.length, 0);

describe('browser door: rectangles whose data does not make their declared bitmap', () => {
  // The review's PDU: dest 0,0–2046,2047, a 2048 × 2048 16 bpp bitmap, RLE without header, no data.
  const empty: Rect = { left: 0, top: 0, right: 2046, bottom: 2047, width: 2048, height: 2048, bpp: 16, flags: 0x401, data: Buffer.alloc(0) };

  it('a compressed 2048 × 2048 rectangle with no data (a 28-byte PDU) passes unchanged, fast path and slow path', () => {
    const fix = new BitmapWidthFix();
    const original = pdu(fpUpdate(1, 0, bitmapBody([empty])));
    assert.equal(original.length, 28);
    const out = fix.frame(original);
    assert.ok(total(out) <= 4 * original.length, `${total(out)} bytes out of a ${original.length}-byte PDU`);
    assert.deepEqual(out, [original]);
    assert.equal(fix.slowPath(slowPathUpdate(bitmapBody([empty]))), null, 'the slow-path PDU passes as it is');
    // The same with a TS_CD_HEADER claiming no body.
    const withHeader: Rect = { ...empty, flags: 0x1, data: Buffer.alloc(8) };
    const original2 = pdu(fpUpdate(1, 0, bitmapBody([withHeader])));
    assert.deepEqual(fix.frame(original2), [original2]);
    assert.equal(fix.slowPath(slowPathUpdate(bitmapBody([withHeader]))), null);
    assert.equal(fix.rewritten, 0);
  });

  it('a fast-path PDU full of them (1,819 in 32 KiB), and a slow-path one, pass unchanged', () => {
    const fix = new BitmapWidthFix();
    const many = pdu(fpUpdate(1, 0, bitmapBody(Array.from({ length: 1819 }, () => empty))));
    assert.ok(many.length <= 0x7fff, `${many.length} bytes`);
    const out = fix.frame(many);
    assert.ok(total(out) <= 4 * many.length, `${total(out)} bytes out of a ${many.length}-byte PDU`);
    assert.deepEqual(out, [many]);
    assert.equal(fix.slowPath(slowPathUpdate(bitmapBody(Array.from({ length: 900 }, () => empty)))), null);
    assert.equal(fix.rewritten, 0);
  });

  it('a truncated compressed stream (valid orders, fewer pixels than the bitmap) passes unchanged', () => {
    const fix = new BitmapWidthFix();
    // 63 of the 65 runs a solid 2048 × 2048 bitmap takes: 4,128,705 of 4,194,304 pixels.
    const cut: Rect = { ...empty, data: solidRle16(63 * 0xffff, 0x1234) };
    const big = pdu(fpUpdate(1, 0, bitmapBody([cut])));
    const out = fix.frame(big);
    assert.ok(total(out) <= 4 * big.length, `${total(out)} bytes out of a ${big.length}-byte PDU`);
    assert.deepEqual(out, [big]);
    assert.equal(fix.slowPath(slowPathUpdate(bitmapBody([cut]))), null);
    // A small one: the 7 × 2 bitmap of the RLE test above with only its first row.
    const small = pdu(fpUpdate(1, 0, bitmapBody([{ left: 100, top: 20, right: 104, bottom: 21, width: 7, height: 2, bpp: 16, flags: 0x401, data: Buffer.from([0x60 | 7, 0x34, 0x12]) }])));
    assert.deepEqual(fix.frame(small), [small]);
    assert.equal(fix.rewritten, 0);
  });

  it('whole streams that expand a lot: about one screen of pixels is decoded per PDU, the rest passes unchanged', () => {
    // A solid 2048 × 2048 bitmap is 324 bytes of RLE; unpacked and cut to its destination, 8 MiB.
    const solid: Rect = { ...empty, data: solidRle16(2048 * 2048, 0x07e0) };
    for (const path of ['fast', 'slow'] as const) {
      const fix = new BitmapWidthFix();
      const body = bitmapBody([solid, solid, solid, solid]);
      const input = path === 'fast' ? pdu(fpUpdate(1, 0, body)) : slowPathUpdate(body);
      const out = path === 'fast' ? fix.frame(input) : fix.slowPath(input)!;
      assert.ok(out, `${path} path: rewritten`);
      assert.equal(fix.rewritten, 2, `${path} path: two of the four fit the budget`);
      assert.ok(total(out) <= input.length + MAX_SCREEN_PIXELS * 2 + 64 * out.length, `${path} path: ${total(out)} bytes`);
      const rects = path === 'fast' ? rectsOf(out) : rectsOf(out.map((d) => pdu(fpUpdate(1, 0, d.subarray(18)))));
      assert.deepEqual(
        rects.filter((r) => r.flags !== 0).map((r) => [r.width, r.height, r.length]),
        [[2048, 2048, solid.data.length], [2048, 2048, solid.data.length]],
        `${path} path: the others as they came`,
      );
    }
    // The budget is per PDU: the next one gets its own.
    const fix = new BitmapWidthFix();
    for (let i = 0; i < 2; i++) fix.frame(pdu(fpUpdate(1, 0, bitmapBody([solid]))));
    assert.equal(fix.rewritten, 2);
  });

  it('an honest repaint of the largest desktop in one update (full-width strips padded to 4 pixels) is rewritten whole', () => {
    // 4093 × 2305 fits a screen; xrdp pads the strips to 4096, 3 more pixels a row than the screen.
    const W = 4093;
    const H = 2305;
    assert.ok(W * H <= MAX_SCREEN_PIXELS && 4096 * H > MAX_SCREEN_PIXELS);
    const strips: Rect[] = [];
    for (let top = 0; top < H; top += 16) {
      const h = Math.min(16, H - top);
      // The strip's bottom row as a colour image, then a background run copying it upwards.
      const row = Buffer.alloc(4096 * 2);
      for (let x = 0; x < 4096; x++) row.writeUInt16LE((x * 31 + top * 7) & 0xffff, 2 * x);
      const parts = [Buffer.from([0xf4, 0x00, 0x10]), row];
      if (h > 1) parts.push(Buffer.from([0xf0, ((h - 1) * 4096) & 0xff, ((h - 1) * 4096) >> 8]));
      strips.push({ left: 0, top, right: W - 1, bottom: top + h - 1, width: 4096, height: h, bpp: 16, flags: 0x401, data: Buffer.concat(parts) });
    }
    const body = bitmapBody(strips);
    const original: Buffer[] = [];
    for (let o = 0; o < body.length; o += 32_000) original.push(pdu(fpUpdate(1, o === 0 ? 2 : o + 32_000 >= body.length ? 1 : 3, body.subarray(o, o + 32_000))));
    const fix = new BitmapWidthFix();
    const out = original.flatMap((p) => fix.frame(p));
    assert.equal(fix.rewritten, strips.length);
    assert.ok(rectsOf(out).every((r) => r.flags === 0 && r.width === W));
    assert.deepEqual(draw(out, 4096, H), draw(original, 4096, H));
  });
});
