// Pixel formats of RDP bitmaps (MS-RDPBCGR 2.2.9.1.1.3.1.2.2) converted to the framebuffer's
// pixel: RGBA bytes seen through a Uint32Array, so one store writes a whole pixel. Tables
// for 15/16 bpp and the palette turn a raw value into that pixel with one lookup.
//
// Neutral code (no Node.js APIs): the browser player uses it too.

/** Uint32 stores are little-endian on every platform a browser or Node runs on in practice; checked anyway. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([0x0a0b0c0d]).buffer)[0] === 0x0d;

/** An opaque pixel as it sits in a Uint32Array view over RGBA bytes. */
export function packRgb(r: number, g: number, b: number): number {
  return LITTLE_ENDIAN ? (0xff000000 | (b << 16) | (g << 8) | r) >>> 0 : ((r << 24) | (g << 16) | (b << 8) | 0xff) >>> 0;
}

/** The red, green and blue bytes of a packed pixel. */
export function unpackRgb(p: number): [number, number, number] {
  return LITTLE_ENDIAN ? [p & 0xff, (p >>> 8) & 0xff, (p >>> 16) & 0xff] : [p >>> 24, (p >>> 16) & 0xff, (p >>> 8) & 0xff];
}

/** A 24-bit value read little-endian from B, G, R bytes (0xRRGGBB) as a packed pixel. */
export function pack24(v: number): number {
  return LITTLE_ENDIAN ? (0xff000000 | ((v & 0xff) << 16) | (v & 0xff00) | ((v >>> 16) & 0xff)) >>> 0 : ((v << 8) | 0xff) >>> 0;
}

// 5- and 6-bit channels widen by repeating their top bits, so full intensity stays 255 and zero stays 0.
const widen5 = (c: number) => (c << 3) | (c >> 2);
const widen6 = (c: number) => (c << 2) | (c >> 4);

let rgb555: Uint32Array | null = null;
let rgb565: Uint32Array | null = null;

/** Raw 15 bpp value (RGB555, top bit ignored) → packed pixel. Built on first use. */
export function rgb555Table(): Uint32Array {
  if (!rgb555) {
    rgb555 = new Uint32Array(65536);
    for (let v = 0; v < 65536; v++) rgb555[v] = packRgb(widen5((v >> 10) & 0x1f), widen5((v >> 5) & 0x1f), widen5(v & 0x1f));
  }
  return rgb555;
}

/** Raw 16 bpp value (RGB565) → packed pixel. Built on first use. */
export function rgb565Table(): Uint32Array {
  if (!rgb565) {
    rgb565 = new Uint32Array(65536);
    for (let v = 0; v < 65536; v++) rgb565[v] = packRgb(widen5(v >> 11), widen6((v >> 5) & 0x3f), widen5(v & 0x1f));
  }
  return rgb565;
}

/**
 * The 8 bpp palette (Palette Update, MS-RDPBCGR 2.2.9.1.1.3.1.1). Servers send one before
 * any 8 bpp bitmap; until then a 3-3-2 colour cube stands in so nothing is invisible.
 */
export class Palette {
  readonly table = new Uint32Array(256);

  constructor() {
    for (let i = 0; i < 256; i++) this.table[i] = packRgb(Math.round(((i >> 5) * 255) / 7), Math.round((((i >> 2) & 7) * 255) / 7), (i & 3) * 85);
  }

  /** Sets entries from TS_PALETTE_ENTRY triples (red, green, blue). */
  set(entries: Uint8Array, offset: number, count: number): void {
    const n = Math.min(count, 256, Math.floor((entries.length - offset) / 3));
    for (let i = 0; i < n; i++) {
      const o = offset + i * 3;
      this.table[i] = packRgb(entries[o]!, entries[o + 1]!, entries[o + 2]!);
    }
  }
}

/**
 * Lookup table for a colour depth that has one (8, 15, 16 bpp), or null for 24/32 bpp,
 * whose bytes convert directly.
 */
export function tableFor(bpp: number, palette: Palette): Uint32Array | null {
  if (bpp === 8) return palette.table;
  if (bpp === 15) return rgb555Table();
  if (bpp === 16) return rgb565Table();
  return null;
}

/** Bytes per pixel of an RDP colour depth, or 0 when the depth is not one RDP uses for bitmaps. */
export function bytesPerPixel(bpp: number): number {
  switch (bpp) {
    case 8:
      return 1;
    case 15:
    case 16:
      return 2;
    case 24:
      return 3;
    case 32:
      return 4;
    default:
      return 0;
  }
}
