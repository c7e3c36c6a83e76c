// Browser RDP benchmarks (not tests): `npm run bench:rdp-browser [-- first latency cpu] [xrdp shadow]`.
// The same process tree as bench/rdp.ts (bench/rdp-setup.ts: Gatehouse compiled in a child
// process, xrdp, FreeRDP's shadow server, an Xvfb for xfreerdp, counting proxies), plus
// headless Chromium (Debian's, through playwright-core) opening the portal's /rdp/session
// page, whose IronRDP web client speaks RDCleanPath over a WebSocket to Gatehouse. The
// browser's HTTPS connections pass a counting proxy too. In one run, side by side:
//   1. time to the first frame: the browser (a fresh context, and a warm one that has the
//      page's files cached) vs xfreerdp through Gatehouse vs xfreerdp direct;
//   2. input latency on the shadow server's display: a window there (an X11 client of this
//      process) changes colour on every key press; from the key event at the client to the
//      new colour on the client's screen, p50/p99, the browser vs xfreerdp through
//      Gatehouse vs xfreerdp direct;
//   3. gateway CPU per session, busy (full-screen noise on the target) and idle, the
//      browser's session vs xfreerdp's.
// What the page drew is read in the page itself: an init script wraps the 2D canvas's
// putImageData (IronRDP draws every update with it) and notes, with the page's clock, when
// watched pixels change; the key's time is the keydown event's timeStamp. On the xfreerdp
// side the X11 pixel probe reads the client's Xvfb and keys go in through XTEST.
// Must run as root (the target account, xrdp); xrdp queues on the tests' lock. The UI must
// be built (npm run build:ui). Figures go to stdout as Markdown and to a JSON file in the
// temp dir; the write-up is docs/performance.md, "Performance of browser RDP".
// Knobs (environment): BENCH_RDPW_RUNS (5), BENCH_RDPW_KEYS (40), BENCH_RDPW_TP_SECONDS (6),
// BENCH_RDPW_FPS (20), BENCH_RDPW_IDLE_SECONDS (10), BENCH_QUIET_PERCENT (10),
// BENCH_QUIET_WAIT_S (10), BENCH_DEADLINE_S (900), BENCH_TSX=1.
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser } from '../test/support/browser.js';
import { CpuWatch, fmt, median, MiB, ownTicks, quantile, ROOT, sleep, table } from './lib.js';
import { BenchRun, connectClient, disconnect, launchTicket, noLiveSession, num, PATH_LABEL, pathsOf, startRdpEnv, TICK_MS, versions, type Connected, type Env, type Path, type Target } from './rdp-setup.js';
import { countingProxy, DESKTOP_POINTS, FrameCounter, near, Painter, waitBlank, type CountingProxy } from './rdp-client.js';
import { X11, X_EVENT } from './rdp-x11.js';

const RUNS = num('BENCH_RDPW_RUNS', 5);
const KEYS = num('BENCH_RDPW_KEYS', 40);
const TP_SECONDS = num('BENCH_RDPW_TP_SECONDS', 6);
const FPS = num('BENCH_RDPW_FPS', 20);
const IDLE_SECONDS = num('BENCH_RDPW_IDLE_SECONDS', 10);
const DEADLINE_MS = num('BENCH_DEADLINE_S', 900) * 1000;

const args = process.argv.slice(2);
const sections = new Set(args.filter((a) => ['first', 'latency', 'cpu'].includes(a)));
const targetsWanted = new Set(args.filter((a) => ['xrdp', 'shadow'].includes(a)));
const want = (k: string) => sections.size === 0 || sections.has(k);
const wantTarget = (k: string) => targetsWanted.size === 0 || targetsWanted.has(k);

const run = new BenchRun('rdp-browser', DEADLINE_MS);
const { say, progress, quiet } = run;
const results = run.results;

/** The desktop the browser asks for: xfreerdp's full screen on its Xvfb (the shadow server has its own 800 × 600). */
const DESKTOP = { width: 1024, height: 768 };
/** Where the key-latency window sits on the shadow server's display, and its two colours. */
const KEY_WINDOW = { x: 20, y: 20, w: 160, h: 120, colours: [0x10c040, 0x2040e0] };
const KEY_PROBE: [number, number] = [100, 80];
/** The painter's marker square (64 × 64 at the top left): its centre. */
const MARKER: [number, number] = [32, 32];
const XTEST_KEY_A = 38; // "a" in Xvfb's default (evdev) keymap

interface Bench {
  env: Env;
  browser: Browser;
  /** The browser's address for the gateway: its HTTPS port behind a counting proxy. */
  base: string;
  http: CountingProxy;
}

// ---------------------------------------------------------------- the page's instruments

/**
 * The init script every benchmark page gets (a string: it runs in the page, not in Node).
 * window.__bench keeps page-clock times (performance.now): the WebSocket's creation and
 * opening, the first putImageData, when every desktop point showed the desktop colour,
 * each keydown's timeStamp, and each change of the watched pixels (the key window and the
 * marker square) with the next animation frame after it.
 */
function instruments(desktopRgb: number): string {
  return `(() => {
  const near = (a, b, tol) => [16, 8, 0].every((s) => Math.abs(((a >> s) & 255) - ((b >> s) & 255)) <= tol);
  const B = (window.__bench = {
    t: {},
    desk: { points: ${JSON.stringify(DESKTOP_POINTS)}, rgb: ${Number(desktopRgb)}, seen: ${JSON.stringify(DESKTOP_POINTS.map(() => -1))} },
    watch: { key: { at: ${JSON.stringify(KEY_PROBE)}, last: -1, changes: [], frames: [] }, marker: { at: ${JSON.stringify(MARKER)}, last: -1, changes: [], frames: [] } },
    keys: [],
    puts: 0,
  });
  addEventListener('keydown', (e) => B.keys.push(e.timeStamp), true);
  const WS = window.WebSocket;
  window.WebSocket = class extends WS {
    constructor(...a) {
      super(...a);
      if (B.t.wsCreated === undefined) B.t.wsCreated = performance.now();
      this.addEventListener('open', () => { if (B.t.wsOpen === undefined) B.t.wsOpen = performance.now(); });
    }
  };
  const wrap = (proto) => {
    if (!proto) return;
    const put = proto.putImageData;
    proto.putImageData = function (img, dx, dy, sx, sy, sw, sh) {
      put.apply(this, arguments);
      const now = performance.now();
      B.puts++;
      if (B.t.firstPut === undefined) B.t.firstPut = now;
      if (sx === undefined) { sx = 0; sy = 0; sw = img.width; sh = img.height; }
      const at = (p) => {
        const ix = p[0] - dx, iy = p[1] - dy;
        if (ix < Math.max(0, sx) || iy < Math.max(0, sy) || ix >= Math.min(img.width, sx + sw) || iy >= Math.min(img.height, sy + sh)) return -1;
        const i = (iy * img.width + ix) * 4, d = img.data;
        return (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
      };
      if (B.t.desktop === undefined) {
        B.desk.points.forEach((p, k) => { const c = at(p); if (c >= 0) B.desk.seen[k] = c; });
        if (B.desk.seen.every((c) => c >= 0 && near(c, B.desk.rgb, 12))) B.t.desktop = now;
      }
      for (const w of [B.watch.key, B.watch.marker]) {
        const c = at(w.at);
        if (c < 0) continue;
        if (w.last >= 0 && !near(c, w.last, 40)) {
          w.changes.push(now);
          if (w.changes.length <= 5000) requestAnimationFrame(() => w.frames.push(performance.now()));
        }
        w.last = c;
      }
    };
  };
  wrap(window.CanvasRenderingContext2D && CanvasRenderingContext2D.prototype);
  wrap(window.OffscreenCanvasRenderingContext2D && OffscreenCanvasRenderingContext2D.prototype);
})();`;
}

interface PageTimes {
  origin: number;
  nav: { responseEnd: number; domContentLoaded: number };
  t: { wsCreated?: number; wsOpen?: number; firstPut?: number; desktop?: number };
  puts: number;
}

const pageTimes = (page: Page): Promise<PageTimes> =>
  page.evaluate(`(() => {
    const n = performance.getEntriesByType('navigation')[0];
    return { origin: performance.timeOrigin, nav: { responseEnd: n ? n.responseEnd : NaN, domContentLoaded: n ? n.domContentLoadedEventEnd : NaN }, t: window.__bench.t, puts: window.__bench.puts };
  })()`) as Promise<PageTimes>;

const phaseOf = (page: Page) => page.locator('.rdpw-page').getAttribute('data-phase').catch(() => null);

async function newBenchContext(b: Bench, t: Target): Promise<BrowserContext> {
  const context = await b.browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 }, baseURL: b.base });
  context.setDefaultTimeout(30_000);
  await context.addInitScript(instruments(t.rgb));
  return context;
}

interface BrowserSession {
  page: Page;
  /** ms from page.goto (the person opening the link) to the desktop drawn on the canvas, on one clock (epoch). */
  desktopMs: number;
  times: PageTimes;
  launchMs: number;
  close(): Promise<void>;
}

/**
 * Opens a browser RDP session on `page` (launch first, untimed) and waits, bounded, until
 * the page drew the target's desktop colour at every desktop point.
 */
async function openBrowserSession(b: Bench, t: Target, page: Page, ownsContext: boolean): Promise<BrowserSession> {
  const size = t.name === 'xrdp' ? `&GUAC_WIDTH=${DESKTOP.width}&GUAC_HEIGHT=${DESKTOP.height}&GUAC_DPI=96` : '';
  const { ticket, ms: launchMs } = await launchTicket(b.env, t);
  const startEpoch = performance.timeOrigin + performance.now();
  await page.goto(`/rdp/session?ticket=${ticket}&consent=1${size}`);
  const until = Date.now() + 45_000;
  let times = await pageTimes(page);
  while (times.t.desktop === undefined) {
    const phase = await phaseOf(page);
    if (phase === 'error' || phase === 'ended') throw new Error(`browser ${t.name}: the page says ${phase}: ${await page.locator('.rdpw-reason').textContent().catch(() => '')}`);
    if (Date.now() > until) throw new Error(`browser ${t.name}: no desktop on the canvas within 45 s (phase ${phase}, ${times.puts} putImageData calls)`);
    await sleep(25);
    times = await pageTimes(page);
  }
  const close = async () => {
    // Disconnect first (the page then drops its beforeunload prompt), then leave the page.
    if ((await phaseOf(page)) === 'connected') {
      await page.getByRole('button', { name: 'Disconnect' }).click({ timeout: 5000 }).catch(() => undefined);
      const end = Date.now() + 10_000;
      while ((await phaseOf(page)) === 'connected' && Date.now() < end) await sleep(50);
    }
    if (ownsContext) await page.context().close();
    else await page.goto('about:blank');
    await t.settle();
    await noLiveSession(b.env);
  };
  return { page, desktopMs: times.origin + times.t.desktop - startEpoch, times, launchMs, close };
}

// ---------------------------------------------------------------- 1. time to first frame

type FirstPath = Path | 'browser-cold' | 'browser-warm';
const FIRST_LABEL: Record<FirstPath, string> = {
  ...PATH_LABEL,
  gateway: 'xfreerdp through Gatehouse',
  direct: 'xfreerdp direct',
  'direct-plain': 'xfreerdp direct, no graphics pipeline',
  'browser-cold': 'browser, fresh context (nothing cached)',
  'browser-warm': "browser, warm context (the page's files cached)",
};

async function benchFirstFrame(b: Bench): Promise<void> {
  const rows: string[][] = [];
  const phaseRows: string[][] = [];
  const raw: Record<string, unknown> = {};
  const launches: number[] = [];
  for (const t of b.env.targets) {
    const paths: FirstPath[] = [...pathsOf(t), 'browser-cold', 'browser-warm'];
    progress(`first frame, ${t.name}: ${RUNS} runs per path (+1 warm-up each)`);
    const desktop = Object.fromEntries(paths.map((p) => [p, [] as number[]])) as Record<FirstPath, number[]>;
    const phases: PageTimes[] = [];
    const warm = await newBenchContext(b, t);
    const warmPage = await warm.newPage();
    const once = async (path: FirstPath): Promise<number> => {
      if (path === 'browser-cold' || path === 'browser-warm') {
        const cold = path === 'browser-cold';
        const page = cold ? await (await newBenchContext(b, t)).newPage() : warmPage;
        const s = await openBrowserSession(b, t, page, cold);
        await s.close();
        if (cold) phases.push(s.times);
        launches.push(s.launchMs);
        return s.desktopMs;
      }
      const c = await connectClient(b.env, t, path, 'WARN');
      await disconnect(b.env, t, c);
      return c.desktopMs;
    };
    try {
      for (const path of paths) await once(path); // warm-up: the warm context caches the page here
      const other0 = await quiet();
      const watch = new CpuWatch();
      for (let i = 0; i < RUNS; i++) {
        // Alternating, so that drift in other load hits every path alike.
        for (const path of paths) {
          await waitBlank(b.env.x, t.rgb, 10_000);
          const ms = await once(path);
          desktop[path].push(ms);
          progress(`  run ${i + 1} ${path}: desktop ${fmt(ms, 0)} ms`);
        }
      }
      const other = watch.stop(cpus().length);
      const base = desktop.gateway;
      for (const path of paths) {
        const xs = desktop[path];
        rows.push([`${t.name}: ${FIRST_LABEL[path]}`, fmt(median(xs), 0), fmt(quantile(xs, 0.9), 0), `${fmt(Math.min(...xs), 0)}–${fmt(Math.max(...xs), 0)}`, fmt(median(xs.map((x, i) => x / base[i]!)), 2), fmt(median(xs.map((x, i) => x / desktop.direct[i]!)), 2), fmt(Math.max(other0, other), 0)]);
      }
      const med = (f: (p: PageTimes) => number) => fmt(median(phases.map(f)), 0);
      phaseRows.push([t.name, med((p) => p.nav.responseEnd), med((p) => p.nav.domContentLoaded), med((p) => p.t.wsCreated ?? NaN), med((p) => p.t.wsOpen ?? NaN), med((p) => p.t.firstPut ?? NaN), med((p) => p.t.desktop ?? NaN)]);
      raw[t.name] = { desktop, coldPhases: phases, otherLoad: [other0, other] };
    } finally {
      await warm.close();
    }
  }
  say(`### 1. Time to the first frame (${RUNS} runs per path, alternating, after one warm-up each)`);
  say();
  say(table(['target: client', 'desktop ms median', 'p90', 'min–max', '× xfreerdp through Gatehouse (paired)', '× xfreerdp direct (paired)', 'other load %'], rows));
  say();
  say(`xfreerdp: from its spawn until five points of its screen show the target's desktop colour (X11 GetImage every 2 ms). Browser: from page.goto of /rdp/session?ticket=… in an open Chromium until the page's canvas got the desktop colour at the same five points (putImageData watched in the page; both clocks are the machine's). The launch API call is not in these times: median ${fmt(median(launches), 1)} ms for the browser's (one HTTPS request on a new connection).`);
  say();
  say("Where the browser's time goes (fresh context; ms after navigation start, median):");
  say();
  say(table(['target', 'HTML received', 'DOMContentLoaded', 'WebSocket created (web client loaded)', 'WebSocket open', 'first putImageData', 'desktop drawn'], phaseRows));
  say();
  results.firstFrame = { ...raw, launchMs: launches };
}

// ---------------------------------------------------------------- 2. input latency

type KeyPath = Path | 'browser';
const KEY_LABEL: Record<KeyPath, string> = { browser: 'browser through Gatehouse', gateway: 'xfreerdp through Gatehouse', direct: 'xfreerdp direct (graphics pipeline)', 'direct-plain': 'xfreerdp direct, no graphics pipeline' };

interface KeyRun {
  /** key event → the new colour drawn at the client (ms). */
  drawn: number[];
  /** browser only: key event → the next animation frame after it was drawn. */
  frame: number[];
  missed: number;
}

/** A random pause between key presses, so that they do not lock onto the target's capture rhythm. */
const gap = () => sleep(150 + Math.random() * 150);

async function keysBrowser(b: Bench, t: Target): Promise<KeyRun> {
  const context = await newBenchContext(b, t);
  const s = await openBrowserSession(b, t, await context.newPage(), true);
  const r: KeyRun = { drawn: [], frame: [], missed: 0 };
  try {
    const { page } = s;
    // Focus the canvas: a click on the desktop away from the key window.
    const box = await page.evaluate(`(() => { const c = document.querySelector('iron-remote-desktop').shadowRoot.querySelector('canvas'); const r = c.getBoundingClientRect(); return { left: r.left, top: r.top, sx: r.width / c.width, sy: r.height / c.height }; })()`) as { left: number; top: number; sx: number; sy: number };
    await page.mouse.click(box.left + 600 * box.sx, box.top + 100 * box.sy);
    await sleep(500);
    const read = () => page.evaluate('({ keys: window.__bench.keys.slice(), changes: window.__bench.watch.key.changes.slice(), frames: window.__bench.watch.key.frames.slice() })') as Promise<{ keys: number[]; changes: number[]; frames: number[] }>;
    for (let i = 0; i <= KEYS; i++) {
      const before = await read();
      await page.keyboard.press('a');
      const until = Date.now() + 3000;
      let now = before;
      while (Date.now() < until) {
        now = await read();
        if (now.changes.length > before.changes.length && now.frames.length > before.frames.length) break;
        await sleep(5);
      }
      const key = now.keys[before.keys.length];
      const change = now.changes[before.changes.length];
      if (i > 0) {
        // The first press is a warm-up.
        if (key === undefined || change === undefined) r.missed++;
        else {
          r.drawn.push(change - key);
          const f = now.frames[before.frames.length];
          if (f !== undefined) r.frame.push(f - key);
        }
      }
      await sleep(100); // any late second change lands before the next key
      await gap();
    }
  } finally {
    await s.close();
  }
  return r;
}

async function keysXfreerdp(b: Bench, t: Target, path: Path): Promise<KeyRun> {
  const c: Connected = await connectClient(b.env, t, path, 'WARN');
  const r: KeyRun = { drawn: [], frame: [], missed: 0 };
  const x = b.env.x;
  try {
    await sleep(1000);
    await x.queryExtension('XTEST'); // the opcode is looked up once, outside the timing
    for (let i = 0; i <= KEYS; i++) {
      const [before] = await x.pixels([KEY_PROBE]);
      const t0 = performance.now();
      await x.fakeKey(XTEST_KEY_A, true);
      await x.fakeKey(XTEST_KEY_A, false);
      const until = t0 + 3000;
      let at = NaN;
      while (performance.now() < until) {
        const [p] = await x.pixels([KEY_PROBE]);
        if (!near(p!, before!, 40)) {
          at = performance.now();
          break;
        }
        await sleep(1);
      }
      if (i > 0) {
        if (Number.isNaN(at)) r.missed++;
        else r.drawn.push(at - t0);
      }
      await sleep(100);
      await gap();
    }
  } finally {
    await disconnect(b.env, t, c);
  }
  return r;
}

async function benchLatency(b: Bench): Promise<void> {
  const t = b.env.targets.find((x) => x.name === 'shadow');
  if (!t || !b.env.shadow) {
    progress('input latency: needs the shadow target; skipped');
    return;
  }
  // The window on the target's display that repaints in the other colour on each key press.
  const tx = await X11.open(b.env.shadow.display.number);
  let colour = 0;
  let presses = 0;
  const win = tx.createWindow(KEY_WINDOW.x, KEY_WINDOW.y, KEY_WINDOW.w, KEY_WINDOW.h, KEY_WINDOW.colours[0]!);
  tx.onEvent = (code) => {
    if (code !== X_EVENT.KeyPress) return;
    presses++;
    colour = (colour + 1) % KEY_WINDOW.colours.length;
    tx.fillWindow(win, KEY_WINDOW.colours[colour]!);
  };
  await tx.sync();
  const paths: KeyPath[] = ['browser', 'gateway', 'direct-plain', 'direct'];
  const runs: Partial<Record<KeyPath, KeyRun>> = {};
  const others: number[] = [];
  try {
    progress(`input latency, ${t.name}: ${KEYS} keys per path (+1 warm-up), ${paths.join(', ')}`);
    for (const path of paths) {
      others.push(await quiet());
      const watch = new CpuWatch();
      runs[path] = path === 'browser' ? await keysBrowser(b, t) : await keysXfreerdp(b, t, path);
      others.push(watch.stop(cpus().length));
      const k = runs[path]!;
      progress(`  ${path}: p50 ${fmt(median(k.drawn), 1)} ms, p99 ${fmt(quantile(k.drawn, 0.99), 1)} ms, ${k.missed} missed`);
    }
  } finally {
    tx.close();
  }
  const base = runs.gateway!;
  const direct = runs['direct-plain']!;
  const rows = paths.map((p) => {
    const k = runs[p]!;
    return [
      KEY_LABEL[p],
      String(k.drawn.length),
      fmt(median(k.drawn), 1),
      fmt(quantile(k.drawn, 0.99), 1),
      `${fmt(Math.min(...k.drawn), 1)}–${fmt(Math.max(...k.drawn), 1)}`,
      fmt(median(k.drawn) / median(base.drawn), 2),
      fmt(median(k.drawn) / median(direct.drawn), 2),
      k.frame.length ? `${fmt(median(k.frame), 1)} / ${fmt(quantile(k.frame, 0.99), 1)}` : '',
      String(k.missed),
    ];
  });
  say(`### 2. Input latency: key event at the client → the key window's new colour on the client's screen (shadow target, ${KEYS} keys per path)`);
  say();
  say(table(['client', 'keys', 'p50 ms', 'p99 ms', 'min–max', '× xfreerdp through Gatehouse (p50)', '× xfreerdp direct, same graphics (p50)', 'browser: to the next animation frame p50 / p99', 'missed (3 s)'], rows));
  say();
  say(`A ${KEY_WINDOW.w} × ${KEY_WINDOW.h} window on the shadow server's display (an X11 client of the bench, with the keyboard focus) fills itself with the other of two colours on every KeyPress; the target saw ${presses} presses. Browser: Playwright presses "a"; from the keydown event's timeStamp to the putImageData that drew the new colour at (${KEY_PROBE.join(', ')}), both on the page's clock. xfreerdp: XTEST key press and release on its Xvfb; from just before the request to the first poll (GetImage every ~1 ms) that shows the new colour. Keys 300–450 ms apart. Other load during the runs: ${fmt(Math.min(...others), 0)}–${fmt(Math.max(...others), 0)}%.`);
  say();
  results.latency = { runs, presses, otherLoad: others };
}

// ---------------------------------------------------------------- 3. gateway CPU per session

interface CpuRow {
  target: string;
  client: 'browser' | 'xfreerdp';
  busy: { cpuPercent: number; msPerMiB: number; mibPerS: number; updatesPerS: number; paintedPerS: number; other: number };
  idle: { cpuPercent: number; ticks: number; seconds: number; bytesPerS: number; upBytesPerS: number; other: number };
}

/** Gateway CPU (ticks) and bytes on the client leg (to the client, and from it) over `seconds`. */
async function measureWindow(b: Bench, proxy: CountingProxy, seconds: number): Promise<{ ticks: number; bytes: number; upBytes: number; s: number; other: number }> {
  const d0 = proxy.down();
  const u0 = proxy.up();
  const ticks0 = ownTicks(b.env.gw.pid);
  const watch = new CpuWatch();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const s = (performance.now() - t0) / 1000;
  return { ticks: ownTicks(b.env.gw.pid) - ticks0, bytes: proxy.down() - d0, upBytes: proxy.up() - u0, s, other: watch.stop(cpus().length) };
}

async function cpuRun(b: Bench, t: Target, client: 'browser' | 'xfreerdp'): Promise<CpuRow> {
  let close: () => Promise<void>;
  let markerChanges: () => Promise<number>;
  let stopCounter: (() => Promise<number>) | null = null;
  const proxy = client === 'browser' ? b.http : b.env.gwProxy;
  if (client === 'browser') {
    const context = await newBenchContext(b, t);
    const s = await openBrowserSession(b, t, await context.newPage(), true);
    close = s.close;
    markerChanges = () => s.page.evaluate('window.__bench.watch.marker.changes.length') as Promise<number>;
  } else {
    const c = await connectClient(b.env, t, 'gateway', 'WARN');
    close = () => disconnect(b.env, t, c);
    markerChanges = async () => 0;
  }
  let painterX: X11 | null = null;
  try {
    await sleep(2000);
    const idle = await measureWindow(b, proxy, IDLE_SECONDS);
    const { n, cookie } = t.desktop();
    painterX = await X11.open(n, cookie);
    const painter = Painter.start(painterX, FPS);
    await sleep(1500); // the pipeline fills up
    const frames0 = painter.frames;
    const marks0 = await markerChanges();
    let counter: FrameCounter | null = null;
    if (client === 'xfreerdp') {
      counter = new FrameCounter(b.env.x);
      stopCounter = () => counter!.stop();
    }
    const busy = await measureWindow(b, proxy, TP_SECONDS);
    const updates = client === 'browser' ? (await markerChanges()) - marks0 : await stopCounter!();
    stopCounter = null;
    const painted = painter.frames - frames0;
    await painter.stop();
    const mib = busy.bytes / MiB;
    return {
      target: t.name,
      client,
      busy: { cpuPercent: (busy.ticks * TICK_MS) / (10 * busy.s), msPerMiB: mib > 0 ? (busy.ticks * TICK_MS) / mib : NaN, mibPerS: mib / busy.s, updatesPerS: updates / busy.s, paintedPerS: painted / busy.s, other: busy.other },
      idle: { cpuPercent: (idle.ticks * TICK_MS) / (10 * idle.s), ticks: idle.ticks, seconds: idle.s, bytesPerS: idle.bytes / idle.s, upBytesPerS: idle.upBytes / idle.s, other: idle.other },
    };
  } finally {
    await stopCounter?.();
    painterX?.close();
    await close();
  }
}

async function benchCpu(b: Bench): Promise<void> {
  const all: CpuRow[] = [];
  // The shadow target only: xrdp starts the browser's session at the 16 bits per pixel the
  // web client asks for, and the painter draws 24/32-bit screens only.
  const targets = b.env.targets.filter((t) => t.name === 'shadow');
  for (const t of targets) {
    progress(`gateway CPU, ${t.name}: idle ${IDLE_SECONDS} s, then noise at ${FPS} frames/s for ${TP_SECONDS} s; browser and xfreerdp through Gatehouse (recorded)`);
    await quiet();
    for (const client of ['browser', 'xfreerdp'] as const) {
      const r = await cpuRun(b, t, client);
      all.push(r);
      progress(`  ${client}: busy ${fmt(r.busy.cpuPercent, 1)}% of a core, ${fmt(r.busy.mibPerS, 2)} MiB/s, ${fmt(r.busy.updatesPerS, 1)} updates/s; idle ${fmt(r.idle.cpuPercent, 2)}% (other load ${fmt(r.busy.other, 0)}%)`);
    }
  }
  const rows: string[][] = [];
  for (const t of targets) {
    const native = all.find((r) => r.target === t.name && r.client === 'xfreerdp')!;
    for (const r of all.filter((x) => x.target === t.name)) {
      const idleCpu = r.idle.ticks === 0 ? `< ${fmt(TICK_MS / (10 * r.idle.seconds), 2)}` : fmt(r.idle.cpuPercent, 2);
      rows.push([
        `${t.name}: ${r.client === 'browser' ? 'browser (WebSocket door)' : 'xfreerdp (RDP door)'}`,
        fmt(r.busy.cpuPercent, 1),
        r.client === 'browser' ? fmt(r.busy.cpuPercent / native.busy.cpuPercent, 2) : '1.00',
        fmt(r.busy.mibPerS, 2),
        fmt(r.busy.msPerMiB, 1),
        r.client === 'browser' ? fmt(r.busy.msPerMiB / native.busy.msPerMiB, 2) : '1.00',
        fmt(r.busy.updatesPerS, 1),
        fmt(r.busy.paintedPerS, 1),
        idleCpu,
        `${fmt(r.idle.bytesPerS / 1024, 2)} / ${fmt(r.idle.upBytesPerS / 1024, 2)}`,
        fmt(Math.max(r.busy.other, r.idle.other), 0),
      ]);
    }
  }
  say(`### 3. Gateway CPU per session through Gatehouse, recorded: busy (full-screen noise at ${FPS} frames/s, ${TP_SECONDS} s) and idle (${IDLE_SECONDS} s)`);
  say();
  say(table(['target: client', 'busy: gateway CPU % of a core', '× xfreerdp', 'MiB/s to client', 'gateway CPU ms / MiB', '× xfreerdp', 'screen updates/s at client', 'painted frames/s', 'idle: gateway CPU % of a core', 'idle KiB/s to / from client', 'other load % (max)'], rows));
  say();
  say(`Bytes to the client: TLS records from the gateway, counted by a TCP proxy in front of the RDP door (xfreerdp) and in front of the HTTPS port (the browser's WebSocket). Screen updates at the client: changes of the painter's 64 × 64 marker square (xfreerdp: sampled every 3 ms on its Xvfb; browser: every putImageData that changed it). Gateway CPU: utime + stime of the gateway process over the window (10 ms clock ticks).`);
  say();
  results.cpu = all;
}

// ---------------------------------------------------------------- main

run.run(async () => {
  if (!existsSync(join(ROOT, 'ui', 'dist', 'index.html'))) throw new Error('the UI is not built: npm run build:ui');
  const info = versions({ chromium: ['/usr/bin/chromium', ['--version'], /Chromium ([\d.]+)/] });
  results.machine = info;
  const env = await startRdpEnv(run, { xrdp: wantTarget('xrdp'), shadow: wantTarget('shadow') });
  const http = await countingProxy(Number(new URL(env.gw.url).port));
  run.cleanups.push(() => http.close());
  const browser = await launchBrowser();
  run.cleanups.push(() => browser.close());
  const b: Bench = { env, browser, base: `https://127.0.0.1:${http.port}`, http };

  say(`## Browser RDP benchmark run ${info.date}`);
  say();
  say(table(['machine', ''], Object.entries(info).map(([k, v]) => [k, v])));
  say();
  say(`Targets: ${env.targets.map((t) => t.label).join('; ')}. Clients: headless Chromium ${info.chromium} (IronRDP web client on /rdp/session, viewport 1280 × 900, desktop ${DESKTOP.width} × ${DESKTOP.height} on xrdp) and xfreerdp on Xvfb ${DESKTOP.width} × ${DESKTOP.height}, full screen, as in bench/rdp.ts. Every session through Gatehouse is recorded (the built-in rdp launcher).`);
  say();
  if (want('first')) await benchFirstFrame(b);
  if (want('latency')) await benchLatency(b);
  if (want('cpu')) await benchCpu(b);
});
