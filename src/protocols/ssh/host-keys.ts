// The SSH door's own host keys, made at first start in the data dir (0600): Ed25519 (OpenSSH
// format, as ssh2 writes it) and RSA 3072 (PKCS#1 PEM) for clients without Ed25519; RSA is
// offered with SHA-2 signatures only (serverHostKeys below). An install that predates the
// Ed25519 key gets one added at its next start. The ECDSA (NIST P-256) key older installs
// made is no longer offered; its file is left alone.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2, { type EncryptedPrivateKey, type ParsedKey } from 'ssh2';

export interface DoorHostKey {
  pem: string;
  /** "ssh-ed25519 AAAA…" line for known_hosts. */
  publicLine: string;
}

/**
 * ssh2 1.17's generator writes an OpenSSH Ed25519 key that its own parser rejects
 * ("Malformed OpenSSH private key") about once in 170 keys; a start that made such a key
 * could never start again. Keep only a key that parses.
 */
export function makeEd25519(): string {
  for (let i = 0; i < 20; i++) {
    const pem = ssh2.utils.generateKeyPairSync('ed25519').private;
    if (!(ssh2.utils.parseKey(pem) instanceof Error)) return pem;
  }
  throw new Error('could not make an Ed25519 host key that parses');
}

/** A new RSA 3072 host key (PKCS#1 PEM). */
export const makeRsaHostKey = (): string => generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();

/** The host key files in the data dir (a cluster shares them: src/cluster-identity.ts). */
export const HOST_KEY_FILES = { ed25519: 'ssh_host_ed25519_key', rsa: 'ssh_host_rsa_key.pem' } as const;

export function loadDoorHostKeys(dataDir: string): DoorHostKey[] {
  const specs = [
    { file: HOST_KEY_FILES.ed25519, make: makeEd25519 },
    { file: HOST_KEY_FILES.rsa, make: makeRsaHostKey },
  ];
  return specs.map(({ file, make }) => {
    const path = join(dataDir, file);
    if (!existsSync(path)) writeFileSync(path, make(), { mode: 0o600, flag: 'wx' });
    const pem = readFileSync(path, 'utf8');
    const parsed = ssh2.utils.parseKey(pem);
    if (parsed instanceof Error) throw new Error(`cannot read SSH host key ${path}: ${parsed.message}`);
    const k = Array.isArray(parsed) ? parsed[0]! : parsed;
    return { pem, publicLine: `${k.type} ${k.getPublicSSH().toString('base64')}` };
  });
}

/**
 * The host keys in the form ssh2's Server takes, so that an RSA key is offered with SHA-2
 * signatures only. Given an RSA key, ssh2 always adds the SHA-1 `ssh-rsa` signature name to
 * its offer, even when `algorithms.serverHostKey` leaves it out; given the parsed key once
 * under each SHA-2 name instead, it offers exactly those names and signs with the hash each
 * one names (the key blob stays `ssh-rsa`, as RFC 8332 wants).
 */
export function serverHostKeys(keys: DoorHostKey[]): EncryptedPrivateKey[] {
  return keys.flatMap(({ pem }) => {
    const parsed = ssh2.utils.parseKey(pem) as ParsedKey | ParsedKey[];
    const key = Array.isArray(parsed) ? parsed[0]! : parsed;
    if (key.type !== 'ssh-rsa') return [{ key }];
    return (['rsa-sha2-512', 'rsa-sha2-256'] as const).map((type) => ({ key: Object.create(key, { type: { value: type } }) as ParsedKey }));
  });
}
