// WebAuthn challenges: handed out for one registration, sign-in or step-up and kept in the
// database (any node can check the answer). An answer consumes its challenge whatever the
// outcome — deleting the row is what makes a challenge single use, so the same signed answer
// posted twice finds nothing the second time — and one older than CHALLENGE_SECONDS is refused.
import { randomBytes } from 'node:crypto';
import type { Store } from '../../../store/db.js';
import { newId } from '../../util.js';

/** How long a challenge may be answered: the browser's own timeout plus a margin. */
export const CHALLENGE_SECONDS = 300;
/** What the browser is told to wait for the person at most (ms). */
export const CEREMONY_TIMEOUT_MS = 120_000;

export type ChallengePurpose = 'register' | 'sign-in' | 'passwordless' | 'step-up';

export interface Challenge {
  id: string;
  purpose: ChallengePurpose;
  userId: string | null;
  /** base64url, as it is in the options the browser got. */
  challenge: string;
}

export class Challenges {
  constructor(
    private readonly store: Store,
    private readonly now: () => number,
  ) {}

  /** A new challenge (expired ones are swept first, so the table stays small). */
  async create(purpose: ChallengePurpose, userId: string | null): Promise<Challenge> {
    const t = this.now();
    await this.store.db.deleteFrom('webauthnChallenges').where('expiresAt', '<', t).execute();
    const c: Challenge = { id: newId(), purpose, userId, challenge: randomBytes(32).toString('base64url') };
    await this.store.db.insertInto('webauthnChallenges').values({ ...c, expiresAt: t + CHALLENGE_SECONDS * 1000 }).execute();
    return c;
  }

  /** Takes a challenge out (single use): it, or why it cannot be answered. */
  async consume(id: string, purpose: ChallengePurpose, userId: string | null): Promise<Challenge | { refused: string }> {
    const row = await this.store.db.deleteFrom('webauthnChallenges').where('id', '=', id).returningAll().executeTakeFirst();
    if (!row) return { refused: 'unknown or already used challenge' };
    if (row.expiresAt < this.now()) return { refused: 'expired challenge' };
    if (row.purpose !== purpose) return { refused: `challenge made for ${row.purpose}, not ${purpose}` };
    if (userId !== null && row.userId !== userId) return { refused: 'challenge made for another user' };
    return { id: row.id, purpose: row.purpose as ChallengePurpose, userId: row.userId, challenge: row.challenge };
  }
}
