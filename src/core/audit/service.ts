// Append-only audit trail. Appends are serialised in-process (concurrent ones share one
// transaction: group-commit.ts) and, on PostgreSQL, across gateway nodes by a
// transaction-scoped advisory lock, so the chain never forks.
// Verification trusts only what a database writer cannot change: keys pinned outside the
// database and anchors (checkpoints kept in the data dir or exported). This process also
// remembers the newest event it wrote; if that event vanishes or changes (the unsigned tail
// was truncated or rewritten), the next checkpoint signs what it was, so verification
// names the loss from then on (see docs/security.md).
import { sql, type Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { Store } from '../../store/db.js';
import type { AuditEventRow, Database } from '../../store/schema.js';
import { now, parseJson } from '../util.js';
import { GroupCommit } from './group-commit.js';
import { GENESIS, eventHash, verifyChain, type VerifyResult } from './chain.js';
import { exportCheckpoint, readAnchorFile, readAnchorFileRaw, writeAnchorFile, PinningError, type Anchor, type Checkpoint, type ExportedCheckpoint, type PinnedKeys } from './pinning.js';
import { AuditSigner, checkpointMessage, fingerprintOf, keyIdOf, verifySignature } from './signer.js';

export interface Actor {
  id: string | null;
  name: string | null;
  ip?: string | null;
}

export const SYSTEM: Actor = { id: null, name: 'system' };

export interface AuditInput {
  action: string;
  target?: { type: string; id: string | null };
  outcome?: 'success' | 'failure';
  details?: Record<string, unknown>;
}

/** An event as read back: the stored row with its time as ISO text and its details parsed. */
export type AuditEvent = Omit<AuditEventRow, 'ts' | 'details'> & { ts: string; details: Record<string, unknown> };

export interface AuditQuery {
  action?: string;
  actorId?: string;
  targetId?: string;
  since?: number;
  until?: number;
  limit: number;
  offset: number;
}

const ADVISORY_LOCK = 74110001;

/** Slack on top of the checkpoint interval before an unsigned event counts as uncovered. */
export const CHECKPOINT_GRACE_SECONDS = 60;

export interface AuditOptions {
  /** The keys checkpoints are verified against (read again at every verification, so a key added to the file counts at once). */
  pinnedKeys?: () => PinnedKeys | null;
  /** This node's anchor file in the data dir (rewritten at every checkpoint). */
  anchorFile?: string;
  /** The checkpoint interval in force (the auditCheckpointSeconds setting). */
  checkpointSeconds?: () => Promise<number>;
  clock?: () => number;
  log?: Logger;
  /** The line to print once when the signing key was just made (or a new one pinned). */
  announcement?: string | null;
}

export interface VerifyOptions {
  /** Trust exactly these keys (PEM) instead of the pinned ones. */
  pinnedKeys?: string[];
  pinnedSource?: string;
  /** Also trust the keys recorded in the database (an attacker who can write to it can add one). */
  trustDbKeys?: boolean;
  /** Further anchors, e.g. a checkpoint exported earlier and kept elsewhere. */
  anchors?: Anchor[];
}

type Head = { seq: number; hash: string };

/** One event to append. */
export interface AuditEntry {
  actor: Actor;
  input: AuditInput;
}

/**
 * Events waiting to be appended together (one, or several that stand or fall together), with
 * the rows written in their transaction. An `alongside` answering false appends none of them.
 */
interface Append {
  events: AuditEntry[];
  alongside?: (trx: Transaction<Database>) => Promise<void | boolean>;
}

export class AuditService {
  private queue: Promise<unknown> = Promise.resolve();
  /** The newest event this process appended. */
  private witness: Head | null = null;
  /** Events this process wrote that the chain no longer holds, to be signed at the next checkpoint. */
  private lost: Head[] = [];
  private readonly listeners = new Set<(cp: ExportedCheckpoint) => void>();
  private readonly appendListeners = new Set<(e: AuditEvent) => void>();
  private readonly appends = new GroupCommit<Append, AuditEvent[] | null>(
    (job) => void this.serial(job),
    (items) => this.commitAppends(items),
  );
  /** Mutable so tests can move time without waiting. */
  clock: () => number;

  constructor(
    private readonly store: Store,
    private readonly signer: AuditSigner,
    private readonly opts: AuditOptions = {},
  ) {
    this.clock = opts.clock ?? now;
  }

  /** Printed once, at the start that made the signing key (like the bootstrap administrator line). */
  get keyAnnouncement(): string | null {
    return this.opts.announcement ?? null;
  }

  async init(): Promise<void> {
    const key = `audit_key:${this.signer.keyId}`;
    const have = await this.store.db.selectFrom('meta').select('key').where('key', '=', key).executeTakeFirst();
    if (!have) await this.store.db.insertInto('meta').values({ key, value: this.signer.publicKeyPem }).execute();
  }

  get publicKey(): { keyId: string; fingerprint: string; publicKeyPem: string; pinned: { keyId: string; fingerprint: string }[]; pinnedFrom: string | null } {
    const pinned = this.pinnedOrNone();
    return {
      keyId: this.signer.keyId,
      fingerprint: fingerprintOf(this.signer.publicKeyPem),
      publicKeyPem: this.signer.publicKeyPem,
      pinned: (pinned?.keys ?? []).map((k) => ({ keyId: keyIdOf(k), fingerprint: fingerprintOf(k) })),
      pinnedFrom: pinned?.source ?? null,
    };
  }

  private pinned(): PinnedKeys | null {
    return this.opts.pinnedKeys?.() ?? null;
  }

  /** For display: an unreadable pinned-keys file shows as none pinned (verification names the error). */
  private pinnedOrNone(): PinnedKeys | null {
    try {
      return this.pinned();
    } catch (err) {
      if (err instanceof PinningError) return null;
      throw err;
    }
  }

  /** Called with every checkpoint this node signs (for shipping anchors elsewhere, e.g. audit streaming). */
  onCheckpoint(fn: (cp: ExportedCheckpoint) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Called after every event this process appended is committed (audit streaming wakes on it). */
  onAppend(fn: (e: AuditEvent) => void): () => void {
    this.appendListeners.add(fn);
    return () => this.appendListeners.delete(fn);
  }

  /**
   * Appends an event; resolves once it is committed. Concurrent appends share one transaction
   * (group-commit.ts). `alongside` writes rows that must stand or fall with this event in the
   * same transaction (a launch's ticket: no ticket without its audit event, none lost apart
   * from it); it must use the transaction it is given, never the store (on SQLite the one
   * connection is held by the transaction), and it may run again if its batch is retried.
   */
  async record(actor: Actor, input: AuditInput, opts: { alongside?: (trx: Transaction<Database>) => Promise<void> } = {}): Promise<AuditEvent> {
    return (await this.appends.add({ events: [{ actor, input }], ...(opts.alongside ? { alongside: opts.alongside } : {}) }))![0]!;
  }

  /**
   * Appends `events` together, in order and next to each other in the chain, only if `when`
   * answers true: it runs first, in the same transaction, and writes the rows the events
   * stand for (a session's end only while the session is still live). Resolves to the events
   * written, or null when `when` answered false (then nothing of it is written). Like
   * `alongside`, `when` must use the transaction it is given and may run again on a retry.
   */
  recordIf(when: (trx: Transaction<Database>) => Promise<boolean>, events: AuditEntry[]): Promise<AuditEvent[] | null> {
    return this.appends.add({ events, alongside: when });
  }

  /** Runs a job on the one queue that orders appends and checkpoints. */
  private serial(job: () => Promise<unknown>): Promise<unknown> {
    const p = this.queue.then(job, job);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async commitAppends(items: Append[]): Promise<(AuditEvent[] | null)[]> {
    const written = await this.append(items);
    const events = written.flatMap((w) => w ?? []);
    const last = events[events.length - 1];
    if (last) this.witness = { seq: last.seq, hash: last.hash };
    for (const e of events) {
      for (const fn of this.appendListeners) {
        // Committed: a listener's failure must not read as a failed append (that would retry it).
        try {
          fn(e);
        } catch (err) {
          this.opts.log?.error({ err: { message: (err as Error).message } }, 'audit append listener failed');
        }
      }
    }
    return written;
  }

  private async append(items: Append[]): Promise<(AuditEvent[] | null)[]> {
    return this.store.db.transaction().execute(async (trx) => {
      if (this.store.kind === 'postgres') await sql`select pg_advisory_xact_lock(${ADVISORY_LOCK})`.execute(trx);
      const last = await trx.selectFrom('auditEvents').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
      const w = this.witness;
      if (w && (last?.seq !== w.seq || last.hash !== w.hash)) {
        // Another node appended, or the chain changed under us: is our newest event still there?
        const row = await trx.selectFrom('auditEvents').select('hash').where('seq', '=', w.seq).executeTakeFirst();
        if (row?.hash !== w.hash) this.noteLost(w);
      }
      const rows: AuditEventRow[] = [];
      const written: (AuditEvent[] | null)[] = [];
      let prev = { seq: last?.seq ?? 0, hash: last?.hash ?? GENESIS };
      for (const { events, alongside } of items) {
        if (alongside && (await alongside(trx)) === false) {
          written.push(null);
          continue;
        }
        const mine: AuditEventRow[] = [];
        for (const { actor, input } of events) {
          const row = {
            ts: this.clock(),
            actorId: actor.id,
            actorName: actor.name,
            action: input.action,
            targetType: input.target?.type ?? null,
            targetId: input.target?.id ?? null,
            ip: actor.ip ?? null,
            outcome: input.outcome ?? 'success',
            details: JSON.stringify(input.details ?? {}),
            prevHash: prev.hash,
          } as const;
          const full: AuditEventRow = { ...row, seq: prev.seq + 1, hash: eventHash(row) };
          rows.push(full);
          mine.push(full);
          prev = full;
        }
        written.push(mine.map(toEvent));
      }
      if (rows.length) await trx.insertInto('auditEvents').values(rows).execute();
      return written;
    });
  }

  private noteLost(w: Head): void {
    if (!this.lost.some((l) => l.seq === w.seq && l.hash === w.hash)) this.lost.push(w);
    this.witness = null;
    this.opts.log?.error({ seq: w.seq }, 'audit chain tampered: an event this gateway wrote is gone or changed; the next checkpoint signs what it was');
  }

  async list(q: AuditQuery): Promise<{ items: AuditEvent[]; total: number }> {
    let base = this.store.db.selectFrom('auditEvents');
    if (q.action) base = base.where((eb) => (q.action!.endsWith('*') ? eb('action', 'like', q.action!.slice(0, -1) + '%') : eb('action', '=', q.action!)));
    if (q.actorId) base = base.where('actorId', '=', q.actorId);
    if (q.targetId) base = base.where('targetId', '=', q.targetId);
    if (q.since !== undefined) base = base.where('ts', '>=', q.since);
    if (q.until !== undefined) base = base.where('ts', '<', q.until);
    const [{ total }] = (await base.select((eb) => eb.fn.countAll<number>().as('total')).execute()) as [{ total: number }];
    const rows = await base.selectAll().orderBy('seq', 'desc').limit(q.limit).offset(q.offset).execute();
    return { items: rows.map(toEvent), total: Number(total) };
  }

  /** All events in chain order, page by page (for export). */
  async *all(pageSize = 1000): AsyncGenerator<AuditEvent> {
    let after = 0;
    for (;;) {
      const rows = await this.store.db.selectFrom('auditEvents').selectAll().where('seq', '>', after).orderBy('seq').limit(pageSize).execute();
      for (const r of rows) yield toEvent(r);
      if (rows.length < pageSize) return;
      after = rows[rows.length - 1]!.seq;
    }
  }

  private sign(h: Head): Checkpoint {
    const createdAt = this.clock();
    return { seq: h.seq, hash: h.hash, createdAt, keyId: this.signer.keyId, signature: this.signer.sign(checkpointMessage(h.seq, h.hash, createdAt)) };
  }

  /**
   * Signs the current head unless it is already signed. First checks that the newest event
   * this process wrote is still in the chain; if not, signs that event as it was written (in
   * the database and in the anchor file), so verification reports the loss.
   */
  async checkpoint(): Promise<Checkpoint | null> {
    const run = async () => {
      // Under the appends' lock: the head read here is still the head when its checkpoint
      // commits, so checkpoints commit in seq order across the nodes of a cluster. Audit
      // streaming relies on that: it sends the checkpoints after the last one it sent, and a
      // lower one committed after a higher one was sent would never reach the SIEM.
      const { cp, witnessed } = await this.store.db.transaction().execute(async (trx) => {
        if (this.store.kind === 'postgres') await sql`select pg_advisory_xact_lock(${ADVISORY_LOCK})`.execute(trx);
        const w = this.witness;
        if (w) {
          const row = await trx.selectFrom('auditEvents').select('hash').where('seq', '=', w.seq).executeTakeFirst();
          if (row?.hash !== w.hash) this.noteLost(w);
        }
        const witnessed = this.lost.map((l) => this.sign(l));
        for (const cp of witnessed) await trx.insertInto('auditCheckpoints').values(cp).onConflict((oc) => oc.doNothing()).execute();
        const head = await trx.selectFrom('auditEvents').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
        let cp: Checkpoint | null = null;
        if (head && !(await trx.selectFrom('auditCheckpoints').select('seq').where('seq', '=', head.seq).executeTakeFirst())) {
          cp = this.sign(head);
          await trx.insertInto('auditCheckpoints').values(cp).execute();
        }
        return { cp, witnessed };
      });
      if (cp || witnessed.length) {
        this.anchor(cp, witnessed);
        this.lost = [];
      }
      if (cp) {
        const exported = exportCheckpoint(cp, this.signer.publicKeyPem);
        for (const fn of this.listeners) {
          try {
            fn(exported);
          } catch (err) {
            this.opts.log?.error({ err: { message: (err as Error).message } }, 'audit checkpoint listener failed');
          }
        }
      }
      return cp;
    };
    return this.serial(run) as Promise<Checkpoint | null>;
  }

  /** Keeps the newest checkpoint (and every witnessed one, for good) in the data dir, outside the database. */
  private anchor(cp: Checkpoint | null, witnessed: Checkpoint[]): void {
    const file = this.opts.anchorFile;
    if (!file) return;
    const pem = this.signer.publicKeyPem;
    let cur: ReturnType<typeof readAnchorFileRaw>;
    try {
      cur = readAnchorFileRaw(file);
    } catch (err) {
      // Never overwrite an anchor file we cannot read: it may hold witnessed checkpoints.
      this.opts.log?.error({ err: { message: (err as Error).message } }, 'audit anchor file unreadable; not updated');
      return;
    }
    const latest = cp && (!cur.latest || cur.latest.seq <= cp.seq) ? exportCheckpoint(cp, pem) : cur.latest;
    writeAnchorFile(file, latest, [...cur.witnessed, ...witnessed.map((w) => exportCheckpoint(w, pem))]);
  }

  /** The newest checkpoint in the database that a trusted key signed (for export and anchoring). */
  async latestCheckpoint(opts: VerifyOptions = {}): Promise<ExportedCheckpoint | null> {
    const keys = await this.trustedKeys(opts);
    if (!keys) return null;
    const cps = await this.store.db.selectFrom('auditCheckpoints').select(['seq', 'hash', 'signature', 'keyId', 'createdAt']).orderBy('seq', 'desc').limit(100).execute();
    for (const cp of cps) {
      const c = { ...cp, seq: Number(cp.seq), createdAt: Number(cp.createdAt) };
      if (checkSignature(keys.keys, c) === 'ok') return exportCheckpoint(c, keys.keys[c.keyId] ?? null);
    }
    return null;
  }

  private async trustedKeys(opts: VerifyOptions): Promise<{ keys: Record<string, string>; source: string | null } | null> {
    const keys: Record<string, string> = {};
    const pinned = opts.pinnedKeys ? { keys: opts.pinnedKeys, source: opts.pinnedSource ?? '--public-key' } : this.pinned();
    for (const pem of pinned?.keys ?? []) keys[keyIdOf(pem)] = pem;
    if (opts.trustDbKeys) {
      const stored = await this.store.db.selectFrom('meta').select(['key', 'value']).where('key', 'like', 'audit_key:%').execute();
      for (const k of stored) if (keyIdOf(k.value) === k.key.slice('audit_key:'.length)) keys[keyIdOf(k.value)] = k.value;
    }
    if (!Object.keys(keys).length) return null;
    return { keys, source: pinned?.source ?? null };
  }

  /**
   * Recomputes the chain and checks every signed checkpoint against the pinned keys (not the
   * ones recorded in the database, unless `trustDbKeys`), every anchor, and that no event
   * older than the checkpoint interval is left unsigned.
   */
  async verify(opts: VerifyOptions = {}): Promise<VerifyResult> {
    // Snapshot first: rows read afterwards include everything this process wrote so far.
    const lost = [...this.lost];
    const w = this.witness;
    const rows: AuditEventRow[] = [];
    let after = -1;
    for (;;) {
      const page = await this.store.db.selectFrom('auditEvents').selectAll().where('seq', '>', after).orderBy('seq').limit(5000).execute();
      rows.push(...page);
      if (page.length < 5000) break;
      after = page[page.length - 1]!.seq;
    }
    const cps = (await this.store.db.selectFrom('auditCheckpoints').select(['seq', 'hash', 'signature', 'keyId', 'createdAt']).orderBy('seq').execute()).map((c) => ({ ...c, seq: Number(c.seq), createdAt: Number(c.createdAt) }));
    const trust = opts.trustDbKeys ? 'database' : 'pinned';
    const empty = { count: rows.length, checkpoints: cps.length, unsigned: 0, anchors: 0, trust, keySource: null } as const;
    let keys: Awaited<ReturnType<AuditService['trustedKeys']>>;
    try {
      keys = await this.trustedKeys(opts);
    } catch (err) {
      if (!(err instanceof PinningError)) throw err;
      return { ok: false, ...empty, reason: 'no_pinned_key', message: `audit chain cannot be verified: ${err.message}` };
    }
    if (!keys) {
      return { ok: false, ...empty, reason: 'no_pinned_key', message: 'audit chain cannot be verified: no pinned signing key (audit-signing.pub in the data dir, GATEHOUSE_AUDIT_PUBLIC_KEY or --public-key)' };
    }
    let anchors: Anchor[];
    try {
      anchors = [...(this.opts.anchorFile ? readAnchorFile(this.opts.anchorFile) : []), ...(opts.anchors ?? [])];
    } catch (err) {
      if (!(err instanceof PinningError)) throw err;
      return { ok: false, ...empty, keySource: keys.source, reason: 'bad_anchor', message: `audit chain cannot be verified: ${err.message}` };
    }
    // What this process wrote and saw vanish counts as an anchor at once, before the next checkpoint signs it.
    const mine = [...lost, ...(w ? [w] : [])].map((h) => ({ ...this.sign(h), source: 'this gateway\'s memory' }));
    const secs = (await this.opts.checkpointSeconds?.().catch(() => 300)) ?? 300;
    return verifyChain(rows, cps, {
      checkSignature: (cp) => checkSignature(keys.keys, cp),
      anchors: [...anchors, ...mine.filter((m) => rows.length < m.seq || rows[m.seq - 1]?.hash !== m.hash)],
      now: this.clock(),
      dueMs: (secs + CHECKPOINT_GRACE_SECONDS) * 1000,
      trust,
      keySource: keys.source,
    });
  }
}

function checkSignature(keys: Record<string, string>, cp: Checkpoint): 'ok' | 'bad' | 'unpinned' {
  const pem = keys[cp.keyId];
  if (!pem) return 'unpinned';
  // v2 signs the time too; v1 checkpoints (earlier versions) signed seq and hash only.
  return verifySignature(pem, checkpointMessage(cp.seq, cp.hash, cp.createdAt), cp.signature) || verifySignature(pem, checkpointMessage(cp.seq, cp.hash), cp.signature) ? 'ok' : 'bad';
}


function toEvent(r: AuditEventRow): AuditEvent {
  return {
    seq: r.seq,
    ts: new Date(r.ts).toISOString(),
    actorId: r.actorId,
    actorName: r.actorName,
    action: r.action,
    targetType: r.targetType,
    targetId: r.targetId,
    ip: r.ip,
    outcome: r.outcome,
    details: parseJson<Record<string, unknown>>(r.details, {}),
    prevHash: r.prevHash,
    hash: r.hash,
  };
}
