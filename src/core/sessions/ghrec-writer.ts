// Appends records to a ghrec file (see ghrec.ts), buffered like the asciicast writer
// (appender.ts): a crash leaves a readable file up to the last flush.
import type { AppenderOptions } from './appender.js';
import { openAppender, type RecordingFile } from './recording-spool.js';
import { encodeGhrecHeader, encodeGhrecMarker, encodeGhrecRecord, type GhrecHeader } from './ghrec.js';

const FLUSH_MS = 100;
const FLUSH_BYTES = 256 * 1024;

/** A record as the writer's observers get it, as one line of the live view's stream (base64). */
export function ghrecLine(record: Uint8Array): string {
  return Buffer.from(record.buffer, record.byteOffset, record.byteLength).toString('base64');
}

export class GhrecWriter {
  private readonly file: RecordingFile;
  private readonly started: number;

  constructor(
    readonly path: string,
    readonly header: GhrecHeader,
    /** Observers get every record as written (live view). */
    private readonly onRecord?: (record: Uint8Array) => void,
    /** performance.now() of the header's startedAt (default: now). */
    origin = performance.now(),
    /** A write that failed after the file was created (the writer stops; see appender.ts). */
    onError?: (err: Error) => void,
    opts: AppenderOptions = {},
  ) {
    this.started = origin;
    this.file = openAppender(path, encodeGhrecHeader(header), FLUSH_MS, FLUSH_BYTES, onError, opts);
  }

  /** The container's bytes so far, from `offset` (at most `max`); see Appender.readFrom. */
  readFrom(offset: number, max?: number): Buffer {
    return this.file.readFrom(offset, max);
  }

  /** Bytes of the container so far. */
  get size(): number {
    return this.file.contentBytes;
  }

  written(): Promise<void> {
    return this.file.written();
  }

  /** Milliseconds since the recording started. */
  elapsedMs(): number {
    return Math.round(performance.now() - this.started);
  }

  record(type: number, payload: Uint8Array): void {
    if (!this.file.isClosed) this.push(encodeGhrecRecord(type, this.elapsedMs(), payload));
  }

  marker(kind: string, text: string): void {
    if (!this.file.isClosed) this.push(encodeGhrecMarker(this.elapsedMs(), kind, text));
  }

  private push(rec: Uint8Array): void {
    this.file.append(rec);
    this.onRecord?.(rec);
  }

  flush(): void {
    this.file.flush();
  }

  /** Resolves when the file is closed on disk. */
  close(): Promise<void> {
    return this.file.close();
  }
}
