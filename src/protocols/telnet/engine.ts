// The Telnet client's protocol logic without a socket: bytes from the target go in
// (receive), bytes for the target come out (send). It negotiates options, answers
// TTYPE and NAWS, runs the login dialogue, types the credential in the form the
// negotiated mode allows, and after the login relays terminal data both ways.
// The socket, connect and overall login timeouts live in client.ts.
import { Option, TTYPE_SEND } from './codes.js';
import { encodeKeystrokes, encodeLine, nawsMessage, ttypeIsMessage } from './encode.js';
import { LoginDialogue, type LoginField } from './login.js';
import { OptionNegotiator, type OptionSide } from './negotiation.js';
import { TelnetParser } from './parser.js';

export interface TelnetEngineOptions {
  username: string;
  password: string;
  /** Sent via TTYPE (RFC 1091). */
  term: string;
  /** Sent via NAWS (RFC 1073). */
  cols: number;
  rows: number;
  loginPrompt: RegExp;
  passwordPrompt: RegExp;
  failurePattern: RegExp;
  /** Login dialogue timing (see LoginDialogueOptions). */
  settleMs?: number;
  quietMs?: number;
  /**
   * How long a line to type waits for the target to answer our BINARY offer before it
   * is typed as NVT text (or refused, if it is not 7-bit). Default 3000.
   */
  binaryWaitMs?: number;
}

export type TelnetEngineFailure = 'rejected' | 'binary_refused';

export interface TelnetEngineIo {
  /**
   * Bytes for the target, in order. False when they had to wait (the transport is past its
   * high-water mark): the caller of write() should hold further keystrokes until it drains.
   */
  send(bytes: Buffer): boolean;
  /** The login worked; what the target printed after the password line (never the credential). */
  loggedIn(initialOutput: Buffer): void;
  /** The login failed; nothing more is sent. The message never holds the credential. */
  failed(reason: TelnetEngineFailure, message: string): void;
  /** Terminal output after the login. */
  data(bytes: Buffer): void;
}

/**
 * We perform TTYPE, NAWS and BINARY; the target may echo, suppress go-ahead and send in
 * BINARY. All else is refused.
 */
export const TELNET_POLICY = {
  local: new Set<number>([Option.TTYPE, Option.NAWS, Option.BINARY]),
  remote: new Set<number>([Option.ECHO, Option.SGA, Option.BINARY]),
};

type Phase = 'new' | 'login' | 'open' | 'done';

export class TelnetEngine {
  private phase: Phase = 'new';
  private readonly parser = new TelnetParser({ maxSubnegotiation: 4096 });
  private readonly negotiator: OptionNegotiator;
  private readonly dialogue: LoginDialogue;
  private cols: number;
  private rows: number;
  /** A line the dialogue asked to type while our BINARY offer was unanswered. */
  private queued: { text: string; field: LoginField } | undefined;
  private binaryTimer: NodeJS.Timeout | undefined;
  private binaryWaitOver = false;

  constructor(
    private readonly opts: TelnetEngineOptions,
    private readonly io: TelnetEngineIo,
  ) {
    this.cols = opts.cols;
    this.rows = opts.rows;
    this.negotiator = new OptionNegotiator(TELNET_POLICY, (b) => this.send(b), (side, option, on) => this.optionChanged(side, option, on));
    this.dialogue = new LoginDialogue(
      {
        username: opts.username,
        password: opts.password,
        loginPrompt: opts.loginPrompt,
        passwordPrompt: opts.passwordPrompt,
        failurePattern: opts.failurePattern,
        settleMs: opts.settleMs,
        quietMs: opts.quietMs,
      },
      (text, field) => this.typeLine(text, field),
      (outcome) => (outcome.ok ? this.loggedIn(outcome.initialOutput) : this.fail('rejected', outcome.message)),
    );
  }

  /** Call once the connection is up: offers what we want. */
  start(): void {
    if (this.phase !== 'new') return;
    this.phase = 'login';
    // The Q method absorbs the target's own requests for the same options.
    this.negotiator.request('local', Option.TTYPE, true);
    this.negotiator.request('local', Option.NAWS, true);
    this.negotiator.request('remote', Option.SGA, true);
    // BINARY both ways (RFC 856): without it a target may strip the eighth bit of what
    // we type (inetutils telnetd puts its pty in ISTRIP mode), and a UTF-8 password
    // arrives changed. The target decides; a refusal is handled when a line is typed.
    this.negotiator.request('local', Option.BINARY, true);
    this.negotiator.request('remote', Option.BINARY, true);
  }

  /** Bytes from the target, in order. */
  receive(chunk: Buffer): void {
    for (const ev of this.parser.push(chunk)) {
      if (this.phase === 'done') return;
      switch (ev.type) {
        case 'data':
          if (this.phase === 'login') this.dialogue.feed(ev.data);
          else if (this.phase === 'open') this.io.data(ev.data);
          break;
        case 'negotiate':
          this.negotiator.receive(ev.verb, ev.option);
          if (ev.option === Option.BINARY) this.typeQueued();
          break;
        case 'subnegotiation':
          if (ev.option === Option.TTYPE && ev.data[0] === TTYPE_SEND && this.negotiator.isEnabled('local', Option.TTYPE)) {
            this.send(ttypeIsMessage(this.opts.term));
          }
          break;
        case 'command':
          break; // GA, NOP, DM, AYT...: nothing to do for an interactive byte stream
      }
    }
  }

  /**
   * The person's keystrokes (after the login only). Returns the transport's verdict (false:
   * wait for it to drain before writing more), so a paste into a target that reads slowly
   * is held by whoever feeds this rather than queued without bound; true when nothing was sent.
   */
  write(data: Buffer): boolean {
    if (this.phase !== 'open' || data.length === 0) return true;
    return this.send(encodeKeystrokes(data, this.binary('local')));
  }

  resize(cols: number, rows: number): void {
    this.cols = cols;
    this.rows = rows;
    if (this.phase === 'open' && this.negotiator.isEnabled('local', Option.NAWS)) this.send(nawsMessage(cols, rows));
  }

  /** Whether BINARY is on: 'local' for what we send, 'remote' for what the target sends. */
  binary(side: OptionSide): boolean {
    return this.negotiator.isEnabled(side, Option.BINARY);
  }

  /** Stops the timers; nothing is sent or reported afterwards. */
  dispose(): void {
    this.phase = 'done';
    this.queued = undefined;
    clearTimeout(this.binaryTimer);
    this.dialogue.dispose();
  }

  private optionChanged(side: OptionSide, option: number, on: boolean): void {
    if (side === 'local' && option === Option.NAWS && on) this.send(nawsMessage(this.cols, this.rows));
    // CR NUL is NVT padding; in BINARY a NUL after CR is data.
    if (side === 'remote' && option === Option.BINARY) this.parser.stripCrNul = !on;
  }

  private typeLine(text: string, field: LoginField): void {
    this.queued = { text, field };
    this.typeQueued();
  }

  /** Types the queued line once the mode it must be encoded for is known. */
  private typeQueued(): void {
    const line = this.queued;
    if (!line || this.phase !== 'login') return;
    if (this.negotiator.isPending('local', Option.BINARY) && !this.binaryWaitOver) {
      // A target that never answers must not hold the login: after the wait the line
      // goes out as NVT text, which is safe for 7-bit text only.
      this.binaryTimer ??= setTimeout(() => {
        this.binaryWaitOver = true;
        this.typeQueued();
      }, this.opts.binaryWaitMs ?? 3000);
      return;
    }
    this.queued = undefined;
    clearTimeout(this.binaryTimer);
    const bytes = encodeLine(line.text, this.binary('local'));
    if (!bytes) {
      // Sending it anyway would type a changed credential, and UTF-8 bytes stripped to
      // 7 bits can be control characters (Ü: C3 9C becomes C ^\, which quits login).
      const what = line.field === 'password' ? 'password' : 'user name';
      this.fail('binary_refused', `the Telnet target does not accept 8-bit input (Telnet BINARY refused); the vaulted ${what} has non-ASCII characters`);
      return;
    }
    this.send(bytes);
  }

  private loggedIn(initialOutput: Buffer): void {
    if (this.phase !== 'login') return;
    this.phase = 'open';
    this.io.loggedIn(initialOutput);
  }

  private fail(reason: TelnetEngineFailure, message: string): void {
    if (this.phase === 'done') return;
    this.dispose();
    this.io.failed(reason, message);
  }

  private send(bytes: Buffer): boolean {
    if (this.phase === 'done') return true;
    return this.io.send(bytes);
  }
}
