// Fast-path bitmap updates toward IronRDP's web client, rewritten where that client would
// draw them wrong. A TS_BITMAP_DATA rectangle may carry a bitmap wider than its destination
// (MS-RDPBCGR 2.2.9.1.1.3.1.2.2: the client clips it); xrdp 0.9 sends that for almost every
// update, since libxrdp_send_bitmap pads each bitmap's width to a multiple of four pixels.
// IronRDP 0.7 steps through the decoded rows by the destination's width instead of the
// bitmap's, so each row starts a few pixels later than the last: diagonals come out sheared
// (fixed upstream after 0.7.0, not yet released on npm). No capability the client could
// announce avoids it: the padding is there compressed or not, at 16 and at 32 bpp.
//
// So for the browser door only, a rectangle whose bitmap is wider than its destination is
// decoded (the recorder's own decoder: interleaved RLE, planar, raw) and sent on as an
// uncompressed bitmap exactly as wide as the destination, cut into bands that fit a
// fast-path PDU. Everything else passes byte for byte, and the recorder always sees the
// target's original bytes (the interceptor records before this runs).
//
// Only a rectangle whose data decodes to exactly width × height pixels is rewritten; any
// other passes as the target sent it (the client then does with it what it would without
// the gateway). Real encoders code every pixel, so an honest session's picture does not
// change, while a hostile target can no longer have a header claiming millions of pixels
// with no data turned into megabytes of uncompressed bands. A valid stream still expands
// (a solid 2048 × 2048 bitmap is a few hundred bytes of RLE), so each PDU from the target
// also gets a budget of decoded pixels, about one largest screen (MAX_SCREEN_PIXELS): an
// honest PDU repaints no more than the desktop, and rectangles past the budget pass unchanged.
//
// xrdp sends these bitmaps as slow-path Update PDUs (libxrdp_send_bitmap); other servers may
// use fast-path bitmap updates: both are handled.
//
// Socket-free: fast-path PDUs in, fast-path PDUs out; Share Data PDUs in, Share Data PDUs out. Encrypted or bulk-compressed PDUs (not
// used under TLS with the web client) and anything that does not parse pass unchanged.
import { BITMAP_COMPRESSION, compressedMayFill, NO_BITMAP_COMPRESSION_HDR, MAX_BITMAP_PIXELS } from '../rdp/recording/decoder/bitmap.js';
import { bytesPerPixel, unpackRgb } from '../rdp/recording/decoder/colors.js';
import { rleDecompress } from '../rdp/recording/decoder/interleaved.js';
import { PlanarScratch, planarDecompress } from '../rdp/recording/decoder/planar.js';
import { MAX_DESKTOP, MAX_SCREEN_PIXELS } from '../rdp/recording/desktop-size.js';
import { fastPathLength, FASTPATH_MAX_LENGTH } from '../rdp/pdu/fastpath.js';
import { FASTPATH_UPDATE } from '../rdp/pdu/fastpath-codes.js';

const FRAGMENT = { SINGLE: 0, LAST: 1, FIRST: 2, NEXT: 3 } as const;
const COMPRESSION_USED = 0x2;
const UPDATETYPE_BITMAP = 0x0001;
const SHARE_DATA_HEADER = 18;
const PDUTYPE_DATA = 0x7;
const PDUTYPE2_UPDATE = 0x02;
const PACKET_COMPRESSED = 0x20;
const RECT_HEADER = 18;
const CD_HEADER = 8;
/** Bitmap data per rewritten update: one update per fast-path PDU, under its 15-bit length. */
const MAX_BAND_BYTES = FASTPATH_MAX_LENGTH - 64;
/** A slow-path Update PDU's bitmap data: the MCS Send Data's PER length stays under 16 KiB with the 18-byte share headers. */
const MAX_SLOW_PATH_BYTES = 0x4000 - 64;
/** A fragmented bitmap update held for reassembly beyond this passes unchanged. */
const MAX_HELD_BYTES = 8 << 20;
/**
 * Pixels decoded for one PDU from the target: the largest screen the door lets a desktop have,
 * each of its rows padded by up to 3 pixels (a whole-screen repaint from xrdp).
 */
const PDU_PIXEL_BUDGET = MAX_SCREEN_PIXELS + 3 * MAX_DESKTOP;

interface Update {
  code: number;
  fragmentation: number;
  compressed: boolean;
  /** The whole TS_FP_UPDATE as received. */
  raw: Buffer;
  body: Buffer;
}

export class BitmapWidthFix {
  /** Fragments of a bitmap update being reassembled: the raw updates (sent unchanged if nothing needs fixing) and the body. */
  private held: { raw: Buffer[]; body: Buffer[]; bytes: number } | null = null;
  private readonly planar = new PlanarScratch();
  /** Pixels the PDU being handled may still have decoded (PDU_PIXEL_BUDGET). */
  private budget = 0;
  /** Rectangles rewritten so far (for the session's notes and the tests). */
  rewritten = 0;

  /** One fast-path output PDU from the target → the PDUs to send to the client instead. */
  frame(pdu: Buffer): Buffer[] {
    this.budget = PDU_PIXEL_BUDGET;
    const updates = parseOutput(pdu);
    if (!updates) return this.held ? [...this.flush(), pdu] : [pdu];
    if (!this.held && !updates.some((u) => u.code === FASTPATH_UPDATE.BITMAP && !u.compressed && (u.fragmentation !== FRAGMENT.SINGLE || needsFix(u.body)))) return [pdu];
    const out: Buffer[] = [];
    for (const u of updates) {
      if (u.code !== FASTPATH_UPDATE.BITMAP || u.compressed) {
        out.push(...this.flush(), u.raw);
        continue;
      }
      if (u.fragmentation === FRAGMENT.SINGLE) {
        out.push(...this.flush(), ...(this.fixBody(u.body) ?? [u.raw]));
        continue;
      }
      if (u.fragmentation === FRAGMENT.FIRST) out.push(...this.flush());
      else if (!this.held) {
        out.push(u.raw); // a continuation of something not held: pass it on
        continue;
      }
      this.held ??= { raw: [], body: [], bytes: 0 };
      this.held.raw.push(u.raw);
      this.held.body.push(u.body);
      this.held.bytes += u.body.length;
      if (this.held.bytes > MAX_HELD_BYTES) out.push(...this.flush());
      else if (u.fragmentation === FRAGMENT.LAST) {
        const h = this.held;
        this.held = null;
        out.push(...(this.fixBody(Buffer.concat(h.body)) ?? h.raw));
      }
    }
    return pack(out);
  }

  /** Held fragments, unchanged. */
  private flush(): Buffer[] {
    const h = this.held;
    this.held = null;
    return h ? h.raw : [];
  }

  /** A TS_UPDATE_BITMAP_DATA body → rewritten TS_FP_UPDATEs, or null when nothing needs (or can take) a change. */
  private fixBody(body: Buffer): Buffer[] | null {
    return this.fixBitmaps(body, MAX_BAND_BYTES)?.map((b) => fpUpdate(FASTPATH_UPDATE.BITMAP, b)) ?? null;
  }

  /**
   * A slow-path Share Data PDU from the I/O channel (as xrdp sends its bitmaps): an
   * uncompressed bitmap Update PDU → the Update PDUs to send instead (the same headers, each
   * with fewer rectangles), or null to send it as it is.
   */
  slowPath(data: Buffer): Buffer[] | null {
    // TS_SHARECONTROLHEADER (6), shareId (4), pad, streamId, uncompressedLength (2), pduType2, compressedType, compressedLength (2): 18 bytes.
    if (data.length < SHARE_DATA_HEADER + 4 || (data.readUInt16LE(2) & 0xf) !== PDUTYPE_DATA || data[14] !== PDUTYPE2_UPDATE || data[15]! & PACKET_COMPRESSED) return null;
    if (data.readUInt16LE(0) !== data.length) return null;
    this.budget = PDU_PIXEL_BUDGET;
    const bodies = this.fixBitmaps(data.subarray(SHARE_DATA_HEADER), MAX_SLOW_PATH_BYTES);
    if (!bodies) return null;
    return bodies.map((b) => {
      const out = Buffer.concat([data.subarray(0, SHARE_DATA_HEADER), b]);
      const grow = out.length - data.length;
      out.writeUInt16LE(out.length, 0);
      out.writeUInt16LE(Math.max(0, data.readUInt16LE(12) + grow), 12);
      if (data.readUInt16LE(16)) out.writeUInt16LE(Math.max(0, data.readUInt16LE(16) + grow), 16);
      return out;
    });
  }

  /** A TS_UPDATE_BITMAP_DATA → TS_UPDATE_BITMAP_DATAs with the fixed rectangles, each under `limit` bytes, or null. */
  private fixBitmaps(body: Buffer, limit: number): Buffer[] | null {
    if (!needsFix(body)) return null;
    const count = body.readUInt16LE(2);
    const rects: Buffer[] = [];
    let p = 4;
    let changed = false;
    for (let i = 0; i < count; i++) {
      if (p + RECT_HEADER > body.length) return null;
      const length = body.readUInt16LE(p + 16);
      const end = p + RECT_HEADER + length;
      if (end > body.length) return null;
      const r = body.subarray(p, end);
      const fixed = this.fixRect(r, limit);
      if (fixed) {
        changed = true;
        this.rewritten++;
        rects.push(...fixed);
      } else rects.push(r);
      p = end;
    }
    if (!changed) return null;
    // One update per band group, each under the fast-path limit.
    const updates: Buffer[] = [];
    let group: Buffer[] = [];
    let size = 4;
    const emit = () => {
      if (!group.length) return;
      const head = Buffer.alloc(4);
      head.writeUInt16LE(UPDATETYPE_BITMAP, 0);
      head.writeUInt16LE(group.length, 2);
      updates.push(Buffer.concat([head, ...group]));
      group = [];
      size = 4;
    };
    for (const r of rects) {
      if (size + r.length > limit) emit();
      if (4 + r.length > limit) return null; // an original rectangle too large to regroup
      group.push(r);
      size += r.length;
    }
    emit();
    return updates;
  }

  /** One TS_BITMAP_DATA → bands of an uncompressed bitmap as wide as its destination, or null to keep it. */
  private fixRect(r: Buffer, limit: number): Buffer[] | null {
    const left = r.readUInt16LE(0);
    const top = r.readUInt16LE(2);
    const right = r.readUInt16LE(4);
    const bottom = r.readUInt16LE(6);
    const width = r.readUInt16LE(8);
    const height = r.readUInt16LE(10);
    const bpp = r.readUInt16LE(12);
    const flags = r.readUInt16LE(14);
    const destWidth = right - left + 1;
    const destHeight = bottom - top + 1;
    const size = bytesPerPixel(bpp);
    if (!size || right < left || bottom < top || width <= destWidth || height === 0 || width * height > MAX_BITMAP_PIXELS) return null;
    let start = RECT_HEADER;
    let end = r.length;
    if (flags & BITMAP_COMPRESSION && !(flags & NO_BITMAP_COMPRESSION_HDR)) {
      if (r.length < RECT_HEADER + CD_HEADER) return null;
      start += CD_HEADER;
      end = Math.min(end, start + r.readUInt16LE(RECT_HEADER + 2));
    }
    const outSize = bpp === 32 ? 4 : size;
    const rowBytes = (destWidth * outSize + 3) & ~3;
    const perBand = Math.floor((limit - 4 - RECT_HEADER) / rowBytes);
    if (perBand < 1) return null;
    const compressed = (flags & BITMAP_COMPRESSION) !== 0;
    // Cheap refusals before anything of the declared size is allocated.
    let stride = 0;
    if (compressed) {
      if (!compressedMayFill(end - start, width, height, bpp)) return null;
    } else {
      const srcRow = width * size;
      const padded = (srcRow + 3) & ~3;
      const available = end - start;
      stride = available >= padded * height ? padded : available >= srcRow * height ? srcRow : 0;
      if (!stride) return null;
    }
    const pixels = width * height;
    if (pixels > this.budget) return null;
    this.budget -= pixels;
    let px: Uint32Array | null = null;
    if (compressed) {
      px = new Uint32Array(pixels);
      // Only a whole bitmap: planarDecompress fails unless every plane is complete, and
      // rleDecompress counts the pixels it wrote, which may stop short of the bitmap.
      const whole = bpp === 32 ? planarDecompress(r, start, end, width, height, px, this.planar) : rleDecompress(r, start, end, px, width, height, bpp) === pixels;
      if (!whole) return null;
    }
    // Rows bottom-up as the wire has them, each destWidth pixels of the bitmap's first columns.
    const rows = Buffer.alloc(rowBytes * height);
    if (!px) {
      for (let y = 0; y < height; y++) r.copy(rows, y * rowBytes, start + y * stride, start + y * stride + destWidth * size);
    } else if (bpp === 32) {
      for (let y = 0; y < height; y++) {
        // planar output is top-down; wire rows are bottom-up.
        let o = (height - 1 - y) * rowBytes;
        for (let x = 0; x < destWidth; x++) {
          const [cr, cg, cb] = unpackRgb(px[y * width + x]!);
          rows[o++] = cb;
          rows[o++] = cg;
          rows[o++] = cr;
          rows[o++] = 0xff;
        }
      }
    } else {
      for (let y = 0; y < height; y++) {
        let o = y * rowBytes;
        for (let x = 0; x < destWidth; x++) {
          const v = px[y * width + x]!;
          for (let k = 0; k < size; k++) rows[o++] = (v >>> (8 * k)) & 0xff;
        }
      }
    }
    // Bands of whole rows, bottom band last on the wire order does not matter: each has its own destination.
    const lines = Math.min(height, destHeight);
    const out: Buffer[] = [];
    for (let first = 0; first < lines; first += perBand) {
      const n = Math.min(perBand, lines - first);
      // Top row `first` of the destination is wire row height-1-first (bottom-up).
      const lowWire = height - first - n;
      const h = Buffer.alloc(RECT_HEADER);
      h.writeUInt16LE(left, 0);
      h.writeUInt16LE(top + first, 2);
      h.writeUInt16LE(right, 4);
      h.writeUInt16LE(top + first + n - 1, 6);
      h.writeUInt16LE(destWidth, 8);
      h.writeUInt16LE(n, 10);
      h.writeUInt16LE(bpp, 12);
      h.writeUInt16LE(0, 14);
      h.writeUInt16LE(rowBytes * n, 16);
      out.push(Buffer.concat([h, rows.subarray(lowWire * rowBytes, (lowWire + n) * rowBytes)]));
    }
    return out;
  }
}

/** Whether a TS_UPDATE_BITMAP_DATA body has a rectangle whose bitmap is wider than its destination. */
function needsFix(body: Buffer): boolean {
  if (body.length < 4 || body.readUInt16LE(0) !== UPDATETYPE_BITMAP) return false;
  const count = body.readUInt16LE(2);
  let p = 4;
  for (let i = 0; i < count && p + RECT_HEADER <= body.length; i++) {
    const destWidth = body.readUInt16LE(p + 4) - body.readUInt16LE(p) + 1;
    if (destWidth > 0 && body.readUInt16LE(p + 8) > destWidth) return true;
    p += RECT_HEADER + body.readUInt16LE(p + 16);
  }
  return false;
}

/** The updates of an unencrypted fast-path output PDU, or null when it is not one this can read. */
function parseOutput(pdu: Buffer): Update[] | null {
  if (pdu.length < 2 || (pdu[0]! & 0x3) !== 0 || pdu[0]! & 0xc0) return null;
  let len: { length: number; headerLength: number } | undefined;
  try {
    len = fastPathLength(pdu);
  } catch {
    return null;
  }
  if (!len || len.length !== pdu.length) return null;
  const updates: Update[] = [];
  let p = len.headerLength;
  while (p < pdu.length) {
    const h = pdu[p]!;
    const compressed = ((h >> 6) & 0x3) === COMPRESSION_USED;
    const sizeAt = p + 1 + (compressed ? 1 : 0);
    if (sizeAt + 2 > pdu.length) return null;
    const size = pdu.readUInt16LE(sizeAt);
    const end = sizeAt + 2 + size;
    if (end > pdu.length) return null;
    updates.push({ code: h & 0x0f, fragmentation: (h >> 4) & 0x3, compressed, raw: pdu.subarray(p, end), body: pdu.subarray(sizeAt + 2, end) });
    p = end;
  }
  return updates;
}

function fpUpdate(code: number, body: Buffer): Buffer {
  const h = Buffer.alloc(3);
  h[0] = code & 0x0f; // single fragment, no compression
  h.writeUInt16LE(body.length, 1);
  return Buffer.concat([h, body]);
}

/** TS_FP_UPDATEs → fast-path output PDUs, as many updates to a PDU as its length allows. */
function pack(updates: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let group: Buffer[] = [];
  let size = 0;
  const emit = () => {
    if (!group.length) return;
    const length = 3 + size;
    const h = Buffer.from([0x00, 0x80 | (length >> 8), length & 0xff]);
    out.push(Buffer.concat([h, ...group]));
    group = [];
    size = 0;
  };
  for (const u of updates) {
    if (3 + size + u.length > FASTPATH_MAX_LENGTH) emit();
    group.push(u);
    size += u.length;
  }
  emit();
  return out;
}
