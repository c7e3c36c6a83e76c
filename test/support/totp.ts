// TOTP codes for tests. Gatehouse accepts a code once (RFC 6238 §5.2): it keeps the time step
// of the last code accepted for each user and takes a code only for a later step, so a test
// that uses TOTP twice within 30 s needs codes of two steps. nextTotp hands out, per seed,
// codes of successive steps not handed out before, among those the server accepts now (the
// current 30 s step t and one either side): t-1, then t, then t+1, waiting for the next step
// only when those are gone. Codes are to be used in the order they were handed out (an
// earlier step after a later one is refused, as it should be). No test asserts the time.
import { setTimeout as sleep } from 'node:timers/promises';
import { Secret, TOTP } from 'otpauth';

const PERIOD_MS = 30_000;
/** A code is handed out only with at least this long left in which the server accepts it. */
const MIN_LEFT_MS = 15_000;
/** The last step handed out, per seed (of this test process). */
const handedOut = new Map<string, number>();

/** The code of a seed for time step `step` (30 s steps since the epoch; SHA-1, 6 digits). */
export function totpAt(seed: string, step: number): string {
  return new TOTP({ secret: Secret.fromBase32(seed), digits: 6, period: 30, algorithm: 'SHA1' }).generate({ timestamp: step * PERIOD_MS });
}

/** A code for the next step of `seed` not handed out yet that the server accepts now. */
export async function nextTotp(seed: string): Promise<string> {
  for (;;) {
    const at = Date.now();
    const current = Math.floor(at / PERIOD_MS);
    let step = Math.max((handedOut.get(seed) ?? -Infinity) + 1, current - 1);
    // The code of step s is accepted while the server is at step s-1, s or s+1: until (s+2)·30 s.
    // A step whose code is also an earlier step's would be read by the server as that one.
    while ((step + 2) * PERIOD_MS - at < MIN_LEFT_MS || [1, 2].some((d) => totpAt(seed, step - d) === totpAt(seed, step))) step++;
    if (step <= current + 1) {
      handedOut.set(seed, step);
      return totpAt(seed, step);
    }
    // t-1, t and t+1 are gone: t+2 is accepted from the next step on.
    await sleep((current + 1) * PERIOD_MS - at + 50);
  }
}

/** A six-digit code that is no code of the seed anywhere near now (three steps either side). */
export function wrongTotp(seed: string): string {
  const current = Math.floor(Date.now() / PERIOD_MS);
  const near = new Set([-3, -2, -1, 0, 1, 2, 3].map((d) => totpAt(seed, current + d)));
  for (let n = 123456; ; n = (n + 1) % 1_000_000) {
    const c = String(n).padStart(6, '0');
    if (!near.has(c)) return c;
  }
}
