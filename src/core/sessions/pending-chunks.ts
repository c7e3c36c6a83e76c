// The chunks a recording file holds back before writing them in one go: written when they
// reach a byte bound or when a timer fires, whichever comes first (fewer, larger writes
// without delaying a quiet session's last bytes). Shared by the one-file Appender and the
// segmented one (recording-spool.ts), which differ only in where a batch goes.
//
// Each chunk is copied into the batch as it comes (one native copy), so a caller may hand
// over a view of its own scratch memory (asciicast-line.ts does) and the batch leaves as it
// is, without a second gathering copy. A batch bound for the writer thread is gathered in
// shared memory (shared-batches.ts): posting shares it instead of serializing a copy (which
// cost about 50 µs per 64 KiB batch on the event loop), and this side still reads it
// (readFrom) until it is written. Nothing writes to a batch once taken.

export class PendingChunks {
  /** The batch being gathered: its first `used` bytes (null: nothing held). */
  private batch: Buffer | null = null;
  private used = 0;
  /** How big the last batch grew: the next one starts at that size (a burst gathers without regrowing). */
  private lastSize = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly flushBytes: number,
    private readonly flushMs: number,
    /** Writes what is held (called by the timer, or by add() at the byte bound). */
    private readonly flush: () => void,
    /** Memory for a batch of at least `bytes` (shared memory when batches go to the writer thread). */
    private readonly alloc: (bytes: number) => Buffer = (bytes) => Buffer.allocUnsafe(bytes),
  ) {}

  /** Copies a chunk into the batch; flushes at once past the byte bound, else makes sure the timer runs. */
  add(chunk: Uint8Array): void {
    const need = this.used + chunk.length;
    if (this.batch === null || need > this.batch.length) this.grow(need);
    this.batch!.set(chunk, this.used);
    this.used = need;
    if (need >= this.flushBytes) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  /** What is held, as one buffer (null when nothing is), and forgets it; the timer stops. */
  take(): Buffer | null {
    this.stopTimer();
    if (this.batch === null || this.used === 0) return null;
    const buf = this.batch.subarray(0, this.used);
    // With a quarter to spare: the next burst's chunks differ a little in size.
    this.lastSize = Math.min(this.used + (this.used >> 2), 2 * this.flushBytes);
    this.clear();
    return buf;
  }

  /** Drops what is held (the file failed) and stops the timer. */
  discard(): void {
    this.stopTimer();
    this.clear();
  }

  /** The bytes held, in order (read by readFrom before they are written). */
  get held(): readonly Uint8Array[] {
    return this.batch === null || this.used === 0 ? [] : [this.batch.subarray(0, this.used)];
  }

  /** A batch of at least `need` bytes, holding what the current one holds. */
  private grow(need: number): void {
    const size = Math.max(need, this.lastSize, 2 * (this.batch?.length ?? 0), 256);
    const next = this.alloc(size);
    if (this.batch !== null) this.batch.copy(next, 0, 0, this.used);
    this.batch = next;
  }

  private clear(): void {
    this.batch = null;
    this.used = 0;
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
