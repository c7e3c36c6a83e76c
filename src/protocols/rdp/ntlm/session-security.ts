// NTLM message integrity and confidentiality with extended session security
// (MS-NLMP 3.4.2-3.4.4), as CredSSP uses it: one RC4 handle and one sequence number per
// direction for the whole connection. Sealing encrypts the message first and the
// checksum after it with the same handle, so calls must happen in wire order.
import { timingSafeEqual } from 'node:crypto';
import { RdpProtocolError } from '../errors.js';
import { NTLMSSP } from './constants.js';
import { hmacMd5, sealKey, signKey } from './ntlmv2.js';
import { Rc4 } from './rc4.js';

export const NTLM_SIGNATURE_LENGTH = 16;
const SIGNATURE_VERSION = 1;

interface Direction {
  signKey: Buffer;
  sealKey: Buffer;
  rc4: Rc4;
  seq: number;
}

export class NtlmSessionSecurity {
  private readonly out: Direction;
  private readonly in: Direction;
  private readonly keyExchange: boolean;

  /**
   * @param exportedSessionKey the session key both sides derived
   * @param flags the negotiated flags (from AUTHENTICATE)
   * @param role which end this is: a client sends client-to-server
   */
  constructor(exportedSessionKey: Buffer, flags: number, role: 'client' | 'server') {
    if (!(flags & NTLMSSP.NEGOTIATE_EXTENDED_SESSIONSECURITY)) throw new RdpProtocolError('ntlm', 'unsupported', 'session security without extended session security');
    this.keyExchange = (flags & NTLMSSP.NEGOTIATE_KEY_EXCH) !== 0;
    const c2s = this.direction(exportedSessionKey, flags, 'client-to-server');
    const s2c = this.direction(exportedSessionKey, flags, 'server-to-client');
    this.out = role === 'client' ? c2s : s2c;
    this.in = role === 'client' ? s2c : c2s;
  }

  private direction(key: Buffer, flags: number, d: 'client-to-server' | 'server-to-client'): Direction {
    const seal = sealKey(key, flags, d);
    return { signKey: signKey(key, d), sealKey: seal, rc4: new Rc4(seal), seq: 0 };
  }

  /** The keys, for tests against MS-NLMP 4.2.4.4. */
  get keys(): { clientSigning: Buffer; clientSealing: Buffer; outgoingSeq: number; incomingSeq: number } {
    return { clientSigning: this.out.signKey, clientSealing: this.out.sealKey, outgoingSeq: this.out.seq, incomingSeq: this.in.seq };
  }

  private checksum(d: Direction, seq: number, message: Buffer): Buffer {
    const seqBytes = Buffer.alloc(4);
    seqBytes.writeUInt32LE(seq >>> 0, 0);
    const c = hmacMd5(d.signKey, seqBytes, message).subarray(0, 8);
    return this.keyExchange ? d.rc4.update(c) : Buffer.from(c);
  }

  private signature(checksum: Buffer, seq: number): Buffer {
    const s = Buffer.alloc(NTLM_SIGNATURE_LENGTH);
    s.writeUInt32LE(SIGNATURE_VERSION, 0);
    checksum.copy(s, 4);
    s.writeUInt32LE(seq >>> 0, 12);
    return s;
  }

  private verifySignature(d: Direction, expected: Buffer, got: Buffer): void {
    if (got.length !== NTLM_SIGNATURE_LENGTH) throw new RdpProtocolError('ntlm', 'malformed', `signature of ${got.length} bytes`);
    if (!timingSafeEqual(expected, got)) throw new RdpProtocolError('ntlm', 'integrity', `signature mismatch (sequence ${d.seq})`);
    d.seq++;
  }

  /** SEAL: returns the encrypted message and its 16-byte signature. */
  seal(message: Buffer): { sealed: Buffer; signature: Buffer } {
    const d = this.out;
    const sealed = d.rc4.update(message);
    const signature = this.signature(this.checksum(d, d.seq, message), d.seq);
    d.seq++;
    return { sealed, signature };
  }

  /** UNSEAL: decrypts and verifies; throws RdpProtocolError('integrity') on a bad signature. */
  unseal(sealed: Buffer, signature: Buffer): Buffer {
    const d = this.in;
    const message = d.rc4.update(sealed);
    this.verifySignature(d, this.signature(this.checksum(d, d.seq, message), d.seq), signature);
    return message;
  }

  /** GSS_GetMIC: a signature over the message, which is sent in clear. */
  sign(message: Buffer): Buffer {
    const d = this.out;
    const s = this.signature(this.checksum(d, d.seq, message), d.seq);
    d.seq++;
    return s;
  }

  verify(message: Buffer, signature: Buffer): void {
    const d = this.in;
    this.verifySignature(d, this.signature(this.checksum(d, d.seq, message), d.seq), signature);
  }

  /** CredSSP's EncryptMessage output: signature then sealed data (MS-CSSP 3.1.5). */
  wrap(message: Buffer): Buffer {
    const { sealed, signature } = this.seal(message);
    return Buffer.concat([signature, sealed]);
  }

  unwrap(token: Buffer): Buffer {
    if (token.length < NTLM_SIGNATURE_LENGTH) throw new RdpProtocolError('ntlm', 'truncated', `sealed token of ${token.length} bytes`);
    return this.unseal(token.subarray(NTLM_SIGNATURE_LENGTH), token.subarray(0, NTLM_SIGNATURE_LENGTH));
  }

  /**
   * Restarts a direction's RC4 stream (not its sequence number). Windows does this after
   * the SPNEGO mechListMIC, so signing it does not shift the stream the next messages use.
   */
  resetRc4(which: 'outgoing' | 'incoming'): void {
    const d = which === 'outgoing' ? this.out : this.in;
    d.rc4 = new Rc4(d.sealKey);
  }
}
