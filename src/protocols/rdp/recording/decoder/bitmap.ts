// Bitmap Update data (TS_UPDATE_BITMAP_DATA, MS-RDPBCGR 2.2.9.1.1.3.1.2): rectangles of
// uncompressed, interleaved-RLE (8–24 bpp) or planar (32 bpp) pixels, each decoded to
// top-down packed pixels and copied into the framebuffer, clipped to it. The same structure
// travels in slow-path Update PDUs and fast-path bitmap updates.
//
// Neutral code (no Node.js APIs).
import { bytesPerPixel, LITTLE_ENDIAN, pack24, type Palette, tableFor } from './colors.js';
import { rleDecompress } from './interleaved.js';
import { PlanarScratch, planarDecompress } from './planar.js';

export const BITMAP_COMPRESSION = 0x0001;
export const NO_BITMAP_COMPRESSION_HDR = 0x0400;
const RECT_HEADER = 18;
const CD_HEADER = 8;
/** Largest bitmap decoded (pixels); a hostile width × height must not allocate gigabytes. */
export const MAX_BITMAP_PIXELS = 4096 * 1024;
/**
 * Most pixels one byte of an interleaved RLE stream can stand for: a mega-mega dithered run,
 * 5 bytes at 8 bpp for 2 × 65535 pixels (every other order gives fewer).
 */
const MAX_RLE_PIXELS_PER_BYTE = Math.floor((2 * 0xffff) / 5);
/** Most pixels one byte of a planar RLE plane covers: a control byte's run of 32 + 15. */
const MAX_PLANAR_PIXELS_PER_BYTE = 47;
/** Scratch buffers above this size are dropped after use instead of kept. */
const KEEP_SCRATCH_PIXELS = 1024 * 1024;

/** What bitmap decoding draws into. */
export interface Framebuffer {
  px: Uint32Array;
  width: number;
  height: number;
}

/** Reusable buffers for decoding, grown on demand. */
export class DecodeScratch {
  private raw = new Uint32Array(64 * 64);
  private pixels = new Uint32Array(64 * 64);
  readonly planar = new PlanarScratch();

  rawBuffer(n: number): Uint32Array {
    if (n > KEEP_SCRATCH_PIXELS) return new Uint32Array(n);
    if (this.raw.length < n) this.raw = new Uint32Array(Math.max(n, this.raw.length * 2));
    return this.raw;
  }

  pixelBuffer(n: number): Uint32Array {
    if (n > KEEP_SCRATCH_PIXELS) return new Uint32Array(n);
    if (this.pixels.length < n) this.pixels = new Uint32Array(Math.max(n, this.pixels.length * 2));
    return this.pixels;
  }
}

export interface BitmapRect {
  left: number;
  top: number;
  right: number;
  bottom: number;
  width: number;
  height: number;
  bpp: number;
  flags: number;
  /** Where the bitmap data (after any compression header) starts and ends in the buffer. */
  dataStart: number;
  dataEnd: number;
}

/**
 * Parses TS_UPDATE_BITMAP_DATA at data[off, end) (starting with updateType) and draws each
 * rectangle. Returns the number of rectangles drawn; problems are reported through warn().
 */
export function applyBitmapUpdate(data: Uint8Array, off: number, end: number, fb: Framebuffer, palette: Palette, scratch: DecodeScratch, warn: (key: string) => void): number {
  if (end > data.length) end = data.length;
  if (off + 4 > end) {
    warn('bad-bitmap');
    return 0;
  }
  const count = data[off + 2]! | (data[off + 3]! << 8);
  let p = off + 4;
  let drawn = 0;
  for (let i = 0; i < count; i++) {
    if (p + RECT_HEADER > end) {
      warn('bad-bitmap');
      break;
    }
    const u16 = (o: number) => data[p + o]! | (data[p + o + 1]! << 8);
    const rect: BitmapRect = { left: u16(0), top: u16(2), right: u16(4), bottom: u16(6), width: u16(8), height: u16(10), bpp: u16(12), flags: u16(14), dataStart: 0, dataEnd: 0 };
    const length = u16(16);
    const next = p + RECT_HEADER + length;
    if (next > end) {
      warn('bad-bitmap');
      break;
    }
    rect.dataStart = p + RECT_HEADER;
    rect.dataEnd = next;
    if (rect.flags & BITMAP_COMPRESSION && !(rect.flags & NO_BITMAP_COMPRESSION_HDR)) {
      // TS_CD_HEADER: cbCompFirstRowSize, cbCompMainBodySize, cbScanWidth, cbUncompressedSize.
      if (length < CD_HEADER) {
        warn('bad-bitmap');
        p = next;
        continue;
      }
      const body = data[rect.dataStart + 2]! | (data[rect.dataStart + 3]! << 8);
      rect.dataStart += CD_HEADER;
      rect.dataEnd = Math.min(next, rect.dataStart + body);
    }
    if (drawBitmap(data, rect, fb, palette, scratch)) drawn++;
    else warn('bad-bitmap');
    p = next;
  }
  return drawn;
}

/**
 * Whether `bytes` of compressed data could fill a width × height bitmap at all. Fewer cannot
 * (interleaved RLE or planar, by the densest order each has), so such a rectangle is refused
 * before a buffer of its declared size is allocated: a hostile header claims millions of
 * pixels for no data.
 */
export function compressedMayFill(bytes: number, width: number, height: number, bpp: number): boolean {
  // Planar: a header byte, then at least the first plane, each of its rows of at least one control byte per 47 pixels.
  if (bpp === 32) return bytes >= 1 + height * Math.ceil(width / MAX_PLANAR_PIXELS_PER_BYTE);
  return bytes * MAX_RLE_PIXELS_PER_BYTE >= width * height;
}

/**
 * Decodes one rectangle and copies it into the framebuffer. False when it cannot be decoded,
 * including compressed data that does not make exactly width × height pixels: a stream that
 * stops short is malformed (real encoders code every pixel), and drawing it would still cost
 * a whole bitmap's work for a few bytes.
 */
export function drawBitmap(data: Uint8Array, r: BitmapRect, fb: Framebuffer, palette: Palette, scratch: DecodeScratch): boolean {
  const { width, height, bpp } = r;
  const size = bytesPerPixel(bpp);
  if (!size || width === 0 || height === 0 || width * height > MAX_BITMAP_PIXELS) return false;
  if (r.right < r.left || r.bottom < r.top) return false;
  const n = width * height;
  const compressed = (r.flags & BITMAP_COMPRESSION) !== 0;
  if (compressed && !compressedMayFill(Math.min(r.dataEnd, data.length) - r.dataStart, width, height, bpp)) return false;
  const pixels = scratch.pixelBuffer(n);
  if (compressed) {
    // planarDecompress succeeds only with every plane whole.
    if (bpp === 32) {
      if (!planarDecompress(data, r.dataStart, r.dataEnd, width, height, pixels, scratch.planar)) return false;
    } else {
      // No clearing needed: a complete decode writes every one of the n slots.
      const raw = scratch.rawBuffer(n);
      if (rleDecompress(data, r.dataStart, r.dataEnd, raw, width, height, bpp) !== n) return false;
      convertRows(raw, width, height, bpp, palette, pixels);
    }
  } else if (!uncompressed(data, r.dataStart, r.dataEnd, width, height, bpp, size, palette, pixels)) return false;
  blit(pixels, width, height, r, fb);
  return true;
}

/** Raw pixel values (bottom-up) → packed pixels (top-down). */
function convertRows(raw: Uint32Array, width: number, height: number, bpp: number, palette: Palette, out: Uint32Array): void {
  const table = tableFor(bpp, palette);
  for (let y = 0; y < height; y++) {
    const src = (height - 1 - y) * width;
    const dst = y * width;
    if (table) for (let x = 0; x < width; x++) out[dst + x] = table[raw[src + x]! & 0xffff]!;
    else for (let x = 0; x < width; x++) out[dst + x] = pack24(raw[src + x]!);
  }
}

/**
 * Uncompressed bitmap data: bottom-up scanlines, each padded to a multiple of 4 bytes
 * (MS-RDPBCGR 2.2.9.1.1.3.1.2.2). Some servers leave rows unpadded; data of exactly the
 * unpadded size is read that way.
 */
function uncompressed(data: Uint8Array, start: number, end: number, width: number, height: number, bpp: number, size: number, palette: Palette, out: Uint32Array): boolean {
  const rowBytes = width * size;
  const padded = (rowBytes + 3) & ~3;
  const available = end - start;
  let stride: number;
  if (available >= padded * height) stride = padded;
  else if (available >= rowBytes * height) stride = rowBytes;
  else return false;
  const table = tableFor(bpp, palette);
  for (let y = 0; y < height; y++) {
    let s = start + (height - 1 - y) * stride;
    const dst = y * width;
    switch (size) {
      case 1:
        for (let x = 0; x < width; x++) out[dst + x] = table![data[s++]!]!;
        break;
      case 2:
        for (let x = 0; x < width; x++, s += 2) out[dst + x] = table![data[s]! | (data[s + 1]! << 8)]!;
        break;
      case 3:
        for (let x = 0; x < width; x++, s += 3) out[dst + x] = pack24(data[s]! | (data[s + 1]! << 8) | (data[s + 2]! << 16));
        break;
      default:
        // BGRX: the fourth byte is not alpha for the screen, which is always opaque.
        if (LITTLE_ENDIAN) for (let x = 0; x < width; x++, s += 4) out[dst + x] = 0xff000000 | (data[s]! << 16) | (data[s + 1]! << 8) | data[s + 2]!;
        else for (let x = 0; x < width; x++, s += 4) out[dst + x] = (data[s + 2]! << 24) | (data[s + 1]! << 16) | (data[s]! << 8) | 0xff;
    }
  }
  return true;
}

/**
 * Copies the decoded bitmap's top-left part that the destination rectangle covers
 * (destRight/destBottom are inclusive; the bitmap may be wider, padded) into the
 * framebuffer, clipped to it.
 */
function blit(pixels: Uint32Array, width: number, height: number, r: BitmapRect, fb: Framebuffer): void {
  const w = Math.min(r.right - r.left + 1, width, fb.width - r.left);
  const h = Math.min(r.bottom - r.top + 1, height, fb.height - r.top);
  if (w <= 0 || h <= 0) return;
  for (let y = 0; y < h; y++) {
    const src = y * width;
    fb.px.set(pixels.subarray(src, src + w), (r.top + y) * fb.width + r.left);
  }
}
