// Ticket throughput (not a test): `npm run bench:tickets`. Starts Gatehouse in a child
// process (bench/gateway-child.ts) on SQLite and on PostgreSQL, one after the other, and
// measures on each, in one run:
//   1. launches/s: POST /api/v1/secrets/:id/launch over keep-alive HTTPS (self-signed, loopback),
//      CONCURRENCY requests in flight over CONNECTIONS connections, each launch audited;
//   2. redemptions/s: the tickets just issued, redeemed inside the gateway process as the SSH
//      door does (broker.redeem with the client's address, src/protocols/ssh/connection.ts),
//      CONCURRENCY at a time; each opens a session (row + audit event), which is then ended.
//      No SSH handshake and no target connection: those are the SSH benchmark's (bench/ssh.ts);
//   3. the floor: GET /api/v1/me over the same connections, what any authenticated API request
//      costs (TLS, HTTP, routing, the token's look-up, the request log) without a launch's work.
// The rate limits on ticket requests are switched off (one account, one address, thousands
// of launches a second); everything else is as `gatehouse serve` runs it (HTTPS, audit,
// checkpoints, metrics). Figures go to stdout as Markdown and to a JSON file in the temp dir;
// the write-up is docs/performance.md ("Tickets per second").
// Knobs (environment): BENCH_TICKETS_COUNT (timed launches per database, also redeemed),
// BENCH_TICKETS_WARMUP, BENCH_TICKETS_CONCURRENCY (requests in flight), BENCH_TICKETS_CONNECTIONS
// (keep-alive connections; default = concurrency), BENCH_TICKETS_REDEEM_CONCURRENCY,
// BENCH_TICKETS_DBS (sqlite,postgres), BENCH_TICKETS_ROUNDS (rounds per database; the best
// and the median are shown), BENCH_TICKETS_PG_FSYNC (1: a durable PostgreSQL, the default;
// 0: the tests' fsync=off), BENCH_CPU_PROF (a directory: --cpu-prof the gateway),
// BENCH_QUIET_PERCENT, BENCH_QUIET_WAIT_S (wait, bounded, for other load to drop below this
// before each timed phase), BENCH_TSX=1 (run the gateway from source through tsx).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedeemResult } from './gateway-child.js';
import { api, buildGatewayChild, CpuWatch, descendants, fmt, freePort, median, ownTicks, quantile, runBench, startBenchPostgres, startGatewayChild, table, waitQuiet, type GatewayChild } from './lib.js';

const num = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const COUNT = num('BENCH_TICKETS_COUNT', 5000);
const WARMUP = num('BENCH_TICKETS_WARMUP', 1000);
const CONCURRENCY = num('BENCH_TICKETS_CONCURRENCY', 32);
const CONNECTIONS = num('BENCH_TICKETS_CONNECTIONS', CONCURRENCY);
const REDEEM_CONCURRENCY = num('BENCH_TICKETS_REDEEM_CONCURRENCY', CONCURRENCY);
const ROUNDS = num('BENCH_TICKETS_ROUNDS', 1);
const DBS = (process.env.BENCH_TICKETS_DBS ?? 'sqlite,postgres').split(',').map((s) => s.trim()).filter(Boolean) as ('sqlite' | 'postgres')[];
const PG_FSYNC = process.env.BENCH_TICKETS_PG_FSYNC !== '0';
const PROF = process.env.BENCH_CPU_PROF;
/** Other load (% of the machine's CPU) below which the machine counts as quiet, and how long to wait for it before each timed phase. */
const QUIET_PERCENT = num('BENCH_QUIET_PERCENT', 15);
const QUIET_WAIT_S = num('BENCH_QUIET_WAIT_S', 30);
const ADMIN_PASSWORD = 'bench-Admin-Password-1';

const progress = (s: string) => process.stderr.write(`[bench] ${s}\n`);

interface Gw {
  child: GatewayChild;
  token: string;
  adminToken: string;
  secretId: string;
}

async function startGw(entry: string | null, dataDir: string, databaseUrl: string | null): Promise<Gw> {
  const child = await startGatewayChild(
    entry,
    {
      GATEHOUSE_DATA_DIR: dataDir,
      GATEHOUSE_HTTP_PORT: '0',
      GATEHOUSE_SSH_PORT: '0',
      GATEHOUSE_RDP_PORT: '0',
      GATEHOUSE_BIND_HOST: '127.0.0.1',
      GATEHOUSE_PUBLIC_URL: 'https://127.0.0.1',
      GATEHOUSE_ADMIN_PASSWORD: ADMIN_PASSWORD,
      GATEHOUSE_LOG_LEVEL: 'info',
      // All CONNECTIONS bench connections come from 127.0.0.1 at once: past the pre-auth gate's
      // per-source limit on unauthenticated connections they would be reset.
      GATEHOUSE_MAX_STARTUPS_PER_SOURCE: String(Math.max(10, 4 * CONNECTIONS)),
      GATEHOUSE_MAX_STARTUPS: String(Math.max(100, 4 * CONNECTIONS)),
      ...(databaseUrl ? { GATEHOUSE_DATABASE_URL: databaseUrl } : {}),
    },
    PROF ? { cpuProfDir: PROF } : {},
  );
  const login = await api(child.url, 'POST', '/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${JSON.stringify(login.body)}`);
  const token = login.body.token as string;
  const off = await api(child.url, 'PATCH', '/settings', { token, body: { ticketRequestsPerIp: 0, ticketRequestsPerAccount: 0 } });
  if (off.status !== 200) throw new Error(`settings: ${off.status} ${JSON.stringify(off.body)}`);
  // An API token (what a script or an integration launching tickets uses), launch scope only.
  const t = await api(child.url, 'POST', '/tokens', { token, body: { name: 'bench', scopes: ['launch'] } });
  if (t.status !== 201) throw new Error(`api token: ${t.status} ${JSON.stringify(t.body)}`);
  const s = await api(child.url, 'POST', '/secrets', { token, body: { name: 'bench-target', template: 'unix-account', fields: { machine: '127.0.0.1', port: 22, username: 'bench', password: 'bench-Target-Password-1' } } });
  if (s.status !== 201) throw new Error(`create secret: ${s.status} ${JSON.stringify(s.body)}`);
  return { child, token: t.body.token as string, adminToken: token, secretId: s.body.id as string };
}

interface Phase {
  n: number;
  ms: number;
  latencies: number[];
  /** CPU ms of the gateway, of this (client) process and of the database server (PostgreSQL) per operation. */
  gwCpu: number;
  clientCpu: number;
  dbCpu: number;
  otherLoad: number;
}

/** Ticks of the PostgreSQL server (postmaster and its backends), from its pid file. */
function pgTicks(pgDir: string | null): number {
  if (!pgDir) return 0;
  try {
    const pid = Number(readFileSync(join(pgDir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    // Backends that exited meanwhile (idle pool connections closed) count through the postmaster's cutime + cstime.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [pid, ...descendants(pid)].reduce((a, p) => a + ownTicks(p), 0) + Number(f[13]) + Number(f[14]);
  } catch {
    return 0;
  }
}

async function launches(gw: Gw, n: number, agent: Agent, pgDir: string | null): Promise<{ phase: Phase; tickets: string[] }> {
  return requests(gw, n, agent, pgDir, 'POST', `/secrets/${gw.secretId}/launch`, { launcher: 'ssh' }, gw.token);
}

/**
 * The floor under a launch: an authenticated GET /api/v1/me over the same connections (TLS,
 * HTTP, routing, the token's look-up, serialization, the request log; no launch work).
 */
async function floor(gw: Gw, n: number, agent: Agent, pgDir: string | null): Promise<Phase> {
  return (await requests(gw, n, agent, pgDir, 'GET', '/me', undefined, gw.adminToken)).phase;
}

async function requests(gw: Gw, n: number, agent: Agent, pgDir: string | null, method: string, path: string, body: unknown, token: string): Promise<{ phase: Phase; tickets: string[] }> {
  const tickets: string[] = [];
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  let firstError = '';
  const g0 = ownTicks(gw.child.pid);
  const c0 = process.cpuUsage();
  const d0 = pgTicks(pgDir);
  const watch = new CpuWatch();
  const t0 = performance.now();
  const worker = async () => {
    while (next < n) {
      next++;
      const s = performance.now();
      const r = await api(gw.child.url, method, path, { token, ...(body === undefined ? {} : { body }), agent });
      if (r.status === 200) {
        if (typeof r.body?.ticket === 'string') tickets.push(r.body.ticket);
        latencies.push(performance.now() - s);
      } else {
        failed++;
        firstError ||= `${r.status} ${JSON.stringify(r.body).slice(0, 300)}`;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const ms = performance.now() - t0;
  // The PostgreSQL server is no descendant of this process (pg_ctl detaches it): its CPU is not other load.
  const otherLoad = Math.max(0, watch.stop(cpus().length) - (100 * (pgTicks(pgDir) - d0)) / ((ms / 1000) * 100 * cpus().length));
  if (failed) throw new Error(`${failed} of ${n} ${method} ${path} requests failed; first: ${firstError}`);
  const c = process.cpuUsage(c0);
  return { tickets, phase: { n, ms, latencies, gwCpu: ((ownTicks(gw.child.pid) - g0) * 10) / n, clientCpu: (c.user + c.system) / 1000 / n, dbCpu: ((pgTicks(pgDir) - d0) * 10) / n, otherLoad } };
}

async function redemptions(gw: Gw, tickets: string[], pgDir: string | null): Promise<{ phase: Phase; endPerSec: number }> {
  const g0 = ownTicks(gw.child.pid);
  const d0 = pgTicks(pgDir);
  const watch = new CpuWatch();
  const t0 = performance.now();
  const r = await gw.child.call<RedeemResult>('redeem', 600_000, { tickets, concurrency: REDEEM_CONCURRENCY });
  const otherLoad = Math.max(0, watch.stop(cpus().length) - (100 * (pgTicks(pgDir) - d0)) / (((performance.now() - t0) / 1000) * 100 * cpus().length));
  if (r.refused) throw new Error(`${r.refused} of ${tickets.length} redeems refused; first: ${r.firstError}`);
  // Gateway CPU here covers the redeems and the session ends (one IPC call does both).
  return { phase: { n: r.redeemed, ms: r.redeemMs, latencies: r.latencies, gwCpu: ((ownTicks(gw.child.pid) - g0) * 10) / r.redeemed, clientCpu: 0, dbCpu: ((pgTicks(pgDir) - d0) * 10) / r.redeemed, otherLoad }, endPerSec: (r.redeemed / r.endMs) * 1000 };
}

interface Round {
  db: string;
  /** GET /api/v1/me: what any authenticated API request costs (the launch's floor). */
  floor: Phase;
  launch: Phase;
  redeem: Phase;
  endPerSec: number;
  auditEvents: number;
  verify: { ok: boolean; count: number; message?: string };
}

async function runRound(entry: string | null, db: 'sqlite' | 'postgres', round: number): Promise<Round> {
  const dataDir = mkdtempSync(join(tmpdir(), `gh-bench-tickets-${db}-`));
  const pgDir = db === 'postgres' ? mkdtempSync(join(tmpdir(), 'gh-bench-pg-')) : null;
  const pg = pgDir ? startBenchPostgres(pgDir, await freePort(), { fsync: PG_FSYNC }) : null;
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS, rejectUnauthorized: false });
  try {
    const gw = await startGw(entry, dataDir, pg?.url ?? null);
    try {
      progress(`${db} round ${round}: ${WARMUP} warm-up launches, then ${COUNT} timed (${CONCURRENCY} in flight over ${CONNECTIONS} connections)`);
      if (WARMUP) await redemptions(gw, (await launches(gw, WARMUP, agent, pgDir)).tickets, pgDir);
      await waitQuiet({ percent: QUIET_PERCENT, waitSeconds: QUIET_WAIT_S, sampleMs: 2000, progress });
      const l = await launches(gw, COUNT, agent, pgDir);
      progress(`  ${fmt((l.phase.n / l.phase.ms) * 1000, 0)} launches/s`);
      await waitQuiet({ percent: QUIET_PERCENT, waitSeconds: QUIET_WAIT_S, sampleMs: 2000, progress });
      const f = await floor(gw, COUNT, agent, pgDir);
      progress(`  ${fmt((f.n / f.ms) * 1000, 0)} GET /api/v1/me per s (the floor of an API request)`);
      await waitQuiet({ percent: QUIET_PERCENT, waitSeconds: QUIET_WAIT_S, sampleMs: 2000, progress });
      const r = await redemptions(gw, l.tickets, pgDir);
      progress(`  ${fmt((r.phase.n / r.phase.ms) * 1000, 0)} redemptions/s, ${fmt(r.endPerSec, 0)} session ends/s`);
      // Every launch and redeem audited, and the chain still verifies.
      const v = await api(gw.child.url, 'GET', '/audit/verify', { token: gw.adminToken });
      const ev = await api(gw.child.url, 'GET', '/audit?action=secret.launch&limit=1', { token: gw.adminToken });
      return { db, floor: f, launch: l.phase, redeem: r.phase, endPerSec: r.endPerSec, auditEvents: Number(ev.body?.total ?? NaN), verify: { ok: !!v.body?.ok, count: v.body?.count, ...(v.body?.message ? { message: v.body.message } : {}) } };
    } finally {
      await gw.child.stop();
    }
  } finally {
    agent.destroy();
    pg?.stop();
  }
}

async function main(): Promise<void> {
  const entry = process.env.BENCH_TSX === '1' ? null : buildGatewayChild();
  const rounds: Round[] = [];
  for (let i = 1; i <= ROUNDS; i++) for (const db of DBS) rounds.push(await runRound(entry, db, i));
  const rate = (p: Phase) => (p.n / p.ms) * 1000;
  const rows: (string | number)[][] = [];
  for (const db of DBS) {
    const mine = rounds.filter((r) => r.db === db);
    for (const [what, get] of [['launch (HTTPS API)', (r: Round) => r.launch], ['redeem (in the gateway, as the SSH door)', (r: Round) => r.redeem], ['floor: GET /api/v1/me (HTTPS API, no launch)', (r: Round) => r.floor]] as const) {
      const ps = mine.map(get);
      const best = ps.reduce((a, b) => (rate(b) > rate(a) ? b : a));
      rows.push([
        db === 'postgres' ? `PostgreSQL${PG_FSYNC ? '' : ' (fsync off)'}` : 'SQLite',
        what,
        fmt(Math.max(...ps.map(rate)), 0),
        fmt(median(ps.map(rate)), 0),
        fmt(median(best.latencies), 1),
        fmt(quantile(best.latencies, 0.99), 1),
        fmt(best.gwCpu, 3),
        what.includes('HTTPS') ? fmt(best.clientCpu, 3) : '',
        db === 'postgres' ? fmt(best.dbCpu, 3) : '',
        fmt(Math.max(...ps.map((p) => p.otherLoad)), 0),
      ]);
    }
  }
  const head = ['database', 'operation', 'per s (best)', 'per s (median)', 'p50 ms', 'p99 ms', 'gateway CPU ms/op', 'client CPU ms/op', 'PostgreSQL CPU ms/op', 'other load %'];
  console.log(`\n${COUNT} timed operations per round, ${ROUNDS} round(s); ${CONCURRENCY} launches in flight over ${CONNECTIONS} keep-alive HTTPS connections; ${REDEEM_CONCURRENCY} redeems in flight; ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'})\n`);
  console.log(table(head, rows));
  console.log('');
  for (const r of rounds) console.log(`- ${r.db}: session ends ${fmt(r.endPerSec, 0)}/s; secret.launch events ${r.auditEvents}; audit chain verifies: ${r.verify.ok} (${r.verify.count} events${r.verify.message ? `: ${r.verify.message}` : ''})`);
  const file = join(tmpdir(), `gatehouse-bench-tickets-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify({ COUNT, WARMUP, CONCURRENCY, CONNECTIONS, REDEEM_CONCURRENCY, PG_FSYNC, rounds: rounds.map((r) => ({ ...r, floor: { ...r.floor, latencies: undefined, perSec: rate(r.floor) }, launch: { ...r.launch, latencies: undefined, perSec: rate(r.launch) }, redeem: { ...r.redeem, latencies: undefined, perSec: rate(r.redeem) } })) }, null, 2));
  progress(`results: ${file}`);
  if (rounds.some((r) => !r.verify.ok)) throw new Error('the audit chain did not verify after the run');
}

runBench(main);
