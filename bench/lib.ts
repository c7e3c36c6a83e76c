// Helpers for the benchmarks: the gateway child process, HTTPS API calls, child
// processes with hard timeouts, statistics and table printing. Everything is on
// 127.0.0.1 and every wait is bounded.
import { cpus } from 'node:os';
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSshd } from '../test/support/sshd.js';

export { freePort } from '../test/support/sshd.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const MiB = 1 << 20;

const children = new Set<ChildProcess>();
/** Every process the bench started, for the last-resort kill on exit. */
export function track(p: ChildProcess): ChildProcess {
  children.add(p);
  p.once('exit', () => children.delete(p));
  return p;
}
export function killTracked(): void {
  for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  children.clear();
}
process.once('exit', killTracked);

/** Runs a benchmark's main and exits: 0 when it finished, 1 (children killed) when it failed. */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error('[bench] failed:', err);
      killTracked();
      process.exit(1);
    },
  );
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`${what}: timed out after ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}

// ---------------------------------------------------------------- statistics

export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}
export const median = (xs: number[]) => quantile(xs, 0.5);

export function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : 'n/a';
}

/** A GitHub-flavoured Markdown table (also readable on a terminal). */
export function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const w = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  return [line(head), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

// ---------------------------------------------------------------- memory

/** Resident set size of a process in bytes, from /proc (Linux). */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

// ---------------------------------------------------------------- gateway child

/** What the gateway child answers over IPC (bench/gateway-child.ts). */
export type GatewayOp = 'mem' | 'gc' | 'live' | 'stop' | 'snapshot' | 'eld-start' | 'eld-stop' | 'redeem';

export interface GatewayChild {
  pid: number;
  sshPort: number;
  url: string;
  call<T = unknown>(op: GatewayOp, timeoutMs?: number, extra?: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Compiles bench/gateway-child.ts and the part of src/ it imports, with the project's
 * tsconfig, into node_modules/.cache/gatehouse-bench (inside the repo, so that bare
 * imports resolve to its node_modules), so the gateway runs as plain JavaScript like
 * `gatehouse serve` (tsx would add ~30 MB RSS and its loader to the figures) and from the
 * current src/ rather than a possibly stale dist/; the built UI (ui/dist) is linked in.
 * BENCH_BUILD_DIR puts it elsewhere inside the repo (a worktree whose node_modules is a
 * link to another checkout's keeps its build to itself, e.g. dist/bench-gateway).
 * Returns the compiled entry point.
 */
export function buildGatewayChild(): string {
  const out = process.env.BENCH_BUILD_DIR ? resolve(ROOT, process.env.BENCH_BUILD_DIR) : join(ROOT, 'node_modules', '.cache', 'gatehouse-bench');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(
    join(out, 'tsconfig.json'),
    JSON.stringify({
      extends: join(ROOT, 'tsconfig.json'),
      // Only what the gateway child imports; emitted even if some file does not type-check
      // (work in progress elsewhere in src/ must not stop a benchmark run).
      compilerOptions: { rootDir: ROOT, outDir: out, sourceMap: false, noEmitOnError: false },
      files: [join(ROOT, 'bench', 'gateway-child.ts')],
      include: [],
    }),
  );
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(out, 'tsconfig.json')], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  } catch (e) {
    const msg = String((e as { stdout?: Buffer }).stdout ?? '').trim();
    if (!existsSync(join(out, 'bench', 'gateway-child.js'))) throw new Error(`cannot compile the gateway: ${msg}`);
    process.stderr.write(`[bench] warning: type errors while compiling the gateway (emitted anyway):\n${msg}\n`);
  }
  // The compiled server looks for the built browser app beside its own tree (ui/dist):
  // the repo's, through a link, so that the gateway child serves the portal's pages too.
  symlinkSync(join(ROOT, 'ui'), join(out, 'ui'), 'dir');
  return join(out, 'bench', 'gateway-child.js');
}

export async function startGatewayChild(entry: string | null, env: Record<string, string>, opts: { cpuProfDir?: string; exposeGc?: boolean } = {}): Promise<GatewayChild> {
  // entry null: run the TypeScript source through tsx instead of a compiled build.
  const execArgv = [...(entry ? [] : ['--import', 'tsx']), ...(opts.exposeGc ? ['--expose-gc'] : []), ...(opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : [])];
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GATEHOUSE_')) clean[k] = v;
  const child = track(fork(entry ?? join(ROOT, 'bench', 'gateway-child.ts'), [], { cwd: ROOT, execArgv, env: { ...clean, ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
  let seq = 0;
  const waiting = new Map<number, (v: unknown) => void>();
  const ready = new Promise<{ sshPort: number; url: string }>((res, rej) => {
    child.on('message', (raw) => {
      const m = raw as { type?: string; id?: number; result?: unknown; sshPort?: number; url?: string };
      if (m.type === 'ready') res({ sshPort: m.sshPort!, url: m.url! });
      else if (m.id !== undefined) waiting.get(m.id)?.(m.result);
    });
    child.once('exit', (code, sig) => rej(new Error(`gateway child exited (${code ?? sig}) before it was ready`)));
  });
  const { sshPort, url } = await withTimeout(ready, 60_000, 'gateway start');
  const call = <T>(op: GatewayOp, timeoutMs = 30_000, extra: Record<string, unknown> = {}) => {
    const id = ++seq;
    return withTimeout(
      new Promise<T>((res) => {
        waiting.set(id, (v) => {
          waiting.delete(id);
          res(v as T);
        });
        child.send({ id, op, ...extra });
      }),
      timeoutMs,
      `gateway ${op}`,
    );
  };
  return {
    pid: child.pid!,
    sshPort,
    url,
    call,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      await call('stop', 120_000).catch(() => undefined);
      await withTimeout(exited, 10_000, 'gateway exit').catch(() => child.kill('SIGKILL'));
    },
  };
}

// ---------------------------------------------------------------- HTTPS API

const keepAlive = new Agent({ keepAlive: true, maxSockets: 8, rejectUnauthorized: false });

/**
 * One API call over real HTTPS (self-signed certificate on loopback). `fresh` opens a new
 * TLS connection, as a one-shot CLI or script would; otherwise a keep-alive agent is used.
 */
export function api(base: string, method: string, path: string, opts: { token?: string; body?: unknown; fresh?: boolean; agent?: Agent } = {}): Promise<{ status: number; body: any }> {
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return withTimeout(
    new Promise((res, rej) => {
      const req = request(
        new URL(`/api/v1${path}`, base),
        {
          method,
          ...(opts.fresh ? { agent: false, rejectUnauthorized: false } : { agent: opts.agent ?? keepAlive }),
          headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) },
        },
        (r) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => {
            const raw = Buffer.concat(chunks).toString();
            let body: any;
            try {
              body = JSON.parse(raw);
            } catch {
              body = raw;
            }
            res({ status: r.statusCode ?? 0, body });
          });
        },
      );
      req.on('error', rej);
      req.end(payload);
    }),
    30_000,
    `${method} ${path}`,
  );
}

export function closeApiAgent(): void {
  keepAlive.destroy();
}

// ---------------------------------------------------------------- child processes

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  bytes: number;
  /** ms from spawn to exit. */
  totalMs: number;
  /** ms from the first stdout byte to stdout EOF. */
  streamMs: number;
  stderr: string;
  /** The first 4 KiB of stdout (a command that answers briefly, as the upload rows' remote end does). */
  head: string;
}

/**
 * Runs a command, counting (not keeping) its stdout; killed after timeoutMs. `stdin`: a file
 * it reads (the upload rows give /dev/zero), else none.
 */
export function runCounting(cmd: string, args: string[], timeoutMs: number, stdin?: number): Promise<Ran> {
  return new Promise((res) => {
    const t0 = performance.now();
    let first = 0;
    let eof = 0;
    let bytes = 0;
    let stderr = '';
    let head = '';
    const p = track(spawn(cmd, args, { stdio: [stdin ?? 'ignore', 'pipe', 'pipe'] }));
    p.stdout!.on('data', (d: Buffer) => {
      if (!first) first = performance.now();
      bytes += d.length;
      if (head.length < 4096) head += d.toString('latin1', 0, Math.min(d.length, 4096 - head.length));
    });
    p.stdout!.on('end', () => (eof = performance.now()));
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const kill = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code, signal) => {
      clearTimeout(kill);
      const end = performance.now();
      res({ code, signal, bytes, totalMs: end - t0, streamMs: (eof || end) - (first || t0), stderr, head });
    });
  });
}

/**
 * Spawns an interactive command and resolves with the ms until `marker` appears on its
 * stdout; then asks it to exit (`exitInput`) and waits (bounded) for it to go.
 */
export function timeToMarker(cmd: string, args: string[], marker: string, exitInput: string, timeoutMs: number): Promise<number> {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    let seen = '';
    let at = 0;
    const p = track(spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
    let stderr = '';
    p.stdin!.on('error', () => undefined);
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    p.stdout!.on('data', (d: Buffer) => {
      if (at) return;
      seen += d.toString('latin1');
      if (seen.includes(marker)) {
        at = performance.now() - t0;
        p.stdin!.write(exitInput);
      }
    });
    const kill = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(kill);
      if (at) res(at);
      else rej(new Error(`${cmd} exited (${code}) before "${marker}" appeared; stdout: ${JSON.stringify(seen.slice(-300))} stderr: ${stderr.slice(-500)}`));
    });
  });
}

// ---------------------------------------------------------------- OpenSSH server

export interface BenchSshd {
  port: number;
  pid: number;
  /** "ssh-ed25519 AAAA…" */
  hostKey: string;
  /** Kills (by pid) what is left of the per-connection children, then the listener. */
  stop(): Promise<void>;
}

/** Pids of every live descendant of `root` (from /proc), deepest last. */
export function descendants(root: number): number[] {
  const kids = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const l = kids.get(ppid) ?? [];
      l.push(Number(d));
      kids.set(ppid, l);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const k of kids.get(p) ?? []) {
      out.push(k);
      walk(k);
    }
  };
  walk(root);
  return out;
}

/**
 * A real sshd on loopback: the tests' sshd with LogLevel ERROR (logging stays out of the
 * figures), tracked so an aborted run kills it, and a stop that also kills by pid the
 * per-connection children it leaves behind.
 */
export async function startBenchSshd(extraConfig: string[] = []): Promise<BenchSshd> {
  const sshd = await startSshd(['LogLevel ERROR', ...extraConfig]);
  track(sshd.process);
  const pid = sshd.process.pid!;
  return {
    port: sshd.port,
    pid,
    hostKey: sshd.hostKey,
    stop: async () => {
      for (const child of descendants(pid).reverse()) {
        try {
          process.kill(child, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await withTimeout(sshd.stop(), 5000, 'sshd exit').catch(() => sshd.process.kill('SIGKILL'));
    },
  };
}

// ---------------------------------------------------------------- CPU accounting

const TICKS = 100; // USER_HZ on Linux

/** utime + stime of one process, in clock ticks (0 if it is gone). */
export function ownTicks(pid: number): number {
  try {
    return statTicks(`/proc/${pid}/stat`);
  } catch {
    return 0;
  }
}

/** utime + stime of a /proc/…/stat file (a process's or one thread's), in clock ticks. */
function statTicks(path: string): number {
  const stat = readFileSync(path, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

function machineBusy(): number {
  // user + nice + system + steal; irq/softirq time is left out, as it is charged to no
  // process and loopback TCP at these rates spends much of it on the benchmark's own traffic.
  const [user = 0, nice = 0, system = 0, , , , , steal = 0] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return user + nice + system + steal;
}

/**
 * Watches how much of the machine's CPU is used by processes outside this process tree
 * while a measurement runs (the machine may be shared). The tree is sampled every 100 ms
 * rather than read through cutime, because sshd's session processes are not always
 * waited for by a process in the tree, so their CPU time never reaches an ancestor.
 */
export class CpuWatch {
  private first = new Map<number, number>();
  private last = new Map<number, number>();
  private readonly busy0 = machineBusy();
  private readonly t0 = performance.now();
  private readonly timer: NodeJS.Timeout;
  constructor() {
    this.sample(true);
    this.timer = setInterval(() => this.sample(false), 100);
  }
  private sample(initial: boolean): void {
    for (const pid of [process.pid, ...descendants(process.pid)]) {
      const t = ownTicks(pid);
      if (!this.first.has(pid)) this.first.set(pid, initial ? t : 0);
      if (t > 0) this.last.set(pid, t);
    }
  }
  /** Share of the machine's CPU capacity used outside the tree, in %. */
  stop(ncpu: number): number {
    clearInterval(this.timer);
    this.sample(false);
    let ours = 0;
    for (const [pid, t] of this.last) ours += t - (this.first.get(pid) ?? 0);
    const capacity = ((performance.now() - this.t0) / 1000) * TICKS * ncpu;
    this.busyPercent = capacity > 0 ? (100 * (machineBusy() - this.busy0)) / capacity : NaN;
    return capacity > 0 ? Math.max(0, (100 * (machineBusy() - this.busy0 - ours)) / capacity) : NaN;
  }
  /** After stop(): share of the machine's CPU capacity used by everything, the benchmark's processes included, in %. */
  busyPercent = NaN;
}

/** CPU seconds a process has used so far: its main thread (the event loop) and its other threads together. */
export function threadSeconds(pid: number): { main: number; others: number } {
  let main = 0;
  let others = 0;
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return { main, others };
  }
  for (const tid of tids) {
    try {
      const s = statTicks(`/proc/${pid}/task/${tid}/stat`) / TICKS;
      if (tid === String(pid)) main += s;
      else others += s;
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return { main, others };
}

/**
 * Waits (bounded by `waitSeconds`) until processes outside the benchmark use at most
 * `percent` of the machine's CPU; returns the last reading (percent of all cores).
 */
export async function waitQuiet(o: { percent: number; waitSeconds: number; sampleMs: number; progress: (s: string) => void }): Promise<number> {
  const until = Date.now() + o.waitSeconds * 1000;
  for (;;) {
    const w = new CpuWatch();
    await sleep(o.sampleMs);
    const other = w.stop(cpus().length);
    if (other <= o.percent || Date.now() >= until) return other;
    o.progress(`  waiting for a quiet machine (other load ${fmt(other, 0)}%)`);
  }
}

// ---------------------------------------------------------------- PostgreSQL

export interface BenchPostgres {
  url: string;
  stop(): void;
}

/**
 * A throwaway PostgreSQL cluster on loopback, like scripts/pg-test.sh makes for the tests,
 * but durable by default (fsync on, synchronous_commit on: what a production server does),
 * so that its figures compare with SQLite's; `fsync: false` gives the tests' settings.
 */
export function startBenchPostgres(dir: string, port: number, opts: { fsync: boolean }): BenchPostgres {
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b)) : [];
  const bin = versions.length ? join('/usr/lib/postgresql', versions[versions.length - 1]!, 'bin') : null;
  if (!bin) throw new Error('PostgreSQL server binaries not found (install the postgresql package)');
  mkdirSync(dir, { recursive: true });
  const root = process.getuid?.() === 0;
  if (root) execFileSync('chown', ['postgres', dir]);
  const asPg = (cmd: string, args: string[]) => execFileSync(root ? 'runuser' : cmd, root ? ['-u', 'postgres', '--', cmd, ...args] : args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  asPg(join(bin, 'initdb'), ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '-E', 'UTF8']);
  const o = [`-p ${port}`, `-k ${dir}`, '-c listen_addresses=127.0.0.1', '-c max_connections=300', ...(opts.fsync ? [] : ['-c fsync=off', '-c full_page_writes=off', '-c synchronous_commit=off'])].join(' ');
  asPg(join(bin, 'pg_ctl'), ['-D', join(dir, 'data'), '-l', join(dir, 'server.log'), '-w', '-o', o, 'start']);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      asPg(join(bin, 'pg_ctl'), ['-D', join(dir, 'data'), '-m', 'immediate', 'stop']);
    } catch {
      /* already gone */
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stop);
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, stop };
}
