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
