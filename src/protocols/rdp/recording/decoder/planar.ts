// RDP 6.0 ("planar") bitmap decompression, used for 32 bpp bitmap updates
// (MS-RDPEGDI 2.2.2.5.1, 3.1.9): a format header, then an optional alpha plane and three
// colour planes (red/green/blue, or luma/orange chroma/green chroma when a colour loss level
// is set), each raw or run-length encoded per scanline, scanlines bottom-up like every other
// bitmap in a Bitmap Update. Chroma planes may be subsampled 2×2.
//
// Neutral code (no Node.js APIs).
import { LITTLE_ENDIAN } from './colors.js';

export const PLANAR = { CLL_MASK: 0x07, CS: 0x08, RLE: 0x10, NA: 0x20 } as const;

/** Reusable plane buffers, grown on demand so a stream of bitmaps does not allocate per bitmap. */
export class PlanarScratch {
  private bufs: Uint8Array[] = [new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)];
  plane(i: number, size: number): Uint8Array {
    let b = this.bufs[i]!;
    if (b.length < size) {
      b = new Uint8Array(Math.max(size, b.length * 2));
      this.bufs[i] = b;
    }
    return b;
  }
}

/**
 * Decodes one RLE-encoded plane of width × height into dst (or only measures it when dst is
 * null). Returns the offset just past the plane, or -1 when it is malformed.
 */
export function planarRlePlane(src: Uint8Array, s: number, end: number, dst: Uint8Array | null, width: number, height: number): number {
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const prev = row - width;
    let x = 0;
    // The value a RUN repeats: the last RAW value (absolute on the first line, a delta after), 0 if none yet.
    let value = 0;
    while (x < width) {
      if (s >= end) return -1;
      const control = src[s++]!;
      let run = control & 0x0f;
      let raw = control >> 4;
      // Run lengths 1 and 2 stand for long runs: 16 + raw or 32 + raw, with no raw bytes.
      if (run === 1) {
        run = 16 + raw;
        raw = 0;
      } else if (run === 2) {
        run = 32 + raw;
        raw = 0;
      }
      if (x + raw + run > width || s + raw > end) return -1;
      if (!dst) {
        s += raw;
        x += raw + run;
        continue;
      }
      if (y === 0) {
        for (let i = 0; i < raw; i++) dst[x++] = value = src[s++]!;
        for (let i = 0; i < run; i++) dst[x++] = value;
      } else {
        for (let i = 0; i < raw; i++, x++) {
          const e = src[s++]!;
          // Sign-magnitude with the sign in the low bit: odd values are negative.
          value = e & 1 ? -((e >> 1) + 1) : e >> 1;
          dst[row + x] = dst[prev + x]! + value;
        }
        for (let i = 0; i < run; i++, x++) dst[row + x] = dst[prev + x]! + value;
      }
    }
  }
  return s;
}

/**
 * Decodes an RDP6_BITMAP_STREAM in src[start, end) of width × height into out (packed
 * opaque pixels, top-down, width per row). Returns false when the stream is malformed.
 */
export function planarDecompress(src: Uint8Array, start: number, end: number, width: number, height: number, out: Uint32Array, scratch: PlanarScratch): boolean {
  if (end > src.length) end = src.length;
  if (start >= end || width <= 0 || height <= 0) return false;
  const header = src[start]!;
  const cll = header & PLANAR.CLL_MASK;
  const cs = (header & PLANAR.CS) !== 0;
  const rle = (header & PLANAR.RLE) !== 0;
  const alpha = (header & PLANAR.NA) === 0;
  // Chroma subsampling only exists for the YCoCg colour space.
  if (cs && !cll) return false;
  const size = width * height;
  const cw = cs ? (width + 1) >> 1 : width;
  const ch = cs ? (height + 1) >> 1 : height;
  const csize = cw * ch;
  let s = start + 1;
  let p0: Uint8Array;
  let p1: Uint8Array;
  let p2: Uint8Array;
  if (rle) {
    // The alpha plane is not needed for an opaque screen, only stepped over.
    if (alpha && (s = planarRlePlane(src, s, end, null, width, height)) < 0) return false;
    p0 = scratch.plane(0, size);
    p1 = scratch.plane(1, csize);
    p2 = scratch.plane(2, csize);
    if ((s = planarRlePlane(src, s, end, p0, width, height)) < 0) return false;
    if ((s = planarRlePlane(src, s, end, p1, cw, ch)) < 0) return false;
    if ((s = planarRlePlane(src, s, end, p2, cw, ch)) < 0) return false;
  } else {
    if (alpha) s += size;
    if (s + size + 2 * csize > end) return false;
    p0 = src.subarray(s, s + size);
    p1 = src.subarray(s + size, s + size + csize);
    p2 = src.subarray(s + size + csize, s + size + 2 * csize);
  }
  if (cll) ycocgToPixels(p0, p1, p2, width, height, cw, cs, cll, out);
  else rgbToPixels(p0, p1, p2, width, height, out);
  return true;
}

/** Red, green and blue planes (bottom-up) → packed pixels (top-down). */
function rgbToPixels(r: Uint8Array, g: Uint8Array, b: Uint8Array, width: number, height: number, out: Uint32Array): void {
  for (let y = 0; y < height; y++) {
    const src = (height - 1 - y) * width;
    const dst = y * width;
    if (LITTLE_ENDIAN) for (let x = 0; x < width; x++) out[dst + x] = 0xff000000 | (b[src + x]! << 16) | (g[src + x]! << 8) | r[src + x]!;
    else for (let x = 0; x < width; x++) out[dst + x] = (r[src + x]! << 24) | (g[src + x]! << 16) | (b[src + x]! << 8) | 0xff;
  }
}

const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);

/**
 * Luma, orange chroma and green chroma planes (bottom-up; chroma possibly subsampled) →
 * packed pixels (top-down). The chroma values were shifted right by the colour loss level;
 * shifting left by one less restores half of Co and Cg, which is what the inverse transform
 * uses. Per MS-RDPEGDI 3.1.9.1.1 the red and blue results are swapped (servers build Co the
 * other way round), as FreeRDP does.
 */
function ycocgToPixels(yp: Uint8Array, cop: Uint8Array, cgp: Uint8Array, width: number, height: number, cw: number, cs: boolean, cll: number, out: Uint32Array): void {
  const shift = cll - 1;
  for (let y = 0; y < height; y++) {
    const py = height - 1 - y;
    const src = py * width;
    const crow = (cs ? py >> 1 : py) * cw;
    const dst = y * width;
    for (let x = 0; x < width; x++) {
      const c = crow + (cs ? x >> 1 : x);
      const Y = yp[src + x]!;
      const co = ((cop[c]! << shift) << 24) >> 24;
      const cg = ((cgp[c]! << shift) << 24) >> 24;
      const t = Y - cg;
      const r = clamp(t - co);
      const g = clamp(Y + cg);
      const b = clamp(t + co);
      out[dst + x] = LITTLE_ENDIAN ? 0xff000000 | (b << 16) | (g << 8) | r : (r << 24) | (g << 16) | (b << 8) | 0xff;
    }
  }
}
