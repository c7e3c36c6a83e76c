// asciicast v2 writer (https://docs.asciinema.org/manual/asciicast/v2/). Events are
// buffered briefly and appended as whole lines with synchronous writes, so a crash
// leaves a playable file up to the last flush (at most FLUSH_MS old).
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { StringDecoder } from 'node:string_decoder';

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
  private fd: number;
  private pending: string[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly started: number;
  private readonly decoders = { o: new StringDecoder('utf8'), i: new StringDecoder('utf8') };
  private closed = false;
  bytes = 0;

  constructor(
    readonly path: string,
    header: CastHeader,
    /** Observers get every line as written (live view). */
    private readonly onLine?: (line: string) => void,
    /** performance.now() of the moment event times count from (default: now). */
    origin = performance.now(),
  ) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.fd = openSync(path, 'wx', 0o600);
    this.started = origin;
    const line = JSON.stringify(header) + '\n';
    writeSync(this.fd, line);
    this.bytes += Buffer.byteLength(line);
  }

  elapsed(): number {
    return Math.round(performance.now() - this.started) / 1000;
  }

  /** Terminal output ('o') or input ('i'); bytes are decoded as UTF-8 across chunk boundaries. */
  data(type: 'o' | 'i', chunk: Buffer): void {
    const text = this.decoders[type].write(chunk);
    if (text) this.event(type, text);
  }

  event(type: CastEventType, text: string): void {
    if (this.closed) return;
    const line = JSON.stringify([this.elapsed(), type, text]) + '\n';
    this.pending.push(line);
    this.pendingBytes += line.length;
    this.onLine?.(line);
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.pending.length === 0 || this.closed) return;
    const buf = Buffer.from(this.pending.join(''));
    this.pending = [];
    this.pendingBytes = 0;
    writeSync(this.fd, buf);
    this.bytes += buf.length;
  }

  close(): void {
    if (this.closed) return;
    for (const t of ['o', 'i'] as const) {
      const rest = this.decoders[t].end();
      if (rest) this.event(t, rest);
    }
    this.flush();
    this.closed = true;
    closeSync(this.fd);
  }
}
