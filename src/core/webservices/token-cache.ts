// The token cache of the credential-provider API (seeds 001/002: "the plugin caches (in an
// encrypted form) authentication tokens for users ... Subsequent calls use the cached token
// until it expires"). Gatehouse keeps one impersonation token per application and person,
// sealed under its own data key, valid for the setting webservicesTokenMinutes; every
// audited use names the token by a short hash, so the calls made under one token can be
// told apart. "Clear Token Cache" empties it; a revoked or denied trust drops its tokens.
import type { Store } from '../../store/db.js';
import type { Actor, AuditService } from '../audit/service.js';
import type { DataKeys } from '../vault/datakeys.js';
import type { SettingsService } from '../settings.js';
import { newId, now, randomToken, sha256hex } from '../util.js';

const aad = (applicationId: string, userId: string) => `webservice-token:${applicationId}:${userId}`;

export interface TokenUse {
  /** Short hash naming the token in the audit trail (never the token). */
  tokenRef: string;
  cached: boolean;
  expiresAt: number;
}

export interface CachedTokenView {
  application: { id: string; name: string };
  user: { id: string; name: string };
  createdAt: string;
  expiresAt: string;
}

export class TokenCache {
  constructor(
    private readonly store: Store,
    private readonly dataKeys: DataKeys,
    private readonly settings: SettingsService,
    private readonly audit: AuditService,
  ) {}

  /** The valid cached token of the pair, or a new one cached in its place. */
  async use(applicationId: string, userId: string): Promise<TokenUse> {
    const row = await this.store.db.selectFrom('webserviceTokens').selectAll().where('applicationId', '=', applicationId).where('userId', '=', userId).executeTakeFirst();
    if (row && Number(row.expiresAt) > now()) {
      const token = await this.dataKeys.decrypt(row.dataKeyId, row.tokenEnc, aad(applicationId, userId)).catch(() => null);
      if (token) return { tokenRef: sha256hex(token).slice(0, 12), cached: true, expiresAt: Number(row.expiresAt) };
    }
    await this.drop(applicationId, userId);
    const token = randomToken(32);
    const { dataKeyId, sealed } = await this.dataKeys.encrypt(token, aad(applicationId, userId));
    const expiresAt = now() + (await this.settings.get('webservicesTokenMinutes')) * 60_000;
    await this.store.db
      .insertInto('webserviceTokens')
      .values({ id: newId(), applicationId, userId, dataKeyId, tokenEnc: sealed, createdAt: now(), expiresAt })
      .onConflict((oc) => oc.columns(['applicationId', 'userId']).doNothing())
      .execute();
    return { tokenRef: sha256hex(token).slice(0, 12), cached: false, expiresAt };
  }

  async drop(applicationId: string, userId: string): Promise<void> {
    const rows = await this.store.db.selectFrom('webserviceTokens').select(['id', 'dataKeyId']).where('applicationId', '=', applicationId).where('userId', '=', userId).execute();
    for (const r of rows) {
      await this.store.db.deleteFrom('webserviceTokens').where('id', '=', r.id).execute();
      await this.dataKeys.remove(r.dataKeyId);
    }
  }

  async list(): Promise<CachedTokenView[]> {
    const rows = await this.store.db.selectFrom('webserviceTokens').select(['applicationId', 'userId', 'createdAt', 'expiresAt']).where('expiresAt', '>', now()).orderBy('createdAt').execute();
    const ids = [...new Set(rows.flatMap((r) => [r.applicationId, r.userId]))];
    const names = new Map(ids.length ? (await this.store.db.selectFrom('users').select(['id', 'username']).where('id', 'in', ids).execute()).map((u) => [u.id, u.username] as const) : []);
    return rows.map((r) => ({
      application: { id: r.applicationId, name: names.get(r.applicationId) ?? r.applicationId },
      user: { id: r.userId, name: names.get(r.userId) ?? r.userId },
      createdAt: new Date(Number(r.createdAt)).toISOString(),
      expiresAt: new Date(Number(r.expiresAt)).toISOString(),
    }));
  }

  /** Clear Token Cache: every cached token (valid or expired) goes; answers how many. */
  async clear(actor: Actor): Promise<number> {
    const rows = await this.store.db.selectFrom('webserviceTokens').select(['id', 'dataKeyId', 'expiresAt']).execute();
    for (const r of rows) {
      await this.store.db.deleteFrom('webserviceTokens').where('id', '=', r.id).execute();
      await this.dataKeys.remove(r.dataKeyId);
    }
    const valid = rows.filter((r) => Number(r.expiresAt) > now()).length;
    await this.audit.record(actor, { action: 'webservices.token_cache.clear', details: { cleared: valid, removedRows: rows.length } });
    return valid;
  }
}
