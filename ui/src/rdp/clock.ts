// The replay clock: where in the recording the player is, moved on every animation frame by
// the time elapsed × speed, held while the decoder catches up (a long seek, a heavy burst of
// updates), and with "skip idle" jumping over gaps without any record longer than 2 s.
import { Playback } from './playback.js';
import { recordIndexAfter, type Recording } from './recording.js';

export const IDLE_GAP_MS = 2000;
/** How much of a skipped gap still plays, so a jump does not come as a surprise. */
const IDLE_LEAD_MS = 500;
/** Decoding work per animation frame; the rest waits for the next frame. */
const SLICE_MS = 12;

export class PlayerClock {
  readonly playback: Playback;
  /** Milliseconds into the recording. */
  t = 0;
  playing = false;
  speed = 1;
  skipIdle = true;
  private last: number | null = null;
  readonly duration: number;

  constructor(readonly rec: Recording) {
    this.playback = new Playback(rec);
    this.duration = Math.round(rec.duration * 1000);
  }

  play(): void {
    if (this.t >= this.duration) this.seek(0);
    this.playing = true;
    this.last = null;
  }

  pause(): void {
    this.playing = false;
  }

  seek(ms: number): void {
    this.t = Math.max(0, Math.min(this.duration, ms));
    this.playback.seek(this.t);
    this.last = null;
  }

  /** Whether the picture still lags behind the clock (decoding after a seek). */
  get catchingUp(): boolean {
    return !this.playback.reached(this.t);
  }

  /** One animation frame at wall-clock `now` (ms). */
  tick(now: number): void {
    const behind = this.catchingUp;
    if (this.playing && !behind && this.last !== null) {
      this.t += (now - this.last) * this.speed;
      if (this.skipIdle) this.skipGap();
      if (this.t >= this.duration) {
        this.t = this.duration;
        this.playing = false;
      }
    }
    this.last = now;
    this.playback.advance(this.t, now + SLICE_MS);
  }

  private skipGap(): void {
    const records = this.rec.records;
    const i = recordIndexAfter(this.rec, this.t);
    const prev = i > 0 ? records[i - 1]!.time : 0;
    const next = records[i]?.time;
    if (next !== undefined && next - prev > IDLE_GAP_MS && this.t - prev >= IDLE_LEAD_MS) this.t = next;
  }
}
