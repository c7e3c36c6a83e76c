// Bounds what an unauthenticated peer can hold open at a door (OpenSSH's LoginGraceTime and
// MaxStartups, plus a per-source cap): a connection is a "startup" from TCP accept until the
// door says it authenticated. Startups are counted in total and per source (IPv6 by its /64
// and IPv4-mapped as IPv4, as the sign-in limits count: one host holds a whole /64); one over
// either limit is closed at once, before a byte is read, and a startup still open after the
// grace time is closed. Without this, idle sockets that never speak stay open forever and
// anyone can walk the process to its descriptor limit. Protocol-neutral: the door decides
// what "authenticated" means and calls done(). Refusals are logged at a low rate (one line,
// then one summary per interval), never one line per connection, so a flood cannot flood
// the log either.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { sourceKey } from '../core/source-key.js';

export interface PreauthLimits {
  /** Close a startup that has not authenticated within this many ms; 0 = no limit. */
  graceMs: number;
  /** Concurrent startups at this door, all sources together. */
  maxStartups: number;
  /** Concurrent startups at this door from one source (sourceKey: an IPv6 /64 is one source). */
  maxPerSource: number;
}

export const DEFAULT_PREAUTH_LIMITS: PreauthLimits = { graceMs: 30_000, maxStartups: 100, maxPerSource: 10 };

export interface PreauthStats {
  /** Startups open now. */
  pending: number;
  admitted: number;
  refusedPerSource: number;
  refusedTotal: number;
  /** Closed by the grace timer. */
  timedOut: number;
}

export interface Startup {
  /** The connection authenticated (or otherwise left the startup phase): it stops counting and its grace timer stops. */
  done(): void;
  /** The client has done its part and the server is working (e.g. answering a request): only the grace timer stops. */
  stopClock(): void;
}

type Noted = 'per_source' | 'total' | 'grace';

export class PreauthGate {
  private readonly bySource = new Map<string, number>();
  private readonly open = new Map<Socket, () => void>();
  private readonly counts: PreauthStats = { pending: 0, admitted: 0, refusedPerSource: 0, refusedTotal: 0, timedOut: 0 };
  private readonly summary: { per_source: number; total: number; grace: number; sources: Set<string> } = { per_source: 0, total: 0, grace: 0, sources: new Set() };
  private summaryTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly door: string,
    readonly limits: PreauthLimits,
    private readonly log: Logger,
    /** How often suppressed refusals are summed up in one log line. */
    private readonly summaryMs = 60_000,
  ) {}

  /**
   * Counts a freshly accepted connection, or closes it at once (answering null) when its
   * source or the door is at its limit. The count drops when the socket closes or done()
   * is called, whichever comes first.
   */
  admit(socket: Socket, ip: string): Startup | null {
    if (socket.destroyed) return null;
    const source = sourceKey(ip);
    const fromSource = this.bySource.get(source) ?? 0;
    const over: Noted | null = this.counts.pending >= this.limits.maxStartups ? 'total' : fromSource >= this.limits.maxPerSource ? 'per_source' : null;
    if (over) {
      if (over === 'total') this.counts.refusedTotal++;
      else this.counts.refusedPerSource++;
      socket.on('error', () => undefined);
      socket.destroy();
      this.note(over, source);
      return null;
    }
    this.bySource.set(source, fromSource + 1);
    this.counts.pending++;
    this.counts.admitted++;
    let timer: NodeJS.Timeout | null = null;
    let counted = true;
    const stopClock = () => {
      if (timer) clearTimeout(timer);
      timer = null;
    };
    const done = () => {
      stopClock();
      if (!counted) return;
      counted = false;
      this.open.delete(socket);
      socket.off('close', done);
      this.counts.pending--;
      const n = (this.bySource.get(source) ?? 1) - 1;
      if (n > 0) this.bySource.set(source, n);
      else this.bySource.delete(source);
    };
    if (this.limits.graceMs > 0) {
      timer = setTimeout(() => {
        timer = null;
        if (!counted) return;
        this.counts.timedOut++;
        this.note('grace', source);
        socket.destroy();
      }, this.limits.graceMs);
      timer.unref();
    }
    this.open.set(socket, done);
    socket.once('close', done);
    return { done, stopClock };
  }

  stats(): PreauthStats {
    return { ...this.counts };
  }

  /** Shutdown: closes every connection still in its startup phase (they would hold the listener's close). */
  close(): void {
    for (const [socket, done] of [...this.open]) {
      done();
      socket.destroy();
    }
    if (this.summaryTimer) clearTimeout(this.summaryTimer);
    this.summaryTimer = null;
    this.flush();
  }

  // The first event of a quiet period is logged as it happens; the rest are summed up once
  // per summaryMs, so a flood costs a few log lines a minute.
  private note(kind: Noted, source: string): void {
    if (!this.summaryTimer) {
      this.logOne(kind, source);
      this.summaryTimer = setTimeout(() => {
        this.summaryTimer = null;
        this.flush();
      }, this.summaryMs);
      this.summaryTimer.unref();
      return;
    }
    this.summary[kind]++;
    if (this.summary.sources.size < 5) this.summary.sources.add(source);
  }

  /** `source`: the address as counted (sourceKey: an IPv6 /64 is shown as one). */
  private logOne(kind: Noted, source: string): void {
    const { maxPerSource, maxStartups, graceMs } = this.limits;
    const what =
      kind === 'grace'
        ? `closed a connection that did not authenticate within ${graceMs / 1000} s`
        : kind === 'total'
          ? `refused a connection: ${maxStartups} unauthenticated connections are open (total limit)`
          : `refused a connection: ${maxPerSource} unauthenticated connections from ${source} are open (per-source limit)`;
    this.log.warn({ door: this.door, clientIp: source, reason: kind }, `${this.door} door: ${what}; further ones are summed up every ${this.summaryMs / 1000} s`);
  }

  private flush(): void {
    const s = this.summary;
    if (s.per_source + s.total + s.grace === 0) return;
    this.log.warn(
      { door: this.door, refusedPerSource: s.per_source, refusedTotal: s.total, graceTimeouts: s.grace, sources: [...s.sources] },
      `${this.door} door: refused ${s.per_source + s.total} unauthenticated connections over the limits (per source: ${s.per_source}, total: ${s.total}) and closed ${s.grace} at the login grace time since the last report`,
    );
    s.per_source = s.total = s.grace = 0;
    s.sources.clear();
  }
}
