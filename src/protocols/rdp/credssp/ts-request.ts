// CredSSP structures (MS-CSSP 2.2.1), DER-encoded: TSRequest, which carries the SPNEGO or
// NTLM tokens, the sealed public key proof and the sealed credentials; TSCredentials and
// TSPasswordCreds, which carry the vaulted password to the target once the channel is
// proven. Decoding skips unknown context tags (later versions add fields) but refuses
// duplicates, so a field cannot mean two things.
import { RdpProtocolError } from '../errors.js';
import { berContext, berInteger, berOctetString, berSequence, expectTlv, integerValue, readLength, readTag, readTlv, TAG } from '../encoding/ber.js';
import { ByteReader } from '../encoding/reader.js';

/** The newest CredSSP version Gatehouse speaks (nonce-bound public key hashes from 5 on). */
export const CREDSSP_VERSION = 6;

export interface TsRequest {
  version: number;
  negoTokens?: Buffer[];
  authInfo?: Buffer;
  pubKeyAuth?: Buffer;
  /** An NTSTATUS (unsigned 32-bit), sent by version 3+ servers on failure. */
  errorCode?: number;
  /** 32 random bytes, version 5+. */
  clientNonce?: Buffer;
}

export function encodeTsRequest(t: TsRequest): Buffer {
  const fields: Buffer[] = [berContext(0, berInteger(t.version))];
  if (t.negoTokens?.length) fields.push(berContext(1, berSequence(...t.negoTokens.map((tok) => berSequence(berContext(0, berOctetString(tok)))))));
  if (t.authInfo) fields.push(berContext(2, berOctetString(t.authInfo)));
  if (t.pubKeyAuth) fields.push(berContext(3, berOctetString(t.pubKeyAuth)));
  if (t.errorCode !== undefined) fields.push(berContext(4, berInteger(t.errorCode >>> 0)));
  if (t.clientNonce) fields.push(berContext(5, berOctetString(t.clientNonce)));
  return berSequence(...fields);
}

/** Reads a SEQUENCE of [n]-tagged fields into a map, refusing duplicates. */
function contextFields(r: ByteReader, what: string): Map<number, ByteReader> {
  const seq = expectTlv(r, TAG.SEQUENCE, what);
  const sr = new ByteReader(r.buf, r.layer, seq.end - seq.value.length, seq.end);
  const fields = new Map<number, ByteReader>();
  while (sr.remaining > 0) {
    const f = readTlv(sr, `${what} field`);
    if ((f.tag & 0xe0) !== 0xa0) continue;
    const n = f.tag & 0x1f;
    if (fields.has(n)) throw new RdpProtocolError(r.layer, 'malformed', `${what}: field [${n}] twice`);
    fields.set(n, new ByteReader(r.buf, r.layer, f.end - f.value.length, f.end));
  }
  return fields;
}

function octets(r: ByteReader | undefined, what: string): Buffer | undefined {
  return r ? Buffer.from(expectTlv(r, TAG.OCTET_STRING, what).value) : undefined;
}

export function decodeTsRequest(buf: Buffer): TsRequest {
  const r = new ByteReader(buf, 'credssp');
  const f = contextFields(r, 'TSRequest');
  if (r.remaining) throw new RdpProtocolError('credssp', 'malformed', `${r.remaining} bytes after TSRequest`);
  const v = f.get(0);
  if (!v) throw new RdpProtocolError('credssp', 'malformed', 'TSRequest without version');
  const t: TsRequest = { version: integerValue(expectTlv(v, TAG.INTEGER, 'version').value, 'credssp', 'version') };
  const nego = f.get(1);
  if (nego) {
    const list = expectTlv(nego, TAG.SEQUENCE, 'negoTokens');
    const lr = new ByteReader(buf, 'credssp', list.end - list.value.length, list.end);
    t.negoTokens = [];
    while (lr.remaining > 0) {
      const item = contextFields(lr, 'NegoData item');
      const tok = octets(item.get(0), 'negoToken');
      if (!tok) throw new RdpProtocolError('credssp', 'malformed', 'NegoData item without negoToken');
      t.negoTokens.push(tok);
    }
  }
  const authInfo = octets(f.get(2), 'authInfo');
  if (authInfo) t.authInfo = authInfo;
  const pubKeyAuth = octets(f.get(3), 'pubKeyAuth');
  if (pubKeyAuth) t.pubKeyAuth = pubKeyAuth;
  const err = f.get(4);
  if (err) t.errorCode = integerValue(expectTlv(err, TAG.INTEGER, 'errorCode').value, 'credssp', 'errorCode') >>> 0;
  const nonce = octets(f.get(5), 'clientNonce');
  if (nonce) t.clientNonce = nonce;
  return t;
}

/**
 * Framing on the TLS stream, where TSRequests follow each other with no other length:
 * the whole message length from its first bytes, or undefined until the header is in.
 */
export function tsRequestLength(head: Buffer, max = 1 << 20): number | undefined {
  const r = new ByteReader(head, 'credssp');
  try {
    if (readTag(r) !== TAG.SEQUENCE) throw new RdpProtocolError('credssp', 'malformed', 'TSRequest does not start with a SEQUENCE');
    const len = readLength(r, 'TSRequest length');
    const total = r.offset + len;
    if (total > max) throw new RdpProtocolError('credssp', 'too_large', `TSRequest of ${total} bytes`);
    return total;
  } catch (e) {
    if (e instanceof RdpProtocolError && e.reason === 'truncated') return undefined;
    throw e;
  }
}

// ---- credentials ----

export const CRED_TYPE = { PASSWORD: 1, SMARTCARD: 2, REMOTE_GUARD: 6 } as const;

export interface PasswordCreds {
  domain: string;
  username: string;
  password: string;
}

const utf16 = (s: string) => Buffer.from(s, 'utf16le');

export function encodeTsPasswordCreds(c: PasswordCreds): Buffer {
  return berSequence(berContext(0, berOctetString(utf16(c.domain))), berContext(1, berOctetString(utf16(c.username))), berContext(2, berOctetString(utf16(c.password))));
}

/** TSCredentials of type password: what goes (sealed) into the final TSRequest's authInfo. */
export function encodeTsCredentials(c: PasswordCreds): Buffer {
  return berSequence(berContext(0, berInteger(CRED_TYPE.PASSWORD)), berContext(1, berOctetString(encodeTsPasswordCreds(c))));
}

export function decodeTsCredentials(buf: Buffer): { credType: number; credentials: Buffer } {
  const r = new ByteReader(buf, 'credssp');
  const f = contextFields(r, 'TSCredentials');
  const type = f.get(0);
  const creds = octets(f.get(1), 'credentials');
  if (!type || !creds) throw new RdpProtocolError('credssp', 'malformed', 'TSCredentials without credType or credentials');
  return { credType: integerValue(expectTlv(type, TAG.INTEGER, 'credType').value, 'credssp', 'credType'), credentials: creds };
}

export function decodeTsPasswordCreds(buf: Buffer): PasswordCreds {
  const f = contextFields(new ByteReader(buf, 'credssp'), 'TSPasswordCreds');
  const text = (n: number, what: string) => {
    const b = octets(f.get(n), what);
    if (!b) throw new RdpProtocolError('credssp', 'malformed', `TSPasswordCreds without ${what}`);
    return b.toString('utf16le');
  };
  return { domain: text(0, 'domainName'), username: text(1, 'userName'), password: text(2, 'password') };
}

