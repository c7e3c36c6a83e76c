// SSH door benchmarks (not tests): `npm run bench [-- throughput prompt echo idle]`.
// Starts, in one process tree: a target sshd, a jump sshd, and Gatehouse in a child
// process (bench/gateway-child.ts), then measures, side by side:
//   1. throughput: 1 GiB of `head -c` through the gateway vs direct ssh vs ProxyJump
//      (binary, recorded text, and 1 GiB of input from the client: BENCH_UPLOADS=0 leaves it out);
//   2. time from `ssh` start to the first shell prompt, direct vs gateway;
//   3. keystroke echo latency, direct vs gateway (ssh2 Client as the client for both);
//   4. gateway RSS with 5000 concurrent idle shell sessions (fresh gateway process;
//      bench/ssh-idle.ts), to a light ssh2 target process or to sshd (BENCH_IDLE_TARGET).
// Figures go to stdout as Markdown tables and to a JSON file in the temp dir; the
// write-up is docs/performance.md. Knobs (environment): BENCH_BYTES, BENCH_RUNS,
// BENCH_UPLOADS, BENCH_PROMPT_RUNS, BENCH_ECHO_SAMPLES, BENCH_ECHO_GAP_MS, BENCH_ECHO_ATTEMPTS,
// BENCH_QUIET_PERCENT, BENCH_QUIET_WAIT_S, BENCH_SESSIONS, BENCH_CONCURRENCY,
// BENCH_IDLE_TARGET (light | sshd), BENCH_IDLE_CLIENT_PROCS, BENCH_IDLE_S, BENCH_CIPHER, BENCH_CPU_PROF (a directory: profile the gateway of
// benchmarks 1-3), BENCH_HEAP_SNAPSHOT (a directory: heap snapshots for benchmark 4),
// BENCH_TSX=1 (run the gateway from source through tsx, no compile step).
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2, { type Client, type ClientChannel } from 'ssh2';
import { benchIdle, type IdleGateway, type IdleSecret } from './ssh-idle.js';
import { ensureTargetAccount, ensureTargetKey, TARGET_USER } from '../test/support/accounts.js';
import {
  api,
  buildGatewayChild,
  closeApiAgent,
  CpuWatch,
  descendants,
  fmt,
  killTracked,
  median,
  MiB,
  ownTicks,
  threadSeconds,
  quantile,
  rssOf,
  runCounting,
  sleep,
  startBenchSshd,
  startGatewayChild,
  table,
  timeToMarker,
  waitQuiet,
  withTimeout,
  type BenchSshd,
  type GatewayChild,
  runBench,
} from './lib.js';

const num = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const BYTES = num('BENCH_BYTES', 2 ** 30);
const RUNS = num('BENCH_RUNS', 3);
/** The throughput benchmark's input rows (the client's stdin to the target): on unless 0. */
const UPLOADS = process.env.BENCH_UPLOADS !== '0';
const PROMPT_RUNS = num('BENCH_PROMPT_RUNS', 10);
const ECHO_SAMPLES = num('BENCH_ECHO_SAMPLES', 500);
const ECHO_GAP_MS = num('BENCH_ECHO_GAP_MS', 10);
const ECHO_ATTEMPTS = num('BENCH_ECHO_ATTEMPTS', 3);
/** Other load (% of the machine's CPU) below which the machine counts as quiet. */
const QUIET_PERCENT = num('BENCH_QUIET_PERCENT', 10);
/** How long to wait for a quiet machine before a measurement (then it runs anyway). */
const QUIET_WAIT_S = num('BENCH_QUIET_WAIT_S', 60);
/** The idle benchmark's target: the light ssh2 target process, or sshd with a login bash per session. */
const IDLE_TARGET = process.env.BENCH_IDLE_TARGET === 'sshd' ? 'sshd' : 'light';
if (process.env.BENCH_IDLE_TARGET && process.env.BENCH_IDLE_TARGET !== IDLE_TARGET) throw new Error('BENCH_IDLE_TARGET: light or sshd');
/** Idle sessions: sshd's two processes and a bash per session make 5000 too many for a small machine. */
const SESSIONS = num('BENCH_SESSIONS', IDLE_TARGET === 'light' ? 5000 : 1000);
const CONCURRENCY = num('BENCH_CONCURRENCY', 16);
/** Processes the idle sessions' ssh2 clients are spread over. */
const CLIENT_PROCS = num('BENCH_IDLE_CLIENT_PROCS', 2);
const CIPHER = process.env.BENCH_CIPHER ?? 'aes128-gcm@openssh.com';
const PROF = process.env.BENCH_CPU_PROF;
/** How the gateway stores recordings (GATEHOUSE_RECORDING_COMPRESSION): gzip, the default, or none, to see what compression costs a row. */
const RECORDING_COMPRESSION = process.env.BENCH_RECORDING_COMPRESSION ?? 'gzip';
if (RECORDING_COMPRESSION !== 'gzip' && RECORDING_COMPRESSION !== 'none') throw new Error('BENCH_RECORDING_COMPRESSION: gzip or none');
/** A directory: heap snapshots of the idle-session gateway before and with the sessions open. */
const HEAP_DIR = process.env.BENCH_HEAP_SNAPSHOT;
/** The whole run must stop by itself. */
const DEADLINE_MS = num('BENCH_DEADLINE_S', 45 * 60) * 1000;
const ADMIN_PASSWORD = 'bench-Admin-Password-1';
/** Compiled gateway entry point; null runs it through tsx (BENCH_TSX=1). */
let gatewayEntry: string | null = null;

const wanted = new Set(process.argv.slice(2));
const want = (k: string) => wanted.size === 0 || wanted.has(k);

const results: Record<string, unknown> = {};
const out: string[] = [];
const say = (s = '') => {
  console.log(s);
  out.push(s);
};
const progress = (s: string) => process.stderr.write(`[bench] ${s}\n`);

interface Env {
  dir: string;
  target: BenchSshd;
  jump: BenchSshd;
  keyFile: string;
  privateKey: string;
  /** ssh -F files: `cfg` pins the cipher, `cfgDefault` leaves OpenSSH's defaults. */
  cfg: string;
  cfgDefault: string;
  knownHosts: string;
}

interface Gw {
  child: GatewayChild;
  dataDir: string;
  token: string;
  secretId: string;
}

// ---------------------------------------------------------------- setup

function sshConfig(file: string, keyFile: string, knownHosts: string, cipher: string | null): void {
  writeFileSync(
    file,
    [
      'Host *',
      `  User ${TARGET_USER}`,
      `  IdentityFile ${keyFile}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${knownHosts}`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '  UpdateHostKeys no',
      '  BatchMode yes',
      '  LogLevel ERROR',
      '  ControlMaster no',
      '  ControlPath none',
      '  Compression no',
      '  ForwardAgent no',
      '  ForwardX11 no',
      ...(cipher ? [`  Ciphers ${cipher}`] : []),
      '',
    ].join('\n'),
  );
}

async function startGw(envDir: string, target: IdleSecret, opts: { exposeGc?: boolean; profile?: boolean } = {}): Promise<Gw> {
  const dataDir = mkdtempSync(join(envDir, 'gw-'));
  const child = await startGatewayChild(
    gatewayEntry,
    {
      GATEHOUSE_DATA_DIR: dataDir,
      GATEHOUSE_HTTP_PORT: '0',
      GATEHOUSE_SSH_PORT: '0',
      GATEHOUSE_RDP_PORT: '0',
      GATEHOUSE_BIND_HOST: '127.0.0.1',
      GATEHOUSE_PUBLIC_URL: 'https://127.0.0.1',
      GATEHOUSE_ADMIN_PASSWORD: ADMIN_PASSWORD,
      GATEHOUSE_LOG_LEVEL: 'info',
      GATEHOUSE_RECORDING_COMPRESSION: RECORDING_COMPRESSION,
      // Every bench client comes from 127.0.0.1, CONCURRENCY of them logging in at once.
      GATEHOUSE_MAX_STARTUPS_PER_SOURCE: String(Math.max(10, 4 * CONCURRENCY)),
      GATEHOUSE_MAX_STARTUPS: String(Math.max(100, 4 * CONCURRENCY)),
    },
    { exposeGc: opts.exposeGc, ...(opts.profile && PROF ? { cpuProfDir: PROF } : {}) },
  );
  const login = await api(child.url, 'POST', '/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${JSON.stringify(login.body)}`);
  const token = login.body.token as string;
  // Every bench launch comes from one account and one address, a thousand in a row: the
  // request rate limits (docs/operations.md) would answer 429, so they are off here.
  const off = await api(child.url, 'PATCH', '/settings', { token, body: { ticketRequestsPerIp: 0, ticketRequestsPerAccount: 0, loginRequestsPerIp: 0, loginRequestsPerAccount: 0 } });
  if (off.status !== 200) throw new Error(`settings: ${off.status} ${JSON.stringify(off.body)}`);
  // The vaulted credential is the same key the direct and jump legs use.
  const s = await api(child.url, 'POST', '/secrets', {
    token,
    body: { name: `bench-${target.port}`, template: 'unix-account', fields: { machine: '127.0.0.1', port: target.port, username: target.username, privateKey: target.privateKey } },
  });
  if (s.status !== 201) throw new Error(`create secret: ${s.status} ${JSON.stringify(s.body)}`);
  return { child, dataDir, token, secretId: s.body.id as string };
}

async function launch(gw: Gw, fresh = false): Promise<{ ticket: string; knownHosts: string[] }> {
  const r = await api(gw.child.url, 'POST', `/secrets/${gw.secretId}/launch`, { token: gw.token, body: { launcher: 'ssh' }, fresh });
  if (r.status !== 200) throw new Error(`launch: ${r.status} ${JSON.stringify(r.body)}`);
  return { ticket: r.body.ticket as string, knownHosts: r.body.ssh.knownHosts as string[] };
}

function addKnownHosts(env: Env, lines: string[]): void {
  const cur = readFileSync(env.knownHosts, 'utf8');
  const add = lines.filter((l) => !cur.includes(l));
  if (add.length) writeFileSync(env.knownHosts, cur + add.join('\n') + '\n');
}

// ---------------------------------------------------------------- ssh2 client helpers

function ssh2Connect(cfg: ssh2.ConnectConfig, onHandshake?: (n: ssh2.NegotiatedAlgorithms) => void): Promise<Client> {
  return new Promise((res, rej) => {
    const c = new ssh2.Client();
    if (onHandshake) c.once('handshake', onHandshake);
    c.once('ready', () => res(c));
    c.once('error', rej);
    // Host keys are not checked: loopback-only benchmark, throwaway keys.
    c.connect({ host: '127.0.0.1', readyTimeout: 60_000, ...cfg });
  });
}

function ssh2Exec(c: Client, command: string, pty: boolean): Promise<ClientChannel> {
  return new Promise((res, rej) => c.exec(command, pty ? { pty: { rows: 24, cols: 80, term: 'xterm' } } : {}, (err, ch) => (err ? rej(err) : res(ch))));
}

// ---------------------------------------------------------------- 0. what gets negotiated

async function probeCiphers(env: Env, gw: Gw): Promise<Record<string, string>> {
  const info: Record<string, string> = {};
  // The gateway's target leg is an ssh2 Client with default algorithms: see what it gets from sshd.
  const c = await ssh2Connect({ port: env.target.port, username: TARGET_USER, privateKey: env.privateKey }, (n) => {
    info['gateway → target (ssh2 client defaults)'] = `${n.sc.cipher}${n.sc.mac ? ` + ${n.sc.mac}` : ''}, kex ${n.kex}`;
  });
  c.end();
  const ssh1 = async (cfg: string, label: string) => {
    const { ticket } = await launch(gw);
    const r = await runCounting('ssh', ['-v', '-F', cfg, '-p', String(gw.child.sshPort), `${ticket}@127.0.0.1`, 'true'], 30_000);
    const m = /kex: server->client cipher: (\S+) MAC: (\S+)/.exec(r.stderr);
    info[label] = m ? `${m[1]}${m[2] !== '<implicit>' ? ` + ${m[2]}` : ''}` : `unknown (exit ${r.code})`;
  };
  await ssh1(env.cfgDefault, 'ssh → gateway (OpenSSH defaults)');
  await ssh1(env.cfg, 'ssh → gateway (bench, -c)');
  const d = await runCounting('ssh', ['-v', '-F', env.cfgDefault, '-p', String(env.target.port), '127.0.0.1', 'true'], 30_000);
  const m = /kex: server->client cipher: (\S+)/.exec(d.stderr);
  info['ssh → sshd (OpenSSH defaults)'] = m ? m[1]! : `unknown (exit ${d.code})`;
  return info;
}

const quiet = () => waitQuiet({ percent: QUIET_PERCENT, waitSeconds: QUIET_WAIT_S, sampleMs: 2000, progress });

// ---------------------------------------------------------------- 1. throughput

async function benchThroughput(env: Env, gw: Gw): Promise<void> {
  progress(`throughput: ${RUNS} × ${BYTES} bytes per path`);
  const cmd = `head -c ${BYTES} /dev/zero`;
  const textCmd = `yes 'The quick brown fox jumps over the lazy dog; 0123456789.' | head -c ${BYTES}`;
  // Input: the client's stdin (/dev/zero) to the target, which reads BYTES of it and says so;
  // timed from its first word (it is reading) to its last. The input path of the door (the
  // SSH channel's window check, the flow control toward the target) is on no output row.
  const uploadCmd = `echo reading; head -c ${BYTES} > /dev/null; echo done`;
  const UPLOAD_ANSWER = 'reading\ndone\n';
  // Each row says what it carries and through what, so baselines are found by those, not by name.
  type Path = { name: string; output: 'binary' | 'text' | 'upload'; via: 'direct' | 'jump' | 'gatehouse'; args: () => Promise<string[]> };
  const paths: Path[] = [
    { name: 'direct ssh → sshd', output: 'binary', via: 'direct', args: async () => ['-F', env.cfg, '-p', String(env.target.port), '127.0.0.1', cmd] },
    { name: 'ssh -J jump sshd → sshd', output: 'binary', via: 'jump', args: async () => ['-F', env.cfg, '-J', `${TARGET_USER}@127.0.0.1:${env.jump.port}`, '-p', String(env.target.port), '127.0.0.1', cmd] },
    { name: 'ssh → Gatehouse → sshd', output: 'binary', via: 'gatehouse', args: async () => ['-F', env.cfg, '-p', String(gw.child.sshPort), `${(await launch(gw)).ticket}@127.0.0.1`, cmd] },
    { name: 'ssh → Gatehouse → sshd, default ciphers', output: 'binary', via: 'gatehouse', args: async () => ['-F', env.cfgDefault, '-p', String(gw.child.sshPort), `${(await launch(gw)).ticket}@127.0.0.1`, cmd] },
    // Text is recorded in full (binary output only as its size): the recording's cost.
    { name: 'direct ssh → sshd, text', output: 'text', via: 'direct', args: async () => ['-F', env.cfg, '-p', String(env.target.port), '127.0.0.1', textCmd] },
    // The text baseline: ProxyJump carrying the same text (`yes` costs the target more than /dev/zero).
    { name: 'ssh -J jump sshd → sshd, text', output: 'text', via: 'jump', args: async () => ['-F', env.cfg, '-J', `${TARGET_USER}@127.0.0.1:${env.jump.port}`, '-p', String(env.target.port), '127.0.0.1', textCmd] },
    { name: 'ssh → Gatehouse → sshd, text (recorded in full)', output: 'text', via: 'gatehouse', args: async () => ['-F', env.cfg, '-p', String(gw.child.sshPort), `${(await launch(gw)).ticket}@127.0.0.1`, textCmd] },
    ...(UPLOADS
      ? ([
          { name: 'direct ssh → sshd, upload', output: 'upload', via: 'direct', args: async () => ['-F', env.cfg, '-p', String(env.target.port), '127.0.0.1', uploadCmd] },
          { name: 'ssh -J jump sshd → sshd, upload', output: 'upload', via: 'jump', args: async () => ['-F', env.cfg, '-J', `${TARGET_USER}@127.0.0.1:${env.jump.port}`, '-p', String(env.target.port), '127.0.0.1', uploadCmd] },
          { name: 'ssh → Gatehouse → sshd, upload', output: 'upload', via: 'gatehouse', args: async () => ['-F', env.cfg, '-p', String(gw.child.sshPort), `${(await launch(gw)).ticket}@127.0.0.1`, uploadCmd] },
        ] satisfies Path[])
      : []),
  ];
  const rates = new Map<string, number[]>(paths.map((p) => [p.name, []]));
  const totals = new Map<string, number[]>(paths.map((p) => [p.name, []]));
  const foreign = new Map<string, number[]>(paths.map((p) => [p.name, []]));
  // Where the CPU went: the gateway's event loop and its other threads (the recording
  // writer, libuv's pool), and how busy the whole machine was (is it the bound?).
  const gwCpu = new Map<string, { main: number; others: number }[]>(paths.map((p) => [p.name, []]));
  const busy = new Map<string, number[]>(paths.map((p) => [p.name, []]));
  for (let run = 1; run <= RUNS; run++) {
    await quiet();
    // Interleaved, so that drift (other load on the machine) hits every path alike; the
    // ratios are also taken per round, between neighbouring runs.
    for (const p of paths) {
      const args = await p.args();
      const watch = new CpuWatch();
      const gw0 = threadSeconds(gw.child.pid);
      const zero = p.output === 'upload' ? openSync('/dev/zero', 'r') : undefined;
      const r = await runCounting('ssh', args, 600_000, zero).finally(() => zero !== undefined && closeSync(zero));
      const other = watch.stop(cpus().length);
      const gw1 = threadSeconds(gw.child.pid);
      gwCpu.get(p.name)!.push({ main: gw1.main - gw0.main, others: gw1.others - gw0.others });
      busy.get(p.name)!.push(watch.busyPercent);
      if (r.code !== 0 || (p.output === 'upload' ? r.head !== UPLOAD_ANSWER : r.bytes !== BYTES)) throw new Error(`${p.name}: exit ${r.code ?? r.signal}, ${p.output === 'upload' ? JSON.stringify(r.head) : `${r.bytes}/${BYTES} bytes`}; ${r.stderr.slice(-500)}`);
      const rate = BYTES / MiB / (r.streamMs / 1000);
      rates.get(p.name)!.push(rate);
      totals.get(p.name)!.push(r.totalMs / 1000);
      foreign.get(p.name)!.push(other);
      progress(`  run ${run} ${p.name}: ${fmt(rate)} MiB/s (${fmt(r.totalMs / 1000, 2)} s total; gateway CPU ${fmt(gw1.main - gw0.main, 2)} s event loop + ${fmt(gw1.others - gw0.others, 2)} s other threads; machine ${fmt(watch.busyPercent, 0)}% busy; other load ${fmt(other, 0)}% of the machine)`);
    }
  }
  /** The rates of the first row carrying `output` through `via`: each path's baselines carry the same output. */
  const ratesOf = (output: Path['output'], via: Path['via']) => rates.get(paths.find((p) => p.output === output && p.via === via)!.name)!;
  const paired = (xs: number[], ys: number[]) => median(xs.map((x, i) => x / ys[i]!));
  say(`### 1. Throughput: ${BYTES / MiB} MiB of \`${cmd}\` (text: \`yes … | head -c\`) to the client, stdout counted${UPLOADS ? `; upload rows: ${BYTES / MiB} MiB of the client's stdin (/dev/zero) read by the target (\`${uploadCmd}\`), timed from its first word to its last` : ''} (${RUNS} runs, interleaved; cipher ${CIPHER} unless noted; recordings stored ${RECORDING_COMPRESSION === 'gzip' ? 'gzip-compressed' : 'uncompressed'})`);
  say();
  say(
    table(
      ['path', 'MiB/s (median)', 'runs (MiB/s)', 'wall s (median)', '× ProxyJump', '× direct', 'gateway CPU s per GiB: event loop + other threads (median)', 'machine busy % (median)', 'other load % (max)'],
      paths.map((p) => {
        const r = rates.get(p.name)!;
        const [direct, jump] = [ratesOf(p.output, 'direct'), ratesOf(p.output, 'jump')];
        const perGiB = 2 ** 30 / BYTES;
        const cpu = gwCpu.get(p.name)!;
        const gwCell = p.via === 'gatehouse' ? `${fmt(median(cpu.map((c) => c.main)) * perGiB, 2)} + ${fmt(median(cpu.map((c) => c.others)) * perGiB, 2)}` : '';
        return [p.name, fmt(median(r)), r.map((x) => fmt(x, 0)).join(', '), fmt(median(totals.get(p.name)!), 2), fmt(paired(r, jump), 2), fmt(paired(r, direct), 2), gwCell, fmt(median(busy.get(p.name)!), 0), fmt(Math.max(...foreign.get(p.name)!), 0)];
      }),
    ),
  );
  say();
  say(
    `MiB/s is measured from the first byte to EOF on the client's stdout (connection set-up excluded; see benchmark 2 for that). The ratios are medians of per-round ratios (each round runs every path once, back to back), which cancels most of the drift from other load; a text row is compared with the ProxyJump and direct rows carrying the same text; "gateway CPU" is what the gateway process used during the row (its event loop, and its other threads: the recording writer, libuv's pool), scaled to 1 GiB; "machine busy" is the share of all cores used by everything during the row (near 100: the machine is the bound, not one process); "other load" is the CPU share used by processes outside the benchmark's process tree during the run.`,
  );
  say();
  // The recording is on (built-in ssh launcher): show what it wrote.
  const casts = listCasts(gw.dataDir);
  say(`Recordings written by the gateway so far: ${casts.length} files, largest ${fmt(Math.max(0, ...casts.map((c) => c.size)) / 1024, 1)} KiB (binary output is recorded as its size, one event per MiB).`);
  say();
  results.throughput = { bytes: BYTES, cipher: CIPHER, recordingCompression: RECORDING_COMPRESSION, runs: Object.fromEntries(rates), wallSeconds: Object.fromEntries(totals), foreignCpuPercent: Object.fromEntries(foreign), gatewayCpuSeconds: Object.fromEntries(gwCpu), machineBusyPercent: Object.fromEntries(busy), ratioToProxyJump: paired(ratesOf('binary', 'gatehouse'), ratesOf('binary', 'jump')), textRatioToProxyJump: paired(ratesOf('text', 'gatehouse'), ratesOf('text', 'jump')), ...(UPLOADS ? { uploadRatioToProxyJump: paired(ratesOf('upload', 'gatehouse'), ratesOf('upload', 'jump')) } : {}) };
}

function listCasts(dataDir: string): { path: string; size: number }[] {
  const found: { path: string; size: number }[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.cast(\.gz)?$/.test(e.name)) found.push({ path: p, size: statSync(p).size });
    }
  };
  try {
    walk(join(dataDir, 'recordings'));
  } catch {
    /* none yet */
  }
  return found;
}

// ---------------------------------------------------------------- 2. time to prompt

async function benchPrompt(env: Env, gw: Gw): Promise<void> {
  progress(`prompt: ${PROMPT_RUNS} runs per path`);
  const cmd = `env PS1='READY> ' bash --norc -i`;
  const direct: number[] = [];
  const viaGw: number[] = [];
  const launches: number[] = [];
  const base = (port: number) => ['-F', env.cfg, '-tt', '-p', String(port)];
  // One untimed warm-up each (first exec of sshd, JIT in the gateway).
  await timeToMarker('ssh', [...base(env.target.port), '127.0.0.1', cmd], 'READY> ', 'exit\n', 30_000);
  await timeToMarker('ssh', [...base(gw.child.sshPort), `${(await launch(gw)).ticket}@127.0.0.1`, cmd], 'READY> ', 'exit\n', 30_000);
  await quiet();
  const watch = new CpuWatch();
  for (let i = 0; i < PROMPT_RUNS; i++) {
    direct.push(await timeToMarker('ssh', [...base(env.target.port), '127.0.0.1', cmd], 'READY> ', 'exit\n', 30_000));
    await sleep(200);
    const t0 = performance.now();
    const { ticket } = await launch(gw, true);
    launches.push(performance.now() - t0);
    viaGw.push(await timeToMarker('ssh', [...base(gw.child.sshPort), `${ticket}@127.0.0.1`, cmd], 'READY> ', 'exit\n', 30_000));
    await sleep(200);
  }
  const other = watch.stop(cpus().length);
  const md = median(direct);
  const mg = median(viaGw);
  say(`### 2. Time from \`ssh -tt\` start to the first prompt (\`${cmd}\`), median of ${PROMPT_RUNS}`);
  say();
  say(
    table(
      ['path', 'median ms', 'min ms', 'max ms', '× direct', '+ ms vs direct'],
      [
        ['direct ssh → sshd (key auth)', fmt(md), fmt(Math.min(...direct)), fmt(Math.max(...direct)), '1.00', '0.0'],
        ['ssh → Gatehouse → sshd (ticket, vaulted key)', fmt(mg), fmt(Math.min(...viaGw)), fmt(Math.max(...viaGw)), fmt(mg / md, 2), fmt(mg - md)],
        ['launch API call (new HTTPS connection), separate', fmt(median(launches)), fmt(Math.min(...launches)), fmt(Math.max(...launches)), '', ''],
      ],
    ),
  );
  say();
  say(`Other load on the machine during this benchmark: ${fmt(other, 0)}% of its CPU.`);
  say();
  results.prompt = { direct, gateway: viaGw, launch: launches, foreignCpuPercent: other };
}

// ---------------------------------------------------------------- 3. keystroke echo

class Echo {
  private waiting: { ch: string; resolve: () => void } | null = null;
  private seen = '';
  constructor(readonly ch: ClientChannel) {
    ch.on('data', (d: Buffer) => {
      this.seen += d.toString('latin1');
      if (this.waiting && this.seen.includes(this.waiting.ch)) {
        const w = this.waiting;
        this.waiting = null;
        this.seen = '';
        w.resolve();
      }
      if (this.seen.length > 4096) this.seen = this.seen.slice(-64);
    });
  }
  waitFor(marker: string, timeoutMs: number): Promise<void> {
    if (this.seen.includes(marker)) {
      this.seen = '';
      return Promise.resolve();
    }
    return withTimeout(new Promise<void>((resolve) => (this.waiting = { ch: marker, resolve })), timeoutMs, `echo of ${JSON.stringify(marker)}`);
  }
  /** One keystroke: ms from write to its echo. */
  async sample(ch: string): Promise<number> {
    this.seen = '';
    const t0 = process.hrtime.bigint();
    const p = this.waitFor(ch, 5000);
    this.ch.write(ch);
    await p;
    return Number(process.hrtime.bigint() - t0) / 1e6;
  }
}

async function setRecording(gw: Gw, on: boolean): Promise<void> {
  const r = await api(gw.child.url, 'PATCH', '/launchers/ssh', { token: gw.token, body: { record: on, recordKeystrokes: on } });
  if (r.status !== 200) throw new Error(`launcher update: ${r.status} ${JSON.stringify(r.body)}`);
}

async function benchEcho(env: Env, gw: Gw): Promise<void> {
  progress(`echo: ${ECHO_SAMPLES} samples per path, ${ECHO_GAP_MS} ms apart`);
  // `cat` in raw mode on the remote pty: every byte goes to the application and back, as
  // with an editor or a shell's line editor. ssh2 Client is the client for every path.
  const command = `stty raw -echo; printf 'READY\\n'; exec cat`;
  const open = async (c: Client) => {
    const ch = await ssh2Exec(c, command, true);
    const e = new Echo(ch);
    await e.waitFor('READY', 15_000);
    return e;
  };
  const conns: Client[] = [];
  try {
    conns.push(await ssh2Connect({ port: env.target.port, username: TARGET_USER, privateKey: env.privateKey }));
    conns.push(await ssh2Connect({ port: gw.child.sshPort, username: (await launch(gw)).ticket }));
    // A third session with the launcher's recording switched off (settings are taken at
    // redeem time), to tell the recording's share from the relay's.
    await setRecording(gw, false);
    try {
      conns.push(await ssh2Connect({ port: gw.child.sshPort, username: (await launch(gw)).ticket }));
    } finally {
      await setRecording(gw, true);
    }
    const paths = [
      { name: 'direct ssh2 → sshd', e: await open(conns[0]!), xs: [] as number[] },
      { name: 'ssh2 → Gatehouse → sshd (recorded, keystrokes too)', e: await open(conns[1]!), xs: [] as number[] },
      { name: 'ssh2 → Gatehouse → sshd, recording off', e: await open(conns[2]!), xs: [] as number[] },
    ];
    const letters = 'abcdefghijklmnopqrstuvwxyz';
    for (let i = 0; i < 50; i++) for (const p of paths) await p.e.sample(letters[i % 26]!);
    const block = 50;
    type Eld = { p50: number; p99: number; max: number; samples: number } | null;
    // On a shared machine other load dominates the tail (every hop is a process wake-up),
    // so a measurement taken under load is repeated, up to ECHO_ATTEMPTS times, after
    // waiting for a quiet moment; the quietest attempt is reported, with all attempts listed.
    const attempts: { other: number; cpuMs: number; eld: Eld; xs: number[][] }[] = [];
    for (let a = 0; a < ECHO_ATTEMPTS; a++) {
      await quiet();
      for (const p of paths) p.xs = [];
      await gw.child.call('eld-start');
      const ticks0 = ownTicks(gw.child.pid);
      const watch = new CpuWatch();
      for (let i = 0; i < ECHO_SAMPLES; i += block) {
        for (const p of paths) {
          for (let j = i; j < Math.min(i + block, ECHO_SAMPLES); j++) {
            p.xs.push(await p.e.sample(letters[j % 26]!));
            await sleep(ECHO_GAP_MS);
          }
        }
      }
      const other = watch.stop(cpus().length);
      // Gateway CPU per keystroke round trip (two gateway paths × ECHO_SAMPLES; 10 ms ticks).
      const cpuMs = ((ownTicks(gw.child.pid) - ticks0) * 10) / (2 * ECHO_SAMPLES);
      attempts.push({ other, cpuMs, eld: await gw.child.call<Eld>('eld-stop'), xs: paths.map((p) => p.xs) });
      progress(`  attempt ${a + 1}: other load ${fmt(other, 0)}%, added p99 ${fmt(quantile(paths[1]!.xs, 0.99) - quantile(paths[0]!.xs, 0.99), 2)} ms`);
      if (other <= QUIET_PERCENT) break;
    }
    const best = attempts.reduce((x, y) => (y.other < x.other ? y : x));
    const { other, eld, cpuMs } = best;
    best.xs.forEach((xs, i) => (paths[i]!.xs = xs));
    const [d, g, off] = paths.map((p) => p.xs) as [number[], number[], number[]];
    const row = (name: string, xs: number[]) => [name, fmt(quantile(xs, 0.5), 3), fmt(quantile(xs, 0.9), 3), fmt(quantile(xs, 0.99), 3), fmt(Math.max(...xs), 3)];
    const diff = (name: string, xs: number[]) => [name, ...[0.5, 0.9, 0.99].map((q) => fmt(quantile(xs, q) - quantile(d, q), 3)), ''];
    say(`### 3. Keystroke echo latency, ${ECHO_SAMPLES} single bytes per path (\`${command}\` on a remote pty, ssh2 Client as the client, ${ECHO_GAP_MS} ms between keystrokes, blocks of ${block} alternating)`);
    say();
    say(table(['path', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'], [...paths.map((p) => row(p.name, p.xs)), diff('added by the gateway (recorded)', g), diff('added by the gateway (recording off)', off)]));
    say();
    say(
      `Other load on the machine during this measurement: ${fmt(other, 0)}% of its CPU. Gateway CPU per keystroke round trip: ${fmt(cpuMs, 2)} ms.` +
        (eld ? ` Gateway event-loop delay meanwhile (lateness of a 10 ms timer, ${eld.samples} samples): p50 ${fmt(eld.p50, 2)} ms, p99 ${fmt(eld.p99, 2)} ms, max ${fmt(eld.max, 2)} ms.` : ''),
    );
    if (attempts.length > 1)
      say(
        `Attempts (the quietest is shown above): ${attempts.map((x, i) => `#${i + 1} other load ${fmt(x.other, 0)}%, added p50/p99 ${fmt(quantile(x.xs[1]!, 0.5) - quantile(x.xs[0]!, 0.5), 2)}/${fmt(quantile(x.xs[1]!, 0.99) - quantile(x.xs[0]!, 0.99), 2)} ms`).join('; ')}.`,
      );
    say();
    results.echo = { direct: d, gateway: g, gatewayNoRecording: off, foreignCpuPercent: other, eventLoopDelay: eld, gatewayCpuMsPerKeystroke: cpuMs, attempts: attempts.map((x) => ({ other: x.other, cpuMs: x.cpuMs, eld: x.eld, xs: x.xs })) };
  } finally {
    for (const c of conns) c.end();
  }
}

// ---------------------------------------------------------------- 4. idle sessions (bench/ssh-idle.ts)

function countUserProcs(): number {
  try {
    return Number(execFileSync('pgrep', ['-c', '-u', TARGET_USER]).toString().trim());
  } catch {
    return 0; // pgrep exits 1 when there are none
  }
}

async function runIdle(dir: string, sshd: { target: BenchSshd; privateKey: string } | null): Promise<void> {
  const startGateway = async (secret: IdleSecret): Promise<IdleGateway> => {
    const gw = await startGw(dir, secret, { exposeGc: true });
    return {
      child: gw.child,
      token: gw.token,
      secretId: gw.secretId,
      stop: async () => {
        await gw.child.stop();
        rmSync(gw.dataDir, { recursive: true, force: true });
      },
    };
  };
  results.idle = await benchIdle({
    sessions: SESSIONS,
    concurrency: CONCURRENCY,
    clientProcs: CLIENT_PROCS,
    openSeconds: num('BENCH_IDLE_OPEN_S', 900),
    idleSeconds: num('BENCH_IDLE_S', 10),
    heapDir: HEAP_DIR,
    startGateway,
    target: sshd ? { kind: 'sshd', secret: { port: sshd.target.port, username: TARGET_USER, privateKey: sshd.privateKey }, countProcs: countUserProcs } : { kind: 'light' },
    say,
    progress,
  });
}

// ---------------------------------------------------------------- verdicts

function summary(): void {
  const rows: string[][] = [];
  const t = results.throughput as { ratioToProxyJump: number; textRatioToProxyJump: number } | undefined;
  if (t) {
    rows.push(['throughput through the gateway ≥ 0.8 × ProxyJump', `${fmt(t.ratioToProxyJump, 2)} ×`, t.ratioToProxyJump >= 0.8 ? 'met' : 'MISSED']);
    // Issue 16's goals (recording on in both rows: the built-in ssh launcher records).
    // Three decimals: at two, a ratio just under the goal would read as the goal and MISSED.
    rows.push(['1 GiB through the gateway, recording on: ≥ 1.5 × ProxyJump (issue 16)', `${fmt(t.ratioToProxyJump, 3)} ×`, t.ratioToProxyJump >= 1.5 ? 'met' : 'MISSED']);
    rows.push(['recorded text: ≥ 1.0 × ProxyJump carrying the same text (issue 16)', `${fmt(t.textRatioToProxyJump, 3)} ×`, t.textRatioToProxyJump >= 1.0 ? 'met' : 'MISSED']);
  }
  const e = results.echo as { direct: number[]; gateway: number[] } | undefined;
  if (e) {
    const added = quantile(e.gateway, 0.99) - quantile(e.direct, 0.99);
    rows.push(['keystroke echo: added p99 ≤ 2 ms', `${fmt(added, 2)} ms`, added <= 2 ? 'met' : 'MISSED']);
  }
  const i = results.idle as { sessions: number; rssOpenBytes: number; rssPerSessionKiB: number } | undefined;
  if (i) {
    const ok = i.sessions >= 1000 && i.rssOpenBytes < 300e6;
    // The target was set for 1000 sessions; the run holds i.sessions (5000 by default), a stricter test.
    rows.push([`${i.sessions} idle sessions < 300 MB gateway RSS (target set for 1000)`, `${i.sessions} sessions, ${fmt(i.rssOpenBytes / 1e6, 0)} MB (${fmt(i.rssOpenBytes / MiB, 1)} MiB)`, ok ? 'met' : 'MISSED']);
    const per = i.sessions >= 5000 && i.rssPerSessionKiB < 64;
    rows.push([`5000 idle sessions: < 64 KiB gateway RSS per session`, `${i.sessions} sessions, ${fmt(i.rssPerSessionKiB, 1)} KiB per session`, per ? 'met' : 'MISSED']);
  }
  if (!rows.length) return;
  say('### Targets');
  say();
  say(table(['target', 'measured', 'verdict'], rows));
  say();
}

// ---------------------------------------------------------------- main

function versions(): Record<string, string> {
  return {
    date: new Date().toISOString(),
    node: process.version,
    openssh: spawnSync('ssh', ['-V']).stderr.toString().trim(),
    ssh2: (require_('ssh2/package.json') as { version: string }).version,
    cpu: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    kernel: release(),
  };
}
const require_ = createRequire(import.meta.url);

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error(`[bench] deadline of ${DEADLINE_MS / 1000} s passed: killing everything`);
    killTracked();
    process.exit(2);
  }, DEADLINE_MS);
  watchdog.unref();
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      killTracked();
      process.exit(130);
    });

  if (process.env.BENCH_TSX !== '1') {
    progress('compiling src/ for the gateway process');
    gatewayEntry = buildGatewayChild();
  }
  const info = versions();
  results.machine = info;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  const needSshd = want('throughput') || want('prompt') || want('echo') || (want('idle') && IDLE_TARGET === 'sshd');
  let target: BenchSshd | null = null;
  let jump: BenchSshd | null = null;
  let gw: Gw | null = null;
  try {
    say(`## SSH door benchmark run ${info.date}`);
    say();
    say(table(['machine', ''], Object.entries(info).map(([k, v]) => [k, v])));
    say();
    let privateKey = '';
    if (needSshd) {
      ensureTargetAccount();
      privateKey = ensureTargetKey().privateKey;
      // MaxStartups/MaxSessions raised for the idle run's thousand sessions.
      [target, jump] = await Promise.all([startBenchSshd(['MaxStartups 2000', 'MaxSessions 2000']), startBenchSshd()]);
    }
    if (target && jump && (want('throughput') || want('prompt') || want('echo'))) {
      const keyFile = join(dir, 'id_target');
      writeFileSync(keyFile, privateKey, { mode: 0o600 });
      const knownHosts = join(dir, 'known_hosts');
      writeFileSync(knownHosts, `[127.0.0.1]:${target.port} ${target.hostKey}\n[127.0.0.1]:${jump.port} ${jump.hostKey}\n`);
      const env: Env = { dir, target, jump, keyFile, privateKey, cfg: join(dir, 'ssh_config'), cfgDefault: join(dir, 'ssh_config_default'), knownHosts };
      sshConfig(env.cfg, keyFile, knownHosts, CIPHER);
      sshConfig(env.cfgDefault, keyFile, knownHosts, null);
      gw = await startGw(dir, { port: target.port, username: TARGET_USER, privateKey }, { profile: true });
      addKnownHosts(env, (await launch(gw)).knownHosts);
      const ciphers = await probeCiphers(env, gw);
      results.ciphers = ciphers;
      say('Negotiated ciphers:');
      say();
      say(table(['leg', 'cipher'], Object.entries(ciphers)));
      say();
      if (want('throughput')) await benchThroughput(env, gw);
      if (want('prompt')) await benchPrompt(env, gw);
      if (want('echo')) await benchEcho(env, gw);
      await gw.child.stop();
      rmSync(gw.dataDir, { recursive: true, force: true });
      gw = null;
    }
    if (want('idle')) await runIdle(dir, IDLE_TARGET === 'sshd' ? { target: target!, privateKey } : null);
    summary();
  } finally {
    closeApiAgent();
    if (gw) {
      await gw.child.stop().catch(() => undefined);
      rmSync(gw.dataDir, { recursive: true, force: true });
    }
    const left = target ? descendants(target.pid).length : 0;
    if (left) progress(`target sshd still had ${left} descendant processes at the end; killing them`);
    await target?.stop();
    await jump?.stop();
    killTracked();
    rmSync(dir, { recursive: true, force: true });
    const file = join(tmpdir(), `gatehouse-bench-${Date.now()}.json`);
    writeFileSync(file, JSON.stringify({ results, output: out.join('\n') }, null, 2));
    progress(`figures also in ${file}`);
  }
}

runBench(main);
