// X.224 (ISO 8073 class 0) as RDP uses it (MS-RDPBCGR 2.2.1.1, 2.2.1.2): the Connection
// Request carrying the routing token or cookie and RDP_NEG_REQ, the Connection Confirm
// carrying RDP_NEG_RSP / RDP_NEG_FAILURE, and the Data TPDU header around every later
// slow-path PDU. All functions take or return whole TPKT frames.
//
// The routing token is where Gatehouse's ticket arrives: the .rdp file's loadbalanceinfo
// is sent verbatim followed by CRLF (e.g. xfreerdp: `03 00 00 29 24 e0 00 00 00 00 00`
// + token + `0d 0a` + `01 00 08 00 01 00 00 00`). It is never forwarded to the target:
// the request toward the target is built fresh and has no way to carry one.
import { RdpProtocolError } from '../errors.js';
import { ByteReader } from '../encoding/reader.js';
import { buildTpkt, TPKT_VERSION } from './tpkt.js';

export const TPDU = {
  CONNECTION_REQUEST: 0xe0,
  CONNECTION_CONFIRM: 0xd0,
  DISCONNECT_REQUEST: 0x80,
  DATA: 0xf0,
  ERROR: 0x70,
} as const;

/** requestedProtocols / selectedProtocol bits. */
export const PROTOCOL = {
  RDP: 0x0,
  SSL: 0x1,
  HYBRID: 0x2,
  RDSTLS: 0x4,
  HYBRID_EX: 0x8,
  RDSAAD: 0x10,
} as const;

export const NEG_TYPE = { REQUEST: 0x01, RESPONSE: 0x02, FAILURE: 0x03, CORRELATION_INFO: 0x06 } as const;

export const NEG_REQ_FLAGS = {
  RESTRICTED_ADMIN_MODE_REQUIRED: 0x01,
  REDIRECTED_AUTHENTICATION_MODE_REQUIRED: 0x02,
  CORRELATION_INFO_PRESENT: 0x08,
} as const;

export const NEG_RSP_FLAGS = {
  EXTENDED_CLIENT_DATA_SUPPORTED: 0x01,
  DYNVC_GFX_PROTOCOL_SUPPORTED: 0x02,
  NEGRSP_FLAG_RESERVED: 0x04,
  RESTRICTED_ADMIN_MODE_SUPPORTED: 0x08,
  REDIRECTED_AUTHENTICATION_MODE_SUPPORTED: 0x10,
} as const;

export const NEG_FAILURE = {
  SSL_REQUIRED_BY_SERVER: 1,
  SSL_NOT_ALLOWED_BY_SERVER: 2,
  SSL_CERT_NOT_ON_SERVER: 3,
  INCONSISTENT_FLAGS: 4,
  HYBRID_REQUIRED_BY_SERVER: 5,
  SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER: 6,
} as const;

const COOKIE_PREFIX = Buffer.from('Cookie: mstshash=', 'latin1');
const MSTS_PREFIX = Buffer.from('Cookie: msts=', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');
const NEG_LENGTH = 8;
const CORRELATION_INFO_LENGTH = 36;

interface OpenedTpdu {
  r: ByteReader;
  li: number;
  code: number;
}

/** Checks the TPKT header and the X.224 length indicator; leaves the reader after the code byte. */
function openTpdu(frame: Buffer): OpenedTpdu {
  const r = new ByteReader(frame, 'x224');
  if (r.u8('TPKT version') !== TPKT_VERSION) throw new RdpProtocolError('tpkt', 'malformed', 'not a TPKT');
  r.skip(1, 'TPKT reserved');
  const length = r.u16be('TPKT length');
  if (length !== frame.length) throw new RdpProtocolError('tpkt', length > frame.length ? 'truncated' : 'malformed', `length ${length}, frame of ${frame.length} bytes`);
  const li = r.u8('length indicator');
  const code = r.u8('TPDU code');
  return { r, li, code };
}

/** The TPDU code of a TPKT frame (high nibble only for CR/CC, whose low nibble is credit). */
export function tpduCode(frame: Buffer): number {
  const { code } = openTpdu(frame);
  return (code & 0xf0) === TPDU.CONNECTION_REQUEST || (code & 0xf0) === TPDU.CONNECTION_CONFIRM ? code & 0xf0 : code;
}

/** LI counts the header bytes after itself; it is one byte, so a longer CR cannot state it. */
function checkLi(frame: Buffer, li: number, min: number): void {
  const after = frame.length - 5;
  if (li < min) throw new RdpProtocolError('x224', 'malformed', `length indicator ${li}`);
  if (after <= 254 && li !== after) throw new RdpProtocolError('x224', 'malformed', `length indicator ${li}, ${after} bytes follow`);
}

export interface NegotiationRequest {
  flags: number;
  requestedProtocols: number;
}

export interface ConnectionRequest {
  /** The routing token as sent, CRLF included (a `Cookie: msts=` token or a raw one). */
  routingToken?: Buffer;
  /** `msts`: a load-balancer token `Cookie: msts=…`; `raw`: anything else (loadbalanceinfo as xfreerdp and mstsc send it). */
  routingTokenKind?: 'msts' | 'raw';
  /** The token's text without CRLF (and without `Cookie: msts=`): for Gatehouse, the ticket. */
  routingTokenValue?: string;
  /** The `Cookie: mstshash=` value: a (truncated) user name, never a ticket. */
  cookie?: string;
  negReq?: NegotiationRequest;
  correlationId?: Buffer;
}

export function parseConnectionRequest(frame: Buffer): ConnectionRequest {
  const { r, li, code } = openTpdu(frame);
  if ((code & 0xf0) !== TPDU.CONNECTION_REQUEST) throw new RdpProtocolError('x224', 'unexpected', `TPDU 0x${code.toString(16)} instead of a Connection Request`);
  checkLi(frame, li, 6);
  r.skip(2, 'DST-REF');
  r.skip(2, 'SRC-REF');
  r.skip(1, 'class option');
  const v = r.rest();
  const cr: ConnectionRequest = {};
  let pos = 0;
  const isNegReqAt = (p: number) => v.length - p >= NEG_LENGTH && v.readUInt8(p) === NEG_TYPE.REQUEST && v.readUInt16LE(p + 2) === NEG_LENGTH;
  if (v.length > 0 && !isNegReqAt(0)) {
    const crlf = v.indexOf(CRLF);
    if (crlf < 0) throw new RdpProtocolError('x224', 'malformed', 'cookie or routing token without CRLF');
    const token = v.subarray(0, crlf + 2);
    pos = crlf + 2;
    if (token.subarray(0, COOKIE_PREFIX.length).equals(COOKIE_PREFIX)) {
      cr.cookie = token.subarray(COOKIE_PREFIX.length, crlf).toString('latin1');
    } else {
      cr.routingToken = Buffer.from(token);
      const msts = token.subarray(0, MSTS_PREFIX.length).equals(MSTS_PREFIX);
      cr.routingTokenKind = msts ? 'msts' : 'raw';
      cr.routingTokenValue = token.subarray(msts ? MSTS_PREFIX.length : 0, crlf).toString('latin1');
    }
  }
  if (pos < v.length) {
    const nr = new ByteReader(v, 'x224', pos);
    const type = nr.u8('RDP_NEG_REQ type');
    if (type !== NEG_TYPE.REQUEST) throw new RdpProtocolError('x224', 'malformed', `negotiation type ${type} in a Connection Request`);
    const flags = nr.u8('RDP_NEG_REQ flags');
    const length = nr.u16le('RDP_NEG_REQ length');
    if (length !== NEG_LENGTH) throw new RdpProtocolError('x224', 'malformed', `RDP_NEG_REQ length ${length}`);
    cr.negReq = { flags, requestedProtocols: nr.u32le('requestedProtocols') };
    if (nr.remaining && flags & NEG_REQ_FLAGS.CORRELATION_INFO_PRESENT) {
      const ci = nr.sub(CORRELATION_INFO_LENGTH, 'RDP_NEG_CORRELATION_INFO');
      const ciType = ci.u8();
      ci.skip(1);
      const ciLength = ci.u16le();
      if (ciType !== NEG_TYPE.CORRELATION_INFO || ciLength !== CORRELATION_INFO_LENGTH) throw new RdpProtocolError('x224', 'malformed', 'bad RDP_NEG_CORRELATION_INFO header');
      cr.correlationId = Buffer.from(ci.bytes(16));
    }
    if (nr.remaining) throw new RdpProtocolError('x224', 'malformed', `${nr.remaining} bytes after the negotiation request`);
  }
  return cr;
}

function tpduHeader(code: number, variableLength: number, srcRef = 0): Buffer {
  const li = 6 + variableLength;
  if (li > 254) throw new RangeError(`X.224 header of ${li} bytes`);
  return Buffer.from([li, code, 0, 0, srcRef >> 8, srcRef & 0xff, 0]);
}

function negotiation(type: number, flags: number, value: number): Buffer {
  const b = Buffer.alloc(NEG_LENGTH);
  b.writeUInt8(type, 0);
  b.writeUInt8(flags, 1);
  b.writeUInt16LE(NEG_LENGTH, 2);
  b.writeUInt32LE(value >>> 0, 4);
  return b;
}

/**
 * A Connection Request toward a target. There is deliberately no routing token option:
 * the ticket the person presented ends at the gateway.
 */
export function buildConnectionRequest(o: { requestedProtocols: number; flags?: number; cookie?: string }): Buffer {
  let variable = Buffer.alloc(0);
  if (o.cookie !== undefined) {
    if (!/^[\x20-\x7e]*$/.test(o.cookie)) throw new RangeError('cookie must be printable ASCII');
    variable = Buffer.concat([COOKIE_PREFIX, Buffer.from(o.cookie, 'latin1'), CRLF]);
  }
  const neg = negotiation(NEG_TYPE.REQUEST, o.flags ?? 0, o.requestedProtocols);
  return buildTpkt(Buffer.concat([tpduHeader(TPDU.CONNECTION_REQUEST, variable.length + NEG_LENGTH), variable, neg]));
}

export type NegotiationResult = { type: 'response'; flags: number; selectedProtocol: number } | { type: 'failure'; failureCode: number };

/**
 * A Connection Confirm. With no negotiation it answers a client that sent no RDP_NEG_REQ
 * (which then must not receive one).
 */
export function buildConnectionConfirm(neg?: { selectedProtocol: number; flags?: number } | { failureCode: number }): Buffer {
  const srcRef = 0x1234;
  if (!neg) return buildTpkt(tpduHeader(TPDU.CONNECTION_CONFIRM, 0, srcRef));
  const body = 'failureCode' in neg ? negotiation(NEG_TYPE.FAILURE, 0, neg.failureCode) : negotiation(NEG_TYPE.RESPONSE, neg.flags ?? 0, neg.selectedProtocol);
  return buildTpkt(Buffer.concat([tpduHeader(TPDU.CONNECTION_CONFIRM, NEG_LENGTH, srcRef), body]));
}

export function parseConnectionConfirm(frame: Buffer): { negotiation?: NegotiationResult } {
  const { r, li, code } = openTpdu(frame);
  if ((code & 0xf0) !== TPDU.CONNECTION_CONFIRM) throw new RdpProtocolError('x224', 'unexpected', `TPDU 0x${code.toString(16)} instead of a Connection Confirm`);
  checkLi(frame, li, 6);
  r.skip(5, 'DST-REF, SRC-REF, class');
  if (r.remaining === 0) return {};
  const type = r.u8('negotiation type');
  const flags = r.u8('negotiation flags');
  const length = r.u16le('negotiation length');
  if (length !== NEG_LENGTH) throw new RdpProtocolError('x224', 'malformed', `negotiation length ${length}`);
  const value = r.u32le('negotiation value');
  if (r.remaining) throw new RdpProtocolError('x224', 'malformed', `${r.remaining} bytes after the negotiation response`);
  if (type === NEG_TYPE.RESPONSE) return { negotiation: { type: 'response', flags, selectedProtocol: value } };
  if (type === NEG_TYPE.FAILURE) return { negotiation: { type: 'failure', failureCode: value } };
  throw new RdpProtocolError('x224', 'malformed', `negotiation type ${type} in a Connection Confirm`);
}

const DATA_HEADER = Buffer.from([0x02, TPDU.DATA, 0x80]);

/** Wraps an MCS PDU in an X.224 Data TPDU and a TPKT. */
export function buildDataTpdu(payload: Buffer): Buffer {
  return buildTpkt(Buffer.concat([DATA_HEADER, payload]));
}

/** The payload of an X.224 Data TPDU frame. */
export function parseDataTpdu(frame: Buffer): Buffer {
  const { r, li, code } = openTpdu(frame);
  if (code !== TPDU.DATA) throw new RdpProtocolError('x224', 'unexpected', `TPDU 0x${code.toString(16)} instead of Data`);
  if (li !== 2) throw new RdpProtocolError('x224', 'malformed', `Data TPDU length indicator ${li}`);
  // RDP never segments: the EOT bit is always set.
  if (r.u8('EOT') !== 0x80) throw new RdpProtocolError('x224', 'unsupported', 'segmented Data TPDU');
  return r.rest();
}
