// What /healthz reports beyond "the process answers": whether the two things every session
// needs can be written now. A node that cannot write its database (audit trail, session
// records) or its recordings refuses every new session (fail closed), so a load balancer
// or an operator should learn of it from the health check, not from refused launches.
// The server also registers its front doors: one that is not listening (a node that cannot
// take SSH or RDP connections) degrades the report the same way.
import { randomBytes } from 'node:crypto';
import { mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Store } from '../store/db.js';
import type { RecordingFailure } from './sessions/service.js';

export interface HealthCheck {
  ok: boolean;
  /** Why not: an errno code for the recordings directory; `timeout` or `write_failed` for the database; `timeout` or `unreachable` for object storage. */
  error?: string;
}

export interface HealthReport {
  status: 'ok' | 'degraded';
  checks: {
    database: HealthCheck;
    /** lastFailure: the latest session whose recording could not be created or written (kept as information). */
    recordings: HealthCheck & { lastFailure?: RecordingFailure };
    /** One per front door, by name (only when the server registered its doors); error `not_listening`. */
    doors?: Record<string, HealthCheck>;
    /** The recordings' bucket, when recordings go to S3-compatible storage (recordings then checks the spool directory). */
    objectStorage?: HealthCheck;
  };
}

/** What the health check needs to know of a front door (the protocol layer reports more). */
export interface DoorStatus {
  listening: boolean;
}

const HEARTBEAT_KEY = 'healthz_heartbeat';

export class Health {
  private dbCheck: Promise<HealthCheck> | null = null;
  private dirCheck: Promise<HealthCheck> | null = null;
  private bucketCheck: Promise<HealthCheck> | null = null;
  private pendingWrite: Promise<void> | null = null;
  private doorStatus: (() => Record<string, DoorStatus>) | null = null;

  /**
   * `recordingsDir` is where this node writes recordings: the recordings directory, or with
   * object storage the spool its segments wait in; `objectStorage` then asks the bucket (a
   * node that cannot upload ends every recorded session, fail closed, so it is not healthy).
   */
  constructor(
    private readonly store: Store,
    private readonly recordingsDir: string,
    private readonly lastRecordingFailure: () => RecordingFailure | null,
    private readonly log: Logger,
    private readonly timeoutMs = 3000,
    private readonly objectStorage?: () => Promise<void>,
  ) {}

  /** The server's front doors, asked at each check. */
  watchDoors(status: () => Record<string, DoorStatus>): void {
    this.doorStatus = status;
  }

  async check(): Promise<HealthReport> {
    // Concurrent checks share one probe of each kind.
    this.dbCheck ??= this.database().finally(() => (this.dbCheck = null));
    this.dirCheck ??= this.recordings().finally(() => (this.dirCheck = null));
    if (this.objectStorage) this.bucketCheck ??= this.bucket(this.objectStorage).finally(() => (this.bucketCheck = null));
    const [database, dir, objectStorage] = await Promise.all([this.dbCheck, this.dirCheck, this.bucketCheck ?? undefined]);
    const last = this.lastRecordingFailure();
    const recordings = { ...dir, ...(last ? { lastFailure: last } : {}) };
    const doors = this.doors();
    const doorsOk = !doors || Object.values(doors).every((d) => d.ok);
    const ok = database.ok && recordings.ok && doorsOk && (objectStorage?.ok ?? true);
    return { status: ok ? 'ok' : 'degraded', checks: { database, recordings, ...(doors ? { doors } : {}), ...(objectStorage ? { objectStorage } : {}) } };
  }

  private doors(): Record<string, HealthCheck> | undefined {
    if (!this.doorStatus) return undefined;
    const out: Record<string, HealthCheck> = {};
    for (const [name, d] of Object.entries(this.doorStatus())) out[name] = d.listening ? { ok: true } : { ok: false, error: 'not_listening' };
    return out;
  }

  /** A real write (a heartbeat row in `meta`), so a read-only or full database fails it, within timeoutMs. */
  private database(): Promise<HealthCheck> {
    // A write still stuck from an earlier check is waited for again rather than joined by
    // another one: a stalled database must not collect one blocked connection per check.
    this.pendingWrite ??= this.heartbeat().finally(() => (this.pendingWrite = null));
    return this.within('database', this.pendingWrite, 'write_failed', { late: 'health: the database did not take a write in time', failed: 'health: the database cannot be written' });
  }

  /**
   * `work` settled within timeoutMs: ok; `timeout` when the timer wins, `failure` when it
   * rejects; either is logged as `check`. Work that lost the race to the timer fails unseen.
   */
  private async within(check: string, work: Promise<void>, failure: string, says: { late: string; failed: string }): Promise<HealthCheck> {
    let timer: NodeJS.Timeout | undefined;
    const done = work.then((): HealthCheck => ({ ok: true }));
    const timeout = new Promise<HealthCheck>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, error: 'timeout' }), this.timeoutMs);
      timer.unref();
    });
    try {
      const r = await Promise.race([done, timeout]);
      if (!r.ok) this.log.warn({ check, timeoutMs: this.timeoutMs }, says.late);
      return r;
    } catch (e) {
      this.log.warn({ check, err: { message: (e as Error).message, code: (e as { code?: string }).code } }, says.failed);
      return { ok: false, error: failure };
    } finally {
      clearTimeout(timer);
      done.catch(() => undefined);
    }
  }

  private async heartbeat(): Promise<void> {
    const value = new Date().toISOString();
    await this.store.db
      .insertInto('meta')
      .values({ key: HEARTBEAT_KEY, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
  }

  /** Creates, writes and removes a probe file where recordings go (EPERM, EACCES, EROFS, ENOSPC, EMFILE…). */
  private async recordings(): Promise<HealthCheck> {
    const probe = join(this.recordingsDir, `.healthz-${randomBytes(6).toString('hex')}`);
    try {
      await mkdir(this.recordingsDir, { recursive: true, mode: 0o700 });
      const f = await open(probe, 'wx', 0o600);
      try {
        await f.write('ok\n');
      } finally {
        await f.close();
        await unlink(probe);
      }
      return { ok: true };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
      this.log.warn({ check: 'recordings', code, err: { message: (e as Error).message } }, 'health: the recordings directory cannot be written');
      return { ok: false, error: code };
    }
  }

  /** The bucket answers within timeoutMs. */
  private bucket(probe: () => Promise<void>): Promise<HealthCheck> {
    return this.within('objectStorage', probe(), 'unreachable', { late: 'health: the recordings bucket did not answer in time', failed: 'health: the recordings bucket cannot be reached' });
  }
}
