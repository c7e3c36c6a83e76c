// Ed25519 key that signs the chain head. Made at first start in the data dir (0600);
// its public half is pinned next to it (see pinning.ts) and also recorded in the
// database, where it is informational only: a key found only there is not trusted.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256hex } from '../util.js';

export const SIGNING_KEY_FILE = 'audit-signing.key';

export class AuditSigner {
  readonly keyId: string;
  readonly publicKeyPem: string;

  private constructor(
    private readonly key: KeyObject,
    /** True when this call made the key (first start). */
    readonly created: boolean,
  ) {
    this.publicKeyPem = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
    this.keyId = keyIdOf(this.publicKeyPem);
  }

  static load(dataDir: string): AuditSigner {
    const file = join(dataDir, SIGNING_KEY_FILE);
    if (!existsSync(file)) {
      const pem = newSigningKeyPem();
      writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
      return new AuditSigner(createPrivateKey(pem), true);
    }
    return new AuditSigner(createPrivateKey(readFileSync(file)), false);
  }

  sign(message: string): string {
    return sign(null, Buffer.from(message), this.key).toString('base64');
  }
}

/** A new Ed25519 signing key, PKCS#8 PEM. */
export const newSigningKeyPem = (): string => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/** Short label stored with each checkpoint to pick the key; not a security fingerprint. */
export const keyIdOf = (publicKeyPem: string): string => sha256hex(publicKeyPem.trim()).slice(0, 16);

/** What people compare: SHA-256 of the public key (SPKI DER), like ssh's SHA256: fingerprints. */
export function fingerprintOf(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return `SHA256:${createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`;
}

/** The public key on one line (base64 SPKI DER), as printed at first start; pinning.ts reads it back. */
export const publicKeyLine = (publicKeyPem: string): string => createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' }).toString('base64');

/**
 * v2 also signs when the checkpoint was made, so an exported checkpoint proves "this head
 * existed at that time". v1 (seq and hash only) is what earlier versions signed.
 */
export const checkpointMessage = (seq: number, hash: string, createdAt?: number): string =>
  createdAt === undefined ? `gatehouse-audit-checkpoint:v1:${seq}:${hash}` : `gatehouse-audit-checkpoint:v2:${seq}:${hash}:${createdAt}`;

export function verifySignature(publicKeyPem: string, message: string, signature: string): boolean {
  try {
    return verify(null, Buffer.from(message), createPublicKey(publicKeyPem), Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
