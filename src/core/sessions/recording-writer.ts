// Recording writes off the event loop: one writer thread per process
// (recording-writer-worker.ts) appends every recording's flushed chunks, compressing them
// when recordings are compressed. The event loop only hands chunks over, so a slow or
// stalled disk never holds up the relaying of other sessions.
//
// What waits for the disk is bounded: per recording (`sessionQueueBytes`) and for the
// process (`totalQueueBytes`). A chunk that would go past either fails that recording
// (code `queue_full`): its session is ended like any session whose recording cannot be
// written (fail closed, live.ts), what was queued for it is dropped, and the file is closed
// as soon as the disk lets the writer thread get to it. Other sessions go on while their
// own queues have room.
//
// Before that bound is reached, a recording that falls behind says so (`backlogged`, from
// half of either bound) and calls back once it caught up (`whenDrained`, a quarter): the
// SSH relay pauses the target's output meanwhile, so a burst of output faster than the
// writer thread (a loaded node, text at loopback speed) is slowed to the speed at which
// it is recorded instead of ending its session. `queue_full` remains for what cannot be
// held back.
import { Worker } from 'node:worker_threads';
import type { FromWriter, ToWriter } from './recording-writer-worker.js';

export interface WriterLimits {
  /** Bytes of one recording handed to the writer thread and not yet written. */
  sessionQueueBytes: number;
  /** The same for all recordings of the process together. */
  totalQueueBytes: number;
  /** zlib level of compressed recordings (1 fastest … 9 smallest). */
  gzipLevel: number;
  /**
   * How long a producer holding back for a backlogged recording waits for it to drain before
   * the recording fails (`queue_full`): a stalled disk must end the session, not hang it.
   * Default DRAIN_TIMEOUT_MS.
   */
  drainTimeoutMs?: number;
}

const DRAIN_TIMEOUT_MS = 30_000;

export const DEFAULT_WRITER_LIMITS: WriterLimits = { sessionQueueBytes: 8 << 20, totalQueueBytes: 256 << 20, gzipLevel: 1, drainTimeoutMs: DRAIN_TIMEOUT_MS };

/** The error that fails a recording whose queue is full (its `code` is what recording.failed says). */
export class RecordingQueueFull extends Error {
  readonly code = 'queue_full';
}

interface InFlight {
  seq: number;
  data: Buffer;
}

/** One recording file on the writer thread. */
export class WriterSink {
  private seq = 0;
  /** Chunks handed over and not yet written (kept for readers of the live recording). */
  private readonly inFlight: InFlight[] = [];
  queuedBytes = 0;
  /** Bytes of the file written, and of the recording they hold. */
  durableFileBytes: number;
  durableContentBytes: number;
  failure: Error | null = null;
  private closing: Promise<void> | null = null;
  private closeSeq = -1;
  private resolveClose: (() => void) | null = null;
  private waiters: { seq: number; resolve: () => void }[] = [];
  private drainWaiters: (() => void)[] = [];
  private drainTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly writer: RecordingWriter,
    readonly id: number,
    fileBytes: number,
    contentBytes: number,
    private readonly onError: (err: Error) => void,
  ) {
    this.durableFileBytes = fileBytes;
    this.durableContentBytes = contentBytes;
  }

  /** Hands a chunk over; false when the recording has failed (now or before). */
  write(data: Buffer): boolean {
    if (this.failure || this.closing) return false;
    const limits = this.writer.limits;
    if (this.queuedBytes + data.length > limits.sessionQueueBytes || this.writer.queuedBytes + data.length > limits.totalQueueBytes) {
      const full = this.queuedBytes + data.length > limits.sessionQueueBytes ? `its ${limits.sessionQueueBytes} bytes` : `the node's ${limits.totalQueueBytes} bytes`;
      // Dropped first, so the close the failure brings about is this one.
      this.drop();
      this.fail(new RecordingQueueFull(`the recording's write queue is full (${full} wait for the disk)`));
      return false;
    }
    const seq = ++this.seq;
    this.inFlight.push({ seq, data });
    this.queuedBytes += data.length;
    this.writer.queued(data.length, 1);
    this.writer.post({ t: 'write', id: this.id, seq, data });
    return true;
  }

  /** Past half of its queue bound or of the process's: the producer should hold back (whenDrained says when to go on). */
  get backlogged(): boolean {
    const { limits } = this.writer;
    return !this.failure && !this.closing && (this.queuedBytes >= limits.sessionQueueBytes / 2 || this.writer.queuedBytes >= limits.totalQueueBytes / 2);
  }

  /**
   * Calls back once this recording's queue and the process's are down to a quarter of their
   * bounds, or the recording failed or closed (nothing must wait for a recording that is gone).
   */
  whenDrained(cb: () => void): void {
    if (!this.backlogged) return cb();
    this.drainWaiters.push(cb);
    this.writer.watchDrain(this);
    const ms = this.writer.limits.drainTimeoutMs ?? DRAIN_TIMEOUT_MS;
    this.drainTimer ??= setTimeout(() => {
      this.drainTimer = null;
      this.drop();
      this.fail(new RecordingQueueFull(`the recording's write queue did not drain within ${ms} ms (the disk is stalled)`));
    }, ms).unref();
  }

  /** Called by the writer after every answer of its thread while this sink waits for a drain. */
  checkDrain(): boolean {
    const { limits } = this.writer;
    const done = !!this.failure || !!this.closing || (this.queuedBytes <= limits.sessionQueueBytes / 4 && this.writer.queuedBytes <= limits.totalQueueBytes / 4);
    if (!done) return false;
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.drainTimer = null;
    for (const cb of this.drainWaiters.splice(0)) cb();
    return true;
  }

  /** The chunks handed over and not yet known to be written, oldest first. */
  pending(): readonly Buffer[] {
    return this.inFlight.map((c) => c.data);
  }

  /** Resolves when everything handed over so far is written (or the recording failed). */
  written(): Promise<void> {
    const last = this.inFlight.at(-1);
    if (!last || this.failure) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ seq: last.seq, resolve }));
  }

  /** Closes the file once what was handed over is written; resolves when it is closed. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closeSeq = ++this.seq;
    this.closing = new Promise((resolve) => (this.resolveClose = resolve));
    this.writer.queued(0, 1);
    this.writer.post({ t: 'close', id: this.id, seq: this.closeSeq });
    return this.closing;
  }

  /** Drops what is queued (the recording failed) and closes the file when the writer thread gets to it. */
  private drop(): void {
    if (this.closing) return;
    this.closeSeq = ++this.seq;
    this.closing = new Promise((resolve) => (this.resolveClose = resolve));
    this.writer.queued(0, 1);
    this.writer.post({ t: 'drop', id: this.id, seq: this.closeSeq });
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.release(this.inFlight.splice(0));
    for (const w of this.waiters.splice(0)) w.resolve();
    this.onError(err);
    this.checkDrain();
  }

  private release(chunks: InFlight[]): void {
    const bytes = chunks.reduce((n, c) => n + c.data.length, 0);
    this.queuedBytes -= bytes;
    this.writer.queued(-bytes, -chunks.length);
  }

  /** A message from the writer thread about this file. */
  answer(m: FromWriter): void {
    if (m.t === 'done') {
      const i = this.inFlight.findIndex((c) => c.seq === m.seq);
      if (i < 0) return;
      const done = this.inFlight.splice(0, i + 1);
      this.release(done);
      this.durableFileBytes = m.fileBytes;
      this.durableContentBytes += done.reduce((n, c) => n + c.data.length, 0);
      this.waiters = this.waiters.filter((w) => (w.seq <= m.seq ? (w.resolve(), false) : true));
      return;
    }
    if (m.t === 'error') {
      const err = Object.assign(new Error(m.message), { code: m.code });
      this.fail(err);
      if (m.seq !== this.closeSeq) {
        // The thread writes nothing more to a failed file; close it (drop the rest).
        if (!this.closing) this.drop();
        return;
      }
    }
    if (m.seq === this.closeSeq || m.t === 'closed') {
      this.release(this.inFlight.splice(0));
      this.writer.queued(0, -1);
      this.writer.forget(this.id);
      this.resolveClose?.();
    }
  }

  /** The writer thread died: nothing handed over can be trusted to be written. */
  lost(err: Error): void {
    this.fail(err);
    this.resolveClose?.();
  }
}

export class RecordingWriter {
  private worker: Worker | null = null;
  private readonly sinks = new Map<number, WriterSink>();
  private nextId = 1;
  /** Bytes handed to the writer thread and not yet written, all recordings together. */
  queuedBytes = 0;
  /** Messages the thread has yet to answer (the thread keeps the process alive while there are some). */
  private outstanding = 0;
  /** Sinks whose producers wait for their queue (or the process's) to drain. */
  private readonly draining = new Set<WriterSink>();

  constructor(readonly limits: WriterLimits = DEFAULT_WRITER_LIMITS) {}

  /** Hands a created file (its head already written) to the writer thread. */
  attach(fd: number, head: { fileBytes: number; contentBytes: number }, gzip: boolean, onError: (err: Error) => void): WriterSink {
    const id = this.nextId++;
    const sink = new WriterSink(this, id, head.fileBytes, head.contentBytes, onError);
    // Posted first: a thread that cannot be started throws here, and nothing is left registered.
    this.post({ t: 'open', id, fd, gzip, level: this.limits.gzipLevel, fileBytes: head.fileBytes });
    this.sinks.set(id, sink);
    return sink;
  }

  /** Recordings open on the writer thread. */
  get open(): number {
    return this.sinks.size;
  }

  post(m: ToWriter): void {
    this.thread().postMessage(m);
  }

  queued(bytes: number, messages: number): void {
    this.queuedBytes += bytes;
    this.outstanding += messages;
    if (!this.worker) return;
    if (this.outstanding > 0) this.worker.ref();
    else this.worker.unref();
  }

  forget(id: number): void {
    this.sinks.delete(id);
  }

  watchDrain(sink: WriterSink): void {
    this.draining.add(sink);
  }

  /** After each answer: the process's queue shrank, so any waiting sink may go on, not only the one answered. */
  private checkDrains(): void {
    for (const s of this.draining) if (s.checkDrain()) this.draining.delete(s);
  }

  /** Stops the thread (after the recordings were closed). */
  async stop(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const w = spawnWriterThread();
    w.on('message', (m: FromWriter) => {
      this.sinks.get(m.id)?.answer(m);
      if (this.draining.size) this.checkDrains();
    });
    w.on('error', (err) => {
      // The thread died (out of memory…): every open recording fails, its session ends.
      if (this.worker === w) this.worker = null;
      for (const s of [...this.sinks.values()]) s.lost(Object.assign(new Error(`the recording writer stopped: ${err.message}`), { code: 'EWRITER' }));
      this.sinks.clear();
      this.outstanding = 0;
      this.queuedBytes = 0;
      this.checkDrains();
    });
    w.unref();
    this.worker = w;
    return w;
  }
}

/** From the built JavaScript a plain worker; from the TypeScript sources (tests, tsx) through tsx's loader. */
function spawnWriterThread(): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(fromSource ? './recording-writer-worker.ts' : './recording-writer-worker.js', import.meta.url);
  // The files are opened on the event loop (a recording that cannot be created refuses its
  // session at once) and closed by the thread: it must not track descriptors as its own.
  const opts = { trackUnmanagedFds: false };
  if (!fromSource) return new Worker(url, opts);
  return new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); })`, { ...opts, eval: true });
}
