// The logon-ticket RSA key (seed 004): external portals encrypt the Windows credential with
// its public modulus and exponent (RSA PKCS#1 v1.5, as the seed's C# sample). Made at first
// start and kept in the data dir (logon-ticket.key, PEM, mode 0600); rotation writes a new
// one in its place (the old one stops decrypting at once: requests encrypted with it fail).
// Node 20 refuses PKCS#1 v1.5 private decryption (CVE-2023-46809, the Marvin attack), so the
// raw RSA result is unpadded here, without branching on the secret bytes until the end; every
// failure is the same null, and the caller answers every refusal with the same generic error.
import { constants, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, privateDecrypt, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const LOGON_KEY_FILE = 'logon-ticket.key';
const BITS = 2048;

export interface LogonKeyInfo {
  /** SHA-256 of the DER public key, hex: what an operator compares after a rotation. */
  fingerprint: string;
  bits: number;
  /** `modulus:exponent` in hex, as /socket.io/WCREDS answers it. */
  modulusExponent: string;
}

export class LogonTicketKey {
  private key: KeyObject;
  private info: LogonKeyInfo;
  private pem: string;
  /** Told of every rotation (a cluster stores the new key for the other nodes: src/server.ts). */
  private readonly rotated: ((pem: string) => Promise<void>)[] = [];

  private constructor(
    private readonly file: string,
    pem: string,
  ) {
    this.pem = pem;
    this.key = createPrivateKey(pem);
    this.info = describe(this.key);
  }

  onRotate(fn: (pem: string) => Promise<void>): void {
    this.rotated.push(fn);
  }

  /** Tells the rotation listeners of the current key (after rotate()). */
  async announce(): Promise<void> {
    for (const fn of this.rotated) await fn(this.pem);
  }

  /** Takes the key in the file again (another node of the cluster rotated it). */
  reload(): void {
    const pem = readFileSync(this.file, 'utf8');
    this.key = createPrivateKey(pem);
    this.info = describe(this.key);
    this.pem = pem;
  }

  /** The key of this data dir, made (0600) when there is none yet. */
  static load(dataDir: string): { key: LogonTicketKey; created: boolean } {
    const file = join(dataDir, LOGON_KEY_FILE);
    if (existsSync(file)) return { key: new LogonTicketKey(file, readFileSync(file, 'utf8')), created: false };
    const pem = newPem();
    writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
    return { key: new LogonTicketKey(file, pem), created: true };
  }

  get public(): LogonKeyInfo {
    return this.info;
  }

  /** Length in bytes every RSA blob must have. */
  get blobLength(): number {
    return this.info.bits / 8;
  }

  /** A new key in place of this one (file replaced atomically, 0600). Answers the old and new fingerprints, and the old key to restore() should the rotation be undone. */
  rotate(): { previous: string; current: string; previousPem: string } {
    const previous = this.info.fingerprint;
    const previousPem = this.pem;
    this.install(newPem());
    return { previous, current: this.info.fingerprint, previousPem };
  }

  /** Puts a key back in place (a rotation the cluster could not store: undone, so every node keeps one key). */
  restore(pem: string): void {
    this.install(pem);
  }

  private install(pem: string): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, pem, { mode: 0o600 });
    renameSync(tmp, this.file);
    this.key = createPrivateKey(pem);
    this.info = describe(this.key);
    this.pem = pem;
  }

  /** The plaintext of a PKCS#1 v1.5 blob made with the public key, or null (wrong length, wrong key, bad padding). */
  decrypt(blob: Buffer): Buffer | null {
    if (blob.length !== this.blobLength) return null;
    let raw: Buffer;
    try {
      raw = privateDecrypt({ key: this.key, padding: constants.RSA_NO_PADDING }, blob);
    } catch {
      return null; // e.g. a value not below the modulus
    }
    return unpadPkcs1Type2(raw);
  }
}

/**
 * EM = 0x00 || 0x02 || PS (at least 8 non-zero bytes) || 0x00 || M (RFC 8017, 7.2.2). The scan
 * runs over the whole block whatever it finds, so its time does not tell where it failed.
 */
export function unpadPkcs1Type2(em: Buffer): Buffer | null {
  let bad = (em[0]! | (em[1]! ^ 2)) !== 0 ? 1 : 0;
  let sep = 0;
  let found = 0;
  for (let i = 2; i < em.length; i++) {
    const zero = em[i] === 0 ? 1 : 0;
    const first = zero & (found ^ 1);
    sep = first ? i : sep;
    found |= zero;
  }
  bad |= found ^ 1;
  bad |= sep < 10 ? 1 : 0; // PS shorter than 8 bytes
  return bad ? null : Buffer.from(em.subarray(sep + 1));
}

/** A new logon-ticket RSA key, PKCS#8 PEM. */
export function newPem(): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: BITS, publicExponent: 0x10001 });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function describe(key: KeyObject): LogonKeyInfo {
  const pub = createPublicKey(key);
  const jwk = pub.export({ format: 'jwk' }) as { n: string; e: string };
  const n = Buffer.from(jwk.n, 'base64url');
  const e = Buffer.from(jwk.e, 'base64url');
  // The seed's sample answer: lower-case hex, the exponent without leading zeros (10001).
  const hex = (b: Buffer) => b.toString('hex').replace(/^0+(?=.)/, '');
  return {
    fingerprint: createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex'),
    bits: n.length * 8,
    modulusExponent: `${hex(n)}:${hex(e)}`,
  };
}
