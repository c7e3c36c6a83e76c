// What a door that carries a plain terminal (the browser terminal; the SSH door toward a
// Telnet target) needs from a connected interactive target, whatever protocol reaches it.
import type { EventEmitter } from 'node:events';
import type { SessionHandle } from '../../core/broker.js';

export interface TerminalTarget extends EventEmitter {
  /** Bytes from the person, already past any recording. */
  write(data: Buffer): void;
  resize(cols: number, rows: number): void;
  close(): void;
  /**
   * Stops reading the target's output while `why` holds it (the person reads slower than the
   * target writes; the recording is behind), so it waits in the target's socket and window
   * rather than in the gateway's memory. Reading goes on once every hold is released.
   */
  hold(why: string): void;
  release(why: string): void;
  // events: 'data' (Buffer, terminal output), 'close' (reason?: string)
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
