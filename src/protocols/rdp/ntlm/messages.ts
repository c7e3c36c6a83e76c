// NTLM message layouts (MS-NLMP 2.2.1): NEGOTIATE, CHALLENGE, AUTHENTICATE. Variable
// fields are (length u16, max length u16, offset u32) triples pointing into a payload;
// parsing checks every pointer against the message. Builders write the payload in the
// order Windows does (domain, user, workstation, LM, NT, session key), which makes the
// AUTHENTICATE of MS-NLMP 4.2.4.3 reproducible byte for byte.
import { RdpProtocolError } from '../errors.js';
import { ByteReader } from '../encoding/reader.js';
import { parseAvPairs, findAv, type AvPair, encodeAvPairs } from './av-pairs.js';
import { AV, MESSAGE_TYPE, NTLM_SIGNATURE, NTLMSSP } from './constants.js';

const NEGOTIATE_HEADER = 32;
const CHALLENGE_HEADER = 48;
const AUTHENTICATE_HEADER = 64;
const VERSION_LENGTH = 8;
const MIC_LENGTH = 16;
/** Offset of the MIC in an AUTHENTICATE message that carries VERSION. */
export const AUTHENTICATE_MIC_OFFSET = AUTHENTICATE_HEADER + VERSION_LENGTH;

function openMessage(msg: Buffer, type: number, minLength: number): ByteReader {
  const r = new ByteReader(msg, 'ntlm');
  if (msg.length < minLength) throw new RdpProtocolError('ntlm', 'truncated', `message of ${msg.length} bytes`);
  if (!r.bytes(8).equals(NTLM_SIGNATURE)) throw new RdpProtocolError('ntlm', 'malformed', 'no NTLMSSP signature');
  const t = r.u32le('MessageType');
  if (t !== type) throw new RdpProtocolError('ntlm', 'unexpected', `message type ${t}, expected ${type}`);
  return r;
}

/** Reads a (len, maxLen, offset) triple and returns the bytes it points at. */
function readField(r: ByteReader, what: string): { value: Buffer; offset: number } {
  const len = r.u16le(`${what} length`);
  r.u16le(`${what} max length`);
  const offset = r.u32le(`${what} offset`);
  if (len === 0) return { value: Buffer.alloc(0), offset };
  if (offset + len > r.buf.length) throw new RdpProtocolError('ntlm', 'truncated', `${what}: ${len} bytes at ${offset} past the ${r.buf.length}-byte message`);
  return { value: r.buf.subarray(offset, offset + len), offset };
}

/** Builds field triples for payloads laid out from `start` in the given order. */
function layout(start: number, payloads: Buffer[]): { fields: Buffer[]; payload: Buffer } {
  let offset = start;
  const fields = payloads.map((p) => {
    if (p.length > 0xffff) throw new RangeError('NTLM field too long');
    const f = Buffer.alloc(8);
    f.writeUInt16LE(p.length, 0);
    f.writeUInt16LE(p.length, 2);
    f.writeUInt32LE(offset, 4);
    offset += p.length;
    return f;
  });
  return { fields, payload: Buffer.concat(payloads) };
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
};

const text = (s: string, flags: number): Buffer => Buffer.from(s, flags & NTLMSSP.NEGOTIATE_UNICODE ? 'utf16le' : 'latin1');
const untext = (b: Buffer, flags: number): string => b.toString(flags & NTLMSSP.NEGOTIATE_UNICODE ? 'utf16le' : 'latin1');

function checkVersion(version: Buffer | undefined): Buffer {
  const v = version ?? Buffer.alloc(VERSION_LENGTH);
  if (v.length !== VERSION_LENGTH) throw new RangeError('NTLM VERSION is 8 bytes');
  return v;
}

// ---- NEGOTIATE ----

export interface NegotiateMessage {
  flags: number;
  version?: Buffer;
}

/** NEGOTIATE with no domain or workstation supplied (NTLMv2 does not need them here). */
export function buildNegotiateMessage(m: NegotiateMessage): Buffer {
  const withVersion = (m.flags & NTLMSSP.NEGOTIATE_VERSION) !== 0;
  const end = NEGOTIATE_HEADER + (withVersion ? VERSION_LENGTH : 0);
  const { fields } = layout(end, [Buffer.alloc(0), Buffer.alloc(0)]);
  const parts = [NTLM_SIGNATURE, u32(MESSAGE_TYPE.NEGOTIATE), u32(m.flags), ...fields];
  if (withVersion) parts.push(checkVersion(m.version));
  return Buffer.concat(parts);
}

export function parseNegotiateMessage(msg: Buffer): NegotiateMessage & { domain: string; workstation: string } {
  const r = openMessage(msg, MESSAGE_TYPE.NEGOTIATE, NEGOTIATE_HEADER);
  const flags = r.u32le('NegotiateFlags');
  // Domain and workstation in a NEGOTIATE are always OEM.
  const domain = readField(r, 'DomainName').value.toString('latin1');
  const workstation = readField(r, 'Workstation').value.toString('latin1');
  const out: NegotiateMessage & { domain: string; workstation: string } = { flags, domain, workstation };
  if (flags & NTLMSSP.NEGOTIATE_VERSION && r.remaining >= VERSION_LENGTH) out.version = Buffer.from(r.bytes(VERSION_LENGTH));
  return out;
}

// ---- CHALLENGE ----

export interface ChallengeMessage {
  flags: number;
  serverChallenge: Buffer;
  targetName: string;
  /** The raw AV pair list (EOL included), as it must be echoed in the NTLMv2 response. */
  targetInfo: Buffer;
  avPairs: AvPair[];
  /** MsvAvTimestamp, when the server sent one (the client must then send a MIC). */
  timestamp?: bigint;
  version?: Buffer;
}

export function parseChallengeMessage(msg: Buffer): ChallengeMessage {
  const r = openMessage(msg, MESSAGE_TYPE.CHALLENGE, 32);
  const targetNameField = readField(r, 'TargetName');
  const flags = r.u32le('NegotiateFlags');
  const serverChallenge = Buffer.from(r.bytes(8, 'ServerChallenge'));
  const out: ChallengeMessage = { flags, serverChallenge, targetName: untext(targetNameField.value, flags), targetInfo: Buffer.alloc(0), avPairs: [] };
  // Old servers end the message before TargetInfoFields.
  if (r.remaining >= 16) {
    r.skip(8, 'Reserved');
    const ti = readField(r, 'TargetInfo');
    out.targetInfo = Buffer.from(ti.value);
    out.avPairs = parseAvPairs(out.targetInfo);
    const ts = findAv(out.avPairs, AV.TIMESTAMP);
    if (ts) {
      if (ts.length !== 8) throw new RdpProtocolError('ntlm', 'malformed', `MsvAvTimestamp of ${ts.length} bytes`);
      out.timestamp = ts.readBigUInt64LE(0);
    }
    if (flags & NTLMSSP.NEGOTIATE_VERSION && r.remaining >= VERSION_LENGTH) out.version = Buffer.from(r.bytes(VERSION_LENGTH));
  }
  return out;
}

/** For tests and fuzz seeds: a CHALLENGE as a server would send it. */
export function buildChallengeMessage(m: { flags: number; serverChallenge: Buffer; targetName: string; avPairs: AvPair[]; version?: Buffer }): Buffer {
  const withVersion = (m.flags & NTLMSSP.NEGOTIATE_VERSION) !== 0;
  const start = CHALLENGE_HEADER + (withVersion ? VERSION_LENGTH : 0);
  const { fields, payload } = layout(start, [text(m.targetName, m.flags), encodeAvPairs(m.avPairs)]);
  const parts = [NTLM_SIGNATURE, u32(MESSAGE_TYPE.CHALLENGE), fields[0]!, u32(m.flags), m.serverChallenge, Buffer.alloc(8), fields[1]!];
  if (withVersion) parts.push(checkVersion(m.version));
  parts.push(payload);
  return Buffer.concat(parts);
}

// ---- AUTHENTICATE ----

export interface AuthenticateMessage {
  flags: number;
  lmChallengeResponse: Buffer;
  ntChallengeResponse: Buffer;
  domain: string;
  user: string;
  workstation: string;
  encryptedRandomSessionKey: Buffer;
  version?: Buffer;
  /** Present when parsed from a message that has one; for building, see withMic. */
  mic?: Buffer;
}

/** Builds an AUTHENTICATE; with `withMic` the MIC field is there, zeroed, for the caller to fill. */
export function buildAuthenticateMessage(m: AuthenticateMessage, withMic: boolean): Buffer {
  const withVersion = (m.flags & NTLMSSP.NEGOTIATE_VERSION) !== 0 || withMic;
  const start = AUTHENTICATE_HEADER + (withVersion ? VERSION_LENGTH : 0) + (withMic ? MIC_LENGTH : 0);
  const payloads = [text(m.domain, m.flags), text(m.user, m.flags), text(m.workstation, m.flags), m.lmChallengeResponse, m.ntChallengeResponse, m.encryptedRandomSessionKey];
  const { fields, payload } = layout(start, payloads);
  const [domain, user, workstation, lm, nt, key] = fields as [Buffer, Buffer, Buffer, Buffer, Buffer, Buffer];
  const parts = [NTLM_SIGNATURE, u32(MESSAGE_TYPE.AUTHENTICATE), lm, nt, domain, user, workstation, key, u32(m.flags)];
  if (withVersion) parts.push(checkVersion(m.version));
  if (withMic) parts.push(Buffer.alloc(MIC_LENGTH));
  parts.push(payload);
  return Buffer.concat(parts);
}

export function parseAuthenticateMessage(msg: Buffer): AuthenticateMessage {
  const r = openMessage(msg, MESSAGE_TYPE.AUTHENTICATE, AUTHENTICATE_HEADER);
  const lm = readField(r, 'LmChallengeResponse');
  const nt = readField(r, 'NtChallengeResponse');
  const domain = readField(r, 'DomainName');
  const user = readField(r, 'UserName');
  const workstation = readField(r, 'Workstation');
  const key = readField(r, 'EncryptedRandomSessionKey');
  const flags = r.u32le('NegotiateFlags');
  const out: AuthenticateMessage = {
    flags,
    lmChallengeResponse: Buffer.from(lm.value),
    ntChallengeResponse: Buffer.from(nt.value),
    domain: untext(domain.value, flags),
    user: untext(user.value, flags),
    workstation: untext(workstation.value, flags),
    encryptedRandomSessionKey: Buffer.from(key.value),
  };
  // The payload starts where the first non-empty field points; the header fields before it tell what is there.
  const firstPayload = Math.min(...[lm, nt, domain, user, workstation, key].filter((f) => f.value.length > 0).map((f) => f.offset), msg.length);
  if (firstPayload >= AUTHENTICATE_HEADER + VERSION_LENGTH) out.version = Buffer.from(msg.subarray(AUTHENTICATE_HEADER, AUTHENTICATE_HEADER + VERSION_LENGTH));
  if (firstPayload >= AUTHENTICATE_MIC_OFFSET + MIC_LENGTH) out.mic = Buffer.from(msg.subarray(AUTHENTICATE_MIC_OFFSET, AUTHENTICATE_MIC_OFFSET + MIC_LENGTH));
  return out;
}
