// The file side of both recording writers (asciicast, ghrec): whole events or records are
// buffered briefly and appended with synchronous writes, so a crash leaves a readable file
// up to the last flush (at most `flushMs` old), at worst with its last event cut short, which
// recovery at the next start cuts off (recovery.ts).
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export class Appender {
  private fd: number;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  /** Creates the file (0600, in a 0700 directory; never overwrites) and writes its head at once. */
  constructor(
    readonly path: string,
    head: Uint8Array,
    private readonly flushMs: number,
    private readonly flushBytes: number,
  ) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.fd = openSync(path, 'wx', 0o600);
    writeSync(this.fd, head);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  append(chunk: Uint8Array): void {
    if (this.closed) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= this.flushBytes) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.flushMs);
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
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    closeSync(this.fd);
  }
}
