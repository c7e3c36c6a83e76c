import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

export const newId = (): string => randomUUID();
export const now = (): number => Date.now();
export const sha256hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** URL-safe random token with the given number of random bytes (>= 16 for 128 bits). */
export const randomToken = (bytes = 32): string => randomBytes(bytes).toString('base64url');

export function safeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

export const flag = (b: boolean | undefined | null): 0 | 1 => (b ? 1 : 0);

/**
 * `obj[key]` when `obj` has it as its own property, else undefined: for names that come from a
 * template, a request or a file, which may be ones every object inherits (`constructor`).
 */
export function own<V>(obj: Record<string, V>, key: string): V | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

export function parseJson<T>(text: string | null | undefined, fallback: T): T {
  if (text == null) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}
