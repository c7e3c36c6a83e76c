// Keeps live sessions inside their grant's window: a terminal session hears a warning five
// minutes before the end (through its door's notice hook), and at the end — or when the
// grant is revoked — every session under it is terminated with a one-line reason. Timers
// are per process: each gateway node watches the sessions it runs, and re-reads their
// grants every SWEEP_MS so a revocation made through another node ends them too.
import type { LiveSession } from '../sessions/live.js';

export const WARN_BEFORE_MS = 5 * 60_000;
// setTimeout takes at most 2^31-1 ms (~24.8 days); longer waits are re-armed.
const MAX_DELAY = 2_147_483_647;

interface Watched {
  session: LiveSession;
  timers: NodeJS.Timeout[];
}

export const expiredReason = (endAt: number) => `access ended: the approved window closed at ${new Date(endAt).toISOString()}`;
export const revokedReason = (by: string) => `access ended: the grant was revoked by ${by}`;
export const warningText = (endAt: number) => `your approved access ends at ${new Date(endAt).toISOString()} (in 5 minutes or less); this session will be closed then`;

/** How often grants with sessions here are re-read, to catch a revocation made on another node. */
export const SWEEP_MS = 30_000;

export class GrantWindows {
  private byGrant = new Map<string, Set<Watched>>();
  private sweeper: NodeJS.Timeout | null = null;

  /**
   * @param revokedAmong which of these grants are revoked, and by whom (read from the
   * database, so a revocation on another gateway node reaches this node's sessions too).
   */
  constructor(private readonly revokedAmong?: (grantIds: string[]) => Promise<{ id: string; by: string }[]>) {}

  /** The sweep runs only while sessions are watched, so an idle core keeps no timer. */
  private sweepWhileWatching(): void {
    if (this.byGrant.size === 0) {
      if (this.sweeper) clearInterval(this.sweeper);
      this.sweeper = null;
      return;
    }
    if (this.sweeper || !this.revokedAmong) return;
    this.sweeper = setInterval(() => {
      const ids = [...this.byGrant.keys()];
      if (ids.length === 0) return this.sweepWhileWatching();
      this.revokedAmong!(ids)
        .then((rows) => {
          for (const r of rows) this.end(r.id, revokedReason(r.by));
        })
        .catch(() => undefined);
    }, SWEEP_MS);
    this.sweeper.unref();
  }

  /** Watches a session under a grant ending at endAt. */
  watch(grantId: string, endAt: number, session: LiveSession): void {
    const w: Watched = { session, timers: [] };
    let set = this.byGrant.get(grantId);
    if (!set) this.byGrant.set(grantId, (set = new Set()));
    set.add(w);
    const drop = () => {
      for (const t of w.timers) clearTimeout(t);
      set!.delete(w);
      if (set!.size === 0 && this.byGrant.get(grantId) === set) this.byGrant.delete(grantId);
      this.sweepWhileWatching();
    };
    this.sweepWhileWatching();
    session.onTerminate(drop);
    const at = (when: number, fn: () => void) => {
      const wait = when - Date.now();
      const t = setTimeout(() => (wait > MAX_DELAY ? at(when, fn) : session.isEnded ? drop() : fn()), Math.max(0, Math.min(wait, MAX_DELAY)));
      t.unref();
      w.timers.push(t);
    };
    at(endAt - WARN_BEFORE_MS, () => session.notice(warningText(endAt)));
    at(endAt, () => session.terminate(expiredReason(endAt)));
  }

  /** Ends the live sessions under a grant (revoked). */
  end(grantId: string, reason: string): number {
    const set = this.byGrant.get(grantId);
    if (!set) return 0;
    let n = 0;
    for (const w of [...set]) {
      if (!w.session.isEnded) n++;
      w.session.terminate(reason);
    }
    this.byGrant.delete(grantId);
    this.sweepWhileWatching();
    return n;
  }
}
