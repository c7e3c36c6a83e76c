// Work a process does on a timer (sweepers, the cluster's heartbeat and upkeep): one helper, so
// every one of them behaves alike. A run still going when the next is due is not doubled (that
// tick is skipped: a slow database or store would otherwise pile sweeps on top of each other,
// each repeating the last one's work), a failure is handed to the caller to log, the timer does
// not keep the process alive, and stop() waits for a run under way.

export interface Periodic {
  /** Runs now unless a run is under way. */
  run(): void;
  /** No more runs; resolves once the run under way (if any) has finished. */
  stop(): Promise<void>;
}

export function periodic(fn: () => Promise<unknown>, everyMs: number, failed: (e: unknown) => void, opts: { now?: boolean; everyTick?: () => void } = {}): Periodic {
  let running: Promise<void> | null = null;
  let stopped = false;
  const run = () => {
    if (running || stopped) return;
    running = fn()
      .then(() => undefined, failed)
      .finally(() => (running = null));
  };
  const timer = setInterval(() => {
    opts.everyTick?.();
    run();
  }, everyMs);
  timer.unref();
  if (opts.now) run();
  return {
    run,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

/**
 * Stops every one of them and waits, for at most `waitMs`, for the runs under way: a shutdown
 * must not close the database under a sweep that has nearly finished, nor wait without end for
 * one held up by a store or target that does not answer. The names of those still running at
 * the bound are returned (the caller logs them; their work is written so that being cut off is
 * safe, and the next start's sweep takes it up).
 */
export async function stopAll(named: Record<string, Periodic>, waitMs: number): Promise<string[]> {
  const pending = new Set(Object.keys(named));
  const all = Promise.all(Object.entries(named).map(([name, p]) => p.stop().finally(() => pending.delete(name))));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([all, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
  clearTimeout(timer);
  return [...pending];
}
