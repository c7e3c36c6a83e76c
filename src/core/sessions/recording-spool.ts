// A recording written as a series of segment files in a spool directory, for storage that
// takes a recording in parts (S3 multipart uploads, recording-storage-s3.ts): each segment is
// one Appender file (same writer thread, same gzip members, same fail-closed behaviour); once
// a segment's file holds `segmentBytes(index)` the next flush starts the next segment, and the full
// one is handed to the spool, which uploads it and later lets it go. So a node's disk holds a
// bounded number of segments per session, not the whole session.
//
// Readers of the live recording (the live view's terminal backlog, the keyframe follower of
// graphical sessions) read through readFrom() like from one file; what was already released
// from the spool is gone from this node (an unfinished multipart upload cannot be read back),
// so readFrom refuses offsets before `keptFrom`. The spool keeps the segment before the one
// being written until the next is uploaded (the terminal backlog's last 4 MiB stays readable
// when segments are ≥ 4 MiB), and asks `beforeRelease` before letting one go (the graphical
// session's keyframe follower catches up first).
import { Appender, type AppenderOptions } from './appender.js';
import { PendingChunks } from './pending-chunks.js';
import type { RecordingSpool, SpoolEvents } from './spool-contract.js';

/** The side of a recording file the format writers (asciicast, ghrec) use. */
export interface RecordingFile {
  readonly isClosed: boolean;
  readonly contentBytes: number;
  readonly failure: Error | null;
  /** The first content offset readFrom can still give (0 unless segments left the spool). */
  readonly keptFrom: number;
  append(chunk: Uint8Array): void;
  flush(): void;
  written(): Promise<void>;
  /** The writer thread is behind with this recording: its producer should hold back until whenDrained calls back. */
  readonly backlogged: boolean;
  whenDrained(cb: () => void): void;
  readFrom(offset: number, max?: number): Buffer;
  close(): Promise<void>;
}

/** An Appender, or a segmented one when the storage spools recordings in parts. */
export function openAppender(path: string, head: Uint8Array, flushMs: number, flushBytes: number, onError: ((err: Error) => void) | undefined, opts: AppenderOptions = {}): RecordingFile {
  return opts.spool ? new SegmentedAppender(opts.spool, head, flushMs, flushBytes, onError, opts) : new Appender(path, head, flushMs, flushBytes, onError, opts);
}

const EMPTY = new Uint8Array(0);

interface Segment {
  file: Appender;
  /** Content offset of its first byte. */
  start: number;
  gone: boolean;
}

export class SegmentedAppender implements RecordingFile {
  private readonly segments: Segment[] = [];
  private readonly pending: PendingChunks;
  /** Content handed to the segments so far. */
  private flushed = 0;
  private closed = false;
  private closing: Promise<void> | null = null;
  contentBytes = 0;
  failure: Error | null = null;

  /** Creates the first segment with the head (throws like an Appender that cannot be created). */
  constructor(
    private readonly spool: RecordingSpool,
    head: Uint8Array,
    private readonly flushMs: number,
    flushBytes: number,
    private readonly onError: ((err: Error) => void) | undefined,
    private readonly opts: AppenderOptions,
  ) {
    this.pending = new PendingChunks(flushBytes, flushMs, () => this.flush());
    this.segments.push({ file: this.segment(0, head), start: 0, gone: false });
    spool.attach({
      failed: (err) => {
        // The store failed, not the disk: what was relayed and waits for the next flush goes to
        // the segment first, as the rest of the recording, for completeFromRow to store.
        this.keepPending();
        this.stopped(err);
      },
      releasing: (i) => this.release(i),
    });
    this.flushed = this.contentBytes = head.length;
  }

  /** A segment file, written every append (this recording buffers), through the writer thread. */
  private segment(index: number, head: Uint8Array): Appender {
    const { gzip, writer } = this.opts;
    return new Appender(this.spool.segmentPath(index), head, this.flushMs, 1, (err) => this.stopped(err), { gzip, ...(writer ? { writer } : {}) });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get keptFrom(): number {
    return this.segments.find((s) => !s.gone)?.start ?? this.flushed;
  }

  append(chunk: Uint8Array): void {
    if (this.closed) return;
    this.contentBytes += chunk.length;
    this.pending.add(chunk);
  }

  flush(): void {
    if (this.closed) return this.pending.discard();
    const buf = this.pending.take();
    if (!buf) return;
    const cur = this.segments.at(-1)!;
    // Plain: the bytes handed over are the file's. Compressed: what the writer thread wrote (a part
    // must hold segmentBytes of the file, not of the recording: S3's minimum part size).
    const fileBytes = this.opts.gzip ? cur.file.storedBytes : cur.file.contentBytes;
    if (fileBytes < this.spool.segmentBytes(this.segments.length - 1)) {
      cur.file.append(buf);
      this.flushed += buf.length;
      return;
    }
    // The current segment is full: the next one starts with this chunk, the full one is sealed once closed.
    // The chunk goes through the writer thread's queue, behind the full segment's last chunks,
    // not as the new file's head (written at once): on disk a segment then holds data only
    // once every segment before it is whole, so a crash (kill -9) leaves the recording's
    // prefix, never a hole in its middle that recovery would store as if nothing were missing.
    const index = this.segments.length;
    let next: Appender;
    try {
      next = this.segment(index, EMPTY);
    } catch (e) {
      this.stopped(e as Error);
      return;
    }
    this.segments.push({ file: next, start: this.flushed, gone: false });
    next.append(buf);
    this.flushed += buf.length;
    void cur.file.close().then(() => {
      if (!cur.file.failure && !this.failure) this.spool.sealed(index - 1);
    });
  }

  async written(): Promise<void> {
    this.flush();
    await Promise.all(this.segments.filter((s) => !s.gone).map((s) => s.file.written()));
  }

  /** The segment being written is what falls behind (the ones before it are closing). */
  get backlogged(): boolean {
    return this.segments.at(-1)!.file.backlogged;
  }

  whenDrained(cb: () => void): void {
    this.segments.at(-1)!.file.whenDrained(cb);
  }

  /** Like Appender.readFrom across the segments; throws for offsets that already left the spool. */
  readFrom(offset: number, max = Infinity): Buffer {
    const end = Math.min(this.contentBytes, offset + max);
    const parts: Buffer[] = [];
    let at = offset;
    for (const s of this.segments) {
      if (at >= end) break;
      const sEnd = s.start + s.file.contentBytes;
      if (sEnd <= at) continue;
      if (s.gone) throw Object.assign(new Error(`recording bytes before ${this.keptFrom} have left this node's spool`), { code: 'ERELEASED' });
      const to = Math.min(end, sEnd);
      parts.push(s.file.readFrom(at - s.start, to - at));
      at = to;
    }
    let pos = this.flushed;
    for (const c of this.pending.held) {
      const cEnd = pos + c.length;
      if (cEnd > at && pos < end) parts.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength).subarray(Math.max(0, at - pos), Math.min(c.length, end - pos)));
      pos = cEnd;
    }
    return Buffer.concat(parts);
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.flush();
    if (this.closing) return this.closing; // the last flush failed
    this.closed = true;
    return (this.closing = this.finish(false));
  }

  private async finish(failed: boolean): Promise<void> {
    await Promise.all(this.segments.map((s) => s.file.close()));
    await this.spool.finish(this.segments.length - 1, failed || this.segments.some((s) => s.file.failure) || !!this.failure);
  }

  private async release(index: number): Promise<void> {
    const s = this.segments[index];
    if (!s || s.gone) return;
    await this.opts.beforeRelease?.().catch(() => undefined);
    s.gone = true;
  }

  /** The chunks not flushed yet, into the segment being written (whatever its size), unless it failed. */
  private keepPending(): void {
    if (this.closed) return;
    const buf = this.pending.take();
    const cur = this.segments.at(-1)!;
    if (!buf || cur.file.failure) return;
    cur.file.append(buf);
    this.flushed += buf.length;
  }

  /** A segment's disk write or the upload failed: stop, close what is open, tell the session once. */
  private stopped(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.closed = true;
    this.pending.discard();
    this.closing ??= this.finish(true);
    this.onError?.(err);
  }
}
