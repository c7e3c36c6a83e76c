// BER/DER reading and writing for what RDP needs: the MCS connect PDUs (T.125, BER) and
// CredSSP/SPNEGO (DER). Definite lengths only; tags are one byte, or two for a high tag
// number below 128 (MCS's [APPLICATION 101] = 7f 65), held as a number (0x7f65).
import { RdpProtocolError } from '../errors.js';
import type { ByteReader } from './reader.js';

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  OCTET_STRING: 0x04,
  OID: 0x06,
  ENUMERATED: 0x0a,
  SEQUENCE: 0x30,
} as const;

/** [n] constructed, context-specific. */
export const contextTag = (n: number): number => 0xa0 | n;

export interface Tlv {
  tag: number;
  /** The contents (a view into the input). */
  value: Buffer;
  /** Offset of the first identifier byte in the input. */
  start: number;
  /** Offset just past the value. */
  end: number;
}

export function readLength(r: ByteReader, what = 'length'): number {
  const first = r.u8(what);
  if (first < 0x80) return first;
  if (first === 0x80) throw new RdpProtocolError(r.layer, 'unsupported', `${what}: indefinite length`);
  const n = first & 0x7f;
  if (n > 4) throw new RdpProtocolError(r.layer, 'too_large', `${what}: ${n}-byte length`);
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + r.u8(what);
  return len;
}

export function readTag(r: ByteReader): number {
  const id = r.u8('tag');
  if ((id & 0x1f) !== 0x1f) return id;
  const t2 = r.u8('tag number');
  if (t2 & 0x80) throw new RdpProtocolError(r.layer, 'unsupported', 'multi-byte tag number');
  return (id << 8) | t2;
}

export function readTlv(r: ByteReader, what = 'element'): Tlv {
  const start = r.offset;
  const tag = readTag(r);
  const len = readLength(r, `${what} length`);
  const value = r.bytes(len, what);
  return { tag, value, start, end: r.offset };
}

/** Reads an element and checks its tag. */
export function expectTlv(r: ByteReader, tag: number, what: string): Tlv {
  if (r.remaining === 0) throw new RdpProtocolError(r.layer, 'truncated', `${what}: missing`);
  const t = readTlv(r, what);
  if (t.tag !== tag) throw new RdpProtocolError(r.layer, 'malformed', `${what}: tag 0x${t.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  return t;
}

/** Two's complement big-endian contents → number (up to 6 bytes, so always exact). */
export function integerValue(content: Buffer, layer: ByteReader['layer'], what: string): number {
  if (content.length === 0) throw new RdpProtocolError(layer, 'malformed', `${what}: empty integer`);
  if (content.length > 6) throw new RdpProtocolError(layer, 'too_large', `${what}: ${content.length}-byte integer`);
  return content.readIntBE(0, content.length);
}

export function readInteger(r: ByteReader, what: string): number {
  return integerValue(expectTlv(r, TAG.INTEGER, what).value, r.layer, what);
}

// ---- writing ----

export function encodeLength(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`BER length ${n}`);
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tagBytes(tag: number): Buffer {
  return tag > 0xff ? Buffer.from([tag >> 8, tag & 0xff]) : Buffer.from([tag]);
}

export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([tagBytes(tag), encodeLength(body.length), body]);
}

/** Minimal two's complement, up to 6 bytes (every value RDP encodes fits). */
export function integerBytes(n: number): Buffer {
  if (!Number.isInteger(n)) throw new RangeError(`integer ${n}`);
  for (let len = 1; len <= 6; len++) {
    if (n >= -(2 ** (8 * len - 1)) && n < 2 ** (8 * len - 1)) {
      const b = Buffer.alloc(len);
      b.writeIntBE(n, 0, len);
      return b;
    }
  }
  throw new RangeError(`integer ${n} needs more than 6 bytes`);
}

export const berInteger = (n: number): Buffer => tlv(TAG.INTEGER, integerBytes(n));
export const berEnumerated = (n: number): Buffer => tlv(TAG.ENUMERATED, integerBytes(n));
export const berBoolean = (v: boolean): Buffer => tlv(TAG.BOOLEAN, Buffer.from([v ? 0xff : 0]));
export const berOctetString = (b: Buffer): Buffer => tlv(TAG.OCTET_STRING, b);
export const berSequence = (...parts: Buffer[]): Buffer => tlv(TAG.SEQUENCE, ...parts);
export const berContext = (n: number, ...parts: Buffer[]): Buffer => tlv(contextTag(n), ...parts);

export function encodeOid(oid: string): Buffer {
  const arcs = oid.split('.').map((s) => {
    if (!/^\d+$/.test(s)) throw new RangeError(`OID ${oid}`);
    return Number(s);
  });
  const [a, b, ...rest] = arcs;
  if (a === undefined || b === undefined || a > 2 || (a < 2 && b > 39)) throw new RangeError(`OID ${oid}`);
  const out: number[] = [];
  for (const arc of [a * 40 + b, ...rest]) {
    if (!Number.isSafeInteger(arc)) throw new RangeError(`OID ${oid}`);
    const groups: number[] = [arc % 128];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) groups.unshift((v % 128) | 0x80);
    out.push(...groups);
  }
  return Buffer.from(out);
}

export function decodeOid(content: Buffer, layer: ByteReader['layer']): string {
  if (content.length === 0 || content.length > 64) throw new RdpProtocolError(layer, 'malformed', `OID of ${content.length} bytes`);
  const arcs: number[] = [];
  let v = 0;
  for (let i = 0; i < content.length; i++) {
    const byte = content.readUInt8(i);
    v = v * 128 + (byte & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 128) throw new RdpProtocolError(layer, 'malformed', 'OID arc too large');
    if (!(byte & 0x80)) {
      arcs.push(v);
      v = 0;
    } else if (i === content.length - 1) throw new RdpProtocolError(layer, 'malformed', 'OID ends inside an arc');
  }
  const first = arcs[0] ?? 0;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

export const berOid = (oid: string): Buffer => tlv(TAG.OID, encodeOid(oid));
