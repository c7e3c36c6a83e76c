// Authentication: password (+TOTP or a security key) logins with lockout, passwordless
// passkey sign-in, bearer tokens (hashed at rest, scoped, expiring), TOTP enrolment with
// recovery codes, and OAuth2 client credentials for application accounts. Security keys
// (WebAuthn) are checked through the SecurityKeys seam (identity/webauthn, wired by core.ts).
import type { ExpressionBuilder } from 'kysely';
import { Secret, TOTP } from 'otpauth';
import type { Db, Store } from '../../store/db.js';
import { prepare, type SlotOf } from '../../store/prepared.js';
import type { Database, User } from '../../store/schema.js';
import type { Actor, AuditInput, AuditService } from '../audit/service.js';
import { AppError, badRequest, notFound, unauthorized } from '../errors.js';
import type { SettingsService } from '../settings.js';
import { newId, now, parseJson, randomToken, safeEqual, sha256hex } from '../util.js';
import type { DataKeys } from '../vault/datakeys.js';
import type { Directory } from './directory.js';
import { verifyPassword } from './passwords.js';
import { SCOPE_NAMES, type Scope } from './permissions.js';
import type { Principal } from './principal.js';
import type { RequestLimits } from './request-limits.js';
import { SignInGuard, UnknownNameLockouts, type SignInSlot } from './rate-limit.js';

export const TOKEN_PREFIX = 'gh_';
/** The users not locked at `at` (no lock, or one that has ended): a condition of the updates that count and clear failures. */
const unlockedAt = (at: number) => (eb: ExpressionBuilder<Database, 'users'>) => eb.or([eb('lockedUntil', 'is', null), eb('lockedUntil', '<=', at)]);
const hashToken = (t: string) => sha256hex(`gatehouse-token:${t}`);
const ISSUER = 'Gatehouse';
/** The users whose last accepted TOTP step is before `step` (or who have none): a condition of the update that takes a code. */
const totpStepFree = (step: number) => (eb: ExpressionBuilder<Database, 'users'>) => eb.or([eb('totpLastStep', 'is', null), eb('totpLastStep', '<', step)]);

/**
 * Takes TOTP time step `step` for the user: a code is accepted once (RFC 6238 §5.2). One
 * conditional update, true only if it changed the row: of sign-ins with one code at once, on
 * any node of the cluster, exactly one takes it, and a code of a step before the last one
 * taken is refused too.
 */
export async function claimTotpStep(db: Db, userId: string, step: number): Promise<boolean> {
  const r = await db.updateTable('users').set({ totpLastStep: step }).where('id', '=', userId).where(totpStepFree(step)).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Why a second factor (a TOTP or recovery code) was refused, or 'ok'. */
type SecondFactorCheck = 'ok' | 'wrong' | 'used';
/** The audit reason of a TOTP code refused as already used (or older than one used). */
export const TOTP_USED_REASON = 'TOTP code already used';

// Every API request looks its token up (prepared once: store/prepared.ts).
const tokenByHash = prepare((db, slot: SlotOf<{ tokenHash: string }>) =>
  db
    .selectFrom('apiTokens')
    .innerJoin('users', 'users.id', 'apiTokens.userId')
    .select(['apiTokens.id', 'apiTokens.userId', 'apiTokens.kind', 'apiTokens.scopes', 'apiTokens.expiresAt', 'apiTokens.lastUsedAt', 'users.username', 'users.enabled', 'users.isApplication'])
    .where('tokenHash', '=', slot('tokenHash')),
);

/** A policy asks for a second factor from someone who has none. */
export const MFA_NOT_ENROLLED_MESSAGE = 'This secret\'s access policy needs a second factor, and your account has none: enrol TOTP or add a security key first (portal: Account → two-factor authentication, security keys and passkeys; API: POST /api/v1/me/totp, then /api/v1/me/totp/confirm).';

/** 423 with the lock's end, in the message, as `lockedUntil` and as Retry-After. */
function lockedError(until: number): AppError {
  const iso = new Date(until).toISOString();
  return new AppError(423, 'account_locked', `account locked after too many failed logins until ${iso}; try again then or ask an administrator to unlock it`, {
    fields: { lockedUntil: iso },
    retryAfterSeconds: Math.max(1, Math.ceil((until - now()) / 1000)),
  });
}

/** The outcome of checking a password against an outside source. */
export type PasswordCheck = 'ok' | 'wrong' | 'disabled';

/**
 * Where the passwords of some users are checked instead of the local hash (the LDAP directory,
 * src/core/identity/directory-ldap). Its failures to reach the source are AppErrors (503).
 */
export interface PasswordSource {
  /** Whether the source is switched on (it is asked about unknown names only then). */
  enabled(): Promise<boolean>;
  /** Whether this user's password lives in the source. */
  owns(user: User): Promise<boolean>;
  check(user: User, password: string): Promise<PasswordCheck>;
  /** A name Gatehouse does not know: the user created on a right password, 'wrong', or null when the source has no such name either. */
  provision(username: string, password: string, ip: string | null): Promise<User | 'wrong' | null>;
}

/** An answer to a WebAuthn challenge: the challenge's id and what navigator.credentials.get gave (its JSON form). */
export interface KeyAssertion {
  challengeId: string;
  response: unknown;
}
export type KeyPurpose = 'sign-in' | 'passwordless' | 'step-up';
/** What a key assertion proved, or why it was refused (for the audit trail). */
export type KeyCheck = { ok: true; userId: string; key: { id: string; name: string } } | { ok: false; reason: string };

/** Passkeys and security keys (WebAuthn, src/core/identity/webauthn): a second factor beside TOTP. */
export interface SecurityKeys {
  count(userId: string): Promise<number>;
  /** Checks an answer to a challenge given for `purpose` to `userId` (null: a passwordless sign-in). A wrong answer is a KeyCheck, not an error. */
  verify(proof: KeyAssertion, purpose: KeyPurpose, userId: string | null): Promise<KeyCheck>;
}

/** Ten single-use recovery codes: shown once, kept hashed. */
function newRecoveryCodes(): { codes: string[]; hashed: string[] } {
  const codes = Array.from({ length: 10 }, () => {
    const raw = randomToken(8).replace(/[^A-Za-z0-9]/g, 'x').slice(0, 10).toLowerCase();
    return `${raw.slice(0, 5)}-${raw.slice(5)}`;
  });
  return { codes, hashed: codes.map((c) => sha256hex(`recovery:${c.replace('-', '')}`)) };
}

export interface TokenView {
  id: string;
  name: string;
  kind: 'session' | 'api' | 'oauth';
  scopes: Scope[] | null;
  expiresAt: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export class Auth {
  constructor(
    private readonly store: Store,
    private readonly dir: Directory,
    private readonly audit: AuditService,
    private readonly settings: SettingsService,
    private readonly dataKeys: DataKeys,
    onAuditError: (err: Error) => void = () => undefined,
  ) {
    this.guard = new SignInGuard(settings, audit, onAuditError);
  }

  private readonly guard: SignInGuard;
  private source: PasswordSource | null = null;
  private keys: SecurityKeys | null = null;

  /** Passkeys and security keys count as a second factor (core.ts wires identity/webauthn). */
  useSecurityKeys(keys: SecurityKeys): void {
    this.keys = keys;
  }

  private keyCount(userId: string): Promise<number> {
    return this.keys ? this.keys.count(userId) : Promise.resolve(0);
  }

  /** Sign-in and token requests per address and per account (request-limits.ts; core.ts wires it). */
  private limits: RequestLimits | null = null;

  limitRequests(limits: RequestLimits): void {
    this.limits = limits;
  }

  /** Directory users' passwords are checked by `source` (core.ts wires the LDAP directory). */
  usePasswordSource(source: PasswordSource): void {
    this.source = source;
  }

  /** A user's password, checked where it lives. */
  private async passwordCheck(user: User, password: string): Promise<PasswordCheck> {
    if (this.source && (await this.source.owns(user))) return this.source.check(user, password);
    return (await verifyPassword(user.passwordHash, password)) ? 'ok' : 'wrong';
  }
  /** Lockout state of names that match no account (and of unknown OAuth2 client ids). */
  private readonly unknownNames = new UnknownNameLockouts();

  private get db() {
    return this.store.db;
  }

  // ---- login

  /** Tells `fn` of every failed sign-in (the metrics' login failures). */
  observeSignInFailures(fn: (action: string, via: string) => void): void {
    this.guard.observe(fn);
  }

  /** A door's refusal of a ticket nobody was issued: audited under the source's failure summary (SignInGuard.noted); true when it got its own event. */
  noteDoorRefusal(ip: string | null, actor: Actor, input: AuditInput): Promise<boolean> {
    return this.guard.noted(ip, actor, input);
  }

  /** Pending failure summaries are written (shutdown calls this before the last checkpoint). */
  flushSignInSummaries(): Promise<void> {
    return this.guard.flush();
  }

  /**
   * Checks password (+ second factor) with the per-source limit, lockout and auditing. `via`
   * names the door (api, ssh, web) in the audit event. Application accounts may use only the API.
   * A name that matches no account gets the same answers as one that does: 401 until the
   * lockout threshold, then 423 account_locked with the lock's end.
   * `stage: 'password'` stops after the password (nothing recorded as a sign-in): a WebAuthn
   * second factor's challenge is handed out only to someone who knows the password.
   */
  async authenticate(input: { username: string; password: string; totp?: string; webauthn?: KeyAssertion }, ip: string | null, via: 'api' | 'ssh' | 'web' = 'api', stage: 'full' | 'password' = 'full'): Promise<User> {
    await this.limits?.take('login', ip, input.username, { id: null, name: input.username, ip });
    return this.guard.checking(ip, { id: null, name: input.username, ip }, { action: 'auth.login', details: { via } }, (slot) => this.checkSignIn(input, ip, via, stage, slot));
  }

  private async checkSignIn(input: { username: string; password: string; totp?: string; webauthn?: KeyAssertion }, ip: string | null, via: 'api' | 'ssh' | 'web', stage: 'full' | 'password', slot: SignInSlot): Promise<User> {
    let user = await this.dir.userByName(input.username);
    const actor = () => ({ id: user?.id ?? null, name: input.username, ip });
    const attempt = (reason: string) => ({ action: 'auth.login', target: user ? { type: 'user', id: user.id } : undefined, details: { reason, via } });
    // `guess`: a failure that counts against the source's limit (not e.g. "directory unavailable").
    const fail = async (reason: string, guess: boolean, err: AppError = new AppError(401, 'invalid_credentials', 'invalid username or password')): Promise<never> => {
      await this.guard.failed(ip, actor(), attempt(reason), guess, slot);
      throw err;
    };
    const { lockoutThreshold: threshold, lockoutMinutes: minutes } = await this.settings.all();
    if (!user && this.source && !this.unknownNames.lockedUntil(input.username) && (await this.source.enabled())) {
      // A directory user signing in for the first time is created here (a wrong password or an
      // unknown name goes on as an unknown name).
      const found = await this.source.provision(input.username, input.password, ip).catch((e: unknown) => {
        if (e instanceof AppError) return fail('directory unavailable', false, e);
        throw e;
      });
      if (found && found !== 'wrong') user = found;
    }
    if (!user) {
      const until = this.unknownNames.lockedUntil(input.username);
      if (until) return fail('unknown user; locked', true, lockedError(until));
      await verifyPassword(null, input.password);
      const locked = this.unknownNames.fail(input.username, threshold, minutes);
      return fail(locked ? 'unknown user; locked' : 'unknown user', true, locked ? lockedError(locked) : undefined);
    }
    if (user.lockedUntil && user.lockedUntil > now()) return fail('account locked', true, lockedError(user.lockedUntil));
    const check = await this.passwordCheck(user, input.password).catch((e: unknown) => {
      if (e instanceof AppError) return fail('directory unavailable', false, e);
      throw e;
    });
    if (check === 'disabled') return fail('account disabled in the directory', false, new AppError(403, 'account_disabled', 'this account is disabled'));
    if (check !== 'ok') {
      // The attempt that locks the account says so at once, not only the next one.
      const locked = await this.registerFailure(user);
      return fail(locked ? 'wrong password; account locked' : 'wrong password', true, locked ? lockedError(locked) : undefined);
    }
    if (!user.enabled) return fail('account disabled', false, new AppError(403, 'account_disabled', 'this account is disabled'));
    if (user.isApplication && via !== 'api') return fail('application account outside the API', false, new AppError(403, 'application_account', 'application accounts can only use the API'));
    if (stage === 'password') return user;
    const keys = await this.keyCount(user.id);
    let method = 'password';
    let key: { id: string; name: string } | undefined;
    if (input.webauthn && keys > 0) {
      const r = await this.keys!.verify(input.webauthn, 'sign-in', user.id);
      if (!r.ok) {
        const locked = await this.registerFailure(user);
        return fail(`security key refused: ${r.reason}${locked ? '; account locked' : ''}`, true, locked ? lockedError(locked) : new AppError(401, 'invalid_webauthn', 'the security key or passkey was not accepted; try again'));
      }
      method = 'password+webauthn';
      key = r.key;
    } else if (user.totpEnabled || keys > 0) {
      if (!input.totp) {
        // Someone with a key is asked for it (a TOTP or recovery code is still taken instead).
        const err = keys > 0 ? new AppError(401, 'webauthn_required', 'a security key or passkey (or a TOTP or recovery code) is required for this account: ask POST /api/v1/auth/webauthn/options for a challenge') : new AppError(401, 'totp_required', 'a TOTP code (or a recovery code) is required for this account');
        // No failed sign-in (SignInGuard.unfinished): every sign-in with a second factor begins
        // so (the portal asks for the code after this answer). Audited, but not counted.
        await this.guard.unfinished(ip, actor(), attempt('second factor missing'), slot);
        throw err;
      }
      const second = await this.checkSecondFactor(user, input.totp);
      if (second !== 'ok') {
        // A code used already is a wrong second factor (same answer and count); the audit says which.
        const locked = await this.registerFailure(user);
        const reason = second === 'used' ? TOTP_USED_REASON : 'wrong second factor';
        return fail(locked ? `${reason}; account locked` : reason, true, locked ? lockedError(locked) : new AppError(401, 'invalid_totp', 'invalid TOTP code'));
      }
      method = 'password+totp';
    }
    const locked = await this.clearFailures(user, { lastLoginAt: now() });
    if (locked) return fail('account locked', true, lockedError(locked));
    await this.succeeded(user, ip, { method, via, ...(key ? { keyId: key.id, keyName: key.name } : {}) });
    return user;
  }

  private async succeeded(user: User, ip: string | null, details: Record<string, unknown>): Promise<void> {
    this.guard.succeeded(ip);
    await this.audit.record({ id: user.id, name: user.username, ip }, { action: 'auth.login', target: { type: 'user', id: user.id }, details });
  }

  /**
   * A right password (or key, or secret) resets the account's failure count, unless failures
   * checked at the same time locked the account meanwhile: then nothing changes and the answer
   * is when that lock ends (the sign-in is refused as on a locked account).
   */
  private async clearFailures(user: User, also: { lastLoginAt?: number } = {}): Promise<number | null> {
    const at = now();
    const r = await this.db
      .updateTable('users')
      .set({ failedLogins: 0, lockedUntil: null, ...also })
      .where('id', '=', user.id)
      .where(unlockedAt(at))
      .executeTakeFirst();
    return r.numUpdatedRows > 0n ? null : this.lockEnd(user.id, at);
  }

  /** When the account's lock ends, if it is locked at `at`. */
  private async lockEnd(userId: string, at: number): Promise<number | null> {
    const row = await this.db.selectFrom('users').select('lockedUntil').where('id', '=', userId).executeTakeFirst();
    return row?.lockedUntil && row.lockedUntil > at ? row.lockedUntil : null;
  }

  /**
   * Passwordless sign-in with a passkey (setting webauthnPasswordless): the key, verifying the
   * person itself, is the only factor. Under the same per-source limit as password sign-ins;
   * refusals and the sign-in are audited as auth.login.
   */
  async signInWithPasskey(proof: KeyAssertion, ip: string | null, via: 'api' | 'web' = 'web'): Promise<User> {
    return this.guard.checking(ip, { id: null, name: null, ip }, { action: 'auth.login', details: { via, method: 'passkey' } }, (slot) => this.checkPasskey(proof, ip, via, slot));
  }

  private async checkPasskey(proof: KeyAssertion, ip: string | null, via: 'api' | 'web', slot: SignInSlot): Promise<User> {
    const fail = async (reason: string, user: User | undefined, guess: boolean, err: AppError): Promise<never> => {
      await this.guard.failed(ip, { id: user?.id ?? null, name: user?.username ?? null, ip }, { action: 'auth.login', target: user ? { type: 'user', id: user.id } : undefined, details: { reason, via, method: 'passkey' } }, guess, slot);
      throw err;
    };
    if (!(await this.settings.get('webauthnPasswordless'))) return fail('passwordless sign-in is off', undefined, false, new AppError(403, 'passwordless_disabled', 'passwordless sign-in is turned off: sign in with your password'));
    if (!this.keys) return fail('no security keys', undefined, false, new AppError(403, 'passwordless_disabled', 'passwordless sign-in is not available'));
    const r = await this.keys.verify(proof, 'passwordless', null);
    if (!r.ok) return fail(`passkey refused: ${r.reason}`, undefined, true, new AppError(401, 'invalid_webauthn', 'the passkey was not accepted; try again'));
    const user = await this.dir.userRow(r.userId);
    if (user.lockedUntil && user.lockedUntil > now()) return fail('account locked', user, false, lockedError(user.lockedUntil));
    // A directory user disabled in the directory is disabled here by the sync (directory-ldap).
    if (!user.enabled) return fail('account disabled', user, false, new AppError(403, 'account_disabled', 'this account is disabled'));
    const locked = await this.clearFailures(user, { lastLoginAt: now() });
    if (locked) return fail('account locked', user, false, lockedError(locked));
    await this.succeeded(user, ip, { method: 'passkey', via, keyId: r.key.id, keyName: r.key.name });
    return user;
  }

  /**
   * A signed-in user's own password, asked again before a sensitive change: under the same
   * per-source limit as sign-ins, and a wrong one is audited (`auth.password_check`).
   */
  async checkOwnPassword(user: User, password: string, ip: string | null, purpose: string): Promise<boolean> {
    const actor = { id: user.id, name: user.username, ip };
    const input = { action: 'auth.password_check', target: { type: 'user', id: user.id }, details: { purpose } };
    return this.guard.checking(ip, actor, input, async (slot) => {
      await this.refuseLocked(user.id);
      if ((await this.passwordCheck(user, password)) === 'ok') {
        await this.resetLockoutCount(user);
        return true;
      }
      await this.guard.failed(ip, actor, { ...input, details: { ...input.details, reason: 'wrong password' } }, true, slot);
      await this.countTowardLockout(user);
      return false;
    });
  }

  async login(input: { username: string; password: string; totp?: string; webauthn?: KeyAssertion }, ip: string | null): Promise<{ token: string; expiresAt: string; user: User }> {
    const user = await this.authenticate(input, ip, 'api');
    const minutes = await this.settings.get('loginTokenMinutes');
    const { token, expiresAt } = await this.issueToken(user.id, { name: 'login', kind: 'session', scopes: null, ttlSeconds: minutes * 60 });
    return { token, expiresAt, user };
  }

  /**
   * Counts a failed login; returns when the lock ends if the account is locked now: by this
   * failure, or by another checked at the same time (this one is then not counted, as on an
   * account already locked). The count is added to in the database, not written back from the
   * row read at the start: failures checked at once (or on other nodes) each count.
   */
  private async registerFailure(user: User): Promise<number | null> {
    const { lockoutThreshold: threshold, lockoutMinutes } = await this.settings.all();
    const at = now();
    const unlocked = unlockedAt(at);
    const row = await this.db
      .updateTable('users')
      .set((eb) => ({ failedLogins: eb('failedLogins', '+', 1) }))
      .where('id', '=', user.id)
      .where(unlocked)
      .returning('failedLogins')
      .executeTakeFirst();
    if (!row) return this.lockEnd(user.id, at);
    if (threshold === 0 || row.failedLogins < threshold) return null;
    const until = at + lockoutMinutes * 60_000;
    // Several failures may reach the threshold together: the first to lock the account does (and audits it).
    const locked = await this.db.updateTable('users').set({ failedLogins: 0, lockedUntil: until }).where('id', '=', user.id).where('failedLogins', '>=', threshold).where(unlocked).executeTakeFirst();
    if (locked.numUpdatedRows === 0n) return this.lockEnd(user.id, at);
    await this.audit.record({ id: user.id, name: user.username }, { action: 'user.lockout', outcome: 'failure', target: { type: 'user', id: user.id }, details: { failedLogins: row.failedLogins } });
    return until;
  }

  // ---- tokens

  async issueToken(userId: string, opts: { name: string; kind: 'session' | 'api' | 'oauth'; scopes: Scope[] | null; ttlSeconds: number }): Promise<{ id: string; token: string; expiresAt: string }> {
    const token = TOKEN_PREFIX + randomToken(32);
    const id = newId();
    const expiresAt = now() + opts.ttlSeconds * 1000;
    await this.db
      .insertInto('apiTokens')
      .values({ id, userId, name: opts.name, tokenHash: hashToken(token), kind: opts.kind, scopes: JSON.stringify(opts.scopes), expiresAt, createdAt: now(), lastUsedAt: null })
      .execute();
    return { id, token, expiresAt: new Date(expiresAt).toISOString() };
  }

  async resolveToken(token: string, ip: string | null): Promise<Principal | null> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return null;
    const row = await tokenByHash.first(this.db, { tokenHash: hashToken(token) });
    if (!row || row.expiresAt <= now() || !row.enabled) return null;
    // Touch at most once a minute: avoids a write per request.
    if (!row.lastUsedAt || now() - row.lastUsedAt > 60_000) await this.db.updateTable('apiTokens').set({ lastUsedAt: now() }).where('id', '=', row.id).execute();
    const scopes = parseJson<Scope[] | null>(row.scopes, null);
    const user = await this.dir.doorPrincipal({ id: row.userId, username: row.username, isApplication: row.isApplication }, ip);
    return { ...user, scopes: scopes ? new Set(scopes) : null, tokenId: row.id, tokenKind: row.kind };
  }

  async createApiToken(actor: Actor & { id: string }, input: { name: string; scopes: string[]; expiresInDays?: number }): Promise<{ token: string } & TokenView> {
    const bad = input.scopes.filter((s) => !(SCOPE_NAMES as string[]).includes(s));
    if (bad.length) throw badRequest(`unknown scope(s): ${bad.join(', ')}; known: ${SCOPE_NAMES.join(', ')}`);
    if (input.scopes.length === 0) throw badRequest('a token needs at least one scope');
    const days = input.expiresInDays ?? 90;
    const { id, token } = await this.issueToken(actor.id, { name: input.name, kind: 'api', scopes: [...new Set(input.scopes)] as Scope[], ttlSeconds: days * 86400 });
    await this.audit.record(actor, { action: 'token.create', target: { type: 'token', id }, details: { name: input.name, scopes: input.scopes, expiresInDays: days } });
    return { token, ...(await this.viewToken(id)) };
  }

  private async viewToken(id: string): Promise<TokenView> {
    const t = await this.db.selectFrom('apiTokens').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    return {
      id: t.id,
      name: t.name,
      kind: t.kind,
      scopes: parseJson<Scope[] | null>(t.scopes, null),
      expiresAt: new Date(t.expiresAt).toISOString(),
      createdAt: new Date(t.createdAt).toISOString(),
      lastUsedAt: t.lastUsedAt ? new Date(t.lastUsedAt).toISOString() : null,
    };
  }

  async listTokens(userId: string): Promise<TokenView[]> {
    const rows = await this.db.selectFrom('apiTokens').select('id').where('userId', '=', userId).where('expiresAt', '>', now()).orderBy('createdAt', 'desc').execute();
    return Promise.all(rows.map((r) => this.viewToken(r.id)));
  }

  async revokeToken(actor: Actor & { id: string }, tokenId: string): Promise<void> {
    const r = await this.db.deleteFrom('apiTokens').where('id', '=', tokenId).where('userId', '=', actor.id).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw notFound('token');
    await this.audit.record(actor, { action: 'token.revoke', target: { type: 'token', id: tokenId } });
  }

  async logout(principal: Principal): Promise<void> {
    await this.db.deleteFrom('apiTokens').where('id', '=', principal.tokenId).execute();
    await this.audit.record({ id: principal.userId, name: principal.username, ip: principal.ip }, { action: 'auth.logout', target: { type: 'user', id: principal.userId } });
  }

  // ---- TOTP

  private totpFor(user: User, secretBase32: string): TOTP {
    return new TOTP({ issuer: ISSUER, label: user.username, algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secretBase32) });
  }

  private async totpSecret(user: User): Promise<string | null> {
    if (!user.totpDataKeyId || !user.totpEnc) return null;
    return this.dataKeys.decrypt(user.totpDataKeyId, user.totpEnc, `totp:${user.id}`);
  }

  /**
   * The time step a TOTP code is for, among those accepted now (the current step and one either
   * side, for clock drift), or null when it is none of them.
   */
  private totpStep(user: User, secret: string, code: string): number | null {
    if (!/^\d{6}$/.test(code)) return null;
    const totp = this.totpFor(user, secret);
    const at = now();
    const delta = totp.validate({ token: code, timestamp: at, window: 1 });
    return delta === null ? null : totp.counter({ timestamp: at }) + delta;
  }

  /**
   * A TOTP code (accepted once: its time step is taken in the database, claimTotpStep; 'used'
   * when it was taken already or a later one was) or a recovery code (single use).
   */
  private async checkSecondFactor(user: User, code: string): Promise<SecondFactorCheck> {
    // Only a confirmed seed: one whose enrolment was started and never confirmed (someone
    // holding the session could start one) is no second factor beside a security key.
    const secret = user.totpEnabled ? await this.totpSecret(user) : null;
    const step = secret ? this.totpStep(user, secret, code) : null;
    if (step !== null) return (await claimTotpStep(this.db, user.id, step)) ? 'ok' : 'used';
    // Recovery codes are single use. The list is replaced only if it is still the one read
    // (compare and swap): two sign-ins at once with the same code would both have used it, and
    // two with different codes would each have written the list without the other's, bringing
    // a used code back. A list changed meanwhile is read again and looked at afresh.
    const h = sha256hex(`recovery:${code.replace(/[\s-]/g, '').toLowerCase()}`);
    let stored = user.recoveryCodes;
    for (let attempt = 0; attempt < 8 && stored; attempt++) {
      const codes = parseJson<string[]>(stored, []);
      const idx = codes.findIndex((c) => safeEqual(c, h));
      if (idx < 0) return 'wrong';
      codes.splice(idx, 1);
      const r = await this.db.updateTable('users').set({ recoveryCodes: JSON.stringify(codes) }).where('id', '=', user.id).where('recoveryCodes', '=', stored).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 1) {
        await this.audit.record({ id: user.id, name: user.username }, { action: 'auth.recovery_code_used', target: { type: 'user', id: user.id }, details: { remaining: codes.length } });
        return 'ok';
      }
      stored = (await this.dir.userRow(user.id)).recoveryCodes;
    }
    return 'wrong';
  }

  async hasSecondFactor(userId: string): Promise<boolean> {
    return !!(await this.dir.userRow(userId)).totpEnabled || (await this.keyCount(userId)) > 0;
  }

  /** Recovery codes for someone whose first second factor is a security key (null when they have some). */
  async recoveryCodesIfNone(actor: Actor & { id: string }): Promise<string[] | null> {
    const user = await this.dir.userRow(actor.id);
    if (parseJson<string[]>(user.recoveryCodes, []).length > 0) return null;
    const { codes, hashed } = newRecoveryCodes();
    await this.db.updateTable('users').set({ recoveryCodes: JSON.stringify(hashed) }).where('id', '=', user.id).execute();
    await this.audit.record(actor, { action: 'auth.recovery_codes_issued', target: { type: 'user', id: user.id }, details: { count: codes.length } });
    return codes;
  }

  /**
   * A wrong step-up code or "current password" from a signed-in session counts toward the
   * account lockout, as a wrong sign-in does: counted per source address only, a stolen session
   * could guess a six-digit code from many addresses (an IPv6 /48 is 65,536 /64 sources). A
   * lock this failure sets is answered at once (423).
   */
  private async countTowardLockout(user: User): Promise<void> {
    const until = await this.registerFailure(user);
    if (until) throw lockedError(until);
  }

  /** A right step-up code or "current password": the failure count starts again, unless a lock was set meanwhile (423). */
  private async resetLockoutCount(user: User): Promise<void> {
    const until = await this.clearFailures(user);
    if (until) throw lockedError(until);
  }

  /** A locked account checks no step-up code or password until the lock ends (423). */
  private async refuseLocked(userId: string): Promise<void> {
    const until = await this.lockEnd(userId, now());
    if (until) throw lockedError(until);
  }

  /** With no second factor left, recovery codes would stand for nothing: they go. */
  async dropRecoveryCodesIfUnused(userId: string): Promise<void> {
    if (!(await this.hasSecondFactor(userId))) await this.db.updateTable('users').set({ recoveryCodes: null }).where('id', '=', userId).execute();
  }

  /**
   * A signed-in person's second factor asked again (MFA step-up before a launch): under the
   * same per-source limit as sign-ins; success and failure are audited as `auth.step_up`.
   */
  async checkStepUpCode(userId: string, code: string | KeyAssertion, ip: string | null, via: string): Promise<void> {
    const user = await this.dir.userRow(userId);
    const actor = { id: user.id, name: user.username, ip };
    const keys = await this.keyCount(user.id);
    const input = { action: 'auth.step_up', target: { type: 'user', id: user.id }, details: { via, method: typeof code === 'string' ? 'code' : 'webauthn' } as Record<string, unknown> };
    if (!user.totpEnabled && keys === 0) {
      await this.audit.record(actor, { ...input, outcome: 'failure', details: { ...input.details, reason: 'no second factor enrolled' } });
      throw new AppError(403, 'mfa_not_enrolled', MFA_NOT_ENROLLED_MESSAGE);
    }
    await this.guard.checking(ip, actor, input, async (slot) => {
      await this.refuseLocked(user.id);
      if (typeof code !== 'string') {
        const r = keys > 0 ? await this.keys!.verify(code, 'step-up', user.id) : ({ ok: false, reason: 'no security key registered' } as const);
        if (!r.ok) {
          await this.guard.failed(ip, actor, { ...input, details: { ...input.details, reason: `security key refused: ${r.reason}` } }, true, slot);
          await this.countTowardLockout(user);
          throw new AppError(403, 'invalid_webauthn', 'the security key or passkey was not accepted; try again');
        }
        input.details = { ...input.details, keyId: r.key.id, keyName: r.key.name };
      } else {
        const second = await this.checkSecondFactor(user, code);
        if (second !== 'ok') {
          await this.guard.failed(ip, actor, { ...input, details: { ...input.details, reason: second === 'used' ? TOTP_USED_REASON : 'wrong second factor' } }, true, slot);
          await this.countTowardLockout(user);
          // 403, not 401: the caller is signed in (the portal reads any 401 as an expired session).
          throw new AppError(403, 'invalid_totp', 'invalid verification code');
        }
      }
    });
    this.guard.succeeded(ip);
    // As a right sign-in does: the count of wrong codes starts again (a lock set meanwhile stands).
    await this.resetLockoutCount(user);
    await this.audit.record(actor, input);
  }

  /** Starts enrolment: a new seed is stored (not yet active) and returned once to its owner. */
  async beginTotp(actor: Actor & { id: string }): Promise<{ secret: string; otpauthUrl: string }> {
    const user = await this.dir.userRow(actor.id);
    if (user.totpEnabled) throw new AppError(409, 'totp_already_enabled', 'TOTP is already enabled; disable it first');
    const secret = new Secret({ size: 20 }).base32;
    const { dataKeyId, sealed } = await this.dataKeys.encrypt(secret, `totp:${user.id}`);
    const old = user.totpDataKeyId;
    // A new seed: no code of it used yet. Only over the seed read above, still unconfirmed: a
    // confirmation (or another enrolment) that got there meanwhile stands.
    const r = await this.db
      .updateTable('users')
      .set({ totpDataKeyId: dataKeyId, totpEnc: sealed, totpEnabled: 0, totpLastStep: null })
      .where('id', '=', user.id)
      .where('totpEnabled', '=', 0)
      .where((eb) => (old ? eb('totpDataKeyId', '=', old) : eb('totpDataKeyId', 'is', null)))
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) {
      await this.dataKeys.remove(dataKeyId);
      throw new AppError(409, 'totp_enrolment_changed', 'TOTP enrolment changed meanwhile (confirmed, or started again from elsewhere); reload and try again');
    }
    if (old) await this.dataKeys.remove(old);
    await this.audit.record(actor, { action: 'totp.enrol_start', target: { type: 'user', id: user.id } });
    return { secret, otpauthUrl: this.totpFor(user, secret).toString() };
  }

  async confirmTotp(actor: Actor & { id: string }, code: string): Promise<{ recoveryCodes: string[] }> {
    const user = await this.dir.userRow(actor.id);
    const secret = await this.totpSecret(user);
    if (!secret) throw badRequest('start TOTP enrolment first (POST /api/v1/me/totp)', 'totp_not_started');
    if (user.totpEnabled) throw new AppError(409, 'totp_already_enabled', 'TOTP is already enabled');
    const step = this.totpStep(user, secret, code);
    if (step === null) throw badRequest('invalid TOTP code', 'invalid_totp');
    const { codes: recoveryCodes, hashed } = newRecoveryCodes();
    // The confirming code is taken like a sign-in's (it cannot then sign in), in the same
    // conditional update that turns TOTP on: of two confirmations at once, one does.
    // And only the seed the code was checked against: an enrolment started again meanwhile
    // (from another of the person's sessions, or by whoever holds one) must not be turned on
    // by a code of the seed it replaced.
    const r = await this.db
      .updateTable('users')
      .set({ totpEnabled: 1, recoveryCodes: JSON.stringify(hashed), totpLastStep: step })
      .where('id', '=', user.id)
      .where('totpEnabled', '=', 0)
      .where('totpDataKeyId', '=', user.totpDataKeyId!)
      .where(totpStepFree(step))
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) {
      const now = await this.dir.userRow(user.id);
      if (now.totpEnabled) throw new AppError(409, 'totp_already_enabled', 'TOTP is already enabled');
      if (now.totpDataKeyId !== user.totpDataKeyId) throw new AppError(409, 'totp_enrolment_changed', 'TOTP enrolment was started again meanwhile; confirm with a code of the new seed');
      throw badRequest('invalid TOTP code', 'invalid_totp');
    }
    await this.audit.record(actor, { action: 'totp.enable', target: { type: 'user', id: user.id } });
    return { recoveryCodes };
  }

  async disableTotp(actor: Actor, userId: string): Promise<void> {
    const user = await this.dir.userRow(userId);
    // Recovery codes stay while a security key remains (they stand in for it too).
    const keep = (await this.keyCount(userId)) > 0;
    await this.db.updateTable('users').set({ totpEnabled: 0, totpEnc: null, totpDataKeyId: null, totpLastStep: null, ...(keep ? {} : { recoveryCodes: null }) }).where('id', '=', userId).execute();
    if (user.totpDataKeyId) await this.dataKeys.remove(user.totpDataKeyId);
    await this.audit.record(actor, { action: 'totp.disable', target: { type: 'user', id: userId }, details: { username: user.username } });
  }

  // ---- OAuth2 client credentials (application accounts)

  async createClientCredentials(actor: Actor, userId: string): Promise<{ clientId: string; clientSecret: string }> {
    const user = await this.dir.userRow(userId);
    if (!user.isApplication) throw badRequest('client credentials are only for application accounts', 'not_application_account');
    const clientId = `ghc_${randomToken(12)}`;
    const clientSecret = randomToken(32);
    await this.db.deleteFrom('oauthClients').where('userId', '=', userId).execute();
    await this.db.insertInto('oauthClients').values({ clientId, userId, secretHash: sha256hex(`client-secret:${clientSecret}`), createdAt: now() }).execute();
    await this.audit.record(actor, { action: 'user.client_credentials', target: { type: 'user', id: userId }, details: { username: user.username, clientId } });
    return { clientId, clientSecret };
  }

  async clientCredentialsGrant(clientId: string, clientSecret: string, scope: string | undefined, ip: string | null): Promise<{ access_token: string; token_type: 'Bearer'; expires_in: number; scope?: string }> {
    // Wrong secrets count like wrong passwords: against the source's limit and toward the
    // lockout of the application account; an unknown client id locks like an unknown user name.
    // No slot is reserved (admit, not checking): a client secret is 32 random characters, not
    // worth guessing at any speed, and applications may well ask for tokens many at once.
    await this.limits?.take('token', ip, clientId, { id: null, name: clientId, ip });
    await this.guard.admit(ip, { id: null, name: clientId, ip }, { action: 'auth.oauth_token', details: { clientId, via: 'oauth2' } });
    const client = await this.db.selectFrom('oauthClients').selectAll().where('clientId', '=', clientId).executeTakeFirst();
    const user = client ? await this.dir.userRow(client.userId).catch(() => undefined) : undefined;
    const fail = async (reason: string, guess: boolean, lockedUntil?: number | null): Promise<never> => {
      await this.guard.failed(ip, { id: user?.id ?? null, name: user?.username ?? clientId, ip }, { action: 'auth.oauth_token', target: user ? { type: 'user', id: user.id } : undefined, details: { reason, clientId, via: 'oauth2' } }, guess);
      throw lockedUntil ? lockedError(lockedUntil) : new AppError(401, 'invalid_client', 'client authentication failed');
    };
    if (!client || !user) {
      const name = `client:${clientId}`;
      const until = this.unknownNames.lockedUntil(name);
      if (until) return fail('unknown client; locked', true, until);
      const locked = this.unknownNames.fail(name, await this.settings.get('lockoutThreshold'), await this.settings.get('lockoutMinutes'));
      return fail(locked ? 'unknown client; locked' : 'unknown client', true, locked);
    }
    if (user.lockedUntil && user.lockedUntil > now()) return fail('account locked', true, user.lockedUntil);
    if (!safeEqual(client.secretHash, sha256hex(`client-secret:${clientSecret}`))) {
      const locked = await this.registerFailure(user);
      return fail(locked ? 'wrong secret; account locked' : 'wrong secret', true, locked);
    }
    if (!user.enabled) return fail('account disabled', false);
    const locked = await this.clearFailures(user);
    if (locked) return fail('account locked', true, locked);
    this.guard.succeeded(ip);
    let scopes: Scope[] | null = null;
    if (scope) {
      const req = scope.split(/\s+/).filter(Boolean);
      const bad = req.filter((s) => !(SCOPE_NAMES as string[]).includes(s));
      if (bad.length) throw new AppError(400, 'invalid_scope', `unknown scope(s): ${bad.join(', ')}`);
      scopes = req as Scope[];
    }
    const ttl = 3600;
    const { token } = await this.issueToken(user.id, { name: 'oauth2 client credentials', kind: 'oauth', scopes, ttlSeconds: ttl });
    await this.audit.record({ id: user.id, name: user.username, ip }, { action: 'auth.oauth_token', target: { type: 'user', id: user.id }, details: { clientId, scope: scope ?? null } });
    return { access_token: token, token_type: 'Bearer', expires_in: ttl, ...(scope ? { scope } : {}) };
  }

  requireUser(p: Principal | null): asserts p is Principal {
    if (!p) throw unauthorized();
  }
}
