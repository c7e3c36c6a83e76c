// asciicast v2 writer (https://docs.asciinema.org/manual/asciicast/v2/). Events are
// buffered briefly and appended as whole lines (appender.ts: off the event loop when given
// a writer thread, compressed when asked), so a crash leaves a playable file up to the last
// flush (at most FLUSH_MS old).
import { StringDecoder } from 'node:string_decoder';
import type { AppenderOptions } from './appender.js';
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

  elapsed(): number {
    return Math.round(performance.now() - this.started) / 1000;
  }

  /** Terminal output ('o') or input ('i'); bytes are decoded as UTF-8 across chunk boundaries. */
  data(type: 'o' | 'i', chunk: Buffer): void {
    const text = this.decoders[type].write(chunk);
    if (text) this.event(type, text);
  }

  /** `by`: the sender of an input event in a shared session (a fourth element; players read the first three). */
  event(type: CastEventType, text: string, by?: string): void {
    if (this.file.isClosed) return;
    const line = JSON.stringify(by === undefined ? [this.elapsed(), type, text] : [this.elapsed(), type, text, by]) + '\n';
    this.file.append(Buffer.from(line));
    this.onLine?.(line);
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
