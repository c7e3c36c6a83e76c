// Appends records to a ghrec file (see ghrec.ts). Like the asciicast writer: buffered
// briefly and written with synchronous appends of whole records, so a crash leaves a
// readable file up to the last flush (at most FLUSH_MS old).
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { encodeGhrecHeader, encodeGhrecMarker, encodeGhrecRecord, type GhrecHeader } from './ghrec.js';

const FLUSH_MS = 100;
const FLUSH_BYTES = 256 * 1024;

export class GhrecWriter {
  private fd: number;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly started: number;
  private closed = false;
  bytes = 0;

  constructor(
    readonly path: string,
    readonly header: GhrecHeader,
    /** Observers get every record as written (live view). */
    private readonly onRecord?: (record: Uint8Array) => void,
    /** performance.now() of the header's startedAt (default: now). */
    origin = performance.now(),
  ) {
    this.started = origin;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.fd = openSync(path, 'wx', 0o600);
    const head = encodeGhrecHeader(header);
    writeSync(this.fd, head);
    this.bytes += head.length;
  }

  /** Milliseconds since the recording started. */
  elapsedMs(): number {
    return Math.round(performance.now() - this.started);
  }

  record(type: number, payload: Uint8Array): void {
    if (this.closed) return;
    this.push(encodeGhrecRecord(type, this.elapsedMs(), payload));
  }

  marker(kind: string, text: string): void {
    if (this.closed) return;
    this.push(encodeGhrecMarker(this.elapsedMs(), kind, text));
  }

  private push(rec: Uint8Array): void {
    this.pending.push(rec);
    this.pendingBytes += rec.length;
    this.onRecord?.(rec);
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.pending.length === 0 || this.closed) return;
    const buf = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    writeSync(this.fd, buf);
    this.bytes += buf.length;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    closeSync(this.fd);
  }
}
