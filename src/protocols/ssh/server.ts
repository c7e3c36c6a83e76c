// The SSH front door. Stock `ssh` clients log in either with a single-use ticket as the
// username (auth method "none", so `-o BatchMode=yes` works) or, for regular users, as
// `<user>:<secret>` with the Gatehouse password (+TOTP) or a registered public key.
// Every session channel is relayed to the target (SSH, or Telnet for telnet launchers)
// and recorded through the core's SessionHandle; this file never sees the database.
import { createServer, type Socket } from 'node:net';
import ssh2, { type AuthContext, type ClientChannel, type Connection, type PseudoTtyInfo, type ServerChannel, type Session } from 'ssh2';
import type { Client } from 'ssh2';
import type { Logger } from 'pino';
import type { SessionBroker, SessionHandle, TerminalInfo } from '../../core/broker.js';
import { TicketRefused } from '../../core/broker.js';
import { AppError } from '../../core/errors.js';
import { TICKET_PATTERN, normalizeIp } from '../../core/launch/tickets.js';
import { mayHoldTicket } from '../../core/launch/ticket-text.js';
import { loadDoorHostKeys, serverHostKeys, type DoorHostKey } from './host-keys.js';
import { SftpObserver } from './sftp-observer.js';
import { connectTarget, TargetError, targetEndReason } from './target.js';
import { bridgeTelnet } from './telnet-bridge.js';
import { ConnectionGuard, destroyConnection } from './guard.js';
import { ChannelRelay, endChannel } from './relay.js';
import { TerminalOpenError } from '../terminal-connect.js';
import type { TerminalTarget } from '../terminal.js';
import { listenOn } from '../listen.js';
import { DEFAULT_PREAUTH_LIMITS, PreauthGate, type PreauthLimits, type Startup } from '../preauth-limiter.js';
import { DOOR_ALGORITHMS } from './ssh-algorithms.js';

export interface SshDoorOptions {
  host: string;
  port: number;
  dataDir: string;
  broker: SessionBroker;
  log: Logger;
  connectTimeoutMs?: number;
  /** Login grace time and the limits on unauthenticated connections. */
  preauth?: PreauthLimits;
}

export interface SshDoor {
  port: number;
  hostKeys: DoorHostKey[];
  preauth: PreauthGate;
  close(): Promise<void>;
}

// Environment a person may pass to the target (as OpenSSH's AcceptEnv defaults do).
const ENV_ALLOWED = /^(LANG|LC_[A-Z_]+|TERM|COLORTERM|TZ)$/;

export async function startSshDoor(opts: SshDoorOptions): Promise<SshDoor> {
  const hostKeys = loadDoorHostKeys(opts.dataDir);
  const gate = new PreauthGate('ssh', opts.preauth ?? DEFAULT_PREAUTH_LIMITS, opts.log);
  // Sockets are accepted here, not by ssh2, so the gate sees them at TCP accept: ssh2 only
  // reports a connection once the client has sent its version line, and one that never
  // does would otherwise stay open forever. The startup is found again by the peer's
  // address and port when ssh2 reports the connection.
  const startups = new Map<string, Startup>();
  const peer = (ip: string | undefined, port: number | undefined) => `${ip ?? ''}|${port ?? 0}`;
  const server = new ssh2.Server({ hostKeys: serverHostKeys(hostKeys), ident: 'Gatehouse', algorithms: DOOR_ALGORITHMS }, (client, info) =>
    onConnection(client, normalizeIp(info.ip), opts, startups.get(peer(info.ip, info.port))),
  );
  server.on('error', (err: Error) => opts.log.error({ err: { message: err.message } }, 'ssh door error'));
  const listener = createServer((sock: Socket) => {
    const startup = gate.admit(sock, normalizeIp(sock.remoteAddress ?? ''));
    if (!startup) return;
    const key = peer(sock.remoteAddress, sock.remotePort);
    startups.set(key, startup);
    sock.once('close', () => startups.delete(key));
    server.injectSocket(sock);
  });
  listener.on('error', (err: Error) => opts.log.error({ err: { message: err.message } }, 'ssh door error'));
  const port = await listenOn(listener, opts.port, opts.host);
  return {
    port,
    hostKeys,
    preauth: gate,
    close: () =>
      new Promise<void>((resolve) => {
        listener.close(() => resolve());
        gate.close();
      }),
  };
}

function onConnection(client: Connection, ip: string, opts: SshDoorOptions, startup: Startup | undefined): void {
  const { broker, log } = opts;
  // Authenticated: the connection leaves the gate's count and its login grace timer stops.
  client.once('ready', () => startup?.done());
  // The grace timer (or the client) may close the connection while a ticket is being redeemed.
  let gone = false;
  client.once('close', () => (gone = true));
  const connectTimeoutMs = opts.connectTimeoutMs ?? 15_000;
  let handle: SessionHandle | null = null;
  let direct: { userId: string; secretRef: string } | null = null;
  let opening: Promise<SessionHandle> | null = null;
  let target: Promise<Client> | null = null;
  const streams = new Set<ServerChannel>();
  const ptyStreams = new WeakSet<ServerChannel>();
  const relays = new WeakMap<ServerChannel, ChannelRelay>();
  let closing = false;
  let clientGone = false;
  /** Why the door ended the session, when it was not the person leaving (for the session record). */
  let endReason: string | null = null;
  // Whatever goes wrong in this connection's handling ends this connection only.
  const guard = new ConnectionGuard(
    (err, where) => {
      log.error({ err: { message: (err as Error)?.message, stack: (err as Error)?.stack }, clientIp: ip, where, sessionId: handle?.id }, 'ssh door: connection handling failed; connection closed');
      endReason ??= 'gateway error';
      hangUp(0);
    },
    (err, where) => log.debug({ err: { message: err.message }, clientIp: ip, where }, 'ssh door: stream error'),
  );
  guard.watch(client, 'client');
  /** Ends the connection: politely after graceMs, then by force (a person who stopped reading cannot hold it open). */
  const hangUp = (graceMs: number) => {
    setTimeout(() => {
      client.end();
      setTimeout(() => destroyConnection(client), 2000).unref();
    }, graceMs).unref();
    void target?.then((c) => c.end()).catch(() => undefined);
  };

  const ensureHandle = (): Promise<SessionHandle> => {
    if (handle) return Promise.resolve(handle);
    if (!direct) return Promise.reject(new TicketRefused('unknown'));
    opening ??= broker.open(direct.userId, direct.secretRef, null, { clientIp: ip, door: 'ssh' }).then((h) => {
      adopt(h);
      return h;
    });
    return opening;
  };

  const adopt = (h: SessionHandle) => {
    handle = h;
    // The person left while the core was opening the session: end it at once.
    if (clientGone) void h.end(endReason ?? 'client disconnected').catch(guard.catch('session end'));
    h.onTerminate((reason) => {
      closing = true;
      // At any stage: before a channel, while the target is being reached, relaying, draining.
      const notice = `\r\n[gatehouse] ${reason}\r\n`;
      for (const s of streams) {
        const relay = relays.get(s);
        if (relay) relay.terminate(notice, ptyStreams.has(s));
        else endChannel(s, notice, { toStdout: ptyStreams.has(s) });
      }
      hangUp(250);
    });
  };

  const ensureTarget = (h: SessionHandle): Promise<Client> => {
    target ??= connectTarget(h, { connectTimeoutMs, keepaliveMs: 15_000 }).then((conn) => {
      guard.watch(conn, 'target connection');
      if (closing || clientGone) {
        conn.end();
        throw new TargetError('network', 'the session ended while the target was being reached');
      }
      conn.on('close', () => {
        if (closing || clientGone) return;
        endReason ??= 'the target closed the connection';
        client.end();
      });
      return conn;
    });
    return target;
  };

  client.on('authentication', (ctx: AuthContext) => {
    authenticate(ctx).catch((err) => {
      log.error({ err: { message: (err as Error).message } }, 'ssh authentication error');
      ctx.reject([]);
    });
  });

  // User names already searched for a misplaced ticket (a client retries each auth method under the same name).
  const searched = new Map<string, Promise<number>>();

  async function authenticate(ctx: AuthContext): Promise<void> {
    const name = ctx.username;
    // A ticket with junk around it ("<ticket>x", "me:<ticket>"): exposed, so voided and refused.
    if (!TICKET_PATTERN.test(name) && mayHoldTicket(name)) {
      if (!searched.has(name)) {
        if (searched.size >= 16) return ctx.reject([]);
        searched.set(name, broker.voidMisplacedTickets(name, { clientIp: ip, door: 'ssh' }, 'SSH user name'));
      }
      if ((await searched.get(name)!) > 0) return ctx.reject([]);
    }
    if (TICKET_PATTERN.test(name)) {
      if (ctx.method !== 'none') return ctx.reject([]);
      try {
        const h = await broker.redeem(name, { clientIp: ip, door: 'ssh' });
        if (gone) return void h.end('client disconnected').catch((err) => log.error({ err: { message: (err as Error).message } }, 'session end failed'));
        adopt(h);
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
    const username = name.slice(0, sep);
    const secretRef = name.slice(sep + 1);
    const methods: ('publickey' | 'keyboard-interactive' | 'password')[] = ['publickey', 'keyboard-interactive', 'password'];
    const succeed = (userId: string) => {
      direct = { userId, secretRef };
      ctx.accept();
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
        return succeed(owner.userId);
      }
      case 'password': {
        if (await broker.needsTotp(username)) return ctx.reject(['publickey', 'keyboard-interactive']);
        try {
          return succeed((await broker.passwordLogin(username, ctx.password, undefined, ip)).userId);
        } catch (e) {
          if (e instanceof AppError) return ctx.reject(methods);
          throw e;
        }
      }
      case 'keyboard-interactive': {
        const ask = (prompt: string, echo: boolean) => new Promise<string>((resolve) => ctx.prompt([{ prompt, echo }], 'Gatehouse', (answers) => resolve(answers[0] ?? '')));
        const password = await ask('Gatehouse password: ', false);
        const totp = (await broker.needsTotp(username)) ? await ask('TOTP code: ', true) : undefined;
        try {
          return succeed((await broker.passwordLogin(username, password, totp, ip)).userId);
        } catch (e) {
          if (e instanceof AppError) return ctx.reject(methods);
          throw e;
        }
      }
      default:
        return ctx.reject(methods);
    }
  }

  client.on('session', (accept) => {
    const session: Session = guard.watch(accept(), 'session');
    let pty: PseudoTtyInfo | null = null;
    const env: Record<string, string> = {};
    let remote: ClientChannel | null = null;
    let resizeTelnet: ((c: number, r: number) => void) | null = null;
    let started = false;

    session.on('pty', (acc, _rej, info) => {
      pty = info;
      acc?.();
    });
    session.on('env', (acc, rej, info) => {
      if (ENV_ALLOWED.test(info.key) && Object.keys(env).length < 32) {
        env[info.key] = String(info.val).slice(0, 256);
        acc?.();
      } else rej?.();
    });
    session.on('window-change', (acc, _rej, info) => {
      if (pty) pty = { ...pty, cols: info.cols, rows: info.rows, width: info.width, height: info.height };
      remote?.setWindow(info.rows, info.cols, info.height, info.width);
      resizeTelnet?.(info.cols, info.rows);
      handle?.resize(info.cols, info.rows);
      acc?.();
    });
    session.on('signal', (acc, _rej, info) => {
      remote?.signal(info.name);
      acc?.();
    });

    const start = async (kind: 'shell' | 'exec' | 'sftp', acc: () => ServerChannel | undefined, rej: () => void, command?: string) => {
      if (started) return rej();
      started = true;
      // Accept at once, before any await: ssh2 can no longer accept a channel once the
      // client has sent EOF on it, and `ssh host cmd </dev/null` sends EOF right after
      // the exec request. What the client sends meanwhile waits in the paused stream.
      const stream = acc();
      if (!stream) return;
      guard.watch(stream, 'channel');
      guard.watch(stream.stderr, 'channel stderr');
      streams.add(stream);
      if (pty) ptyStreams.add(stream);
      stream.on('close', () => streams.delete(stream));
      if (closing) return endChannel(stream, null);
      const fail = (msg: string) => endChannel(stream, `gatehouse: ${msg}\r\n`);
      let h: SessionHandle;
      try {
        h = await ensureHandle();
      } catch (e) {
        fail('access refused');
        if (!(e instanceof TicketRefused)) log.error({ err: { message: (e as Error).message } }, 'ssh session open failed');
        return;
      }
      if (closing || !streams.has(stream)) return; // terminated or the person left meanwhile
      const term: TerminalInfo = { cols: pty?.cols || 80, rows: pty?.rows || 24, term: pty?.term || env.TERM || 'xterm' };
      if (h.plan.protocol === 'telnet') {
        ptyStreams.add(stream);
        if (kind !== 'shell') return fail('a Telnet target offers an interactive shell only');
        let tn: TerminalTarget;
        try {
          const opened = await bridgeTelnet(h, stream, term, connectTimeoutMs);
          if (!opened) {
            hangUp(100);
            return;
          }
          tn = guard.watch(opened, 'telnet target');
        } catch (e) {
          if (!(e instanceof TerminalOpenError)) throw e;
          endReason ??= e.endReason;
          fail(e.message);
          hangUp(100);
          return;
        }
        if (closing || !streams.has(stream)) return tn.close();
        resizeTelnet = (c, r) => tn.resize(c, r);
        // The bridge ends the channel (exit status 0, EOF, CLOSE); the connection ends after
        // it closed, so the client gets the status rather than a dropped connection.
        tn.on('close', () => (streams.has(stream) ? stream.once('close', () => client.end()) : client.end()));
        return;
      }
      let conn: Client;
      try {
        conn = await ensureTarget(h);
      } catch (e) {
        if (closing || clientGone) return;
        h.note('target_connect_failed', { reason: e instanceof TargetError ? e.kind : 'error' });
        endReason ??= targetEndReason(e);
        fail(e instanceof TargetError ? e.message : 'cannot reach the target');
        hangUp(100);
        return;
      }
      if (closing || !streams.has(stream)) return;
      const opened = (err: Error | undefined, ch: ClientChannel) => {
        if (err) {
          h.note('target_channel_refused', { kind, message: err.message });
          return fail(`the target refused the ${kind} request`);
        }
        guard.watch(ch, 'target channel');
        guard.watch(ch.stderr, 'target channel stderr');
        if (closing || !streams.has(stream)) return void ch.close(); // terminated, or the client gave up meanwhile
        remote = ch;
        relay(h, kind, stream, ch, !!pty);
      };
      // Not recordable: the session was terminated and the person told (onTerminate above).
      if (!h.begin(term)) return;
      if (kind === 'sftp') {
        h.note('subsystem', { name: 'sftp' });
        conn.subsys('sftp', opened);
      } else if (kind === 'exec') {
        h.note('exec', { command: command ?? '' });
        conn.exec(command ?? '', { ...(pty ? { pty: ptyOptions(pty) } : {}), env }, opened);
      } else {
        conn.shell(pty ? ptyOptions(pty) : false, { env }, opened);
      }
    };

    session.on('shell', (acc, rej) => void start('shell', acc, rej).catch(guard.catch('shell')));
    session.on('exec', (acc, rej, info) => void start('exec', acc, rej, info.command).catch(guard.catch('exec')));
    session.on('subsystem', (acc, rej, info) => (info.name === 'sftp' ? void start('sftp', acc, rej).catch(guard.catch('sftp')) : rej()));
  });

  const relay = (h: SessionHandle, kind: 'shell' | 'exec' | 'sftp', stream: ServerChannel, ch: ClientChannel, hasPty: boolean) => {
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
    });
    relays.set(stream, r);
    r.start();
  };

  client.on('tcpip', (accept, reject, info) => {
    void (async () => {
      const h = await ensureHandle().catch(() => null);
      if (!h || h.plan.protocol !== 'ssh' || !h.plan.launcher.allowPortForwarding) {
        h?.note('port_forward_denied', { to: `${info.destIP}:${info.destPort}` });
        return reject();
      }
      const conn = await ensureTarget(h).catch(() => null);
      if (!conn) return reject();
      conn.forwardOut(info.srcIP, info.srcPort, info.destIP, info.destPort, (err, remote) => {
        if (err) {
          h.note('port_forward_failed', { to: `${info.destIP}:${info.destPort}` });
          return reject();
        }
        h.note('port_forward', { to: `${info.destIP}:${info.destPort}` });
        guard.watch(remote, 'forwarded target channel');
        const local = guard.watch(accept(), 'forwarded channel');
        local.on('data', (d: Buffer) => h.traffic(d.length, 0));
        remote.on('data', (d: Buffer) => h.traffic(0, d.length));
        local.pipe(remote).pipe(local);
      });
    })().catch(guard.catch('tcpip'));
  });

  // Remote forwarding, agent forwarding, X11 and streamlocal are not offered.
  client.on('request', (_accept, reject) => reject?.());

  client.on('close', () => {
    clientGone = true;
    void target?.then((c) => c.end()).catch(() => undefined);
    const h = handle;
    if (h) void h.end(closing ? 'terminated' : (endReason ?? 'client disconnected')).catch((err) => log.error({ err: { message: (err as Error).message } }, 'session end failed'));
  });
}

function ptyOptions(p: PseudoTtyInfo) {
  return { rows: p.rows, cols: p.cols, height: p.height, width: p.width, term: p.term, modes: p.modes };
}
