import argon2 from 'argon2';
import { badRequest } from '../errors.js';

export const MIN_PASSWORD = 12;
export const MAX_PASSWORD = 1024;

// A fixed hash to verify against when the user does not exist, so timing does not tell.
let dummy: Promise<string> | undefined;

export const hashPassword = (pw: string): Promise<string> => argon2.hash(pw, { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 });

export async function verifyPassword(hash: string | null, pw: string): Promise<boolean> {
  if (!hash) {
    dummy ??= hashPassword('gatehouse-dummy-password');
    await argon2.verify(await dummy, pw).catch(() => false);
    return false;
  }
  return argon2.verify(hash, pw).catch(() => false);
}

export function checkPasswordPolicy(pw: string): void {
  if (pw.length < MIN_PASSWORD) throw badRequest(`password must be at least ${MIN_PASSWORD} characters`, 'weak_password');
  if (pw.length > MAX_PASSWORD) throw badRequest(`password must be at most ${MAX_PASSWORD} characters`, 'invalid_request');
}
