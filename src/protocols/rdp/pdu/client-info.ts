// The Client Info PDU (MS-RDPBCGR 2.2.1.11): the basic security header with SEC_INFO_PKT
// and TS_INFO_PACKET, which carries the logon credentials. The gateway replaces the
// client's domain, user name and password with the vaulted ones, turns on auto-logon,
// writes every string as UTF-16LE, turns bulk compression off (the recorder reads
// uncompressed updates) and removes any auto-reconnect cookie the client presents (a
// cookie could log on to a session other than the vaulted account's).
import { RdpProtocolError } from '../errors.js';
import { ByteReader } from '../encoding/reader.js';

/** Basic security header flags (2.2.8.1.1.2.1). */
export const SEC = {
  EXCHANGE_PKT: 0x0001,
  TRANSPORT_REQ: 0x0002,
  TRANSPORT_RSP: 0x0004,
  ENCRYPT: 0x0008,
  RESET_SEQNO: 0x0010,
  IGNORE_SEQNO: 0x0020,
  INFO_PKT: 0x0040,
  LICENSE_PKT: 0x0080,
  LICENSE_ENCRYPT_CS: 0x0200,
  REDIRECTION_PKT: 0x0400,
  SECURE_CHECKSUM: 0x0800,
  AUTODETECT_REQ: 0x1000,
  AUTODETECT_RSP: 0x2000,
  HEARTBEAT: 0x4000,
  FLAGSHI_VALID: 0x8000,
} as const;

export const INFO = {
  MOUSE: 0x00000001,
  DISABLECTRLALTDEL: 0x00000002,
  AUTOLOGON: 0x00000008,
  UNICODE: 0x00000010,
  MAXIMIZESHELL: 0x00000020,
  LOGONNOTIFY: 0x00000040,
  COMPRESSION: 0x00000080,
  ENABLEWINDOWSKEY: 0x00000100,
  /** CompressionTypeMask: bits 9-12. */
  COMPRESSION_TYPE_MASK: 0x00001e00,
  REMOTECONSOLEAUDIO: 0x00002000,
  FORCE_ENCRYPTED_CS_PDU: 0x00004000,
  RAIL: 0x00008000,
  LOGONERRORS: 0x00010000,
  MOUSE_HAS_WHEEL: 0x00020000,
  PASSWORD_IS_SC_PIN: 0x00040000,
  NOAUDIOPLAYBACK: 0x00080000,
  USING_SAVED_CREDS: 0x00100000,
} as const;

/** Each of domain, user name and password holds at most this many bytes (without the terminator). */
export const INFO_FIELD_MAX_BYTES = 512;
const TIME_ZONE_INFORMATION_LENGTH = 172;

export interface ClientInfo {
  securityFlags: number;
  securityFlagsHi: number;
  codePage: number;
  flags: number;
  domain: string;
  userName: string;
  password: string;
  alternateShell: string;
  workingDir: string;
  /** TS_EXTENDED_INFO_PACKET as sent (may be empty). */
  extraInfo: Buffer;
}

/** Parses the Send Data Request payload of a Client Info PDU (security header included). */
export function parseClientInfo(data: Buffer): ClientInfo {
  const r = new ByteReader(data, 'mcs');
  const securityFlags = r.u16le('security flags');
  const securityFlagsHi = r.u16le('security flagsHi');
  if (!(securityFlags & SEC.INFO_PKT)) throw new RdpProtocolError('mcs', 'unexpected', 'not a Client Info PDU');
  if (securityFlags & SEC.ENCRYPT) throw new RdpProtocolError('mcs', 'unsupported', 'encrypted Client Info PDU (Standard RDP Security)');
  const codePage = r.u32le('CodePage');
  const flags = r.u32le('flags');
  const cb = [r.u16le('cbDomain'), r.u16le('cbUserName'), r.u16le('cbPassword'), r.u16le('cbAlternateShell'), r.u16le('cbWorkingDir')];
  if (cb.some((n) => n > INFO_FIELD_MAX_BYTES)) throw new RdpProtocolError('mcs', 'too_large', `Client Info field of ${Math.max(...cb)} bytes`);
  const unicode = (flags & INFO.UNICODE) !== 0;
  const text = (n: number, what: string) => {
    const b = r.bytes(n, what);
    r.skip(unicode ? 2 : 1, `${what} terminator`);
    return unicode ? b.subarray(0, n & ~1).toString('utf16le') : b.toString('latin1');
  };
  const [domain, userName, password, alternateShell, workingDir] = [text(cb[0]!, 'Domain'), text(cb[1]!, 'UserName'), text(cb[2]!, 'Password'), text(cb[3]!, 'AlternateShell'), text(cb[4]!, 'WorkingDir')];
  return { securityFlags, securityFlagsHi, codePage, flags, domain, userName, password, alternateShell, workingDir, extraInfo: Buffer.from(r.rest()) };
}

/** The extended info with its auto-reconnect cookie (if any) taken out. */
export function stripAutoReconnectCookie(extra: Buffer): { extraInfo: Buffer; removed: boolean } {
  if (extra.length === 0) return { extraInfo: extra, removed: false };
  const r = new ByteReader(extra, 'mcs');
  r.skip(2, 'clientAddressFamily');
  r.skip(r.u16le('cbClientAddress'), 'clientAddress');
  r.skip(r.u16le('cbClientDir'), 'clientDir');
  if (r.remaining < TIME_ZONE_INFORMATION_LENGTH + 4 + 4 + 2) return { extraInfo: extra, removed: false };
  r.skip(TIME_ZONE_INFORMATION_LENGTH + 4 + 4, 'clientTimeZone, clientSessionId, performanceFlags');
  const at = r.offset;
  const cbCookie = r.u16le('cbAutoReconnectCookie');
  if (cbCookie === 0) return { extraInfo: extra, removed: false };
  r.skip(cbCookie, 'autoReconnectCookie');
  const out = Buffer.concat([extra.subarray(0, at), Buffer.alloc(2), extra.subarray(r.offset)]);
  return { extraInfo: out, removed: true };
}

function field(s: string, what: string): Buffer {
  const b = Buffer.from(s, 'utf16le');
  if (b.length > INFO_FIELD_MAX_BYTES) throw new RangeError(`${what} is longer than ${INFO_FIELD_MAX_BYTES / 2} UTF-16 code units`);
  return b;
}

/** Encodes a Client Info payload (security header included), always as Unicode. */
export function encodeClientInfo(ci: ClientInfo): Buffer {
  const strings = [field(ci.domain, 'domain'), field(ci.userName, 'user name'), field(ci.password, 'password'), field(ci.alternateShell, 'alternate shell'), field(ci.workingDir, 'working directory')];
  const head = Buffer.alloc(4 + 8 + 10);
  head.writeUInt16LE(ci.securityFlags, 0);
  head.writeUInt16LE(ci.securityFlagsHi, 2);
  head.writeUInt32LE(ci.codePage >>> 0, 4);
  head.writeUInt32LE((ci.flags | INFO.UNICODE) >>> 0, 8);
  strings.forEach((s, i) => head.writeUInt16LE(s.length, 12 + 2 * i));
  const parts: Buffer[] = [head];
  for (const s of strings) parts.push(s, Buffer.alloc(2));
  parts.push(ci.extraInfo);
  return Buffer.concat(parts);
}

export interface InjectedLogon {
  domain: string;
  userName: string;
  password: string;
}

/**
 * The Client Info the target receives: the vaulted logon, auto-logon on, compression and
 * smart-card PIN off, no auto-reconnect cookie. Returns what changed, for the session notes.
 */
export function injectLogon(data: Buffer, logon: InjectedLogon): { data: Buffer; clientUserName: string; removedCookie: boolean } {
  const ci = parseClientInfo(data);
  const { extraInfo, removed } = stripAutoReconnectCookie(ci.extraInfo);
  const flags = ((ci.flags | INFO.AUTOLOGON | INFO.UNICODE) & ~(INFO.COMPRESSION | INFO.COMPRESSION_TYPE_MASK | INFO.PASSWORD_IS_SC_PIN | INFO.USING_SAVED_CREDS)) >>> 0;
  let out: Buffer;
  try {
    out = encodeClientInfo({ ...ci, flags, domain: logon.domain, userName: logon.userName, password: logon.password, extraInfo });
  } catch (e) {
    if (e instanceof RangeError) throw new RdpProtocolError('mcs', 'too_large', `Client Info: ${e.message}`);
    throw e;
  }
  return { data: out, clientUserName: ci.userName, removedCookie: removed };
}
