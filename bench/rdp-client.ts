// The client side of the RDP benchmark: xfreerdp under Xvfb with line-buffered log output
// (each line gets its arrival time), a pixel probe on the client's display, a painter that
// keeps a target desktop busy, and a counting TCP proxy on the client leg.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep, track } from './lib.js';
import { X11 } from './rdp-x11.js';

// ---------------------------------------------------------------- xfreerdp

export interface Client {
  proc: ChildProcess;
  /** performance.now() at spawn. */
  t0: number;
  /** ms after spawn at which a log line matching `re` first arrived, or NaN. */
  firstLine(re: RegExp): number;
  /** Every log line so far, with its arrival time (ms after spawn). */
  lines(): readonly { at: number; line: string }[];
  tail(): string;
  exited(): boolean;
  stop(): Promise<void>;
}

/**
 * xfreerdp opening `file` on `display`. stdbuf makes its stdio line-buffered, so a log
 * line arrives when it is written: FreeRDP 2's own timestamps are not usable (their
 * seconds and milliseconds come from different clocks and disagree).
 */
export function startClient(file: string, display: string, extra: string[], logLevel: 'DEBUG' | 'WARN'): Client {
  const home = mkdtempSync(join(tmpdir(), 'gatehouse-bench-xfreerdp-'));
  const t0 = performance.now();
  const proc = track(spawn('stdbuf', ['-oL', '-eL', 'xfreerdp', file, '/cert:ignore', `/log-level:${logLevel}`, ...extra], { env: { ...process.env, DISPLAY: display, HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] }));
  const lines: { at: number; line: string }[] = [];
  let tail = '';
  let partial = '';
  const onData = (d: Buffer) => {
    const at = performance.now() - t0;
    const s = partial + d.toString('latin1');
    const parts = s.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) if (lines.length < 20_000) lines.push({ at, line });
    tail = (tail + d.toString('latin1')).slice(-4000);
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const gone = new Promise<void>((r) => proc.once('exit', () => r()));
  const firstLine = (re: RegExp) => lines.find((l) => re.test(l.line))?.at ?? NaN;
  return {
    proc,
    t0,
    firstLine,
    lines: () => lines,
    tail: () => tail,
    exited: () => proc.exitCode !== null || proc.signalCode !== null,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await gone;
        clearTimeout(t);
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- the client's screen

/** Channels within `tol` of each other (the shadow server's codecs are lossy). */
export function near(a: number, b: number, tol: number): boolean {
  return [16, 8, 0].every((s) => Math.abs(((a >> s) & 0xff) - ((b >> s) & 0xff)) <= tol);
}

/**
 * Points on the remote desktop (top left of the client's screen) that are desktop
 * background on both targets: inside 800 × 600 (the shadow server's screen) and outside
 * both xclock windows.
 */
export const DESKTOP_POINTS: [number, number][] = [
  [600, 100],
  [700, 500],
  [150, 450],
  [600, 550],
  [100, 350],
];

/**
 * Polls the client's display every `everyMs` until every desktop point shows `rgb`;
 * resolves with the ms since `t0`, or rejects when the client exits or time runs out.
 */
export async function waitDesktop(x: X11, rgb: number, t0: number, client: Client | null, timeoutMs: number, everyMs = 2): Promise<number> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const px = await x.pixels(DESKTOP_POINTS);
    if (px.every((p) => near(p, rgb, 12))) return performance.now() - t0;
    if (client?.exited()) throw new Error(`xfreerdp exited before the desktop showed:\n${client.tail().slice(-1500)}`);
    if (performance.now() > until) throw new Error(`the desktop colour did not show within ${timeoutMs} ms (seen: ${px.map((p) => p.toString(16)).join(' ')})${client ? `\n${client.tail().slice(-1500)}` : ''}`);
    await sleep(everyMs);
  }
}

/** Waits until the client's screen no longer shows the desktop (the previous client has gone). */
export async function waitBlank(x: X11, rgb: number, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    const px = await x.pixels(DESKTOP_POINTS);
    if (!px.some((p) => near(p, rgb, 12))) return;
    await sleep(50);
  }
  throw new Error('the client display still shows the remote desktop');
}

// ---------------------------------------------------------------- painter and frame counter

/** Top-left square whose colour changes with every painted frame, for counting frames at the client. */
const MARK = 64;
const markColour = (f: number) => (((f * 97) & 0xff) << 16) | (((f * 57 + 128) & 0xff) << 8) | ((f * 23 + 64) & 0xff);

/**
 * Paints full-screen noise on an X display at a fixed frame rate (fresh noise every frame:
 * a random window into a pool, so that no bitmap cache can hit), with a marker square.
 */
export class Painter {
  frames = 0;
  private running = true;
  private readonly done: Promise<void>;
  private constructor(private readonly x: X11, fps: number) {
    const { width: w, height: h } = x;
    const pool = randomFillSync(Buffer.alloc(w * h * 4 + 4 * 1024 * 1024));
    const mark = Buffer.alloc(MARK * MARK * 4);
    this.done = (async () => {
      const t0 = performance.now();
      while (this.running) {
        const off = 4 * Math.floor(Math.random() * 1024 * 1024);
        x.putImage(0, 0, w, h, pool.subarray(off, off + w * h * 4));
        const c = markColour(this.frames);
        for (let i = 0; i < mark.length; i += 4) mark.writeUInt32LE(c, i);
        x.putImage(0, 0, MARK, MARK, mark);
        await x.sync();
        this.frames++;
        const next = t0 + (this.frames * 1000) / fps;
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
      }
    })();
  }
  static start(x: X11, fps: number): Painter {
    return new Painter(x, fps);
  }
  /** Stops painting and gives the desktop its background back (the shadow server's display outlives the session). */
  async stop(): Promise<void> {
    this.running = false;
    await this.done;
    this.x.clearRoot();
    await this.x.sync();
  }
}

/** Counts how often the marker square changes on the client's screen (sampled every `everyMs`). */
export class FrameCounter {
  changes = 0;
  samples = 0;
  private running = true;
  private readonly done: Promise<void>;
  constructor(x: X11, everyMs = 3) {
    this.done = (async () => {
      let last = -1;
      while (this.running) {
        const [p] = await x.pixels([[MARK / 2, MARK / 2]]);
        this.samples++;
        if (last >= 0 && !near(p!, last, 40)) this.changes++;
        last = p!;
        await sleep(everyMs);
      }
    })();
  }
  async stop(): Promise<number> {
    this.running = false;
    await this.done;
    return this.changes;
  }
}

// ---------------------------------------------------------------- client-leg proxy

export interface CountingProxy {
  port: number;
  /** Bytes from the server side to the client (target or gateway → xfreerdp), all connections so far. */
  down(): number;
  up(): number;
  close(): Promise<void>;
}

/** A TCP proxy on 127.0.0.1 that counts (and does not keep) the bytes of the client leg. */
export async function countingProxy(targetPort: number): Promise<CountingProxy> {
  let down = 0;
  let up = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((c) => {
    const s = connect(targetPort, '127.0.0.1');
    sockets.add(c).add(s);
    c.setNoDelay(true);
    s.setNoDelay(true);
    c.on('data', (d: Buffer) => (up += d.length));
    s.on('data', (d: Buffer) => (down += d.length));
    c.pipe(s);
    s.pipe(c);
    const done = () => {
      c.destroy();
      s.destroy();
      sockets.delete(c);
      sockets.delete(s);
    };
    c.on('error', done).on('close', done);
    s.on('error', done).on('close', done);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    down: () => down,
    up: () => up,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
