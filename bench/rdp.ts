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
import { cpus } from 'node:os';
import { CpuWatch, fmt, median, MiB, ownTicks, quantile, rssOf, sleep, table } from './lib.js';
import { BenchRun, codecOf, connectClient, disconnect, num, PATH_LABEL, pathsOf, recordings, setRecording, startRdpEnv, TICK_MS, versions, type Env, type Path, type Target } from './rdp-setup.js';
import { FrameCounter, Painter, type Client } from './rdp-client.js';
import { X11 } from './rdp-x11.js';

const RUNS = num('BENCH_RDP_RUNS', 5);
const TP_RUNS = num('BENCH_RDP_TP_RUNS', 2);
const TP_SECONDS = num('BENCH_RDP_TP_SECONDS', 6);
const FPS = num('BENCH_RDP_FPS', 20);
const IDLE_SECONDS = num('BENCH_RDP_IDLE_SECONDS', 12);
const DEADLINE_MS = num('BENCH_DEADLINE_S', 900) * 1000;

const args = process.argv.slice(2);
const sections = new Set(args.filter((a) => ['first', 'throughput', 'idle'].includes(a)));
const targetsWanted = new Set(args.filter((a) => ['xrdp', 'shadow'].includes(a)));
const want = (k: string) => sections.size === 0 || sections.has(k);
const wantTarget = (k: string) => targetsWanted.size === 0 || targetsWanted.has(k);

const run = new BenchRun('rdp', DEADLINE_MS);
const { say, progress, quiet } = run;
const results = run.results;

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

run.run(async () => {
  const info = versions();
  results.machine = info;
  const env = await startRdpEnv(run, { xrdp: wantTarget('xrdp'), shadow: wantTarget('shadow') });
  const { targets } = env;

  say(`## RDP door benchmark run ${info.date}`);
  say();
  say(table(['machine', ''], Object.entries(info).map(([k, v]) => [k, v])));
  say();
  say(`Targets: ${targets.map((t) => t.label).join('; ')}. Client: xfreerdp on Xvfb 1024 × 768, full screen, the same .rdp settings on both paths (direct: a launched file's lines with the target's address instead of the door's, no ticket, and NLA allowed toward the NLA target; the credentials on the command line).`);
  say();
  if (want('first')) await benchFirstFrame(env);
  if (want('throughput')) await benchThroughput(env);
  if (want('idle')) await benchIdle(env);
  const rec = recordings(env.dataDir);
  results.recordings = rec;
  say(`Recordings written by the gateway in this run: ${rec.files} files, ${fmt(rec.bytes / MiB, 2)} MiB (${Object.entries(rec.byExt).map(([e, b]) => `${e}: ${fmt(b / MiB, 2)} MiB`).join(', ') || 'none'}).`);
  say();
});
