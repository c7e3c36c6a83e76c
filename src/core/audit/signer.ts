// Ed25519 key that signs the chain head. Made at first start in the data dir (0600);
// its public half is recorded in the database so any node can verify any checkpoint.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256hex } from '../util.js';

export class AuditSigner {
  readonly keyId: string;
  readonly publicKeyPem: string;

  private constructor(private readonly key: KeyObject) {
    this.publicKeyPem = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
    this.keyId = keyIdOf(this.publicKeyPem);
  }

  static load(dataDir: string): AuditSigner {
    const file = join(dataDir, 'audit-signing.key');
    if (!existsSync(file)) {
      const { privateKey } = generateKeyPairSync('ed25519');
      writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
      return new AuditSigner(privateKey);
    }
    return new AuditSigner(createPrivateKey(readFileSync(file)));
  }

  sign(message: string): string {
    return sign(null, Buffer.from(message), this.key).toString('base64');
  }
}

export const keyIdOf = (publicKeyPem: string): string => sha256hex(publicKeyPem.trim()).slice(0, 16);

export const checkpointMessage = (seq: number, hash: string): string => `gatehouse-audit-checkpoint:v1:${seq}:${hash}`;

export function verifySignature(publicKeyPem: string, message: string, signature: string): boolean {
  try {
    return verify(null, Buffer.from(message), createPublicKey(publicKeyPem), Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
