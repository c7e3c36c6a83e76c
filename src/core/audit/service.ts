// Append-only audit trail. Appends are serialised in-process and, on PostgreSQL, across
// gateway nodes by a transaction-scoped advisory lock, so the chain never forks.
import { sql } from 'kysely';
import type { Store } from '../../store/db.js';
import type { AuditEventRow } from '../../store/schema.js';
import { now, parseJson } from '../util.js';
import { GENESIS, eventHash, verifyChain, type Checkpoint, type VerifyResult } from './chain.js';
import { AuditSigner, checkpointMessage, keyIdOf, verifySignature } from './signer.js';

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

export interface AuditEvent {
  seq: number;
  ts: string;
  actorId: string | null;
  actorName: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  outcome: 'success' | 'failure';
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

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

export class AuditService {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly signer: AuditSigner,
  ) {}

  async init(): Promise<void> {
    const key = `audit_key:${this.signer.keyId}`;
    const have = await this.store.db.selectFrom('meta').select('key').where('key', '=', key).executeTakeFirst();
    if (!have) await this.store.db.insertInto('meta').values({ key, value: this.signer.publicKeyPem }).execute();
  }

  get publicKey(): { keyId: string; publicKeyPem: string } {
    return { keyId: this.signer.keyId, publicKeyPem: this.signer.publicKeyPem };
  }

  record(actor: Actor, input: AuditInput): Promise<AuditEvent> {
    const run = () => this.append(actor, input);
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async append(actor: Actor, input: AuditInput): Promise<AuditEvent> {
    return this.store.db.transaction().execute(async (trx) => {
      if (this.store.kind === 'postgres') await sql`select pg_advisory_xact_lock(${ADVISORY_LOCK})`.execute(trx);
      const last = await trx.selectFrom('auditEvents').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
      const row = {
        ts: now(),
        actorId: actor.id,
        actorName: actor.name,
        action: input.action,
        targetType: input.target?.type ?? null,
        targetId: input.target?.id ?? null,
        ip: actor.ip ?? null,
        outcome: input.outcome ?? 'success',
        details: JSON.stringify(input.details ?? {}),
        prevHash: last?.hash ?? GENESIS,
      } as const;
      const full: AuditEventRow = { ...row, seq: (last?.seq ?? 0) + 1, hash: eventHash(row) };
      await trx.insertInto('auditEvents').values(full).execute();
      return toEvent(full);
    });
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

  /** Signs the current head unless it is already signed. */
  async checkpoint(): Promise<Checkpoint | null> {
    const run = async () => {
      const head = await this.store.db.selectFrom('auditEvents').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
      if (!head) return null;
      const have = await this.store.db.selectFrom('auditCheckpoints').select('seq').where('seq', '=', head.seq).executeTakeFirst();
      if (have) return null;
      const cp: Checkpoint = { seq: head.seq, hash: head.hash, keyId: this.signer.keyId, signature: this.signer.sign(checkpointMessage(head.seq, head.hash)) };
      await this.store.db.insertInto('auditCheckpoints').values({ ...cp, createdAt: now() }).execute();
      return cp;
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /**
   * Recomputes the chain and checks every signed checkpoint. By default the signing keys
   * recorded in the database (one per gateway node) are trusted; pass `pinnedKeys` (PEM
   * public keys kept outside the database) to trust only those, which also catches a
   * rewritten chain re-signed with a key an attacker added to the database.
   */
  async verify(opts: { pinnedKeys?: string[] } = {}): Promise<VerifyResult> {
    const rows: AuditEventRow[] = [];
    let after = -1;
    for (;;) {
      const page = await this.store.db.selectFrom('auditEvents').selectAll().where('seq', '>', after).orderBy('seq').limit(5000).execute();
      rows.push(...page);
      if (page.length < 5000) break;
      after = page[page.length - 1]!.seq;
    }
    const cps = await this.store.db.selectFrom('auditCheckpoints').select(['seq', 'hash', 'signature', 'keyId']).orderBy('seq').execute();
    const keys: Record<string, string> = {};
    if (opts.pinnedKeys) {
      for (const pem of opts.pinnedKeys) keys[keyIdOf(pem)] = pem;
    } else {
      const stored = await this.store.db.selectFrom('meta').select(['key', 'value']).where('key', 'like', 'audit_key:%').execute();
      for (const k of stored) if (keyIdOf(k.value) === k.key.slice('audit_key:'.length)) keys[keyIdOf(k.value)] = k.value;
      keys[this.signer.keyId] = this.signer.publicKeyPem;
    }
    return verifyChain(rows, cps, (cp) => {
      const pem = keys[cp.keyId];
      return !!pem && verifySignature(pem, checkpointMessage(cp.seq, cp.hash), cp.signature);
    });
  }
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
