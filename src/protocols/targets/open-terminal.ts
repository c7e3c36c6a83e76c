// Opens an interactive terminal on the target of a live session, whatever protocol it
// speaks, for doors that carry a plain terminal (the browser terminal, and the SSH door
// toward a Telnet target). The SSH door relays channels to SSH targets itself.
import { EventEmitter } from 'node:events';
import type { SessionHandle, TerminalInfo } from '../../core/broker.js';
import { connectTarget, TargetError, targetEndReason } from './ssh.js';
import { openTelnet, TelnetLoginError } from './telnet.js';
import { TARGET_REFUSED_CREDENTIAL, targetConnectFailed } from '../end-reasons.js';
import { holds, type TerminalTarget } from './terminal.js';

export class TerminalOpenError extends Error {
  constructor(
    message: string,
    /** For the session record: what ended the session before it began. */
    readonly endReason: string,
  ) {
    super(message);
  }
}

const rx = (src: unknown): RegExp | undefined => (typeof src === 'string' && src ? new RegExp(src, 'i') : undefined);

export async function openTerminal(h: SessionHandle, term: TerminalInfo, connectTimeoutMs = 15_000): Promise<TerminalTarget> {
  const { plan } = h;
  if (plan.protocol === 'telnet') {
    const f = plan.credential.fields;
    const o = plan.launcher.options;
    try {
      const tn = await openTelnet({
        host: plan.target.host,
        port: plan.target.port,
        username: plan.credential.username ?? '',
        password: typeof f.password === 'string' ? f.password : '',
        term: term.term,
        cols: term.cols,
        rows: term.rows,
        loginPrompt: rx(o.telnetLoginPrompt),
        passwordPrompt: rx(o.telnetPasswordPrompt),
        failurePattern: rx(o.telnetFailurePattern),
        connectTimeoutMs,
      });
      const t = new EventEmitter() as TerminalTarget;
      const initial = tn.initialOutput;
      tn.on('data', (d: Buffer) => t.emit('data', d));
      tn.on('close', (reason?: string) => t.emit('close', reason ?? 'the target closed the connection'));
      // The person's input: the socket's verdict and its 'drain' (see TerminalTarget.write).
      tn.on('drain', () => t.emit('drain'));
      t.write = (d) => tn.write(d);
      t.resize = (c, r) => tn.resize(c, r);
      t.close = () => tn.close();
      Object.assign(t, holds(() => tn.pause(), () => tn.resume()));
      if (initial.length) setImmediate(() => t.emit('data', initial));
      return t;
    } catch (e) {
      const reason = e instanceof TelnetLoginError ? e.reason : 'connect';
      h.note('target_login_failed', { protocol: 'telnet', reason });
      throw new TerminalOpenError(
        reason === 'rejected'
          ? 'the Telnet target rejected the vaulted credential (login failed)'
          : reason === 'timeout'
            ? 'the Telnet target did not show a login and shell prompt in time'
            : reason === 'binary_refused'
              ? (e as TelnetLoginError).message // names the field, never its value
              : 'cannot reach the Telnet target',
        reason === 'rejected' ? TARGET_REFUSED_CREDENTIAL : reason === 'binary_refused' ? (e as TelnetLoginError).message : targetConnectFailed(reason),
      );
    }
  }
  if (plan.protocol !== 'ssh') throw new TerminalOpenError(`${plan.protocol} targets cannot be opened as a terminal`, `${plan.protocol} targets cannot be opened as a terminal`);
  let conn;
  try {
    conn = await connectTarget(h, { connectTimeoutMs, keepaliveMs: 15_000 });
  } catch (e) {
    h.note('target_connect_failed', { reason: e instanceof TargetError ? e.kind : 'error' });
    throw new TerminalOpenError(e instanceof TargetError ? e.message : 'cannot reach the target', targetEndReason(e));
  }
  const ch = await new Promise<import('ssh2').ClientChannel>((resolve, reject) =>
    conn.shell({ term: term.term, cols: term.cols, rows: term.rows, width: 0, height: 0 }, (err, stream) => (err ? reject(new TerminalOpenError('the target refused a shell', 'the target refused a shell')) : resolve(stream))),
  ).catch((e) => {
    conn.end();
    throw e;
  });
  const t = new EventEmitter() as TerminalTarget;
  ch.on('data', (d: Buffer) => t.emit('data', d));
  ch.stderr.on('data', (d: Buffer) => t.emit('data', d));
  ch.on('close', () => {
    conn.end();
    t.emit('close', 'the remote shell ended');
  });
  conn.on('close', () => t.emit('close', 'the target closed the connection'));
  conn.on('error', () => undefined);
  // The person's input: false once the channel holds more than its high-water mark (the target's
  // window is closed: it reads slower than the person pastes), then 'drain' once it was sent.
  // A channel that can take no more (ended, closing) waits for nothing: true, as nothing is queued.
  ch.on('drain', () => t.emit('drain'));
  t.write = (d) => (ch.writable && !ch.writableEnded && !ch.destroyed ? ch.write(d) : true);
  t.resize = (c, r) => ch.setWindow(r, c, 0, 0);
  t.close = () => {
    ch.close();
    conn.end();
  };
  // Both streams: a paused channel grants the target no more window, so it stops sending.
  const pause = () => {
    ch.pause();
    ch.stderr.pause();
  };
  const resume = () => {
    ch.resume();
    ch.stderr.resume();
  };
  Object.assign(t, holds(pause, resume));
  return t;
}

