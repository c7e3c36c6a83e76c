// Every core of a node (issue 16 point 3), measured (not a test): `npm run bench:cores`.
// Aggregate throughput of BENCH_PARALLEL (default 8) SSH sessions at once: straight to the target
// sshd (the baseline: what the machine does with that many ssh and sshd processes), and through one
// node, `gatehouse serve` (the built one: run `npm run build` first) with GATEHOUSE_WORKERS=1 and
// with one worker per core (BENCH_WORKERS, default os.availableParallelism()), each on a fresh
// database of a PostgreSQL cluster (BENCH_PG_URL, or a throwaway one this script starts on
// BENCH_PG_PORT, default 55499). Each session streams BENCH_BYTES (default 256 MiB) of
// `head -c … /dev/zero`; the aggregate is all bytes over the time from the first ssh start to the
// last ssh exit. (With 64 MiB the first seconds of a round weighed most: with eight connections
// starting at once even direct ssh moves little at first, 8 × 16 MiB took 4.2 s against 1.0 s for
// 8 × 1 MiB on the 2-CPU VM, and direct ssh came out at 77 MiB/s against 194 with 256 MiB.)
// BENCH_RUNS rounds (default 3), each after a quiet machine (BENCH_QUIET_PERCENT,
// BENCH_QUIET_WAIT_S) and running every path back to back. Write-up: docs/performance.md.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import { ensureTargetAccount, ensureTargetKey, TARGET_USER } from '../test/support/accounts.js';
import { api, closeApiAgent, CpuWatch, fmt, freePort, killTracked, median, MiB, ROOT, runBench, runCounting, startBenchSshd, table, track, waitQuiet, withTimeout, type BenchSshd } from './lib.js';

const num = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const PARALLEL = num('BENCH_PARALLEL', 8);
const BYTES = num('BENCH_BYTES', 256 * MiB);
const RUNS = num('BENCH_RUNS', 3);
const WORKERS = num('BENCH_WORKERS', availableParallelism());
const QUIET_PERCENT = num('BENCH_QUIET_PERCENT', 10);
const QUIET_WAIT_S = num('BENCH_QUIET_WAIT_S', 60);
const CIPHER = process.env.BENCH_CIPHER ?? 'aes128-gcm@openssh.com';
const ADMIN_PASSWORD = 'bench-Admin-Password-1';
const progress = (s: string) => process.stderr.write(`[bench] ${s}\n`);

/** A running `gatehouse serve` (primary and workers), its URL and SSH port. */
async function serve(dataDir: string, dbUrl: string, workers: number): Promise<{ proc: ChildProcess; url: string; sshPort: number }> {
  const sshPort = await freePort();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GATEHOUSE_')) env[k] = v;
  Object.assign(env, {
    GATEHOUSE_DATA_DIR: dataDir,
    GATEHOUSE_DATABASE_URL: dbUrl,
    GATEHOUSE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
    GATEHOUSE_BIND_HOST: '127.0.0.1',
    GATEHOUSE_HTTP_PORT: '0',
    GATEHOUSE_SSH_PORT: String(sshPort),
    GATEHOUSE_RDP_PORT: String(await freePort()),
    GATEHOUSE_PUBLIC_URL: 'https://127.0.0.1',
    GATEHOUSE_ADMIN_PASSWORD: ADMIN_PASSWORD,
    GATEHOUSE_WORKERS: String(workers),
    GATEHOUSE_DRAIN_SECONDS: '0',
    GATEHOUSE_MAX_STARTUPS_PER_SOURCE: String(4 * PARALLEL),
  });
  const proc = track(spawn(process.execPath, [join(ROOT, 'bin', 'gatehouse.js'), 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] }));
  let out = '';
  const url = await withTimeout(
    new Promise<string>((res, rej) => {
      proc.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /gatehouse: listening on (https:\/\/\S+)/.exec(out);
        if (m) res(m[1]!);
      });
      proc.once('exit', (code) => rej(new Error(`gatehouse serve exited (${code}) before listening:\n${out}`)));
    }),
    180_000,
    'gatehouse serve start',
  );
  return { proc, url, sshPort };
}

/** One way of running the sessions: straight to the target, or through a gateway. */
interface Path {
  name: string;
  /** The ssh arguments of each of the PARALLEL sessions of one round (a gateway launches their tickets here, untimed). */
  sessions(): Promise<string[][]>;
  stop(): Promise<void>;
}

const COMMAND = `head -c ${BYTES} /dev/zero`;
const sshOptions = (knownHosts: string, port: number) => ['-F', '/dev/null', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-c', CIPHER, '-p', String(port)];

/** The baseline: the same sessions straight to the target sshd, key auth, no gateway. */
function directPath(target: BenchSshd, privateKey: string, dir: string): Path {
  const key = join(dir, 'direct-key');
  writeFileSync(key, privateKey, { mode: 0o600 });
  const kh = join(dir, 'direct-known_hosts');
  writeFileSync(kh, `[127.0.0.1]:${target.port} ${target.hostKey}\n`);
  const args = [...sshOptions(kh, target.port), '-i', key, `${TARGET_USER}@127.0.0.1`, COMMAND];
  return { name: 'direct ssh → sshd', sessions: async () => Array.from({ length: PARALLEL }, () => args), stop: async () => undefined };
}

/** `gatehouse serve` with `workers` workers on its own database, an SSH secret for the target, and tickets launched per round. */
async function gatewayPath(workers: number, dbUrl: string, target: BenchSshd, privateKey: string, dir: string): Promise<Path> {
  const dataDir = mkdtempSync(join(dir, `gw${workers}-`));
  const gw = await serve(dataDir, dbUrl, workers);
  const stop = async () => {
    gw.proc.kill('SIGTERM');
    await withTimeout(new Promise((r) => gw.proc.once('exit', r)), 60_000, 'gatehouse serve stop').catch(() => gw.proc.kill('SIGKILL'));
  };
  try {
    const login = await api(gw.url, 'POST', '/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD }, fresh: true });
    if (login.status !== 200) throw new Error(`login: ${login.status} ${JSON.stringify(login.body)}`);
    const token = login.body.token as string;
    await api(gw.url, 'PATCH', '/settings', { token, fresh: true, body: { ticketRequestsPerIp: 0, ticketRequestsPerAccount: 0, loginRequestsPerIp: 0, loginRequestsPerAccount: 0 } });
    const s = await api(gw.url, 'POST', '/secrets', { token, fresh: true, body: { name: 'bench-cores', template: 'unix-account', fields: { machine: '127.0.0.1', port: target.port, username: TARGET_USER, privateKey } } });
    if (s.status !== 201) throw new Error(`create secret: ${s.status} ${JSON.stringify(s.body)}`);
    const launch = async () => {
      const r = await api(gw.url, 'POST', `/secrets/${s.body.id}/launch`, { token, fresh: true, body: { launcher: 'ssh' } });
      if (r.status !== 200) throw new Error(`launch: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body as { ticket: string; ssh: { knownHosts: string[] } };
    };
    const first = await launch();
    const kh = join(dataDir, 'known_hosts');
    writeFileSync(kh, first.ssh.knownHosts.map((k) => `[127.0.0.1]:${gw.sshPort} ${k.split(' ').slice(-2).join(' ')}`).join('\n') + '\n');
    const opts = sshOptions(kh, gw.sshPort);
    return {
      name: `ssh → Gatehouse → sshd, ${workers} worker${workers === 1 ? '' : 's'}`,
      sessions: async () => (await Promise.all(Array.from({ length: PARALLEL }, launch))).map((t) => [...opts, `${t.ticket}@127.0.0.1`, COMMAND]),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

interface Round {
  rate: number;
  busy: number;
  other: number;
}

/** Runs the PARALLEL sessions of one path at once: aggregate MiB/s from the first ssh start to the last ssh exit. */
async function round(path: Path): Promise<Round> {
  const args = await path.sessions();
  const watch = new CpuWatch();
  const t0 = performance.now();
  const ran = await Promise.all(args.map((a) => runCounting('ssh', a, 600_000)));
  const secs = (performance.now() - t0) / 1000;
  const other = watch.stop(cpus().length);
  const bad = ran.find((r) => r.code !== 0 || r.bytes !== BYTES);
  if (bad) throw new Error(`${path.name}: a session failed: exit ${bad.code ?? bad.signal}, ${bad.bytes}/${BYTES} bytes; ${bad.stderr.slice(-300)}`);
  return { rate: (PARALLEL * BYTES) / MiB / secs, busy: watch.busyPercent, other };
}

async function main(): Promise<void> {
  ensureTargetAccount();
  const { privateKey } = ensureTargetKey();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-cores-'));
  let pgDir: string | null = null;
  let adminUrl = process.env.BENCH_PG_URL;
  const target = await startBenchSshd(['MaxStartups 200', 'MaxSessions 200']);
  const databases: string[] = [];
  const paths: Path[] = [];
  const sqlOn = async (q: string) => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(q).finally(() => c.end());
  };
  try {
    if (!adminUrl) {
      // A directory of its own: PostgreSQL runs as the postgres account, which cannot enter
      // `dir` (mkdtemp makes it 0700, owned by root).
      pgDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-cores-pg-'));
      adminUrl = execFileSync('bash', [join(ROOT, 'scripts', 'pg-test.sh'), 'start', pgDir, String(num('BENCH_PG_PORT', 55499))], { encoding: 'utf8' }).trim();
    }
    paths.push(directPath(target, privateKey, dir));
    // Both gateways run for the whole bench (idle while the other paths run), so each round
    // runs every path back to back and the ratios are taken per round, as bench/ssh.ts does.
    for (const w of [...new Set([1, WORKERS])]) {
      const name = `gh_bench_cores_${w}_${Date.now()}`;
      await sqlOn(`create database ${name}`);
      databases.push(name);
      const u = new URL(adminUrl);
      u.pathname = `/${name}`;
      paths.push(await gatewayPath(w, u.toString(), target, privateKey, dir));
    }
    const rounds = new Map<Path, Round[]>(paths.map((p) => [p, []]));
    for (let run = 1; run <= RUNS; run++) {
      const before = await waitQuiet({ percent: QUIET_PERCENT, waitSeconds: QUIET_WAIT_S, sampleMs: 2000, progress });
      for (const p of paths) {
        const r = await round(p);
        rounds.get(p)!.push(r);
        progress(`  run ${run} ${p.name}: ${fmt(r.rate)} MiB/s aggregate (machine ${fmt(r.busy, 0)}% busy; other load before ${fmt(before, 0)}%, during ${fmt(r.other, 0)}%)`);
      }
    }
    const direct = rounds.get(paths[0]!)!;
    const oneWorker = rounds.get(paths[1]!)!;
    /** Median over the rounds of this path's rate against another path's in the same round. */
    const ratio = (mine: Round[], base: Round[]) => median(mine.map((r, i) => r.rate / base[i]!.rate));
    console.log(`### ${PARALLEL} parallel SSH sessions through one node, ${BYTES / MiB} MiB each (${cpus().length} × ${cpus()[0]?.model ?? '?'}, cipher ${CIPHER}, ${RUNS} rounds)\n`);
    console.log(
      table(
        ['path', 'aggregate MiB/s (median)', 'runs', '× direct', '× 1 worker', 'machine busy % (median)', 'other load % (max)'],
        paths.map((p, i) => {
          const r = rounds.get(p)!;
          return [p.name, fmt(median(r.map((x) => x.rate))), r.map((x) => fmt(x.rate)).join(', '), fmt(ratio(r, direct), 2), i === 0 ? '' : fmt(ratio(r, oneWorker), 2), fmt(median(r.map((x) => x.busy)), 0), fmt(Math.max(...r.map((x) => x.other)), 0)];
        }),
      ),
    );
    console.log('\nThe aggregate is all bytes over the time from the first `ssh` start to the last `ssh` exit (handshakes included); ratios are medians of per-round ratios. "machine busy" near 100: the machine, not the gateway, is the bound.');
  } finally {
    for (const p of paths) await p.stop().catch(() => undefined);
    for (const name of databases) await sqlOn(`drop database if exists ${name} with (force)`).catch(() => undefined);
    closeApiAgent();
    await target.stop();
    killTracked();
    if (pgDir) execFileSync('bash', [join(ROOT, 'scripts', 'pg-test.sh'), 'stop', pgDir]);
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main);
