// What a door that carries a plain terminal (the browser terminal; the SSH door toward a
// Telnet target) needs from a connected interactive target, whatever protocol reaches it.
import type { EventEmitter } from 'node:events';

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
