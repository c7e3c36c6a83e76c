// Every core of a node (issue 16 point 3), measured (not a test): `npm run bench:cores`.
// Aggregate throughput of BENCH_PARALLEL (default 8) SSH sessions at once through one node,
// `gatehouse serve` (the built one: run `npm run build` first) with GATEHOUSE_WORKERS=1 and with
// one worker per core (BENCH_WORKERS, default os.availableParallelism()), each on a fresh
// database of a PostgreSQL cluster (BENCH_PG_URL, or a throwaway one this script starts on
// BENCH_PG_PORT, default 55499). Each session streams BENCH_BYTES (default 64 MiB) of
// `head -c … /dev/zero`; the aggregate is all bytes over the time from the first ssh start to the
// last ssh exit. BENCH_RUNS rounds (default 3) per setting, each after a quiet machine
// (BENCH_QUIET_PERCENT, BENCH_QUIET_WAIT_S). Write-up: docs/performance.md.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import { ensureTargetAccount, ensureTargetKey, TARGET_USER } from '../test/support/accounts.js';
import { api, closeApiAgent, CpuWatch, fmt, freePort, killTracked, median, MiB, ROOT, runBench, runCounting, startBenchSshd, table, track, waitQuiet, withTimeout, type BenchSshd } from './lib.js';

const num = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const PARALLEL = num('BENCH_PARALLEL', 8);
const BYTES = num('BENCH_BYTES', 64 * MiB);
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

async function measure(workers: number, dbUrl: string, target: BenchSshd, privateKey: string, dir: string): Promise<number[]> {
  const dataDir = mkdtempSync(join(dir, `gw${workers}-`));
  const gw = await serve(dataDir, dbUrl, workers);
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
    const opts = ['-F', '/dev/null', '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-c', CIPHER, '-p', String(gw.sshPort)];
    const rates: number[] = [];
    for (let run = 1; run <= RUNS; run++) {
      const other = await waitQuiet({ percent: QUIET_PERCENT, waitSeconds: QUIET_WAIT_S, sampleMs: 2000, progress });
      const tickets = await Promise.all(Array.from({ length: PARALLEL }, launch));
      const watch = new CpuWatch();
      const t0 = performance.now();
      const ran = await Promise.all(tickets.map((t) => runCounting('ssh', [...opts, `${t.ticket}@127.0.0.1`, `head -c ${BYTES} /dev/zero`], 600_000)));
      const secs = (performance.now() - t0) / 1000;
      const during = watch.stop(cpus().length);
      const bad = ran.find((r) => r.code !== 0 || r.bytes !== BYTES);
      if (bad) throw new Error(`a session failed: exit ${bad.code ?? bad.signal}, ${bad.bytes}/${BYTES} bytes; ${bad.stderr.slice(-300)}`);
      const rate = (PARALLEL * BYTES) / MiB / secs;
      rates.push(rate);
      progress(`  ${workers} worker(s), run ${run}: ${fmt(rate)} MiB/s aggregate (${fmt(secs, 2)} s; other load before ${fmt(other, 0)}%, during ${fmt(during, 0)}%)`);
    }
    return rates;
  } finally {
    gw.proc.kill('SIGTERM');
    await withTimeout(new Promise((r) => gw.proc.once('exit', r)), 60_000, 'gatehouse serve stop').catch(() => gw.proc.kill('SIGKILL'));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  ensureTargetAccount();
  const { privateKey } = ensureTargetKey();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-cores-'));
  let pgDir: string | null = null;
  let adminUrl = process.env.BENCH_PG_URL;
  const target = await startBenchSshd(['MaxStartups 200', 'MaxSessions 200']);
  try {
    if (!adminUrl) {
      pgDir = join(dir, 'pg');
      adminUrl = execFileSync('bash', [join(ROOT, 'scripts', 'pg-test.sh'), 'start', pgDir, String(num('BENCH_PG_PORT', 55499))], { encoding: 'utf8' }).trim();
    }
    const sqlOn = async (q: string) => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(q).finally(() => c.end());
    };
    const results = new Map<number, number[]>();
    for (const w of [1, WORKERS]) {
      const name = `gh_bench_cores_${w}_${Date.now()}`;
      await sqlOn(`create database ${name}`);
      const u = new URL(adminUrl);
      u.pathname = `/${name}`;
      try {
        results.set(w, await measure(w, u.toString(), target, privateKey, dir));
      } finally {
        await sqlOn(`drop database if exists ${name} with (force)`).catch(() => undefined);
      }
    }
    const one = median(results.get(1)!);
    console.log(`### ${PARALLEL} parallel SSH sessions through one node, ${BYTES / MiB} MiB each (${cpus().length} × ${cpus()[0]?.model ?? '?'}, cipher ${CIPHER})\n`);
    console.log(
      table(
        ['workers', 'aggregate MiB/s (median)', 'runs', '× 1 worker'],
        [...results].map(([w, r]) => [String(w), fmt(median(r)), r.map((x) => fmt(x)).join(', '), fmt(median(r) / one, 2)]),
      ),
    );
  } finally {
    closeApiAgent();
    await target.stop();
    killTracked();
    if (pgDir) execFileSync('bash', [join(ROOT, 'scripts', 'pg-test.sh'), 'stop', pgDir]);
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main);
