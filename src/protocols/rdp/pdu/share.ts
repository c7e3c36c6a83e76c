// What the relay looks for in the target's slow-path PDUs on the I/O channel
// (MS-RDPBCGR 2.2.8.1.1.1): Server Redirection PDUs, which could send the client around
// the gateway straight to another host, and Save Session Info PDUs carrying an
// auto-reconnect cookie. With Enhanced RDP Security (TLS) a slow-path PDU after licensing
// starts with the Share Control Header; the Standard Security Server Redirection PDU
// keeps a basic security header with SEC_REDIRECTION_PKT.
import { SEC } from './client-info.js';

export const PDUTYPE = {
  DEMANDACTIVE: 0x1,
  CONFIRMACTIVE: 0x3,
  DEACTIVATEALL: 0x6,
  DATA: 0x7,
  SERVER_REDIR_PKT: 0xa,
} as const;

export const PDUTYPE2 = {
  UPDATE: 0x02,
  CONTROL: 0x14,
  POINTER: 0x1b,
  INPUT: 0x1c,
  SYNCHRONIZE: 0x1f,
  SAVE_SESSION_INFO: 0x26,
  FONTMAP: 0x28,
  SET_ERROR_INFO: 0x2f,
} as const;

/** The Share Data Header's pduType2 of an I/O channel payload that is a Share Data PDU (MS-RDPBCGR 2.2.8.1.1.1.2), if it is one. */
export function shareDataType(data: Buffer): number | undefined {
  const sc = shareControlHeader(data);
  return sc?.pduType === PDUTYPE.DATA && data.length >= 6 + 12 ? data.readUInt8(6 + 8) : undefined;
}

export const INFOTYPE = { LOGON: 0, LOGON_LONG: 1, LOGON_PLAINNOTIFY: 2, LOGON_EXTENDED_INFO: 3 } as const;
const LOGON_EX_AUTORECONNECTCOOKIE = 0x1;

export interface ShareControl {
  totalLength: number;
  pduType: number;
  pduSource: number;
}

/** The Share Control Header at the start of an I/O channel payload, if it is one. */
export function shareControlHeader(data: Buffer): ShareControl | undefined {
  if (data.length < 4) return undefined;
  const totalLength = data.readUInt16LE(0);
  // A Flow PDU has 0x8000 here and no real header; anything else must fit the payload.
  if (totalLength === 0x8000 || totalLength < 4 || totalLength > data.length) return undefined;
  return { totalLength, pduType: data.readUInt16LE(2) & 0xf, pduSource: data.length >= 6 ? data.readUInt16LE(4) : 0 };
}

/**
 * A Deactivate All PDU cut short after its share control header (xrdp 0.9 sends only those 6
 * bytes) completed to a TS_DEACTIVATE_ALL_PDU (MS-RDPBCGR 2.2.3.1): the share id, and a
 * one-byte empty source descriptor. Anything else: undefined.
 */
export function completeDeactivateAll(data: Buffer, shareId: number): Buffer | undefined {
  const sc = shareControlHeader(data);
  if (!sc || sc.pduType !== PDUTYPE.DEACTIVATEALL || data.length >= 10 || sc.totalLength !== data.length) return undefined;
  const out = Buffer.alloc(13);
  data.copy(out, 0, 0, Math.min(6, data.length));
  out.writeUInt16LE(out.length, 0);
  out.writeUInt32LE(shareId >>> 0, 6);
  out.writeUInt16LE(1, 10); // lengthSourceDescriptor
  return out;
}

export type ServerPduVerdict = 'forward' | 'redirection' | 'reconnect-cookie';

/**
 * Classifies one server → client I/O channel payload: a redirection (either form) is
 * dropped, as is a Save Session Info PDU that hands the client an auto-reconnect cookie.
 */
export function classifyServerPdu(data: Buffer): ServerPduVerdict {
  // TS_STANDARD_SECURITY_SERVER_REDIRECTION: security header with SEC_REDIRECTION_PKT,
  // then the redirection packet whose own Flags field is SEC_REDIRECTION_PKT again.
  if (data.length >= 6 && data.readUInt16LE(0) & SEC.REDIRECTION_PKT && data.readUInt16LE(4) === SEC.REDIRECTION_PKT) return 'redirection';
  const sc = shareControlHeader(data);
  if (!sc) return 'forward';
  if (sc.pduType === PDUTYPE.SERVER_REDIR_PKT) return 'redirection';
  if (sc.pduType === PDUTYPE.DATA && data.length >= 6 + 12 + 8) {
    // Share Data Header: shareId u32, pad u8, streamId u8, uncompressedLength u16, pduType2 u8, compressedType u8, compressedLength u16.
    const pduType2 = data.readUInt8(6 + 8);
    if (pduType2 === PDUTYPE2.SAVE_SESSION_INFO) {
      const infoType = data.readUInt32LE(6 + 12);
      // TS_LOGON_INFO_EXTENDED: Length u16, FieldsPresent u32, then the fields.
      if (infoType === INFOTYPE.LOGON_EXTENDED_INFO && data.length >= 6 + 12 + 4 + 6 && data.readUInt32LE(6 + 12 + 4 + 2) & LOGON_EX_AUTORECONNECTCOOKIE) return 'reconnect-cookie';
    }
  }
  return 'forward';
}

/** Set Error Info codes (2.2.5.1.1) the gateway may send when it ends a session. */
export const ERRINFO = {
  RPC_INITIATED_DISCONNECT: 0x00000001,
  RPC_INITIATED_LOGOFF: 0x00000002,
  IDLE_TIMEOUT: 0x00000003,
  LOGON_TIMEOUT: 0x00000004,
  DISCONNECTED_BY_OTHERCONNECTION: 0x00000005,
  RPC_INITIATED_DISCONNECT_BYUSER: 0x0000000b,
} as const;

/** The Share Control + Share Data headers and the errorInfo of a Set Error Info PDU (an I/O channel payload). */
export function buildSetErrorInfo(o: { shareId: number; pduSource: number; errorInfo: number }): Buffer {
  const b = Buffer.alloc(6 + 12 + 4);
  b.writeUInt16LE(b.length, 0);
  b.writeUInt16LE(0x10 | PDUTYPE.DATA, 2);
  b.writeUInt16LE(o.pduSource, 4);
  b.writeUInt32LE(o.shareId >>> 0, 6);
  b.writeUInt8(0, 10); // pad1
  b.writeUInt8(1, 11); // STREAM_LOW
  b.writeUInt16LE(4 + 4, 12); // uncompressedLength: pduType2 … compressedLength + errorInfo
  b.writeUInt8(PDUTYPE2.SET_ERROR_INFO, 14);
  b.writeUInt8(0, 15);
  b.writeUInt16LE(0, 16);
  b.writeUInt32LE(o.errorInfo >>> 0, 18);
  return b;
}
