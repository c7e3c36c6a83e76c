// Group commit: appends that arrive while one is being written go into the next database
// transaction together, so N concurrent launches cost one commit (one fsync on SQLite, one
// round of lock + commit on PostgreSQL) instead of N. Each caller still awaits its own item:
// it resolves only once the transaction holding it has committed, and rejects if that
// transaction failed. One bad item must not refuse the others: a failed batch is written
// again item by item, in the same order, so only the item that fails alone is rejected.
// Batches run one at a time through `serial` (the audit service's queue, shared with
// checkpoints), in the order the items were added.

interface Waiting<I, O> {
  item: I;
  resolve: (o: O) => void;
  reject: (e: unknown) => void;
}

export const MAX_GROUP = 256;

/**
 * A `serial` for a GroupCommit that has no queue to share (the audit shares its own with
 * checkpoints): jobs run one after the other; a rejection never sits unhandled on the chain.
 */
export function ownQueue(): (job: () => Promise<void>) => void {
  let queue: Promise<unknown> = Promise.resolve();
  return (job) => {
    queue = queue.then(job, job).catch(() => undefined);
  };
}

export class GroupCommit<I, O> {
  private pending: Waiting<I, O>[] = [];

  constructor(
    /** Runs a job after every job handed to it before (a promise chain). */
    private readonly serial: (job: () => Promise<void>) => void,
    /** Writes the items in one transaction and answers one output per item, in order. */
    private readonly commit: (items: I[]) => Promise<O[]>,
    private readonly max = MAX_GROUP,
  ) {}

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      // The first item waiting schedules a flush; later ones ride along with it. The flush
      // waits for the next turn of the event loop: a request runs from its socket to its
      // append in one turn (better-sqlite3 answers synchronously), so the other requests read
      // in the same turn reach their appends first and share the commit. Started at once, the
      // flush would run in microtasks before any of them, one commit (one fsync) per append.
      if (this.pending.length === 1) setImmediate(() => this.serial(() => this.flush()));
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0, this.max);
    if (this.pending.length) this.serial(() => this.flush());
    if (!batch.length) return;
    try {
      const out = await this.commit(batch.map((w) => w.item));
      batch.forEach((w, i) => w.resolve(out[i]!));
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      for (const w of batch) {
        try {
          w.resolve((await this.commit([w.item]))[0]!);
        } catch (e) {
          w.reject(e);
        }
      }
    }
  }
}
