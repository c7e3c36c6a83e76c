// The scripted login dialogue: watch the target's output for the login and password
// prompts, type the credential, then decide whether the login worked. Nothing here
// touches the network; the client feeds terminal data in and sends what it is told.

export interface LoginDialogueOptions {
  username: string;
  password: string;
  loginPrompt: RegExp;
  passwordPrompt: RegExp;
  failurePattern: RegExp;
  /** A prompt must stay at the end of the output this long before it counts, so a line split across TCP chunks is not mistaken for one. */
  settleMs?: number;
  /** Success after this much silence following visible, non-failure output with no shell prompt. */
  quietMs?: number;
}

/** Which part of the credential a typed line is. */
export type LoginField = 'username' | 'password';

export type LoginOutcome = { ok: true; initialOutput: Buffer } | { ok: false; message: string };

/** A line that ends like a shell prompt: `$`, `#`, `>` or `%`, maybe followed by spaces. */
const SHELL_PROMPT = /[$#>%]\s*$/;
/** Only the tail of the output is matched against prompts; it bounds the work per chunk. */
const MATCH_WINDOW = 8192;
/** Output after the password line that is kept for initialOutput. */
const MAX_INITIAL_OUTPUT = 256 * 1024;

type Phase = 'login' | 'password' | 'verdict' | 'done';

export class LoginDialogue {
  private phase: Phase = 'login';
  /** Output since the last thing we typed (bounded to the tail). */
  private seen: Buffer[] = [];
  private seenBytes = 0;
  /** Output since the password line, for initialOutput. */
  private after: Buffer[] = [];
  private afterBytes = 0;
  private settleTimer: NodeJS.Timeout | undefined;
  private quietTimer: NodeJS.Timeout | undefined;
  private readonly settleMs: number;
  private readonly quietMs: number;

  constructor(
    private readonly opts: LoginDialogueOptions,
    /** Types a line: the caller adds the line end, which depends on the negotiated mode. */
    private readonly type: (text: string, field: LoginField) => void,
    private readonly done: (outcome: LoginOutcome) => void,
  ) {
    this.settleMs = opts.settleMs ?? 200;
    this.quietMs = opts.quietMs ?? 1500;
  }

  /** Terminal data from the target (Telnet commands already removed). */
  feed(data: Buffer): void {
    if (this.phase === 'done' || data.length === 0) return;
    this.remember(data);
    if (this.phase === 'verdict') {
      this.after.push(data);
      this.afterBytes += data.length;
      while (this.afterBytes > MAX_INITIAL_OUTPUT && this.after.length > 1) this.afterBytes -= this.after.shift()!.length;
    }
    // A failure message is conclusive at once; prompts wait to settle.
    if (this.phase !== 'login' && this.text().search(this.opts.failurePattern) >= 0) {
      this.finish({ ok: false, message: 'the target rejected the credential' });
      return;
    }
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => this.evaluate(), this.settleMs);
    if (this.phase === 'verdict') {
      clearTimeout(this.quietTimer);
      this.quietTimer = setTimeout(() => this.quiet(), this.quietMs);
    }
  }

  /** Stops the timers; no outcome is reported afterwards. */
  dispose(): void {
    this.phase = 'done';
    clearTimeout(this.settleTimer);
    clearTimeout(this.quietTimer);
  }

  private evaluate(): void {
    const text = this.text();
    const { loginPrompt, passwordPrompt } = this.opts;
    switch (this.phase) {
      case 'login':
        // Some targets (network gear) ask only for a password.
        if (text.search(passwordPrompt) >= 0) this.sendPassword();
        else if (text.search(loginPrompt) >= 0) this.sendUsername();
        return;
      case 'password':
        if (text.search(passwordPrompt) >= 0) this.sendPassword();
        else if (text.search(loginPrompt) >= 0) this.finish({ ok: false, message: 'the target asked for the login again after the username' });
        return;
      case 'verdict':
        if (text.search(loginPrompt) >= 0 || text.search(passwordPrompt) >= 0) {
          this.finish({ ok: false, message: 'the target asked for the credential again' });
        } else if (SHELL_PROMPT.test(lastLine(text))) {
          this.succeed();
        }
        return;
      case 'done':
        return;
    }
  }

  private quiet(): void {
    if (this.phase !== 'verdict') return;
    // inetutils login says "Login incorrect" only after a ~3 s delay, and until then
    // the target has only ended the password line: silence alone proves nothing.
    const text = this.text();
    if (text.trim() === '') return;
    if (text.search(this.opts.loginPrompt) >= 0 || text.search(this.opts.passwordPrompt) >= 0) return;
    this.succeed();
  }

  private sendUsername(): void {
    this.phase = 'password';
    this.reset();
    this.type(this.opts.username, 'username');
  }

  private sendPassword(): void {
    this.phase = 'verdict';
    this.reset();
    this.type(this.opts.password, 'password');
  }

  private succeed(): void {
    let out = Buffer.concat(this.after);
    // The first line break ends the password line itself.
    if (out[0] === 0x0d && out[1] === 0x0a) out = out.subarray(2);
    else if (out[0] === 0x0a || out[0] === 0x0d) out = out.subarray(1);
    this.finish({ ok: true, initialOutput: redact(out, this.opts.password) });
  }

  private finish(outcome: LoginOutcome): void {
    this.dispose();
    this.after = [];
    this.seen = [];
    this.done(outcome);
  }

  private reset(): void {
    this.seen = [];
    this.seenBytes = 0;
    clearTimeout(this.settleTimer);
    clearTimeout(this.quietTimer);
  }

  private remember(data: Buffer): void {
    this.seen.push(data);
    this.seenBytes += data.length;
    while (this.seen.length > 1 && this.seenBytes - this.seen[0]!.length >= MATCH_WINDOW) this.seenBytes -= this.seen.shift()!.length;
  }

  /** The recent output as text without escape sequences or control characters. */
  private text(): string {
    const all = Buffer.concat(this.seen);
    return plainText(all.subarray(Math.max(0, all.length - MATCH_WINDOW)).toString('utf8'));
  }
}

export function plainText(s: string): string {
  return s
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, '') // OSC (window titles)
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '') // CSI (colours, cursor, modes)
    .replace(/\x1b[@-_]/g, '') // other two-byte escapes
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '');
}

/** The last line, or '' when the output ends with a line break. */
function lastLine(text: string): string {
  const lines = text.split(/\r\n|\r|\n/);
  return lines[lines.length - 1] ?? '';
}

/** Overwrites every occurrence of the secret, should a target ever echo it. */
export function redact(data: Buffer, secret: string): Buffer {
  const needle = Buffer.from(secret, 'utf8');
  if (needle.length === 0 || data.indexOf(needle) < 0) return data;
  const out = Buffer.from(data);
  for (let i = out.indexOf(needle); i >= 0; i = out.indexOf(needle, i + needle.length)) out.fill(0x2a, i, i + needle.length);
  return out;
}
