// The relay between one session channel of the person (a ServerChannel of the SSH door)
// and the matching channel on the target (a ClientChannel of the ssh2 client). It owns
// the ordering a stock client relies on:
//   - backpressure in both directions and for both output streams: a target stream is
//     paused when the write toward the person returns false and resumed on that very
//     Writable's 'drain' (stdout and stderr each on their own);
//   - backpressure from the recording: while it has fallen behind (its writer thread's
//     queue past half its bound, hooks.backlog), the target's output is not read, so a
//     burst faster than the recording is written is slowed down instead of ending the
//     session when the bound is reached;
//   - the end: once the target closed its channel and both of its streams are consumed,
//     stderr is finished, stdout is flushed, then the target's exit status (or signal) is
//     sent, then EOF and CLOSE (ending stdout) — so the status and the last bytes of both
//     streams arrive, however slowly the person reads;
//   - terminate at any stage: the target's output stops at once, the person gets the
//     reason on the terminal (pty) or stderr when that stream is still open, and every
//     write is guarded, so a channel already ended or gone is never written to.
// Relaying and recording are separate: what passes is reported through the hooks.
import type { Readable, Writable } from 'node:stream';
import type { ClientChannel, ServerChannel } from 'ssh2';
import { shareChannelWindow } from './channel-output.js';

export interface RelayHooks {
  /** Bytes from the target on its stdout (stderr: true for its stderr). */
  output(data: Buffer, stderr: boolean): void;
  /** Bytes from the person. */
  input(data: Buffer): void;
  /** Once the target's channel has closed (before the rest is flushed to the person), with its exit status or signal when it sent one. */
  targetClosed?(exit: RelayExit | null): void;
  /** The recording of the output: whether it has fallen behind, and a call back once it caught up. */
  backlog?: { full(): boolean; whenDrained(cb: () => void): void };
}

export type RelayExit = { code: number } | { signal: string; dumped: boolean; desc: string };

export type RelayStage = 'relaying' | 'draining' | 'closed';

const EMPTY = Buffer.alloc(0);

/** Whether this Writable still accepts writes (not ended, finished, destroyed or errored). */
export function canWrite(w: Writable | undefined | null): w is Writable {
  return !!w && w.writable && !w.writableEnded && !w.destroyed;
}

/** Writes unless the stream can no longer take it; never throws. */
export function safeWrite(w: Writable | undefined | null, data: string | Buffer): boolean {
  if (!canWrite(w)) return false;
  try {
    w.write(data);
    return true;
  } catch {
    return false;
  }
}

/**
 * Ends a person's channel outside a relay (refusal, failed target, terminate before the
 * relay began, end of a Telnet bridge): an optional message, the exit status (default 1),
 * EOF and CLOSE, in that order after what is already queued. Safe at any stage.
 */
export function endChannel(stream: ServerChannel, message: string | null, opts: { toStdout?: boolean; exitCode?: number } = {}): void {
  shareChannelWindow(stream);
  if (message !== null) safeWrite(opts.toStdout ? stream : stream.stderr, message);
  safeEnd(stream.stderr);
  if (!canWrite(stream)) return;
  const finish = () => {
    try {
      stream.exit(opts.exitCode ?? 1);
    } catch {
      /* the connection is gone */
    }
    safeEnd(stream);
  };
  // The status goes after what is already queued, like any relayed exit. When nothing is
  // (a write's length counts until its bytes were sent), at once: the caller may close the
  // connection right after.
  if (stream.writableLength === 0 && stream.stderr.writableLength === 0) finish();
  else stream.write(EMPTY, finish);
}

function safeEnd(w: Writable): void {
  if (!w.writableEnded && !w.destroyed) {
    try {
      w.end();
    } catch {
      /* already gone */
    }
  }
}

/** Resolves once the Readable has delivered everything (or can deliver nothing more). */
function consumed(r: Readable): Promise<void> {
  if (r.readableEnded || r.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    r.once('end', () => resolve());
    r.once('close', () => resolve());
  });
}

/** Calls back once everything written so far went out (or the stream ended meanwhile). */
function whenFlushed(w: Writable, cb: () => void): void {
  if (!canWrite(w)) return cb();
  w.write(EMPTY, () => cb());
}

function whenFinished(w: Writable, cb: () => void): void {
  if (w.writableFinished || w.destroyed) return cb();
  w.once('finish', cb);
  w.once('close', cb);
  safeEnd(w);
}

export class ChannelRelay {
  private stageNow: RelayStage = 'relaying';
  private cut = false;
  private exitInfo: RelayExit | null = null;
  private readonly paused = new Set<Readable>();
  /** The target's output waits for the recording to catch up. */
  private heldForRecording = false;

  constructor(
    private readonly person: ServerChannel,
    private readonly target: ClientChannel,
    private readonly hooks: RelayHooks,
  ) {}

  get stage(): RelayStage {
    return this.stageNow;
  }

  start(): void {
    const { person: p, target: t, hooks } = this;
    shareChannelWindow(p);
    const ignore = () => undefined;
    // Errors on any of the four streams end up as 'close' on their channel; the relay
    // tears down from there. Without a listener one would be thrown (and kill the node).
    for (const e of [p, p.stderr, t, t.stderr]) e.on('error', ignore);

    t.on('data', (d: Buffer) => {
      if (this.cut) return;
      hooks.output(d, false);
      this.forward(t, p, d);
      this.holdForRecording();
    });
    t.stderr.on('data', (d: Buffer) => {
      if (this.cut) return;
      hooks.output(d, true);
      this.forward(t.stderr, p.stderr, d);
      this.holdForRecording();
    });
    p.on('data', (d: Buffer) => {
      if (this.cut) return;
      hooks.input(d);
      this.forward(p, t, d);
    });
    // The person's EOF (end of stdin) reaches the target as EOF; the channel stays open.
    p.on('end', () => {
      if (!this.cut) safeEnd(t);
    });
    t.on('exit', (code: number | null, signal?: string, dumped?: boolean, desc?: string) => {
      if (code !== null && code !== undefined) this.exitInfo = { code };
      else if (signal) this.exitInfo = { signal: signal.replace(/^SIG/, ''), dumped: !!dumped, desc: desc ?? '' };
    });
    // 'close' of a client channel follows the end of its stdout; its stderr may still be
    // paused with data in it, so the drain waits for that too.
    t.on('close', () => {
      if (!this.cut) hooks.targetClosed?.(this.exitInfo);
      void this.drain();
    });
    p.on('close', () => {
      this.stageNow = 'closed';
      this.cut = true;
      try {
        t.close();
      } catch {
        /* already closed */
      }
    });
  }

  /** Stops reading the target's output while its recording is behind; reads on once it caught up. */
  private holdForRecording(): void {
    const backlog = this.hooks.backlog;
    if (this.heldForRecording || !backlog?.full()) return;
    const { target: t } = this;
    this.heldForRecording = true;
    t.pause();
    t.stderr.pause();
    backlog.whenDrained(() => {
      this.heldForRecording = false;
      if (this.cut) return;
      // A stream also paused for the person's window stays paused until that drains.
      if (!this.paused.has(t)) t.resume();
      if (!this.paused.has(t.stderr)) t.stderr.resume();
    });
  }

  /** Writes toward dst; on backpressure pauses src until that Writable drains. */
  private forward(src: Readable, dst: Writable, d: Buffer): void {
    if (!canWrite(dst)) return;
    if (dst.write(d) || this.paused.has(src)) return;
    this.paused.add(src);
    src.pause();
    const resume = () => {
      dst.off('drain', resume);
      dst.off('close', resume);
      this.paused.delete(src);
      // The target's output also waits for its recording when that is behind.
      const held = this.heldForRecording && src !== this.person;
      if (!this.cut && !held) src.resume();
    };
    dst.on('drain', resume);
    dst.on('close', resume);
  }

  private async drain(): Promise<void> {
    const { person: p, target: t } = this;
    await Promise.all([consumed(t), consumed(t.stderr)]);
    if (this.cut) return;
    this.stageNow = 'draining';
    whenFinished(p.stderr, () =>
      whenFlushed(p, () => {
        if (this.cut && this.stageNow === 'closed') return;
        const exit = this.exitInfo;
        if (exit && !this.cut) {
          try {
            if ('code' in exit) p.exit(exit.code);
            else p.exit(exit.signal, exit.dumped, exit.desc);
          } catch {
            /* the connection is gone */
          }
        }
        safeEnd(p);
      }),
    );
  }

  /**
   * Ends the session from the gateway's side. The target's output stops here; the person
   * gets `message` on the terminal (pty) or on stderr while that is still open, exit
   * status 1, EOF and CLOSE (after what is already queued toward them).
   */
  terminate(message: string, toStdout: boolean): void {
    if (this.cut) return;
    this.cut = true;
    const { person: p, target: t } = this;
    try {
      t.close();
    } catch {
      /* already closed */
    }
    if (this.stageNow === 'closed') return;
    endChannel(p, message, { toStdout });
  }
}
