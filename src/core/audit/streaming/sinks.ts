// Audit sinks as administrators configure them (create, change, delete, list with how far each
// got). The secrets (webhook URL, HMAC key, CA, client key) are sealed under the sink's own data
// key and are write-only: views say only whether one is held (the URL: its display form, no path
// or query); audit events name which changed, never a value.
//
// Sinks stored before the webhook URL was sealed have it in clear in their config JSON: they
// still deliver (secrets() falls back to it) and are sealed without a migration, by
// sealLegacyUrls (when streaming starts) or on their first read through this service, with a
// conditional update on the row as read: several nodes doing it at once leave one sealed row.
import { isUniqueViolation, type Store } from '../../../store/db.js';
import type { AuditSinksTable } from '../../../store/schema.js';
import { badRequest, conflict, notFound } from '../../errors.js';
import { flag, newId, now, parseJson } from '../../util.js';
import type { DataKeys } from '../../vault/datakeys.js';
import type { Actor, AuditService } from '../service.js';
import { checkConfig, checkSecrets, displayUrl, type SinkConfig, type SinkInput, type SinkKind, type SinkSecrets } from './config.js';

export type SinkRow = AuditSinksTable;

export interface SinkView extends SinkConfig {
  id: string;
  name: string;
  kind: SinkKind;
  enabled: boolean;
  hasHmacKey: boolean;
  hasCa: boolean;
  hasClientCert: boolean;
  status: {
    /** seq of the last event the receiver took. */
    cursor: number;
    /** seq of the newest event in the chain. */
    head: number;
    pending: number;
    delivered: number;
    lastDeliveredAt: string | null;
    /** Failed deliveries in a row (0: healthy). */
    attempts: number;
    nextAttemptAt: string | null;
    lastError: string | null;
    lastErrorAt: string | null;
    /** The node delivering it (a lease; null when none holds it). */
    node: string | null;
  };
  createdAt: string;
  updatedAt: string;
}

export type SinkCreate = SinkInput & { name: string; kind: SinkKind; enabled?: boolean; startAt?: 'beginning' | 'now' };
export type SinkUpdate = SinkInput & { name?: string; enabled?: boolean };

const aad = (id: string) => `audit-sink:${id}`;
const NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
const iso = (ms: number | null) => (ms ? new Date(Number(ms)).toISOString() : null);

export class AuditSinks {
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly store: Store,
    private readonly dataKeys: DataKeys,
    private readonly audit: AuditService,
  ) {}

  private get db() {
    return this.store.db;
  }

  /** Called after every change (the streamer picks it up at once). */
  onChange(fn: () => void): void {
    this.listeners.add(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  /** The sink's row (a legacy webhook row sealed first: sealLegacyUrl). */
  async row(id: string): Promise<SinkRow> {
    const r = await this.db.selectFrom('auditSinks').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw notFound('audit sink');
    return this.sealed(r);
  }

  config(r: SinkRow): SinkConfig {
    return parseJson<SinkConfig>(r.config, {} as SinkConfig);
  }

  /** The sealed secrets as they are held. */
  private async held(r: SinkRow): Promise<SinkSecrets> {
    if (!r.secretDataKeyId || !r.secretSealed) return {};
    return JSON.parse(await this.dataKeys.decrypt(r.secretDataKeyId, r.secretSealed, aad(r.id))) as SinkSecrets;
  }

  /** The sink's secrets, unsealed for its transport only (a legacy webhook's URL from its config until it is sealed). */
  async secrets(r: SinkRow): Promise<SinkSecrets> {
    const s = await this.held(r);
    if (r.kind === 'webhook' && !s.url) {
      const url = this.config(r).url;
      if (url) s.url = url;
    }
    return s;
  }

  /** A webhook row whose config still holds a URL with a path or query in clear (stored before URLs were sealed). */
  private static clearUrl(r: SinkRow, c: SinkConfig): boolean {
    return r.kind === 'webhook' && !!c.url && displayUrl(c.url) !== c.url;
  }

  /** `r`, sealed first when its config holds the URL in clear (then read again). */
  private async sealed(r: SinkRow): Promise<SinkRow> {
    if (!AuditSinks.clearUrl(r, this.config(r))) return r;
    await this.sealLegacyUrl(r);
    const again = await this.db.selectFrom('auditSinks').selectAll().where('id', '=', r.id).executeTakeFirst();
    if (!again) throw notFound('audit sink');
    return again;
  }

  /**
   * Seals the clear URL of a webhook sink stored before URLs were sealed: the URL joins the
   * sealed secrets (resealed under the sink's own data key, so a reader holding the old row can
   * still open it) and the config keeps its display form. The row is rewritten only if it is
   * still as read (another node may have done it, or an administrator changed the sink).
   * True when this call rewrote it. Idempotent: a sealed row is left alone.
   */
  async sealLegacyUrl(r: SinkRow): Promise<boolean> {
    const c = this.config(r);
    if (r.kind !== 'webhook' || !c.url) return false;
    const held = await this.held(r);
    if (held.url) return false;
    const plain = JSON.stringify({ ...held, url: c.url });
    // A webhook always has its HMAC key sealed, so a data key; one without (not made by this code) gets a new one.
    const sealed = r.secretDataKeyId && r.secretSealed ? { dataKeyId: r.secretDataKeyId, sealed: await this.dataKeys.reseal(r.secretDataKeyId, plain, aad(r.id)) } : await this.dataKeys.encrypt(plain, aad(r.id));
    let q = this.db
      .updateTable('auditSinks')
      .set({ config: JSON.stringify({ ...c, url: displayUrl(c.url) }), secretDataKeyId: sealed.dataKeyId, secretSealed: sealed.sealed })
      .where('id', '=', r.id)
      .where('config', '=', r.config);
    q = r.secretSealed === null ? q.where('secretSealed', 'is', null) : q.where('secretSealed', '=', r.secretSealed);
    const res = await q.executeTakeFirst();
    const done = Number(res.numUpdatedRows) === 1;
    if (!done && sealed.dataKeyId !== r.secretDataKeyId) await this.dataKeys.remove(sealed.dataKeyId);
    return done;
  }

  /** Seals the clear URL of every webhook sink stored before URLs were sealed (at the streamer's start); how many this call sealed. */
  async sealLegacyUrls(): Promise<number> {
    const rows = await this.db.selectFrom('auditSinks').selectAll().where('kind', '=', 'webhook').execute();
    let n = 0;
    for (const r of rows) if (await this.sealLegacyUrl(r)) n++;
    return n;
  }

  async head(): Promise<number> {
    const r = await this.db.selectFrom('auditEvents').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirst();
    return Number(r?.seq ?? 0);
  }

  async view(r: SinkRow, head?: number): Promise<SinkView> {
    const h = head ?? (await this.head());
    const held = r.secretSealed ? await this.held(r) : {};
    const c = this.config(r);
    const cursor = Number(r.cursor);
    const leased = r.leaseNode && Number(r.leaseUntil) > now() ? r.leaseNode : null;
    return {
      id: r.id,
      name: r.name,
      kind: r.kind as SinkKind,
      enabled: !!r.enabled,
      ...c,
      // Only ever the display form (a legacy row read directly, not through row(), may still hold the whole URL).
      url: c.url === null || c.url === undefined ? null : displayUrl(c.url),
      hasHmacKey: !!held.hmacKey,
      hasCa: !!held.caPem,
      hasClientCert: !!held.clientCertPem,
      status: {
        cursor,
        head: h,
        pending: Math.max(0, h - cursor),
        delivered: Number(r.delivered),
        lastDeliveredAt: iso(r.lastDeliveredAt),
        attempts: r.attempts,
        nextAttemptAt: r.attempts ? iso(r.nextAttemptAt) : null,
        lastError: r.lastError,
        lastErrorAt: iso(r.lastErrorAt),
        node: leased,
      },
      createdAt: iso(r.createdAt)!,
      updatedAt: iso(r.updatedAt)!,
    };
  }

  async list(q: { limit: number; offset: number }): Promise<{ items: SinkView[]; total: number }> {
    const rows = await Promise.all((await this.db.selectFrom('auditSinks').selectAll().orderBy('name').execute()).map((r) => this.sealed(r)));
    const h = await this.head();
    return { items: await Promise.all(rows.slice(q.offset, q.offset + q.limit).map((r) => this.view(r, h))), total: rows.length };
  }

  async get(id: string): Promise<SinkView> {
    return this.view(await this.row(id));
  }

  /** Two creates (or renames) of one name at once: the unique index refuses the second, a 409 like the check before it. */
  private nameTaken(e: unknown, name: string): unknown {
    return isUniqueViolation(e) ? conflict(`an audit sink named "${name}" already exists`) : e;
  }

  private async byName(name: string): Promise<SinkRow | undefined> {
    return this.db.selectFrom('auditSinks').selectAll().where('name', '=', name).executeTakeFirst();
  }

  async create(actor: Actor, input: SinkCreate): Promise<SinkView> {
    if (!NAME.test(input.name)) throw badRequest('name must be lower-case letters, digits and - (at most 64)');
    if (await this.byName(input.name)) throw conflict(`an audit sink named "${input.name}" already exists`);
    const cfg = checkConfig(input.kind, null, input);
    const { secrets } = checkSecrets(input.kind, cfg, {}, input);
    const id = newId();
    const sealed = Object.keys(secrets).length ? await this.dataKeys.encrypt(JSON.stringify(secrets), aad(id)) : null;
    const t = now();
    // From the beginning of the chain (the default: the SIEM gets the whole trail), or from the next event.
    const cursor = input.startAt === 'now' ? await this.head() : 0;
    await this.db
      .insertInto('auditSinks')
      .values({ id, name: input.name, kind: input.kind, enabled: flag(input.enabled ?? true), config: JSON.stringify(cfg), secretDataKeyId: sealed?.dataKeyId ?? null, secretSealed: sealed?.sealed ?? null, cursor, checkpointCursor: cursor, delivered: 0, lastDeliveredAt: null, attempts: 0, nextAttemptAt: 0, lastError: null, lastErrorAt: null, leaseNode: null, leaseUntil: 0, createdAt: t, updatedAt: t })
      .execute()
      .catch(async (e) => {
        if (sealed) await this.dataKeys.remove(sealed.dataKeyId).catch(() => undefined);
        throw this.nameTaken(e, input.name);
      });
    const view = await this.get(id);
    await this.audit.record(actor, { action: 'audit.sink_create', target: { type: 'audit_sink', id }, details: { ...auditDetails(view), startAt: input.startAt ?? 'beginning', cursor } });
    this.changed();
    return view;
  }

  async update(actor: Actor, id: string, input: SinkUpdate): Promise<SinkView> {
    const before = await this.row(id);
    const kind = before.kind as SinkKind;
    if (input.name !== undefined && input.name !== before.name) {
      if (!NAME.test(input.name)) throw badRequest('name must be lower-case letters, digits and - (at most 64)');
      if (await this.byName(input.name)) throw conflict(`an audit sink named "${input.name}" already exists`);
    }
    const cfg = checkConfig(kind, this.config(before), input);
    const { secrets, changed } = checkSecrets(kind, cfg, await this.held(before), input);
    const fields: Partial<SinkRow> = { config: JSON.stringify(cfg), updatedAt: Math.max(now(), Number(before.updatedAt) + 1) };
    if (input.name !== undefined) fields.name = input.name;
    if (input.enabled !== undefined) fields.enabled = flag(input.enabled);
    // A change may have fixed what failed: the next try is now, and its backoff starts afresh.
    fields.nextAttemptAt = 0;
    fields.attempts = 0;
    if (changed.length) {
      const sealed = Object.keys(secrets).length ? await this.dataKeys.encrypt(JSON.stringify(secrets), aad(id)) : null;
      fields.secretDataKeyId = sealed?.dataKeyId ?? null;
      fields.secretSealed = sealed?.sealed ?? null;
    }
    await this.db
      .updateTable('auditSinks')
      .set(fields)
      .where('id', '=', id)
      .execute()
      .catch(async (e) => {
        if (changed.length && fields.secretDataKeyId) await this.dataKeys.remove(fields.secretDataKeyId).catch(() => undefined);
        throw this.nameTaken(e, input.name ?? before.name);
      });
    if (changed.length && before.secretDataKeyId) await this.dataKeys.remove(before.secretDataKeyId);
    const view = await this.get(id);
    const named = Object.keys(input).sort();
    await this.audit.record(actor, { action: 'audit.sink_update', target: { type: 'audit_sink', id }, details: { ...auditDetails(view), changed: named } });
    this.changed();
    return view;
  }

  async remove(actor: Actor, id: string): Promise<void> {
    const r = await this.row(id);
    await this.db.deleteFrom('auditSinks').where('id', '=', id).execute();
    if (r.secretDataKeyId) await this.dataKeys.remove(r.secretDataKeyId);
    await this.audit.record(actor, { action: 'audit.sink_delete', target: { type: 'audit_sink', id }, details: { name: r.name, kind: r.kind, cursor: Number(r.cursor) } });
    this.changed();
  }
}

function auditDetails(v: SinkView): Record<string, unknown> {
  return { name: v.name, kind: v.kind, enabled: v.enabled, ...(v.kind === 'syslog' ? { host: v.host, port: v.port, tls: v.tls } : { url: v.url }), hasHmacKey: v.hasHmacKey, hasCa: v.hasCa, hasClientCert: v.hasClientCert };
}
