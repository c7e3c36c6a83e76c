// The SSH front door. Stock `ssh` clients log in either with a single-use ticket as the
// username (auth method "none", so `-o BatchMode=yes` works) or, for regular users, as
// `<user>:<secret>` with the Gatehouse password (+TOTP) or a registered public key.
// Every session channel is relayed to the target (SSH, or Telnet for telnet launchers)
// and recorded through the core's SessionHandle; this file never sees the database.
import ssh2, { type AuthContext, type ClientChannel, type Connection, type PseudoTtyInfo, type ServerChannel, type Session } from 'ssh2';
import type { Client } from 'ssh2';
import type { Logger } from 'pino';
import type { SessionBroker, SessionHandle, TerminalInfo } from '../../core/broker.js';
import { TicketRefused } from '../../core/broker.js';
import { AppError } from '../../core/errors.js';
import { TICKET_PATTERN, normalizeIp } from '../../core/launch/tickets.js';
import { mayHoldTicket } from '../../core/launch/ticket-text.js';
import { loadDoorHostKeys, type DoorHostKey } from './host-keys.js';
import { SftpObserver } from './sftp-observer.js';
import { connectTarget, TargetError } from './target.js';
import { bridgeTelnet } from './telnet-bridge.js';
import { listenOn } from '../listen.js';

export interface SshDoorOptions {
  host: string;
  port: number;
  dataDir: string;
  broker: SessionBroker;
  log: Logger;
  connectTimeoutMs?: number;
}

export interface SshDoor {
  port: number;
  hostKeys: DoorHostKey[];
  close(): Promise<void>;
}

// Environment a person may pass to the target (as OpenSSH's AcceptEnv defaults do).
const ENV_ALLOWED = /^(LANG|LC_[A-Z_]+|TERM|COLORTERM|TZ)$/;

export async function startSshDoor(opts: SshDoorOptions): Promise<SshDoor> {
  const hostKeys = loadDoorHostKeys(opts.dataDir);
  const server = new ssh2.Server({ hostKeys: hostKeys.map((k) => k.pem), ident: 'Gatehouse' }, (client, info) => onConnection(client, normalizeIp(info.ip), opts));
  server.on('error', (err: Error) => opts.log.error({ err: { message: err.message } }, 'ssh door error'));
  const port = await listenOn(server, opts.port, opts.host);
  return {
    port,
    hostKeys,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function onConnection(client: Connection, ip: string, opts: SshDoorOptions): void {
  const { broker, log } = opts;
  const connectTimeoutMs = opts.connectTimeoutMs ?? 15_000;
  let handle: SessionHandle | null = null;
  let direct: { userId: string; secretRef: string } | null = null;
  let opening: Promise<SessionHandle> | null = null;
  let target: Promise<Client> | null = null;
  const streams = new Set<ServerChannel>();
  const ptyStreams = new WeakSet<ServerChannel>();
  let closing = false;

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
    h.onTerminate((reason) => {
      closing = true;
      for (const s of streams) {
        try {
          (ptyStreams.has(s) ? s : s.stderr).write(`\r\n[gatehouse] ${reason}\r\n`);
          s.exit(1);
          s.end();
        } catch {
          /* channel already gone */
        }
      }
      setTimeout(() => client.end(), 250).unref();
    });
  };

  const ensureTarget = (h: SessionHandle): Promise<Client> => {
    target ??= connectTarget(h, { connectTimeoutMs, keepaliveMs: 15_000 }).then((conn) => {
      conn.on('close', () => {
        if (!closing) client.end();
      });
      conn.on('error', () => undefined);
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
        adopt(await broker.redeem(name, { clientIp: ip, door: 'ssh' }));
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
    const session: Session = accept();
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
      streams.add(stream);
      if (pty) ptyStreams.add(stream);
      stream.on('close', () => streams.delete(stream));
      const fail = (msg: string) => {
        stream.stderr.write(`gatehouse: ${msg}\r\n`);
        stream.exit(1);
        stream.end();
      };
      let h: SessionHandle;
      try {
        h = await ensureHandle();
      } catch (e) {
        fail('access refused');
        if (!(e instanceof TicketRefused)) log.error({ err: { message: (e as Error).message } }, 'ssh session open failed');
        return;
      }
      const term: TerminalInfo = { cols: pty?.cols || 80, rows: pty?.rows || 24, term: pty?.term || env.TERM || 'xterm' };
      if (h.plan.protocol === 'telnet') {
        ptyStreams.add(stream);
        if (kind !== 'shell') return fail('a Telnet target offers an interactive shell only');
        const tn = await bridgeTelnet(h, stream, term, connectTimeoutMs);
        if (tn) {
          resizeTelnet = (c, r) => tn.resize(c, r);
          tn.on('close', () => client.end());
        } else setTimeout(() => client.end(), 100).unref();
        return;
      }
      let conn: Client;
      try {
        conn = await ensureTarget(h);
      } catch (e) {
        h.note('target_connect_failed', { reason: e instanceof TargetError ? e.kind : 'error' });
        fail(e instanceof TargetError ? e.message : 'cannot reach the target');
        setTimeout(() => client.end(), 100).unref();
        return;
      }
      const opened = (err: Error | undefined, ch: ClientChannel) => {
        if (err) {
          h.note('target_channel_refused', { kind, message: err.message });
          return fail(`the target refused the ${kind} request`);
        }
        if (!streams.has(stream)) return void ch.close(); // the client gave up meanwhile
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

    session.on('shell', (acc, rej) => void start('shell', acc, rej));
    session.on('exec', (acc, rej, info) => void start('exec', acc, rej, info.command));
    session.on('subsystem', (acc, rej, info) => (info.name === 'sftp' ? void start('sftp', acc, rej) : rej()));
  });

  const relay = (h: SessionHandle, kind: 'shell' | 'exec' | 'sftp', stream: ServerChannel, ch: ClientChannel, hasPty: boolean) => {
    const sftp = kind === 'sftp' ? new SftpObserver((e) => h.note('sftp', { ...e })) : null;
    ch.on('data', (d: Buffer) => {
      if (sftp) {
        sftp.fromServer.push(d);
        h.traffic(0, d.length);
        return;
      }
      if (hasPty) h.output(d);
      else h.rawOutput(d);
    });
    ch.stderr.on('data', (d: Buffer) => (hasPty ? h.output(d) : h.rawOutput(d)));
    stream.on('data', (d: Buffer) => {
      if (sftp) {
        sftp.fromClient.push(d);
        h.traffic(d.length, 0);
      } else if (hasPty) h.input(d);
      else h.rawInput(d);
    });
    ch.pipe(stream, { end: false });
    ch.stderr.pipe(stream.stderr, { end: false });
    stream.pipe(ch, { end: false });
    stream.on('end', () => ch.end());
    ch.on('exit', (code: number | null, signal?: string, dumped?: boolean, desc?: string) => {
      if (code !== null && code !== undefined) stream.exit(code);
      else if (signal) stream.exit(signal.replace(/^SIG/, ''), !!dumped, desc ?? '');
    });
    ch.on('close', () => {
      sftp?.flush();
      // 'close' follows 'end': all the target's stdout has been handed to `stream`, but
      // part of it may still be queued behind the client's window (and stderr may still
      // be draining). Ending the writable sides lets ssh2 flush them and then send EOF
      // and CLOSE by itself (server channels close on finish); calling close() here
      // would drop whatever is still queued (the tail of a large `ssh host cat file`).
      const endStdout = () => stream.end();
      const endStderr = () => {
        if (stream.stderr.writableFinished) return endStdout();
        stream.stderr.once('finish', endStdout);
        stream.stderr.end();
      };
      if (ch.stderr.readableEnded) endStderr();
      else ch.stderr.once('end', endStderr);
    });
    stream.on('close', () => {
      streams.delete(stream);
      ch.close();
    });
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
        const local = accept();
        local.on('data', (d: Buffer) => h.traffic(d.length, 0));
        remote.on('data', (d: Buffer) => h.traffic(0, d.length));
        local.pipe(remote).pipe(local);
      });
    })();
  });

  // Remote forwarding, agent forwarding, X11 and streamlocal are not offered.
  client.on('request', (_accept, reject) => reject?.());

  client.on('error', (err: Error) => log.debug({ err: { message: err.message }, clientIp: ip }, 'ssh client connection error'));
  client.on('close', () => {
    void target?.then((c) => c.end()).catch(() => undefined);
    const h = handle;
    if (h) void h.end(closing ? 'terminated' : 'client disconnected').catch((err) => log.error({ err: { message: (err as Error).message } }, 'session end failed'));
  });
}

function ptyOptions(p: PseudoTtyInfo) {
  return { rows: p.rows, cols: p.cols, height: p.height, width: p.width, term: p.term, modes: p.modes };
}
