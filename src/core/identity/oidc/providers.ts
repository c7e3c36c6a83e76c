// OIDC providers as administrators configure them: issuer, client id, the client secret
// (sealed under its own data key, write-only: no answer carries it), scopes, the claims read
// for the user name and the groups, allowed e-mail domains and the group map.
import type { Store } from '../../../store/db.js';
import type { OidcProvidersTable } from '../../../store/schema.js';
import type { Actor, AuditService } from '../../audit/service.js';
import { badRequest, conflict, notFound } from '../../errors.js';
import { flag, newId, now, parseJson } from '../../util.js';
import type { DataKeys } from '../../vault/datakeys.js';
import type { Directory } from '../directory.js';
import { checkIssuer } from './issuer.js';

export type ProviderRow = OidcProvidersTable;

export interface ProviderInput {
  name?: string;
  displayName?: string;
  issuer?: string;
  clientId?: string;
  clientSecret?: string | null;
  scopes?: string[];
  usernameClaim?: string;
  groupsClaim?: string;
  allowedDomains?: string[];
  groupMap?: { claim: string; group: string }[];
  requireMappedGroup?: boolean;
  enabled?: boolean;
}

/** A user's link to a provider: who they are there (the ID token's `sub`), since when. */
export interface OidcLinkView {
  providerId: string;
  provider: string;
  displayName: string;
  subject: string;
  linkedAt: string;
}

export interface ProviderView {
  id: string;
  name: string;
  displayName: string;
  issuer: string;
  clientId: string;
  hasClientSecret: boolean;
  scopes: string[];
  usernameClaim: string;
  groupsClaim: string;
  allowedDomains: string[];
  groupMap: { claim: string; group: { id: string; name: string } }[];
  requireMappedGroup: boolean;
  enabled: boolean;
  redirectUri: string;
  createdAt: string;
  updatedAt: string;
}

/** The claim names the defaults assume (what Keycloak, Entra ID and Google send with `openid profile email`). */
const DEFAULTS = { scopes: ['openid', 'profile', 'email'], usernameClaim: 'preferred_username', groupsClaim: 'groups' };
const CLAIM = /^[A-Za-z0-9_:./-]{1,128}$/;
const DOMAIN = /^[a-z0-9]([a-z0-9-]{0,62}\.)*[a-z0-9-]{1,63}$/;
const secretAad = (id: string) => `oidc-client-secret:${id}`;

export class OidcProviders {
  constructor(
    private readonly store: Store,
    private readonly dataKeys: DataKeys,
    private readonly dir: Directory,
    private readonly audit: AuditService,
    /** The redirect URI to register at providers (depends on the public URL setting). */
    readonly redirectUri: () => Promise<string>,
  ) {}

  private get db() {
    return this.store.db;
  }

  async row(id: string): Promise<ProviderRow> {
    const r = await this.db.selectFrom('oidcProviders').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw notFound('OIDC provider');
    return r;
  }

  async byName(name: string): Promise<ProviderRow | undefined> {
    return this.db.selectFrom('oidcProviders').selectAll().where('name', '=', name).executeTakeFirst();
  }

  async enabled(): Promise<ProviderRow[]> {
    return this.db.selectFrom('oidcProviders').selectAll().where('enabled', '=', 1).orderBy('displayName').execute();
  }

  /** The client secret, unsealed for the token request only. */
  async clientSecret(p: ProviderRow): Promise<string | undefined> {
    if (!p.secretDataKeyId || !p.secretSealed) return undefined;
    return this.dataKeys.decrypt(p.secretDataKeyId, p.secretSealed, secretAad(p.id));
  }

  async view(p: ProviderRow): Promise<ProviderView> {
    const map = parseJson<{ claim: string; group: string }[]>(p.groupMap, []);
    const groups = map.length ? await this.db.selectFrom('groups').select(['id', 'name']).where('id', 'in', map.map((m) => m.group)).execute() : [];
    const nameOf = new Map(groups.map((g) => [g.id, g.name]));
    return {
      id: p.id,
      name: p.name,
      displayName: p.displayName,
      issuer: p.issuer,
      clientId: p.clientId,
      hasClientSecret: !!p.secretSealed,
      scopes: parseJson<string[]>(p.scopes, []),
      usernameClaim: p.usernameClaim,
      groupsClaim: p.groupsClaim,
      allowedDomains: parseJson<string[]>(p.allowedDomains, []),
      // A mapped group deleted since is left out (and dropped at the next save).
      groupMap: map.filter((m) => nameOf.has(m.group)).map((m) => ({ claim: m.claim, group: { id: m.group, name: nameOf.get(m.group)! } })),
      requireMappedGroup: !!p.requireMappedGroup,
      enabled: !!p.enabled,
      redirectUri: await this.redirectUri(),
      createdAt: new Date(p.createdAt).toISOString(),
      updatedAt: new Date(p.updatedAt).toISOString(),
    };
  }

  async list(q: { limit: number; offset: number }): Promise<{ items: ProviderView[]; total: number }> {
    const rows = await this.db.selectFrom('oidcProviders').selectAll().orderBy('name').execute();
    return { items: await Promise.all(rows.slice(q.offset, q.offset + q.limit).map((r) => this.view(r))), total: rows.length };
  }

  /** Checks and normalises the fields given; the secret is handled by the caller. */
  private async checked(input: ProviderInput): Promise<Partial<ProviderRow>> {
    const out: Partial<ProviderRow> = {};
    if (input.name !== undefined) out.name = input.name;
    if (input.displayName !== undefined) out.displayName = input.displayName.trim() || input.displayName;
    if (input.issuer !== undefined) out.issuer = checkIssuer(input.issuer);
    if (input.clientId !== undefined) out.clientId = input.clientId;
    if (input.scopes !== undefined) {
      if (input.scopes.some((s) => !/^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/.test(s))) throw badRequest('scopes must be OAuth scope tokens (no spaces or quotes)');
      const scopes = [...new Set(input.scopes)];
      if (!scopes.includes('openid')) scopes.unshift('openid');
      out.scopes = JSON.stringify(scopes);
    }
    for (const k of ['usernameClaim', 'groupsClaim'] as const) {
      if (input[k] === undefined) continue;
      if (!CLAIM.test(input[k]!)) throw badRequest(`${k} must be a claim name (letters, digits, _ : . / -)`);
      out[k] = input[k]!;
    }
    if (input.allowedDomains !== undefined) {
      const domains = [...new Set(input.allowedDomains.map((d) => d.trim().toLowerCase()))];
      const bad = domains.filter((d) => !DOMAIN.test(d));
      if (bad.length) throw badRequest(`allowedDomains has entries that are no domain names: ${bad.slice(0, 5).join(', ')}`);
      out.allowedDomains = JSON.stringify(domains);
    }
    if (input.groupMap !== undefined) {
      const map: { claim: string; group: string }[] = [];
      for (const m of input.groupMap) map.push({ claim: m.claim, group: (await this.dir.resolveGroups([m.group]))[0]! });
      out.groupMap = JSON.stringify(map);
    }
    if (input.requireMappedGroup !== undefined) out.requireMappedGroup = flag(input.requireMappedGroup);
    if (input.enabled !== undefined) out.enabled = flag(input.enabled);
    return out;
  }

  async create(actor: Actor, input: ProviderInput & { name: string; displayName: string; issuer: string; clientId: string }): Promise<ProviderView> {
    if (await this.byName(input.name)) throw conflict(`an OIDC provider named "${input.name}" already exists`);
    const id = newId();
    const fields = await this.checked({ scopes: DEFAULTS.scopes, usernameClaim: DEFAULTS.usernameClaim, groupsClaim: DEFAULTS.groupsClaim, allowedDomains: [], groupMap: [], requireMappedGroup: true, enabled: true, ...input });
    const sealed = input.clientSecret ? await this.dataKeys.encrypt(input.clientSecret, secretAad(id)) : null;
    const t = now();
    await this.db
      .insertInto('oidcProviders')
      .values({ ...(fields as ProviderRow), id, secretDataKeyId: sealed?.dataKeyId ?? null, secretSealed: sealed?.sealed ?? null, createdAt: t, updatedAt: t })
      .execute();
    const view = await this.view(await this.row(id));
    await this.audit.record(actor, { action: 'oidc.provider_create', target: { type: 'oidc_provider', id }, details: this.auditDetails(view) });
    return view;
  }

  async update(actor: Actor, id: string, input: ProviderInput): Promise<ProviderView> {
    const before = await this.row(id);
    if (input.name !== undefined && input.name !== before.name && (await this.byName(input.name))) throw conflict(`an OIDC provider named "${input.name}" already exists`);
    const fields = await this.checked(input);
    let secretChange: 'set' | 'removed' | undefined;
    if (input.clientSecret !== undefined) {
      const sealed = input.clientSecret ? await this.dataKeys.encrypt(input.clientSecret, secretAad(id)) : null;
      fields.secretDataKeyId = sealed?.dataKeyId ?? null;
      fields.secretSealed = sealed?.sealed ?? null;
      secretChange = sealed ? 'set' : 'removed';
    }
    await this.db.updateTable('oidcProviders').set({ ...fields, updatedAt: now() }).where('id', '=', id).execute();
    if (input.clientSecret !== undefined && before.secretDataKeyId) await this.dataKeys.remove(before.secretDataKeyId);
    const view = await this.view(await this.row(id));
    await this.audit.record(actor, { action: 'oidc.provider_update', target: { type: 'oidc_provider', id }, details: { ...this.auditDetails(view), changed: Object.keys(input).sort(), ...(secretChange ? { clientSecret: secretChange } : {}) } });
    return view;
  }

  async remove(actor: Actor, id: string): Promise<void> {
    const p = await this.row(id);
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('oidcFlows').where('providerId', '=', id).execute();
      await trx.deleteFrom('oidcLinks').where('providerId', '=', id).execute();
      await trx.deleteFrom('oidcProviders').where('id', '=', id).execute();
    });
    if (p.secretDataKeyId) await this.dataKeys.remove(p.secretDataKeyId);
    await this.audit.record(actor, { action: 'oidc.provider_delete', target: { type: 'oidc_provider', id }, details: { name: p.name, issuer: p.issuer } });
  }

  /** GET /users/:id/oidc-links: the providers a user signs in through, as whom (their `sub` there). */
  async links(userId: string): Promise<OidcLinkView[]> {
    await this.dir.userRow(userId);
    const rows = await this.db
      .selectFrom('oidcLinks')
      .innerJoin('oidcProviders', 'oidcProviders.id', 'oidcLinks.providerId')
      .select(['oidcLinks.providerId', 'oidcProviders.name', 'oidcProviders.displayName', 'oidcLinks.subject', 'oidcLinks.createdAt'])
      .where('oidcLinks.userId', '=', userId)
      .orderBy('oidcProviders.name')
      .execute();
    return rows.map((r) => ({ providerId: r.providerId, provider: r.name, displayName: r.displayName, subject: r.subject, linkedAt: new Date(r.createdAt).toISOString() }));
  }

  /**
   * DELETE /users/:id/oidc-links/:providerId: the user no longer signs in through that provider
   * as the linked person; their next sign-in there matches by name again (for a re-issued
   * `sub`, or a person who left and whose username claim someone else now has: one link
   * removed, the account kept).
   */
  async unlink(actor: Actor, userId: string, providerId: string): Promise<void> {
    const user = await this.dir.userRow(userId);
    const p = await this.row(providerId);
    const gone = await this.db.deleteFrom('oidcLinks').where('userId', '=', userId).where('providerId', '=', providerId).returning('subject').execute();
    if (!gone.length) throw notFound('OIDC link');
    await this.audit.record(actor, { action: 'user.oidc_unlinked', target: { type: 'user', id: userId }, details: { user: user.username, provider: p.name, subjects: gone.map((g) => g.subject) } });
  }

  private auditDetails(v: ProviderView): Record<string, unknown> {
    return { name: v.name, issuer: v.issuer, clientId: v.clientId, hasClientSecret: v.hasClientSecret, enabled: v.enabled, groupMap: v.groupMap.map((m) => `${m.claim} → ${m.group.name}`) };
  }
}
