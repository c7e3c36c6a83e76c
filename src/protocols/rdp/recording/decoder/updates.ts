// The graphics output records of an RDP recording, taken apart into updates: fast-path
// output PDUs (MS-RDPBCGR 2.2.9.1.2: header, length, then updates that may be fragmented
// across PDUs and are reassembled here) and slow-path Share Control PDUs carrying Update
// (pduType2 0x02) or Pointer (0x1B) Data PDUs (2.2.9.1.1.3, 2.2.9.1.1.4). Anything the
// gateway should have kept out (orders, surface commands, bulk compression, encryption) is
// skipped and counted, never decoded into garbage.
//
// Neutral code (no Node.js APIs).
import type { PointerMessage } from './pointer.js';

/** What the parsed updates are handed to. Offsets delimit the update's data in `d`. */
export interface UpdateSink {
  /** TS_UPDATE_BITMAP_DATA (starting with updateType). */
  bitmap(d: Uint8Array, off: number, end: number): void;
  /** TS_UPDATE_PALETTE_DATA (starting with updateType). */
  palette(d: Uint8Array, off: number, end: number): void;
  pointer(kind: PointerMessage, d: Uint8Array, off: number, end: number): void;
  warn(key: string): void;
}

export { FASTPATH_FRAGMENT as FP_FRAGMENT, FASTPATH_UPDATE as FP_UPDATE } from '../../pdu/fastpath-codes.js';
import { FASTPATH_FRAGMENT as FP_FRAGMENT, FASTPATH_UPDATE as FP_UPDATE } from '../../pdu/fastpath-codes.js';
const FP_OUTPUT_ENCRYPTED = 0x2;
const FP_COMPRESSION_USED = 0x2;
/** compressionFlags / compressedType bit saying the data went through bulk compression. */
export const PACKET_COMPRESSED = 0x20;

export const PDUTYPE_DATA = 0x7;
export const PDUTYPE2_UPDATE = 0x02;
export const PDUTYPE2_POINTER = 0x1b;
export const UPDATETYPE = { ORDERS: 0, BITMAP: 1, PALETTE: 2, SYNCHRONIZE: 3 } as const;
export const PTRMSGTYPE = { SYSTEM: 0x0001, POSITION: 0x0003, COLOR: 0x0006, CACHED: 0x0007, POINTER: 0x0008, LARGE: 0x0009 } as const;
const SYSPTR_NULL = 0x00000000;

/** Largest reassembled fast-path update accepted (a full 8192² screen of 32 bpp is 256 MiB; real ones are far smaller). */
export const MAX_REASSEMBLED = 32 * 1024 * 1024;

const u16 = (d: Uint8Array, o: number) => d[o]! | (d[o + 1]! << 8);

/** Parses output records and keeps the state fragments need between them. */
export class UpdateParser {
  private fragCode = -1;

  /** Whether a fragmented update is half read (a snapshot taken now would lose its first parts). */
  get midFragment(): boolean {
    return this.fragCode !== -1;
  }
  private fragChunks: Uint8Array[] = [];
  private fragSize = 0;
  private fragCompressed = false;

  constructor(private readonly sink: UpdateSink) {}

  /** Forgets a half-received fragmented update (the desktop was reactivated). */
  reset(): void {
    this.fragCode = -1;
    this.fragChunks = [];
    this.fragSize = 0;
    this.fragCompressed = false;
  }

  /** One FASTPATH_OUTPUT record: a whole fast-path output PDU (a record holding several is read through). */
  fastPath(d: Uint8Array): void {
    let p = 0;
    while (p < d.length) {
      if (d.length - p < 2) return this.sink.warn('bad-fastpath');
      const b0 = d[p]!;
      if ((b0 & 0x3) !== 0) return this.sink.warn('bad-fastpath');
      let length = d[p + 1]!;
      let head = 2;
      if (length & 0x80) {
        if (d.length - p < 3) return this.sink.warn('bad-fastpath');
        length = ((length & 0x7f) << 8) | d[p + 2]!;
        head = 3;
      }
      if (length < head || p + length > d.length) return this.sink.warn('bad-fastpath');
      if ((b0 >> 6) & FP_OUTPUT_ENCRYPTED) this.sink.warn('encrypted');
      else this.fastPathUpdates(d, p + head, p + length);
      p += length;
    }
  }

  private fastPathUpdates(d: Uint8Array, p: number, end: number): void {
    while (p < end) {
      const uh = d[p++]!;
      const code = uh & 0xf;
      const frag = (uh >> 4) & 0x3;
      const compression = (uh >> 6) & 0x3;
      let compressed = false;
      if (compression & FP_COMPRESSION_USED) {
        if (p >= end) return this.sink.warn('bad-fastpath');
        compressed = (d[p++]! & PACKET_COMPRESSED) !== 0;
      }
      if (p + 2 > end) return this.sink.warn('bad-fastpath');
      const size = u16(d, p);
      p += 2;
      if (p + size > end) return this.sink.warn('bad-fastpath');
      this.fragment(code, frag, compressed, d, p, p + size);
      p += size;
    }
  }

  private fragment(code: number, frag: number, compressed: boolean, d: Uint8Array, off: number, end: number): void {
    if (frag === FP_FRAGMENT.SINGLE) {
      if (compressed) return this.sink.warn('bulk-compressed');
      return this.fastPathUpdate(code, d, off, end);
    }
    if (frag === FP_FRAGMENT.FIRST) {
      if (this.fragCode >= 0) this.sink.warn('fragment');
      this.reset();
      this.fragCode = code;
    } else if (this.fragCode !== code) {
      // A continuation without its start (or of another update): nothing sensible to draw.
      this.sink.warn('fragment');
      this.reset();
      return;
    }
    this.fragCompressed ||= compressed;
    this.fragSize += end - off;
    if (this.fragSize > MAX_REASSEMBLED) {
      this.sink.warn('fragment');
      this.reset();
      return;
    }
    this.fragChunks.push(d.slice(off, end));
    if (frag !== FP_FRAGMENT.LAST) return;
    const whole = new Uint8Array(this.fragSize);
    let o = 0;
    for (const c of this.fragChunks) {
      whole.set(c, o);
      o += c.length;
    }
    const wasCompressed = this.fragCompressed;
    this.reset();
    if (wasCompressed) return this.sink.warn('bulk-compressed');
    this.fastPathUpdate(code, whole, 0, whole.length);
  }

  private fastPathUpdate(code: number, d: Uint8Array, off: number, end: number): void {
    const s = this.sink;
    switch (code) {
      case FP_UPDATE.BITMAP:
        return s.bitmap(d, off, end);
      case FP_UPDATE.PALETTE:
        return s.palette(d, off, end);
      case FP_UPDATE.SYNCHRONIZE:
        return;
      case FP_UPDATE.ORDERS:
        return s.warn('orders');
      case FP_UPDATE.SURFCMDS:
        return s.warn('surface-commands');
      case FP_UPDATE.PTR_NULL:
        return s.pointer('null', d, off, end);
      case FP_UPDATE.PTR_DEFAULT:
        return s.pointer('default', d, off, end);
      case FP_UPDATE.PTR_POSITION:
        return s.pointer('position', d, off, end);
      case FP_UPDATE.COLOR:
        return s.pointer('color', d, off, end);
      case FP_UPDATE.CACHED:
        return s.pointer('cached', d, off, end);
      case FP_UPDATE.POINTER:
        return s.pointer('new', d, off, end);
      case FP_UPDATE.LARGE_POINTER:
        return s.pointer('large', d, off, end);
      default:
        return s.warn('unknown-update');
    }
  }

  /** One SLOWPATH_OUTPUT record: a Share Control PDU from the I/O channel. */
  slowPath(d: Uint8Array): void {
    const s = this.sink;
    if (d.length < 4) return s.warn('bad-slowpath');
    const totalLength = u16(d, 0);
    // A Flow PDU carries 0x8000 here and nothing to draw.
    if (totalLength === 0x8000) return;
    if (totalLength < 6 || totalLength > d.length) return s.warn('bad-slowpath');
    if ((u16(d, 2) & 0xf) !== PDUTYPE_DATA) return;
    // Share Data Header: shareId u32, pad1, streamId, uncompressedLength u16, pduType2, compressedType, compressedLength u16.
    if (totalLength < 18) return s.warn('bad-slowpath');
    const pduType2 = d[14]!;
    if (pduType2 !== PDUTYPE2_UPDATE && pduType2 !== PDUTYPE2_POINTER) return;
    if (d[15]! & PACKET_COMPRESSED) return s.warn('bulk-compressed');
    const end = totalLength;
    if (end < 20) return s.warn('bad-slowpath');
    const type = u16(d, 18);
    if (pduType2 === PDUTYPE2_UPDATE) {
      switch (type) {
        case UPDATETYPE.BITMAP:
          return s.bitmap(d, 18, end);
        case UPDATETYPE.PALETTE:
          return s.palette(d, 18, end);
        case UPDATETYPE.SYNCHRONIZE:
          return;
        case UPDATETYPE.ORDERS:
          return s.warn('orders');
        default:
          return s.warn('unknown-update');
      }
    }
    // TS_POINTER_PDU: messageType u16, pad2Octets, then the message.
    const off = 22;
    if (end < off) return s.warn('bad-pointer');
    switch (type) {
      case PTRMSGTYPE.SYSTEM:
        if (end < off + 4) return s.warn('bad-pointer');
        return s.pointer(u16(d, off) === SYSPTR_NULL && u16(d, off + 2) === 0 ? 'null' : 'default', d, off, end);
      case PTRMSGTYPE.POSITION:
        return s.pointer('position', d, off, end);
      case PTRMSGTYPE.COLOR:
        return s.pointer('color', d, off, end);
      case PTRMSGTYPE.CACHED:
        return s.pointer('cached', d, off, end);
      case PTRMSGTYPE.POINTER:
        return s.pointer('new', d, off, end);
      case PTRMSGTYPE.LARGE:
        return s.pointer('large', d, off, end);
      default:
        return s.warn('bad-pointer');
    }
  }
}
