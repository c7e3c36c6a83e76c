// The chunks a recording file holds back before writing them in one go: written when they
// reach a byte bound or when a timer fires, whichever comes first (fewer, larger writes
// without delaying a quiet session's last bytes). Shared by the one-file Appender and the
// segmented one (recording-spool.ts), which differ only in where a batch goes.

export class PendingChunks {
  private chunks: Uint8Array[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly flushBytes: number,
    private readonly flushMs: number,
    /** Writes what is held (called by the timer, or by add() at the byte bound). */
    private readonly flush: () => void,
  ) {}

  /** Holds a chunk; flushes at once past the byte bound, else makes sure the timer runs. */
  add(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes >= this.flushBytes) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  /**
   * What is held, as one buffer (null when nothing is), and forgets it; the timer stops.
   * `shared`: in a SharedArrayBuffer, for a batch posted to the writer thread: posting shares
   * it instead of serializing a copy (which cost about 50 µs per 64 KiB batch on the event
   * loop, 0.8 ns per recorded byte), and this side still reads it (readFrom) until it is
   * written. Nothing writes to a batch once taken.
   */
  take(shared = false): Buffer | null {
    this.stopTimer();
    if (this.chunks.length === 0) return null;
    const buf = shared ? concatShared(this.chunks, this.bytes) : Buffer.concat(this.chunks);
    this.clear();
    return buf;
  }

  /** Drops what is held (the file failed) and stops the timer. */
  discard(): void {
    this.stopTimer();
    this.clear();
  }

  /** The chunks held, in order (read by readFrom before they are written). */
  get held(): readonly Uint8Array[] {
    return this.chunks;
  }

  private clear(): void {
    this.chunks = [];
    this.bytes = 0;
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

function concatShared(chunks: readonly Uint8Array[], bytes: number): Buffer {
  const out = Buffer.from(new SharedArrayBuffer(bytes));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
