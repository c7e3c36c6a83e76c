// The key hierarchy of personal credentials. A person's master password, through argon2id
// (raw output, per-person salt), gives a key-encryption key; it wraps the person's vault
// key; the vault key wraps one data key per personal credential; the data key seals the
// credential's secret values. The master key (keyring) wraps none of these, so an
// administrator holding the database and master.key still cannot unwrap anything here.
// The AEAD (AES-256-GCM, random IV, associated data naming the owner and the row) is the
// vault's own seal/unseal.
import argon2 from 'argon2';
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { seal, unseal } from '../keyring.js';
import { sha256hex } from '../util.js';

export interface KdfParams {
  alg: 'argon2id';
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** OWASP's argon2id baseline (19 MiB, 2 passes), like login passwords; stored per vault so it can be raised later. */
export const DEFAULT_KDF: KdfParams = { alg: 'argon2id', memoryCost: 19456, timeCost: 2, parallelism: 1 };

export async function deriveKek(masterPassword: string, salt: Buffer, p: KdfParams): Promise<Buffer> {
  return argon2.hash(masterPassword, { type: argon2.argon2id, raw: true, salt, hashLength: 32, memoryCost: p.memoryCost, timeCost: p.timeCost, parallelism: p.parallelism });
}

/** Tells a wrong master password from a damaged row without trying to unwrap. */
export const verifierOf = (kek: Buffer, userId: string): string => createHmac('sha256', kek).update(`gatehouse-personal-verifier:${userId}`).digest('base64');

export function verifierMatches(kek: Buffer, userId: string, stored: string): boolean {
  const a = Buffer.from(verifierOf(kek, userId), 'base64');
  const b = Buffer.from(stored, 'base64');
  return a.length === b.length && timingSafeEqual(a, b);
}

export const newSalt = (): Buffer => randomBytes(16);
export const newKey = (): Buffer => randomBytes(32);

// Associated data binds every sealed value to its owner and its row: a wrapped key or a
// sealed blob copied onto another row or person does not open.
const vaultAad = (userId: string) => `personal-vault-key:${userId}`;
const dataKeyAad = (userId: string, credentialId: string) => `personal-dk:${userId}:${credentialId}`;
const dataAad = (userId: string, credentialId: string) => `personal:${userId}:${credentialId}`;

export const wrapVaultKey = (kek: Buffer, vaultKey: Buffer, userId: string): string => seal(kek, vaultKey, vaultAad(userId));
export const unwrapVaultKey = (kek: Buffer, wrapped: string, userId: string): Buffer => unseal(kek, wrapped, vaultAad(userId));

/** Seals a credential's secret values under a fresh data key wrapped by the vault key. */
export function sealCredential(vaultKey: Buffer, userId: string, credentialId: string, values: Record<string, string>): { wrappedKey: string; dataEnc: string } {
  const dataKey = newKey();
  try {
    return { wrappedKey: seal(vaultKey, dataKey, dataKeyAad(userId, credentialId)), dataEnc: seal(dataKey, Buffer.from(JSON.stringify(values), 'utf8'), dataAad(userId, credentialId)) };
  } finally {
    dataKey.fill(0);
  }
}

export function openCredential(vaultKey: Buffer, userId: string, credentialId: string, row: { wrappedKey: string; dataEnc: string }): Record<string, string> {
  const dataKey = unseal(vaultKey, row.wrappedKey, dataKeyAad(userId, credentialId));
  try {
    return JSON.parse(unseal(dataKey, row.dataEnc, dataAad(userId, credentialId)).toString('utf8')) as Record<string, string>;
  } finally {
    dataKey.fill(0);
  }
}

// A launch carries the opened credential to the door that redeems its ticket: sealed under a
// key derived from the ticket (192 random bits only the person holds) and found by another
// hash of it, so the row is useless to whoever reads the database without the ticket.
export const launchRef = (ticket: string): string => sha256hex(`gatehouse-personal-launch:${ticket}`);
const launchKey = (ticket: string): Buffer => Buffer.from(hkdfSync('sha256', Buffer.from(ticket, 'utf8'), Buffer.alloc(0), 'gatehouse-personal-launch-key', 32));

export const sealForTicket = (ticket: string, ref: string, values: Record<string, string>): string => seal(launchKey(ticket), Buffer.from(JSON.stringify(values), 'utf8'), `personal-launch:${ref}`);
export const openForTicket = (ticket: string, ref: string, sealed: string): Record<string, string> => JSON.parse(unseal(launchKey(ticket), sealed, `personal-launch:${ref}`).toString('utf8')) as Record<string, string>;
