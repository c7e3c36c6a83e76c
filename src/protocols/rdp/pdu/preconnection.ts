// MS-RDPEPS preconnection PDU: sent by the client right after TCP connect, before the
// X.224 Connection Request, when the .rdp file has `pcb:s:` (mstsc, FreeRDP). Its first
// field is a little-endian cbSize (>= 16, and even for V2), so its first byte is never
// 0x03, which is how a server tells it apart from a TPKT.
import { RdpProtocolError } from '../errors.js';
import { ByteReader, utf16z } from '../encoding/reader.js';

export const PRECONNECTION_PDU_V1 = 0x1;
export const PRECONNECTION_PDU_V2 = 0x2;
export const PRECONNECTION_PDU_V1_SIZE = 16;
const V2_MIN_SIZE = 18;

export interface PreconnectionPdu {
  version: 1 | 2;
  /** Must be 0 per the spec; reported, not enforced. */
  flags: number;
  id: number;
  /** V2's wszPCB, without its terminating NUL. */
  pcb?: string;
}

/** Whether a connection's first bytes are a preconnection PDU rather than a TPKT. */
export function looksLikePreconnectionPdu(firstBytes: Buffer): boolean {
  return firstBytes.length > 0 && firstBytes.readUInt8(0) !== 0x03;
}

/** cbSize from the first four bytes, or undefined while fewer have arrived. */
export function preconnectionPduSize(head: Buffer): number | undefined {
  if (head.length < 4) return undefined;
  const size = head.readUInt32LE(0);
  if (size < PRECONNECTION_PDU_V1_SIZE) throw new RdpProtocolError('preconnection', 'malformed', `cbSize ${size}`);
  return size;
}

export function parsePreconnectionPdu(pdu: Buffer): PreconnectionPdu {
  const r = new ByteReader(pdu, 'preconnection');
  const cbSize = r.u32le('cbSize');
  if (cbSize < PRECONNECTION_PDU_V1_SIZE) throw new RdpProtocolError('preconnection', 'malformed', `cbSize ${cbSize}`);
  if (cbSize > pdu.length) throw new RdpProtocolError('preconnection', 'truncated', `cbSize ${cbSize}, ${pdu.length} bytes present`);
  if (cbSize < pdu.length) throw new RdpProtocolError('preconnection', 'malformed', `cbSize ${cbSize}, but ${pdu.length} bytes given`);
  const flags = r.u32le('Flags');
  const version = r.u32le('Version');
  const id = r.u32le('Id');
  if (version === PRECONNECTION_PDU_V1) return { version: 1, flags, id };
  if (version !== PRECONNECTION_PDU_V2) throw new RdpProtocolError('preconnection', 'unsupported', `version ${version}`);
  const cch = r.u16le('cchPCB');
  // cchPCB counts UTF-16 code units including the terminating NUL; be lenient if it doesn't.
  const pcb = utf16z(r.bytes(cch * 2, 'wszPCB'));
  return { version: 2, flags, id, pcb };
}

/** V2 when a blob is given, V1 otherwise. */
export function buildPreconnectionPdu(o: { id?: number; pcb?: string }): Buffer {
  const id = o.id ?? 0;
  if (o.pcb === undefined) {
    const b = Buffer.alloc(PRECONNECTION_PDU_V1_SIZE);
    b.writeUInt32LE(PRECONNECTION_PDU_V1_SIZE, 0);
    b.writeUInt32LE(PRECONNECTION_PDU_V1, 8);
    b.writeUInt32LE(id >>> 0, 12);
    return b;
  }
  if (o.pcb.includes('\0')) throw new RangeError('preconnection blob contains NUL');
  const cch = o.pcb.length + 1;
  if (cch > 0xffff) throw new RangeError('preconnection blob too long');
  const b = Buffer.alloc(V2_MIN_SIZE + 2 * cch);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt32LE(PRECONNECTION_PDU_V2, 8);
  b.writeUInt32LE(id >>> 0, 12);
  b.writeUInt16LE(cch, 16);
  b.write(o.pcb, V2_MIN_SIZE, 'utf16le');
  return b;
}
