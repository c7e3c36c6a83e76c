// Shared memory for recording batches bound for the writer thread (pending-chunks.ts gathers
// them, recording-writer.ts hands them over). A SharedArrayBuffer costs far more to make
// than an ordinary buffer: fresh pages to map and zero, 75–115 µs for one of 64 KiB to 1 MiB
// on the benchmark machine (an ordinary one: 15–45 µs), over a second of the event loop per
// GiB of recorded text in 64 KiB batches. So the large ones are kept once the writer thread
// has written them and serve the next batches.
//
// Only a batch the thread answered "written" for comes back here: one dropped or failed may
// still sit in the thread's queue, and memory another recording writes to must never be
// read by it. Readers of a batch on this side (readFrom) copy what they read.

/** Batch memory comes in these sizes (powers of two), so a kept buffer fits the next batch of its size; larger batches get their own. */
const CLASSES = [64 * 1024, 128 * 1024, 256 * 1024, 512 * 1024];
/** The largest size kept. */
export const BATCH_BYTES = CLASSES.at(-1)!;
/** Kept at most per size: 7.5 MiB in all, enough for a few sessions' bursts in flight at once. */
export const KEEP = 8;

export class SharedBatches {
  private readonly free = new Map<number, SharedArrayBuffer[]>(CLASSES.map((c) => [c, []]));

  /**
   * Shared memory of at least `min` bytes for a batch: below half the smallest size its own (small
   * ones are cheap to make, and a quiet session's keystrokes need no 64 KiB), else a kept
   * buffer of the size that fits, or a new one of that size.
   */
  get(min: number): Buffer {
    const size = CLASSES.find((c) => c >= min);
    if (min < CLASSES[0]! / 2 || size === undefined) return Buffer.from(new SharedArrayBuffer(min));
    return Buffer.from(this.free.get(size)!.pop() ?? new SharedArrayBuffer(size));
  }

  /** A batch the writer thread has written: its memory may serve the next one. */
  written(batch: Uint8Array): void {
    const sab = batch.buffer;
    if (!(sab instanceof SharedArrayBuffer)) return;
    const list = this.free.get(sab.byteLength);
    if (list && list.length < KEEP && !list.includes(sab)) list.push(sab);
  }

  /** Buffers kept for reuse now. */
  get kept(): number {
    let n = 0;
    for (const l of this.free.values()) n += l.length;
    return n;
  }
}
