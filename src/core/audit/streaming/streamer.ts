// Pushes the audit chain to every enabled sink, in chain order, from a durable cursor.
//
// The outbox is the chain itself: a sink's `cursor` (in the database) is the seq of the last
// event its receiver took, and moves only after a delivery succeeded, in the same statement
// that checks this node still holds the sink's lease and the cursor is where the batch began.
// So nothing is lost across a restart or a crash (delivery resumes after the cursor), and with
// an orderly stop nothing is sent twice: stop() delivers what is still pending within the drain
// time and ends syslog connections after their last byte (a batch still not taken when the drain
// time runs out is aborted and recorded as a failed attempt: a receiver that does not read must
// not hold the shutdown; it goes again at the next start). A failed batch is retried as it was
// (the same events, so for a webhook the same delivery id), however many events came meanwhile.
// After a crash (kill -9) the last batch may be sent again: the same events with the same seq
// and hash, perhaps with more after them (for a webhook then under another delivery id), which
// a receiver drops by seq (docs/operations.md#audit-streaming).
//
// In a cluster every node runs this; a lease in the sink's row lets one node at a time deliver
// it, renewed at every step; a node that dies leaves the lease to expire and another takes over
// from the cursor. Failures back off exponentially (the sink's retryInitialMs doubling up to
// retryMaxMs), with the count and the next try kept in the row, so a restart keeps the pace.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Store } from '../../../store/db.js';
import type { AuditService } from '../service.js';
import { backoffMs, type SinkConfig } from './config.js';
import { exportCheckpoint } from '../pinning.js';
import { fingerprintOf } from '../signer.js';
import { streamedEvent, type StreamedCheckpoint, type StreamedEvent } from './event.js';
import type { AuditSinks, SinkRow } from './sinks.js';
import { SyslogTransport } from './syslog-transport.js';
import { DeliveryError, type SinkTransport } from './transport.js';
import { WebhookTransport } from './webhook-transport.js';

export interface StreamingOptions {
  /** How often sinks, other nodes' events and leases are looked at without a wake-up. */
  pollMs?: number;
  /** How long a lease holds without renewal (another node takes a sink over after it). */
  leaseMs?: number;
}

const POLL_MS = 1000;
const LEASE_MS = 120_000;
/** Deliveries in a row at a size halved after a 413 before the size is doubled again. */
const GROW_AFTER = 8;

type WakeKind = 'events' | 'control';

/** One delivery: the events after `cursor` (up to `upTo`) and the checkpoints after `cpCursor` signing them. */
interface Batch {
  cursor: number;
  cpCursor: number;
  upTo: number;
  events: StreamedEvent[];
  checkpoints: StreamedCheckpoint[];
}

/**
 * One sink loop's wait: ends after its time, or early on a wake of a kind it waits for (new
 * events; a changed sink or stop). A wake while the loop is busy is kept, so none is missed.
 */
class Waker {
  private readonly pending = new Set<WakeKind>();
  private waiter: { kinds: WakeKind[]; done: () => void } | null = null;

  wait(ms: number, kinds: WakeKind[]): Promise<void> {
    if (kinds.some((k) => this.pending.has(k))) {
      for (const k of kinds) this.pending.delete(k);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.waiter = null;
        resolve();
      };
      const t = setTimeout(done, Math.max(0, ms));
      t.unref();
      this.waiter = { kinds, done };
    });
  }

  wake(kind: WakeKind): void {
    if (this.waiter?.kinds.includes(kind)) this.waiter.done();
    else this.pending.add(kind);
  }
}

export class AuditStreaming {
  private readonly loops = new Map<string, Promise<void>>();
  private readonly wakers = new Set<Waker>();
  /** Every sink's open transport, for stop to abort when its drain time runs out. */
  private readonly transports = new Set<SinkTransport>();
  /** stop's drain time ran out: sends under way were aborted, none starts. */
  private aborted = false;
  /** Audit signing key id → fingerprint (null: key not recorded), for streamed checkpoints. */
  private readonly fingerprints = new Map<string, string | null>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | null = null;
  private running = false;
  private stopping = false;
  private deadline = 0;
  private readonly pollMs: number;
  private readonly leaseMs: number;

  constructor(
    private readonly store: Store,
    private readonly sinks: AuditSinks,
    private readonly audit: AuditService,
    private readonly node: string,
    private readonly log: Logger,
    opts: StreamingOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? POLL_MS;
    this.leaseMs = opts.leaseMs ?? LEASE_MS;
    sinks.onChange(() => {
      if (this.running && !this.stopping) void this.reconcile();
      this.wake('control');
    });
  }

  private get db() {
    return this.store.db;
  }

  private wake(kind: WakeKind): void {
    for (const w of this.wakers) w.wake(kind);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    this.aborted = false;
    this.unsubscribe = this.audit.onAppend(() => this.wake('events'));
    // Webhook sinks stored before their URL was sealed are sealed first (sinks.ts; every node
    // does it at its start, each row once). One that fails is tried again at the next start or read.
    let first = true;
    const sealLegacy = () =>
      this.sinks.sealLegacyUrls().then(
        (n) => void (n && this.log.info({ sinks: n }, 'audit streaming: sealed the URL of webhook sinks stored in clear')),
        (err) => this.log.warn({ err: { message: (err as Error).message } }, 'audit streaming: sealing the URL of webhook sinks stored in clear failed'),
      );
    const tick = () => {
      const before = first ? sealLegacy() : Promise.resolve();
      first = false;
      void before.then(() => this.reconcile()).finally(() => {
        if (this.running && !this.stopping) {
          this.timer = setTimeout(tick, this.pollMs);
          this.timer.unref();
        }
      });
    };
    tick();
  }

  /**
   * Stops streaming: every sink first delivers what is pending (the chain up to now, including
   * the events of the shutdown itself) until it is caught up, fails, or `drainMs` has passed.
   * A batch still under way then (a receiver that does not read or answer) is aborted and
   * recorded as a failed attempt: it goes again at the next start. Then connections close and
   * leases go. So stop takes about `drainMs` at most, whatever the receivers do.
   */
  async stop(drainMs = 5000): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    this.deadline = Date.now() + drainMs;
    if (this.timer) clearTimeout(this.timer);
    this.unsubscribe?.();
    const abortAt = setTimeout(() => {
      this.aborted = true;
      for (const t of this.transports) t.abort();
    }, drainMs);
    try {
      // Sinks enabled but not yet running (e.g. one created a moment ago) get their drain too.
      await this.reconcile(true);
      this.wake('control');
      // (Loops the drain's reconcile added are waited for; one under way before stop adds none.)
      while (this.loops.size) await Promise.allSettled([...this.loops.values()]);
    } finally {
      clearTimeout(abortAt);
    }
    this.running = false;
  }

  private async reconcile(evenStopping = false): Promise<void> {
    if (!this.running || (this.stopping && !evenStopping)) return;
    let ids: string[];
    try {
      ids = (await this.db.selectFrom('auditSinks').select('id').where('enabled', '=', 1).execute()).map((r) => r.id);
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, 'audit streaming: reading the sinks failed');
      return;
    }
    // Asked again after the read: a reconcile of the poll that was under way when stop() came
    // must not start a loop that stop(), done waiting, would not see (it could send beside the
    // database closing). stop()'s own reconcile starts the drain's loops.
    if (!this.running || (this.stopping && !evenStopping)) return;
    for (const id of ids) {
      if (this.loops.has(id)) continue;
      const p = this.run(id)
        .catch((err) => this.log.error({ err: { message: (err as Error).message }, sink: id }, 'audit streaming: a sink stopped on an error'))
        .finally(() => this.loops.delete(id));
      this.loops.set(id, p);
    }
  }

  private transportFor(r: SinkRow, c: SinkConfig, secrets: Awaited<ReturnType<AuditSinks['secrets']>>): SinkTransport {
    return r.kind === 'syslog' ? new SyslogTransport(c, secrets, { facility: c.facility, hostname: c.hostname ?? hostname() }) : new WebhookTransport(r.id, r.name, c, secrets);
  }

  /** Checkpoints with after < seq <= upTo, in the export format (with the signing key's fingerprint when its key is recorded). */
  private async checkpointsBetween(after: number, upTo: number): Promise<StreamedCheckpoint[]> {
    if (upTo <= after) return [];
    const rows = await this.db.selectFrom('auditCheckpoints').select(['seq', 'hash', 'signature', 'keyId', 'createdAt']).where('seq', '>', after).where('seq', '<=', upTo).orderBy('seq').limit(100).execute();
    const out: StreamedCheckpoint[] = [];
    for (const cp of rows) {
      let fp = this.fingerprints.get(cp.keyId);
      if (fp === undefined) {
        const k = await this.db.selectFrom('meta').select('value').where('key', '=', `audit_key:${cp.keyId}`).executeTakeFirst();
        fp = k ? fingerprintOf(k.value) : null;
        this.fingerprints.set(cp.keyId, fp);
      }
      const e = exportCheckpoint({ ...cp, seq: Number(cp.seq), createdAt: Number(cp.createdAt) }, null);
      out.push({ ...e, fingerprint: fp });
    }
    return out;
  }

  /** Takes or renews the sink's lease; false when another node holds it. */
  private async claim(id: string): Promise<boolean> {
    const t = Date.now();
    const res = await this.db
      .updateTable('auditSinks')
      .set({ leaseNode: this.node, leaseUntil: t + this.leaseMs })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('leaseNode', '=', this.node), eb('leaseNode', 'is', null), eb('leaseUntil', '<', t)]))
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  /**
   * Renews the sink's lease every third of its length while `send` runs: a delivery that takes
   * long (a large batch, a slow receiver) keeps the sink, and no other node starts the same
   * batch meanwhile (it would, once the lease ran out, and the two would then take the lease
   * from each other without end, neither able to move the cursor).
   */
  private async holding<T>(id: string, send: Promise<T>): Promise<T> {
    // Only a lease this node holds is extended (never one let go or taken meanwhile), and the
    // last renewal has landed before the loop goes on (to its release, say).
    let renewing: Promise<unknown> = Promise.resolve();
    const renew = setInterval(() => (renewing = this.renew(id).catch(() => undefined)), Math.max(1, Math.floor(this.leaseMs / 3)));
    try {
      return await send;
    } finally {
      clearInterval(renew);
      await renewing;
    }
  }

  /** Extends the sink's lease, only while this node holds it (never takes one). */
  private async renew(id: string): Promise<void> {
    await this.db.updateTable('auditSinks').set({ leaseUntil: Date.now() + this.leaseMs }).where('id', '=', id).where('leaseNode', '=', this.node).execute();
  }

  private async release(id: string): Promise<void> {
    await this.db.updateTable('auditSinks').set({ leaseNode: null, leaseUntil: 0 }).where('id', '=', id).where('leaseNode', '=', this.node).execute();
  }

  private async run(id: string): Promise<void> {
    let transport: SinkTransport | null = null;
    let version: number | null = null;
    /** The batch whose delivery failed last, resent as it is while the cursor is where it began. */
    let failed: Batch | null = null;
    /**
     * Events per batch: the sink's batchSize, halved each time the receiver refuses a batch for
     * its size (a webhook's 413), so large events do not hold the sink until someone lowers
     * batchSize by hand; doubled again after GROW_AFTER deliveries in a row at that size (not
     * after each, which would have every other batch refused by a receiver whose limit stays).
     */
    let limit: number | null = null;
    let taken = 0;
    const waker = new Waker();
    this.wakers.add(waker);
    try {
      for (;;) {
        if (this.stopping && Date.now() > this.deadline) return;
        // The lease first, then the row: read before, the row could be the one another node held
        // and advanced since (it delivers, stops and lets go), and this node would send its
        // batch again from the cursor read.
        const held = await this.claim(id);
        const r = await this.db.selectFrom('auditSinks').selectAll().where('id', '=', id).executeTakeFirst();
        if (!r || !r.enabled) return;
        const c = this.sinks.config(r);
        if (version !== Number(r.updatedAt)) {
          if (transport) await this.closeTransport(transport);
          transport = null;
          // A changed sink (a smaller batchSize for a receiver refusing the size) reads its batch afresh.
          failed = null;
          limit = null;
          taken = 0;
          version = Number(r.updatedAt);
        }
        if (!held) {
          if (this.stopping) return;
          await waker.wait(this.pollMs, ['control']);
          continue;
        }
        const wait = Number(r.nextAttemptAt) - Date.now();
        if (r.attempts > 0 && wait > 0) {
          // Backing off: new events do not cut the wait short; a changed sink or stop does.
          if (this.stopping) return;
          await waker.wait(Math.min(wait, this.leaseMs / 2), ['control']);
          continue;
        }
        const cursor = Number(r.cursor);
        const cpCursor = Number(r.checkpointCursor);
        let batch: Batch;
        if (failed && failed.cursor === cursor && failed.cpCursor === cpCursor) {
          // A retry sends exactly the batch that failed, not what is pending by now: a syslog
          // batch may still be queued on its connection (it must not be written again) and a
          // webhook receiver sees the same events under the same delivery id.
          batch = failed;
        } else {
          const rows = await this.db.selectFrom('auditEvents').selectAll().where('seq', '>', cursor).orderBy('seq').limit(Math.min(limit ?? c.batchSize, c.batchSize)).execute();
          const upTo = rows.length ? Number(rows[rows.length - 1]!.seq) : cursor;
          // The signed checkpoints of the chain up to the last event of this batch, after their events.
          const checkpoints = await this.checkpointsBetween(cpCursor, upTo);
          batch = { cursor, cpCursor, upTo, events: rows.map(streamedEvent), checkpoints };
        }
        failed = null;
        const { events, checkpoints, upTo } = batch;
        if (!events.length && !checkpoints.length) {
          if (this.stopping) return;
          await waker.wait(this.pollMs, ['events', 'control']);
          continue;
        }
        try {
          if (!transport) {
            transport = this.transportFor(r, c, await this.sinks.secrets(r));
            this.transports.add(transport);
          }
          // Past the drain time no send starts (one under way was aborted).
          if (this.aborted) return;
          await this.holding(id, transport.send(events, checkpoints));
        } catch (err) {
          const message = err instanceof DeliveryError ? err.message : `delivery failed: ${(err as Error).message}`;
          if (err instanceof DeliveryError && err.tooLarge && events.length > 1 && !this.aborted) {
            // Too large for the receiver: the same stretch of the chain again at once, in halves.
            // (Not a failed attempt: each halving gets closer, and one event refused alone backs off below.)
            limit = Math.ceil(events.length / 2);
            taken = 0;
            this.log.warn({ sink: r.name, seq: events[0]!.seq, events: events.length, next: limit }, `audit streaming: ${message}; sending fewer events at once`);
            if (this.stopping) return;
            continue;
          }
          failed = batch;
          // The transport stays: it replaces a broken connection itself, and a syslog batch the
          // collector has not taken yet stays queued on its connection for the retry to wait on.
          const attempts = r.attempts + 1;
          const t = Date.now();
          // Only under the version the batch was sent with: a change made meanwhile (an
          // administrator fixing the failing sink) asked for a try at once, which this failure
          // of the old settings must not put off by a backoff.
          await this.db
            .updateTable('auditSinks')
            .set({ attempts, nextAttemptAt: t + backoffMs(c, attempts), lastError: message.slice(0, 500), lastErrorAt: t })
            .where('id', '=', id)
            .where('leaseNode', '=', this.node)
            .where('updatedAt', '=', r.updatedAt)
            .execute();
          this.log.warn({ sink: r.name, attempts, seq: events[0]?.seq ?? null }, `audit streaming: ${message}; retrying with backoff`);
          if (this.stopping) return;
          continue;
        }
        const last = upTo;
        const t = Date.now();
        const res = await this.db
          .updateTable('auditSinks')
          .set((eb) => ({ cursor: last, checkpointCursor: checkpoints.length ? checkpoints[checkpoints.length - 1]!.seq : cpCursor, delivered: eb('delivered', '+', events.length), lastDeliveredAt: t, attempts: 0, nextAttemptAt: 0, leaseUntil: t + this.leaseMs }))
          .where('id', '=', id)
          .where('leaseNode', '=', this.node)
          .where('cursor', '=', cursor)
          .where('checkpointCursor', '=', cpCursor)
          .executeTakeFirst();
        if (Number(res.numUpdatedRows) !== 1) {
          this.log.error({ sink: r.name, seq: last }, 'audit streaming: the sink was deleted or taken over by another node while delivering; this batch may reach the receiver twice');
          return;
        }
        if (limit !== null && ++taken >= GROW_AFTER) {
          limit = limit * 2 >= c.batchSize ? null : limit * 2;
          taken = 0;
        }
      }
    } finally {
      this.wakers.delete(waker);
      if (transport) await this.closeTransport(transport);
      await this.release(id).catch(() => undefined);
    }
  }

  private async closeTransport(t: SinkTransport): Promise<void> {
    try {
      await t.close();
    } catch {
      // Nothing to do about a connection that would not close cleanly.
    } finally {
      this.transports.delete(t);
    }
  }
}
