// Interleaved RLE bitmap decompression (MS-RDPBCGR 2.2.9.1.1.3.1.2.4, algorithm in 3.1.9)
// for 8, 15, 16 and 24 bpp. Works on pixel indices rather than bytes: the output is one raw
// pixel value per Uint32 slot, scanlines in the order they were sent (bottom-up), and "the
// pixel above" is simply index - width. Colour conversion and the vertical flip happen when
// the result is copied to the screen.
//
// Neutral code (no Node.js APIs).

// Order codes. Regular orders keep their code in the top 3 bits, "lite" ones in the top 4,
// and the 0xF0..0xFF orders use the whole byte; the values below do not overlap.
const REGULAR_BG_RUN = 0x0;
const REGULAR_FG_RUN = 0x1;
const REGULAR_FGBG_IMAGE = 0x2;
const REGULAR_COLOR_RUN = 0x3;
const REGULAR_COLOR_IMAGE = 0x4;
const LITE_SET_FG_FG_RUN = 0xc;
const LITE_SET_FG_FGBG_IMAGE = 0xd;
const LITE_DITHERED_RUN = 0xe;
const MEGA_MEGA_BG_RUN = 0xf0;
const MEGA_MEGA_FG_RUN = 0xf1;
const MEGA_MEGA_FGBG_IMAGE = 0xf2;
const MEGA_MEGA_COLOR_RUN = 0xf3;
const MEGA_MEGA_COLOR_IMAGE = 0xf4;
const MEGA_MEGA_SET_FG_RUN = 0xf6;
const MEGA_MEGA_SET_FGBG_IMAGE = 0xf7;
const MEGA_MEGA_DITHERED_RUN = 0xf8;
const SPECIAL_FGBG_1 = 0xf9;
const SPECIAL_FGBG_2 = 0xfa;
const SPECIAL_WHITE = 0xfd;
const SPECIAL_BLACK = 0xfe;

const MASK_SPECIAL_FGBG_1 = 0x03;
const MASK_SPECIAL_FGBG_2 = 0x05;

/** The order code of a header byte, or -1 for bytes no order starts with. */
function codeOf(hdr: number): number {
  if (hdr < 0xa0) return hdr >> 5;
  if (hdr < 0xc0) return -1;
  if (hdr < 0xf0) return hdr >> 4;
  return hdr;
}

function whitePixel(bpp: number): number {
  return bpp === 8 ? 0xff : bpp === 15 ? 0x7fff : bpp === 16 ? 0xffff : 0xffffff;
}

function readPixel(src: Uint8Array, p: number, size: number): number {
  if (size === 1) return src[p]!;
  if (size === 2) return src[p]! | (src[p + 1]! << 8);
  return src[p]! | (src[p + 1]! << 8) | (src[p + 2]! << 16);
}

/**
 * Decompresses src[start, end) into dst (raw pixel values, width × height slots, bottom-up as
 * sent). Returns the number of pixels written, or -1 when the stream is malformed (an unknown
 * order, a read past the end, or more pixels than the bitmap holds).
 */
export function rleDecompress(src: Uint8Array, start: number, end: number, dst: Uint32Array, width: number, height: number, bpp: number): number {
  const size = bpp === 8 ? 1 : bpp === 24 ? 3 : 2;
  const total = width * height;
  const white = whitePixel(bpp);
  if (end > src.length) end = src.length;
  let s = start;
  let d = 0;
  let fg = white;
  let insertFg = false;
  let firstLine = true;

  while (s < end) {
    if (firstLine && d >= width) {
      firstLine = false;
      insertFg = false;
    }
    const hdr = src[s]!;
    const code = codeOf(hdr);
    if (code < 0) return -1;

    // Run length and how far the header (with its optional length bytes) reaches.
    let len = 0;
    let adv = 1;
    switch (code) {
      case REGULAR_FGBG_IMAGE:
        len = hdr & 0x1f;
        if (len === 0) {
          if (s + 1 >= end) return -1;
          len = src[s + 1]! + 1;
          adv = 2;
        } else len *= 8;
        break;
      case LITE_SET_FG_FGBG_IMAGE:
        len = hdr & 0x0f;
        if (len === 0) {
          if (s + 1 >= end) return -1;
          len = src[s + 1]! + 1;
          adv = 2;
        } else len *= 8;
        break;
      case REGULAR_BG_RUN:
      case REGULAR_FG_RUN:
      case REGULAR_COLOR_RUN:
      case REGULAR_COLOR_IMAGE:
        len = hdr & 0x1f;
        if (len === 0) {
          if (s + 1 >= end) return -1;
          len = src[s + 1]! + 32;
          adv = 2;
        }
        break;
      case LITE_SET_FG_FG_RUN:
      case LITE_DITHERED_RUN:
        len = hdr & 0x0f;
        if (len === 0) {
          if (s + 1 >= end) return -1;
          len = src[s + 1]! + 16;
          adv = 2;
        }
        break;
      case MEGA_MEGA_BG_RUN:
      case MEGA_MEGA_FG_RUN:
      case MEGA_MEGA_FGBG_IMAGE:
      case MEGA_MEGA_COLOR_RUN:
      case MEGA_MEGA_COLOR_IMAGE:
      case MEGA_MEGA_SET_FG_RUN:
      case MEGA_MEGA_SET_FGBG_IMAGE:
      case MEGA_MEGA_DITHERED_RUN:
        if (s + 2 >= end) return -1;
        len = src[s + 1]! | (src[s + 2]! << 8);
        adv = 3;
        break;
      case SPECIAL_FGBG_1:
      case SPECIAL_FGBG_2:
      case SPECIAL_WHITE:
      case SPECIAL_BLACK:
        break;
      default:
        return -1;
    }
    s += adv;

    if (code === REGULAR_BG_RUN || code === MEGA_MEGA_BG_RUN) {
      if (d + len > total) return -1;
      let n = len;
      // Two background runs in a row mean the first pixel of the second is a foreground one
      // (the encoder could not otherwise end a run there).
      if (insertFg && n > 0) {
        dst[d] = firstLine ? fg : dst[d - width]! ^ fg;
        d++;
        n--;
      }
      if (firstLine) {
        dst.fill(0, d, d + n);
        d += n;
      } else {
        dst.copyWithin(d, d - width, d - width + n);
        // copyWithin copies as if through a temporary buffer; a run longer than a row must
        // repeat the freshly written row, so finish such runs pixel by pixel.
        if (n > width) for (let i = d + width; i < d + n; i++) dst[i] = dst[i - width]!;
        d += n;
      }
      insertFg = true;
      continue;
    }
    insertFg = false;

    switch (code) {
      case REGULAR_FG_RUN:
      case MEGA_MEGA_FG_RUN:
      case LITE_SET_FG_FG_RUN:
      case MEGA_MEGA_SET_FG_RUN: {
        if (code === LITE_SET_FG_FG_RUN || code === MEGA_MEGA_SET_FG_RUN) {
          if (s + size > end) return -1;
          fg = readPixel(src, s, size);
          s += size;
        }
        if (d + len > total) return -1;
        if (firstLine) dst.fill(fg, d, d + len);
        else for (let i = d; i < d + len; i++) dst[i] = dst[i - width]! ^ fg;
        d += len;
        break;
      }
      case LITE_DITHERED_RUN:
      case MEGA_MEGA_DITHERED_RUN: {
        if (s + 2 * size > end) return -1;
        const a = readPixel(src, s, size);
        const b = readPixel(src, s + size, size);
        s += 2 * size;
        if (d + 2 * len > total) return -1;
        for (let i = 0; i < len; i++) {
          dst[d++] = a;
          dst[d++] = b;
        }
        break;
      }
      case REGULAR_COLOR_RUN:
      case MEGA_MEGA_COLOR_RUN: {
        if (s + size > end) return -1;
        const a = readPixel(src, s, size);
        s += size;
        if (d + len > total) return -1;
        dst.fill(a, d, d + len);
        d += len;
        break;
      }
      case REGULAR_FGBG_IMAGE:
      case MEGA_MEGA_FGBG_IMAGE:
      case LITE_SET_FG_FGBG_IMAGE:
      case MEGA_MEGA_SET_FGBG_IMAGE: {
        if (code === LITE_SET_FG_FGBG_IMAGE || code === MEGA_MEGA_SET_FGBG_IMAGE) {
          if (s + size > end) return -1;
          fg = readPixel(src, s, size);
          s += size;
        }
        if (s + ((len + 7) >> 3) > end || d + len > total) return -1;
        d = fgbg(dst, d, len, src, s, fg, width, firstLine);
        s += (len + 7) >> 3;
        break;
      }
      case REGULAR_COLOR_IMAGE:
      case MEGA_MEGA_COLOR_IMAGE: {
        if (s + len * size > end || d + len > total) return -1;
        if (size === 1) for (let i = 0; i < len; i++) dst[d++] = src[s++]!;
        else if (size === 2) for (let i = 0; i < len; i++, s += 2) dst[d++] = src[s]! | (src[s + 1]! << 8);
        else for (let i = 0; i < len; i++, s += 3) dst[d++] = src[s]! | (src[s + 1]! << 8) | (src[s + 2]! << 16);
        break;
      }
      case SPECIAL_FGBG_1:
      case SPECIAL_FGBG_2: {
        if (d + 8 > total) return -1;
        d = fgbgMask(dst, d, 8, code === SPECIAL_FGBG_1 ? MASK_SPECIAL_FGBG_1 : MASK_SPECIAL_FGBG_2, fg, width, firstLine);
        break;
      }
      case SPECIAL_WHITE:
        if (d >= total) return -1;
        dst[d++] = white;
        break;
      case SPECIAL_BLACK:
        if (d >= total) return -1;
        dst[d++] = 0;
        break;
    }
  }
  return d;
}

/** A foreground/background image: `len` pixels, one mask bit each (LSB first) from src[s…]. */
function fgbg(dst: Uint32Array, d: number, len: number, src: Uint8Array, s: number, fg: number, width: number, firstLine: boolean): number {
  while (len > 0) {
    const n = len > 8 ? 8 : len;
    d = fgbgMask(dst, d, n, src[s++]!, fg, width, firstLine);
    len -= n;
  }
  return d;
}

/** Up to 8 pixels from one mask byte: set bits are foreground, clear bits background. */
function fgbgMask(dst: Uint32Array, d: number, n: number, mask: number, fg: number, width: number, firstLine: boolean): number {
  if (firstLine) {
    for (let bit = 0; bit < n; bit++) dst[d++] = mask & (1 << bit) ? fg : 0;
  } else {
    for (let bit = 0; bit < n; bit++, d++) {
      const above = dst[d - width]!;
      dst[d] = mask & (1 << bit) ? above ^ fg : above;
    }
  }
  return d;
}
