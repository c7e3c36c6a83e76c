// RDCleanPath, the handshake IronRDP's web client speaks to a gateway over a WebSocket
// (the browser cannot open TCP or do the RDP TLS upgrade itself). One DER-encoded PDU
// each way, before any RDP byte:
//   browser → gateway  request: version, destination, proxy auth token (for Gatehouse the
//                      launch ticket), the client's X.224 Connection Request, optionally a
//                      preconnection blob;
//   gateway → browser  response: the X.224 Connection Confirm, the certificate chain the
//                      client is to take as the server's, the server's address; or an error
//                      (a general code and optionally an HTTP status, WSA or TLS alert code).
// After it the WebSocket carries plain RDP (the gateway holds the TLS leg to the target).
//
// ASN.1 (explicit context tags, all optional but the version):
//   RDCleanPathPdu ::= SEQUENCE {
//     version [0] INTEGER (3390), error [1] RDCleanPathErr, destination [2] UTF8String,
//     proxyAuth [3] UTF8String, serverAuth [4] UTF8String, preconnectionBlob [5] UTF8String,
//     x224ConnectionPdu [6] OCTET STRING, serverCertChain [7] SEQUENCE OF OCTET STRING,
//     serverAddr [9] UTF8String }
//   RDCleanPathErr ::= SEQUENCE { errorCode [0] INTEGER, httpStatusCode [1] INTEGER,
//     wsaLastError [2] INTEGER, tlsAlertCode [3] INTEGER }
// The decoder is strict (definite short or long lengths only, fields in tag order, each
// within a bound) and throws RdCleanPathError on anything else; it never touches a socket.

export const RDCLEANPATH_VERSION = 3390;
export const GENERAL_ERROR = 1;
export const NEGOTIATION_ERROR = 2;

/** Bounds on what a browser may send: a ticket is 64 characters, an X.224 request is small. */
export const LIMITS = {
  pdu: 16 * 1024,
  destination: 256,
  proxyAuth: 256,
  serverAuth: 1024,
  preconnectionBlob: 1024,
  x224: 1024,
  certChain: 8,
  cert: 16 * 1024,
  serverAddr: 64,
} as const;

export class RdCleanPathError extends Error {
  override readonly name = 'RdCleanPathError';
  constructor(
    readonly reason: 'truncated' | 'malformed' | 'too_large' | 'unsupported',
    message: string,
  ) {
    super(message);
  }
}

export interface RdCleanPathErr {
  errorCode: number;
  httpStatusCode?: number;
  wsaLastError?: number;
  tlsAlertCode?: number;
}

export interface RdCleanPathPdu {
  version: number;
  error?: RdCleanPathErr;
  destination?: string;
  proxyAuth?: string;
  serverAuth?: string;
  preconnectionBlob?: string;
  x224?: Buffer;
  serverCertChain?: Buffer[];
  serverAddr?: string;
}

export interface RdCleanPathRequest {
  destination: string;
  proxyAuth: string;
  preconnectionBlob?: string;
  x224: Buffer;
}

const TAG = { INTEGER: 0x02, OCTET_STRING: 0x04, UTF8: 0x0c, SEQUENCE: 0x30 } as const;
const ctx = (n: number) => 0xa0 | n;

// ---------- reading ----------

interface Tlv {
  tag: number;
  body: Buffer;
  /** Offset just past this element. */
  end: number;
}

/** Header of the element at `off`: tag, header length and body length; null when more bytes are needed. */
function header(buf: Buffer, off: number): { tag: number; headerLen: number; len: number } | null {
  if (buf.length < off + 2) return null;
  const tag = buf[off]!;
  if ((tag & 0x1f) === 0x1f) throw new RdCleanPathError('unsupported', 'multi-byte ASN.1 tags are not used by RDCleanPath');
  const first = buf[off + 1]!;
  if (first < 0x80) return { tag, headerLen: 2, len: first };
  const n = first & 0x7f;
  if (n === 0) throw new RdCleanPathError('malformed', 'indefinite lengths are not DER');
  if (n > 3) throw new RdCleanPathError('too_large', `a ${n}-byte DER length`);
  if (buf.length < off + 2 + n) return null;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + buf[off + 2 + i]!;
  if (len < 0x80 || (n > 1 && buf[off + 2] === 0)) throw new RdCleanPathError('malformed', 'a DER length not in its shortest form');
  return { tag, headerLen: 2 + n, len };
}

function tlv(buf: Buffer, off: number, limit: number): Tlv {
  const h = header(buf, off);
  if (!h) throw new RdCleanPathError('truncated', 'the PDU ends inside an element header');
  if (h.len > limit) throw new RdCleanPathError('too_large', `an element of ${h.len} bytes (at most ${limit})`);
  const start = off + h.headerLen;
  if (start + h.len > buf.length) throw new RdCleanPathError('truncated', 'the PDU ends inside an element');
  return { tag: h.tag, body: buf.subarray(start, start + h.len), end: start + h.len };
}

/** The elements of a constructed body, in order. */
function children(body: Buffer, limit: number): Tlv[] {
  const out: Tlv[] = [];
  let off = 0;
  while (off < body.length) {
    const t = tlv(body, off, limit);
    out.push(t);
    off = t.end;
  }
  return out;
}

/** The single element inside an explicit context tag, which must be of type `inner`. */
function explicit(t: Tlv, inner: number, limit: number): Buffer {
  const inside = children(t.body, limit);
  if (inside.length !== 1 || inside[0]!.tag !== inner) throw new RdCleanPathError('malformed', `context tag [${t.tag & 0x1f}] does not hold one element of the expected type`);
  return inside[0]!.body;
}

function integer(b: Buffer, max: number): number {
  if (b.length === 0) throw new RdCleanPathError('malformed', 'an empty INTEGER');
  if (b.length > 1 && ((b[0] === 0 && b[1]! < 0x80) || (b[0] === 0xff && b[1]! >= 0x80))) throw new RdCleanPathError('malformed', 'an INTEGER not in its shortest form');
  if (b[0]! & 0x80) throw new RdCleanPathError('malformed', 'a negative INTEGER');
  if (b.length > 5) throw new RdCleanPathError('too_large', 'an INTEGER too large');
  let v = 0;
  for (const x of b) v = v * 256 + x;
  if (v > max) throw new RdCleanPathError('too_large', `an INTEGER above ${max}`);
  return v;
}

function utf8(b: Buffer, limit: number, what: string): string {
  if (b.length > limit) throw new RdCleanPathError('too_large', `${what} of ${b.length} bytes (at most ${limit})`);
  const s = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  try {
    return s.decode(b);
  } catch {
    throw new RdCleanPathError('malformed', `${what} is not valid UTF-8`);
  }
}

/**
 * How many bytes the PDU at the start of `buf` takes: a number once its outer header is
 * in, null while more bytes are needed. Throws when the bytes cannot start an RDCleanPath
 * PDU (not a SEQUENCE, or longer than the limit): a stream reader can refuse early.
 */
export function pduLength(buf: Buffer, limit: number = LIMITS.pdu): number | null {
  if (buf.length === 0) return null;
  if (buf[0] !== TAG.SEQUENCE) throw new RdCleanPathError('malformed', 'not an RDCleanPath PDU (no DER SEQUENCE)');
  const h = header(buf, 0);
  if (!h) return null;
  const total = h.headerLen + h.len;
  if (total > limit) throw new RdCleanPathError('too_large', `an RDCleanPath PDU of ${total} bytes (at most ${limit})`);
  return total;
}

function decodeErr(b: Buffer): RdCleanPathErr {
  const out: Partial<RdCleanPathErr> = {};
  let last = -1;
  for (const t of children(b, 64)) {
    const n = t.tag & 0x1f;
    if ((t.tag & 0xe0) !== 0xa0 || n > 3 || n <= last) throw new RdCleanPathError('malformed', `unexpected field in RDCleanPathErr (tag 0x${t.tag.toString(16)})`);
    last = n;
    const v = integer(explicit(t, TAG.INTEGER, 16), n === 3 ? 0xff : 0xffff);
    if (n === 0) out.errorCode = v;
    else if (n === 1) out.httpStatusCode = v;
    else if (n === 2) out.wsaLastError = v;
    else out.tlsAlertCode = v;
  }
  if (out.errorCode === undefined) throw new RdCleanPathError('malformed', 'RDCleanPathErr without an error code');
  return out as RdCleanPathErr;
}

/** Decodes one whole PDU (exactly `buf`). */
export function decodePdu(buf: Buffer): RdCleanPathPdu {
  const len = pduLength(buf);
  if (len === null || len > buf.length) throw new RdCleanPathError('truncated', 'the RDCleanPath PDU is incomplete');
  if (len < buf.length) throw new RdCleanPathError('malformed', 'bytes after the RDCleanPath PDU');
  const outer = tlv(buf, 0, LIMITS.pdu);
  let version: number | undefined;
  const pdu: Partial<RdCleanPathPdu> = {};
  let last = -1;
  for (const t of children(outer.body, LIMITS.pdu)) {
    const n = t.tag & 0x1f;
    if ((t.tag & 0xe0) !== 0xa0) throw new RdCleanPathError('malformed', `a field that is not context-tagged (tag 0x${t.tag.toString(16)})`);
    if (n <= last) throw new RdCleanPathError('malformed', `field [${n}] out of order or repeated`);
    last = n;
    switch (n) {
      case 0:
        version = integer(explicit(t, TAG.INTEGER, 16), 0xffffffff);
        break;
      case 1:
        pdu.error = decodeErr(explicit(t, TAG.SEQUENCE, 256));
        break;
      case 2:
        pdu.destination = utf8(explicit(t, TAG.UTF8, LIMITS.destination), LIMITS.destination, 'the destination');
        break;
      case 3:
        pdu.proxyAuth = utf8(explicit(t, TAG.UTF8, LIMITS.proxyAuth), LIMITS.proxyAuth, 'the proxy auth token');
        break;
      case 4:
        pdu.serverAuth = utf8(explicit(t, TAG.UTF8, LIMITS.serverAuth), LIMITS.serverAuth, 'the server auth');
        break;
      case 5:
        pdu.preconnectionBlob = utf8(explicit(t, TAG.UTF8, LIMITS.preconnectionBlob), LIMITS.preconnectionBlob, 'the preconnection blob');
        break;
      case 6:
        pdu.x224 = Buffer.from(explicit(t, TAG.OCTET_STRING, LIMITS.x224));
        break;
      case 7: {
        const certs = children(explicit(t, TAG.SEQUENCE, LIMITS.pdu), LIMITS.cert);
        if (certs.length > LIMITS.certChain) throw new RdCleanPathError('too_large', `a chain of ${certs.length} certificates`);
        pdu.serverCertChain = certs.map((c) => {
          if (c.tag !== TAG.OCTET_STRING) throw new RdCleanPathError('malformed', 'a certificate that is not an OCTET STRING');
          return Buffer.from(c.body);
        });
        break;
      }
      case 9:
        pdu.serverAddr = utf8(explicit(t, TAG.UTF8, LIMITS.serverAddr), LIMITS.serverAddr, 'the server address');
        break;
      default:
        throw new RdCleanPathError('unsupported', `unknown RDCleanPath field [${n}]`);
    }
  }
  if (version === undefined) throw new RdCleanPathError('malformed', 'the RDCleanPath PDU has no version');
  if (version !== RDCLEANPATH_VERSION) throw new RdCleanPathError('unsupported', `RDCleanPath version ${version} (Gatehouse speaks ${RDCLEANPATH_VERSION})`);
  return { ...pdu, version } as RdCleanPathPdu;
}

/** Decodes a browser's request: destination, proxy auth and the X.224 request are required; no error or response fields. */
export function decodeRequest(buf: Buffer): RdCleanPathRequest {
  const p = decodePdu(buf);
  if (p.error || p.serverCertChain || p.serverAddr !== undefined) throw new RdCleanPathError('malformed', 'a response or error where a request belongs');
  if (p.destination === undefined) throw new RdCleanPathError('malformed', 'the request has no destination');
  if (p.proxyAuth === undefined) throw new RdCleanPathError('malformed', 'the request has no proxy auth token');
  if (!p.x224?.length) throw new RdCleanPathError('malformed', 'the request has no X.224 Connection Request');
  return { destination: p.destination, proxyAuth: p.proxyAuth, x224: p.x224, ...(p.preconnectionBlob !== undefined ? { preconnectionBlob: p.preconnectionBlob } : {}) };
}

// ---------- writing ----------

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const element = (tag: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);

function derInteger(v: number): Buffer {
  const bytes: number[] = [];
  for (let x = v; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
  if (!bytes.length || bytes[0]! & 0x80) bytes.unshift(0);
  return element(TAG.INTEGER, Buffer.from(bytes));
}

const field = (n: number, inner: Buffer): Buffer => element(ctx(n), inner);

/** Encodes any PDU (fields left out are absent). */
export function encodePdu(p: Omit<RdCleanPathPdu, 'version'> & { version?: number }): Buffer {
  const parts: Buffer[] = [field(0, derInteger(p.version ?? RDCLEANPATH_VERSION))];
  if (p.error) {
    const e = p.error;
    const inner = [field(0, derInteger(e.errorCode))];
    if (e.httpStatusCode !== undefined) inner.push(field(1, derInteger(e.httpStatusCode)));
    if (e.wsaLastError !== undefined) inner.push(field(2, derInteger(e.wsaLastError)));
    if (e.tlsAlertCode !== undefined) inner.push(field(3, derInteger(e.tlsAlertCode)));
    parts.push(field(1, element(TAG.SEQUENCE, Buffer.concat(inner))));
  }
  const str = (n: number, s: string | undefined) => s !== undefined && parts.push(field(n, element(TAG.UTF8, Buffer.from(s, 'utf8'))));
  str(2, p.destination);
  str(3, p.proxyAuth);
  str(4, p.serverAuth);
  str(5, p.preconnectionBlob);
  if (p.x224) parts.push(field(6, element(TAG.OCTET_STRING, p.x224)));
  if (p.serverCertChain) parts.push(field(7, element(TAG.SEQUENCE, Buffer.concat(p.serverCertChain.map((c) => element(TAG.OCTET_STRING, c))))));
  str(9, p.serverAddr);
  return element(TAG.SEQUENCE, Buffer.concat(parts));
}

/** The gateway's answer: the Connection Confirm, the certificate chain (DER) and the server's address (ip:port). */
export const encodeResponse = (o: { x224: Buffer; certChain: Buffer[]; serverAddr: string }): Buffer => encodePdu({ x224: o.x224, serverCertChain: o.certChain, serverAddr: o.serverAddr });

/** A refusal the web client shows as an RDCleanPath error (an HTTP status says what kind). */
export const encodeError = (e: Partial<RdCleanPathErr> = {}): Buffer => encodePdu({ error: { errorCode: GENERAL_ERROR, ...e } });
