// The file side of both recording writers (asciicast, ghrec): whole events or records are
// buffered briefly and appended with synchronous writes, so a crash leaves a readable file
// up to the last flush (at most `flushMs` old), at worst with its last event cut short, which
// recovery at the next start cuts off (recovery.ts).
//
// A failed write (EPERM on an immutable file, ENOSPC, EIO…) must never escape: the timed
// flush runs from a timer, where a throw would end the whole process and every session in
// it. The appender stops instead (later appends are dropped), closes its file and reports
// the error once through `onError`; the session decides what that means (it fails closed).
import { closeSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export class Appender {
  private fd: number;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** The error that stopped the appender, if one did. */
  failure: Error | null = null;

  /**
   * Creates the file (0600, in a 0700 directory; never overwrites) and writes its head at once.
   * Throws when that fails (EACCES, EPERM, EMFILE, ENOSPC…); no descriptor is left open then.
   */
  constructor(
    readonly path: string,
    head: Uint8Array,
    private readonly flushMs: number,
    private readonly flushBytes: number,
    private readonly onError?: (err: Error) => void,
  ) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.fd = openSync(path, 'wx', 0o600);
    try {
      writeAll(this.fd, head);
    } catch (e) {
      closeQuietly(this.fd);
      try {
        unlinkSync(path);
      } catch {
        /* an empty or partial head is all that is left behind */
      }
      throw e;
    }
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
    try {
      writeAll(this.fd, buf);
    } catch (e) {
      this.fail(e as Error);
    }
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    if (this.closed) return; // the last flush failed and closed the file
    this.closed = true;
    try {
      closeSync(this.fd);
    } catch (e) {
      this.failure = e as Error;
      this.onError?.(e as Error);
    }
  }

  private fail(err: Error): void {
    this.closed = true;
    this.failure = err;
    this.pending = [];
    this.pendingBytes = 0;
    closeQuietly(this.fd);
    this.onError?.(err);
  }
}

/** writeSync may write less than asked (a full disk, a signal): loop until all is written. */
function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* already failing: the first error is the one reported */
  }
}
