// Envelope encryption: every secret (and every TOTP seed) has its own random 256-bit
// data key; data keys are stored wrapped (AES-256-GCM) by the master key. Rotating the
// master key rewraps the data keys only, so it is cheap and can run while serving.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, decodeMasterKey } from '../config.js';
import { sha256hex } from './util.js';

export const kekIdOf = (key: Buffer): string => sha256hex(Buffer.concat([Buffer.from('gatehouse-kek:'), key])).slice(0, 16);

export function seal(key: Buffer, plaintext: Buffer, aad: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64');
}

export function unseal(key: Buffer, sealed: string, aad: string): Buffer {
  const buf = Buffer.from(sealed, 'base64');
  if (buf.length < 28) throw new Error('sealed value too short');
  const d = createDecipheriv('aes-256-gcm', key, buf.subarray(0, 12));
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(buf.subarray(12, 28));
  return Buffer.concat([d.update(buf.subarray(28)), d.final()]);
}

export type KeySource = 'env' | 'file';

export class Keyring {
  private keys = new Map<string, Buffer>();
  private current: string;

  constructor(
    key: Buffer,
    readonly source: KeySource,
    private readonly file?: string,
    previous: Buffer[] = [],
  ) {
    this.current = kekIdOf(key);
    this.keys.set(this.current, key);
    for (const k of previous) this.keys.set(kekIdOf(k), k);
  }

  /** GATEHOUSE_MASTER_KEY wins; otherwise the key file in the data dir, created at first start (0600). */
  static load(dataDir: string, envKey?: string): { keyring: Keyring; created: boolean } {
    if (envKey) return { keyring: new Keyring(decodeMasterKey(envKey), 'env'), created: false };
    const file = join(dataDir, 'master.key');
    if (!existsSync(file)) {
      const key = randomBytes(32);
      writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
      return { keyring: new Keyring(key, 'file', file), created: true };
    }
    const lines = readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
    if (lines.length === 0) throw new ConfigError('GATEHOUSE_MASTER_KEY', `key file ${file} is empty`);
    const keys = lines.map((l) => decodeMasterKey(l, `key file ${file}`));
    return { keyring: new Keyring(keys[0]!, 'file', file, keys.slice(1)), created: false };
  }

  get currentId(): string {
    return this.current;
  }

  has(kekId: string): boolean {
    return this.keys.has(kekId);
  }

  wrap(dataKey: Buffer, dataKeyId: string): { kekId: string; wrapped: string } {
    return { kekId: this.current, wrapped: seal(this.keys.get(this.current)!, dataKey, `dk:${dataKeyId}`) };
  }

  unwrap(kekId: string, wrapped: string, dataKeyId: string): Buffer {
    const key = this.keys.get(kekId);
    if (!key) throw new Error(`master key ${kekId} is not loaded`);
    return unseal(key, wrapped, `dk:${dataKeyId}`);
  }

  /** Makes `key` current while keeping the old ones for unwrapping; persists both when file-backed. */
  beginRotation(key: Buffer): void {
    const id = kekIdOf(key);
    this.keys.set(id, key);
    this.current = id;
    this.persist();
  }

  /** Drops every key but the current one once nothing is wrapped by them. */
  finishRotation(): void {
    for (const id of [...this.keys.keys()]) if (id !== this.current) this.keys.delete(id);
    this.persist();
  }

  private persist(): void {
    if (this.source !== 'file' || !this.file) return;
    const ordered = [this.keys.get(this.current)!, ...[...this.keys.entries()].filter(([id]) => id !== this.current).map(([, k]) => k)];
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, ordered.map((k) => k.toString('base64')).join('\n') + '\n', { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
