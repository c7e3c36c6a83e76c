// A throwaway OpenSSH public key line, for tests that register SSH keys through the API.
import { generateKeyPairSync } from 'node:crypto';

/** A fresh "ssh-ed25519 AAAA… comment" line (a new key each call, so fingerprints never clash). */
export function sshPublicKeyLine(comment = 'test@gatehouse'): string {
  const raw = Buffer.from(generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const sshString = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(raw)]).toString('base64')} ${comment}`;
}
