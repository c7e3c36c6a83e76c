// The public key proof of CredSSP (MS-CSSP 3.1.5): each side seals a value derived from
// the TLS server certificate's public key, binding the NTLM/Kerberos exchange to that TLS
// channel, so a man in the middle cannot relay it. From version 5 the value is a SHA-256
// over a magic string, the client nonce and the key; before that, the key itself (and the
// key with its first byte incremented from the server).
import { createHash } from 'node:crypto';
import { RdpProtocolError } from '../errors.js';
import { expectTlv, TAG } from '../encoding/ber.js';
import { ByteReader } from '../encoding/reader.js';

const CLIENT_MAGIC = Buffer.from('CredSSP Client-To-Server Binding Hash\0', 'latin1');
const SERVER_MAGIC = Buffer.from('CredSSP Server-To-Client Binding Hash\0', 'latin1');

/**
 * SubjectPublicKey as CredSSP hashes it: the contents of the SubjectPublicKeyInfo's BIT
 * STRING without its unused-bits byte (for RSA, the RSAPublicKey DER). Input: SPKI DER,
 * e.g. `x509.publicKey.export({ type: 'spki', format: 'der' })`.
 */
export function subjectPublicKey(spkiDer: Buffer): Buffer {
  const r = new ByteReader(spkiDer, 'credssp');
  const spki = expectTlv(r, TAG.SEQUENCE, 'SubjectPublicKeyInfo');
  const sr = new ByteReader(spkiDer, 'credssp', spki.end - spki.value.length, spki.end);
  expectTlv(sr, TAG.SEQUENCE, 'algorithm');
  const bits = expectTlv(sr, 0x03, 'subjectPublicKey').value;
  if (bits.length < 1 || bits.readUInt8(0) !== 0) throw new RdpProtocolError('credssp', 'malformed', 'subjectPublicKey is not whole bytes');
  return Buffer.from(bits.subarray(1));
}

const sha256 = (...parts: Buffer[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** What the client seals into pubKeyAuth. */
export function clientPubKeyAuth(version: number, publicKey: Buffer, clientNonce?: Buffer): Buffer {
  if (version >= 5) {
    if (!clientNonce || clientNonce.length !== 32) throw new RangeError('CredSSP 5+ needs a 32-byte client nonce');
    return sha256(CLIENT_MAGIC, clientNonce, publicKey);
  }
  return Buffer.from(publicKey);
}

/** What the server's unsealed pubKeyAuth must equal. */
export function expectedServerPubKeyAuth(version: number, publicKey: Buffer, clientNonce?: Buffer): Buffer {
  if (version >= 5) {
    if (!clientNonce || clientNonce.length !== 32) throw new RangeError('CredSSP 5+ needs a 32-byte client nonce');
    return sha256(SERVER_MAGIC, clientNonce, publicKey);
  }
  const b = Buffer.from(publicKey);
  if (b.length) b.writeUInt8((b.readUInt8(0) + 1) & 0xff, 0);
  return b;
}
