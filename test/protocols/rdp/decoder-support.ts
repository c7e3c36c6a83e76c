// Test material for the RDP recording decoder: builders for the wire structures a recording
// holds (fast-path PDUs, slow-path Share Control PDUs, bitmap rectangles, pointer messages,
// whole .ghrec files) and two small reference encoders (planar RLE, interleaved colour
// runs/images) written from the spec text, used for round trips and the speed checks.
import { encodeGhrecHeader, encodeGhrecRecord } from '../../../src/core/sessions/ghrec.js';
import { RDP_RECORDING_FORMAT, RDP_RECORDING_VERSION, type RdpRecordingHeader } from '../../../src/protocols/rdp/recording/records.js';
import type { RdpScreen } from '../../../src/protocols/rdp/recording/decoder/index.js';

export const bytes = (...parts: (number | number[] | Uint8Array)[]): Uint8Array => {
  const flat: number[] = [];
  for (const p of parts) {
    if (typeof p === 'number') flat.push(p);
    else flat.push(...p);
  }
  return Uint8Array.from(flat);
};
export const hexBytes = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
export const le16 = (v: number): number[] => [v & 0xff, (v >> 8) & 0xff];
export const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** [r, g, b, a] of the screen pixel at (x, y). */
export function pixel(s: RdpScreen | { rgba: Uint8ClampedArray | Uint8Array; width: number }, x: number, y: number): number[] {
  const o = (y * s.width + x) * 4;
  return Array.from(s.rgba.subarray(o, o + 4));
}

/** Every pixel's [r, g, b] as rows, for compact comparisons. */
export function rows(s: RdpScreen, x: number, y: number, w: number, h: number): number[][][] {
  const out: number[][][] = [];
  for (let j = 0; j < h; j++) {
    const row: number[][] = [];
    for (let i = 0; i < w; i++) row.push(pixel(s, x + i, y + j).slice(0, 3));
    out.push(row);
  }
  return out;
}

// ---- bitmap data

export interface RectSpec {
  left: number;
  top: number;
  width: number;
  height: number;
  /** Inclusive; default left + width - 1 / top + height - 1. */
  right?: number;
  bottom?: number;
  bpp: number;
  /** BITMAP_COMPRESSION 0x1, NO_BITMAP_COMPRESSION_HDR 0x400. */
  flags?: number;
  data: Uint8Array;
}

/** One TS_BITMAP_DATA; a compressed rectangle without NO_BITMAP_COMPRESSION_HDR gets a TS_CD_HEADER. */
export function bitmapRect(r: RectSpec): Uint8Array {
  const flags = r.flags ?? 0;
  const cd = flags & 0x1 && !(flags & 0x400);
  const body = cd ? concat([bytes(le16(0), le16(r.data.length), le16(r.width), le16(r.width * r.height * Math.ceil(r.bpp / 8))), r.data]) : r.data;
  return concat([
    bytes(le16(r.left), le16(r.top), le16(r.right ?? r.left + r.width - 1), le16(r.bottom ?? r.top + r.height - 1), le16(r.width), le16(r.height), le16(r.bpp), le16(flags), le16(body.length)),
    body,
  ]);
}

/** TS_UPDATE_BITMAP_DATA: updateType 1, count, rectangles. */
export function bitmapUpdate(rects: RectSpec[]): Uint8Array {
  return concat([bytes(le16(1), le16(rects.length)), ...rects.map(bitmapRect)]);
}

/** TS_UPDATE_PALETTE_DATA from [r, g, b] triples. */
export function paletteUpdate(colors: number[][]): Uint8Array {
  return bytes(le16(2), le16(0), le32(colors.length), colors.flat());
}

// ---- fast path

export interface FpUpdate {
  code: number;
  data: Uint8Array;
  /** FASTPATH_FRAGMENT: SINGLE 0, LAST 1, FIRST 2, NEXT 3. */
  frag?: number;
  /** Present → compression used, this compressionFlags byte follows the header. */
  compressionFlags?: number;
}

/** A fast-path output PDU (action 0, no encryption) holding the updates. */
export function fastPathPdu(updates: FpUpdate[], flags = 0): Uint8Array {
  const body = concat(
    updates.map((u) =>
      concat([bytes(u.code | ((u.frag ?? 0) << 4) | (u.compressionFlags !== undefined ? 0x80 : 0)), u.compressionFlags !== undefined ? bytes(u.compressionFlags) : new Uint8Array(0), bytes(le16(u.data.length)), u.data]),
    ),
  );
  const b0 = flags << 6;
  if (body.length + 2 <= 0x7f) return concat([bytes(b0, body.length + 2), body]);
  const len = body.length + 3;
  return concat([bytes(b0, 0x80 | (len >> 8), len & 0xff), body]);
}

/** Splits one update's data into FIRST/NEXT…/LAST fragments of at most `size` bytes, one PDU each. */
export function fragmentedPdus(code: number, data: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < data.length; o += size) {
    const last = o + size >= data.length;
    out.push(fastPathPdu([{ code, data: data.subarray(o, o + size), frag: o === 0 ? 2 : last ? 1 : 3 }]));
  }
  return out;
}

// ---- slow path

/** Share Control + Share Data headers around `data` (pduType DATA, the given pduType2). */
export function slowPathPdu(pduType2: number, data: Uint8Array, compressedType = 0): Uint8Array {
  const total = 18 + data.length;
  return concat([bytes(le16(total), le16(0x17), le16(0x03ea), le32(0x000103ea), 0, 1, le16(data.length + 4), pduType2, compressedType, le16(0)), data]);
}

/** A slow-path Pointer PDU: messageType, pad, the message. */
export function slowPointerPdu(messageType: number, message: Uint8Array): Uint8Array {
  return slowPathPdu(0x1b, concat([bytes(le16(messageType), le16(0)), message]));
}

// ---- recordings

export function recordingHeader(extra: Partial<RdpRecordingHeader> = {}): RdpRecordingHeader {
  return {
    format: RDP_RECORDING_FORMAT,
    formatVersion: RDP_RECORDING_VERSION,
    startedAt: '2025-01-01T00:00:00.000Z',
    sessionId: 'test-session',
    width: 64,
    height: 48,
    colorDepth: 32,
    keyboardLayout: 0x409,
    keystrokes: false,
    title: 'test',
    ...extra,
  };
}

/** A whole .ghrec file from a header and [type, time ms, payload] records. */
export function ghrecFile(header: RdpRecordingHeader, records: [number, number, Uint8Array][]): Uint8Array {
  return concat([encodeGhrecHeader({ ...header }), ...records.map(([t, time, p]) => encodeGhrecRecord(t, time, p))]);
}

// ---- reference encoders

/** RDP 6.0 RLE of one plane (MS-RDPEGDI 3.1.9.2): first row absolute, later rows as sign-in-low-bit deltas. */
export function planarRleEncode(plane: Uint8Array, width: number, height: number): Uint8Array {
  const out: number[] = [];
  for (let y = 0; y < height; y++) {
    const vals: number[] = [];
    for (let x = 0; x < width; x++) {
      const cur = plane[y * width + x]!;
      if (y === 0) vals.push(cur);
      else {
        const delta = ((cur - plane[(y - 1) * width + x]! + 128) & 0xff) - 128;
        vals.push(delta >= 0 ? delta * 2 : -delta * 2 - 1);
      }
    }
    let i = 0;
    while (i < width) {
      const raw = [vals[i++]!];
      while (i < width && raw.length < 15) {
        const last = raw[raw.length - 1];
        if (i + 2 < width && vals[i] === last && vals[i + 1] === last && vals[i + 2] === last) break;
        raw.push(vals[i++]!);
      }
      const last = raw[raw.length - 1]!;
      let run = 0;
      while (i < width && vals[i] === last && run < 15) {
        run++;
        i++;
      }
      // Run lengths 1 and 2 mean long runs: shorter runs go back to be raw values.
      if (run > 0 && run < 3) {
        i -= run;
        run = 0;
      }
      out.push((raw.length << 4) | run, ...raw);
      while (i < width && vals[i] === last) {
        let m = 0;
        while (i + m < width && vals[i + m] === last && m < 47) m++;
        if (m >= 32) out.push(((m - 32) << 4) | 2);
        else if (m >= 16) out.push(((m - 16) << 4) | 1);
        else if (m >= 3) out.push(m);
        else break;
        i += m;
      }
    }
  }
  return Uint8Array.from(out);
}

/**
 * A planar (RDP 6.0) bitmap stream of opaque top-down RGBA pixels: RLE, no alpha plane,
 * planes bottom-up.
 */
export function planarEncode(rgba: Uint8Array, width: number, height: number): Uint8Array {
  const planes = [0, 1, 2].map((c) => {
    const p = new Uint8Array(width * height);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) p[y * width + x] = rgba[((height - 1 - y) * width + x) * 4 + c]!;
    return planarRleEncode(p, width, height);
  });
  return concat([bytes(0x30), ...planes]);
}

/**
 * Interleaved RLE of raw pixel values (bottom-up order), using only colour runs and colour
 * images, in their regular, extended and mega-mega forms.
 */
export function interleavedEncode(values: number[], bpp: 8 | 15 | 16 | 24): Uint8Array {
  const size = bpp === 8 ? 1 : bpp === 24 ? 3 : 2;
  const px = (v: number) => (size === 1 ? [v & 0xff] : size === 2 ? le16(v) : [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff]);
  const header = (regular: number, mega: number, n: number) => (n < 32 ? [regular | n] : n < 32 + 256 ? [regular, n - 32] : [mega, ...le16(n)]);
  const out: number[] = [];
  let i = 0;
  while (i < values.length) {
    let run = 1;
    while (i + run < values.length && values[i + run] === values[i] && run < 0xffff) run++;
    if (run >= 3) {
      out.push(...header(0x60, 0xf3, run), ...px(values[i]!));
      i += run;
      continue;
    }
    let n = 0;
    while (i + n < values.length && n < 0xffff) {
      if (i + n + 2 < values.length && values[i + n] === values[i + n + 1] && values[i + n] === values[i + n + 2]) break;
      n++;
    }
    out.push(...header(0x80, 0xf4, n));
    for (let k = 0; k < n; k++) out.push(...px(values[i + k]!));
    i += n;
  }
  return Uint8Array.from(out);
}
