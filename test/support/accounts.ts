// The local Unix account that SSH and Telnet targets log in as. Tests run as root
// (CI and the dev machines do), so the account is created on demand.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, chmodSync, readFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import ssh2 from 'ssh2';

export const TARGET_USER = 'ghtarget';
/** Distinctive so that leak tests can grep for it. */
export const TARGET_PASSWORD = 'Tg7-Vault-Only-Pw!9x';

let ensured = false;

export function ensureTargetAccount(): { username: string; password: string; home: string } {
  if (!ensured) {
    ensureLocalAccount(TARGET_USER, TARGET_PASSWORD);
    ensured = true;
  }
  return { username: TARGET_USER, password: TARGET_PASSWORD, home: `/home/${TARGET_USER}` };
}

/** A local account with a bash login shell, created if missing, whose password becomes `password` (UTF-8, any characters but ':' and newlines). */
export function ensureLocalAccount(username: string, password: string): { username: string; password: string; home: string } {
  try {
    execFileSync('id', [username], { stdio: 'ignore' });
  } catch {
    try {
      execFileSync('useradd', ['-m', '-s', '/bin/bash', username], { stdio: 'pipe' });
    } catch (e) {
      // A parallel test file may have created it a moment ago.
      execFileSync('id', [username], { stdio: 'ignore' });
      void e;
    }
  }
  execFileSync('chpasswd', [], { input: Buffer.from(`${username}:${password}\n`, 'utf8') });
  return { username, password, home: `/home/${username}` };
}

/**
 * An OpenSSH key pair authorised for the target account. The private key is PEM
 * (what ssh2 and the vault accept); the public key line goes to authorized_keys.
 */
export function ensureTargetKey(): { privateKey: string; publicKey: string } {
  const { home } = ensureTargetAccount();
  const dir = join(home, '.ssh');
  const keyFile = '/tmp/gatehouse-test-target-key.pem';
  let privateKey: string;
  if (existsSync(keyFile)) privateKey = readFileSync(keyFile, 'utf8');
  else {
    privateKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    writeFileSync(keyFile, privateKey, { mode: 0o600 });
  }
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error) throw parsed;
  const k = Array.isArray(parsed) ? parsed[0]! : parsed;
  const publicKey = `${k.type} ${k.getPublicSSH().toString('base64')} gatehouse-test`;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ak = join(dir, 'authorized_keys');
  const cur = existsSync(ak) ? readFileSync(ak, 'utf8') : '';
  if (!cur.includes(publicKey)) writeFileSync(ak, cur + publicKey + '\n', { mode: 0o600 });
  chmodSync(ak, 0o600);
  execFileSync('chown', ['-R', `${TARGET_USER}:${TARGET_USER}`, dir]);
  return { privateKey, publicKey };
}
