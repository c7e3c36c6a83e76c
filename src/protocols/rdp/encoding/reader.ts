// Bounds-checked cursor over a Buffer. Every read states what it reads, so a short input
// becomes a typed `truncated` error naming the field instead of a RangeError from Node.
import { RdpProtocolError, type RdpLayer } from '../errors.js';

export class ByteReader {
  private pos: number;
  readonly end: number;

  constructor(
    readonly buf: Buffer,
    readonly layer: RdpLayer,
    start = 0,
    end = buf.length,
  ) {
    if (start < 0 || end > buf.length || start > end) throw new RdpProtocolError(layer, 'truncated', `window ${start}..${end} outside ${buf.length} bytes`);
    this.pos = start;
    this.end = end;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new RdpProtocolError(this.layer, 'truncated', `${what}: needs ${n} bytes at offset ${this.pos}, ${this.remaining} left`);
    }
  }

  u8(what = 'byte'): number {
    this.need(1, what);
    return this.buf.readUInt8(this.pos++);
  }

  peekU8(what = 'byte'): number {
    this.need(1, what);
    return this.buf.readUInt8(this.pos);
  }

  u16le(what = 'u16'): number {
    this.need(2, what);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u16be(what = 'u16'): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32le(what = 'u32'): number {
    this.need(4, what);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  u64le(what = 'u64'): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  /** A view (not a copy) of the next n bytes. */
  bytes(n: number, what = 'bytes'): Buffer {
    this.need(n, what);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  skip(n: number, what = 'padding'): void {
    this.need(n, what);
    this.pos += n;
  }

  /** A reader over the next n bytes; this one moves past them. */
  sub(n: number, what: string): ByteReader {
    this.need(n, what);
    const r = new ByteReader(this.buf, this.layer, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }

  rest(): Buffer {
    return this.bytes(this.remaining);
  }
}

/** UTF-16LE text up to the first NUL (fixed-size RDP string fields are NUL-padded). */
export function utf16z(b: Buffer): string {
  const even = b.subarray(0, b.length & ~1);
  let end = even.length;
  for (let i = 0; i + 1 < even.length; i += 2) {
    if (even.readUInt16LE(i) === 0) {
      end = i;
      break;
    }
  }
  return even.subarray(0, end).toString('utf16le');
}

/** Latin-1 text up to the first NUL. */
export function asciiz(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString('latin1');
}
