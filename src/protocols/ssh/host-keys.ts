// The SSH door's own host keys, made at first start in the data dir (0600). RSA and
// ECDSA in PEM (PKCS#1 / SEC1), the formats ssh2 reads without conversion.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';

export interface DoorHostKey {
  pem: string;
  /** "ssh-rsa AAAA…" line for known_hosts. */
  publicLine: string;
}

export function loadDoorHostKeys(dataDir: string): DoorHostKey[] {
  const specs = [
    { file: 'ssh_host_ecdsa_key.pem', make: () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'sec1', format: 'pem' }).toString() },
    { file: 'ssh_host_rsa_key.pem', make: () => generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString() },
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
