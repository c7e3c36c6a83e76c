// Heartbeat (issue 12, point 3): logs in with each stored credential whose heartbeat is on,
// on a schedule (setting heartbeatIntervalHours, per-secret override) and on demand, and
// records the result: ok, drift ("the stored password no longer works") or unreachable.
// Drift and unreachable are audited (secret.heartbeat). Never more than heartbeatConcurrency
// logins at a time, whatever asks: the schedule and on-demand checks share one limit.
import type { Logger } from 'pino';
import { SYSTEM, type Actor } from '../audit/service.js';
import { AppError, conflict } from '../errors.js';
import type { SettingsService } from '../settings.js';
import { now } from '../util.js';
import { OperatorError } from './operator.js';
import type { TargetAccounts } from './service.js';
import type { HeartbeatStatus } from './state.js';

export interface HeartbeatResult {
  secretId: string;
  status: HeartbeatStatus;
  message: string | null;
  at: number;
}

const HOUR = 3_600_000;

/** A counting gate: at most `limit()` holders at once, the rest wait in order. */
class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: () => Promise<number>) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const max = await this.limit();
    while (this.active >= max) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

export class Heartbeat {
  private readonly gate: Limiter;
  /** Secrets being checked now (a second ask for the same one joins it). */
  private readonly running = new Map<string, Promise<HeartbeatResult>>();
  private sweeping: Promise<number> | null = null;

  constructor(
    private readonly accounts: TargetAccounts,
    private readonly settings: SettingsService,
    private readonly log: Logger,
    /** Waits for (or refuses during, 409) a rotation of the secret: mid-rotation the stored password is about to change, and a check then would report drift. */
    private readonly rotationSettled: (secretId: string) => Promise<void> = async () => {},
  ) {
    this.gate = new Limiter(() => this.settings.get('heartbeatConcurrency'));
  }

  /** POST /secrets/:id/heartbeat, and each secret of a scheduled round. */
  check(actor: Actor, secretId: string): Promise<HeartbeatResult> {
    const cur = this.running.get(secretId);
    if (cur) return cur;
    const p = this.gate.run(() => this.once(actor, secretId)).finally(() => this.running.delete(secretId));
    this.running.set(secretId, p);
    return p;
  }

  private async once(actor: Actor, secretId: string): Promise<HeartbeatResult> {
    await this.rotationSettled(secretId);
    const ctx = await this.accounts.context(secretId);
    if (!ctx.account.password) throw conflict('the secret stores no password to check', 'not_managed');
    let status: HeartbeatStatus;
    let message: string | null = null;
    try {
      status = (await ctx.operator.verify(ctx.account, ctx.account.password)) === 'ok' ? 'ok' : 'drift';
      if (status === 'drift') message = 'the stored password no longer works';
    } catch (e) {
      status = 'unreachable';
      message = (e instanceof OperatorError || e instanceof AppError ? e.message : 'internal error').split('\n')[0]!.slice(0, 300);
    }
    const at = now();
    await this.accounts.record(secretId, { heartbeatStatus: status, heartbeatMessage: message, heartbeatAt: at });
    if (status !== 'ok' || actor !== SYSTEM) {
      await this.accounts.auditAs(actor, {
        action: 'secret.heartbeat',
        outcome: status === 'ok' ? 'success' : 'failure',
        target: { type: 'secret', id: secretId },
        details: { name: ctx.secretName, targetKind: ctx.kind, status, ...(message ? { reason: message } : {}) },
      });
    }
    return { secretId, status, message, at };
  }

  /** Resolves when the checks running now are done (shutdown). */
  async settled(): Promise<void> {
    while (this.sweeping || this.running.size) await Promise.allSettled([this.sweeping, ...this.running.values()]);
  }

  /** One scheduled round: every secret with heartbeat on whose interval has passed. Answers how many were checked. */
  runDue(): Promise<number> {
    if (this.sweeping) return this.sweeping;
    this.sweeping = this.sweep().finally(() => (this.sweeping = null));
    return this.sweeping;
  }

  private async sweep(): Promise<number> {
    const hours = await this.settings.get('heartbeatIntervalHours');
    const t = now();
    const due = (await this.accounts.heartbeatSecrets()).filter((r) => r.heartbeatAt == null || r.heartbeatAt + (r.heartbeatIntervalHours ?? hours) * HOUR <= t);
    const results = await Promise.allSettled(due.map((r) => this.check(SYSTEM, r.secretId)));
    for (const [i, r] of results.entries()) {
      if (r.status === 'rejected') this.log.warn({ secretId: due[i]!.secretId, err: { message: (r.reason as Error).message } }, 'heartbeat could not check a secret');
    }
    return due.length;
  }
}

/** The schedule: looks for due heartbeats every `everyMs` (a round is skipped while the last one runs). */
export function startHeartbeat(hb: Heartbeat, log: Logger, everyMs = 60_000): { stop(): void } {
  const timer = setInterval(() => {
    hb.runDue().catch((e) => log.error({ err: { message: (e as Error).message } }, 'a heartbeat round failed'));
  }, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
