// Launching: issue a single-use ticket for (user, secret, launcher), and the broker
// that protocols call to turn a ticket into a live, recorded session.
import type { Logger } from 'pino';
import type { AccessGate } from '../access/gate.js';
import { CONSENT_AT_LAUNCH_MESSAGE, CONSENT_DECLINED_MESSAGE, CONSENT_REQUIRED_MESSAGE, consentNeedOf, type Consents } from '../access/consent.js';
import { POLICY_CHANGED_MESSAGE, type LaunchPolicies } from '../access/launch-policy.js';
import type { Policy } from '../access/policies.js';
import type { AccessLevels } from '../accounts/access-levels.js';
import type { JitAccounts } from '../accounts/jit.js';
import type { StepUp } from '../access/step-up.js';
import type { AuditService } from '../audit/service.js';
import type { ConnectPlan, RedeemContext, SessionBroker, SessionHandle } from '../broker.js';
import { TicketRefused, type RefusalReason } from '../broker.js';
import { AppError, badRequest, conflict, forbidden } from '../errors.js';
import type { Directory } from '../identity/directory.js';
import type { Auth } from '../identity/auth.js';
import type { SshKeys } from '../identity/ssh-keys.js';
import type { Principal } from '../identity/principal.js';
import type { SettingsService } from '../settings.js';
import type { Sessions } from '../sessions/service.js';
import type { LiveSession } from '../sessions/live.js';
import type { Secret, User } from '../../store/schema.js';
import { newId } from '../util.js';
import { atLeast, type Access } from '../vault/access.js';
import type { Checkouts } from '../vault/checkout.js';
import { LAUNCH_ROTATION_WAIT_MS, type Secrets, type Credential } from '../vault/secrets.js';
import type { PersonalVault } from '../vault/personal.js';
import type { Templates, TemplateView } from '../vault/templates.js';
import { DEFAULT_PORTS, rdpRedirection, type LauncherView, type Launchers, type Protocol } from './launchers.js';
import { checkDisplay, displayFromStored, type LaunchDisplay } from './display.js';
import { mayHoldTicket, ticketCandidates } from './ticket-text.js';
import { TICKET_PATTERN, type Tickets } from './tickets.js';
import { withTransient, type TransientCredential, type TransientCredentials } from './transient.js';
import type { Metrics } from '../metrics/metrics.js';
import type { RequestLimits } from '../identity/request-limits.js';

/** The end reason of a session whose setup failed after it had started (bindStarted); the error is in the log. */
const SETUP_FAILED = 'the session could not be set up after it started (see the gateway log)';
/** What a draining node answers a launch (503; the client retries, through the load balancer, on another node). */
export const DRAINING_MESSAGE = 'this gateway node is shutting down and takes no new sessions; try again (another node will take it)';

/** Display settings as a launch request gives them (checked by checkDisplay). */
export type DisplayRequest = Parameters<typeof checkDisplay>[0];

export const DEFAULT_CONSENT = 'This session will be recorded: the screen output and your keystrokes are kept and may be reviewed by auditors. Continue only if you agree.';

export interface LaunchResult {
  ticket: string;
  expiresAt: string;
  launcher: { id: string; name: string; protocol: Protocol };
  /** Where the client connects: the launcher's gateway address, else this gateway. */
  gateway: { host: string; port: number };
  /** The setting publicUrl as this launch read it ('' when unset): the address handed out when the launcher names none. */
  publicUrl: string;
  /** The policy's consent to recording, when it requires one, and whether the launch carried it. */
  policyConsent: { text: string; given: boolean } | null;
  /** What the launch must show before a recorded session starts: the launcher's consent notice (consentOf). */
  launcherConsent: { required: boolean; text: string };
}

/** A launcher's consent notice: required when it records. */
const consentOf = (l: LauncherView): { required: boolean; text: string } => ({ required: l.record, text: l.options.consentText?.trim() || DEFAULT_CONSENT });

export class Launching implements SessionBroker {
  constructor(
    private readonly deps: {
      tickets: Tickets;
      launchers: Launchers;
      secrets: Secrets;
      personal: PersonalVault;
      templates: Templates;
      access: Access;
      dir: Directory;
      settings: SettingsService;
      sessions: Sessions;
      audit: AuditService;
      log: Logger;
      auth: Auth;
      sshKeys: SshKeys;
      checkouts: Checkouts;
      ports: { ssh: number; rdp: number };
      /** Access request policies: grants, modes and hours (core/access). */
      accessGate: AccessGate;
      /** Consent to recording that a policy requires (core/access/consent.ts). */
      consents: Consents;
      /** MFA step-up per launch (core/access/step-up.ts). */
      stepUp: StepUp;
      /** The policy in force, resolved once per launch and remembered per ticket (core/access/launch-policy.ts). */
      launchPolicies: LaunchPolicies;
      /** Access levels and JIT accounts (core/accounts, issue 12). */
      accessLevels: AccessLevels;
      jit: JitAccounts;
      /** Credentials a launch ticket carries in place of its secret's (logon tickets, seed 004). */
      transient: TransientCredentials;
      /** Tickets issued, redeemed and refused; sessions started (core/metrics). */
      metrics?: Metrics;
      /** Ticket requests per address and per account (core/identity/request-limits.ts). */
      limits?: RequestLimits;
    },
  ) {}

  /** Set by a SIGTERM drain (server.ts): no new tickets, no new sessions; running ones go on. */
  private drainingSince: number | null = null;

  /** Refuses new launches and sessions from now on (tickets stay unused, so another node can redeem them). */
  drain(): void {
    this.drainingSince ??= Date.now();
  }

  get draining(): boolean {
    return this.drainingSince !== null;
  }

  /**
   * Redeems that have used their single-use ticket, and door launches past their draining
   * check, whose sessions are not live yet. A drain waits for them as for the live sessions:
   * ended at once by the stop, the person would lose the ticket. Counted only from there, so
   * requests with no valid ticket do not hold a drain up.
   */
  get underWay(): number {
    return this.starting;
  }

  private starting = 0;

  async passwordLogin(username: string, password: string, totp: string | undefined, clientIp: string): Promise<{ userId: string }> {
    const u = await this.deps.auth.authenticate({ username, password, ...(totp ? { totp } : {}) }, clientIp, 'ssh');
    return { userId: u.id };
  }

  async stepUpNeeded(userId: string, secretRef: string, clientIp: string): Promise<boolean> {
    const p = await this.deps.dir.doorPrincipal(await this.deps.dir.userRow(userId), clientIp);
    const found = await this.deps.secrets.list(p, { search: secretRef, limit: 50, offset: 0 });
    const secret = found.items.find((s) => s.id === secretRef || s.name === secretRef);
    return !!secret && !!(await this.deps.stepUp.requirement(secret.id, clientIp));
  }

  async verifySecondFactor(userId: string, code: string, clientIp: string): Promise<boolean> {
    return this.deps.stepUp.verifyAtDoor(userId, code, clientIp);
  }

  async keyAllowed(username: string, keyBlob: Buffer): Promise<{ userId: string } | null> {
    const u = await this.deps.dir.userByName(username);
    if (!u || !u.enabled || u.isApplication || (u.lockedUntil && u.lockedUntil > Date.now())) return null;
    return (await this.deps.sshKeys.owns(u.id, keyBlob)) ? { userId: u.id } : null;
  }

  /** Records the port a door actually listens on (it may have been asked for port 0). */
  setDoorPort(door: 'ssh' | 'rdp', port: number): void {
    this.deps.ports[door] = port;
  }

  /** The launchers a template maps to (active ones only). */
  async launchersFor(templateId: string): Promise<LauncherView[]> {
    const t = await this.deps.templates.get(templateId);
    const all = await this.deps.launchers.list();
    return all.filter((l) => l.active && t.launchers.includes(l.id));
  }

  /**
   * The secret's template, and whether launchersFor(templateId) lists this launcher (for one
   * that enabled() already passed: active and mapped to the template). One template read
   * instead of every launcher and a setting; the template serves the credential after.
   */
  private async mapping(templateId: string, launcher: LauncherView): Promise<{ mapped: boolean; template: TemplateView }> {
    const template = await this.deps.templates.get(templateId);
    return { mapped: launcher.active && template.launchers.includes(launcher.id), template };
  }

  /** A refusal, or the secret and template it read (the credential is opened from them). */
  private async checkLaunchable(userId: string, secretId: string, launcher: LauncherView, policy: Policy | null): Promise<{ problem: { reason: RefusalReason; detail: string } } | { problem: null; secret: Secret; template: TemplateView; user: User; principal: Principal }> {
    const refuse = (reason: RefusalReason, detail: string) => ({ problem: { reason, detail } });
    const user = await this.deps.dir.userRow(userId).catch(() => null);
    if (!user || !user.enabled) return refuse('permission_withdrawn', 'user missing or disabled');
    const p = await this.deps.dir.doorPrincipal(user);
    if (!p.permissions.has('launch')) return refuse('permission_withdrawn', 'launch permission withdrawn');
    const { secret } = await this.deps.secrets.require(p, secretId, 'list').catch(() => ({ secret: null }));
    if (!secret) return refuse('permission_withdrawn', 'secret deleted or no longer shared');
    const level = await this.deps.access.secretLevel(p, secret);
    if (!atLeast(level, 'view')) return refuse('permission_withdrawn', 'view access to the secret withdrawn');
    if (!launcher.active) return refuse('launcher_inactive', `launcher ${launcher.name} is inactive`);
    if (!(await this.deps.launchers.enabled(launcher))) return refuse('launcher_inactive', `launcher ${launcher.name} is a session connector and the setting "Session Connector" is off`);
    const { mapped, template } = await this.mapping(secret.templateId, launcher);
    if (!mapped) return refuse('launcher_inactive', `launcher ${launcher.name} is not mapped to the secret's template`);
    const gate = await this.deps.accessGate.check(p, secretId, launcher.protocol, policy);
    if (!gate.ok) return refuse('access_policy', gate.message);
    return { problem: null, secret, template, user, principal: p };
  }

  async launch(p: Principal, secretId: string, launcherRef: string, opts: { clientIp: string | null; bindIp: boolean; personalCredentialId?: string; consent?: boolean; totp?: string; accessLevel?: string; display?: DisplayRequest; transient?: TransientCredential; requestId?: string }): Promise<LaunchResult> {
    if (this.draining) throw new AppError(503, 'draining', DRAINING_MESSAGE, { retryAfterSeconds: 1 });
    // Ticket requests per address and per account (429 with Retry-After past either). Not for
    // logon tickets (a transient credential): their launches all run as the one logon-ticket
    // account, and the logon-ticket service has its own limits.
    // The settings, once for the whole launch (limits, ticket lifetime, the address handed out).
    const settings = await this.deps.settings.all();
    if (!opts.transient) await this.deps.limits?.take('ticket', opts.clientIp, p.userId, { id: p.userId, name: p.username, ip: opts.clientIp }, settings);
    // Display settings first: a bad one is the caller's mistake, whatever else holds (400 invalid_display).
    const display = opts.display ? checkDisplay(opts.display) : undefined;
    const { secret } = await this.deps.secrets.require(p, secretId, 'view');
    const launcher = await this.deps.launchers.get(launcherRef).catch(() => {
      throw badRequest(`unknown launcher "${launcherRef}"`, 'unknown_launcher');
    });
    await this.deps.launchers.requireEnabled(launcher);
    const { mapped: isMapped, template } = await this.mapping(secret.templateId, launcher);
    if (!isMapped) {
      const mapped = await this.launchersFor(secret.templateId);
      throw badRequest(`launcher "${launcher.name}" is not available for this secret; available: ${mapped.map((l) => l.id === l.name ? l.id : `${l.id} (${l.name})`).join(', ') || 'none'}`, 'launcher_not_mapped');
    }
    if (display && launcher.protocol !== 'rdp') throw badRequest(`display settings (width, height, dpi, keyboardLayout) apply to RDP launchers, not ${launcher.protocol}`, 'invalid_display');
    const target = await this.deps.secrets.target(secret, template);
    if (!target.machine) throw badRequest('this secret has no machine to connect to', 'no_target');
    // The policy in force, once for the whole launch: every check below decides under it.
    const policy = await this.deps.launchPolicies.resolve(secret.id);
    await this.deps.accessGate.requireLaunch(p, secret.id, launcher.protocol, policy);
    // A policy's consent to recording: an RDP client cannot be asked, so its launch must carry it.
    const need = consentNeedOf(policy);
    // `consent: false` is an answer, not a missing one: the person declined in the portal or
    // CLI before any ticket existed (the .rdp path), so the refusal is audited here.
    if (need && opts.consent === false) {
      await this.deps.consents.record({ id: p.userId, name: p.username, ip: opts.clientIp }, secret.id, need, false, { launcher: launcher.name, at: 'launch' });
      throw new AppError(403, 'consent_declined', CONSENT_DECLINED_MESSAGE);
    }
    if (need && launcher.protocol === 'rdp' && !opts.consent) throw new AppError(403, 'consent_required', `${CONSENT_AT_LAUNCH_MESSAGE} ${need.text}`);
    await this.deps.stepUp.requireLaunch({ userId: p.userId, key: p.tokenId }, policy, opts.clientIp, opts.totp);
    // The access level asked for: one that applies to the secret (400) and that the person may use (403).
    const level = opts.accessLevel ? await this.deps.accessLevels.choose(p.userId, p.groupIds, secret.id, opts.accessLevel) : null;
    if (level && opts.personalCredentialId) throw badRequest('an access level applies to the shared account or a JIT account, not to a personal credential', 'invalid_request');
    if (opts.transient && (level || opts.personalCredentialId)) throw badRequest('a transient credential replaces the shared account: no access level or personal credential with it', 'invalid_request');
    // A personal credential in place of the shared one: the caller's own, opened while their vault is unlocked.
    const personal = await this.deps.personal.prepareLaunch(p, opts.personalCredentialId, { secretId: secret.id, machine: target.machine, port: Number(target.port ?? DEFAULT_PORTS[launcher.protocol]) || DEFAULT_PORTS[launcher.protocol], protocol: launcher.protocol });
    const ttl = await this.deps.settings.ticketLifetimeSeconds(settings);
    // Exclusive checkout of the shared credential: someone else holds it → the seed's message; a secret that
    // requires checkout is taken here. A launch with the person's own personal credential leaves it alone.
    if (!personal && !opts.transient) {
      const held = await this.deps.checkouts.gate({ id: p.userId, name: p.username }, secret.id, Date.now() + ttl * 1000, { required: policy?.checkoutRequired ?? false, protocol: launcher.protocol });
      if (held) throw conflict(held, 'credential_unavailable');
    }
    // The ticket row is written in the transaction of the launch's audit event (below): a ticket
    // that exists was audited, and nothing is handed out until both are committed. What is bound
    // to it before (keyed by the ticket, no foreign key) is useless without the row.
    const { id: ticketId, ticket, expiresAt, write: writeTicket } = this.deps.tickets.draw({ userId: p.userId, secretId: secret.id, launcherId: launcher.id, clientIp: opts.bindIp ? opts.clientIp : null, ttlSeconds: ttl, ...(display ? { display } : {}), ...(opts.requestId ? { launchRequestId: opts.requestId } : {}), policyVersion: this.deps.launchPolicies.stamp(policy) });
    this.deps.launchPolicies.remember(ticketId, policy, expiresAt);
    if (level) this.deps.jit.remember(ticketId, level.id, expiresAt);
    await personal?.bind(ticket, expiresAt);
    if (opts.transient) await this.deps.transient.bind(ticketId, opts.transient, expiresAt);
    if (need && opts.consent) {
      this.deps.consents.remember(ticketId, expiresAt);
      await this.deps.consents.record({ id: p.userId, name: p.username, ip: opts.clientIp }, secret.id, need, true, { ticketId, launcher: launcher.name, at: 'launch' });
    }
    await this.deps.audit.record(
      { id: p.userId, name: p.username, ip: opts.clientIp },
      { action: 'secret.launch', target: { type: 'secret', id: secret.id }, details: { name: secret.name, launcher: launcher.name, protocol: launcher.protocol, ticketExpiresAt: new Date(expiresAt).toISOString(), boundToIp: opts.bindIp, ...(level ? { accessLevel: level.name } : {}), ...(display ? { display } : {}), ...(opts.transient ? { transientCredential: { source: opts.transient.source, user: opts.transient.username, domain: opts.transient.domain } } : {}) } },
      { alongside: writeTicket },
    );
    this.deps.metrics?.ticketIssued(launcher.protocol);
    const port = launcher.gatewayPort ?? (launcher.protocol === 'rdp' ? this.deps.ports.rdp : this.deps.ports.ssh);
    return { ticket, expiresAt: new Date(expiresAt).toISOString(), launcher: { id: launcher.id, name: launcher.name, protocol: launcher.protocol }, gateway: { host: launcher.gatewayHost ?? '', port }, publicUrl: settings.publicUrl, policyConsent: need ? { text: need.text, given: !!opts.consent } : null, launcherConsent: consentOf(launcher) };
  }

  private plan(sessionId: string, user: { id: string; username: string }, cred: Credential, launcher: LauncherView, display?: LaunchDisplay, launchRequestId?: string | null): ConnectPlan {
    if (!cred.machine) throw new TicketRefused('target_missing', 'secret has no machine');
    const port = Number(cred.fields.port ?? DEFAULT_PORTS[launcher.protocol]) || DEFAULT_PORTS[launcher.protocol];
    return { sessionId, user, protocol: launcher.protocol, target: { host: cred.machine, port }, credential: cred, launcher, ...(display ? { display } : {}), ...(launchRequestId ? { launchRequestId } : {}) };
  }

  private async refuse(e: TicketRefused, ctx: RedeemContext, who: { id: string | null; name: string | null }, extra: Record<string, unknown>): Promise<never> {
    await this.reportRefusal(e, ctx, who, extra);
    throw e;
  }

  private async reportRefusal(e: TicketRefused, ctx: RedeemContext, who: { id: string | null; name: string | null }, extra: Record<string, unknown>): Promise<void> {
    // Fixed words make refusals easy to find in the log: "SessionConnector" (the seed: "search
    // for SessionConnector to find more details about why sessions may have been rejected") and TicketRefused.
    this.deps.metrics?.ticketRefused(e.reason, ctx.door);
    const actor = { ...who, ip: ctx.clientIp };
    const input = { action: 'ticket.refused', outcome: 'failure' as const, details: { reason: e.reason, detail: e.detail, door: ctx.door, ...extra } };
    let own = true;
    try {
      // A ticket no launch made (or none at all) names nobody: anyone can send those in a loop,
      // so past the threshold they are summed per source as failed sign-ins are. A refusal of
      // an issued ticket concerns its person and always has its own event.
      if (who.id === null) own = await this.deps.auth.noteDoorRefusal(ctx.clientIp, actor, input);
      else await this.deps.audit.record(actor, input);
    } finally {
      // The log line goes with the event: a refusal summed into the source's summary logs at
      // debug, so a loop of random tickets does not fill the log either (the metric counts all).
      this.deps.log[own ? 'warn' : 'debug']({ event: 'TicketRefused', component: 'SessionConnector', reason: e.reason, detail: e.detail, door: ctx.door, clientIp: ctx.clientIp, ...extra }, `SessionConnector TicketRefused: ${e.reason}${e.detail ? ` (${e.detail})` : ''}`);
    }
  }

  async voidMisplacedTickets(presented: string, ctx: RedeemContext, where: string): Promise<number> {
    if (!mayHoldTicket(presented)) return 0;
    const rows = await this.deps.tickets.findAmong(ticketCandidates(presented));
    for (const row of rows) {
      if (!row.usedAt) await this.deps.tickets.void(row.id);
      await this.reportRefusal(new TicketRefused('misplaced', `a ticket presented in the ${where}; ${row.usedAt ? 'it was already used' : 'voided'}`), ctx, { id: row.userId, name: null }, { ticketId: row.id, secretId: row.secretId, where });
    }
    return rows.length;
  }

  async doorRefused(reason: 'missing' | 'tls_required', ctx: RedeemContext, details: Record<string, unknown> = {}, ticket?: string): Promise<void> {
    const row = ticket ? await this.deps.tickets.peek(ticket) : undefined;
    const detail = reason === 'missing' ? 'no ticket: open the file Gatehouse provides' : 'the client did not offer TLS';
    await this.reportRefusal(new TicketRefused(reason, detail), ctx, { id: row?.userId ?? null, name: null }, { ...details, ...(row ? { ticketId: row.id, secretId: row.secretId } : {}) });
  }

  async redeem(ticket: string, ctx: RedeemContext): Promise<SessionHandle> {
    // A ticket with extra characters around it (a pasted routing token, a URL parameter) is no ticket, but it is exposed.
    if (!TICKET_PATTERN.test(ticket) && (await this.voidMisplacedTickets(ticket, ctx, 'ticket field, with extra characters')) > 0) throw new TicketRefused('misplaced');
    const sessionId = newId();
    const row = await this.deps.tickets.peek(ticket);
    let underWay = false;
    try {
      // Draining: the ticket is left unused, so the client can redeem it through another node.
      if (this.draining) throw new TicketRefused('draining', DRAINING_MESSAGE);
      if (!row) throw new TicketRefused('unknown');
      if (ctx.expectUserId && ctx.expectUserId !== row.userId) throw new TicketRefused('unknown', 'ticket belongs to another user');
      const launcher = await this.deps.launchers.get(row.launcherId);
      // The policy in force now wins (launch-policy.ts): one that changed since the launch refuses the ticket.
      const policy = await this.deps.launchPolicies.resolve(row.secretId);
      if (this.deps.launchPolicies.changedSince(row.id, policy, row.policyVersion)) throw new TicketRefused('access_policy', POLICY_CHANGED_MESSAGE);
      const checked = await this.checkLaunchable(row.userId, row.secretId, launcher, policy);
      if (checked.problem) throw new TicketRefused(checked.problem.reason, checked.problem.detail);
      const need = consentNeedOf(policy);
      const consentedAtLaunch = need ? this.deps.consents.has(row.id) : false;
      if (need && !ctx.consented && !consentedAtLaunch) throw new TicketRefused('consent_required', CONSENT_REQUIRED_MESSAGE);
      await this.deps.tickets.redeem(ticket, ctx.clientIp, sessionId, row);
      this.starting++;
      underWay = true;
      this.deps.consents.forget(row.id);
      this.deps.launchPolicies.forget(row.id);
      // The person as checkLaunchable just read them (enabled, allowed to launch).
      const { user, principal } = checked;
      // A transient credential (a logon ticket's) stands in for the secret's, like a personal one.
      const transient = await this.deps.transient.take(row.id);
      // A rotation of the secret under way (a check-in's, say) is waited for: its new password, not the one it replaces.
      if (!transient) await this.deps.secrets.valuesReady(row.secretId, LAUNCH_ROTATION_WAIT_MS);
      const { credential: cred, personal } = transient
        ? { credential: withTransient(await this.deps.secrets.credential(row.secretId, checked), transient), personal: true }
        : await this.deps.personal.credentialFor(ticket, row.userId, await this.deps.secrets.credential(row.secretId, checked));
      // After the single-use redeem: a replayed ticket never reaches the checkout, a refused one is used up.
      // A ticket launched with a personal or transient credential does not touch the shared credential's checkout.
      if (!personal) {
        const held = await this.deps.checkouts.gate({ id: user.id, name: user.username }, row.secretId, Date.now() + 60_000, { required: policy?.checkoutRequired ?? false, protocol: launcher.protocol });
        if (held) throw new TicketRefused('checked_out', held);
      }
      // A JIT account or the chosen level's groups (issue 12): the session logs in with what this answers.
      const prepared = personal ? null : await this.deps.jit.prepare(sessionId, row.secretId, row.id, cred, { id: user.id, name: user.username, ip: ctx.clientIp }).catch((e: unknown) => {
        throw e instanceof AppError ? new TicketRefused('target_missing', e.message) : e;
      });
      // Until the session has started, a failure undoes the JIT account or the level's groups at once.
      const live = await (async () => {
        const display = displayFromStored(row.display);
        const plan = this.plan(sessionId, { id: user.id, username: user.username }, prepared?.credential ?? cred, launcher, display, row.launchRequestId);
        if (need && ctx.consented && !consentedAtLaunch) await this.deps.consents.record({ id: user.id, name: user.username, ip: ctx.clientIp }, row.secretId, need, true, { ticketId: row.id, door: ctx.door });
        await this.deps.audit.record({ id: user.id, name: user.username, ip: ctx.clientIp }, { action: 'ticket.redeem', target: { type: 'secret', id: row.secretId }, details: { ticketId: row.id, sessionId, door: ctx.door } });
        return this.deps.sessions.start(plan, ctx);
      })().catch(async (e: unknown) => {
        await prepared?.abort();
        throw e;
      });
      prepared?.started();
      const handle = await this.bindStarted(live, policy, principal.groupIds, personal ? null : { userId: user.id, secretId: row.secretId, maxDurationSeconds: launcher.maxDurationSeconds });
      this.deps.metrics?.ticketRedeemed(launcher.protocol, ctx.door);
      this.deps.metrics?.sessionStarted(launcher.protocol, ctx.door);
      return handle;
    } catch (e) {
      if (e instanceof TicketRefused) return this.refuse(e, ctx, { id: row?.userId ?? null, name: null }, { ticketId: row?.id ?? null, secretId: row?.secretId ?? null, ...(row?.launchRequestId ? { reqId: row.launchRequestId } : {}) });
      throw e;
    } finally {
      if (underWay) this.starting--;
    }
  }

  async open(userId: string, secretRef: string, launcherRef: string | null, ctx: RedeemContext): Promise<SessionHandle> {
    const user = await this.deps.dir.userRow(userId);
    const p = await this.deps.dir.doorPrincipal(user, ctx.clientIp);
    let underWay = false;
    try {
      if (this.draining) throw new TicketRefused('draining', DRAINING_MESSAGE);
      // A signed-in person's launch at the door: waited for by a drain from here (underWay).
      this.starting++;
      underWay = true;
      const secret = await this.visibleSecret(p, secretRef);
      if (!secret) throw new TicketRefused('permission_withdrawn', `no secret "${secretRef}" visible to the user`);
      const mapped = await this.launchersFor(secret.template.id);
      const launcher = launcherRef ? mapped.find((l) => l.id === launcherRef || l.name === launcherRef) : mapped.find((l) => l.protocol === 'ssh') ?? mapped.find((l) => l.protocol === 'telnet');
      if (!launcher || launcher.protocol === 'rdp') throw new TicketRefused('launcher_inactive', `no terminal launcher${launcherRef ? ` "${launcherRef}"` : ''} for this secret`);
      // The policy in force, once for this door launch: every check below decides under it.
      const policy = await this.deps.launchPolicies.resolve(secret.id);
      const checked = await this.checkLaunchable(userId, secret.id, launcher, policy);
      if (checked.problem) throw new TicketRefused(checked.problem.reason, checked.problem.detail);
      const need = consentNeedOf(policy);
      if (need && !ctx.consented) throw new TicketRefused('consent_required', CONSENT_REQUIRED_MESSAGE);
      const mfa = await this.deps.stepUp.doorProblem(user.id, policy, ctx.clientIp, ctx.secondFactorAt);
      if (mfa) throw new TicketRefused('access_policy', mfa);
      const held = await this.deps.checkouts.gate({ id: user.id, name: user.username }, secret.id, Date.now() + 60_000, { required: policy?.checkoutRequired ?? false, protocol: launcher.protocol });
      if (held) throw new TicketRefused('checked_out', held);
      if (need) await this.deps.consents.record({ id: user.id, name: user.username, ip: ctx.clientIp }, secret.id, need, true, { door: ctx.door, direct: true });
      await this.deps.secrets.valuesReady(secret.id, LAUNCH_ROTATION_WAIT_MS);
      const cred = await this.deps.secrets.credential(secret.id, checked);
      const directId = newId();
      // A door launch chooses no access level; a secret with JIT on still gets a temporary account.
      const prepared = await this.deps.jit.prepare(directId, secret.id, null, cred, { id: user.id, name: user.username, ip: ctx.clientIp });
      const plan = this.plan(directId, { id: user.id, username: user.username }, prepared.credential, launcher);
      await this.deps.audit.record({ id: user.id, name: user.username, ip: ctx.clientIp }, { action: 'secret.launch', target: { type: 'secret', id: secret.id }, details: { name: secret.name, launcher: launcher.name, protocol: launcher.protocol, door: ctx.door, direct: true } });
      const live = await this.deps.sessions.start(plan, ctx).catch(async (e: unknown) => {
        await prepared.abort();
        throw e;
      });
      prepared.started();
      const handle = await this.bindStarted(live, policy, checked.principal.groupIds, { userId: user.id, secretId: secret.id, maxDurationSeconds: launcher.maxDurationSeconds });
      this.deps.metrics?.sessionStarted(launcher.protocol, ctx.door);
      return handle;
    } catch (e) {
      if (e instanceof TicketRefused) return this.refuse(e, ctx, { id: userId, name: user.username }, { secret: secretRef });
      if (e instanceof AppError) return this.refuse(new TicketRefused('permission_withdrawn', e.message), ctx, { id: userId, name: user.username }, { secret: secretRef });
      throw e;
    } finally {
      if (underWay) this.starting--;
    }
  }

  /**
   * Binds a session that has just started to its access window and to the launch's checkout
   * (`checkout`: a launch with the shared credential); the door gets the handle only after.
   * When a step here fails, nobody holds the started session and no door would ever end it
   * (its row 'live', gatehouse_sessions_live one too high, a drain waiting out its timeout): it
   * is ended here with what the launch took (endUnheld), and the error goes on as before.
   */
  private async bindStarted(live: LiveSession, policy: Policy | null, groupIds: string[], checkout: { userId: string; secretId: string; maxDurationSeconds: number } | null): Promise<SessionHandle> {
    const bindCheckout = async () => {
      if (checkout) await this.deps.checkouts.bindSession(checkout.userId, checkout.secretId, live.id, checkout.maxDurationSeconds);
    };
    try {
      const handle = await this.deps.accessGate.bind(live, policy, groupIds);
      await bindCheckout();
      return handle;
    } catch (e) {
      await this.endUnheld(live, e, bindCheckout);
      throw e;
    }
  }

  /**
   * Ends a started session that no door holds. The launch checkout is bound to it first (the
   * step that failed may have come before, or been that one): the session's end then checks it
   * in, or passes it to another live session of the person, instead of the secret staying
   * checked out until the launch checkout runs out. A JIT account or level's groups go with the
   * end as well (jit.sessionEnded). Failures here are logged: the caller's error is the one told.
   */
  private async endUnheld(live: LiveSession, err: unknown, bindCheckout: () => Promise<void>): Promise<void> {
    const log = this.deps.log.child({ sessionId: live.id });
    log.error({ err: { message: (err as Error)?.message } }, 'setting up a session after its start failed: the session is ended');
    await bindCheckout().catch((e) => log.error({ err: { message: (e as Error).message } }, 'binding the launch checkout to the session failed: it is checked in when it runs out'));
    await live.end(SETUP_FAILED).catch((e) => log.error({ err: { message: (e as Error).message } }, 'the end of the session is not written yet (it is tried again)'));
  }

  /** The person declined the consent to recording: the ticket is voided and the refusal audited. */
  async decline(p: Principal, ticket: string, clientIp: string | null): Promise<void> {
    const row = await this.deps.tickets.peek(ticket);
    if (!row || row.userId !== p.userId) throw new AppError(404, 'not_found', 'ticket not found');
    if (row.usedAt) throw new AppError(409, 'ticket_used', 'this ticket was already used or declined');
    await this.deps.tickets.void(row.id);
    this.deps.consents.forget(row.id);
    this.deps.launchPolicies.forget(row.id);
    const launcher = await this.deps.launchers.get(row.launcherId).catch(() => null);
    const need = await this.deps.consents.needFor(row.secretId);
    if (need) return this.deps.consents.record({ id: p.userId, name: p.username, ip: clientIp }, row.secretId, need, false, { ticketId: row.id, launcher: launcher?.name ?? row.launcherId });
    await this.deps.audit.record({ id: p.userId, name: p.username, ip: clientIp }, { action: 'session.consent_declined', target: { type: 'secret', id: row.secretId }, details: { ticketId: row.id, launcher: launcher?.name ?? row.launcherId } });
  }

  private async visibleSecret(p: Principal, secretRef: string) {
    const found = await this.deps.secrets.list(p, { search: secretRef, limit: 50, offset: 0 });
    return found.items.find((s) => s.id === secretRef || s.name === secretRef) ?? (await this.deps.secrets.get(p, secretRef).catch(() => null));
  }

  /** For `user:secret` door logins: the consent text the secret's policy requires, or null (asked before the session opens). */
  async consentNeeded(userId: string, secretRef: string, clientIp: string): Promise<string | null> {
    const user = await this.deps.dir.userRow(userId).catch(() => null);
    if (!user) return null;
    const secret = await this.visibleSecret(await this.deps.dir.doorPrincipal(user, clientIp), secretRef);
    return secret ? ((await this.deps.consents.needFor(secret.id))?.text ?? null) : null;
  }

  /** The person answered the door's consent prompt with anything but yes: audited, no session. */
  async consentDeclined(userId: string, secretRef: string, ctx: RedeemContext): Promise<void> {
    const user = await this.deps.dir.userRow(userId);
    const secret = await this.visibleSecret(await this.deps.dir.doorPrincipal(user, ctx.clientIp), secretRef);
    const need = secret ? await this.deps.consents.needFor(secret.id) : null;
    if (secret && need) await this.deps.consents.record({ id: user.id, name: user.username, ip: ctx.clientIp }, secret.id, need, false, { door: ctx.door, direct: true });
  }

  /**
   * What a .rdp file for one of the caller's own unused RDP tickets needs: the launcher,
   * the secret's name and the gateway port. Someone else's ticket reads as unknown.
   */
  async rdpFileFor(
    p: Principal,
    ticket: string,
  ): Promise<{ launcher: LauncherView; secretName: string; gateway: { host: string | null; port: number }; allowConnectionSharing: boolean; redirection: ReturnType<typeof rdpRedirection>; display?: LaunchDisplay }> {
    const row = await this.deps.tickets.peek(ticket);
    if (!row || row.userId !== p.userId) throw new AppError(404, 'not_found', 'ticket not found');
    if (row.usedAt) throw new AppError(409, 'ticket_used', 'this ticket was already used or declined; launch again');
    if (row.expiresAt <= Date.now()) throw new AppError(410, 'ticket_expired', 'this ticket has expired; launch again');
    const launcher = await this.deps.launchers.get(row.launcherId);
    if (launcher.protocol !== 'rdp') throw badRequest(`the ticket is for a ${launcher.protocol} launcher, not RDP`, 'not_rdp');
    // Only the name (for the file name), and only if the caller still sees the secret.
    const secret = await this.deps.secrets.get(p, row.secretId).catch(() => null);
    return {
      launcher,
      secretName: secret?.name ?? 'gatehouse',
      gateway: { host: launcher.gatewayHost, port: launcher.gatewayPort ?? this.deps.ports.rdp },
      allowConnectionSharing: await this.deps.settings.get('allowConnectionSharing'),
      // Only a hint to the client: the RDP relay enforces the same policy.
      redirection: rdpRedirection(launcher.options),
      // The window the person chose at launch (the door sets the same size in the Connect Initial).
      ...(row.display ? { display: displayFromStored(row.display) } : {}),
    };
  }

  /** The launcher a ticket was issued for (doors decide consent and protocol before redeeming). */
  async ticketLauncher(ticket: string): Promise<LauncherView | null> {
    const row = await this.deps.tickets.peek(ticket);
    return row ? this.deps.launchers.get(row.launcherId).catch(() => null) : null;
  }

  requireLaunchPermission(p: Principal): void {
    if (!p.permissions.has('launch')) throw forbidden('you need the launch permission');
  }
}
