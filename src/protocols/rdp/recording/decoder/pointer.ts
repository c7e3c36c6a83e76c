// Pointer updates (MS-RDPBCGR 2.2.9.1.1.4 slow path, 2.2.9.1.2.1.5–11 fast path): the
// position, hidden/default system pointers, and shapes (color, new with any XOR depth,
// large, cached) decoded to RGBA with an "invert" mask, so a player or a video export can
// draw the pointer over the screen. The screen itself never contains the pointer.
//
// Neutral code (no Node.js APIs).
import { type Palette, unpackRgb } from './colors.js';

export interface PointerShape {
  width: number;
  height: number;
  hotX: number;
  hotY: number;
  /** width × height RGBA, top-down, straight (not premultiplied) alpha. */
  rgba: Uint8ClampedArray;
  /** 1 where the pointer inverts the screen underneath (AND and XOR bits both set). */
  invert: Uint8Array | null;
}

/** Largest pointer accepted (large pointers go up to 384 × 384). */
export const MAX_POINTER_SIZE = 384;
const MAX_CACHE_ENTRIES = 1024;
/**
 * Pixels of all cached shapes together (about 10 MiB with their masks): 1024 entries of the
 * largest pointer would be 600 MiB. Real clients cache a few dozen shapes of at most 96 × 96
 * (or a few large ones); the oldest shapes make room.
 */
export const MAX_CACHE_PIXELS = 2 * 1024 * 1024;

export type PointerMessage = 'null' | 'default' | 'position' | 'color' | 'cached' | 'new' | 'large';

/** What the pointer currently is: its shape (null = the default arrow) and whether it shows. */
export class PointerState {
  shape: PointerShape | null = null;
  visible = true;
  private readonly cache = new Map<number, PointerShape>();
  private cachedPixels = 0;

  /** The cached shapes (shapes are never changed once decoded, so sharing them is safe). */
  cachedShapes(): Map<number, PointerShape> {
    return new Map(this.cache);
  }

  restoreCache(shapes: Map<number, PointerShape>): void {
    this.cache.clear();
    this.cachedPixels = 0;
    for (const [k, v] of shapes) this.cacheShape(k, v);
  }

  /** Pixels held by the cached shapes (at most MAX_CACHE_PIXELS). */
  get cachePixels(): number {
    return this.cachedPixels;
  }

  /**
   * Applies one pointer message; returns the new position for 'position', true when the
   * shape or visibility changed, false when the message was malformed.
   */
  apply(kind: PointerMessage, d: Uint8Array, off: number, end: number, palette: Palette): { x: number; y: number } | boolean {
    const avail = end - off;
    const u16 = (o: number) => d[off + o]! | (d[off + o + 1]! << 8);
    const u32 = (o: number) => (u16(o) + u16(o + 2) * 65536) >>> 0;
    switch (kind) {
      case 'null':
        this.visible = false;
        return true;
      case 'default':
        this.visible = true;
        this.shape = null;
        return true;
      case 'position':
        return avail >= 4 ? { x: u16(0), y: u16(2) } : false;
      case 'cached': {
        if (avail < 2) return false;
        const s = this.cache.get(u16(0));
        if (!s) return false;
        this.shape = s;
        this.visible = true;
        return true;
      }
      case 'color':
      case 'new': {
        // TS_POINTERATTRIBUTE is xorBpp then a TS_COLORPOINTERATTRIBUTE; the color pointer is 24 bpp.
        const base = kind === 'new' ? 2 : 0;
        if (avail < base + 14) return false;
        const xorBpp = kind === 'new' ? u16(0) : 24;
        const cacheIndex = u16(base);
        const w = u16(base + 6);
        const h = u16(base + 8);
        const andLen = u16(base + 10);
        const xorLen = u16(base + 12);
        const xorStart = off + base + 14;
        return this.store(cacheIndex, decodeShape(d, xorStart, xorLen, xorStart + xorLen, andLen, end, w, h, u16(base + 2), u16(base + 4), xorBpp, palette));
      }
      case 'large': {
        if (avail < 20) return false;
        const xorBpp = u16(0);
        const cacheIndex = u16(2);
        const w = u16(8);
        const h = u16(10);
        const andLen = u32(12);
        const xorLen = u32(16);
        const xorStart = off + 20;
        return this.store(cacheIndex, decodeShape(d, xorStart, xorLen, xorStart + xorLen, andLen, end, w, h, u16(4), u16(6), xorBpp, palette));
      }
    }
  }

  private store(index: number, shape: PointerShape | null): boolean {
    if (!shape) return false;
    this.cacheShape(index, shape);
    this.shape = shape;
    this.visible = true;
    return true;
  }

  private cacheShape(index: number, shape: PointerShape): void {
    const old = this.cache.get(index);
    if (old) {
      this.cache.delete(index);
      this.cachedPixels -= old.width * old.height;
    }
    const px = shape.width * shape.height;
    // Maps iterate in insertion order: the first entries are the oldest.
    for (const [k, v] of this.cache) {
      if (this.cache.size < MAX_CACHE_ENTRIES && this.cachedPixels + px <= MAX_CACHE_PIXELS) break;
      this.cache.delete(k);
      this.cachedPixels -= v.width * v.height;
    }
    this.cache.set(index, shape);
    this.cachedPixels += px;
  }
}

/**
 * Builds a shape from XOR and AND masks. Rows are word-aligned; colour XOR masks are
 * bottom-up, and 1 bpp masks are read top-down as FreeRDP does. AND set over black is
 * transparent, AND set over white inverts the screen.
 */
function decodeShape(d: Uint8Array, xorStart: number, xorLen: number, andStart: number, andLen: number, end: number, w: number, h: number, hotX: number, hotY: number, bpp: number, palette: Palette): PointerShape | null {
  if (w === 0 || h === 0 || w > MAX_POINTER_SIZE || h > MAX_POINTER_SIZE) return null;
  if (bpp !== 1 && bpp !== 8 && bpp !== 16 && bpp !== 24 && bpp !== 32) return null;
  if (andStart + andLen > end || xorStart + xorLen > end) return null;
  const xorRow = bpp === 1 ? even((w + 7) >> 3) : even(w * (bpp >> 3));
  const andRow = even((w + 7) >> 3);
  if (xorRow * h > xorLen) return null;
  const hasAnd = andLen >= andRow * h;
  if (bpp === 1 && !hasAnd) return null;
  const rgba = new Uint8ClampedArray(w * h * 4);
  let invert: Uint8Array | null = null;
  for (let y = 0; y < h; y++) {
    const sy = bpp === 1 ? y : h - 1 - y;
    const xr = xorStart + sy * xorRow;
    const ar = andStart + sy * andRow;
    for (let x = 0; x < w; x++) {
      const andBit = hasAnd ? (d[ar + (x >> 3)]! >> (7 - (x & 7))) & 1 : 0;
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 255;
      if (bpp === 1) {
        const xorBit = (d[xr + (x >> 3)]! >> (7 - (x & 7))) & 1;
        if (xorBit) r = g = b = 255;
        if (andBit) a = 0;
        if (andBit && xorBit) (invert ??= new Uint8Array(w * h))[y * w + x] = 1;
      } else {
        if (bpp === 32) {
          const o = xr + x * 4;
          b = d[o]!;
          g = d[o + 1]!;
          r = d[o + 2]!;
          a = d[o + 3]!;
        } else if (bpp === 24) {
          const o = xr + x * 3;
          b = d[o]!;
          g = d[o + 1]!;
          r = d[o + 2]!;
        } else if (bpp === 16) {
          const o = xr + x * 2;
          const v = d[o]! | (d[o + 1]! << 8);
          // FreeRDP reads 16 bpp pointer masks as RGB555.
          r = widen5((v >> 10) & 0x1f);
          g = widen5((v >> 5) & 0x1f);
          b = widen5(v & 0x1f);
        } else {
          [r, g, b] = unpackRgb(palette.table[d[xr + x]!]!);
        }
        if (andBit && a === 255) {
          if ((r | g | b) === 0) a = 0;
          else if ((r & g & b) === 255) {
            a = 0;
            (invert ??= new Uint8Array(w * h))[y * w + x] = 1;
          }
        }
      }
      const o = (y * w + x) * 4;
      rgba[o] = r;
      rgba[o + 1] = g;
      rgba[o + 2] = b;
      rgba[o + 3] = a;
    }
  }
  return { width: w, height: h, hotX: Math.min(hotX, w - 1), hotY: Math.min(hotY, h - 1), rgba, invert };
}

const even = (n: number) => n + (n & 1);
const widen5 = (c: number) => (c << 3) | (c >> 2);

// The standard arrow, for the default system pointer: B black, W white, . transparent.
const ARROW = [
  'B...........',
  'BB..........',
  'BWB.........',
  'BWWB........',
  'BWWWB.......',
  'BWWWWB......',
  'BWWWWWB.....',
  'BWWWWWWB....',
  'BWWWWWWWB...',
  'BWWWWWWWWB..',
  'BWWWWWWWWWB.',
  'BWWWWWWBBBBB',
  'BWWWBWWB....',
  'BWWBBWWB....',
  'BWB..BWWB...',
  'BB...BWWB...',
  'B.....BWWB..',
  '......BWWB..',
  '.......BB...',
];

let arrow: PointerShape | null = null;

export function defaultPointer(): PointerShape {
  if (!arrow) {
    const w = ARROW[0]!.length;
    const h = ARROW.length;
    const rgba = new Uint8ClampedArray(w * h * 4);
    ARROW.forEach((row, y) => {
      for (let x = 0; x < w; x++) {
        const c = row[x];
        if (c === '.') continue;
        const v = c === 'W' ? 255 : 0;
        rgba.set([v, v, v, 255], (y * w + x) * 4);
      }
    });
    arrow = { width: w, height: h, hotX: 0, hotY: 0, rgba, invert: null };
  }
  return arrow;
}

/**
 * Draws a pointer shape with its hot spot at (x, y) into an RGBA image (alpha blended,
 * inverting where the shape says so), clipped to the image.
 */
export function drawPointer(dst: Uint8ClampedArray | Uint8Array, dw: number, dh: number, shape: PointerShape, x: number, y: number): void {
  const ox = x - shape.hotX;
  const oy = y - shape.hotY;
  const x0 = Math.max(0, -ox);
  const y0 = Math.max(0, -oy);
  const x1 = Math.min(shape.width, dw - ox);
  const y1 = Math.min(shape.height, dh - oy);
  for (let sy = y0; sy < y1; sy++) {
    for (let sx = x0; sx < x1; sx++) {
      const si = sy * shape.width + sx;
      const di = ((oy + sy) * dw + ox + sx) * 4;
      if (shape.invert && shape.invert[si]) {
        dst[di] = 255 - dst[di]!;
        dst[di + 1] = 255 - dst[di + 1]!;
        dst[di + 2] = 255 - dst[di + 2]!;
        continue;
      }
      const a = shape.rgba[si * 4 + 3]!;
      if (a === 0) continue;
      for (let c = 0; c < 3; c++) dst[di + c] = a === 255 ? shape.rgba[si * 4 + c]! : ((shape.rgba[si * 4 + c]! * a + dst[di + c]! * (255 - a) + 127) / 255) | 0;
    }
  }
}
