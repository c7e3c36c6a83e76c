// Recording compression benchmark (not a test): `npm run bench:recording-compression [-- text shell rdp]`.
// What storing recordings compressed (GATEHOUSE_RECORDING_COMPRESSION=gzip, the default)
// saves on disk and costs in CPU, on recordings made at the start of the run by real
// sessions through a real gateway (nothing large is committed):
//   text:  the SSH benchmark's text workload (bench/ssh.ts: `yes 'The quick brown fox…' |
//          head -c N`) through the SSH door, recorded as asciicast;
//   shell: a pty session running ordinary commands (ls -l, ps, cat of text files, find),
//          recorded as asciicast;
//   rdp:   an xfreerdp session to xrdp through the RDP door (ghrec-rdp), while the target
//          desktop shows "office" activity: windows opened, filled and closed, and a
//          text-like page scrolling (synthetic glyphs, as a terminal or editor draws them);
//   rdp-noise: the same with full-screen noise at 20 fps (bench/rdp.ts's relay workload:
//          the worst case, nothing left to compress).
// Each recording is cut into the chunks its writer flushed (the gzip members the gateway
// wrote: one per flush), and those chunks are written again here, compressed and plain:
//   - compression alone, on this thread: zlib level 1 (the default), 6 and 9, CPU time by
//     process.cpuUsage() (user + system), median of BENCH_REC_RUNS runs;
//   - the whole write path, as a gateway writes: the recording writer thread
//     (src/core/sessions/recording-writer.ts) appending to a file, gzip vs none; CPU of the
//     process (every thread) and wall time.
// Figures go to stdout as Markdown tables and to a JSON file in the temp dir; the write-up
// is docs/performance.md. Knobs (environment): BENCH_REC_TEXT_MB (32), BENCH_REC_RUNS (5),
// BENCH_REC_RDP_SECONDS (20), BENCH_DEADLINE_S (900). The rdp workloads need root (xrdp).
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { gzipMember, memberIndex } from '../src/core/sessions/recording-gzip.js';
import { DEFAULT_WRITER_LIMITS, RecordingWriter } from '../src/core/sessions/recording-writer.js';
import { ensureTargetAccount, TARGET_PASSWORD } from '../test/support/accounts.js';
import { startGateway, type Gateway } from '../test/support/gateway.js';
import { findRecording } from '../test/support/recordings.js';
import { createSecret, endedSession, launch, run, sessionOf } from '../test/support/ssh-client.js';
import { startSshd } from '../test/support/sshd.js';
import { fmt, median, MiB, sleep, table } from './lib.js';
import { Painter } from './rdp-client.js';
import { BenchRun, connectClient, disconnect, num, startRdpEnv, versions, type Env, type Target } from './rdp-setup.js';
import { X11 } from './rdp-x11.js';

const TEXT_BYTES = num('BENCH_REC_TEXT_MB', 32) * MiB;
const RUNS = num('BENCH_REC_RUNS', 5);
const RDP_SECONDS = num('BENCH_REC_RDP_SECONDS', 20);
const LEVELS = [1, 6, 9];

const bench = new BenchRun('recording-compression', num('BENCH_DEADLINE_S', 900) * 1000);
const { say, progress } = bench;
const wanted = new Set(process.argv.slice(2));
const want = (k: string) => wanted.size === 0 || wanted.has(k);

interface Workload {
  name: string;
  label: string;
  /** What the writer flushed, in order (the first is the recording's header). */
  chunks: Buffer[];
  /** The gateway's own compressed file. */
  storedBytes: number;
}

const plainBytes = (w: Workload) => w.chunks.reduce((n, c) => n + c.length, 0);

/** The flushes of a recording the gateway stored compressed: one gzip member each. */
function flushesOf(file: string): { chunks: Buffer[]; storedBytes: number } {
  if (!file.endsWith('.gz')) throw new Error(`${file}: the gateway should store recordings compressed (the default)`);
  const data = readFileSync(file);
  const { members } = memberIndex(file);
  return { chunks: members.map((m) => gunzipSync(data.subarray(m.offset, m.offset + m.length))), storedBytes: statSync(file).size };
}

/** CPU ms (user + system, every thread of the process) that `fn` took. */
function cpuMs(fn: () => void): number {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

// ---------------------------------------------------------------- making the recordings

async function terminalWorkloads(): Promise<Workload[]> {
  ensureTargetAccount();
  const sshd = await startSshd();
  let gw: Gateway | null = null;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-reccomp-'));
  try {
    // A larger write queue than the default 8 MiB: the text workload arrives as fast as the
    // loopback carries it, and on a loaded 2-CPU machine the writer thread can fall that far
    // behind (the session would then fail closed, queue_full). What is measured here are
    // the recordings' flushes, which the bound does not change.
    gw = await startGateway('sqlite', { GATEHOUSE_RECORDING_QUEUE_MIB: '64' });
    const secret = await createSecret(gw, 'bench-recording', { port: sshd.port, password: TARGET_PASSWORD });
    const session = async (name: string, args: string[], command: string): Promise<string> => {
      const { ticket, knownHosts } = await launch(gw!, secret);
      const known = join(dir, `known_hosts_${name}`);
      writeFileSync(known, knownHosts.join('\n') + '\n');
      const r = await run('ssh', ['-F', '/dev/null', '-p', String(gw!.sshPort), '-o', `UserKnownHostsFile=${known}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', ...args, `${ticket}@127.0.0.1`, command], { timeoutMs: 300_000 });
      if (r.code !== 0) throw new Error(`${name}: ssh exited ${r.code}: ${r.stderr.slice(0, 500)}\n${gw!.logs().split('\n').filter((l) => /recording/i.test(l)).slice(-5).join('\n')}`);
      const s = await sessionOf(gw!, secret);
      await endedSession(gw!, s.id);
      const file = findRecording(join(gw!.dataDir, 'recordings'), s.id);
      if (!file) throw new Error(`${name}: no recording`);
      return file;
    };
    const out: Workload[] = [];
    if (want('text')) {
      progress(`text: ${TEXT_BYTES / MiB} MiB of the SSH benchmark's text through the SSH door`);
      const file = await session('text', [], `yes 'The quick brown fox jumps over the lazy dog; 0123456789.' | head -c ${TEXT_BYTES}`);
      out.push({ name: 'text', label: `SSH, \`yes 'The quick brown fox…' | head -c\` (${TEXT_BYTES / MiB} MiB of output; bench/ssh.ts's text workload)`, ...flushesOf(file) });
    }
    if (want('shell')) {
      progress('shell: ordinary commands in a pty session');
      const cmd = [
        'ls -la --color=always /usr/bin /usr/lib/x86_64-linux-gnu',
        'ps auxww',
        'cat /etc/services /usr/share/common-licenses/GPL-3',
        'find /usr/share/doc -maxdepth 2 | head -n 20000',
        'ls -laR /usr/share/man | head -n 20000',
        'for i in $(seq 1 200); do date; uptime; df -h / | tail -n 1; done',
      ].join('; ');
      const file = await session('shell', ['-tt'], cmd);
      out.push({ name: 'shell', label: 'SSH pty session: `ls -la --color`, `ps auxww`, `cat` of text files, `find`, `ls -laR`, a loop of `date; uptime; df`', ...flushesOf(file) });
    }
    return out;
  } finally {
    await gw?.close();
    await sshd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Window and text-page activity on the target's desktop (its X display), for `seconds`. */
async function officeActivity(x: X11, seconds: number): Promise<void> {
  const W = Math.min(800, x.width - 40);
  const H = Math.min(480, x.height - 60);
  // A page of "text": 8 × 14 cells, glyphs from a fixed set of 96 random 6 × 10 patterns.
  const glyphs = Array.from({ length: 96 }, (_, g) => Array.from({ length: 60 }, (_, i) => ((g * 7919 + i * 104729) % 11) < 4));
  const cols = Math.floor(W / 8);
  const rows = Math.floor(H / 14);
  const line = (n: number) => Array.from({ length: cols }, (_, c) => ((n * 31 + c * 17) % 7 === 0 ? -1 : (n * 13 + c * 5) % 96));
  const page = Buffer.alloc(W * H * 4);
  const draw = (top: number) => {
    page.fill(0xff);
    for (let r = 0; r < rows; r++) {
      const ln = line(top + r);
      const len = 20 + ((top + r) * 37) % (cols - 20);
      for (let c = 0; c < len; c++) {
        const g = ln[c]!;
        if (g < 0) continue;
        const pat = glyphs[g]!;
        for (let i = 0; i < 60; i++) {
          if (!pat[i]) continue;
          const px = c * 8 + 1 + (i % 6);
          const py = r * 14 + 2 + Math.floor(i / 6);
          page.writeUInt32LE(0x202020, (py * W + px) * 4);
        }
      }
    }
  };
  const until = performance.now() + seconds * 1000;
  let frame = 0;
  const windows: number[] = [];
  while (performance.now() < until) {
    // Scroll by a line, ten times a second (a terminal or editor paging through text).
    draw(frame);
    x.putImage(20, 40, W, H, page);
    // Every second, a window opens (or the oldest is filled again or closed).
    if (frame % 10 === 0) {
      const k = frame / 10;
      if (windows.length < 3) windows.push(x.createWindow(60 + 40 * k, 80 + 30 * k, 320, 200, [0xd0d8e8, 0xf0f0f0, 0x3060a0][k % 3]!));
      else x.fillWindow(windows[k % windows.length]!, [0xe0e0e0, 0x204060, 0xffffff][k % 3]!);
    }
    await x.sync();
    frame++;
    await sleep(100);
  }
}

async function rdpWorkloads(): Promise<Workload[]> {
  const out: Workload[] = [];
  const env: Env = await startRdpEnv(bench, { xrdp: true, shadow: false });
  const t: Target = env.targets[0]!;
  const one = async (name: string, label: string, activity: (x: X11) => Promise<void>) => {
    progress(`${name}: an xrdp session through the RDP door, ${RDP_SECONDS} s`);
    const c = await connectClient(env, t, 'gateway', 'WARN');
    let x: X11 | null = null;
    try {
      const { n, cookie } = t.desktop();
      x = await X11.open(n, cookie);
      await activity(x);
      await sleep(500);
    } finally {
      x?.close();
      await disconnect(env, t, c);
    }
    const newest = newestRecording(join(env.dataDir, 'recordings'), '.ghrec.gz');
    out.push({ name, label, ...flushesOf(newest) });
  };
  if (want('rdp')) await one('rdp', `RDP to xrdp (1024 × 768, bitmap updates), ${RDP_SECONDS} s of windows and a scrolling text page`, (x) => officeActivity(x, RDP_SECONDS));
  if (want('rdp-noise'))
    await one('rdp-noise', `RDP to xrdp, ${RDP_SECONDS} s of full-screen noise at 20 fps (bench/rdp.ts's relay workload; the worst case)`, async (x) => {
      const p = Painter.start(x, 20);
      await sleep(RDP_SECONDS * 1000);
      await p.stop();
    });
  return out;
}

const seen = new Set<string>();
/** The recording file written last that no earlier workload took (one session at a time). */
function newestRecording(root: string, suffix: string): string {
  const files: { p: string; m: number }[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(suffix) && !seen.has(p)) files.push({ p, m: statSync(p).mtimeMs });
    }
  };
  walk(root);
  const f = files.sort((a, b) => b.m - a.m)[0];
  if (!f) throw new Error(`no new ${suffix} recording under ${root}`);
  seen.add(f.p);
  return f.p;
}

// ---------------------------------------------------------------- measuring

interface Compressed {
  level: number;
  bytes: number;
  cpuMs: number;
}

/** Every flush compressed as the writer thread compresses it (one gzip member each), RUNS times. */
function compressAlone(w: Workload, level: number): Compressed {
  let bytes = 0;
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    let b = 0;
    times.push(cpuMs(() => {
      for (const c of w.chunks) b += gzipMember(c, level).length;
    }));
    bytes = b;
  }
  return { level, bytes, cpuMs: median(times) };
}

interface Written {
  bytes: number;
  cpuMs: number;
  wallMs: number;
}

/** The whole write path: the recording writer thread appending every flush to a file, compressed or plain. */
async function throughWriter(w: Workload, gzip: boolean, dir: string, writer: RecordingWriter): Promise<Written> {
  const cpu: number[] = [];
  const wall: number[] = [];
  let bytes = 0;
  for (let r = 0; r < RUNS; r++) {
    const path = join(dir, `${w.name}-${gzip ? 'gzip' : 'none'}-${r}`);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const head = w.chunks[0]!;
    const first = gzip ? gzipMember(head, DEFAULT_WRITER_LIMITS.gzipLevel) : head;
    const fd = openSync(path, 'wx', 0o600);
    writeSync(fd, first);
    let failure: Error | null = null;
    const sink = writer.attach(fd, { fileBytes: first.length, contentBytes: head.length }, gzip, (e) => (failure = e));
    for (const c of w.chunks.slice(1)) {
      // As a live session's queue would: wait for the disk before going past half the bound.
      if (sink.queuedBytes + c.length > DEFAULT_WRITER_LIMITS.sessionQueueBytes / 2) await sink.written();
      sink.write(c);
    }
    await sink.close();
    if (failure) throw failure;
    const c = process.cpuUsage(c0);
    wall.push(performance.now() - t0);
    cpu.push((c.user + c.system) / 1000);
    bytes = statSync(path).size;
    rmSync(path);
  }
  return { bytes, cpuMs: median(cpu), wallMs: median(wall) };
}

const mb = (bytes: number) => bytes / MiB;

async function measure(workloads: Workload[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-reccomp-w-'));
  bench.cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const writer = new RecordingWriter();
  bench.cleanups.push(() => writer.stop());
  // The writer thread's start is not part of any write.
  await throughWriter({ name: 'warm-up', label: '', chunks: [Buffer.from('{}\n'), Buffer.alloc(1000, 65)], storedBytes: 0 }, true, dir, writer);

  say('### The recordings');
  say();
  say(table(
    ['workload', 'recording', 'flushes (gzip members)', 'mean flush', 'stored by the gateway (gzip)', 'ratio'],
    workloads.map((w) => {
      const plain = plainBytes(w);
      return [w.name, `${fmt(mb(plain), 2)} MiB`, w.chunks.length, `${fmt(plain / w.chunks.length / 1024, 1)} KiB`, `${fmt(mb(w.storedBytes), 3)} MiB`, `${fmt(plain / w.storedBytes, 1)} ×`];
    }),
  ));
  say();
  for (const w of workloads) say(`- **${w.name}**: ${w.label}`);
  say();

  say(`### Compression alone (this thread; median of ${RUNS} runs; CPU = user + system)`);
  say();
  const rows: (string | number)[][] = [];
  const alone: Record<string, Compressed[]> = {};
  for (const w of workloads) {
    await bench.quiet();
    const plain = plainBytes(w);
    const whole = gzipSync(Buffer.concat(w.chunks), { level: 6 }).length;
    alone[w.name] = LEVELS.map((l) => compressAlone(w, l));
    for (const c of alone[w.name]!) {
      rows.push([w.name, c.level, `${fmt(plain / c.bytes, 1)} ×`, `${fmt(mb(c.bytes), 3)} MiB`, fmt(c.cpuMs, 1), fmt(c.cpuMs / mb(plain), 2), fmt(mb(plain) / (c.cpuMs / 1000), 0)]);
    }
    rows.push([w.name, '6, one stream', `${fmt(plain / whole, 1)} ×`, `${fmt(mb(whole), 3)} MiB`, '', '', '']);
    bench.results[`${w.name}.alone`] = { plainBytes: plain, flushes: w.chunks.length, levels: alone[w.name], wholeFileLevel6Bytes: whole };
  }
  say(table(['workload', 'zlib level', 'ratio', 'stored', 'CPU ms', 'CPU ms per MiB', 'MiB/s per core'], rows));
  say();
  say('"6, one stream": the whole recording as one gzip stream, for comparison (what members per flush cost in ratio).');
  say();

  say(`### The whole write path: the recording writer thread, gzip (level ${DEFAULT_WRITER_LIMITS.gzipLevel}, the default) vs none (median of ${RUNS} runs; CPU of every thread of the process)`);
  say();
  const wrows: (string | number)[][] = [];
  for (const w of workloads) {
    await bench.quiet();
    const plain = plainBytes(w);
    const none = await throughWriter(w, false, dir, writer);
    const gz = await throughWriter(w, true, dir, writer);
    for (const [k, x] of [['none', none], ['gzip', gz]] as const) {
      wrows.push([w.name, k, `${fmt(mb(x.bytes), 3)} MiB`, fmt(x.cpuMs, 1), fmt(x.cpuMs / mb(plain), 2), fmt(mb(plain) / (x.wallMs / 1000), 0)]);
    }
    wrows.push([w.name, 'gzip − none', '', fmt(gz.cpuMs - none.cpuMs, 1), fmt((gz.cpuMs - none.cpuMs) / mb(plain), 2), '']);
    bench.results[`${w.name}.writer`] = { plainBytes: plain, none, gzip: gz };
  }
  say(table(['workload', 'stored', 'on disk', 'CPU ms', 'CPU ms per MiB of recording', 'MiB/s (wall)'], wrows));
  say();
}

bench.run(async () => {
  const v = versions();
  bench.results.versions = v;
  say(`## Recording compression (${v.date}; ${v.cpu}; Node ${v.node}; kernel ${v.kernel})`);
  say();
  const workloads: Workload[] = [];
  if (want('text') || want('shell')) workloads.push(...(await terminalWorkloads()));
  if (want('rdp') || want('rdp-noise')) workloads.push(...(await rdpWorkloads()));
  await measure(workloads);
});
