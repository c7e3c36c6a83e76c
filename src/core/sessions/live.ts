// One live session: recording, keystroke index, live-view subscribers, timers and the
// terminate switch. Owned by the Sessions service; protocols see it as a SessionHandle.
import type { ConnectPlan, GraphicsHeader, InputAuthor, JoinEvent, SessionHandle, TerminalInfo } from '../broker.js';
import { CastWriter } from './asciicast.js';
import { GHREC_FILE_EXTENSION } from './ghrec.js';
import { ghrecLine, GhrecWriter } from './ghrec-writer.js';
import type { AppenderOptions } from './appender.js';
import type { RecordingStorage } from './recording-storage.js';
import { TypedLines } from './typed-text.js';

export interface LiveHooks {
  /** Where recordings go (recording-storage.ts). */
  storage: RecordingStorage;
  /** `by`: who typed the line, once the session is shared (null: the owner, before anyone joined). */
  onTextLines(sessionId: string, lines: { at: number; kind: 'command' | 'event'; text: string; by?: string | null }[]): void;
  onEnd(s: LiveSession, reason: string): Promise<void>;
  /** The recording could not be created ('open') or written ('write'); the session fails closed. */
  onRecordingFailed(s: LiveSession, stage: 'open' | 'write', err: Error): void;
  verifyHostKey(s: LiveSession, keyType: string, fingerprint: string): Promise<'pinned' | 'match' | 'mismatch'>;
  /** The owner answered a join request at the door (shared control, sharing.ts). */
  answerJoin(s: LiveSession, requestId: string, accept: boolean): Promise<boolean>;
  /** A spooled graphical recording is about to let a part go from this node (its keyframe follower catches up). */
  beforeRecordingRelease?(s: LiveSession): Promise<void>;
}

/** A person who joined the session (shared control): what they are sent. */
export interface JoinedView {
  output(data: Buffer): void;
  resize(cols: number, rows: number): void;
}

/** What the person is told when their session cannot be recorded (the exact error goes to the log and the audit trail). */
export const RECORDING_REFUSED = 'session refused: it cannot be recorded right now';
export const RECORDING_LOST = 'session ended: its recording failed';

/** Live-view observers get asciicast lines, or for graphical sessions each ghrec record in base64; '' at the end. */
export type Subscriber = (line: string) => void;

export class LiveSession implements SessionHandle {
  readonly id: string;
  readonly startedAt = Date.now();
  /**
   * The same moment on the monotonic clock. Recordings count their times from here, so the
   * times of notes made before the recording began and of everything after share one origin.
   */
  private readonly startedPerf = performance.now();
  cast: CastWriter | null = null;
  /** The recording of a graphical session (RDP). */
  ghrec: GhrecWriter | null = null;
  bytesIn = 0;
  bytesOut = 0;
  /** Told of bytes counted after the session left `live` (the metrics took its sums then: countLate). */
  private late: ((bytesIn: number, bytesOut: number) => void) | null = null;
  recordingPath: string | null = null;
  /** The typed-text index's line buffers, one per person typing ('' = the owner at the door). */
  private typed = new Map<string, TypedLines>([['', new TypedLines()]]);
  /** Shared control: the door's way to the target for joiners' input, what the owner is told, who is watching. */
  private readonly typedNames = new Map<string, string>();
  private readonly joinInputs: ((data: Buffer, by: InputAuthor) => Promise<void> | void)[] = [];
  private readonly joinListeners: ((e: JoinEvent) => void)[] = [];
  private readonly joined = new Set<JoinedView>();
  /** Someone has joined: from then on every input event and typed line names its sender. */
  shared = false;
  private subscribers = new Set<Subscriber>();
  private terminators: ((reason: string) => void)[] = [];
  private noticeListeners: ((text: string) => void)[] = [];
  /** Notices given while no door listened yet. */
  private readonly heldNotices: string[] = [];
  private idleTimer: NodeJS.Timeout | null = null;
  private maxTimer: NodeJS.Timeout | null = null;
  private ended = false;
  private binaryPending = 0;
  terminated: string | null = null;
  /** The errno code (or message) of the failure that stopped the recording. */
  recordingError: string | null = null;
  size: TerminalInfo = { cols: 80, rows: 24, term: 'xterm' };

  constructor(
    readonly plan: ConnectPlan,
    readonly clientIp: string,
    private readonly hooks: LiveHooks,
  ) {
    this.id = plan.sessionId;
    const l = plan.launcher;
    if (l.maxDurationSeconds > 0) this.maxTimer = setTimeout(() => this.terminate(`maximum session duration (${l.maxDurationSeconds} s) reached`), l.maxDurationSeconds * 1000);
    this.touch();
  }

  /** recordings/YYYY/MM/DD/<session><ext>[.gz] */
  private recordingRel(ext: string): string {
    return this.hooks.storage.nameFor(this.id, this.startedAt, ext);
  }

  /**
   * Starts the recording. False when the session must not go on: it has ended, or its
   * recording could not be created (fail closed: the session is then terminated with
   * RECORDING_REFUSED, which its onTerminate callbacks hear at once).
   */
  begin(term: TerminalInfo): boolean {
    this.size = term;
    return this.openRecording('.cast', (file, opts) => {
      this.cast = new CastWriter(
        file,
        {
          version: 2,
          width: term.cols,
          height: term.rows,
          timestamp: Math.floor(this.startedAt / 1000),
          title: `${this.plan.user.username} → ${this.plan.credential.secretName} (${this.plan.protocol})`,
          // TERM is what the person's terminal announced. No SHELL: the gateway does not know
          // the target's shell, and the header must not claim one it did not see.
          env: { TERM: term.term },
        },
        (line) => {
          for (const s of this.subscribers) s(line);
        },
        this.startedPerf,
        (err) => this.recordingFailed('write', err),
        opts,
      );
      this.cast.linesWanted = () => this.subscribers.size > 0;
    });
  }

  /** Like begin(), for graphical sessions. */
  beginGraphics(header: GraphicsHeader): boolean {
    return this.openRecording(GHREC_FILE_EXTENSION, (file, opts) => {
      this.ghrec = new GhrecWriter(
        file,
        { ...header, startedAt: new Date(this.startedAt).toISOString() },
        (rec) => {
          if (this.subscribers.size === 0) return;
          const line = ghrecLine(rec);
          for (const s of this.subscribers) s(line);
        },
        this.startedPerf,
        (err) => this.recordingFailed('write', err),
        opts,
      );
    });
  }

  /**
   * The part begin() and beginGraphics() share: once only, only when the launcher records,
   * and an open that fails ends the session instead of the process (fail closed).
   */
  private openRecording(ext: string, open: (file: string, opts: AppenderOptions) => void): boolean {
    if (this.ended || this.recordingError) return false;
    if (this.cast || this.ghrec || !this.plan.launcher.record) return true;
    const rel = this.recordingRel(ext);
    try {
      const { path, options } = this.hooks.storage.writeTarget(rel);
      const release = this.hooks.beforeRecordingRelease;
      open(path, options.spool && ext === GHREC_FILE_EXTENSION && release ? { ...options, beforeRelease: () => release(this) } : options);
    } catch (e) {
      return this.recordingFailed('open', e as Error);
    }
    this.recordingPath = rel;
    return true;
  }

  /**
   * Fail closed: no part of a session may go unrecorded. A recording that cannot be
   * created refuses the session at once; one that stops being written ends it. A write
   * fails inside a relay's data handler or a timer: the session is terminated a microtask
   * later, so the handler that wrote finishes first and the door's terminate callbacks
   * do not run half-way through it.
   */
  private recordingFailed(stage: 'open' | 'write', err: Error): false {
    if (this.recordingError) return false;
    this.recordingError = (err as NodeJS.ErrnoException).code ?? err.message;
    this.hooks.onRecordingFailed(this, stage, err);
    if (stage === 'open') this.terminate(RECORDING_REFUSED);
    else queueMicrotask(() => this.terminate(RECORDING_LOST));
    return false;
  }

  graphics(type: number, payload: Uint8Array): void {
    this.ghrec?.record(type, payload);
  }

  keystrokes(text: string, by?: InputAuthor): void {
    if (!text || !this.plan.launcher.recordKeystrokes) return;
    this.typedLines(text, by, this.elapsed());
  }

  /** Seconds since the recording (or the session) started. */
  private elapsed(): number {
    if (this.cast) return this.cast.elapsed();
    if (this.ghrec) return this.ghrec.elapsedMs() / 1000;
    return Math.round(performance.now() - this.startedPerf) / 1000;
  }

  /** Hands what is buffered to the disk. */
  flushRecording(): void {
    this.cast?.flush();
    this.ghrec?.flush();
  }

  /** Whether the terminal recording has fallen behind (the door should hold back the target's output). */
  recordingBacklogged(): boolean {
    return !!this.cast?.backlogged;
  }

  /**
   * Calls back once the recording caught up. Never when it failed meanwhile: the session is
   * then being terminated, and the door must not read on (output would go unrecorded).
   */
  whenRecordingDrained(cb: () => void): void {
    if (!this.cast) return cb();
    this.cast.whenDrained(() => {
      if (!this.recordingError) cb();
    });
  }

  /** Resolves when everything recorded so far is on disk, so a reader of the file sees it. */
  async recordingWritten(): Promise<void> {
    await Promise.all([this.cast?.written(), this.ghrec?.written()]);
  }

  private touch(): void {
    const idle = this.plan.launcher.idleTimeoutSeconds;
    if (idle <= 0 || this.ended) return;
    if (this.idleTimer) this.idleTimer.refresh();
    else this.idleTimer = setTimeout(() => this.terminate(`idle for ${idle} s`), idle * 1000);
  }

  output(data: Buffer): void {
    this.count(0, data.length);
    this.cast?.data('o', data);
    for (const j of this.joined) j.output(data);
  }

  rawOutput(data: Buffer): void {
    this.count(0, data.length);
    if (!this.cast) return;
    if (this.cast.text(data)) return;
    // Binary (e.g. `ssh host cat file`): the size is recorded, not megabytes of escapes.
    this.binaryPending += data.length;
    if (this.binaryPending >= 1 << 20) this.flushBinary();
  }

  private flushBinary(): void {
    if (this.binaryPending && this.cast) this.cast.event('m', `binary output: ${this.binaryPending} bytes`);
    this.binaryPending = 0;
  }

  input(data: Buffer, by?: InputAuthor): void {
    this.count(data.length, 0);
    this.touch();
    if (!this.plan.launcher.recordKeystrokes || !this.cast) return;
    // A shared session's input events carry their sender as a fourth element (asciicast v2
    // players read the first three); the owner's name stands for input typed at the door.
    if (this.shared) this.cast.event('i', data.toString('utf8'), (by ?? this.plan.user).username);
    else this.cast.data('i', data);
    this.typedLines(data.toString('utf8'), by, this.cast.elapsed());
  }

  /** Feeds typed text to its sender's line buffer; whole lines go to the index (with the sender once shared). */
  private typedLines(text: string, by: InputAuthor | undefined, at: number): void {
    const key = by && by.id !== this.plan.user.id ? by.id : '';
    if (key) this.typedNames.set(key, by!.username);
    let t = this.typed.get(key);
    if (!t) this.typed.set(key, (t = new TypedLines()));
    const lines = t.feed(text);
    const who = this.shared ? (by ?? this.plan.user).username : null;
    if (lines.length) this.hooks.onTextLines(this.id, lines.map((line) => ({ at, kind: 'command' as const, text: line, by: who })));
  }

  // ---- shared control (the rules are sharing.ts's; the session only carries the traffic)

  onJoinInput(cb: (data: Buffer, by: InputAuthor) => Promise<void> | void): void {
    this.joinInputs.push(cb);
  }

  onJoin(cb: (e: JoinEvent) => void): void {
    this.joinListeners.push(cb);
  }

  answerJoin(requestId: string, accept: boolean): Promise<boolean> {
    return this.hooks.answerJoin(this, requestId, accept);
  }

  /** Whether a door takes joiners' input to the target (otherwise nobody can join). */
  get shareable(): boolean {
    return this.joinInputs.length > 0 && !this.ended && !this.terminated;
  }

  /** Tells the owner's door about shared control. */
  joinEvent(e: JoinEvent): void {
    for (const cb of this.joinListeners) cb(e);
  }

  /**
   * A joiner's input: recorded and attributed, then written to the target by the door. A
   * promise when the joiner must wait before sending more: the target is full, or the recording
   * is behind (keystrokes are recorded too) — the joiner's connection is not read until then,
   * as the owner's is not (inputFlow), so neither piles up in this process.
   */
  joinedInput(data: Buffer, by: InputAuthor): Promise<void> | undefined {
    if (this.ended || this.terminated) return undefined;
    this.input(data, by);
    const waits: Promise<void>[] = [];
    for (const cb of this.joinInputs) {
      const w = cb(data, by);
      if (w) waits.push(w);
    }
    if (this.recordingBacklogged()) waits.push(new Promise<void>((r) => this.whenRecordingDrained(r)));
    return waits.length ? Promise.all(waits).then(() => undefined) : undefined;
  }

  /** A joiner starts receiving the output (the recording says who joined). */
  attachJoined(view: JoinedView): () => void {
    this.shared = true;
    this.joined.add(view);
    return () => void this.joined.delete(view);
  }

  traffic(bytesIn: number, bytesOut: number): void {
    this.count(bytesIn, bytesOut);
    if (bytesIn) this.touch();
  }

  rawInput(data: Buffer): void {
    this.count(data.length, 0);
    this.touch();
  }

  private count(bytesIn: number, bytesOut: number): void {
    this.bytesIn += bytesIn;
    this.bytesOut += bytesOut;
    this.late?.(bytesIn, bytesOut);
  }

  /**
   * From now on, bytes a door still reports (the tail it flushes while closing) go to `fn` as
   * well: the relayed-bytes counter took this session's sums as it left `live`, and would
   * otherwise never count them.
   */
  countLate(fn: (bytesIn: number, bytesOut: number) => void): void {
    this.late = fn;
  }

  resize(cols: number, rows: number): void {
    this.size = { ...this.size, cols, rows };
    this.cast?.event('r', `${cols}x${rows}`);
    for (const j of this.joined) j.resize(cols, rows);
  }

  note(kind: string, details: Record<string, unknown>): void {
    this.cast?.event('m', `${kind}: ${JSON.stringify(details)}`);
    this.ghrec?.marker(kind, JSON.stringify(details));
    this.hooks.onTextLines(this.id, [{ at: this.elapsed(), kind: 'event', text: `${kind} ${JSON.stringify(details)}` }]);
  }

  verifyHostKey(keyType: string, fingerprint: string): Promise<'pinned' | 'match' | 'mismatch'> {
    return this.hooks.verifyHostKey(this, keyType, fingerprint);
  }

  subscribe(s: Subscriber): () => void {
    this.subscribers.add(s);
    return () => this.subscribers.delete(s);
  }

  onTerminate(cb: (reason: string) => void): void {
    if (this.terminated) cb(this.terminated);
    else this.terminators.push(cb);
  }

  onNotice(cb: (text: string) => void): void {
    this.noticeListeners.push(cb);
    // A notice given before the door listened (the grant ends within minutes of the start,
    // and the door was still setting up) is delivered now instead of being lost.
    const held = this.heldNotices.splice(0);
    for (const text of held) cb(text);
  }

  /** A one-line message for the person while the session goes on (e.g. their access ends soon); recorded as a marker. */
  notice(text: string): void {
    if (this.terminated || this.ended) return;
    this.cast?.event('m', `notice: ${text}`);
    this.ghrec?.marker('notice', text);
    if (this.noticeListeners.length === 0) this.heldNotices.push(text);
    for (const cb of this.noticeListeners) cb(text);
  }

  terminate(reason: string): void {
    if (this.terminated || this.ended) return;
    this.terminated = reason;
    this.cast?.event('m', `terminated: ${reason}`);
    this.ghrec?.marker('terminated', reason);
    for (const cb of this.terminators.splice(0)) cb(reason);
  }

  /**
   * Ends the session: its recording closed, then its end written (hooks.onEnd). Every call gets
   * the one end under way: a door that ends its session as it hears terminate (the browser
   * terminal does) and the shutdown's endAll both wait for the end to be written, so the node
   * does not stop before the session's end and its recording's seal are.
   */
  end(reason: string): Promise<void> {
    return (this.ending ??= this.endOnce(reason));
  }

  private ending: Promise<void> | null = null;

  private async endOnce(reason: string): Promise<void> {
    this.ended = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.maxTimer) clearTimeout(this.maxTimer);
    this.flushBinary();
    if (this.plan.launcher.recordKeystrokes && (this.cast || this.ghrec)) {
      for (const [key, t] of this.typed) {
        const rest = t.rest();
        const by = !this.shared ? null : key === '' ? this.plan.user.username : (this.typedNames.get(key) ?? key);
        if (rest.length) this.hooks.onTextLines(this.id, rest.map((text) => ({ at: this.elapsed(), kind: 'command' as const, text, by })));
      }
    }
    this.joined.clear();
    const closed = Promise.all([this.cast?.close(), this.ghrec?.close()]);
    for (const s of this.subscribers) s('');
    this.subscribers.clear();
    // The seal hashes the file as closed: wait until the writer thread has written it all.
    await closed;
    await this.hooks.onEnd(this, this.terminated ?? reason);
  }

  get isEnded(): boolean {
    return this.ended;
  }
}
