// The file side of both recording writers (asciicast, ghrec): whole events or records are
// buffered briefly and appended at least every `flushMs`, so a crash leaves a readable file
// up to the last flush that reached the disk, at worst with its last event (or compressed
// member) cut short, which recovery at the next start cuts off (recovery.ts).
//
// The file is created here, on the event loop, so that a recording that cannot be created
// refuses its session before anything is relayed (fail closed). Every later write goes to
// the writer thread (recording-writer.ts) when one is given: the event loop never waits for
// the disk. Without one (tools, unit tests) writes are synchronous as they always were.
// Compressed recordings (`gzip`) are a series of gzip members, one per flush
// (recording-gzip.ts).
//
// A failed write (EPERM on an immutable file, ENOSPC, EIO, a full queue…) must never
// escape: the appender stops instead (later appends are dropped), its file is closed and
// the error is reported once through `onError`; the session decides what that means (it
// fails closed).
import { closeSync, ftruncateSync, mkdirSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { gzipMember, readContentSync, type GzipMember } from './recording-gzip.js';
import type { RecordingSpool } from './spool-contract.js';
import type { RecordingWriter, WriterSink } from './recording-writer.js';
import { PendingChunks } from './pending-chunks.js';

export interface AppenderOptions {
  /** Compress (gzip members per flush). */
  gzip?: boolean;
  /** Write through this writer thread (off the event loop). */
  writer?: RecordingWriter;
  /** Write a series of segment files handed to a spool as they fill (recording-spool.ts; object storage). */
  spool?: RecordingSpool;
  /** Segmented: awaited before a segment leaves the spool (a graphical session's keyframe follower catches up). */
  beforeRelease?: () => Promise<void>;
}

export class Appender {
  private fd: number;
  private readonly pending: PendingChunks;
  private closed = false;
  private readonly sink: WriterSink | null = null;
  private readonly gzip: boolean;
  /** Synchronous mode: bytes written to the file, and of the recording. */
  private fileBytes = 0;
  private syncContentBytes = 0;
  /** Every byte of the recording appended so far (the head included), written or not. */
  contentBytes = 0;
  /** The error that stopped the appender, if one did. */
  failure: Error | null = null;
  private closing: Promise<void> = Promise.resolve();
  /** Compressed: the members indexed so far by readFrom (extended as the file grows). */
  private readonly members: GzipMember[] = [];

  /**
   * Creates the file (0600, in a 0700 directory; never overwrites) and writes its head at once.
   * Throws when that fails (EACCES, EPERM, EMFILE, ENOSPC…); no descriptor is left open then.
   */
  constructor(
    readonly path: string,
    head: Uint8Array,
    flushMs: number,
    flushBytes: number,
    private readonly onError?: (err: Error) => void,
    opts: AppenderOptions = {},
  ) {
    this.pending = new PendingChunks(flushBytes, flushMs, () => this.flush());
    this.gzip = !!opts.gzip;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.fd = openSync(path, 'wx', 0o600);
    // An empty head writes nothing (no empty gzip member): a spool's next segment starts empty
    // and gets its first chunk through the writer thread (recording-spool.ts).
    const first = this.gzip && head.length ? gzipMember(head, opts.writer?.limits.gzipLevel) : head;
    try {
      writeAll(this.fd, first);
    } catch (e) {
      closeQuietly(this.fd);
      try {
        unlinkSync(path);
      } catch {
        /* an empty or partial head is all that is left behind */
      }
      throw e;
    }
    this.fileBytes = first.length;
    this.syncContentBytes = this.contentBytes = head.length;
    if (opts.writer) {
      try {
        this.sink = opts.writer.attach(this.fd, { fileBytes: first.length, contentBytes: head.length }, this.gzip, (err) => this.stopped(err));
      } catch (e) {
        // The writer thread could not be started (EMFILE, out of memory): refused like a file that cannot be created.
        closeQuietly(this.fd);
        try {
          unlinkSync(path);
        } catch {
          /* the head is all that is left behind */
        }
        throw e;
      }
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** A single file keeps the whole recording readable. */
  readonly keptFrom = 0;

  /** Bytes of the file known to be written (a segmented recording starts its next file past a size). */
  get storedBytes(): number {
    return this.sink ? this.sink.durableFileBytes : this.fileBytes;
  }

  append(chunk: Uint8Array): void {
    if (this.closed) return;
    this.contentBytes += chunk.length;
    this.pending.add(chunk);
  }

  flush(): void {
    if (this.closed) return this.pending.discard();
    // For the writer thread: a shared batch (pending-chunks.ts).
    const buf = this.pending.take(!!this.sink);
    if (!buf) return;
    if (this.sink) {
      this.sink.write(buf);
      return;
    }
    try {
      const out = this.gzip ? gzipMember(buf) : buf;
      writeAll(this.fd, out);
      this.fileBytes += out.length;
      this.syncContentBytes += buf.length;
    } catch (e) {
      // Part of this chunk may be on disk: cut it off, as the writer thread does (recording-writer-worker.ts).
      truncateQuietly(this.fd, this.fileBytes);
      this.fail(e as Error);
    }
  }

  /** The writer thread is behind with this file (recording-writer.ts); never without one. */
  get backlogged(): boolean {
    return !!this.sink?.backlogged;
  }

  /** Calls back once the writer thread caught up (at once when it is not behind). */
  whenDrained(cb: () => void): void {
    if (this.sink) this.sink.whenDrained(cb);
    else cb();
  }

  /** Resolves when everything appended so far is on disk (or the recording failed). */
  async written(): Promise<void> {
    this.flush();
    await this.sink?.written();
  }

  /**
   * The recording's bytes from `offset` to now, as readers of the plain format see them:
   * what the file holds, then what is on its way to it. Synchronous, so a reader that
   * subscribes right after misses nothing.
   */
  readFrom(offset: number, max = Infinity): Buffer {
    const durableContent = this.sink ? this.sink.durableContentBytes : this.syncContentBytes;
    const durableFile = this.sink ? this.sink.durableFileBytes : this.fileBytes;
    const parts: Buffer[] = [];
    let at = offset;
    const end = Math.min(this.contentBytes, offset + max);
    if (at < durableContent) {
      const to = Math.min(durableContent, end);
      parts.push(this.gzip ? readContentSync(this.path, at, to, durableFile, this.members) : readPlain(this.path, at, to));
      at = to;
    }
    // Not yet on disk: the writer thread's queue, then this appender's buffer.
    let pos = durableContent;
    for (const c of [...(this.sink?.pending() ?? []), ...this.pending.held]) {
      const cEnd = pos + c.length;
      if (cEnd > at && pos < end) parts.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength).subarray(Math.max(0, at - pos), Math.min(c.length, end - pos)));
      pos = cEnd;
    }
    return Buffer.concat(parts);
  }

  /** Closes the file; with a writer thread, resolves when it is closed on disk. */
  close(): Promise<void> {
    if (this.closed) return this.closing;
    this.flush();
    if (this.closed) return this.closing; // the last flush failed and closed the file
    this.closed = true;
    if (this.sink) return (this.closing = this.sink.close());
    try {
      closeSync(this.fd);
    } catch (e) {
      this.failure = e as Error;
      this.onError?.(e as Error);
    }
    return this.closing;
  }

  /** The writer thread reports a failure (write error, full queue): stop, tell the session. */
  private stopped(err: Error): void {
    if (this.failure) return;
    this.closed = true;
    this.failure = err;
    this.pending.discard();
    this.closing = this.sink ? this.sink.close() : Promise.resolve();
    this.onError?.(err);
  }

  private fail(err: Error): void {
    this.closed = true;
    this.failure = err;
    this.pending.discard();
    closeQuietly(this.fd);
    this.onError?.(err);
  }
}

/** writeSync may write less than asked (a full disk, a signal): loop until all is written. */
function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

function readPlain(path: string, from: number, to: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(Math.max(0, to - from));
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, from + got);
      if (n <= 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

function truncateQuietly(fd: number, bytes: number): void {
  try {
    ftruncateSync(fd, bytes);
  } catch {
    /* already failing: the write's error is the one reported */
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* already failing: the first error is the one reported */
  }
}
