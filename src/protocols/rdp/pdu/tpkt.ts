// TPKT (RFC 1006: version 3, reserved, u16 big-endian length including the header) and
// an incremental framer for an RDP byte stream: chunks in, whole frames out. Besides
// TPKTs it recognises fast-path PDUs (first byte's low two bits != 3) and, optionally as
// the very first frame, an MS-RDPEPS preconnection PDU. Buffering is bounded by the
// maximum frame size: an announced length above it is an error, never an allocation.
import { RdpProtocolError } from '../errors.js';
import { fastPathLength } from './fastpath.js';
import { preconnectionPduSize } from './preconnection.js';

export const TPKT_VERSION = 3;
export const TPKT_HEADER_LENGTH = 4;
/** TPKT header + the smallest X.224 TPDU (Data: LI, code, EOT). */
export const TPKT_MIN_LENGTH = 7;
export const TPKT_MAX_LENGTH = 0xffff;

export function buildTpkt(payload: Buffer): Buffer {
  const length = TPKT_HEADER_LENGTH + payload.length;
  if (length > TPKT_MAX_LENGTH) throw new RangeError(`TPKT of ${length} bytes`);
  const h = Buffer.from([TPKT_VERSION, 0, length >> 8, length & 0xff]);
  return Buffer.concat([h, payload]);
}

/** The bytes after the TPKT header of one whole frame (checks version and length). */
export function tpktPayload(frame: Buffer): Buffer {
  if (frame.length < TPKT_HEADER_LENGTH) throw new RdpProtocolError('tpkt', 'truncated', `${frame.length}-byte frame`);
  if (frame.readUInt8(0) !== TPKT_VERSION) throw new RdpProtocolError('tpkt', 'malformed', `version ${frame.readUInt8(0)}`);
  const length = frame.readUInt16BE(2);
  if (length !== frame.length) throw new RdpProtocolError('tpkt', length > frame.length ? 'truncated' : 'malformed', `length ${length}, frame of ${frame.length} bytes`);
  return frame.subarray(TPKT_HEADER_LENGTH);
}

export type RdpFrame =
  /** A whole TPKT, header included. */
  | { kind: 'tpkt'; data: Buffer }
  /** A whole fast-path PDU, header included. */
  | { kind: 'fastpath'; data: Buffer }
  /** A whole MS-RDPEPS preconnection PDU. */
  | { kind: 'preconnection'; data: Buffer };

export interface RdpFramerOptions {
  /** Largest TPKT or fast-path PDU accepted (default and ceiling 65535). */
  maxFrameSize?: number;
  /** The first frame may be a preconnection PDU (a server-side framer for clients). */
  preconnection?: boolean;
  /** Largest preconnection PDU accepted (default 8 KiB). */
  maxPreconnectionSize?: number;
  /** Whether fast-path PDUs are accepted now (default true; see `allowFastPath`). */
  fastPath?: boolean;
}

export class RdpFramer {
  /** Fast-path only exists once the connection is up; a door may turn it on then. */
  allowFastPath: boolean;
  private readonly maxFrameSize: number;
  private readonly maxPreconnectionSize: number;
  private expectPreconnection: boolean;
  private chunks: Buffer[] = [];
  private total = 0;
  private failure: RdpProtocolError | undefined;

  constructor(opts: RdpFramerOptions = {}) {
    this.maxFrameSize = Math.min(opts.maxFrameSize ?? TPKT_MAX_LENGTH, TPKT_MAX_LENGTH);
    this.maxPreconnectionSize = opts.maxPreconnectionSize ?? 8192;
    this.expectPreconnection = opts.preconnection ?? false;
    this.allowFastPath = opts.fastPath ?? true;
  }

  /** Bytes held that do not yet make a whole frame. */
  get buffered(): number {
    return this.total;
  }

  /**
   * Adds a chunk and returns the frames it completes. Frames may share memory with the
   * chunks given. After an error the framer stays failed: the stream cannot be resynced.
   */
  push(chunk: Buffer): RdpFrame[] {
    if (this.failure) throw this.failure;
    if (chunk.length) {
      this.chunks.push(chunk);
      this.total += chunk.length;
    }
    const frames: RdpFrame[] = [];
    try {
      for (let f = this.next(); f; f = this.next()) frames.push(f);
    } catch (e) {
      if (e instanceof RdpProtocolError) this.failure = e;
      throw e;
    }
    return frames;
  }

  private next(): RdpFrame | undefined {
    if (this.total === 0) return undefined;
    const b0 = this.byteAt(0);
    if (this.expectPreconnection) {
      if (b0 !== TPKT_VERSION) {
        const size = preconnectionPduSize(this.head(4));
        if (size === undefined) return undefined;
        if (size > this.maxPreconnectionSize) throw new RdpProtocolError('preconnection', 'too_large', `cbSize ${size} above ${this.maxPreconnectionSize}`);
        if (this.total < size) return undefined;
        this.expectPreconnection = false;
        return { kind: 'preconnection', data: this.take(size) };
      }
      this.expectPreconnection = false;
    }
    if ((b0 & 0x3) === 0x3) {
      if (b0 !== TPKT_VERSION) throw new RdpProtocolError('tpkt', 'malformed', `version byte 0x${b0.toString(16)}`);
      if (this.total < TPKT_HEADER_LENGTH) return undefined;
      const length = (this.byteAt(2) << 8) | this.byteAt(3);
      if (length < TPKT_MIN_LENGTH) throw new RdpProtocolError('tpkt', 'malformed', `length ${length}`);
      if (length > this.maxFrameSize) throw new RdpProtocolError('tpkt', 'too_large', `length ${length} above ${this.maxFrameSize}`);
      if (this.total < length) return undefined;
      return { kind: 'tpkt', data: this.take(length) };
    }
    if (!this.allowFastPath) throw new RdpProtocolError('fastpath', 'unexpected', `first byte 0x${b0.toString(16)} is not a TPKT and fast-path is not expected now`);
    const len = fastPathLength(this.head(3));
    if (!len) return undefined;
    if (len.length > this.maxFrameSize) throw new RdpProtocolError('fastpath', 'too_large', `length ${len.length} above ${this.maxFrameSize}`);
    if (this.total < len.length) return undefined;
    return { kind: 'fastpath', data: this.take(len.length) };
  }

  private byteAt(i: number): number {
    for (const c of this.chunks) {
      if (i < c.length) return c.readUInt8(i);
      i -= c.length;
    }
    throw new RangeError('byteAt past the buffered data');
  }

  /** Up to n leading bytes. */
  private head(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n || this.chunks.length === 1) return first.subarray(0, n);
    return Buffer.concat(this.chunks, Math.min(n, this.total)).subarray(0, n);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.chunks, this.total);
      out = all.subarray(0, n);
      this.chunks = n < all.length ? [all.subarray(n)] : [];
    }
    this.total -= n;
    return out;
  }
}
