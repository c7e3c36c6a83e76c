// Telnet connector: connects to a target, negotiates a terminal, types the vaulted
// credential at the target's login prompts, and only then hands over a session whose
// output the person sees. Nothing the target printed before the password line, and
// never the credential, reaches the person. This file owns the socket and the timeouts;
// the protocol logic (negotiation, login dialogue, encoding) is socket-free in ../telnet/engine.ts.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { TelnetEngine } from '../telnet/engine.js';

export interface TelnetLoginOptions {
  host: string;
  port: number;
  username: string;
  password: string;
  /** Sent via TTYPE (RFC 1091). Default 'xterm-256color'. */
  term?: string;
  /** Sent via NAWS (RFC 1073). */
  cols: number;
  rows: number;
  /** Default /(login|username)\s*:\s*$/i */
  loginPrompt?: RegExp;
  /** Default /password\s*:\s*$/i */
  passwordPrompt?: RegExp;
  /** Default /(login incorrect|incorrect|authentication fail|access denied|permission denied)/i */
  failurePattern?: RegExp;
  /** Default 10000. */
  connectTimeoutMs?: number;
  /** From connect to the login verdict. Default 20000. */
  loginTimeoutMs?: number;
  /** How long the login waits for the target to answer our BINARY offer. Default 3000. */
  binaryWaitMs?: number;
}

/** binary_refused: the target refused (or ignored) BINARY and the credential is not 7-bit, so it was not sent. */
export type TelnetLoginFailure = 'connect' | 'timeout' | 'rejected' | 'closed' | 'binary_refused';

export class TelnetLoginError extends Error {
  constructor(
    readonly reason: TelnetLoginFailure,
    message: string,
  ) {
    super(message);
    this.name = 'TelnetLoginError';
  }
}

/** events: 'data' (Buffer), 'close' (reason?: string), 'drain' (after a write() that returned false) */
export interface TelnetSession extends EventEmitter {
  /** What the target printed after a successful login (MOTD, prompt); never the credential. */
  initialOutput: Buffer;
  /**
   * The person's keystrokes. False when they wait in the socket past its high-water mark (the
   * target reads slower than the person types or pastes): write no more until 'drain'.
   */
  write(data: Buffer): boolean;
  /** Sends NAWS if the target agreed to it. */
  resize(cols: number, rows: number): void;
  close(): void;
  /** Stops reading from the target (its output waits in the socket and the kernel) until resume(). */
  pause(): void;
  resume(): void;
}

export const DEFAULT_TERM = 'xterm-256color';
export const DEFAULT_LOGIN_PROMPT = /(login|username)\s*:\s*$/i;
export const DEFAULT_PASSWORD_PROMPT = /password\s*:\s*$/i;
export const DEFAULT_FAILURE_PATTERN = /(login incorrect|incorrect|authentication fail|access denied|permission denied)/i;

export function openTelnet(opts: TelnetLoginOptions): Promise<TelnetSession> {
  return new Promise((resolve, reject) => {
    let conn: TelnetConnection;
    try {
      conn = new TelnetConnection(opts, resolve, reject);
    } catch (e) {
      reject(e);
      return;
    }
    conn.start();
  });
}

type Phase = 'connecting' | 'login' | 'open' | 'closed';

class TelnetConnection extends EventEmitter implements TelnetSession {
  initialOutput: Buffer = Buffer.alloc(0);

  private phase: Phase = 'connecting';
  private readonly socket: net.Socket;
  private readonly engine: TelnetEngine;
  private timer: NodeJS.Timeout | undefined;
  private closeReason: string | undefined;
  private waitingForListener = false;
  private paused = false;

  constructor(
    private readonly opts: TelnetLoginOptions,
    private readonly resolve: (s: TelnetSession) => void,
    private readonly reject: (e: Error) => void,
  ) {
    super();
    if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) throw new TelnetLoginError('connect', `invalid port ${opts.port}`);
    this.engine = new TelnetEngine(
      {
        username: opts.username,
        password: opts.password,
        term: opts.term ?? DEFAULT_TERM,
        cols: opts.cols,
        rows: opts.rows,
        loginPrompt: opts.loginPrompt ?? DEFAULT_LOGIN_PROMPT,
        passwordPrompt: opts.passwordPrompt ?? DEFAULT_PASSWORD_PROMPT,
        failurePattern: opts.failurePattern ?? DEFAULT_FAILURE_PATTERN,
        binaryWaitMs: opts.binaryWaitMs,
      },
      {
        send: (bytes) => this.send(bytes),
        loggedIn: (initialOutput) => this.loggedIn(initialOutput),
        failed: (reason, message) => this.fail(reason, message),
        data: (bytes) => this.emit('data', bytes),
      },
    );
    this.socket = new net.Socket();
  }

  start(): void {
    const { socket, opts } = this;
    this.timer = setTimeout(() => this.fail('connect', `no connection to ${opts.host}:${opts.port} within ${opts.connectTimeoutMs ?? 10000} ms`), opts.connectTimeoutMs ?? 10000);
    socket.on('connect', () => this.connected());
    socket.on('data', (chunk: Buffer) => this.engine.receive(chunk));
    socket.on('error', (e) => {
      if (this.phase === 'connecting') this.fail('connect', `cannot connect to ${opts.host}:${opts.port}: ${e.message}`);
      else if (this.phase === 'login') this.fail('closed', `connection to the target failed during login: ${e.message}`);
      else this.closeReason ??= `connection error: ${e.message}`;
    });
    socket.on('close', () => this.socketClosed());
    // For the person's side, which stops reading their input while write() says so.
    socket.on('drain', () => this.emit('drain'));
    socket.connect({ host: opts.host, port: opts.port });
  }

  write(data: Buffer): boolean {
    return this.phase === 'open' ? this.engine.write(data) : true;
  }

  resize(cols: number, rows: number): void {
    this.engine.resize(cols, rows);
  }

  pause(): void {
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    this.paused = false;
    if (!this.waitingForListener) this.socket.resume();
  }

  close(): void {
    if (this.phase === 'closed') return;
    this.closeReason ??= 'closed by gatehouse';
    this.socket.end();
    // A target that never finishes the close handshake must not hold the socket open.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  private connected(): void {
    clearTimeout(this.timer);
    this.phase = 'login';
    const ms = this.opts.loginTimeoutMs ?? 20000;
    this.timer = setTimeout(() => this.fail('timeout', `the target did not complete the login within ${ms} ms`), ms);
    this.socket.setNoDelay(true);
    this.socket.setKeepAlive(true, 30000);
    this.engine.start();
  }

  private loggedIn(initialOutput: Buffer): void {
    if (this.phase !== 'login') return;
    clearTimeout(this.timer);
    this.initialOutput = initialOutput;
    this.phase = 'open';
    // Output that arrives before the caller listens for 'data' waits in the socket
    // (and the kernel), not in memory here, and is not lost.
    if (this.listenerCount('data') === 0) {
      this.socket.pause();
      this.waitingForListener = true;
      this.on('newListener', this.resumeOnListener);
    }
    this.resolve(this);
  }

  private readonly resumeOnListener = (event: string | symbol): void => {
    if (event !== 'data' || !this.waitingForListener) return;
    this.waitingForListener = false;
    this.off('newListener', this.resumeOnListener);
    // newListener fires before the listener is added; resume once it is.
    process.nextTick(() => {
      if (!this.paused) this.socket.resume();
    });
  };

  private fail(reason: TelnetLoginError['reason'], message: string): void {
    if (this.phase !== 'connecting' && this.phase !== 'login') return;
    this.phase = 'closed';
    clearTimeout(this.timer);
    this.engine.dispose();
    this.socket.destroy();
    this.reject(new TelnetLoginError(reason, message));
  }

  private socketClosed(): void {
    if (this.phase === 'connecting') return this.fail('connect', `connection to ${this.opts.host}:${this.opts.port} closed before it was established`);
    if (this.phase === 'login') return this.fail('closed', 'the target closed the connection during login');
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    clearTimeout(this.timer);
    this.engine.dispose();
    this.emit('close', this.closeReason ?? 'the target closed the connection');
  }

  /** socket.write's verdict goes back to write()'s caller: false means the bytes wait here in memory. */
  private send(bytes: Buffer): boolean {
    if (this.phase === 'closed' || this.socket.destroyed || !this.socket.writable) return true;
    return this.socket.write(bytes);
  }
}
