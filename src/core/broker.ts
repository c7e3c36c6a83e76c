// The one narrow interface between protocols and the core. A protocol front door never
// touches the database or the vault: it hands the core a ticket (or an authenticated
// user and a secret) and gets back a live session whose plan holds everything needed
// to reach the target; it then reports what happens through that session.
import type { Credential } from './vault/secrets.js';
import type { LauncherView, Protocol } from './launch/launchers.js';
import type { LaunchDisplay } from './launch/display.js';

// What doors apply the same way (ticket syntax, how a client address is written, the
// launcher's redirection policy, finding tickets in text where none belongs) and the error
// a refused door login carries: doors take them from here, never from the core's internals.
// All of them live in import-free modules, so this file stays a leaf of the core.
export { TICKET_PATTERN, normalizeIp, rdpRedirection, type RedirectionPolicy } from './door-rules.js';
export { mayHoldTicket, redactTickets } from './launch/ticket-text.js';
export { AppError } from './errors.js';
export { escapeFilterValue } from './identity/directory-ldap/names.js';
export { OperatorError, type AccountOperator, type JitAccountSpec, type OperatorCredential, type OperatorFailure, type SudoersDropIn, type TargetKind } from './accounts/operator.js';

export type Door = 'ssh' | 'rdp' | 'web';

export interface RedeemContext {
  /** Where the person's connection comes from (checked against an IP-bound ticket). */
  clientIp: string;
  /** Which front door saw the ticket. */
  door: Door;
  /** When the door already knows the person (browser session), the ticket must be theirs. */
  expectUserId?: string;
  /** The person agreed to the recording at this door (browser consent=1, SSH keyboard-interactive "yes"). */
  consented?: boolean;
  /** When the door verified the person's second factor on this connection (MFA step-up for `user:secret` logins). */
  secondFactorAt?: number;
}

export interface ConnectPlan {
  sessionId: string;
  user: { id: string; username: string };
  protocol: Protocol;
  target: { host: string; port: number };
  credential: Credential;
  launcher: LauncherView;
  /** Display and keyboard settings chosen at launch (RDP: desktop size, DPI, keyboard layout); absent: the client's own. */
  display?: LaunchDisplay;
  /** The id of the API request that launched the ticket (its `reqId` in the log): doors log it with the session. */
  launchRequestId?: string;
}

export type { LaunchDisplay };

/** What a graphical recording's header says besides startedAt (which the core adds). */
export interface GraphicsHeader {
  format: string;
  formatVersion: number;
  [k: string]: unknown;
}

export interface TerminalInfo {
  cols: number;
  rows: number;
  term: string;
}

/** Who sent an input event: the session's owner or a person who joined it (shared control). */
export interface InputAuthor {
  id: string;
  username: string;
}

/**
 * What the owner's door is told about shared control of their session: someone asks to
 * join (the door shows a prompt and answers with answerJoin), or someone joined, left, was
 * kicked, or a request was answered/withdrawn. `text` is a one-line summary for doors that
 * can only write text.
 */
export type JoinEvent =
  | { type: 'request'; requestId: string; user: InputAuthor; text: string }
  | { type: 'joined' | 'left' | 'kicked' | 'declined' | 'withdrawn'; requestId: string; user: InputAuthor; text: string };

/** A registered, recorded session as the protocols see it. */
export interface SessionHandle {
  readonly id: string;
  readonly plan: ConnectPlan;
  /**
   * Starts the recording once the terminal size is known (idempotent). False means the
   * session must not be relayed: it cannot be recorded (fail closed: it has been
   * terminated, its onTerminate callbacks told the person a generic reason, the exact
   * error is logged and audited) or it has already ended. A recording that fails later
   * terminates the session the same way.
   */
  begin(term: TerminalInfo): boolean;
  output(data: Buffer): void;
  /**
   * Terminal input. `by` is who sent it when that is not the owner at this door (shared
   * control): once someone has joined, every input event of the recording and every line of
   * the keystroke log names its sender.
   */
  input(data: Buffer, by?: InputAuthor): void;
  /** Non-terminal input (stdin of an exec): counted, never recorded as keystrokes. */
  rawInput(data: Buffer): void;
  /** Bytes that are counted but not recorded (SFTP, port forwarding: their events are noted instead). */
  traffic(bytesIn: number, bytesOut: number): void;
  /** Non-terminal output (exec without a pty): recorded as text when printable, else as a marker. */
  rawOutput(data: Buffer): void;
  /**
   * The recording has fallen behind what was output (its writer thread's queue is past half
   * its bound): the door should stop reading the target's output until
   * whenRecordingDrained calls back, rather than outrun the recording until it fails.
   */
  recordingBacklogged(): boolean;
  whenRecordingDrained(cb: () => void): void;
  resize(cols: number, rows: number): void;
  /**
   * Graphical sessions: starts a ghrec recording (when the launcher records) with this
   * header; the format (e.g. "rdp") defines the record types. Idempotent. False as for begin().
   */
  beginGraphics(header: GraphicsHeader): boolean;
  /** Appends one record of the graphical recording (no-op when not recording). */
  graphics(type: number, payload: Uint8Array): void;
  /**
   * Text the person typed, decoded by the protocol (keystroke log); kept only when the
   * launcher records keystrokes. `by`: who typed it when that is not the owner at this door
   * (shared control of a graphical session, whose door decodes the joiner's keys itself).
   */
  keystrokes(text: string, by?: InputAuthor): void;
  note(kind: string, details: Record<string, unknown>): void;
  /** Trust-on-first-use pinning of the target's host key, per secret. */
  verifyHostKey(keyType: string, fingerprint: string): Promise<'pinned' | 'match' | 'mismatch'>;
  /** Called once when an auditor, a timer or shutdown ends the session; the reason is for the person. */
  onTerminate(cb: (reason: string) => void): void;
  /**
   * A one-line message for the person while the session goes on (their approved access
   * ends in five minutes): terminal doors write it to the terminal; a door that cannot show
   * text (RDP) still subscribes and drops it with a note, since notices no door listened for
   * are held until the session ends.
   */
  onNotice(cb: (text: string) => void): void;
  end(reason: string): Promise<void>;
  /**
   * Shared control: the door takes the input of people who joined this session to the
   * target. The core has recorded and attributed it already (as `input(data, by)`); the
   * door only writes it. A session whose door never registered this cannot be joined
   * (requests and invites are refused with `not_shareable`). The callback answers a promise
   * when the target took the bytes but is full (it reads slower than joiners type or paste):
   * the joiner is not read until it resolves (on the target's drain or close).
   */
  onJoinInput(cb: (data: Buffer, by: InputAuthor) => Promise<void> | void): void;
  /** Shared control: what the owner is told (requests to answer, joins, leaves, kicks). */
  onJoin(cb: (e: JoinEvent) => void): void;
  /** The owner's answer to a join request, given at the door (the portal's route is the other way). False when the request is no longer pending. Audited. */
  answerJoin(requestId: string, accept: boolean): Promise<boolean>;
}

export interface SessionBroker {
  /** Redeems a single-use ticket atomically. Rejects with TicketRefused; the exact reason goes to log and audit. */
  redeem(ticket: string, ctx: RedeemContext): Promise<SessionHandle>;
  /** For a Gatehouse user already authenticated by a front door (e.g. `ssh user:secret@gatehouse`). */
  open(userId: string, secretRef: string, launcherRef: string | null, ctx: RedeemContext): Promise<SessionHandle>;
  /** Gatehouse user login at a door: password and, when enrolled, a TOTP code. Throws AppError (code totp_required, invalid_credentials …). */
  passwordLogin(username: string, password: string, totp: string | undefined, clientIp: string): Promise<{ userId: string }>;
  /** `user:secret` logins: the consent to recording the secret's access policy requires, or null. */
  consentNeeded(userId: string, secretRef: string, clientIp: string): Promise<string | null>;
  /** `user:secret` logins: the person declined that consent (audited). */
  consentDeclined(userId: string, secretRef: string, ctx: RedeemContext): Promise<void>;
  /** MFA step-up: whether the access policy of this secret asks this user, from this address, for a second factor. */
  stepUpNeeded(userId: string, secretRef: string, clientIp: string): Promise<boolean>;
  /** A second-factor code asked by a door after a key login (rate-limited, audited as `auth.step_up`). */
  verifySecondFactor(userId: string, code: string, clientIp: string): Promise<boolean>;
  /** Whether this public key (SSH wire-format blob) is registered to the user. */
  keyAllowed(username: string, keyBlob: Buffer): Promise<{ userId: string } | null>;
  /**
   * Text a client sent where no ticket belongs (an RDP cookie, an SSH user name, a URL) that
   * may hold one. A ticket found in it has been exposed (client history, logs of whatever sat
   * in between): it is voided, and `ticket.refused` (reason `misplaced`) audited and logged
   * without the ticket. Resolves to the number of issued tickets found (0: nothing to refuse).
   */
  voidMisplacedTickets(presented: string, ctx: RedeemContext, where: string): Promise<number>;
  /**
   * A door refused a connection before any ticket could be redeemed (RDP: no routing token,
   * or no TLS offered): logged and audited as `ticket.refused`. `ticket`, when the client
   * presented one, is identified in the audit event but stays usable.
   */
  doorRefused(reason: 'missing' | 'tls_required', ctx: RedeemContext, details?: Record<string, unknown>, ticket?: string): Promise<void>;
}

export type RefusalReason = 'unknown' | 'used' | 'expired' | 'ip_mismatch' | 'permission_withdrawn' | 'launcher_inactive' | 'target_missing' | 'misplaced' | 'missing' | 'tls_required' | 'access_policy' | 'checked_out' | 'consent_required' | 'draining';

export class TicketRefused extends Error {
  constructor(readonly reason: RefusalReason, readonly detail?: string) {
    super('access refused');
  }
}
