// AV_PAIR lists (MS-NLMP 2.2.2.1): the server's target info in CHALLENGE, echoed (with
// additions) inside the client's NTLMv2 response.
import { RdpProtocolError } from '../errors.js';
import { ByteReader } from '../encoding/reader.js';
import { AV } from './constants.js';

export interface AvPair {
  id: number;
  value: Buffer;
}

/** Pairs up to MsvAvEOL (not included). A list cut short without EOL is accepted as is. */
export function parseAvPairs(buf: Buffer): AvPair[] {
  const r = new ByteReader(buf, 'ntlm');
  const pairs: AvPair[] = [];
  while (r.remaining > 0) {
    const id = r.u16le('AvId');
    const len = r.u16le('AvLen');
    const value = r.bytes(len, `AV pair ${id}`);
    if (id === AV.EOL) break;
    pairs.push({ id, value });
  }
  return pairs;
}

export function encodeAvPairs(pairs: AvPair[]): Buffer {
  const parts: Buffer[] = [];
  for (const p of pairs) {
    if (p.id === AV.EOL) continue;
    if (p.value.length > 0xffff) throw new RangeError('AV pair value too long');
    const h = Buffer.alloc(4);
    h.writeUInt16LE(p.id, 0);
    h.writeUInt16LE(p.value.length, 2);
    parts.push(h, p.value);
  }
  parts.push(Buffer.alloc(4));
  return Buffer.concat(parts);
}

export const findAv = (pairs: AvPair[], id: number): Buffer | undefined => pairs.find((p) => p.id === id)?.value;

/** Text AV pairs (names) are UTF-16LE. */
export function avText(pairs: AvPair[], id: number): string | undefined {
  const v = findAv(pairs, id);
  if (!v) return undefined;
  if (v.length % 2) throw new RdpProtocolError('ntlm', 'malformed', `AV pair ${id} has odd length`);
  return v.toString('utf16le');
}
