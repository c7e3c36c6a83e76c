// What a door that carries a plain terminal (the browser terminal; the SSH door toward a
// Telnet target) needs from a connected interactive target, whatever protocol reaches it.
import type { EventEmitter } from 'node:events';
import type { SessionHandle } from '../../core/broker.js';
import { drained } from '../drained.js';

export interface TerminalTarget extends EventEmitter {
  /**
   * Bytes from the person, already past any recording. False when they wait in the gateway
   * past the target connection's high-water mark (the target reads slower than the person
   * types or pastes, or stopped reading): stop reading the person until 'drain'.
   */
  write(data: Buffer): boolean;
  resize(cols: number, rows: number): void;
  close(): void;
  /**
   * Stops reading the target's output while `why` holds it (the person reads slower than the
   * target writes; the recording is behind), so it waits in the target's socket and window
   * rather than in the gateway's memory. Reading goes on once every hold is released.
   */
  hold(why: string): void;
  release(why: string): void;
  // events: 'data' (Buffer, terminal output), 'close' (reason?: string), 'drain' (write() may go on)
}

export interface TerminalSize {
  cols: number;
  rows: number;
  term: string;
}

/**
 * The recording's brake on a terminal target, as the SSH relay has (ssh/relay.ts): called after
 * each chunk of output is recorded, it holds the target while the recording is behind and
 * releases it once the recording caught up.
 */
export function recordingBrake(h: Pick<SessionHandle, 'recordingBacklogged' | 'whenRecordingDrained'>, t: Pick<TerminalTarget, 'hold' | 'release'>): () => void {
  let held = false;
  return () => {
    if (held || !h.recordingBacklogged()) return;
    held = true;
    t.hold('recording');
    h.whenRecordingDrained(() => {
      held = false;
      t.release('recording');
    });
  };
}

/**
 * hold/release by reason, for either side of a terminal (the target's output, the person's
 * input): reading stops at the first hold and goes on once none is left. hold answers whether
 * this reason was not holding already.
 */
export function holds(pause: () => void, resume: () => void): { hold(why: string): boolean; release(why: string): void } {
  const by = new Set<string>();
  return {
    hold: (why) => {
      if (by.has(why)) return false;
      by.add(why);
      if (by.size === 1) pause();
      return true;
    },
    release: (why) => {
      if (by.delete(why) && by.size === 0) resume();
    },
  };
}

/** The person's side of a terminal door, as far as input backpressure needs it. */
export interface PersonInput {
  /** Stop reading what the person sends (it waits in their connection and their client). */
  pause(): void;
  resume(): void;
}

/**
 * Backpressure on the person's input, the mirror of the output side's hold/release: returns
 * the function that takes each chunk the person sent (records it, writes it to the target).
 * While the target does not take it (write() returned false: a paste into a target that reads
 * slowly or stopped reading) the person is not read until the target's 'drain' (or close); and
 * while the recording is behind (keystrokes are recorded too), until it caught up. Without it
 * the gateway would take input at the person's speed and queue it without bound.
 */
export function inputFlow(h: Pick<SessionHandle, 'input' | 'recordingBacklogged' | 'whenRecordingDrained'>, t: TerminalTarget, person: PersonInput): (d: Buffer) => void {
  const { hold, release } = holds(() => person.pause(), () => person.resume());
  return (d) => {
    h.input(d);
    if (!t.write(d) && hold('target')) void drained(t).then(() => release('target'));
    if (h.recordingBacklogged() && hold('recording')) h.whenRecordingDrained(() => release('recording'));
  };
}
