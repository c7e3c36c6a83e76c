// RDP door benchmarks (not tests): `npm run bench:rdp [-- first throughput idle] [xrdp shadow]`.
// Starts, in one process tree: xrdp + sesman (TLS target, Xvnc sessions), FreeRDP's shadow
// server (NLA target, on its own Xvfb), an Xvfb for the person's xfreerdp, and Gatehouse in
// a child process (bench/gateway-child.ts, compiled). Every client connection, direct or
// through Gatehouse, passes a counting TCP proxy on the client leg. Side by side, with the
// same xfreerdp and the same .rdp settings:
//   1. time from xfreerdp start to the first frame: until the client's screen shows the
//      target's desktop colour (an X11 pixel probe every 2 ms), and until the client logs
//      CONNECTION_STATE_ACTIVE; direct vs the launched .rdp file;
//   2. relay throughput: full-screen noise painted on the target desktop at a fixed frame
//      rate; bytes/s to the client and screen updates/s at the client, direct vs through;
//   3. gateway CPU per session, busy (recording on, and off once per round) and idle, and
//      the recording's bytes per minute.
// Figures go to stdout as Markdown tables and to a JSON file in the temp dir; the write-up
// is docs/performance.md. Must run as root (the target account, xrdp). Only one xrdp can
// run on the machine: startXrdp queues on the tests' lock.
// Knobs (environment): BENCH_RDP_RUNS (5), BENCH_RDP_TP_RUNS (2), BENCH_RDP_TP_SECONDS (6),
// BENCH_RDP_FPS (20), BENCH_RDP_IDLE_SECONDS (12), BENCH_QUIET_PERCENT (10),
// BENCH_QUIET_WAIT_S (10), BENCH_DEADLINE_S (900), BENCH_TSX=1.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { ensureTargetAccount } from '../test/support/accounts.js';
import { SHADOW_DESKTOP_RGB, startShadowServer, startXrdp, startXvfb, XRDP_DESKTOP_RGB, type ShadowServer, type XDisplay, type Xrdp } from '../test/support/xrdp.js';
import { api, buildGatewayChild, closeApiAgent, CpuWatch, fmt, freePort, killTracked, median, MiB, ownTicks, quantile, rssOf, sleep, startGatewayChild, table, waitQuiet, withTimeout, type GatewayChild } from './lib.js';
import { countingProxy, FrameCounter, Painter, startClient, waitBlank, waitDesktop, type Client, type CountingProxy } from './rdp-client.js';
import { X11, xauthCookie } from './rdp-x11.js';

const num = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const RUNS = num('BENCH_RDP_RUNS', 5);
const TP_RUNS = num('BENCH_RDP_TP_RUNS', 2);
const TP_SECONDS = num('BENCH_RDP_TP_SECONDS', 6);
const FPS = num('BENCH_RDP_FPS', 20);
const IDLE_SECONDS = num('BENCH_RDP_IDLE_SECONDS', 12);
const QUIET_PERCENT = num('BENCH_QUIET_PERCENT', 10);
const QUIET_WAIT_S = num('BENCH_QUIET_WAIT_S', 10);
const DEADLINE_MS = num('BENCH_DEADLINE_S', 900) * 1000;
const ADMIN_PASSWORD = 'bench-Admin-Password-1';
const SHADOW_ACCOUNT = { username: 'ghshadow', password: 'Sh4dow-Bench-Pw!7q' };
const TICK_MS = 10; // USER_HZ 100

const args = process.argv.slice(2);
const sections = new Set(args.filter((a) => ['first', 'throughput', 'idle'].includes(a)));
const targetsWanted = new Set(args.filter((a) => ['xrdp', 'shadow'].includes(a)));
const want = (k: string) => sections.size === 0 || sections.has(k);
const wantTarget = (k: string) => targetsWanted.size === 0 || targetsWanted.has(k);

const results: Record<string, unknown> = {};
const out: string[] = [];
const say = (s = '') => {
  console.log(s);
  out.push(s);
};
const started = performance.now();
const progress = (s: string) => process.stderr.write(`[bench:rdp ${fmt((performance.now() - started) / 1000, 0).padStart(3)} s] ${s}\n`);
const cleanups: (() => Promise<unknown>)[] = [];

/** direct-plain: direct with the .rdp setting that keeps FreeRDP off the graphics pipeline (see directRdpFile). */
type Path = 'direct' | 'direct-plain' | 'gateway';

interface Target {
  name: 'xrdp' | 'shadow';
  label: string;
  rgb: number;
  proxy: CountingProxy;
  /** The .rdp file for direct connections: the launched file's settings, the target's address. */
  directFile: string;
  /** Only where the direct client would otherwise use the graphics pipeline, which Gatehouse does not offer the target. */
  directPlainFile: string | null;
  credentials: string[];
  secretId: string;
  /** The X display showing the target's desktop now (xrdp: the running session's Xvnc). */
  desktop(): { n: number; cookie: Buffer | null };
  /** Until the target has cleaned up after a client left. */
  settle(): Promise<void>;
}

interface Env {
  dir: string;
  gw: GatewayChild;
  dataDir: string;
  token: string;
  gwProxy: CountingProxy;
  client: XDisplay;
  x: X11;
  targets: Target[];
}

// ---------------------------------------------------------------- setup

async function startGw(dir: string): Promise<{ gw: GatewayChild; dataDir: string; token: string; rdpPort: number }> {
  const dataDir = mkdtempSync(join(dir, 'gw-'));
  const rdpPort = await freePort();
  const gw = await startGatewayChild(process.env.BENCH_TSX === '1' ? null : buildGatewayChild(), {
    GATEHOUSE_DATA_DIR: dataDir,
    GATEHOUSE_HTTP_PORT: '0',
    GATEHOUSE_SSH_PORT: '0',
    GATEHOUSE_RDP_PORT: String(rdpPort),
    GATEHOUSE_BIND_HOST: '127.0.0.1',
    GATEHOUSE_PUBLIC_URL: 'https://127.0.0.1',
    GATEHOUSE_ADMIN_PASSWORD: ADMIN_PASSWORD,
    GATEHOUSE_LOG_LEVEL: 'info',
  });
  const login = await api(gw.url, 'POST', '/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${JSON.stringify(login.body)}`);
  return { gw, dataDir, token: login.body.token as string, rdpPort };
}

async function createSecret(env: { gw: GatewayChild; token: string }, name: string, port: number, username: string, password: string): Promise<string> {
  const r = await api(env.gw.url, 'POST', '/secrets', { token: env.token, body: { name, template: 'windows-account', fields: { machine: '127.0.0.1', port, username, password } } });
  if (r.status !== 201) throw new Error(`create secret: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id as string;
}

/**
 * A launched .rdp file's settings (clipboard, drives and printers as the launcher has them)
 * pointed at the target itself, without the ticket; NLA toward an NLA-only target. `plain`
 * adds `connection type:i:1`: opening a .rdp file, FreeRDP 2 offers the graphics pipeline
 * (H.264) and RemoteFX, which the shadow server then uses; Gatehouse removes that offer on
 * the way to the target, so its sessions get plain bitmap updates. The "modem" connection
 * type is the one file setting that turns both off in FreeRDP 2.11 (its other effects,
 * such as no wallpaper, change nothing on these targets).
 */
function directRdpFile(launched: string, dir: string, name: string, port: number, nla: boolean, plain = false): string {
  const lines = launched
    .split('\r\n')
    .filter((l) => l && !l.startsWith('loadbalanceinfo:') && !l.startsWith('pcb:'))
    .map((l) => {
      if (l.startsWith('full address:s:')) return `full address:s:127.0.0.1:${port}`;
      if (l.startsWith('server port:i:')) return `server port:i:${port}`;
      if (nla && l === 'enablecredsspsupport:i:0') return 'enablecredsspsupport:i:1';
      return l;
    });
  if (plain) lines.push('connection type:i:1');
  const file = join(dir, `direct-${name}${plain ? '-plain' : ''}.rdp`);
  writeFileSync(file, lines.map((l) => `${l}\r\n`).join(''));
  return file;
}

/** A launch (untimed by the client measurement): the .rdp file written to disk, and how long the API took. */
async function launchFile(env: Env, t: Target): Promise<{ file: string; ms: number }> {
  const t0 = performance.now();
  const { ticket, text } = await launchedRdp(env, t.secretId);
  const ms = performance.now() - t0;
  const file = join(env.dir, `gw-${t.name}-${ticket}.rdp`);
  writeFileSync(file, text);
  return { file, ms };
}

/** POST /secrets/:id/launch and GET the .rdp file, each on a new HTTPS connection as a browser's first visit would. */
async function launchedRdp(env: { gw: GatewayChild; token: string }, secretId: string): Promise<{ ticket: string; text: string }> {
  const l = await api(env.gw.url, 'POST', `/secrets/${secretId}/launch`, { token: env.token, body: { launcher: 'rdp' }, fresh: true });
  if (l.status !== 200) throw new Error(`launch: ${l.status} ${JSON.stringify(l.body)}`);
  const f = await api(env.gw.url, 'GET', String(l.body.rdpFile).replace(/^\/api\/v1/, ''), { token: env.token, fresh: true });
  if (f.status !== 200 || typeof f.body !== 'string') throw new Error(`rdp file: ${f.status}`);
  return { ticket: l.body.ticket as string, text: f.body };
}

async function setRecording(env: Env, on: boolean): Promise<void> {
  const r = await api(env.gw.url, 'PATCH', '/launchers/rdp', { token: env.token, body: { record: on } });
  if (r.status !== 200) throw new Error(`launcher update: ${r.status} ${JSON.stringify(r.body)}`);
}

function xrdpTarget(xrdp: Xrdp, proxy: CountingProxy, directFile: string, secretId: string, account: { username: string; password: string; home: string }): Target {
  /** Window managers already ended: each pid is signalled once, never again (pids get reused). */
  const ended = new Set<number>();
  return {
    name: 'xrdp',
    label: 'xrdp (TLS; credentials in the Client Info PDU; a new Xvnc session per connection)',
    rgb: XRDP_DESKTOP_RGB,
    proxy,
    directFile,
    directPlainFile: null, // xrdp 0.9 has no graphics pipeline
    credentials: [`/u:${account.username}`, `/p:${account.password}`],
    secretId,
    desktop: () => {
      const all = [...xrdp.sesmanLog().matchAll(/Starting X server on display (\d+)/g)];
      const n = Number(all.at(-1)?.[1] ?? NaN);
      if (!Number.isFinite(n)) throw new Error('no X display in the sesman log');
      return { n, cookie: xauthCookie(join(account.home, '.Xauthority'), n) };
    },
    // sesman keeps a disconnected session until its window manager exits (and a new
    // connection would reattach to it): end it, so that every connection logs on afresh.
    settle: async () => {
      const log = xrdp.sesmanLog();
      for (const m of log.matchAll(/window manager \(pid (\d+)\)/g)) {
        const pid = Number(m[1]);
        if (ended.has(pid)) continue;
        ended.add(pid);
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* ended already */
        }
      }
      const displays = [...log.matchAll(/Starting X server on display (\d+)/g)].map((m) => m[1]!);
      const until = Date.now() + 15_000;
      while (displays.some((d) => existsSync(`/tmp/.X${d}-lock`))) {
        if (Date.now() > until) {
          progress(`  warning: an xrdp session's X server is still running 15 s after the client left`);
          return;
        }
        await sleep(50);
      }
    },
  };
}

function shadowTarget(shadow: ShadowServer, proxy: CountingProxy, directFile: string, directPlainFile: string, secretId: string): Target {
  return {
    name: 'shadow',
    label: 'FreeRDP shadow server (NLA; shares its Xvfb, 800 × 600)',
    rgb: SHADOW_DESKTOP_RGB,
    proxy,
    directFile,
    directPlainFile,
    credentials: [`/u:${SHADOW_ACCOUNT.username}`, `/p:${SHADOW_ACCOUNT.password}`],
    secretId,
    desktop: () => ({ n: shadow.display.number, cookie: null }),
    settle: () => sleep(300),
  };
}

/** Bytes of every file under the gateway's recordings dir, by extension. */
function recordings(dataDir: string): { bytes: number; files: number; byExt: Record<string, number> } {
  const r = { bytes: 0, files: 0, byExt: {} as Record<string, number> };
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const size = statSync(p).size;
        r.bytes += size;
        r.files++;
        r.byExt[extname(e.name) || '(none)'] = (r.byExt[extname(e.name) || '(none)'] ?? 0) + size;
      }
    }
  };
  walk(join(dataDir, 'recordings'));
  return r;
}

const quiet = () => waitQuiet({ percent: QUIET_PERCENT, waitSeconds: QUIET_WAIT_S, sampleMs: 1500, progress });

// ---------------------------------------------------------------- one connection

interface Connected {
  client: Client;
  /** ms from spawn until the client's screen showed the desktop colour. */
  desktopMs: number;
  launchMs: number;
}

async function connectClient(env: Env, t: Target, path: Path, logLevel: 'DEBUG' | 'WARN'): Promise<Connected> {
  await waitBlank(env.x, t.rgb, 10_000);
  let file = path === 'direct-plain' ? t.directPlainFile! : t.directFile;
  let launchMs = NaN;
  if (path === 'gateway') ({ file, ms: launchMs } = await launchFile(env, t));
  const client = startClient(file, env.client.display, path === 'gateway' ? [] : t.credentials, logLevel);
  try {
    const desktopMs = await waitDesktop(env.x, t.rgb, client.t0, client, 45_000);
    return { client, desktopMs, launchMs };
  } catch (e) {
    await client.stop();
    throw new Error(`${t.name} ${path}: ${(e as Error).message}`);
  }
}

async function disconnect(env: Env, t: Target, c: Connected): Promise<void> {
  await c.client.stop();
  await t.settle();
  const until = Date.now() + 15_000;
  while ((await env.gw.call<number>('live')) > 0 && Date.now() < until) await sleep(100);
}

/** What the client decoded, from its DEBUG log: the graphics pipeline, RemoteFX, or plain bitmap updates. */
function codecOf(c: Client): string {
  const gfx = !Number.isNaN(c.firstLine(/\[com\.freerdp\.channels\.rdpgfx\.client\]/));
  const h264 = !Number.isNaN(c.firstLine(/H264_METABLOCK/));
  const rfx = !Number.isNaN(c.firstLine(/\[com\.freerdp\.codec\.rfx\]/));
  const parts = [gfx ? `graphics pipeline${h264 ? ' (H.264)' : ''}` : '', rfx ? 'RemoteFX surface bits' : ''].filter(Boolean);
  return parts.length ? parts.join(' + ') : 'bitmap updates';
}

// ---------------------------------------------------------------- 1. time to first frame

/** Arrival time of each `--> CONNECTION_STATE_X` transition in the client's DEBUG log. */
function statesOf(c: Client): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { at, line } of c.lines()) {
    const m = /--> CONNECTION_STATE_(\w+)/.exec(line);
    if (m && out[m[1]!] === undefined) out[m[1]!] = at;
  }
  return out;
}

const stats = (xs: number[]) => ({ median: median(xs), p90: quantile(xs, 0.9), min: Math.min(...xs), max: Math.max(...xs) });

/** The paths a target is measured on: direct, direct without the graphics pipeline where that differs, through Gatehouse. */
const pathsOf = (t: Target): Path[] => (t.directPlainFile ? ['direct', 'direct-plain', 'gateway'] : ['direct', 'gateway']);
const PATH_LABEL: Record<Path, string> = { direct: 'direct', 'direct-plain': 'direct, no graphics pipeline', gateway: 'through Gatehouse' };

async function benchFirstFrame(env: Env): Promise<void> {
  const rows: string[][] = [];
  const launches: number[] = [];
  const codecs: string[][] = [];
  const phases: string[][] = [];
  const raw: Record<string, unknown> = {};
  const others: number[] = [];
  for (const t of env.targets) {
    const paths = pathsOf(t);
    progress(`first frame, ${t.name}: ${RUNS} runs per path (+1 warm-up each)`);
    const m = Object.fromEntries(paths.map((p) => [p, { desktop: [] as number[], active: [] as number[], codec: '', states: [] as Record<string, number>[] }]));
    for (const path of paths) {
      const c = await connectClient(env, t, path, 'DEBUG');
      await sleep(500);
      m[path]!.codec = codecOf(c.client);
      await disconnect(env, t, c);
    }
    others.push(await quiet());
    const watch = new CpuWatch();
    for (let i = 0; i < RUNS; i++) {
      // Alternating, so that drift in other load hits every path alike.
      for (const path of paths) {
        const c = await connectClient(env, t, path, 'DEBUG');
        const active = c.client.firstLine(/CONNECTION_STATE_ACTIVE/);
        m[path]!.desktop.push(c.desktopMs);
        m[path]!.active.push(active);
        m[path]!.states.push(statesOf(c.client));
        if (path === 'gateway') launches.push(c.launchMs);
        progress(`  run ${i + 1} ${path}: active ${fmt(active, 0)} ms, desktop ${fmt(c.desktopMs, 0)} ms`);
        await disconnect(env, t, c);
      }
    }
    const other = watch.stop(cpus().length);
    others.push(other);
    const d = m.direct!.desktop;
    for (const path of paths) {
      const xs = m[path]!.desktop;
      const act = m[path]!.active;
      const s = stats(xs);
      const added = median(xs.map((x, i) => x - d[i]!));
      rows.push([
        `${t.name}: ${PATH_LABEL[path]}`,
        fmt(s.median, 0),
        fmt(s.p90, 0),
        `${fmt(s.min, 0)}–${fmt(s.max, 0)}`,
        fmt(median(act), 0),
        fmt(quantile(act, 0.9), 0),
        path === 'direct' ? '1.00' : fmt(median(xs.map((x, i) => x / d[i]!)), 2),
        path === 'direct' ? '' : `${added >= 0 ? '+' : ''}${fmt(added, 0)}`,
        fmt(other, 0),
      ]);
    }
    codecs.push([t.name, ...paths.map((p) => `${PATH_LABEL[p]}: ${m[p]!.codec}`)]);
    // Where the time goes: when the client entered each connection state, per path.
    const states = [...new Set(paths.flatMap((p) => m[p]!.states.flatMap((x) => Object.keys(x))))];
    const at = (p: Path, st: string) => median(m[p]!.states.map((x) => x[st] ?? NaN).filter((v) => !Number.isNaN(v)));
    const sameGraphics: Path = t.directPlainFile ? 'direct-plain' : 'direct';
    for (const st of states.sort((a, b) => at('direct', a) - at('direct', b))) {
      phases.push([t.name, st, fmt(at('direct', st), 0), t.directPlainFile ? fmt(at('direct-plain', st), 0) : '', fmt(at('gateway', st), 0), fmt(at('gateway', st) - at(sameGraphics, st), 0)]);
    }
    raw[t.name] = { ...m, foreignCpuPercent: other };
  }
  say(`### 1. Time from xfreerdp start to the first frame (${RUNS} runs per path, alternating, after one warm-up each)`);
  say();
  say(table(['target: path', 'desktop ms median', 'p90', 'min–max', 'active ms median', 'p90', '× direct (desktop, paired)', '+ ms vs direct (paired median)', 'other load %'], rows));
  say();
  say(`"desktop": the first 2 ms poll at which five points of the client's screen show the target's desktop colour (X11 GetImage on the client's Xvfb). "active": when xfreerdp logged CONNECTION_STATE_ACTIVE (line-buffered output, arrival time). The launch API call and the .rdp download are not in these times: median ${fmt(median(launches), 1)} ms (${fmt(Math.min(...launches), 1)}–${fmt(Math.max(...launches), 1)}), two HTTPS requests on new connections.`);
  say();
  say('What the client decoded (from its DEBUG log):');
  say();
  for (const c of codecs) say(`- ${c[0]}: ${c.slice(1).join('; ')}`);
  say();
  say('When the client entered each connection state (ms after start, median; from its DEBUG log). The last column compares Gatehouse with the direct path that gets the same graphics:');
  say();
  say(table(['target', 'state', 'direct', 'direct, no graphics pipeline', 'through Gatehouse', 'Gatehouse − direct'], phases));
  say();
  results.firstFrame = { ...raw, launchMs: launches, otherLoad: others };
}

// ---------------------------------------------------------------- 2 + 3. throughput and CPU

interface Busy {
  target: string;
  path: Path;
  recording: boolean;
  mibPerS: number;
  updatesPerS: number;
  paintedPerS: number;
  gwCpuPercent: number;
  gwCpuMsPerMiB: number;
  recMiBPerMin: number;
  gwRssMiB: number;
  other: number;
}

async function busyRun(env: Env, t: Target, path: Path, recording: boolean): Promise<Busy> {
  const c = await connectClient(env, t, path, 'WARN');
  let painterX: X11 | null = null;
  try {
    await sleep(500);
    const { n, cookie } = t.desktop();
    painterX = await X11.open(n, cookie);
    const painter = Painter.start(painterX, FPS);
    await sleep(1500); // the pipeline fills up
    const counter = new FrameCounter(env.x);
    const proxy = path === 'gateway' ? env.gwProxy : t.proxy;
    const down0 = proxy.down();
    const ticks0 = ownTicks(env.gw.pid);
    const rec0 = recordings(env.dataDir).bytes;
    const frames0 = painter.frames;
    const watch = new CpuWatch();
    const t0 = performance.now();
    await sleep(TP_SECONDS * 1000);
    const s = (performance.now() - t0) / 1000;
    const down = proxy.down() - down0;
    const ticks = ownTicks(env.gw.pid) - ticks0;
    const rec = recordings(env.dataDir).bytes - rec0;
    const painted = painter.frames - frames0;
    const other = watch.stop(cpus().length);
    const updates = await counter.stop();
    const rss = rssOf(env.gw.pid);
    await painter.stop();
    if (c.client.exited()) throw new Error(`xfreerdp exited during the run:\n${c.client.tail().slice(-1500)}`);
    const mib = down / MiB;
    return {
      target: t.name,
      path,
      recording,
      mibPerS: mib / s,
      updatesPerS: updates / s,
      paintedPerS: painted / s,
      gwCpuPercent: path === 'gateway' ? (ticks * TICK_MS) / (10 * s) : NaN,
      gwCpuMsPerMiB: path === 'gateway' && mib > 0 ? (ticks * TICK_MS) / mib : NaN,
      recMiBPerMin: path === 'gateway' ? rec / MiB / (s / 60) : NaN,
      gwRssMiB: rss / MiB,
      other,
    };
  } finally {
    painterX?.close();
    await disconnect(env, t, c);
  }
}

async function benchThroughput(env: Env): Promise<void> {
  const all: Busy[] = [];
  for (const t of env.targets) {
    const paths = pathsOf(t);
    progress(`throughput, ${t.name}: ${TP_RUNS} × ${TP_SECONDS} s per path, noise at ${FPS} frames/s`);
    await quiet();
    // Recording off is a launcher setting read when the ticket is redeemed: switched for
    // one run per round, to tell the recorder's CPU from the relay's.
    const runs = [...paths.map((path) => ({ path, recording: true })), { path: 'gateway' as Path, recording: false }];
    for (let r = 0; r < TP_RUNS; r++) {
      for (const { path, recording } of runs) {
        if (!recording) await setRecording(env, false);
        let b: Busy;
        try {
          b = await busyRun(env, t, path, recording);
        } finally {
          if (!recording) await setRecording(env, true);
        }
        all.push(b);
        progress(`  run ${r + 1} ${path}${recording ? '' : ', recording off'}: ${fmt(b.mibPerS, 2)} MiB/s, ${fmt(b.updatesPerS, 1)} updates/s at the client${path === 'gateway' ? `, gateway CPU ${fmt(b.gwCpuPercent, 1)}%, recording ${fmt(b.recMiBPerMin, 1)} MiB/min` : ''} (other load ${fmt(b.other, 0)}%)`);
      }
    }
  }
  const rows: string[][] = [];
  for (const t of env.targets) {
    const of = (path: Path, rec: boolean) => all.filter((b) => b.target === t.name && b.path === path && b.recording === rec);
    // The ratio is taken against the direct path that gets the same codec as the gateway path.
    const baseline: Path = t.directPlainFile ? 'direct-plain' : 'direct';
    const base = of(baseline, true);
    const med = (xs: Busy[], k: keyof Busy) => median(xs.map((b) => b[k] as number));
    const ratio = (xs: Busy[], k: keyof Busy) => median(xs.map((b, i) => (b[k] as number) / (base[i]![k] as number)));
    const row = (label: string, xs: Busy[], ratios: boolean) => [
      label,
      fmt(med(xs, 'mibPerS'), 2),
      xs.map((b) => fmt(b.mibPerS, 2)).join(', '),
      fmt(med(xs, 'updatesPerS'), 1),
      ratios ? fmt(ratio(xs, 'mibPerS'), 2) : '',
      ratios ? fmt(ratio(xs, 'updatesPerS'), 2) : '',
      fmt(med(xs, 'gwCpuPercent'), 1),
      fmt(med(xs, 'gwCpuMsPerMiB'), 1),
      fmt(med(xs, 'recMiBPerMin'), 1),
      fmt(median(xs.map((b) => b.recMiBPerMin / 60 / b.mibPerS)), 2),
      fmt(Math.max(...xs.map((b) => b.other)), 0),
    ];
    for (const path of pathsOf(t)) rows.push(row(`${t.name}: ${PATH_LABEL[path]}${path === 'gateway' ? ', recorded' : ''}${path === baseline ? ' (baseline)' : ''}`, of(path, true), path === 'gateway'));
    const off = of('gateway', false);
    if (off.length) rows.push(row(`${t.name}: through Gatehouse, recording off`, off, true));
  }
  say(`### 2. Relay throughput and gateway CPU, busy session: full-screen noise at ${FPS} frames/s on the target desktop (${TP_RUNS} × ${TP_SECONDS} s per path, interleaved)`);
  say();
  say(table(['target: path', 'MiB/s to client (median)', 'runs', 'screen updates/s at client', '× baseline MiB/s', '× baseline updates/s', 'gateway CPU % of a core', 'gateway CPU ms / MiB', 'recording MiB/min', 'recorded ÷ relayed bytes', 'other load % (max)'], rows));
  say();
  say(`MiB/s: bytes from the server side to xfreerdp on the client leg (TLS records), counted by a TCP proxy in front of both the target (direct) and the door, from 1.5 s after painting starts. Screen updates/s: how often a 64 × 64 marker square, repainted in a new colour with every noise frame, changed on the client's screen (sampled every 3 ms). Gateway CPU: utime + stime of the gateway process over the window. The ratios are medians of per-round ratios to the baseline: the direct path on which the target sends the same kind of graphics as through Gatehouse.`);
  say();
  results.throughput = all;
}

async function benchIdle(env: Env): Promise<void> {
  const rows: string[][] = [];
  const raw: Record<string, unknown> = {};
  for (const t of env.targets) {
    progress(`idle, ${t.name}: ${IDLE_SECONDS} s through Gatehouse (recorded)`);
    const c = await connectClient(env, t, 'gateway', 'WARN');
    try {
      await sleep(2000);
      const down0 = env.gwProxy.down();
      const ticks0 = ownTicks(env.gw.pid);
      const rec0 = recordings(env.dataDir).bytes;
      const watch = new CpuWatch();
      const t0 = performance.now();
      await sleep(IDLE_SECONDS * 1000);
      const s = (performance.now() - t0) / 1000;
      const ticks = ownTicks(env.gw.pid) - ticks0;
      const down = env.gwProxy.down() - down0;
      const rec = recordings(env.dataDir).bytes - rec0;
      const o = watch.stop(cpus().length);
      const r = { cpuPercent: (ticks * TICK_MS) / (10 * s), ticks, bytesPerS: down / s, recKiBPerMin: rec / 1024 / (s / 60), other: o, seconds: s };
      raw[t.name] = r;
      // One clock tick is 10 ms: below that the figure is an upper bound.
      const cpu = ticks === 0 ? `< ${fmt(TICK_MS / (10 * s), 2)}` : fmt(r.cpuPercent, 2);
      rows.push([t.name, cpu, fmt(r.bytesPerS / 1024, 1), fmt(r.recKiBPerMin, 1), fmt(o, 0)]);
    } finally {
      await disconnect(env, t, c);
    }
  }
  say(`### 3. Idle session through Gatehouse, recorded (${IDLE_SECONDS} s; a still desktop: xclock redraws once a minute)`);
  say();
  say(table(['target', 'gateway CPU % of a core', 'KiB/s to client', 'recording KiB/min', 'other load %'], rows));
  say();
  results.idle = raw;
}

// ---------------------------------------------------------------- main

function versions(): Record<string, string> {
  const v = (cmd: string, a: string[], re: RegExp) => {
    try {
      return re.exec(execFileSync(cmd, a, { stdio: ['ignore', 'pipe', 'pipe'] }).toString())?.[1] ?? '?';
    } catch (e) {
      return re.exec(String((e as { stdout?: Buffer }).stdout ?? ''))?.[1] ?? '?';
    }
  };
  return {
    date: new Date().toISOString(),
    node: process.version,
    xrdp: v('dpkg-query', ['-W', '-f', '${Version}', 'xrdp'], /(.+)/),
    freerdp: v('dpkg-query', ['-W', '-f', '${Version}', 'freerdp2-x11'], /(.+)/),
    tigervnc: v('dpkg-query', ['-W', '-f', '${Version}', 'tigervnc-standalone-server'], /(.+)/),
    cpu: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    kernel: release(),
  };
}

async function runCleanups(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await withTimeout(c(), 20_000, 'cleanup').catch((e) => progress(`cleanup: ${(e as Error).message}`));
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error(`[bench:rdp] deadline of ${DEADLINE_MS / 1000} s passed: stopping everything`);
    void runCleanups().finally(() => {
      killTracked();
      process.exit(2);
    });
  }, DEADLINE_MS);
  watchdog.unref();
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      void runCleanups().finally(() => {
        killTracked();
        process.exit(130);
      });
    });

  const info = versions();
  results.machine = info;
  const account = ensureTargetAccount();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-rdp-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  try {
    progress('compiling src/ for the gateway process; starting xrdp, the shadow server and the displays');
    const [g, xrdp, shadow, client] = await Promise.all([
      startGw(dir),
      wantTarget('xrdp') ? startXrdp() : Promise.resolve(null),
      wantTarget('shadow') ? startShadowServer(SHADOW_ACCOUNT) : Promise.resolve(null),
      startXvfb('1024x768', 120),
    ]);
    cleanups.push(() => client.stop());
    if (shadow) cleanups.push(() => shadow.stop());
    if (xrdp) cleanups.push(() => xrdp.stop());
    cleanups.push(() => g.gw.stop());
    const gwProxy = await countingProxy(g.rdpPort);
    cleanups.push(() => gwProxy.close());
    // Launches hand out the proxy: the gateway path's client leg is counted like the direct one.
    const p = await api(g.gw.url, 'PATCH', '/launchers/rdp', { token: g.token, body: { gatewayPort: gwProxy.port } });
    if (p.status !== 200) throw new Error(`launcher update: ${p.status} ${JSON.stringify(p.body)}`);
    const x = await X11.open(client.number);
    cleanups.push(async () => x.close());
    const targets: Target[] = [];
    if (xrdp) {
      const proxy = await countingProxy(xrdp.port);
      cleanups.push(() => proxy.close());
      const id = await createSecret(g, 'bench-xrdp', xrdp.port, account.username, account.password);
      // The direct file is a launched one (its ticket never used) with the target's address.
      const { text } = await launchedRdp(g, id);
      targets.push(xrdpTarget(xrdp, proxy, directRdpFile(text, dir, 'xrdp', proxy.port, false), id, account));
    }
    if (shadow) {
      const proxy = await countingProxy(shadow.port);
      cleanups.push(() => proxy.close());
      const id = await createSecret(g, 'bench-shadow', shadow.port, SHADOW_ACCOUNT.username, SHADOW_ACCOUNT.password);
      const { text } = await launchedRdp(g, id);
      targets.push(shadowTarget(shadow, proxy, directRdpFile(text, dir, 'shadow', proxy.port, true), directRdpFile(text, dir, 'shadow', proxy.port, true, true), id));
    }
    const env: Env = { dir, gw: g.gw, dataDir: g.dataDir, token: g.token, gwProxy, client, x, targets };

    say(`## RDP door benchmark run ${info.date}`);
    say();
    say(table(['machine', ''], Object.entries(info).map(([k, v]) => [k, v])));
    say();
    say(`Targets: ${targets.map((t) => t.label).join('; ')}. Client: xfreerdp on Xvfb 1024 × 768, full screen, the same .rdp settings on both paths (direct: a launched file's lines with the target's address instead of the door's, no ticket, and NLA allowed toward the NLA target; the credentials on the command line).`);
    say();
    if (want('first')) await benchFirstFrame(env);
    if (want('throughput')) await benchThroughput(env);
    if (want('idle')) await benchIdle(env);
    const rec = recordings(g.dataDir);
    results.recordings = rec;
    say(`Recordings written by the gateway in this run: ${rec.files} files, ${fmt(rec.bytes / MiB, 2)} MiB (${Object.entries(rec.byExt).map(([e, b]) => `${e}: ${fmt(b / MiB, 2)} MiB`).join(', ') || 'none'}).`);
    say();
  } finally {
    closeApiAgent();
    await runCleanups();
    killTracked();
    const file = join(tmpdir(), `gatehouse-bench-rdp-${Date.now()}.json`);
    writeFileSync(file, JSON.stringify({ results, output: out.join('\n') }, null, 2));
    progress(`figures also in ${file}`);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error('[bench:rdp] failed:', err);
    killTracked();
    process.exit(1);
  },
);
