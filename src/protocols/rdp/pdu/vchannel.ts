// Static virtual channel chunks (MS-RDPBCGR 2.2.6.1, 3.1.5.2): each MCS Send Data on a
// static channel carries a CHANNEL_PDU_HEADER (total message length, flags) and one chunk
// of the message. A message longer than the chunk size spans several Send Data PDUs, the
// first flagged FIRST and the last LAST. Under TLS (the only security the door relays)
// there is no security header in front of the channel header.
import { RdpProtocolError } from '../errors.js';

export const CHANNEL_FLAG = {
  FIRST: 0x01,
  LAST: 0x02,
  SHOW_PROTOCOL: 0x10,
  SUSPEND: 0x20,
  RESUME: 0x40,
  SHADOW_PERSISTENT: 0x80,
  PACKET_COMPRESSED: 0x00200000,
  PACKET_AT_FRONT: 0x00400000,
  PACKET_FLUSHED: 0x00800000,
} as const;

export const CHANNEL_PDU_HEADER_LENGTH = 8;
/** The chunk size every RDP peer accepts (CHANNEL_CHUNK_LENGTH); larger ones are negotiated. */
export const CHANNEL_CHUNK_LENGTH = 1600;

export interface ChannelChunk {
  /** Total (uncompressed) length of the whole message. */
  length: number;
  flags: number;
  /** This chunk's part of the message (a view into the input). */
  data: Buffer;
}

export function parseChannelChunk(pdu: Buffer): ChannelChunk {
  if (pdu.length < CHANNEL_PDU_HEADER_LENGTH) throw new RdpProtocolError('vchannel', 'truncated', `${pdu.length}-byte virtual channel PDU`);
  return { length: pdu.readUInt32LE(0), flags: pdu.readUInt32LE(4), data: pdu.subarray(CHANNEL_PDU_HEADER_LENGTH) };
}

export function buildChannelChunk(c: ChannelChunk): Buffer {
  const h = Buffer.alloc(CHANNEL_PDU_HEADER_LENGTH);
  h.writeUInt32LE(c.length >>> 0, 0);
  h.writeUInt32LE(c.flags >>> 0, 4);
  return Buffer.concat([h, c.data]);
}

/**
 * Splits a whole message into channel PDUs of at most `chunkLength` data bytes: FIRST on
 * the first, LAST on the last, and the other flags (SHOW_PROTOCOL …) on every one.
 */
export function chunkMessage(message: Buffer, flags: number, chunkLength = CHANNEL_CHUNK_LENGTH): Buffer[] {
  if (!Number.isInteger(chunkLength) || chunkLength < 1) throw new RangeError(`chunk length ${chunkLength}`);
  const base = flags & ~(CHANNEL_FLAG.FIRST | CHANNEL_FLAG.LAST);
  const out: Buffer[] = [];
  let off = 0;
  do {
    const end = Math.min(message.length, off + chunkLength);
    const f = base | (off === 0 ? CHANNEL_FLAG.FIRST : 0) | (end === message.length ? CHANNEL_FLAG.LAST : 0);
    out.push(buildChannelChunk({ length: message.length, flags: f, data: message.subarray(off, end) }));
    off = end;
  } while (off < message.length);
  return out;
}
