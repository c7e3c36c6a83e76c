// Unlocked personal vaults: the unwrapped vault key of a person, in this process's memory
// only, per sign-in session (the bearer token's or browser session's id), until it has not
// been used for personalUnlockIdleSeconds or the person locks it. Never written anywhere:
// a restart, a lock, an idle timeout or a reset forgets it and the person unlocks again.
import { now } from '../util.js';

interface Unlocked {
  userId: string;
  key: Buffer;
  lastUsed: number;
}

export class UnlockedVaults {
  private readonly open = new Map<string, Unlocked>();

  constructor(
    private readonly idleSeconds: () => Promise<number>,
    /** Which of these sign-in sessions still exist (a signed-out, revoked or expired one is locked at once). */
    private readonly liveTokens: (tokenIds: string[]) => Promise<Set<string>>,
  ) {}

  put(tokenId: string, userId: string, key: Buffer): void {
    this.drop(tokenId);
    this.open.set(tokenId, { userId, key, lastUsed: now() });
  }

  /** The vault key while this session is unlocked (and touches it); null once locked or idle too long. */
  async get(tokenId: string, userId: string): Promise<Buffer | null> {
    await this.sweep();
    const u = tokenId ? this.open.get(tokenId) : undefined;
    if (!u || u.userId !== userId) return null;
    u.lastUsed = now();
    return u.key;
  }

  async isUnlocked(tokenId: string, userId: string): Promise<boolean> {
    await this.sweep();
    const u = tokenId ? this.open.get(tokenId) : undefined;
    return !!u && u.userId === userId;
  }

  drop(tokenId: string): boolean {
    const u = this.open.get(tokenId);
    if (!u) return false;
    u.key.fill(0);
    this.open.delete(tokenId);
    return true;
  }

  /** Every session of a person (after a reset of their master password). */
  dropUser(userId: string): void {
    for (const [id, u] of this.open) if (u.userId === userId) this.drop(id);
  }

  /**
   * Forgets (and zeroes) every key idle longer than the setting, or whose sign-in session is
   * gone (signed out, revoked, expired, the person deleted); runs on every use. What it
   * forgets was already locked for every check: the sweep only clears the memory.
   */
  private async sweep(): Promise<void> {
    if (this.open.size === 0) return;
    const limit = now() - (await this.idleSeconds()) * 1000;
    for (const [id, u] of this.open) if (u.lastUsed <= limit) this.drop(id);
    if (this.open.size === 0) return;
    const live = await this.liveTokens([...this.open.keys()]);
    for (const id of [...this.open.keys()]) if (!live.has(id)) this.drop(id);
  }
}
