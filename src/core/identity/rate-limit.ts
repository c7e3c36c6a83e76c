// Sign-in abuse controls, shared by every place that checks a password, a second factor or a
// client secret (API login, browser sign-in, /oauth2/token, the SSH door's `user:secret`
// logins, a signed-in user's own password checks). They live in the core so every door gets
// the same rules; a door only decides how to say no (HTTP 429 with Retry-After; the SSH door
// simply fails the authentication).
//
// - A per-source limit on failed sign-ins: after `loginRateLimit` failures from one source
//   address within `loginRateWindowSeconds` (a window that starts at the first failure), every
//   sign-in from that address is refused, without looking at the password, until the window ends.
//   A sign-in being checked counts as a failure until its outcome is known (reserve()), so
//   attempts sent all at once cannot get more than `loginRateLimit` guesses past the check.
// - Audit aggregation: after `loginAuditThreshold` failures from one source in a window, the
//   further failures (refusals included) are not written one event each but counted into one
//   `auth.login.failed.aggregated` event ("N more failures from ADDR"), written when the window
//   ends, before the next event about that source (a success, or a failure in a later window),
//   or at shutdown. Every failure is in exactly one event, so none is lost and the trail
//   cannot be flooded.
// - Lockout bookkeeping for names that match no account, so an unknown user name answers
//   exactly like a known one (the same statuses after the same number of attempts).
//
// All of this is in memory, per gateway node, and bounded in size: it is a brake on guessing,
// not a record (the audit trail is the record).
import type { Actor, AuditInput, AuditService } from '../audit/service.js';
import { AppError } from '../errors.js';
import type { SettingsService, SettingValues } from '../settings.js';
import { sourceKey } from '../source-key.js';
import { now } from '../util.js';

export const AGGREGATED_ACTION = 'auth.login.failed.aggregated';

interface Pending {
  count: number;
  from: number;
  to: number;
  actions: Record<string, number>;
  reasons: Record<string, number>;
  via: Record<string, number>;
  usernames: string[];
}

interface Window {
  end: number;
  /** Failed guesses, counted against loginRateLimit. */
  failures: number;
  /** Failures written as their own audit event. */
  recorded: number;
  /** Failures past loginAuditThreshold not yet written in a summary. */
  pending: Pending | null;
  timer: NodeJS.Timeout | null;
}

const MAX_SUMMARY_NAMES = 20;
/** Distinct actions, reasons or doors counted by name in one summary; the rest as `(other)`. */
const MAX_SUMMARY_KEYS = 20;

/**
 * How a failure recorded here counts: a `guess` against the source's limit and as a failed
 * sign-in (the observer: the metrics), any other `failure` as a failed sign-in only, and an
 * `unfinished` sign-in (it stopped to ask for the second factor) or a refusal `noted()` as
 * neither: it is audited only.
 */
type Counted = 'guess' | 'failure' | 'unfinished';

/** An attempt admitted by SignInGuard.reserve(), counted against its source until released. */
export interface SignInSlot {
  release(): void;
}

export class SignInGuard {
  private readonly windows = new Map<string, Window>();
  private readonly writing = new Set<Promise<unknown>>();
  /** Attempts admitted by reserve() and not yet ended, per source (an entry only while some are). */
  private readonly inFlight = new Map<string, number>();
  /** Told of every failure (the metrics' login failures), with its audit action and door. */
  private observer: ((action: string, via: string) => void) | null = null;

  constructor(
    private readonly settings: SettingsService,
    private readonly audit: AuditService,
    private readonly onError: (err: Error) => void = () => undefined,
    private readonly maxSources = 10_000,
  ) {}

  /**
   * Before a sign-in is checked: refuses it (429 too_many_attempts, with Retry-After) when its
   * source has used up its failures for the window. The refusal is audited like a failure
   * (`input` describes the attempt; the reason is added). Takes no slot: for checks that are
   * not guesses at a secret of a person (logon tickets), see reserve().
   */
  async admit(ip: string | null, actor: Actor, input: AuditInput): Promise<void> {
    const s = await this.settings.all();
    const key = sourceKey(ip);
    if (!this.hasRoom(key, s)) await this.refuse(key, ip, actor, input, s);
  }

  /**
   * As admit(), and the admitted attempt then counts against its source's limit while it is
   * checked, as if it had failed: otherwise attempts sent together all pass this check before
   * the first of them fails (a password check takes a while), and one address makes as many
   * guesses as it can send at once. The slot ends with failed(…, slot) (it becomes the failure)
   * or release() (success, or a failure that is no guess); release() may be called again, so a
   * `finally` can always call it. Callers use checking(), which does that.
   */
  private async reserve(ip: string | null, actor: Actor, input: AuditInput): Promise<SignInSlot> {
    const s = await this.settings.all();
    const key = sourceKey(ip);
    // Checked and taken with no await in between, so concurrent attempts see each other.
    if (!this.hasRoom(key, s)) return this.refuse(key, ip, actor, input, s);
    this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        const left = (this.inFlight.get(key) ?? 1) - 1;
        if (left > 0) this.inFlight.set(key, left);
        else this.inFlight.delete(key);
      },
    };
  }

  /** Checks a sign-in (`check`) in a slot reserved for it (reserve()), released however the check ends. */
  async checking<T>(ip: string | null, actor: Actor, input: AuditInput, check: (slot: SignInSlot) => Promise<T>): Promise<T> {
    const slot = await this.reserve(ip, actor, input);
    try {
      return await check(slot);
    } finally {
      slot.release();
    }
  }

  /** Whether the source may try again: its failures in the window and its attempts being checked are under the limit. */
  private hasRoom(key: string, s: SettingValues): boolean {
    if (s.loginRateLimit === 0) return true;
    return (this.current(key, s, false)?.failures ?? 0) + (this.inFlight.get(key) ?? 0) < s.loginRateLimit;
  }

  private async refuse(key: string, ip: string | null, actor: Actor, input: AuditInput, s: SettingValues): Promise<never> {
    const w = this.current(key, s, false);
    // Refused only because of attempts still being checked: they end within moments, so the window's end is not the wait.
    const spent = !!w && w.failures >= s.loginRateLimit;
    const retryAfterSeconds = spent ? Math.max(1, Math.ceil((w.end - now()) / 1000)) : 1;
    const reason = spent ? 'too many failed sign-ins from this address' : 'too many sign-ins at once from this address';
    await this.note(ip, actor, { ...input, outcome: 'failure', details: { ...input.details, reason } }, 'failure', s);
    const message = spent ? `too many failed sign-ins from your address; try again in ${retryAfterSeconds} s` : `too many sign-ins at once from your address; try again in ${retryAfterSeconds} s`;
    throw new AppError(429, 'too_many_attempts', message, { retryAfterSeconds, fields: { retryAfter: retryAfterSeconds } });
  }

  /**
   * A failed sign-in. A `guess` (wrong password, code or secret; unknown name; locked account)
   * counts against the source's limit; any failure gets its audit event (`input`), or past the
   * audit threshold is counted into the window's summary. The attempt's `slot` (reserve()) is
   * released as the failure is counted, so the source's count never dips in between.
   */
  async failed(ip: string | null, actor: Actor, input: AuditInput, guess: boolean, slot?: SignInSlot): Promise<void> {
    await this.note(ip, actor, { ...input, outcome: 'failure' }, guess ? 'guess' : 'failure', await this.settings.all(), slot);
  }

  /**
   * A sign-in that stopped to ask for its second factor: the right password and no code yet,
   * which is how every sign-in with one begins (the portal's first submit never has the code;
   * it asks for it after this answer). Audited as a failure, as the trail has always shown it,
   * but it is no failed sign-in: no guess against the source's limit, and the observer is not
   * told (gatehouse_login_failures_total and its alert are about guessing).
   */
  async unfinished(ip: string | null, actor: Actor, input: AuditInput, slot?: SignInSlot): Promise<void> {
    await this.note(ip, actor, { ...input, outcome: 'failure' }, 'unfinished', await this.settings.all(), slot);
  }

  /**
   * A refusal at a door of something nobody was issued (a ticket no launch made, a connection
   * with none): no sign-in, no guess worth counting (a ticket is 32 random characters), so not
   * told to the observer; but audited as failures are, so that past `loginAuditThreshold` per
   * window a source's refusals go into its summary rather than one row each. Answers whether
   * this one got its own event (false: counted into the summary).
   */
  async noted(ip: string | null, actor: Actor, input: AuditInput): Promise<boolean> {
    return this.note(ip, actor, { ...input, outcome: 'failure' }, 'unfinished', await this.settings.all());
  }

  /** Tells `fn` of every failure recorded here from now on (one observer). */
  observe(fn: (action: string, via: string) => void): void {
    this.observer = fn;
  }

  /** A successful sign-in from this source: a pending summary is written first, so the trail reads in order. */
  succeeded(ip: string | null): void {
    const w = this.windows.get(sourceKey(ip));
    if (w) this.writePending(sourceKey(ip), w);
  }

  /** Writes every pending summary (at shutdown) and waits for the writes. */
  async flush(): Promise<void> {
    for (const [key, w] of [...this.windows]) this.close(key, w);
    await Promise.all([...this.writing]);
  }

  /** Answers true when the failure got its own audit event, false when it went into the window's summary. */
  private async note(ip: string | null, actor: Actor, input: AuditInput, counted: Counted, s: SettingValues, slot?: SignInSlot): Promise<boolean> {
    const key = sourceKey(ip);
    const w = this.current(key, s, true)!;
    slot?.release();
    if (counted === 'guess') w.failures++;
    const via = input.details?.via;
    if (counted !== 'unfinished') this.observer?.(input.action, typeof via === 'string' ? via : '');
    if (s.loginAuditThreshold === 0 || w.recorded < s.loginAuditThreshold) {
      w.recorded++;
      await this.audit.record(actor, input);
      return true;
    }
    const at = now();
    // Null-prototype maps: a name from the request may be `constructor` or `__proto__`, which an
    // ordinary object already answers to (a count became that function's source text).
    const tallies = (): Record<string, number> => Object.create(null) as Record<string, number>;
    const p = (w.pending ??= { count: 0, from: at, to: at, actions: tallies(), reasons: tallies(), via: tallies(), usernames: [] });
    p.count++;
    p.to = at;
    const tally = (m: Record<string, number>, k: unknown) => {
      if (typeof k !== 'string' || !k) return;
      // Some values come from the request (a logon-ticket refusal's server name): a bounded
      // number of them, so one source cannot make one summary row without end.
      const name = k.slice(0, 64);
      const key = Object.hasOwn(m, name) || Object.keys(m).length < MAX_SUMMARY_KEYS ? name : '(other)';
      m[key] = (m[key] ?? 0) + 1;
    };
    tally(p.actions, input.action);
    tally(p.reasons, input.details?.reason);
    tally(p.via, input.details?.via);
    const name = actor.name?.slice(0, 64);
    if (name && p.usernames.length < MAX_SUMMARY_NAMES && !p.usernames.includes(name)) p.usernames.push(name);
    if (!w.timer) {
      w.timer = setTimeout(() => this.close(key, w), Math.max(0, w.end - at));
      w.timer.unref();
    }
    return false;
  }

  /** The source's current window (a finished one is closed first); a new one when `create`. */
  private current(key: string, s: SettingValues, create: boolean): Window | undefined {
    const at = now();
    let w = this.windows.get(key);
    if (w && at >= w.end) {
      this.close(key, w);
      w = undefined;
    }
    if (!w && create) {
      w = { end: at + s.loginRateWindowSeconds * 1000, failures: 0, recorded: 0, pending: null, timer: null };
      this.windows.set(key, w);
      this.evict(at);
    }
    return w;
  }

  /** Keeps the table bounded: finished windows go first, then the oldest (their summaries are written). */
  private evict(at: number): void {
    if (this.windows.size <= this.maxSources) return;
    for (const [key, w] of [...this.windows]) if (at >= w.end) this.close(key, w);
    for (const [key, w] of this.windows) {
      if (this.windows.size <= this.maxSources) break;
      this.close(key, w);
    }
  }

  private close(key: string, w: Window): void {
    if (this.windows.get(key) === w) this.windows.delete(key);
    this.writePending(key, w);
  }

  /**
   * Starts writing the window's summary. The append is queued synchronously, so it lands
   * before any audit event recorded after this call.
   */
  private writePending(key: string, w: Window): void {
    if (w.timer) clearTimeout(w.timer);
    w.timer = null;
    const p = w.pending;
    w.pending = null;
    if (!p) return;
    const write = this.audit
      .record(
        { id: null, name: null, ip: key },
        {
          action: AGGREGATED_ACTION,
          outcome: 'failure',
          details: {
            count: p.count,
            ip: key,
            summary: `${p.count} more failure${p.count === 1 ? '' : 's'} from ${key}`,
            from: new Date(p.from).toISOString(),
            to: new Date(p.to).toISOString(),
            actions: p.actions,
            reasons: p.reasons,
            via: p.via,
            usernames: p.usernames,
          },
        },
      )
      .catch((err: Error) => this.onError(err))
      .finally(() => this.writing.delete(write));
    this.writing.add(write);
  }
}

/**
 * Lockout for names that match no account, kept like users.failedLogins/lockedUntil so an
 * unknown name locks after the same number of failures and for as long as a real account.
 * Bounded: the least recently failed names are forgotten first.
 */
export class UnknownNameLockouts {
  private readonly entries = new Map<string, { failed: number; lockedUntil: number | null }>();

  constructor(private readonly max = 10_000) {}

  lockedUntil(name: string, at = now()): number | null {
    const e = this.entries.get(name);
    return e?.lockedUntil && e.lockedUntil > at ? e.lockedUntil : null;
  }

  /**
   * Counts a failure; returns when the lock ends if the name is locked (by this failure, or by
   * another one that ended while this attempt was checked: it is not counted then, like a
   * failure on an account locked meanwhile, Auth.registerFailure).
   */
  fail(name: string, threshold: number, lockoutMinutes: number, at = now()): number | null {
    const e = this.entries.get(name) ?? { failed: 0, lockedUntil: null };
    if (e.lockedUntil && e.lockedUntil > at) return e.lockedUntil;
    this.entries.delete(name);
    const failed = e.failed + 1;
    const lock = threshold > 0 && failed >= threshold;
    const next = { failed: lock ? 0 : failed, lockedUntil: lock ? at + lockoutMinutes * 60_000 : e.lockedUntil };
    this.entries.set(name, next);
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
    return lock ? next.lockedUntil : null;
  }
}
