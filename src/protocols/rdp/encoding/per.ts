// The few ALIGNED PER pieces T.124 (GCC) uses inside the MCS connect PDUs: lengths, and
// the ITU-T T.124 (02/98) object identifier that keys the ConnectData.
import { RdpProtocolError } from '../errors.js';
import type { ByteReader } from './reader.js';

/** { itu-t(0) recommendation(0) t(20) t124(124) version(0) 1 }, as PER writes it. */
export const T124_OID = Buffer.from([0x00, 0x14, 0x7c, 0x00, 0x01]);

export function readPerLength(r: ByteReader, what = 'PER length'): number {
  const b = r.u8(what);
  if (!(b & 0x80)) return b;
  if (b & 0x40) throw new RdpProtocolError(r.layer, 'unsupported', `${what}: fragmented length`);
  return ((b & 0x3f) << 8) | r.u8(what);
}

export function perLength(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n >= 0x4000) throw new RangeError(`PER length ${n}`);
  return n < 0x80 ? Buffer.from([n]) : Buffer.from([0x80 | (n >> 8), n & 0xff]);
}
