// SPNEGO (RFC 4178, MS-SPNG) wrapping of NTLM tokens for CredSSP's negoTokens. Encoding
// produces the common forms (NegTokenInit inside the GSS-API [APPLICATION 0] header,
// NegTokenResp bare); decoding is tolerant: it accepts a NegTokenInit with or without
// the header, MS-SPNG's NegTokenInit2 (negHints), unknown fields, and raw NTLMSSP tokens,
// which Windows' Negotiate package also sends and accepts.
import { RdpProtocolError } from '../errors.js';
import { berContext, berEnumerated, berOctetString, berOid, berSequence, decodeOid, expectTlv, integerValue, readTlv, TAG, tlv, type Tlv } from '../encoding/ber.js';
import { ByteReader } from '../encoding/reader.js';
import { NTLM_SIGNATURE } from '../ntlm/constants.js';

export const OID = {
  SPNEGO: '1.3.6.1.5.5.2',
  NTLMSSP: '1.3.6.1.4.1.311.2.2.10',
  KRB5: '1.2.840.113554.1.2.2',
  MS_KRB5: '1.2.840.48018.1.2.2',
} as const;

export const NEG_STATE = { ACCEPT_COMPLETED: 0, ACCEPT_INCOMPLETE: 1, REJECT: 2, REQUEST_MIC: 3 } as const;

const GSS_APPLICATION_0 = 0x60;
const NEG_TOKEN_INIT = 0xa0;
const NEG_TOKEN_RESP = 0xa1;

/** The DER MechTypeList: what mechListMIC signs. */
export const encodeMechTypeList = (oids: string[]): Buffer => berSequence(...oids.map(berOid));

export interface NegTokenInit {
  mechTypes: string[];
  mechToken?: Buffer;
  mechListMIC?: Buffer;
}

export function encodeNegTokenInit(t: NegTokenInit): Buffer {
  const fields = [berContext(0, encodeMechTypeList(t.mechTypes))];
  if (t.mechToken) fields.push(berContext(2, berOctetString(t.mechToken)));
  if (t.mechListMIC) fields.push(berContext(3, berOctetString(t.mechListMIC)));
  return tlv(GSS_APPLICATION_0, berOid(OID.SPNEGO), berContext(0, berSequence(...fields)));
}

export interface NegTokenResp {
  negState?: number;
  supportedMech?: string;
  responseToken?: Buffer;
  mechListMIC?: Buffer;
}

export function encodeNegTokenResp(t: NegTokenResp): Buffer {
  const fields: Buffer[] = [];
  if (t.negState !== undefined) fields.push(berContext(0, berEnumerated(t.negState)));
  if (t.supportedMech) fields.push(berContext(1, berOid(t.supportedMech)));
  if (t.responseToken) fields.push(berContext(2, berOctetString(t.responseToken)));
  if (t.mechListMIC) fields.push(berContext(3, berOctetString(t.mechListMIC)));
  return berContext(1, berSequence(...fields));
}

export type SpnegoToken =
  | ({ kind: 'init'; /** The exact MechTypeList bytes received, to verify a mechListMIC over. */ mechTypesDer: Buffer; hintName?: string } & NegTokenInit)
  | ({ kind: 'resp' } & NegTokenResp)
  /** A bare NTLMSSP message, not wrapped at all. */
  | { kind: 'ntlm'; token: Buffer };

const valueReader = (buf: Buffer, t: Tlv) => new ByteReader(buf, 'spnego', t.end - t.value.length, t.end);

function fields(buf: Buffer, seq: Tlv): Map<number, Tlv> {
  const r = valueReader(buf, seq);
  const m = new Map<number, Tlv>();
  while (r.remaining > 0) {
    const f = readTlv(r, 'field');
    if ((f.tag & 0xe0) !== 0xa0) continue;
    const n = f.tag & 0x1f;
    if (m.has(n)) throw new RdpProtocolError('spnego', 'malformed', `field [${n}] twice`);
    m.set(n, f);
  }
  return m;
}

/** The single element inside an explicit [n] tag. */
function innerOf(buf: Buffer, f: Tlv, tag: number, what: string): Tlv {
  return expectTlv(valueReader(buf, f), tag, what);
}

export function decodeSpnego(buf: Buffer): SpnegoToken {
  if (buf.subarray(0, NTLM_SIGNATURE.length).equals(NTLM_SIGNATURE)) return { kind: 'ntlm', token: Buffer.from(buf) };
  const r = new ByteReader(buf, 'spnego');
  let token = readTlv(r, 'SPNEGO token');
  if (r.remaining) throw new RdpProtocolError('spnego', 'malformed', `${r.remaining} bytes after the token`);
  if (token.tag === GSS_APPLICATION_0) {
    const ar = valueReader(buf, token);
    const oid = decodeOid(expectTlv(ar, TAG.OID, 'thisMech').value, 'spnego');
    if (oid !== OID.SPNEGO) throw new RdpProtocolError('spnego', 'unsupported', `mechanism ${oid} is not SPNEGO`);
    token = readTlv(ar, 'NegotiationToken');
  }
  if (token.tag === NEG_TOKEN_INIT) {
    const f = fields(buf, innerOf(buf, token, TAG.SEQUENCE, 'NegTokenInit'));
    const mt = f.get(0);
    if (!mt) throw new RdpProtocolError('spnego', 'malformed', 'NegTokenInit without mechTypes');
    const list = innerOf(buf, mt, TAG.SEQUENCE, 'mechTypes');
    const lr = valueReader(buf, list);
    const mechTypes: string[] = [];
    while (lr.remaining > 0) mechTypes.push(decodeOid(expectTlv(lr, TAG.OID, 'MechType').value, 'spnego'));
    const out: SpnegoToken = { kind: 'init', mechTypes, mechTypesDer: Buffer.from(buf.subarray(list.start, list.end)) };
    const tok = f.get(2);
    if (tok) out.mechToken = Buffer.from(innerOf(buf, tok, TAG.OCTET_STRING, 'mechToken').value);
    // [3] is mechListMIC in RFC 4178 and negHints in MS-SPNG's NegTokenInit2, where [4] is the MIC.
    const f3 = f.get(3);
    if (f3) {
      const inner = readTlv(valueReader(buf, f3), 'field [3]');
      if (inner.tag === TAG.OCTET_STRING) out.mechListMIC = Buffer.from(inner.value);
      else if (inner.tag === TAG.SEQUENCE) {
        const hint = fields(buf, inner).get(0);
        // hintName is a GeneralString; Windows puts "not_defined_in_RFC4178@please_ignore" there.
        if (hint) out.hintName = readTlv(valueReader(buf, hint), 'hintName').value.toString('latin1');
      }
    }
    const f4 = f.get(4);
    if (f4) out.mechListMIC = Buffer.from(innerOf(buf, f4, TAG.OCTET_STRING, 'mechListMIC').value);
    return out;
  }
  if (token.tag === NEG_TOKEN_RESP) {
    const f = fields(buf, innerOf(buf, token, TAG.SEQUENCE, 'NegTokenResp'));
    const out: SpnegoToken = { kind: 'resp' };
    const st = f.get(0);
    if (st) out.negState = integerValue(innerOf(buf, st, TAG.ENUMERATED, 'negState').value, 'spnego', 'negState');
    const sm = f.get(1);
    if (sm) out.supportedMech = decodeOid(innerOf(buf, sm, TAG.OID, 'supportedMech').value, 'spnego');
    const rt = f.get(2);
    if (rt) out.responseToken = Buffer.from(innerOf(buf, rt, TAG.OCTET_STRING, 'responseToken').value);
    const mic = f.get(3);
    if (mic) out.mechListMIC = Buffer.from(innerOf(buf, mic, TAG.OCTET_STRING, 'mechListMIC').value);
    return out;
  }
  throw new RdpProtocolError('spnego', 'malformed', `token tag 0x${token.tag.toString(16)}`);
}

/** The NTLM message inside whatever form the peer used, if any. */
export function ntlmTokenOf(t: SpnegoToken): Buffer | undefined {
  return t.kind === 'ntlm' ? t.token : t.kind === 'init' ? t.mechToken : t.responseToken;
}
