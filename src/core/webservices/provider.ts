// The credential-provider API for an Endpoint Credential Manager (seeds 001/002): an
// application account holding "Web Services Impersonate" lists, for a person and an
// endpoint, the credentials that person may use there (no secret values), and retrieves
// one for injection on the person's behalf. Everything runs as the person (their ACLs,
// the access gate's grants and the exclusive checkout) and is audited with both the
// application and the person. Off until the setting "Enable Webservices" is on.
import { sql } from 'kysely';
import type { Store } from '../../store/db.js';
import type { Secret, User } from '../../store/schema.js';
import type { LaunchPolicies } from '../access/launch-policy.js';
import type { AccessGate } from '../access/gate.js';
import type { AuditService } from '../audit/service.js';
import { AppError, badRequest, conflict, forbidden } from '../errors.js';
import type { Directory } from '../identity/directory.js';
import { actorOf, type Principal } from '../identity/principal.js';
import type { Protocol } from '../launch/launchers.js';
import { SETTINGS, type SettingsService, type SettingValues } from '../settings.js';
import type { Access } from '../vault/access.js';
import { atLeast } from '../vault/access.js';
import type { Checkouts } from '../vault/checkout.js';
import type { Secrets } from '../vault/secrets.js';
import type { Templates, TemplateView } from '../vault/templates.js';
import { own, parseJson } from '../util.js';
import { candidates, domainList, endpointDomain, parseUserId, sameDomain, sameMachine, type Candidate } from './names.js';
import type { TokenCache } from './token-cache.js';
import type { DelegatedTrust, TrustStatus } from './trust.js';

export const WEBSERVICES_DISABLED = 'Webservices are disabled: an administrator turns on the setting "Enable Webservices" (webservicesEnabled).';
export const APPROVAL_PENDING = "Access to this user's secrets is pending approval: the user approves the application under Manage Applications.";
export const APPROVAL_DENIED = "The user denied this application access to their secrets (they can approve it under Manage Applications).";
/** Gatehouse has one organization; "Include default organization" names it. */
export const DEFAULT_ORGANIZATION = 'default';
/** How long a retrieval holds a secret that requires checkout (the injection, then check-in or expiry). */
export const RETRIEVE_CHECKOUT_SECONDS = 900;

/** The settings the listing follows (saved ones, or Test Settings' unsaved form values). */
export type ProviderSettings = Pick<
  SettingValues,
  'webservicesMachineField' | 'webservicesDomainField' | 'webservicesIncludeDomainCredentialsFor' | 'webservicesDefaultDomain' | 'webservicesFallbackToLocal' | 'webservicesIncludeDefaultOrganization'
>;

export interface ListedCredential {
  id: string;
  name: string;
  template: string;
  machine: string | null;
  domain: string | null;
  username: string | null;
  /** machine: its machine field names the endpoint; domain: a domain secret of a listed domain. */
  kind: 'machine' | 'domain';
}

export interface ResolvedUser {
  id: string;
  username: string;
  matchedAs: Candidate['matchedAs'];
}

export interface ListAnswer {
  user: ResolvedUser;
  endpoint: string;
  organization: string | null;
  credentials: ListedCredential[];
}

export interface RetrieveAnswer {
  id: string;
  name: string;
  machine: string | null;
  domain: string | null;
  username: string | null;
  /** The secret fields (password, private key, passphrase …) for injection. */
  secrets: Record<string, string>;
}

export interface TestAnswer {
  user: ResolvedUser | null;
  endpoint: string;
  application: { id: string; name: string } | null;
  approval: TrustStatus | 'self' | 'not_checked';
  message: string;
  credentials: ListedCredential[];
}

export interface Who {
  user: string;
  organization?: string;
}

/** Rotation after use (issue 12) registers here: told after each retrieval that took no checkout. */
export type RotateAfterUse = (secretId: string, usedBy: string) => Promise<void>;

interface Deps {
  store: Store;
  settings: SettingsService;
  dir: Directory;
  access: Access;
  secrets: Secrets;
  templates: Templates;
  accessGate: AccessGate;
  /** The policy in force for a secret, resolved once per retrieval (as once per launch). */
  launchPolicies: LaunchPolicies;
  checkouts: Checkouts;
  audit: AuditService;
  trust: DelegatedTrust;
  tokens: TokenCache;
}

const fieldKey = (t: TemplateView, wanted: string): string | null => {
  const w = wanted.trim().toLowerCase();
  return t.fields.find((f) => f.name.toLowerCase() === w)?.name ?? t.fields.find((f) => f.label.toLowerCase() === w)?.name ?? null;
};

export class CredentialProvider {
  private readonly rotateHooks: RotateAfterUse[] = [];

  constructor(private readonly d: Deps) {}

  /** The named hook for rotation after use; issue 12's rotation service registers itself here. */
  rotateAfterUse(fn: RotateAfterUse): void {
    this.rotateHooks.push(fn);
  }

  async requireEnabled(): Promise<void> {
    if (!(await this.d.settings.get('webservicesEnabled'))) throw new AppError(403, 'webservices_disabled', WEBSERVICES_DISABLED);
  }

  private requireImpersonate(p: Principal): void {
    if (!p.permissions.has('webservices_impersonate')) throw forbidden('you need the Web Services Impersonate permission (webservices_impersonate)');
  }

  private async settingsFor(over?: Partial<ProviderSettings>): Promise<ProviderSettings> {
    const s = await this.d.settings.all();
    const saved: ProviderSettings = {
      webservicesMachineField: s.webservicesMachineField,
      webservicesDomainField: s.webservicesDomainField,
      webservicesIncludeDomainCredentialsFor: s.webservicesIncludeDomainCredentialsFor,
      webservicesDefaultDomain: s.webservicesDefaultDomain,
      webservicesFallbackToLocal: s.webservicesFallbackToLocal,
      webservicesIncludeDefaultOrganization: s.webservicesIncludeDefaultOrganization,
    };
    // Unsaved values (Test Settings) pass the same checks as saving them would.
    const checked: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(over ?? {})) {
      try {
        checked[k] = SETTINGS[k as keyof ProviderSettings].parse(v as never);
      } catch (e) {
        throw badRequest(`setting ${k} ${(e as Error).message}`);
      }
    }
    return { ...saved, ...(checked as Partial<ProviderSettings>) };
  }

  private organization(who: Who, s: ProviderSettings): string | null {
    const asked = who.organization?.trim();
    if (asked && asked.toLowerCase() !== DEFAULT_ORGANIZATION) throw new AppError(404, 'organization_not_found', `organization "${asked}" not found (Gatehouse has one organization, "${DEFAULT_ORGANIZATION}")`);
    return s.webservicesIncludeDefaultOrganization ? DEFAULT_ORGANIZATION : null;
  }

  /** The person a user id names, trying the forms in the settings' order. */
  async resolveUser(raw: string, s: ProviderSettings): Promise<{ row: User; resolved: ResolvedUser }> {
    const id = parseUserId(raw);
    if (!id) throw badRequest('user must be user1, DOMAIN\\username or username@domain', 'invalid_user_id');
    for (const c of candidates(id, { defaultDomain: s.webservicesDefaultDomain, fallbackToLocal: s.webservicesFallbackToLocal })) {
      const row = await this.lookup(c);
      if (row) return { row, resolved: { id: row.id, username: row.username, matchedAs: c.matchedAs } };
    }
    throw new AppError(404, 'user_not_found', `no user matches "${raw}"`);
  }

  private async lookup(c: Candidate): Promise<User | undefined> {
    const name = c.name.toLowerCase();
    const rows =
      c.domain === null
        ? await this.d.store.db.selectFrom('users').selectAll().where(sql<string>`lower(username)`, '=', name).execute()
        : (await this.d.store.db.selectFrom('users').selectAll().where(sql<string>`lower(username)`, 'like', `${name}@%`).execute()).filter((u) => {
            const at = u.username.lastIndexOf('@');
            return u.username.slice(0, at).toLowerCase() === name && sameDomain(u.username.slice(at + 1), c.domain!);
          });
    // Application accounts act for people; nobody acts for them. Disabled people are not there.
    return rows.find((u) => u.enabled && !u.isApplication);
  }

  /** The credentials `user` may use on `endpoint` (view access), machine-specific first. */
  private async credentialsFor(userRow: User, endpoint: string, s: ProviderSettings): Promise<{ listed: ListedCredential[]; secrets: Map<string, Secret> }> {
    const person = await this.d.dir.doorPrincipal(userRow);
    const rows = await this.d.store.db.selectFrom('secrets').selectAll().orderBy('name').execute();
    const templates = new Map<string, TemplateView>();
    const domains = domainList(s.webservicesIncludeDomainCredentialsFor);
    const epDomain = endpointDomain(endpoint);
    // "when 'Include domain credentials for' lists the endpoint's domain": an endpoint named
    // without its domain (a short name, an address) takes every listed domain, as the seed's plugin does.
    const wantedDomains = epDomain ? domains.filter((d) => sameDomain(d, epDomain)) : domains;
    const machine: ListedCredential[] = [];
    const domain: ListedCredential[] = [];
    const secrets = new Map<string, Secret>();
    for (const r of rows) {
      let t = templates.get(r.templateId);
      if (!t) templates.set(r.templateId, (t = await this.d.templates.get(r.templateId)));
      const pub = parseJson<Record<string, unknown>>(r.publicFields, {});
      const mKey = fieldKey(t, s.webservicesMachineField);
      const dKey = fieldKey(t, s.webservicesDomainField);
      const m = mKey && pub[mKey] !== undefined ? String(pub[mKey]) : null;
      const dom = dKey && pub[dKey] !== undefined ? String(pub[dKey]) : null;
      const kind = m && sameMachine(m, endpoint) ? 'machine' : dom && wantedDomains.some((x) => sameDomain(x, dom)) ? 'domain' : null;
      if (!kind) continue;
      if (!atLeast(await this.d.access.secretLevel(person, r), 'view')) continue;
      const uKey = t.usernameField;
      const item: ListedCredential = { id: r.id, name: r.name, template: t.name, machine: m, domain: dom, username: uKey && pub[uKey] !== undefined ? String(pub[uKey]) : null, kind };
      (kind === 'machine' ? machine : domain).push(item);
      secrets.set(r.id, r);
    }
    return { listed: [...machine, ...domain], secrets };
  }

  /** Whether the application may act for the person; pending and denied are refusals of their own. */
  private async trusted(app: Principal, user: User, endpoint: string | null): Promise<void> {
    const status = await this.d.trust.check(app, user, endpoint);
    if (status === 'pending') throw new AppError(403, 'approval_pending', APPROVAL_PENDING);
    if (status === 'denied') throw new AppError(403, 'approval_denied', APPROVAL_DENIED);
  }

  private async failed(app: Principal, action: string, ip: string | null, who: Who, extra: Record<string, unknown>, e: unknown): Promise<never> {
    const code = e instanceof AppError ? e.code : 'internal';
    await this.d.audit.record(actorOf(app, ip), { action, outcome: 'failure', details: { application: app.username, onBehalfOf: who.user, ...extra, code } });
    throw e;
  }

  async list(app: Principal, q: Who & { endpoint: string }, ip: string | null): Promise<ListAnswer> {
    await this.requireEnabled();
    this.requireImpersonate(app);
    try {
      const s = await this.settingsFor();
      const organization = this.organization(q, s);
      const { row, resolved } = await this.resolveUser(q.user, s);
      await this.trusted(app, row, q.endpoint);
      const token = await this.d.tokens.use(app.userId, row.id);
      const { listed } = await this.credentialsFor(row, q.endpoint, s);
      await this.d.audit.record(actorOf(app, ip), {
        action: 'webservices.credentials.list',
        target: { type: 'user', id: row.id },
        details: { application: app.username, onBehalfOf: { id: row.id, username: row.username }, userId: q.user, matchedAs: resolved.matchedAs, endpoint: q.endpoint, count: listed.length, tokenRef: token.tokenRef, tokenCached: token.cached },
      });
      return { user: resolved, endpoint: q.endpoint, organization, credentials: listed };
    } catch (e) {
      return this.failed(app, 'webservices.credentials.list', ip, q, { endpoint: q.endpoint }, e);
    }
  }

  async retrieve(app: Principal, secretId: string, q: Who & { endpoint?: string; protocol?: Protocol }, ip: string | null): Promise<RetrieveAnswer> {
    await this.requireEnabled();
    this.requireImpersonate(app);
    const protocol = q.protocol ?? 'rdp';
    try {
      const s = await this.settingsFor();
      this.organization(q, s);
      const { row } = await this.resolveUser(q.user, s);
      await this.trusted(app, row, q.endpoint ?? null);
      const token = await this.d.tokens.use(app.userId, row.id);
      const person = await this.d.dir.doorPrincipal(row);
      // A secret the person cannot view does not exist for them.
      const { secret } = await this.d.secrets.require(person, secretId, 'view');
      if (q.endpoint) {
        const { secrets } = await this.credentialsFor(row, q.endpoint, s);
        if (!secrets.has(secret.id)) throw badRequest(`this credential is not one listed for ${q.endpoint}`, 'not_for_endpoint');
      }
      // The access workflows, as at launch: the policy's grants, then the exclusive checkout.
      const policy = await this.d.launchPolicies.resolve(secret.id);
      await this.d.accessGate.requireLaunch(person, secret.id, protocol, policy);
      const held = await this.d.checkouts.gate({ id: row.id, name: row.username }, secret.id, Date.now() + RETRIEVE_CHECKOUT_SECONDS * 1000, { required: policy?.checkoutRequired ?? false });
      if (held) throw conflict(held, 'credential_unavailable');
      const checkedOut = await this.d.checkouts.requireCheckoutFor(secret.id, policy?.checkoutRequired ?? false);
      await this.d.secrets.valuesReady(secret.id);
      const cred = await this.d.secrets.credential(secret.id);
      const tpl = await this.d.templates.get(secret.templateId);
      const secretValues: Record<string, string> = {};
      for (const f of tpl.fields) {
        const v = own(cred.fields, f.name);
        if (f.secret && v !== undefined && v !== '') secretValues[f.name] = String(v);
      }
      await this.d.audit.record(actorOf(app, ip), {
        action: 'webservices.credential.retrieve',
        target: { type: 'secret', id: secret.id },
        details: { application: app.username, onBehalfOf: { id: row.id, username: row.username }, userId: q.user, name: secret.name, endpoint: q.endpoint ?? null, protocol, fields: Object.keys(secretValues), checkout: checkedOut, tokenRef: token.tokenRef, tokenCached: token.cached },
      });
      // Rotation after use: with a checkout it follows the check-in; without, the hook is told now.
      if (!checkedOut) for (const fn of this.rotateHooks) await fn(secret.id, row.username).catch(() => undefined);
      return { id: secret.id, name: secret.name, machine: cred.machine, domain: cred.domain, username: cred.username, secrets: secretValues };
    } catch (e) {
      return this.failed(app, 'webservices.credential.retrieve', ip, q, { secretId, endpoint: q.endpoint ?? null }, e);
    }
  }

  /**
   * Test Settings: the credentials that would be listed (never a value), with the settings
   * given (the form's unsaved values) over the saved ones. Run by the application itself, or
   * by an administrator naming the application (or none: then approval is not checked).
   * Like a real call, an application's first test for a person makes the pending approval.
   */
  async test(caller: Principal, q: Who & { endpoint: string; application?: string; settings?: Partial<ProviderSettings> }, ip: string | null): Promise<TestAnswer> {
    await this.requireEnabled();
    const admin = caller.permissions.has('administer');
    if (!admin && !caller.permissions.has('webservices_impersonate')) throw forbidden('Test Settings needs the Web Services Impersonate permission, or administer');
    if (q.application && !admin) throw forbidden('only an administrator may test for another application');
    const s = await this.settingsFor(q.settings);
    this.organization(q, s);
    // Approval goes unchecked only for an administrator naming no application: anyone else
    // with Web Services Impersonate is the application here (an account not marked as one
    // included), as their real calls are, so a test lists no one who has not approved them.
    let app: Principal | null = q.application || admin ? null : caller;
    if (q.application) {
      const row = await this.d.dir.userByName(q.application);
      if (!row || !row.isApplication) throw new AppError(404, 'application_not_found', `no application account "${q.application}"`);
      app = await this.d.dir.doorPrincipal(row);
      if (!app.permissions.has('webservices_impersonate')) throw badRequest(`the application account ${row.username} lacks the Web Services Impersonate permission`, 'application_not_permitted');
    }
    const { row, resolved } = await this.resolveUser(q.user, s);
    const approval = app ? await this.d.trust.check(app, row, q.endpoint) : 'not_checked';
    const ok = approval === 'approved' || approval === 'self' || approval === 'not_checked';
    const { listed } = ok ? await this.credentialsFor(row, q.endpoint, s) : { listed: [] };
    const message =
      approval === 'pending'
        ? `Authenticated as ${app!.username}; ${APPROVAL_PENDING}`
        : approval === 'denied'
          ? APPROVAL_DENIED
          : `${listed.length} credential${listed.length === 1 ? '' : 's'} for ${resolved.username} on ${q.endpoint}${approval === 'not_checked' ? ' (no application named: delegated trust not checked)' : ''}.`;
    await this.d.audit.record(actorOf(caller, ip), {
      action: 'webservices.test',
      target: { type: 'user', id: row.id },
      details: { application: app?.username ?? null, onBehalfOf: { id: row.id, username: row.username }, userId: q.user, endpoint: q.endpoint, approval, count: listed.length, unsavedSettings: Object.keys(q.settings ?? {}) },
    });
    return { user: resolved, endpoint: q.endpoint, application: app ? { id: app.userId, name: app.username } : null, approval, message, credentials: listed };
  }
}
