// One person's connection to the SSH door, from the first authentication attempt to the
// close: who they are (a ticket, or `<user>:<secret>` with password, TOTP or key), the
// session handle the core gives them, the one connection to the target that all their
// channels share, and every channel relayed over it (shell, exec, SFTP, Telnet bridge,
// local port forwarding). Whatever goes wrong here ends this connection only (the guard).
// The door (server.ts) accepts sockets and creates one of these per ssh2 connection.
import ssh2, { type AuthContext, type ClientChannel, type Connection, type PseudoTtyInfo, type ServerChannel, type Session, type TcpipRequestInfo } from 'ssh2';
import type { Client } from 'ssh2';
import type { Logger } from 'pino';
import { AppError, mayHoldTicket, TICKET_PATTERN, TicketRefused, type SessionBroker, type SessionHandle, type TerminalInfo } from '../../core/broker.js';
import { SftpObserver } from './sftp-observer.js';
import { connectTarget, TargetError, targetEndReason } from '../targets/ssh.js';
import { TerminalOpenError } from '../targets/open-terminal.js';
import type { TerminalTarget } from '../targets/terminal.js';
import { drained } from '../drained.js';
import { bridgeTelnet } from './telnet-bridge.js';
import { enforceChannelWindow, type WindowOverrun } from './channel-input.js';
import { ConnectionGuard, destroyConnection } from './guard.js';
import { LoginSteps } from './login-steps.js';
import { ChannelRelay, endChannel, safeWrite } from './relay.js';
import type { Startup } from '../preauth-limiter.js';

export interface SshConnectionOptions {
  broker: SessionBroker;
  log: Logger;
  connectTimeoutMs: number;
}

type ChannelKind = 'shell' | 'exec' | 'sftp';
type AuthMethod = 'publickey' | 'keyboard-interactive' | 'password';

/** A sign-in refused only for its missing second factor: the password was right. */
const needsSecondFactor = (e: unknown) => e instanceof AppError && (e.code === 'totp_required' || e.code === 'webauthn_required');

// Environment a person may pass to the target (as OpenSSH's AcceptEnv defaults do).
const ENV_ALLOWED = /^(LANG|LC_[A-Z_]+|TERM|COLORTERM|TZ)$/;

/** What one "session" channel request has asked for so far (pty, env) and what serves it. */
interface SessionRequest {
  pty: PseudoTtyInfo | null;
  env: Record<string, string>;
  remote: ClientChannel | null;
  resizeTelnet: ((c: number, r: number) => void) | null;
  started: boolean;
}

export class SshConnection {
  private handle: SessionHandle | null = null;
  /** A `<user>:<secret>` login past its first factor: code, consent, done (then the session opens with the first channel). */
  private readonly login = new LoginSteps();
  private opening: Promise<SessionHandle> | null = null;
  private target: Promise<Client> | null = null;
  private readonly streams = new Set<ServerChannel>();
  private readonly ptyStreams = new WeakSet<ServerChannel>();
  /** A notice from the core that came before any terminal channel was open. */
  private heldNotice: string | null = null;
  private readonly relays = new WeakMap<ServerChannel, ChannelRelay>();
  /** The session was terminated (by an auditor, a timer, shutdown or a failed recording). */
  private closing = false;
  /** The person's connection has closed (it may do so while a ticket is being redeemed). */
  private clientGone = false;
  /** Why the door ended the session, when it was not the person leaving (for the session record). */
  private endReason: string | null = null;
  /** User names already searched for a misplaced ticket (a client retries each auth method under the same name). */
  private readonly searched = new Map<string, Promise<number>>();
  private readonly guard: ConnectionGuard;

  constructor(
    private readonly client: Connection,
    private readonly ip: string,
    private readonly opts: SshConnectionOptions,
    startup: Startup | undefined,
  ) {
    const { log } = opts;
    // Authenticated: the connection leaves the gate's count and its login grace timer stops.
    client.once('ready', () => startup?.done());
    // Whatever goes wrong in this connection's handling ends this connection only.
    this.guard = new ConnectionGuard(
      (err, where) => {
        log.error({ err: { message: (err as Error)?.message, stack: (err as Error)?.stack }, clientIp: ip, where, sessionId: this.handle?.id }, 'ssh door: connection handling failed; connection closed');
        this.endReason ??= 'gateway error';
        this.hangUp(0);
      },
      (err, where) => log.debug({ err: { message: err.message }, clientIp: ip, where }, 'ssh door: stream error'),
    );
    this.guard.watch(client, 'client');

    client.on('authentication', (ctx: AuthContext) => {
      this.authenticate(ctx).catch((err) => {
        log.error({ err: { message: (err as Error).message } }, 'ssh authentication error');
        ctx.reject([]);
      });
    });
    client.on('session', (accept) => this.openSession(accept()));
    client.on('tcpip', (accept, reject, info) => void this.forward(accept, reject, info).catch(this.guard.catch('tcpip')));
    // Remote forwarding, agent forwarding, X11 and streamlocal are not offered.
    client.on('request', (_accept, reject) => reject?.());
    client.on('close', () => this.close());
  }

  /** Ends the connection: politely after graceMs, then by force (a person who stopped reading cannot hold it open). */
  private hangUp(graceMs: number): void {
    setTimeout(() => {
      this.client.end();
      setTimeout(() => destroyConnection(this.client), 2000).unref();
    }, graceMs).unref();
    void this.target?.then((c) => c.end()).catch(() => undefined);
  }

  /**
   * The client sent more on a channel than its window allowed (channel-input.ts; ssh2 would take
   * it all): the excess was dropped and the connection ends, as OpenSSH's sshd ends a peer that
   * ignores the window. Only a broken or hostile client does this; backpressure on the person's
   * input (pausing the channel) bounds the gateway's memory only while clients keep to the window.
   */
  private windowOverrun(where: string, o: WindowOverrun): void {
    if (this.clientGone) return;
    this.opts.log.warn({ clientIp: this.ip, sessionId: this.handle?.id, channel: where, window: o.window, received: o.received }, 'ssh door: rcvd too much data: the client sent past the channel window; connection closed');
    this.endReason ??= 'the client ignored the SSH channel window';
    this.hangUp(0);
  }

  /** The person's connection closed: the target connection ends, and the session with it. */
  private close(): void {
    this.clientGone = true;
    void this.target?.then((c) => c.end()).catch(() => undefined);
    const h = this.handle;
    if (h) void h.end(this.closing ? 'terminated' : (this.endReason ?? 'client disconnected')).catch((err) => this.opts.log.error({ err: { message: (err as Error).message } }, 'session end failed'));
  }

  // ---- authentication

  private async authenticate(ctx: AuthContext): Promise<void> {
    const { broker, log } = this.opts;
    const ip = this.ip;
    const name = ctx.username;
    // A ticket with junk around it ("<ticket>x", "me:<ticket>"): exposed, so voided and refused.
    if (!TICKET_PATTERN.test(name) && mayHoldTicket(name)) {
      if (!this.searched.has(name)) {
        if (this.searched.size >= 16) return ctx.reject([]);
        this.searched.set(name, broker.voidMisplacedTickets(name, { clientIp: ip, door: 'ssh' }, 'SSH user name'));
      }
      if ((await this.searched.get(name)!) > 0) return ctx.reject([]);
    }
    if (TICKET_PATTERN.test(name)) {
      if (ctx.method !== 'none') return ctx.reject([]);
      try {
        const h = await broker.redeem(name, { clientIp: ip, door: 'ssh' });
        if (this.clientGone) return void h.end('client disconnected').catch((err) => log.error({ err: { message: (err as Error).message } }, 'session end failed'));
        this.adopt(h);
        // The launch's request id (reqId) follows the session into the door's log.
        log.info({ sessionId: h.id, clientIp: ip, door: 'ssh', ...(h.plan.launchRequestId ? { reqId: h.plan.launchRequestId } : {}) }, 'ssh door: ticket accepted');
        ctx.accept();
      } catch (e) {
        if (!(e instanceof TicketRefused)) throw e;
        // Generic to the client; the core logged and audited the exact reason.
        ctx.reject([]);
      }
      return;
    }
    const sep = name.indexOf(':');
    if (sep < 1 || sep === name.length - 1) return ctx.reject([]);
    return this.authenticateUser(ctx, name.slice(0, sep), name.slice(sep + 1));
  }

  /** `<user>:<secret>`: a Gatehouse user with a registered key, or password (+TOTP). */
  private async authenticateUser(ctx: AuthContext, username: string, secretRef: string): Promise<void> {
    const { broker } = this.opts;
    const methods: AuthMethod[] = ['publickey', 'keyboard-interactive', 'password'];
    // Consent to recording (access policy): asked as a keyboard-interactive prompt before the
    // session opens; after a key or password login, by asking for keyboard-interactive next.
    const askConsent = (text: string) =>
      ctx.method === 'keyboard-interactive' &&
      ctx.prompt([{ prompt: 'Type yes to agree to the recording: ', echo: true }], 'Gatehouse: this session is recorded', text, (answers) => {
        const userId = this.login.waiting(username, secretRef)?.userId;
        if (this.login.answered(answers[0] ?? '')) return ctx.accept();
        ctx.reject([]);
        if (userId) void broker.consentDeclined(userId, secretRef, { clientIp: this.ip, door: 'ssh' }).catch(this.guard.catch('consent audit'));
      });
    const waiting = this.login.waiting(username, secretRef);
    if (waiting?.step === 'consent') {
      if (ctx.method === 'keyboard-interactive') return void askConsent(waiting.text);
      return ctx.reject(['keyboard-interactive'], true);
    }
    const succeed = async (userId: string, secondFactorAt?: number) => {
      const text = await broker.consentNeeded(userId, secretRef, this.ip);
      if (this.login.authenticated({ username, secretRef, userId }, text, secondFactorAt) === 'done') return ctx.accept();
      if (ctx.method === 'keyboard-interactive') return void askConsent(text!);
      // Authenticated, but not done: the client must go on with keyboard-interactive (partial success).
      ctx.reject(['keyboard-interactive'], true);
    };
    switch (ctx.method) {
      case 'none':
        return ctx.reject(methods);
      case 'publickey': {
        const owner = await broker.keyAllowed(username, ctx.key.data);
        if (!owner) return ctx.reject(methods);
        if (!ctx.signature || !ctx.blob) return ctx.accept();
        const parsed = ssh2.utils.parseKey(`${ctx.key.algo} ${ctx.key.data.toString('base64')}`);
        const key = parsed instanceof Error ? null : Array.isArray(parsed) ? parsed[0] : parsed;
        if (!key || key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject(methods);
        // MFA step-up: the key is only the first factor; keyboard-interactive asks for the code.
        if (await broker.stepUpNeeded(owner.userId, secretRef, this.ip)) {
          this.login.needCode({ username, secretRef, userId: owner.userId });
          return ctx.reject(['keyboard-interactive'], true);
        }
        return succeed(owner.userId);
      }
      case 'password': {
        try {
          return succeed((await broker.passwordLogin(username, ctx.password, undefined, this.ip)).userId);
        } catch (e) {
          // The right password of an account with a second factor: the code is asked by
          // keyboard-interactive. Known only after the password is checked, so the methods
          // named say nothing about the account to someone without its password.
          if (needsSecondFactor(e)) return ctx.reject(['publickey', 'keyboard-interactive']);
          if (e instanceof AppError) return ctx.reject(methods);
          throw e;
        }
      }
      case 'keyboard-interactive': {
        const ask = (prompt: string, echo: boolean) => new Promise<string>((resolve) => ctx.prompt([{ prompt, echo }], 'Gatehouse', (answers) => resolve(answers[0] ?? '')));
        if (waiting?.step === 'code') {
          const code = await ask('Verification code: ', true);
          if (await broker.verifySecondFactor(waiting.userId, code, this.ip)) return succeed(waiting.userId, Date.now());
          return ctx.reject(['keyboard-interactive'], true);
        }
        const password = await ask('Gatehouse password: ', false);
        try {
          try {
            return await succeed((await broker.passwordLogin(username, password, undefined, this.ip)).userId);
          } catch (e) {
            // The code is asked only once the password is known to be right (as the API
            // answers totp_required only then): the prompts say nothing about an account
            // to someone without its password.
            if (!needsSecondFactor(e)) throw e;
          }
          const totp = await ask('TOTP code: ', true);
          // A TOTP code checked with the password is this connection's second factor (MFA step-up).
          return await succeed((await broker.passwordLogin(username, password, totp, this.ip)).userId, Date.now());
        } catch (e) {
          if (e instanceof AppError) return ctx.reject(methods);
          throw e;
        }
      }
      default:
        return ctx.reject(methods);
    }
  }

  // ---- the session and the target, shared by all channels

  private ensureHandle(): Promise<SessionHandle> {
    if (this.handle) return Promise.resolve(this.handle);
    const login = this.login.done;
    if (!login) return Promise.reject(new TicketRefused('unknown'));
    this.opening ??= this.opts.broker.open(login.userId, login.secretRef, null, { clientIp: this.ip, door: 'ssh', ...(login.consented ? { consented: true } : {}), ...(login.secondFactorAt !== undefined ? { secondFactorAt: login.secondFactorAt } : {}) }).then((h) => {
      this.adopt(h);
      return h;
    });
    return this.opening;
  }

  private adopt(h: SessionHandle): void {
    this.handle = h;
    // The person left while the core was opening the session: end it at once.
    if (this.clientGone) void h.end(this.endReason ?? 'client disconnected').catch(this.guard.catch('session end'));
    h.onTerminate((reason) => {
      this.closing = true;
      // At any stage: before a channel, while the target is being reached, relaying, draining.
      const notice = `\r\n[gatehouse] ${reason}\r\n`;
      for (const s of this.streams) {
        const relay = this.relays.get(s);
        if (relay) relay.terminate(notice, this.ptyStreams.has(s));
        else endChannel(s, notice, { toStdout: this.ptyStreams.has(s) });
      }
      this.hangUp(250);
    });
    // A notice (the approved access ends soon) goes to every terminal of the connection, after what is queued.
    // Before any terminal is open it is held for the first one.
    h.onNotice((text) => {
      let told = false;
      for (const s of this.streams) if (this.ptyStreams.has(s)) told = safeWrite(s, noticeLine(text)) || told;
      this.heldNotice = told ? null : text;
    });
    // Shared control: a text channel cannot show a prompt, so the owner reads one line per
    // event and answers a join request in the portal (the session's row under Sessions).
    h.onJoin((e) => {
      const text = e.type === 'request' ? `${e.text}: accept or decline it in the Gatehouse portal (Sessions)` : e.text;
      for (const s of this.streams) if (this.ptyStreams.has(s)) safeWrite(s, noticeLine(text));
    });
  }

  private ensureTarget(h: SessionHandle): Promise<Client> {
    this.target ??= connectTarget(h, { connectTimeoutMs: this.opts.connectTimeoutMs, keepaliveMs: 15_000 }).then((conn) => {
      this.guard.watch(conn, 'target connection');
      if (this.closing || this.clientGone) {
        conn.end();
        throw new TargetError('network', 'the session ended while the target was being reached');
      }
      conn.on('close', () => {
        if (this.closing || this.clientGone) return;
        this.endReason ??= 'the target closed the connection';
        this.client.end();
      });
      return conn;
    });
    return this.target;
  }

  // ---- channels

  /** A "session" channel: collects pty and env requests, then serves one shell, exec or SFTP request. */
  private openSession(accepted: Session): void {
    const session: Session = this.guard.watch(accepted, 'session');
    const req: SessionRequest = { pty: null, env: {}, remote: null, resizeTelnet: null, started: false };
    const guard = this.guard;

    session.on('pty', (acc, _rej, info) => {
      req.pty = info;
      acc?.();
    });
    session.on('env', (acc, rej, info) => {
      if (ENV_ALLOWED.test(info.key) && Object.keys(req.env).length < 32) {
        req.env[info.key] = String(info.val).slice(0, 256);
        acc?.();
      } else rej?.();
    });
    session.on('window-change', (acc, _rej, info) => {
      if (req.pty) req.pty = { ...req.pty, cols: info.cols, rows: info.rows, width: info.width, height: info.height };
      req.remote?.setWindow(info.rows, info.cols, info.height, info.width);
      req.resizeTelnet?.(info.cols, info.rows);
      this.handle?.resize(info.cols, info.rows);
      acc?.();
    });
    session.on('signal', (acc, _rej, info) => {
      req.remote?.signal(info.name);
      acc?.();
    });
    session.on('shell', (acc, rej) => void this.openChannel(req, 'shell', acc, rej).catch(guard.catch('shell')));
    session.on('exec', (acc, rej, info) => void this.openChannel(req, 'exec', acc, rej, info.command).catch(guard.catch('exec')));
    session.on('subsystem', (acc, rej, info) => (info.name === 'sftp' ? void this.openChannel(req, 'sftp', acc, rej).catch(guard.catch('sftp')) : rej()));
  }

  private async openChannel(req: SessionRequest, kind: ChannelKind, acc: () => ServerChannel | undefined, rej: () => void, command?: string): Promise<void> {
    if (req.started) return rej();
    req.started = true;
    // Accept at once, before any await: ssh2 can no longer accept a channel once the
    // client has sent EOF on it, and `ssh host cmd </dev/null` sends EOF right after
    // the exec request. What the client sends meanwhile waits in the paused stream.
    const stream = acc();
    if (!stream) return;
    // Before any data can arrive (this runs in the request's handler): the window is enforced.
    enforceChannelWindow(stream, (o) => this.windowOverrun(kind, o));
    const { guard, streams } = this;
    guard.watch(stream, 'channel');
    guard.watch(stream.stderr, 'channel stderr');
    streams.add(stream);
    if (req.pty) this.ptyStreams.add(stream);
    stream.on('close', () => streams.delete(stream));
    if (this.closing) return endChannel(stream, null);
    const fail = (msg: string) => endChannel(stream, `gatehouse: ${msg}\r\n`);
    let h: SessionHandle;
    try {
      h = await this.ensureHandle();
    } catch (e) {
      fail('access refused');
      if (!(e instanceof TicketRefused)) this.opts.log.error({ err: { message: (e as Error).message } }, 'ssh session open failed');
      return;
    }
    if (this.closing || !streams.has(stream)) return; // terminated or the person left meanwhile
    if (req.pty && this.heldNotice !== null) {
      safeWrite(stream, noticeLine(this.heldNotice));
      this.heldNotice = null;
    }
    // req.pty is read where it is used: a window change while the target is reached updates it.
    const term: TerminalInfo = { cols: req.pty?.cols || 80, rows: req.pty?.rows || 24, term: req.pty?.term || req.env.TERM || 'xterm' };
    if (h.plan.protocol === 'telnet') return this.openTelnet(req, kind, h, stream, term, fail);
    let conn: Client;
    try {
      conn = await this.ensureTarget(h);
    } catch (e) {
      if (this.closing || this.clientGone) return;
      h.note('target_connect_failed', { reason: e instanceof TargetError ? e.kind : 'error' });
      this.endReason ??= targetEndReason(e);
      fail(e instanceof TargetError ? e.message : 'cannot reach the target');
      this.hangUp(100);
      return;
    }
    if (this.closing || !streams.has(stream)) return;
    const opened = (err: Error | undefined, ch: ClientChannel) => {
      if (err) {
        h.note('target_channel_refused', { kind, message: err.message });
        return fail(`the target refused the ${kind} request`);
      }
      guard.watch(ch, 'target channel');
      guard.watch(ch.stderr, 'target channel stderr');
      if (this.closing || !streams.has(stream)) return void ch.close(); // terminated, or the client gave up meanwhile
      req.remote = ch;
      this.relay(h, kind, stream, ch, !!req.pty);
    };
    // Not recordable: the session was terminated and the person told (onTerminate in adopt).
    if (!h.begin(term)) return;
    if (kind === 'sftp') {
      h.note('subsystem', { name: 'sftp' });
      conn.subsys('sftp', opened);
    } else if (kind === 'exec') {
      h.note('exec', { command: command ?? '' });
      conn.exec(command ?? '', { ...(req.pty ? { pty: ptyOptions(req.pty) } : {}), env: req.env }, opened);
    } else {
      conn.shell(req.pty ? ptyOptions(req.pty) : false, { env: req.env }, opened);
    }
  }

  /** A shell channel toward a Telnet target: bridged as a plain terminal. */
  private async openTelnet(req: SessionRequest, kind: ChannelKind, h: SessionHandle, stream: ServerChannel, term: TerminalInfo, fail: (msg: string) => void): Promise<void> {
    this.ptyStreams.add(stream);
    if (kind !== 'shell') return fail('a Telnet target offers an interactive shell only');
    let tn: TerminalTarget;
    try {
      const opened = await bridgeTelnet(h, stream, term, this.opts.connectTimeoutMs);
      if (!opened) {
        this.hangUp(100);
        return;
      }
      tn = this.guard.watch(opened, 'telnet target');
    } catch (e) {
      if (!(e instanceof TerminalOpenError)) throw e;
      this.endReason ??= e.endReason;
      fail(e.message);
      this.hangUp(100);
      return;
    }
    if (this.closing || !this.streams.has(stream)) return tn.close();
    req.resizeTelnet = (c, r) => tn.resize(c, r);
    // The bridge ends the channel (exit status 0, EOF, CLOSE); the connection ends after
    // it closed, so the client gets the status rather than a dropped connection.
    tn.on('close', () => (this.streams.has(stream) ? stream.once('close', () => this.client.end()) : this.client.end()));
  }

  /** Relays one channel to the target's matching channel, reporting what passes to the session. */
  /** The target channel joiners' input goes to (shared control). */
  private joinTarget: ClientChannel | null = null;

  private relay(h: SessionHandle, kind: ChannelKind, stream: ServerChannel, ch: ClientChannel, hasPty: boolean): void {
    const sftp = kind === 'sftp' ? new SftpObserver((e) => h.note('sftp', { ...e })) : null;
    const r = new ChannelRelay(stream, ch, {
      output: (d, stderr) => {
        if (sftp && !stderr) {
          sftp.fromServer.push(d);
          h.traffic(0, d.length);
        } else if (hasPty) h.output(d);
        else h.rawOutput(d);
      },
      input: (d) => {
        if (sftp) {
          sftp.fromClient.push(d);
          h.traffic(d.length, 0);
        } else if (hasPty) h.input(d);
        else h.rawInput(d);
      },
      targetClosed: (exit) => {
        sftp?.flush();
        h.note('target_exit', exit ?? {});
      },
      backlog: { full: () => h.recordingBacklogged(), whenDrained: (cb) => h.whenRecordingDrained(cb) },
    });
    this.relays.set(stream, r);
    r.start();
    // Shared control: joiners type into the first interactive shell of the connection.
    if (hasPty && kind === 'shell' && !this.joinTarget) {
      this.joinTarget = ch;
      // A target channel past its high-water mark: the joiner waits for its drain (or close).
      h.onJoinInput((d) => (this.joinTarget === ch && ch.writable && !ch.write(d) ? drained(ch) : undefined));
    }
  }

  /** Local port forwarding (`ssh -L`), when the launcher allows it: counted as traffic, each opening noted. */
  private async forward(accept: () => ServerChannel, reject: () => void, info: TcpipRequestInfo): Promise<void> {
    const h = await this.ensureHandle().catch(() => null);
    if (!h || h.plan.protocol !== 'ssh' || !h.plan.launcher.allowPortForwarding) {
      h?.note('port_forward_denied', { to: `${info.destIP}:${info.destPort}` });
      return reject();
    }
    const conn = await this.ensureTarget(h).catch(() => null);
    if (!conn) return reject();
    conn.forwardOut(info.srcIP, info.srcPort, info.destIP, info.destPort, (err, remote) => {
      if (err) {
        h.note('port_forward_failed', { to: `${info.destIP}:${info.destPort}` });
        return reject();
      }
      h.note('port_forward', { to: `${info.destIP}:${info.destPort}` });
      this.guard.watch(remote, 'forwarded target channel');
      const local = this.guard.watch(accept(), 'forwarded channel');
      enforceChannelWindow(local, (o) => this.windowOverrun('direct-tcpip', o));
      local.on('data', (d: Buffer) => h.traffic(d.length, 0));
      remote.on('data', (d: Buffer) => h.traffic(0, d.length));
      local.pipe(remote).pipe(local);
    });
  }
}

function ptyOptions(p: PseudoTtyInfo) {
  return { rows: p.rows, cols: p.cols, height: p.height, width: p.width, term: p.term, modes: p.modes };
}

/** A notice from the core on the person's terminal, on a line of its own. */
const noticeLine = (text: string) => `\r\n[gatehouse] ${text}\r\n`;
