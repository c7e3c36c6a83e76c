// MCS domain PDUs (T.125, ALIGNED PER) as RDP uses them after the connect exchange
// (MS-RDPBCGR 2.2.1.5-2.2.1.8 and every later slow-path PDU): the relay reads the
// Send Data Request/Indication header to learn the channel, and rebuilds a Send Data
// Request when it rewrites the Client Info PDU. Other domain PDUs pass untouched.
import { RdpProtocolError } from '../errors.js';
import { perLength, readPerLength } from '../encoding/per.js';
import { ByteReader } from '../encoding/reader.js';

/** DomainMCSPDU choice numbers (the top six bits of the first byte). */
export const DOMAIN_PDU = {
  ERECT_DOMAIN_REQUEST: 1,
  DISCONNECT_PROVIDER_ULTIMATUM: 8,
  ATTACH_USER_REQUEST: 10,
  ATTACH_USER_CONFIRM: 11,
  CHANNEL_JOIN_REQUEST: 14,
  CHANNEL_JOIN_CONFIRM: 15,
  SEND_DATA_REQUEST: 25,
  SEND_DATA_INDICATION: 26,
} as const;

/** The first user id MCS hands out; PDUs carry ids relative to it. */
export const MCS_USERCHANNEL_BASE = 1001;

export const domainPduType = (pdu: Buffer): number => (pdu.length ? pdu.readUInt8(0) >> 2 : -1);

export interface SendData {
  /** SEND_DATA_REQUEST (client → server) or SEND_DATA_INDICATION (server → client). */
  type: 25 | 26;
  /** Absolute user channel id of the sender (or receiver). */
  initiator: number;
  channelId: number;
  /** dataPriority and segmentation, kept as sent. */
  flags: number;
  data: Buffer;
}

/** Parses a Send Data Request or Indication; undefined for any other domain PDU. */
export function parseSendData(pdu: Buffer): SendData | undefined {
  const type = domainPduType(pdu);
  if (type !== DOMAIN_PDU.SEND_DATA_REQUEST && type !== DOMAIN_PDU.SEND_DATA_INDICATION) return undefined;
  const r = new ByteReader(pdu, 'mcs', 1);
  const initiator = r.u16be('initiator') + MCS_USERCHANNEL_BASE;
  const channelId = r.u16be('channelId');
  const flags = r.u8('dataPriority/segmentation');
  const length = readPerLength(r, 'userData length');
  const data = r.bytes(length, 'userData');
  if (r.remaining) throw new RdpProtocolError('mcs', 'malformed', `${r.remaining} bytes after Send Data userData`);
  return { type, initiator, channelId, flags, data };
}

export function buildSendData(s: SendData): Buffer {
  const head = Buffer.alloc(6);
  head.writeUInt8(s.type << 2, 0);
  head.writeUInt16BE(s.initiator - MCS_USERCHANNEL_BASE, 1);
  head.writeUInt16BE(s.channelId, 3);
  head.writeUInt8(s.flags, 5);
  return Buffer.concat([head, perLength(s.data.length), s.data]);
}

/** MCS Disconnect Provider Ultimatum; reason 3 is rn-user-requested, what servers send on logoff. */
export function buildDisconnectProviderUltimatum(reason = 3): Buffer {
  return Buffer.from([(DOMAIN_PDU.DISCONNECT_PROVIDER_ULTIMATUM << 2) | (reason >> 1), (reason & 1) << 7]);
}
