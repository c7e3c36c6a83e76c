// TSplus-compatible logon tickets (seed 004) for external portals that already authenticated
// the person: the public key, logon ticket requests (RSA-encrypted or, when allowed, plain),
// opening one as a browser RDP launch with the Windows credential injected on our side, and
// the farm queries. Every refusal is one generic answer to the caller (the route's), a precise
// reason in the log ("LogonTicketRefused") and a `logon_ticket.refused` audit event; never a
// credential byte in either. The credential is sealed under its own data key for its ticket
// only, and wiped (seal and data key) when the ticket is used or expires. Refusals count
// against the caller's address like failed sign-ins (identity/rate-limit.ts: loginRateLimit
// refuses an address that keeps failing, loginAuditThreshold keeps them from flooding the trail).
import type { Logger } from 'pino';
import type { AuditService } from '../audit/service.js';
import { SYSTEM } from '../audit/service.js';
import { normalizeIp } from '../door-rules.js';
import { AppError } from '../errors.js';
import { checkDisplay, type LaunchDisplay } from '../launch/display.js';
import type { Directory } from '../identity/directory.js';
import type { SignInGuard } from '../identity/rate-limit.js';
import type { Principal } from '../identity/principal.js';
import type { Launching } from '../launch/service.js';
import type { Launchers } from '../launch/launchers.js';
import type { Tickets } from '../launch/tickets.js';
import type { TransientCredentials } from '../launch/transient.js';
import type { SettingsService } from '../settings.js';
import type { Store } from '../../store/db.js';
import { newId, now, randomToken, safeEqual, sha256hex } from '../util.js';
import type { DataKeys } from '../vault/datakeys.js';
import type { Secrets } from '../vault/secrets.js';
import { assignedTo, decodeBase64Strict, LOGON_TICKET_PATTERN, parseCredentialText, parseIpList, parseServerEntry, winCredential, type AppServer, type WinCredential } from './protocol.js';
import type { LogonTicketKey } from './rsa-key.js';

/** Why a request was refused: for the log and the audit trail only. */
export type LogonRefusal =
  | 'not_configured'
  | 'unknown_server'
  | 'ip_not_allowed'
  | 'plain_text_refused'
  | 'no_credentials'
  | 'bad_base64'
  | 'rsa_length'
  | 'rsa_decrypt'
  | 'malformed_credentials'
  | 'phrase_required'
  | 'wrong_phrase'
  | 'url_credentials'
  | 'bad_display'
  | 'not_a_ticket'
  | 'no_ticket'
  | 'unknown'
  | 'used'
  | 'expired'
  | 'server_mismatch'
  | 'launch_refused'
  | 'oversized'
  | 'unknown_action'
  | 'not_assigned'
  | 'too_many_attempts';

export class LogonRefused extends Error {
  /** Logged and audited already (the route reports only refusals it found itself). */
  reported = false;

  constructor(
    readonly reason: LogonRefusal,
    readonly detail = '',
  ) {
    super(`logon ticket refused: ${reason}`);
  }
}

export interface LogonContext {
  ip: string;
  /** The /~~<name> the request came through, if any. */
  via: string | null;
}

/** Who the trail names for the unauthenticated calls: the portal, by its address. */
const ACTOR = (ctx: LogonContext) => ({ ...SYSTEM, name: 'logon-ticket', ip: ctx.ip });
const hash = (t: string) => sha256hex(`gatehouse-logon-ticket:${t}`);
const aad = (id: string) => `logon-ticket:${id}`;

export class LogonTickets {
  constructor(
    private readonly deps: {
      store: Store;
      settings: SettingsService;
      dataKeys: DataKeys;
      dir: Directory;
      secrets: Secrets;
      launchers: Launchers;
      launching: Launching;
      tickets: Tickets;
      transient: TransientCredentials;
      audit: AuditService;
      log: Logger;
      key: LogonTicketKey;
      /** Live sessions per secret id (load balancing). */
      liveBySecret: () => Promise<Map<string, number>>;
      /** Failed requests per source address: the sign-in limits and audit aggregation. */
      guard: SignInGuard;
    },
  ) {}

  /** The application servers configured; empty when logon tickets are off (no user or no server). */
  async servers(): Promise<AppServer[]> {
    const s = await this.deps.settings.all();
    if (!s.logonTicketUser) return [];
    return s.logonTicketServers.map(parseServerEntry);
  }

  private async server(via: string | null): Promise<AppServer> {
    const all = await this.servers();
    if (!all.length) throw new LogonRefused('not_configured', 'setting logonTicketUser or logonTicketServers is empty');
    if (via === null) return all[0]!;
    const found = all.find((s) => s.name.toLowerCase() === via.toLowerCase());
    if (!found) throw new LogonRefused('unknown_server', `no application server named ${JSON.stringify(via.slice(0, 64))}`);
    return found;
  }

  /** GET /socket.io/WCREDS?GetRuntimePublicModulusExponent. */
  async publicKey(ctx: LogonContext): Promise<string> {
    await this.guard('public_key', ctx, async () => {
      await this.server(ctx.via);
    });
    return this.deps.key.public.modulusExponent;
  }

  /**
   * GET /socket.io/socket.io/LPW: a new logon ticket for the credential, RSA-encrypted
   * (rsabase64nojs) or, when accept_lpw_only_rsa_secured is off, in plain query parameters.
   */
  async request(q: { rsabase64nojs?: string; WinUser?: string; WinPassword?: string; WinLPWphrase?: string }, ctx: LogonContext): Promise<string> {
    return this.guard('request', ctx, async () => {
      const server = await this.server(ctx.via);
      const s = await this.deps.settings.all();
      const allow = parseIpList(s.lpw_timeout_list_ip);
      if (allow.length && !allow.some((ip) => normalizeIp(ip) === normalizeIp(ctx.ip))) throw new LogonRefused('ip_not_allowed', `${ctx.ip} is not in lpw_timeout_list_ip`);
      let cred: WinCredential | null;
      if (q.rsabase64nojs !== undefined) {
        const blob = decodeBase64Strict(q.rsabase64nojs);
        if (!blob) throw new LogonRefused('bad_base64', `rsabase64nojs is not base64 (${q.rsabase64nojs.length} characters)`);
        if (blob.length !== this.deps.key.blobLength) throw new LogonRefused('rsa_length', `the RSA blob has ${blob.length} bytes, the key needs ${this.deps.key.blobLength}`);
        const plain = this.deps.key.decrypt(blob);
        if (!plain) throw new LogonRefused('rsa_decrypt', 'the RSA blob does not decrypt with the current logon-ticket key (padding); after a key rotation the portal must fetch the key again');
        cred = parseCredentialText(plain.toString('utf8'));
        plain.fill(0);
        if (!cred) throw new LogonRefused('malformed_credentials', 'the decrypted text is not WinUser=…&WinPassword=…[&WinLPWphrase=…]');
      } else if (q.WinUser !== undefined || q.WinPassword !== undefined) {
        if (s.accept_lpw_only_rsa_secured) throw new LogonRefused('plain_text_refused', 'a plain-text request while accept_lpw_only_rsa_secured is on');
        cred = winCredential(q.WinUser ?? '', q.WinPassword ?? '', q.WinLPWphrase ?? null);
        if (!cred) throw new LogonRefused('malformed_credentials', 'WinUser or WinPassword is missing or invalid');
      } else throw new LogonRefused('no_credentials', 'neither rsabase64nojs nor WinUser/WinPassword');
      if (s.lpw_phrase) {
        if (cred.phrase === null) throw new LogonRefused('phrase_required', 'lpw_phrase is set and the request has no WinLPWphrase');
        if (!safeEqual(cred.phrase, s.lpw_phrase)) throw new LogonRefused('wrong_phrase', 'WinLPWphrase does not match lpw_phrase');
      }
      const winUser = cred.domain ? `${cred.domain}\\${cred.username}` : cred.username;
      if (!assignedTo(server, cred.username, cred.domain ?? '')) throw new LogonRefused('not_assigned', `${winUser} is not assigned to ${server.name}`);
      const id = newId();
      const ticket = `*${randomToken(24)}`;
      const expiresAt = now() + (await this.deps.settings.ticketLifetimeSeconds()) * 1000;
      const { dataKeyId, sealed } = await this.deps.dataKeys.encrypt(JSON.stringify({ u: cred.username, d: cred.domain, p: cred.password }), aad(id));
      await this.deps.store.db
        .insertInto('logonTickets')
        .values({ id, tokenHash: hash(ticket), server: server.name, winUser, dataKeyId, credentialSealed: sealed, requestedFrom: ctx.ip, createdAt: now(), expiresAt, usedAt: null, launchTicketId: null })
        .execute();
      await this.deps.audit.record(ACTOR(ctx), { action: 'logon_ticket.issued', target: { type: 'logon_ticket', id }, details: { server: server.name, winUser, method: q.rsabase64nojs !== undefined ? 'rsa' : 'plain', expiresAt: new Date(expiresAt).toISOString() } });
      return ticket;
    });
  }

  /**
   * GET /software/html5.html?user=<logon ticket>: uses the ticket up and launches its server's
   * secret with its launcher for the logon-ticket account, the Windows credential carried by the
   * launch ticket in place of the secret's. Answers the launch ticket (single use, bound to the
   * caller's address). `other`: the query's other parameter names (credentials in the URL are refused).
   * `display`: GUAC_WIDTH / GUAC_HEIGHT / GUAC_DPI as given, which become the launch's display
   * settings (bounded as at launch; a bad one is refused before the logon ticket is used).
   */
  async open(q: { user?: string; other: string[]; display?: { width?: string; height?: string; dpi?: string } }, ctx: LogonContext): Promise<{ launchTicket: string } | { signIn: true }> {
    return this.guard('open', ctx, async () => {
      const s = await this.deps.settings.all();
      if (q.other.some((k) => /^(pwd|pass|password|WinPassword|domain)$/i.test(k))) throw new LogonRefused('url_credentials', 'credentials in URL parameters (the URL parameters method) are never accepted');
      const display = displayOf(q.display);
      if (q.user === undefined || q.user === '') {
        if (s.logon_type_allowance === 3) throw new LogonRefused('no_ticket', 'logon_type_allowance is 3: html5.html opens with a logon ticket only');
        return { signIn: true as const };
      }
      if (!LOGON_TICKET_PATTERN.test(q.user)) throw new LogonRefused(s.logon_type_allowance === 3 ? 'no_ticket' : 'not_a_ticket', 'the user parameter is not a logon ticket (a user name is the URL parameters method)');
      const servers = await this.servers();
      if (!servers.length) throw new LogonRefused('not_configured', 'setting logonTicketUser or logonTicketServers is empty');
      const row = await this.deps.store.db.selectFrom('logonTickets').selectAll().where('tokenHash', '=', hash(q.user)).executeTakeFirst();
      if (!row) throw new LogonRefused('unknown', 'no such logon ticket');
      if (row.usedAt) throw new LogonRefused('used', `logon ticket ${row.id} was already used`);
      if (row.expiresAt <= now()) {
        await this.wipe(row.id, row.dataKeyId);
        throw new LogonRefused('expired', `logon ticket ${row.id} has expired`);
      }
      if (ctx.via !== null && ctx.via.toLowerCase() !== row.server.toLowerCase()) throw new LogonRefused('server_mismatch', `logon ticket ${row.id} is for ${row.server}, presented at /~~${ctx.via.slice(0, 64)}`);
      const server = servers.find((x) => x.name === row.server);
      if (!server) throw new LogonRefused('unknown_server', `logon ticket ${row.id} is for ${row.server}, no longer configured`);
      // What the launch needs is resolved first: a configuration problem leaves the logon ticket unused.
      const p = await this.principal(ctx.ip);
      const secretId = await this.secretId(p, server.secret);
      const launcher = await this.deps.launchers.get(server.launcher).catch(() => null);
      if (!launcher || launcher.protocol !== 'rdp') throw new LogonRefused('launch_refused', `launcher ${JSON.stringify(server.launcher)} is no RDP launcher`);
      // Single use: one conditional UPDATE wins; the seal is opened and wiped right after.
      const r = await this.deps.store.db.updateTable('logonTickets').set({ usedAt: now() }).where('id', '=', row.id).where('usedAt', 'is', null).where('expiresAt', '>', now()).executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) throw new LogonRefused('used', `logon ticket ${row.id} was already used`);
      let cred: { u: string; d: string | null; p: string };
      try {
        cred = JSON.parse(await this.deps.dataKeys.decrypt(row.dataKeyId!, row.credentialSealed!, aad(row.id)));
      } finally {
        await this.wipe(row.id, row.dataKeyId);
      }
      const launched = await (async () => {
        this.deps.launching.requireLaunchPermission(p);
        return this.deps.launching.launch(p, secretId, launcher.id, { clientIp: ctx.ip, bindIp: true, transient: { username: cred.u, domain: cred.d, password: cred.p, source: 'logon_ticket' }, ...(display ? { display } : {}) });
      })().catch((e: unknown) => {
        if (e instanceof AppError) throw new LogonRefused('launch_refused', `${e.code}: ${e.message}`);
        throw e;
      });
      const t = await this.deps.tickets.peek(launched.ticket);
      await this.deps.store.db.updateTable('logonTickets').set({ launchTicketId: t?.id ?? null }).where('id', '=', row.id).execute();
      await this.deps.audit.record({ id: p.userId, name: p.username, ip: ctx.ip }, { action: 'logon_ticket.used', target: { type: 'logon_ticket', id: row.id }, details: { server: server.name, winUser: row.winUser, secretId, launcher: launcher.name, launchTicketId: t?.id ?? null } });
      return { launchTicket: launched.ticket };
    });
  }

  /** hb.exe?action=lb: the least-loaded server assigned to the user, or null (load balancing off). */
  async loadBalance(user: string, domain: string, ctx: LogonContext): Promise<string | null> {
    return this.guard('farm', ctx, async () => {
      const servers = (await this.servers()).filter((s) => assignedTo(s, user, domain));
      if (!(await this.deps.settings.get('logonTicketLoadBalancing')) || !servers.length) return null;
      const load = await this.deps.liveBySecret();
      const p = await this.principal(ctx.ip);
      let best: { name: string; n: number } | null = null;
      for (const s of servers) {
        const id = await this.secretId(p, s.secret).catch(() => null);
        if (!id) continue;
        const n = load.get(id) ?? 0;
        if (!best || n < best.n) best = { name: s.name, n };
      }
      return best?.name ?? null;
    });
  }

  /** hb.exe?action=srvassigned: the servers assigned to the user. */
  async assigned(user: string, domain: string, ctx: LogonContext): Promise<string[]> {
    return this.guard('farm', ctx, async () => (await this.servers()).filter((s) => assignedTo(s, user, domain)).map((s) => s.name));
  }

  /** A refusal the route found itself (bad input before any rule): logged, counted and audited alike. */
  async refuse(step: string, ctx: LogonContext, e: LogonRefused): Promise<void> {
    if (!e.reported) await this.report(step, ctx, e);
  }

  /** The logon-ticket key: fingerprint and size (needs administer). */
  keyInfo(): { fingerprint: string; bits: number } {
    return { fingerprint: this.deps.key.public.fingerprint, bits: this.deps.key.public.bits };
  }

  /** A new logon-ticket key; requests encrypted with the old one are refused from now on. */
  async rotateKey(p: { userId: string; username: string }, ip: string | null): Promise<{ fingerprint: string; previousFingerprint: string; bits: number }> {
    const r = this.deps.key.rotate();
    try {
      // In a cluster: stored for every node; another node's rotation made meanwhile wins, and its key is taken here.
      await this.deps.key.announce();
    } catch (e) {
      // Not stored: this node alone would hold the new key and refuse what the others issue.
      this.deps.key.restore(r.previousPem);
      throw e;
    }
    const current = this.deps.key.public.fingerprint;
    await this.deps.audit.record({ id: p.userId, name: p.username, ip }, { action: 'logon_ticket.key_rotated', details: { previousFingerprint: r.previous, fingerprint: current, ...(current !== r.current ? { note: 'another node rotated the key at the same moment: its key is the one in use' } : {}) } });
    return { fingerprint: current, previousFingerprint: r.previous, bits: this.deps.key.public.bits };
  }

  /** Wipes the seals of expired, unused logon tickets (rows stay for the record) and of expired launch tickets' transient credentials. */
  async sweep(): Promise<number> {
    const rows = await this.deps.store.db.selectFrom('logonTickets').select(['id', 'dataKeyId']).where('expiresAt', '<=', now()).where('dataKeyId', 'is not', null).execute();
    for (const r of rows) await this.wipe(r.id, r.dataKeyId);
    return rows.length + (await this.deps.transient.sweep());
  }

  private async wipe(id: string, dataKeyId: string | null): Promise<void> {
    await this.deps.store.db.updateTable('logonTickets').set({ credentialSealed: null, dataKeyId: null }).where('id', '=', id).execute();
    if (dataKeyId) await this.deps.dataKeys.remove(dataKeyId);
  }

  private async principal(ip: string): Promise<Principal> {
    const name = await this.deps.settings.get('logonTicketUser');
    const u = name ? await this.deps.dir.userByName(name) : undefined;
    if (!u || !u.enabled) throw new LogonRefused('not_configured', `logonTicketUser ${JSON.stringify(name)} is no enabled account`);
    return this.deps.dir.doorPrincipal(u, ip);
  }

  private async secretId(p: Principal, ref: string): Promise<string> {
    const byId = await this.deps.secrets.get(p, ref).catch(() => null);
    if (byId) return byId.id;
    const found = await this.deps.secrets.list(p, { search: ref, limit: 50, offset: 0 });
    const s = found.items.find((x) => x.name === ref);
    if (!s) throw new LogonRefused('launch_refused', `the secret ${JSON.stringify(ref)} is not visible to logonTicketUser`);
    return s.id;
  }

  private async guard<T>(step: string, ctx: LogonContext, work: () => Promise<T>): Promise<T> {
    try {
      // An address past loginRateLimit failures in the window is refused before any work.
      await this.deps.guard.admit(ctx.ip, ACTOR(ctx), { action: 'logon_ticket.refused', details: { step, reason: 'too_many_attempts' } }).catch((e: unknown) => {
        if (!(e instanceof AppError)) throw e;
        const r = new LogonRefused('too_many_attempts', e.message);
        r.reported = true; // audited by admit
        this.deps.log.warn({ event: 'LogonTicketRefused', step, reason: r.reason, clientIp: ctx.ip }, `LogonTicketRefused: ${r.reason} (${r.detail})`);
        throw r;
      });
      const out = await work();
      if (step !== 'public_key' && step !== 'farm') this.deps.guard.succeeded(ctx.ip);
      return out;
    } catch (e) {
      if (e instanceof LogonRefused && !e.reported) await this.report(step, ctx, e);
      throw e;
    }
  }

  private async report(step: string, ctx: LogonContext, e: LogonRefused): Promise<void> {
    e.reported = true;
    this.deps.log.warn({ event: 'LogonTicketRefused', step, reason: e.reason, detail: e.detail, clientIp: ctx.ip, via: ctx.via }, `LogonTicketRefused: ${e.reason}${e.detail ? ` (${e.detail})` : ''}`);
    // Counted against the address (a guess, unless the feature is simply off) and audited, or past loginAuditThreshold summed up.
    await this.deps.guard.failed(ctx.ip, ACTOR(ctx), { action: 'logon_ticket.refused', details: { step, reason: e.reason, detail: e.detail, ...(ctx.via ? { via: ctx.via.slice(0, 64) } : {}) } }, e.reason !== 'not_configured');
  }

  /** Writes the pending refusal summaries (at shutdown). */
  flush(): Promise<void> {
    return this.deps.guard.flush();
  }
}

const GUAC = { width: 'GUAC_WIDTH', height: 'GUAC_HEIGHT', dpi: 'GUAC_DPI' } as const;

/** html5.html's GUAC_* parameters as launch display settings; anything not a bounded whole number is refused (the reason names the parameter). */
function displayOf(raw: { width?: string; height?: string; dpi?: string } | undefined): LaunchDisplay | undefined {
  if (!raw) return undefined;
  const n: { width?: number; height?: number; dpi?: number } = {};
  for (const k of ['width', 'height', 'dpi'] as const) {
    const v = raw[k];
    if (v === undefined) continue;
    if (!/^\d{1,5}$/.test(v)) throw new LogonRefused('bad_display', `${GUAC[k]} is not a whole number (${JSON.stringify(v.slice(0, 16))})`);
    n[k] = Number(v);
  }
  try {
    return checkDisplay(n);
  } catch (e) {
    if (e instanceof AppError) throw new LogonRefused('bad_display', `GUAC_WIDTH/GUAC_HEIGHT/GUAC_DPI: ${e.message}`);
    throw e;
  }
}
