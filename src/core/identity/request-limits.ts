// Request rate limits (issue 16 point 7): how many sign-in requests (API login, browser
// sign-in, the SSH door's `user:secret` logins), OAuth2 token requests and ticket requests
// (launches) one source address and one account may make per minute, whatever their
// outcome. They sit beside the failed-sign-in limit of rate-limit.ts, which counts only
// failures: these also brake a flood of right answers (a stolen client secret hammering
// /oauth2/token, a script launching in a loop).
//
// One token bucket per (kind, address) and per (kind, account): a bucket holds up to the
// per-minute limit and refills at that rate, so a burst of `limit` requests passes and then
// one per 60/limit seconds. Past either bucket the request is refused with 429 rate_limited
// and Retry-After (the seconds until the bucket holds a request again); a refused request
// takes nothing from the other bucket. IPv6 sources count per /64 (sourceKey). Accounts are
// keyed by what the request names: the user name typed (case-folded), the client id, the
// launching user's id; so a flood naming someone else's account slows that account's sign-ins
// for a minute at most, which is the price of a per-account limit (docs/operations.md).
//
// The audit trail stays bounded: a bucket's first refusal writes one `rate_limit.exceeded`
// event and the refusals in the minute after it only count; the count goes into the next
// event, written by the next refusal after that minute or, when none comes (the flood
// stopped), by a timer at the minute's end, or at shutdown (flush): at most one event a
// minute per bucket, and no refusal left out. In memory, per node, bounded in size.
import type { Actor, AuditInput, AuditService } from '../audit/service.js';
import { AppError } from '../errors.js';
import type { SettingsService, SettingValues } from '../settings.js';
import { sourceKey } from '../source-key.js';

export type LimitKind = 'login' | 'token' | 'ticket';
type Scope = 'ip' | 'account';

/** The settings (requests per minute; 0 = no limit) of each kind and scope. */
const SETTING: Record<LimitKind, Record<Scope, keyof SettingValues>> = {
  login: { ip: 'loginRequestsPerIp', account: 'loginRequestsPerAccount' },
  token: { ip: 'tokenRequestsPerIp', account: 'tokenRequestsPerAccount' },
  ticket: { ip: 'ticketRequestsPerIp', account: 'ticketRequestsPerAccount' },
};

const WHAT: Record<LimitKind, string> = { login: 'sign-in requests', token: 'token requests', ticket: 'launch requests' };

interface Bucket {
  tokens: number;
  at: number;
  /** When a refusal of this bucket was last audited (-Infinity: never). */
  auditedAt: number;
  /** Refusals since then, not audited one by one. */
  unaudited: number;
  /** What the event of those refusals says, and its timer (a minute after the last event). */
  summary: { actor: Actor; kind: LimitKind; scope: Scope; shown: string; limit: number; timer: NodeJS.Timeout } | null;
}

/**
 * A bucket's refusals are audited at most once in this time. Not "again after each admitted
 * request": under a sustained flood the bucket admits a request at every refill, and each
 * would have opened a new event (one per refill, for as long as the flood lasts).
 */
const AUDIT_EVERY_MS = 60_000;

/** A bucket's `rate_limit.exceeded` event: what it limits, and the refusals counted since its last event (none: left out). */
const exceeded = (b: { kind: LimitKind; scope: Scope; shown: string; limit: number }, counted: number, note: string): AuditInput => ({
  action: 'rate_limit.exceeded',
  outcome: 'failure',
  details: { kind: b.kind, scope: b.scope, [b.scope === 'ip' ? 'ip' : 'account']: b.shown, limitPerMinute: b.limit, ...(counted ? { refusedSinceLastEvent: counted } : {}), note },
});

export class RequestLimits {
  private readonly buckets = new Map<string, Bucket>();
  private observer: ((kind: LimitKind, scope: Scope) => void) | null = null;
  /** Buckets whose counted refusals wait for their summary event. */
  private readonly summaries = new Set<Bucket>();
  private readonly writing = new Set<Promise<unknown>>();

  constructor(
    private readonly settings: SettingsService,
    private readonly audit: AuditService,
    private readonly maxBuckets = 20_000,
    private readonly clock: () => number = Date.now,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {}

  /** Writes every summary of counted refusals now (at shutdown) and waits for the writes. */
  async flush(): Promise<void> {
    for (const b of [...this.summaries]) this.summarise(b);
    await Promise.allSettled([...this.writing]);
  }

  /**
   * The refusals a bucket counted since its last event, in one event: a minute after that
   * event (the flood may have stopped: nothing else would write them), or at shutdown.
   * Written whatever became of the bucket since (forgotten, refilled).
   */
  private summarise(b: Bucket): void {
    const sum = b.summary;
    if (!sum) return;
    this.cancelSummary(b);
    const n = b.unaudited;
    if (!n) return;
    b.unaudited = 0;
    b.auditedAt = this.clock();
    const w = this.audit
      .record(sum.actor, exceeded(sum, n, `the refusals of this ${sum.scope === 'ip' ? 'address' : 'account'} counted since its last event`))
      .catch((e: unknown) => this.onError(e as Error))
      .finally(() => this.writing.delete(w));
    this.writing.add(w);
  }

  /** The bucket's summary is not to be written (its count goes into another event): its timer stops. */
  private cancelSummary(b: Bucket): void {
    if (!b.summary) return;
    clearTimeout(b.summary.timer);
    b.summary = null;
    this.summaries.delete(b);
  }

  /** Tells `fn` of every refusal (the metrics' gatehouse_rate_limited_total). */
  observe(fn: (kind: LimitKind, scope: Scope) => void): void {
    this.observer = fn;
  }

  /**
   * Takes one request of `kind` from the source's and the account's buckets, or throws
   * 429 rate_limited (with Retry-After) when either is empty. `actor` is who the audit
   * event of a first refusal names. `values`: the settings the caller already read for this
   * request (a launch reads them once), else they are read here.
   */
  async take(kind: LimitKind, ip: string | null, account: string | null, actor: Actor, values?: SettingValues): Promise<void> {
    const s = values ?? (await this.settings.all());
    const at = this.clock();
    const checks: { scope: Scope; key: string; shown: string; limit: number }[] = [];
    const ipLimit = s[SETTING[kind].ip] as number;
    if (ipLimit > 0) checks.push({ scope: 'ip', key: `${kind} ip ${sourceKey(ip)}`, shown: sourceKey(ip), limit: ipLimit });
    const acctLimit = s[SETTING[kind].account] as number;
    if (acctLimit > 0 && account) checks.push({ scope: 'account', key: `${kind} account ${account.toLowerCase().slice(0, 256)}`, shown: account.slice(0, 64), limit: acctLimit });
    const held = checks.map((c) => ({ ...c, bucket: this.bucket(c.key, c.limit, at) }));
    // Every empty bucket is told (its first refusal audited), and the wait given is the longest:
    // told the shorter one, the client would come back to be refused by the other.
    const empty = held.filter((c) => c.bucket.tokens < 1).map((c) => ({ ...c, waitSeconds: Math.max(1, Math.ceil((1 - c.bucket.tokens) / (c.limit / 60_000) / 1000)) }));
    if (empty.length) {
      for (const c of empty) {
        const b = c.bucket;
        if (at - b.auditedAt < AUDIT_EVERY_MS) {
          b.unaudited++;
          if (!b.summary) {
            b.summary = { actor, kind, scope: c.scope, shown: c.shown, limit: c.limit, timer: setTimeout(() => this.summarise(b), Math.max(0, b.auditedAt + AUDIT_EVERY_MS - at)) };
            b.summary.timer.unref();
            this.summaries.add(b);
          }
          continue;
        }
        // This event carries the count: no summary of its own.
        this.cancelSummary(b);
        const before = b.unaudited;
        b.auditedAt = at;
        b.unaudited = 0;
        await this.audit.record(actor, exceeded({ kind, scope: c.scope, shown: c.shown, limit: c.limit }, before, `further refusals of this ${c.scope === 'ip' ? 'address' : 'account'} are counted, not audited one by one: at most one event a minute`));
      }
      const longest = empty.reduce((a, b) => (b.waitSeconds > a.waitSeconds ? b : a));
      // One refused request counts once, under the scope whose wait it is told.
      this.observer?.(kind, longest.scope);
      const retryAfterSeconds = longest.waitSeconds;
      const whose = longest.scope === 'ip' ? 'your address' : 'this account';
      throw new AppError(429, 'rate_limited', `too many ${WHAT[kind]} from ${whose}; try again in ${retryAfterSeconds} s`, { retryAfterSeconds, fields: { retryAfter: retryAfterSeconds } });
    }
    for (const c of held) c.bucket.tokens -= 1;
  }

  /** The bucket under `key`, refilled up to now (a new one is full). */
  private bucket(key: string, limit: number, at: number): Bucket {
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key);
      b.tokens = Math.min(limit, b.tokens + ((at - b.at) * limit) / 60_000);
      b.at = at;
    } else {
      b = { tokens: limit, at, auditedAt: -Infinity, unaudited: 0, summary: null };
    }
    // Most recently used last: the least recently used bucket is the first forgotten.
    this.buckets.set(key, b);
    if (this.buckets.size > this.maxBuckets) this.evict();
    return b;
  }

  /** Forgets the least recently used buckets (a forgotten bucket comes back full: it only errs toward admitting). */
  private evict(): void {
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= this.maxBuckets) break;
      this.buckets.delete(key);
    }
  }
}
