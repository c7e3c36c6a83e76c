// Gatehouse as the OpenPSM session gateway (seed 003): a /start request is checked (params.ts),
// held while the person enters their master password, which goes once to the IAM's
// getcredential; the answer drives one browser session: SSH or Telnet through the start
// page's terminal, RDP through the browser RDP page (/rdp/session) with a single-use token
// for this start in place of a launch ticket, and GUAC_WIDTH/HEIGHT/DPI as the display.
// Server, Server2 and Server3 are tried in that order. When the session ends the IAM is told through endsession: the notice is written to
// the database when the session starts, so a restart still owes it; a 401 re-authenticates
// (the ApiKey is opened again from its sealed copy) and retries, at most 7 times; other
// errors back off (openpsmEndSessionBackoffSeconds, doubling). Every outcome is audited.
import { connect } from 'node:net';
import type { Logger } from 'pino';
import type { Store } from '../../store/db.js';
import { prepare, type SlotOf } from '../../store/prepared.js';
import type { Actor, AuditInput, AuditService } from '../audit/service.js';
import { SYSTEM } from '../audit/service.js';
import type { ConnectPlan, SessionHandle } from '../broker.js';
import { AppError } from '../errors.js';
import { DISPLAY_BOUNDS, type LaunchDisplay } from '../launch/display.js';
import type { LauncherView } from '../launch/launchers.js';
import { DRAINING_MESSAGE } from '../launch/service.js';
import type { SettingsService } from '../settings.js';
import type { Sessions } from '../sessions/service.js';
import { sourceKey } from '../source-key.js';
import { newId, now, randomToken } from '../util.js';
import type { DataKeys } from '../vault/datakeys.js';
import { credentialAnswer, ENDSESSION_PATH, GETCREDENTIAL_PATH, type CredentialAnswer, type IamClient } from './iam-client.js';
import { checkStart, type StartRequest } from './params.js';

// At every session end (prepared once: store/prepared.ts).
const noticeDueNow = prepare((db, slot: SlotOf<{ gatewaySessionId: string; at: number }>) => db.updateTable('openpsmEndNotices').set({ nextAt: slot('at') }).where('gatewaySessionId', '=', slot('gatewaySessionId')).where('outcome', 'is', null));

/** The most 401 answers endsession takes (re-authenticating before each retry), per the seed. */
export const END_UNAUTHORIZED_LIMIT = 7;
/** Other errors: retried with backoff this many times, then the notice is abandoned (audited). */
export const END_ERROR_LIMIT = 20;
/** How long a start waits for its master password and its browser session. */
export const START_TTL_MS = 10 * 60_000;

export const WRONG_MASTER = 'Invalid Master Password. Enter your master password again.';
export const TOKEN_EXPIRED = 'Your access token has expired. This tab closes: start the connection again from the portal.';
export const IAM_FAILED = 'The credential could not be retrieved from the identity service.';

const NEVER = 8_000_000_000_000_000; // "not due": the session is still live
/** What a Mode RDP start's browser RDP token looks like (the web layer routes it here instead of the launch tickets). */
export const RDP_TOKEN_PREFIX = 'openpsm-rdp-';
export const RDP_TOKEN_PATTERN = /^openpsm-rdp-[A-Za-z0-9_-]{32}$/;
const DEFAULT_PORT = { ssh: 22, telnet: 23, rdp: 3389 } as const;
const aad = (sessionUuid: string) => `openpsm-end:${sessionUuid}`;

interface PendingStart {
  id: string;
  start: StartRequest;
  clientIp: string;
  createdAt: number;
  state: 'password' | 'ready' | 'used';
  answer?: CredentialAnswer;
  sessionUuid?: string;
  /** Mode RDP: the single-use token the browser RDP page presents (set when the credential was retrieved). */
  rdpToken?: string;
}

/** Mode RDP, ready: the token for the browser RDP page and the desktop it asks for (GUAC_*, within the launch bounds). */
export type RdpStart = { ticket: string; display: Required<Pick<LaunchDisplay, 'width' | 'height' | 'dpi'>> };
export type PasswordOutcome = { status: 'ready'; rdp?: RdpStart } | { status: 'wrong_password'; message: string } | { status: 'token_expired'; message: string } | { status: 'error'; message: string };

/** Starts kept at once from one source address (IPv6: one /64), and in all. */
export const PENDING_LIMITS = { perSource: 20, total: 10_000 } as const;
const TOO_MANY_STARTS = 'Too many connection requests are waiting on this gateway. Try again in a few minutes.';

export class OpenPsmGateway {
  private readonly starts = new Map<string, PendingStart>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private stopped = false;

  constructor(
    private readonly deps: {
      store: Store;
      settings: SettingsService;
      dataKeys: DataKeys;
      sessions: Sessions;
      audit: AuditService;
      log: Logger;
      client: IamClient;
      /** Whether the node is draining (SIGTERM: Launching.draining): no new session starts then, as for launches. */
      draining: () => boolean;
      /** Bounds on the starts kept waiting (PENDING_LIMITS; smaller in tests). */
      pendingLimits?: { perSource: number; total: number };
      /**
       * Audits a refusal of a token nobody was given (the browser RDP door takes tokens without
       * a sign-in) under the source's failed sign-in threshold and summary (Auth.noteDoorRefusal);
       * without it, each is its own event.
       */
      noteRefusal?: (ip: string | null, actor: Actor, input: AuditInput) => Promise<boolean>;
    },
  ) {
    // Sessions of a dead node ended by this one are told here too (recovery.ts).
    deps.sessions.onSessionEnd((s) => this.sessionEnded(s.id));
  }

  private actor(s: StartRequest, ip: string | null): Actor {
    return { id: null, name: `openpsm:${s.targetPersonGuid}`, ip };
  }

  private sweep(): void {
    for (const [id, s] of this.starts) if (s.createdAt + START_TTL_MS < now() || s.state === 'used') this.starts.delete(id);
  }

  /** GET /start: the seed's message when the request is refused, else the id of the page the person continues on. */
  async begin(query: Record<string, unknown>, clientIp: string): Promise<{ ok: true; id: string } | { ok: false; message: string }> {
    this.sweep();
    const c = checkStart(query, await this.deps.settings.get('openpsmAllowedApiUrls'));
    if (!c.ok) {
      this.deps.log.warn({ event: 'OpenPsmStartRefused', detail: c.detail, clientIp }, `OpenPSM /start refused: ${c.detail}`);
      await this.deps.audit.record({ id: null, name: null, ip: clientIp }, { action: 'openpsm.start', outcome: 'failure', details: { message: c.message, detail: c.detail } });
      return { ok: false, message: c.message };
    }
    const s = c.start;
    const base = { loginSessionId: s.loginSessionId, credentialId: s.credentialId, computerId: s.computerId, apiUrl: s.apiUrl, mode: s.mode, personal: s.isPersonalCred };
    // /start takes no sign-in and each start is kept ten minutes (~5 KB): bounded per source
    // (its oldest start makes room, as a person clicking the link again wants the newest)
    // and in all (full: refused until starts expire). Only starts still asking for the master
    // password make room: one whose credential was retrieved is a session about to open.
    const limits = this.deps.pendingLimits ?? PENDING_LIMITS;
    const source = sourceKey(clientIp);
    const mine = [...this.starts.values()].filter((p) => p.state === 'password' && sourceKey(p.clientIp) === source);
    for (const old of mine.slice(0, Math.max(0, mine.length - limits.perSource + 1))) this.starts.delete(old.id);
    if (this.starts.size >= limits.total) {
      this.deps.log.warn({ event: 'OpenPsmStartRefused', detail: 'too many starts waiting', clientIp, waiting: this.starts.size }, 'OpenPSM /start refused: too many connection requests are waiting');
      await this.deps.audit.record(this.actor(s, clientIp), { action: 'openpsm.start', outcome: 'failure', details: { ...base, message: TOO_MANY_STARTS, detail: 'too many starts waiting' } });
      return { ok: false, message: TOO_MANY_STARTS };
    }
    const id = randomToken(24);
    this.starts.set(id, { id, start: s, clientIp, createdAt: now(), state: 'password' });
    await this.deps.audit.record(this.actor(s, clientIp), { action: 'openpsm.start', details: base });
    return { ok: true, id };
  }

  /** Opens between their start being taken and their session going live (or refused). */
  opening = 0;

  /** Starts kept waiting for their person (for the tests and the metrics). */
  get waiting(): number {
    return this.starts.size;
  }

  private pending(id: string): PendingStart {
    const p = this.starts.get(id);
    if (!p || p.createdAt + START_TTL_MS < now()) throw new AppError(404, 'not_found', 'this connection request is unknown or has expired: start again from the portal');
    return p;
  }

  /** What the start page shows (nothing secret). */
  view(id: string): { state: PendingStart['state']; mode: string; computerId: string; delaySeconds: number; display: StartRequest['display'] } {
    const p = this.pending(id);
    return { state: p.state, mode: p.start.mode, computerId: p.start.computerId, delaySeconds: p.start.connectionDelaySeconds, display: p.start.display };
  }

  /** The master password goes to the IAM's getcredential once per attempt and is kept nowhere. */
  async submitPassword(id: string, password: string, clientIp: string): Promise<PasswordOutcome> {
    const p = this.pending(id);
    if (p.state !== 'password') throw new AppError(409, 'already_unlocked', 'the credential was already retrieved for this connection request');
    const s = p.start;
    const session = newId();
    const r = await this.deps.client.post(
      { apiUrl: s.apiUrl, apiKey: s.apiKey, apiApplicationKey: s.apiApplicationKey },
      GETCREDENTIAL_PATH,
      { computer: s.computerId, credential: s.credentialId, password, mode: s.mode, session, loginsessionid: s.loginSessionId },
    );
    const audit = (outcome: 'success' | 'failure', details: Record<string, unknown>) =>
      this.deps.audit.record(this.actor(s, clientIp), { action: 'openpsm.getcredential', outcome, details: { loginSessionId: s.loginSessionId, credentialId: s.credentialId, apiUrl: s.apiUrl, session, ...details } });
    if (r.kind === 'unauthorized') {
      await audit('failure', { reason: 'wrong_master_password' });
      return { status: 'wrong_password', message: WRONG_MASTER };
    }
    if (r.kind === 'token_expired') {
      this.starts.delete(id);
      await audit('failure', { reason: 'token_expired' });
      return { status: 'token_expired', message: TOKEN_EXPIRED };
    }
    const answer = r.kind === 'ok' ? credentialAnswer(r.body) : null;
    if (!answer || !(answer.Server || answer.Server2 || answer.Server3)) {
      this.starts.delete(id);
      await audit('failure', { reason: r.kind === 'error' ? r.detail : 'the answer is not a credential with a server' });
      this.deps.log.warn({ event: 'OpenPsmGetCredentialFailed', apiUrl: s.apiUrl, detail: r.kind === 'error' ? r.detail : 'bad answer' }, 'OpenPSM getcredential failed');
      return { status: 'error', message: IAM_FAILED };
    }
    p.answer = answer;
    p.sessionUuid = session;
    p.state = 'ready';
    await audit('success', { userName: answer.UserName, servers: [answer.Server, answer.Server2, answer.Server3].filter(Boolean), port: answer.ManagementPort, recorded: answer.RecordPSMSession });
    if (s.mode !== 'RDP') return { status: 'ready' };
    p.rdpToken = RDP_TOKEN_PREFIX + randomToken(24);
    return { status: 'ready', rdp: { ticket: p.rdpToken, display: rdpDisplay(s.display) } };
  }

  /** Whether a browser RDP page's token is one of this gateway's (else it is a launch ticket). */
  ownsRdpToken(token: string): boolean {
    return RDP_TOKEN_PATTERN.test(token);
  }

  /** The first of Server, Server2, Server3 that accepts a TCP connection on the port. */
  private async reachable(servers: string[], port: number): Promise<string | null> {
    for (const host of servers) {
      const ok = await new Promise<boolean>((resolve) => {
        const c = connect({ host, port, timeout: 5000 });
        c.once('connect', () => (c.destroy(), resolve(true)));
        c.once('timeout', () => (c.destroy(), resolve(false)));
        c.once('error', () => resolve(false));
      });
      if (ok) return host;
    }
    return null;
  }

  /** The browser terminal: one SSH or Telnet session for a start whose credential was retrieved. Throws AppError for the page. */
  async open(id: string, ctx: { clientIp: string }): Promise<SessionHandle> {
    const p = this.pending(id);
    if (p.start.mode === 'RDP') throw new AppError(409, 'wrong_mode', 'this connection is a Remote Desktop one: it opens in the browser RDP page');
    return this.openSession(p, ctx);
  }

  /**
   * The browser RDP door: one RDP session for the Mode RDP start this token was given for
   * (single use, like a launch ticket). Throws AppError; unknown tokens are logged.
   */
  async openRdp(token: string, ctx: { clientIp: string }): Promise<SessionHandle> {
    this.sweep();
    const p = [...this.starts.values()].find((x) => x.rdpToken !== undefined && x.rdpToken === token && x.start.mode === 'RDP');
    if (!p || p.createdAt + START_TTL_MS < now()) {
      const refusal = { action: 'openpsm.session', outcome: 'failure' as const, details: { protocol: 'rdp', reason: 'unknown, used or expired token' } };
      const actor = { id: null, name: null, ip: ctx.clientIp };
      let own = true;
      try {
        if (this.deps.noteRefusal) own = await this.deps.noteRefusal(ctx.clientIp, actor, refusal);
        else await this.deps.audit.record(actor, refusal);
      } finally {
        // Summed into the source's summary event: logged at debug, as the door's ticket refusals are.
        this.deps.log[own ? 'warn' : 'debug']({ event: 'OpenPsmRdpRefused', clientIp: ctx.clientIp, reason: 'unknown' }, 'OpenPSM browser RDP: unknown, used or expired token');
      }
      throw new AppError(404, 'not_found', 'this connection request is unknown or has expired: start again from the portal');
    }
    delete p.rdpToken;
    return this.openSession(p, ctx);
  }

  private async openSession(p: PendingStart, ctx: { clientIp: string }): Promise<SessionHandle> {
    if (p.state !== 'ready' || !p.answer || !p.sessionUuid) throw new AppError(409, 'not_ready', p.state === 'used' ? 'this connection was already used: start again from the portal' : 'enter your master password first');
    p.state = 'used';
    const { start: s, answer: a, sessionUuid } = p;
    delete p.answer;
    // Counted until its session is live (or refused): a drain waits for it as for a redeem under way.
    this.opening++;
    try {
      return await this.openCounted(s, a, sessionUuid, ctx);
    } finally {
      this.opening--;
    }
  }

  private async openCounted(s: StartRequest, a: CredentialAnswer, sessionUuid: string, ctx: { clientIp: string }): Promise<SessionHandle> {
    const refuseDraining = async (): Promise<never> => {
      // As a refused launch ticket: no session on a node that is shutting down. The start is
      // used up (it lives in this node's memory only), and the IAM is told the session ended,
      // as when no server answers.
      await this.deps.audit.record(this.actor(s, ctx.clientIp), { action: 'openpsm.session', outcome: 'failure', details: { loginSessionId: s.loginSessionId, session: sessionUuid, reason: 'draining' } });
      await this.owe(s, sessionUuid, null, now());
      throw new AppError(503, 'draining', DRAINING_MESSAGE, { retryAfterSeconds: 1 });
    };
    if (this.deps.draining()) return refuseDraining();
    const protocol = s.mode === 'Telnet' ? 'telnet' : s.mode === 'RDP' ? 'rdp' : 'ssh';
    const port = a.ManagementPort ?? DEFAULT_PORT[protocol];
    const servers = [a.Server, a.Server2, a.Server3].filter((x): x is string => !!x);
    const host = await this.reachable(servers, port);
    // The probe takes up to seconds per server: a drain may have begun meanwhile.
    if (this.deps.draining()) return refuseDraining();
    if (!host) {
      await this.deps.audit.record(this.actor(s, ctx.clientIp), { action: 'openpsm.session', outcome: 'failure', details: { loginSessionId: s.loginSessionId, session: sessionUuid, servers, port, reason: 'no server reachable' } });
      await this.owe(s, sessionUuid, null, now());
      throw new AppError(502, 'target_unreachable', `none of the servers (${servers.join(', ')}) answers on port ${port}`);
    }
    const slash = a.UserName.indexOf('\\');
    const domain = slash > 0 ? a.UserName.slice(0, slash) : null;
    const username = slash >= 0 ? a.UserName.slice(slash + 1) : a.UserName;
    const fields: Record<string, string | number> = { username, port, ...(domain ? { domain } : {}), ...(a.IsPasswordSSHKey ? { privateKey: a.Password } : { password: a.Password }) };
    const launcher: LauncherView = {
      id: `openpsm-${protocol}`,
      name: `OpenPSM ${s.mode}`,
      type: protocol,
      protocol,
      childType: null,
      gatewayHost: null,
      gatewayPort: null,
      active: true,
      builtin: true,
      record: a.RecordPSMSession,
      recordKeystrokes: false,
      idleTimeoutSeconds: 0,
      maxDurationSeconds: 0,
      allowPortForwarding: false,
      options: {},
    };
    const plan: ConnectPlan = {
      sessionId: newId(),
      user: { id: `openpsm:${s.targetPersonGuid}`, username: `openpsm:${s.targetPersonGuid}` },
      protocol,
      target: { host, port },
      credential: { secretId: `openpsm:${s.credentialId}`, secretName: `OpenPSM ${s.computerId}`, templateId: 'openpsm', machine: host, domain, username, fields },
      launcher,
      ...(protocol === 'rdp' ? { display: rdpDisplay(s.display) } : {}),
    };
    // Owed from now on: a crash during the session still tells the IAM it ended (after the restart).
    await this.owe(s, sessionUuid, plan.sessionId, NEVER);
    const handle = await this.deps.sessions.start(plan, { clientIp: ctx.clientIp, door: 'web' });
    try {
      await this.deps.audit.record(this.actor(s, ctx.clientIp), {
        action: 'openpsm.session',
        target: { type: 'session', id: handle.id },
        details: { loginSessionId: s.loginSessionId, session: sessionUuid, server: host, port, protocol, recorded: a.RecordPSMSession, allowLiveSnooping: a.AllowLiveSnooping, allowJoinRequests: a.AllowJoinRequests, allowJoinInvites: a.AllowJoinInvites },
      });
    } catch (e) {
      // Started, but no door will hold it (the error goes to the caller): ended here, or it
      // would stay live for good (its row, the live gauge, a drain waiting out its timeout).
      const log = this.deps.log.child({ sessionId: handle.id });
      log.error({ err: { message: (e as Error).message } }, 'auditing an OpenPSM session after its start failed: the session is ended');
      await handle.end('the session could not be set up after it started (see the gateway log)').catch((err: Error) => log.error({ err: { message: err.message } }, 'the end of the session is not written yet (it is tried again)'));
      throw e;
    }
    return handle;
  }

  private async owe(s: StartRequest, sessionUuid: string, gatewaySessionId: string | null, nextAt: number): Promise<void> {
    const { dataKeyId, sealed } = await this.deps.dataKeys.encrypt(s.apiKey, aad(sessionUuid));
    await this.deps.store.db
      .insertInto('openpsmEndNotices')
      .values({ sessionUuid, apiUrl: s.apiUrl, loginSessionId: s.loginSessionId, credentialId: s.credentialId, computerId: s.computerId, dataKeyId, apiKeySealed: sealed, appKey: s.apiApplicationKey, gatewaySessionId, attempts: 0, unauthorized: 0, nextAt, lastError: null, createdAt: now(), outcome: null, doneAt: null })
      .execute();
    if (nextAt !== NEVER) this.kick();
  }

  private async sessionEnded(gatewaySessionId: string): Promise<void> {
    const r = await noticeDueNow.run(this.deps.store.db, { gatewaySessionId, at: now() });
    if (Number(r.numAffectedRows ?? 0) > 0) this.kick();
  }

  /**
   * At start (after the start-up recovery ended this node's interrupted sessions and those of
   * dead nodes): notices of sessions that are not live any more are due now, and every owed
   * notice is sent. Not live: ended, never started (no row), or left 'live' under this node's
   * id by the previous process; a session live on another node of the cluster (or already
   * again in this process) is running, and its notice waits for its end there.
   */
  async resume(): Promise<void> {
    const live = [...this.deps.sessions.live.keys()];
    const self = this.deps.sessions.node;
    let q = this.deps.store.db
      .updateTable('openpsmEndNotices')
      .set({ nextAt: now() })
      .where('outcome', 'is', null)
      .where('nextAt', '=', NEVER)
      .where((eb) =>
        eb.or([
          eb('gatewaySessionId', 'is', null),
          eb.not(
            eb.exists(
              eb
                .selectFrom('sessions')
                .select('sessions.id')
                .whereRef('sessions.id', '=', 'openpsmEndNotices.gatewaySessionId')
                .where('sessions.status', '=', 'live')
                .where('sessions.node', 'is not', null)
                .where('sessions.node', '<>', self),
            ),
          ),
        ]),
      );
    if (live.length) q = q.where((eb) => eb.or([eb('gatewaySessionId', 'is', null), eb('gatewaySessionId', 'not in', live)]));
    await q.execute();
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Sends what is due now, then sleeps until the next notice is due. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) return void (this.again = true);
    this.running = true;
    void this.drain()
      .catch((e) => this.deps.log.error({ err: { message: (e as Error).message } }, 'OpenPSM endsession sender failed'))
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          return this.kick();
        }
        void this.schedule();
      });
  }
  private again = false;

  private async schedule(): Promise<void> {
    if (this.stopped) return;
    const next = await this.deps.store.db.selectFrom('openpsmEndNotices').select('nextAt').where('outcome', 'is', null).where('nextAt', '<', NEVER).orderBy('nextAt').limit(1).executeTakeFirst().catch(() => undefined);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!next || this.stopped) return;
    this.timer = setTimeout(() => this.kick(), Math.max(0, Math.min(Number(next.nextAt) - now(), 3_600_000)));
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const row = await this.deps.store.db.selectFrom('openpsmEndNotices').selectAll().where('outcome', 'is', null).where('nextAt', '<=', now()).orderBy('nextAt').limit(1).executeTakeFirst();
      if (!row) return;
      await this.deliver(row);
    }
  }

  private async deliver(row: Awaited<ReturnType<OpenPsmGateway['dueRow']>>): Promise<void> {
    // Re-authenticating: the ApiKey is opened again from its sealed copy for every attempt.
    const apiKey = await this.deps.dataKeys.decrypt(row.dataKeyId, row.apiKeySealed, aad(row.sessionUuid));
    const r = await this.deps.client.post({ apiUrl: row.apiUrl, apiKey, apiApplicationKey: row.appKey }, ENDSESSION_PATH, {
      session: row.sessionUuid,
      loginsessionid: row.loginSessionId,
      computer: row.computerId,
      credential: row.credentialId,
    });
    const attempts = row.attempts + 1;
    const unauthorized = row.unauthorized + (r.kind === 'unauthorized' || r.kind === 'token_expired' ? 1 : 0);
    const details = { session: row.sessionUuid, loginSessionId: row.loginSessionId, apiUrl: row.apiUrl, gatewaySessionId: row.gatewaySessionId, attempts, unauthorized };
    const set = (v: { outcome?: string; nextAt?: number; lastError?: string | null }) =>
      this.deps.store.db
        .updateTable('openpsmEndNotices')
        .set({ attempts, unauthorized, ...v, ...(v.outcome ? { doneAt: now() } : {}) })
        .where('sessionUuid', '=', row.sessionUuid)
        .execute();
    if (r.kind === 'ok') {
      await set({ outcome: 'delivered', lastError: null });
      await this.deps.audit.record(SYSTEM, { action: 'openpsm.endsession', details });
      return;
    }
    if (r.kind === 'unauthorized' || r.kind === 'token_expired') {
      this.deps.log.warn({ event: 'OpenPsmEndSession', ...details }, `OpenPSM endsession: 401 (${unauthorized} of ${END_UNAUTHORIZED_LIMIT}); re-authenticating`);
      if (unauthorized >= END_UNAUTHORIZED_LIMIT) {
        await set({ outcome: 'abandoned', lastError: 'HTTP 401' });
        await this.deps.audit.record(SYSTEM, { action: 'openpsm.endsession', outcome: 'failure', details: { ...details, reason: `401 answered ${END_UNAUTHORIZED_LIMIT} times` } });
        return;
      }
      await set({ nextAt: now(), lastError: 'HTTP 401' });
      return;
    }
    const errors = attempts - unauthorized;
    this.deps.log.warn({ event: 'OpenPsmEndSession', ...details, detail: r.kind === 'error' ? r.detail : 'unexpected' }, 'OpenPSM endsession failed; will retry');
    if (errors >= END_ERROR_LIMIT) {
      await set({ outcome: 'abandoned', lastError: r.kind === 'error' ? r.detail : 'error' });
      await this.deps.audit.record(SYSTEM, { action: 'openpsm.endsession', outcome: 'failure', details: { ...details, reason: `failed ${END_ERROR_LIMIT} times`, lastError: r.kind === 'error' ? r.detail : 'error' } });
      return;
    }
    const base = (await this.deps.settings.get('openpsmEndSessionBackoffSeconds')) * 1000;
    await set({ nextAt: now() + Math.min(base * 2 ** (errors - 1), 3_600_000), lastError: r.kind === 'error' ? r.detail : 'error' });
  }

  private dueRow() {
    return this.deps.store.db.selectFrom('openpsmEndNotices').selectAll().executeTakeFirstOrThrow();
  }

  /** The end notices (for the API and tests): no ApiKey, sealed or not. */
  async notices(): Promise<{ session: string; loginSessionId: string; apiUrl: string; attempts: number; unauthorized: number; outcome: string | null; lastError: string | null; due: boolean }[]> {
    const rows = await this.deps.store.db.selectFrom('openpsmEndNotices').selectAll().orderBy('createdAt', 'desc').limit(200).execute();
    return rows.map((r) => ({ session: r.sessionUuid, loginSessionId: r.loginSessionId, apiUrl: r.apiUrl, attempts: r.attempts, unauthorized: r.unauthorized, outcome: r.outcome, lastError: r.lastError, due: r.outcome === null && Number(r.nextAt) < NEVER }));
  }
}

const clamp = (v: number, b: { min: number; max: number }) => Math.min(b.max, Math.max(b.min, Math.round(v)));

/** GUAC_WIDTH/HEIGHT/DPI (checked loosely at /start, as the seed allows) brought within the launch's display bounds. */
function rdpDisplay(d: StartRequest['display']): RdpStart['display'] {
  return { width: clamp(d.width, DISPLAY_BOUNDS.width), height: clamp(d.height, DISPLAY_BOUNDS.height), dpi: clamp(d.dpi, DISPLAY_BOUNDS.dpi) };
}
