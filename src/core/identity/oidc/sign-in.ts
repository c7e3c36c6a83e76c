// OIDC sign-in (authorization code + PKCE, with openid-client): `begin` records a flow (state,
// nonce, PKCE verifier) under the hash of a random flow cookie and answers the provider's
// authorization URL; `finish` takes the flow once (single use), lets openid-client check the
// callback (state, code exchange, ID token signature, issuer, audience, nonce, expiry) and maps
// the claims to a Gatehouse user (claims.ts). A CLI sign-in (loopback redirect, RFC 8252)
// gets a one-time code instead of a cookie, which it exchanges with the verifier of the
// challenge it began with (`cliToken`). Every refusal is audited with a reason code; the
// browser sees that code only, never the library's message.
import { createHash } from 'node:crypto';
import * as client from 'openid-client';
import type { Store } from '../../../store/db.js';
import type { User } from '../../../store/schema.js';
import type { AuditService } from '../../audit/service.js';
import { AppError, badRequest } from '../../errors.js';
import type { SettingsService } from '../../settings.js';
import { now, parseJson, randomToken, safeEqual, sha256hex } from '../../util.js';
import type { Directory } from '../directory.js';
import { claimsToPerson, type ClaimRules, type Person } from './claims.js';
import { isLoopbackHost } from './issuer.js';
import type { OidcProviders, ProviderRow } from './providers.js';

const FLOW_SECONDS = 600;
const CLI_CODE_SECONDS = 120;
const DISCOVERY_CACHE_MS = 5 * 60_000;

/** A sign-in refused: `reason` goes into the audit trail and onto the refusal page. */
export class OidcRefused extends Error {
  constructor(
    readonly reason: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const flowId = (cookie: string) => sha256hex(`gatehouse-oidc-flow:${cookie}`);
const cliCodeHash = (code: string) => sha256hex(`gatehouse-oidc-cli:${code}`);
const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

/** What the CLI may name as its redirect: its own loopback listener over http (RFC 8252 §7.3). */
export function checkCliRedirect(v: string): string {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw badRequest('cli_redirect must be http://127.0.0.1:<port>/<path>', 'invalid_cli_redirect');
  }
  if (url.protocol !== 'http:' || !isLoopbackHost(url.hostname) || !url.port || url.username || url.password || url.search || url.hash) {
    throw badRequest('cli_redirect must be http://127.0.0.1:<port>/<path> (a loopback listener, no query)', 'invalid_cli_redirect');
  }
  return url.href;
}

/** Sorts a library error into a reason code (wrong issuer, bad state or nonce, expired token…). */
function reasonOf(e: unknown): string {
  // openid-client passes oauth4webapi's errors on (or wraps them as `cause`): `claim` names the
  // ID token claim that failed, `code` the kind of check.
  const parts: { message?: string; code?: string; claim?: string; cause?: unknown }[] = [];
  for (let x: unknown = e, i = 0; x && typeof x === 'object' && i < 4; x = (x as { cause?: unknown }).cause, i++) parts.push(x as never);
  const claim = parts.map((p) => p.claim).find((c) => typeof c === 'string');
  const codes = parts.map((p) => `${p.code ?? ''} ${p.message ?? ''}`).join(' ');
  if (claim === 'iss' || /"issuer"|issuer/i.test(codes)) return 'wrong_issuer';
  if (claim === 'nonce') return 'bad_nonce';
  if (claim === 'exp' || claim === 'iat' || claim === 'nbf') return 'id_token_expired';
  if (claim === 'aud' || claim === 'azp') return 'wrong_audience';
  if (/state/i.test(codes)) return 'bad_state';
  if (/fetch failed|ECONNREFUSED|ENOTFOUND|timeout|abort/i.test(codes)) return 'provider_unreachable';
  return 'provider_error';
}

export class OidcSignIn {
  private readonly configs = new Map<string, { key: string; at: number; config: client.Configuration }>();

  constructor(
    private readonly store: Store,
    private readonly providers: OidcProviders,
    private readonly dir: Directory,
    private readonly audit: AuditService,
    private readonly settings: SettingsService,
    private readonly onError: (what: string, err: unknown) => void = () => undefined,
  ) {}

  private get db() {
    return this.store.db;
  }

  /** The provider's discovered configuration (cached a few minutes, dropped when the provider changes). */
  private async config(p: ProviderRow): Promise<client.Configuration> {
    const tolerance = await this.settings.get('oidcClockToleranceSeconds');
    const key = `${p.updatedAt}:${tolerance}`;
    const hit = this.configs.get(p.id);
    if (hit && hit.key === key && now() - hit.at < DISCOVERY_CACHE_MS) return hit.config;
    const secret = await this.providers.clientSecret(p);
    const metadata: Partial<client.ClientMetadata> = { [client.clockTolerance]: tolerance, ...(secret ? { client_secret: secret } : {}) };
    const plainHttp = new URL(p.issuer).protocol === 'http:';
    const config = await client.discovery(new URL(p.issuer), p.clientId, metadata, secret ? client.ClientSecretPost(secret) : client.None(), {
      timeout: 10,
      ...(plainHttp ? { execute: [client.allowInsecureRequests] } : {}),
    });
    this.configs.set(p.id, { key, at: now(), config });
    return config;
  }

  private async refuse(reason: string, status: number, message: string, ctx: { ip: string | null; provider?: ProviderRow; name?: string; user?: User; via: string; detail?: string }): Promise<never> {
    await this.audit.record(
      { id: ctx.user?.id ?? null, name: ctx.user?.username ?? ctx.name ?? null, ip: ctx.ip },
      { action: 'auth.login', outcome: 'failure', ...(ctx.user ? { target: { type: 'user', id: ctx.user.id } } : {}), details: { method: 'oidc', via: ctx.via, provider: ctx.provider?.name ?? null, reason, ...(ctx.detail ? { detail: ctx.detail } : {}) } },
    );
    throw new OidcRefused(reason, status, message);
  }

  /** Starts a sign-in: the flow cookie to set (browser) and where to send the browser. */
  async begin(name: string, opts: { cliRedirect?: string; cliChallenge?: string }, ip: string | null): Promise<{ cookie: string; location: string; maxAgeSeconds: number }> {
    const p = await this.providers.byName(name);
    if (!p || !p.enabled) throw new OidcRefused('unknown_provider', 404, 'no such sign-in provider');
    if ((opts.cliRedirect === undefined) !== (opts.cliChallenge === undefined)) throw badRequest('cli_redirect and cli_challenge go together');
    const cliRedirect = opts.cliRedirect !== undefined ? checkCliRedirect(opts.cliRedirect) : null;
    if (opts.cliChallenge !== undefined && !/^[A-Za-z0-9_-]{43}$/.test(opts.cliChallenge)) throw badRequest('cli_challenge must be a base64url SHA-256 (43 characters)', 'invalid_cli_challenge');
    let config: client.Configuration;
    try {
      config = await this.config(p);
    } catch (e) {
      this.onError(`OIDC discovery of ${p.issuer}`, e);
      return this.refuse(reasonOf(e), 502, 'the sign-in provider could not be reached or answered wrongly', { ip, provider: p, via: cliRedirect ? 'cli' : 'web' });
    }
    const cookie = randomToken(32);
    const state = client.randomState();
    const nonce = client.randomNonce();
    const codeVerifier = client.randomPKCECodeVerifier();
    await this.db.deleteFrom('oidcFlows').where('expiresAt', '<', now()).execute();
    await this.db
      .insertInto('oidcFlows')
      .values({ id: flowId(cookie), providerId: p.id, state, nonce, codeVerifier, cliRedirect, cliChallenge: opts.cliChallenge ?? null, cliCodeHash: null, userId: null, expiresAt: now() + FLOW_SECONDS * 1000 })
      .execute();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: await this.providers.redirectUri(),
      scope: parseJson<string[]>(p.scopes, ['openid']).join(' '),
      response_type: 'code',
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { cookie, location: url.href, maxAgeSeconds: FLOW_SECONDS };
  }

  /**
   * The provider's redirect back: `query` is the callback's query string. Answers the user
   * (browser: the caller issues the session) or, for a CLI flow, where to send the browser
   * with the one-time code.
   */
  async finish(cookie: string | undefined, query: string, ip: string | null): Promise<{ user: User; cliLocation: null } | { user: User; cliLocation: string }> {
    const params = new URLSearchParams(query);
    const flow = cookie ? await this.db.selectFrom('oidcFlows').selectAll().where('id', '=', flowId(cookie)).executeTakeFirst() : undefined;
    // Single use: gone before anything else is checked.
    if (flow) await this.db.deleteFrom('oidcFlows').where('id', '=', flow.id).execute();
    const p = flow ? await this.db.selectFrom('oidcProviders').selectAll().where('id', '=', flow.providerId).executeTakeFirst() : undefined;
    const via = flow?.cliRedirect ? 'cli' : 'web';
    if (!flow || flow.cliCodeHash || flow.expiresAt < now() || !p) return this.refuse('no_flow', 400, 'this sign-in was not started in this browser, was already used, or took too long; start again', { ip, via, ...(p ? { provider: p } : {}) });
    if (!p.enabled) return this.refuse('provider_disabled', 403, 'this sign-in provider is turned off', { ip, provider: p, via });
    if (params.get('error')) return this.refuse('provider_refused', 403, 'the sign-in provider refused the sign-in', { ip, provider: p, via, detail: String(params.get('error')).slice(0, 64) });
    if (!safeEqual(params.get('state') ?? '', flow.state)) return this.refuse('bad_state', 400, 'the sign-in answer does not belong to this sign-in (state)', { ip, provider: p, via });

    let claims: Record<string, unknown>;
    try {
      const config = await this.config(p);
      const current = new URL(await this.providers.redirectUri());
      current.search = params.toString();
      const tokens = await client.authorizationCodeGrant(config, current, { pkceCodeVerifier: flow.codeVerifier, expectedState: flow.state, expectedNonce: flow.nonce, idTokenExpected: true });
      claims = { ...(tokens.claims() ?? {}) };
      // Groups are often only in the userinfo answer (or only there when the ID token would be too large).
      if (claims[p.groupsClaim] === undefined && tokens.access_token && config.serverMetadata().userinfo_endpoint) {
        const info = await client.fetchUserInfo(config, tokens.access_token, String(claims.sub));
        claims = { ...info, ...claims };
      }
    } catch (e) {
      this.onError(`OIDC sign-in through ${p.name}`, e);
      const reason = reasonOf(e);
      return this.refuse(reason, reason === 'provider_unreachable' ? 502 : 403, 'the sign-in provider\'s answer was refused', { ip, provider: p, via });
    }
    const rules: ClaimRules = {
      usernameClaim: p.usernameClaim,
      groupsClaim: p.groupsClaim,
      allowedDomains: parseJson<string[]>(p.allowedDomains, []),
      groupMap: parseJson<{ claim: string; group: string }[]>(p.groupMap, []),
      requireMappedGroup: !!p.requireMappedGroup,
    };
    const person = claimsToPerson(claims, rules);
    if ('refused' in person) return this.refuse(person.refused, 403, person.message, { ip, provider: p, via, name: person.name });
    const user = await this.userFor(p, person, ip, via);
    await this.syncGroups(p, user, rules, person);
    await this.db.updateTable('users').set({ lastLoginAt: now() }).where('id', '=', user.id).execute();
    await this.audit.record({ id: user.id, name: user.username, ip }, { action: 'auth.login', target: { type: 'user', id: user.id }, details: { method: 'oidc', via, provider: p.name, subject: person.subject } });
    if (!flow.cliRedirect) return { user, cliLocation: null };
    // The CLI's leg: a one-time code (kept hashed) for its loopback listener.
    const code = randomToken(32);
    await this.db
      .insertInto('oidcFlows')
      .values({ ...flow, id: flowId(randomToken(32)), cliCodeHash: cliCodeHash(code), userId: user.id, expiresAt: now() + CLI_CODE_SECONDS * 1000 })
      .execute();
    const back = new URL(flow.cliRedirect);
    back.searchParams.set('code', code);
    return { user, cliLocation: back.href };
  }

  /** The CLI's exchange: the one-time code and the verifier of its challenge → the user to issue a token for. */
  async cliToken(code: string, verifier: string, ip: string | null): Promise<User> {
    const row = await this.db.selectFrom('oidcFlows').selectAll().where('cliCodeHash', '=', cliCodeHash(code)).executeTakeFirst();
    if (row) await this.db.deleteFrom('oidcFlows').where('id', '=', row.id).execute();
    const bad = async (reason: string): Promise<never> => {
      await this.audit.record({ id: row?.userId ?? null, name: null, ip }, { action: 'auth.login', outcome: 'failure', details: { method: 'oidc', via: 'cli', reason } });
      throw new AppError(400, 'invalid_code', 'the sign-in code is wrong, used or expired; run the login again');
    };
    if (!row || !row.userId || row.expiresAt < now()) return bad('bad_cli_code');
    if (!row.cliChallenge || !safeEqual(s256(verifier), row.cliChallenge)) return bad('bad_cli_verifier');
    const user = await this.dir.userRow(row.userId);
    if (!user.enabled) return bad('account_disabled');
    return user;
  }

  /** The linked user, else the user of that name, else (setting) a new one. */
  private async userFor(p: ProviderRow, person: Person, ip: string | null, via: string): Promise<User> {
    let link = await this.db.selectFrom('oidcLinks').select('userId').where('providerId', '=', p.id).where('subject', '=', person.subject).executeTakeFirst();
    let user = link ? await this.db.selectFrom('users').selectAll().where('id', '=', link.userId).executeTakeFirst() : undefined;
    // A link to an account deleted before deletions took links along: no link (the sign-in links anew below).
    if (link && !user) link = undefined;
    if (!user) {
      user = await this.dir.userByName(person.username);
      // The name is matched only for an account no one signs in as through this provider yet:
      // another `sub` with the same username claim (renamed, re-used, or chosen by the person
      // at a provider that lets them) is someone else, not a second way into the account.
      const linked = user && (await this.db.selectFrom('oidcLinks').select('subject').where('providerId', '=', p.id).where('userId', '=', user.id).executeTakeFirst());
      if (user && linked) return this.refuse('linked_to_another', 403, 'the Gatehouse account of that name signs in through this provider as someone else; ask an administrator', { ip, provider: p, via, user });
    }
    if (!user) {
      if (!(await this.settings.get('oidcJitProvisioning'))) return this.refuse('no_account', 403, 'there is no Gatehouse account for you; ask an administrator', { ip, provider: p, via, name: person.username });
      try {
        const view = await this.dir.createUser(
          { id: null, name: `oidc:${p.name}`, ip },
          { username: person.username, displayName: person.displayName ?? person.username, email: person.email, roles: ['user'], groups: person.groupIds },
        );
        user = await this.dir.userRow(view.id);
      } catch (e) {
        if (e instanceof AppError && e.status === 400) return this.refuse('invalid_username', 403, 'your name at the sign-in provider cannot be a Gatehouse user name', { ip, provider: p, via, name: person.username });
        throw e;
      }
    }
    if (user.isApplication) return this.refuse('application_account', 403, 'application accounts sign in with the API only', { ip, provider: p, via, user });
    if (!user.enabled) return this.refuse('account_disabled', 403, 'this account is disabled', { ip, provider: p, via, user });
    if (user.lockedUntil && user.lockedUntil > now()) return this.refuse('account_locked', 403, 'this account is locked', { ip, provider: p, via, user });
    if (!link) {
      await this.db.deleteFrom('oidcLinks').where('providerId', '=', p.id).where('subject', '=', person.subject).execute();
      await this.db.insertInto('oidcLinks').values({ providerId: p.id, subject: person.subject, userId: user.id, createdAt: now() }).execute();
    }
    return user;
  }

  /** The groups the map manages follow the claims; other groups are left as they are. */
  private async syncGroups(p: ProviderRow, user: User, rules: ClaimRules, person: Person): Promise<void> {
    const managed = new Set(rules.groupMap.map((m) => m.group));
    if (!managed.size) return;
    const want = new Set(person.groupIds);
    const have = new Set((await this.db.selectFrom('groupMembers').select('groupId').where('userId', '=', user.id).execute()).map((r) => r.groupId));
    const added = [...want].filter((g) => !have.has(g));
    const removed = [...managed].filter((g) => have.has(g) && !want.has(g));
    if (!added.length && !removed.length) return;
    await this.db.transaction().execute(async (trx) => {
      for (const g of added) await trx.insertInto('groupMembers').values({ groupId: g, userId: user.id }).execute();
      if (removed.length) await trx.deleteFrom('groupMembers').where('userId', '=', user.id).where('groupId', 'in', removed).execute();
    });
    await this.audit.record({ id: null, name: `oidc:${p.name}` }, { action: 'oidc.groups_sync', target: { type: 'user', id: user.id }, details: { username: user.username, added, removed } });
  }
}
