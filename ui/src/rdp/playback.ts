// Plays an RDP recording onto an RdpScreen: applies records up to a time, a bounded slice
// of work at a time (so a long seek does not freeze the page), and keeps snapshots of the
// decoder's state every ~30 s of recording time (at most 16) so seeking backwards re-decodes
// from the nearest snapshot instead of from the very start.
import { RdpScreen, type ScreenSnapshot } from './decoder.js';
import type { Recording } from './recording.js';

const MAX_SNAPSHOTS = 16;
const MIN_SNAPSHOT_INTERVAL_MS = 30_000;

interface Snapshot {
  /** Index of the first record not yet applied, and the period (time / interval) it was taken in. */
  next: number;
  period: number;
  state: ScreenSnapshot;
}

export class Playback {
  screen: RdpScreen;
  /** Index of the first record not yet applied. */
  next = 0;
  /** Moves whenever the picture (or the pointer) changes: the canvas repaints then. */
  version = 0;
  /** Every decoder warning seen so far, with the highest count (the screen is replaced on seeks). */
  readonly warnings = new Map<string, number>();
  private readonly interval: number;
  private snapshots: Snapshot[] = [];

  constructor(private readonly rec: Recording) {
    this.interval = Math.max(MIN_SNAPSHOT_INTERVAL_MS, Math.ceil((rec.duration * 1000) / MAX_SNAPSHOTS));
    this.screen = this.fresh();
  }

  private fresh(): RdpScreen {
    return new RdpScreen(this.rec.width, this.rec.height, this.rec.bpp);
  }

  /** Whether every record up to `ms` has been applied. */
  reached(ms: number): boolean {
    const r = this.rec.records[this.next];
    return r === undefined || r.time > ms;
  }

  /**
   * Gets ready to show time `ms`: when that lies behind what was applied already, or a
   * snapshot is nearer than the current position, restarts from the best snapshot or the start.
   */
  seek(ms: number): void {
    const records = this.rec.records;
    let best: Snapshot | null = null;
    for (const s of this.snapshots) if (records[s.next - 1]!.time <= ms) best = s;
    const applied = this.next > 0 ? records[this.next - 1]!.time : -1;
    if (applied <= ms && this.next >= (best?.next ?? 0)) return;
    this.collectWarnings();
    if (best) {
      this.screen = RdpScreen.fromSnapshot(best.state);
      this.next = best.next;
    } else {
      this.screen = this.fresh();
      this.next = 0;
    }
    this.version++;
  }

  /** Applies records up to `ms` until `deadline` (performance.now()); returns true once caught up. */
  advance(ms: number, deadline = Infinity): boolean {
    const records = this.rec.records;
    const pointer = this.screen.pointerSerial;
    let changed = false;
    let n = 0;
    while (this.next < records.length) {
      const r = records[this.next]!;
      if (r.time > ms) break;
      if (this.screen.apply(r)) changed = true;
      this.next++;
      this.maybeSnapshot(r.time);
      if (++n % 8 === 0 && performance.now() > deadline) break;
    }
    if (changed || this.screen.pointerSerial !== pointer) this.version++;
    if (n) this.collectWarnings();
    return this.reached(ms);
  }

  private maybeSnapshot(time: number): void {
    const period = Math.floor(time / this.interval);
    if (period < 1 || this.snapshots.some((s) => s.period === period)) return;
    const state = this.screen.snapshot();
    if (!state) return;
    this.snapshots.push({ next: this.next, period, state });
    this.snapshots.sort((a, b) => a.next - b.next);
  }

  private collectWarnings(): void {
    for (const [k, v] of this.screen.warnings) if ((this.warnings.get(k) ?? 0) < v) this.warnings.set(k, v);
  }

  /** How many snapshots are kept (for tests). */
  get snapshotCount(): number {
    return this.snapshots.length;
  }
}
