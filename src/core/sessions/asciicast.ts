// asciicast v2 writer (https://docs.asciinema.org/manual/asciicast/v2/). Events are
// buffered briefly and appended as whole lines (appender.ts: off the event loop when given
// a writer thread, compressed when asked), so a crash leaves a playable file up to the last
// flush (at most FLUSH_MS old).
import { StringDecoder } from 'node:string_decoder';
import type { AppenderOptions } from './appender.js';
import { asciiEventLine, BINARY_OUTPUT, NOT_ASCII } from './asciicast-line.js';
import { openAppender, type RecordingFile } from './recording-spool.js';

const FLUSH_MS = 100;
const FLUSH_BYTES = 64 * 1024;

export interface CastHeader {
  version: 2;
  width: number;
  height: number;
  timestamp: number;
  title?: string;
  env?: Record<string, string>;
}

export type CastEventType = 'o' | 'i' | 'r' | 'm';

export class CastWriter {
  private readonly file: RecordingFile;
  private readonly started: number;
  private readonly decoders = { o: new StringDecoder('utf8'), i: new StringDecoder('utf8') };
  /**
   * Whether onLine wants the lines now (the live view is watching). A line encoded straight
   * from ASCII bytes (asciicast-line.ts) becomes a string only then.
   */
  linesWanted: () => boolean = () => true;

  constructor(
    readonly path: string,
    header: CastHeader,
    /** Observers get every line as written (live view). */
    private readonly onLine?: (line: string) => void,
    /** performance.now() of the moment event times count from (default: now). */
    origin = performance.now(),
    /** A write that failed after the file was created (the writer stops; see appender.ts). */
    onError?: (err: Error) => void,
    opts: AppenderOptions = {},
  ) {
    this.started = origin;
    this.file = openAppender(path, Buffer.from(JSON.stringify(header) + '\n'), FLUSH_MS, FLUSH_BYTES, onError, opts);
  }

  /** The recording's bytes (the plain asciicast) so far, from `offset`; see Appender.readFrom. */
  readFrom(offset: number): Buffer {
    return this.file.readFrom(offset);
  }

  /** The first offset readFrom can give (0 unless a spooled recording let its earlier parts go). */
  get keptFrom(): number {
    return this.file.keptFrom;
  }

  /** Bytes of the plain asciicast so far. */
  get size(): number {
    return this.file.contentBytes;
  }

  /** Resolves when everything recorded so far is on disk. */
  written(): Promise<void> {
    return this.file.written();
  }

  /** The writer thread is behind with this recording (recording-writer.ts). */
  get backlogged(): boolean {
    return this.file.backlogged;
  }

  /** Calls back once it caught up (at once when it is not behind). */
  whenDrained(cb: () => void): void {
    this.file.whenDrained(cb);
  }

  elapsed(): number {
    return Math.round(performance.now() - this.started) / 1000;
  }

  /** Terminal output ('o') or input ('i'); bytes are decoded as UTF-8 across chunk boundaries. */
  data(type: 'o' | 'i', chunk: Buffer): void {
    // ASCII while no UTF-8 sequence is cut across chunks: the line straight from the bytes.
    if (this.decoderClean(type) && !this.file.isClosed) {
      const line = asciiEventLine(this.elapsed(), type, chunk, false);
      if (line !== NOT_ASCII && line !== BINARY_OUTPUT) return this.appendLine(line, chunk.length);
    }
    const text = this.decoders[type].write(chunk);
    if (text) this.event(type, text);
  }

  /**
   * Output without a pty: recorded in full when it is text; false when it is binary (a
   * control character other than tab, newline, carriage return or ESC), which is not
   * recorded here (the caller records its size). For ASCII one pass over the bytes
   * decides that and writes the line.
   */
  text(chunk: Buffer): boolean {
    if (this.file.isClosed) return true;
    const line = asciiEventLine(this.elapsed(), 'o', chunk, true);
    if (line === BINARY_OUTPUT) return false;
    if (line !== NOT_ASCII && this.decoderClean('o')) {
      this.appendLine(line, chunk.length);
      return true;
    }
    // Not ASCII, or the decoder holds the start of a UTF-8 sequence: the string path.
    const text = this.decoders.o.write(chunk);
    if (text) this.event('o', text);
    return true;
  }

  /** No bytes of a UTF-8 sequence are waiting for the next chunk (unknown counts as waiting). */
  private decoderClean(type: 'o' | 'i'): boolean {
    return (this.decoders[type] as unknown as { lastNeed?: unknown }).lastNeed === 0;
  }

  private appendLine(line: Buffer, textBytes: number): void {
    if (textBytes === 0) return; // as the string path: no event without text
    this.file.append(line);
    if (this.onLine && this.linesWanted()) this.onLine(line.toString('latin1'));
  }

  /** `by`: the sender of an input event in a shared session (a fourth element; players read the first three). */
  event(type: CastEventType, text: string, by?: string): void {
    if (this.file.isClosed) return;
    const line = JSON.stringify(by === undefined ? [this.elapsed(), type, text] : [this.elapsed(), type, text, by]) + '\n';
    this.file.append(Buffer.from(line));
    if (this.onLine && this.linesWanted()) this.onLine(line);
  }

  flush(): void {
    this.file.flush();
  }

  /** Resolves when the file is closed on disk. */
  close(): Promise<void> {
    if (this.file.isClosed) return this.file.close();
    for (const t of ['o', 'i'] as const) {
      const rest = this.decoders[t].end();
      if (rest) this.event(t, rest);
    }
    return this.file.close();
  }
}
