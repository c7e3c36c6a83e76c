// One node on every core (issue 16 point 3): `gatehouse serve` with GATEHOUSE_WORKERS=2 on
// PostgreSQL, one HTTPS port and one SSH port shared by two worker processes (node:cluster,
// round-robin), OpenSSH as the client and sshd as the target.
// - The workers are nodes of their own (the data dir's node id and -w1, -w2); SSH sessions land
//   on both (round-robin hands consecutive connections to alternate workers); tickets issued by
//   one worker (its own tickets_issued_total, on its own metrics port) are redeemed by the other;
//   whichever worker answers, the SSH host keys are the same (the known_hosts a launch hands out
//   is checked strictly on every connection).
// - Through the one HTTPS port: every session is listed, each is watched live from both workers
//   (two consecutive streams), and two sessions on different workers are terminated over one
//   kept-alive connection, i.e. by one worker: one locally, one forwarded to the other worker.
// - kill -9 on worker 2: the primary starts it again (same node id), its session is ended as
//   interrupted, worker 1's session goes on.
// - SIGTERM to the primary drains: the running session goes on, launches answer 503 draining,
//   and once it ends every worker stops and the primary exits 0.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { get as httpGet } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { ensureTargetAccount, TARGET_PASSWORD, TARGET_USER } from '../support/accounts.js';
import { interactive, PROMPT, run, type Proc } from '../support/ssh-client.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { sse } from '../support/sse.js';
import { waitFor } from '../support/xrdp.js';
import { api, apiLogin, freshPgDatabase, killAll, removeTempDirs, Server, serverEnv, tempDir } from '../cli/support.js';

const PW = 'Workers-Admin-Password-7';

/** One request over `agent` (kept alive: the same connection, so the same worker, each time). */
function callOver(agent: Agent, url: string, method: string, path: string, token: string, body: unknown): Promise<{ status: number; body: string }> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((res, rej) => {
    const req = request(new URL(path, url), { method, agent, rejectUnauthorized: false, headers: { 'content-type': 'application/json', 'content-length': String(payload.length), authorization: `Bearer ${token}` } }, (r) => {
      let text = '';
      r.on('data', (c: Buffer) => (text += c.toString()));
      r.on('end', () => res({ status: r.statusCode ?? 0, body: text }));
    });
    req.on('error', rej);
    req.end(payload);
  });
}

/** The host keys an SSH port offers (type and base64), sorted. */
async function hostKeys(port: number): Promise<string[]> {
  const r = await run('ssh-keyscan', ['-p', String(port), '-t', 'ed25519,rsa', '127.0.0.1'], { timeoutMs: 30_000 });
  return r.stdout.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(' ').slice(1, 3).join(' ')).sort();
}

/** Whether a TCP port on loopback can be bound now. */
const free = (port: number) =>
  new Promise<boolean>((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });

/** Two consecutive free ports (each worker answers its metrics on the base port + its index - 1). */
async function twoFreePorts(): Promise<number> {
  for (;;) {
    const p = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await free(p)) && (await free(p + 1))) return p;
  }
}

/** A worker's count of SSH tickets issued, from its own metrics listener. */
function ticketsIssued(port: number): Promise<number> {
  return new Promise((res, rej) => {
    httpGet({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (r) => {
      let text = '';
      r.on('data', (c: Buffer) => (text += c.toString()));
      r.on('end', () => res(Number(/^gatehouse_tickets_issued_total\{protocol="ssh"\} (\d+)/m.exec(text)?.[1] ?? 0)));
    }).on('error', rej);
  });
}

describe('one node on every core: gatehouse serve with two workers on PostgreSQL', { timeout: 900_000 }, () => {
  let sshd: Sshd;
  let db: { url: string; drop: () => Promise<void> };
  let server: Server | undefined;
  const clients: Proc[] = [];

  before(async () => {
    ensureTargetAccount();
    sshd = await startSshd();
    db = await freshPgDatabase();
  });
  after(async () => {
    for (const p of clients) p.kill();
    server?.kill();
    killAll();
    await sshd?.stop();
    await db?.drop().catch(() => undefined);
    removeTempDirs();
  });

  it('spreads sessions over both workers, forwards between them, outlives a worker killed mid-session and drains on SIGTERM', { timeout: 900_000 }, async () => {
    const dir = join(tempDir(), 'node');
    const metricsBase = await twoFreePorts();
    const env = await serverEnv(dir, {
      GATEHOUSE_ADMIN_PASSWORD: PW,
      GATEHOUSE_DATABASE_URL: db.url,
      GATEHOUSE_MASTER_KEY: randomBytes(32).toString('base64'),
      GATEHOUSE_WORKERS: '2',
      GATEHOUSE_NODE_HEARTBEAT_SECONDS: '1',
      GATEHOUSE_NODE_DEAD_SECONDS: '5',
      GATEHOUSE_METRICS_LISTEN: `127.0.0.1:${metricsBase}`,
      // SIGTERM lets running sessions go on (the drain below ends with the last one).
      GATEHOUSE_DRAIN_SECONDS: '600',
    });
    server = await Server.start(env, 180_000);
    const S = server;
    const base = readFileSync(join(dir, 'node-id'), 'utf8').trim();
    const workerLine = (i: number) => new RegExp(`gatehouse: worker ${i} is node (\\S+) \\(pid (\\d+)\\)`).exec(S.stdout);
    const node = [workerLine(1)?.[1], workerLine(2)?.[1]];
    assert.deepEqual(node, [`${base}-w1`, `${base}-w2`], `each worker is a node of its own:\n${S.stdout}`);
    assert.match(S.stdout, /gatehouse: listening on https:\/\/\S+ \(2 workers, database: postgres/);
    assert.match(S.stdout, /gatehouse: worker 1: cluster ssh-host-key-ed25519 created \(shared by every node\)/);
    const sshPort = Number(env.GATEHOUSE_SSH_PORT);

    // The same host keys whichever worker answers (consecutive connections go to alternate workers).
    const keys = [await hostKeys(sshPort), await hostKeys(sshPort)];
    assert.equal(keys[0]!.length, 2, `two host keys: ${keys[0]}`);
    assert.deepEqual(keys[1], keys[0]);

    const token = await apiLogin(S.url, 'admin', PW);
    const call = async (method: string, path: string, body?: unknown, expect = 200) => {
      const r = await api(S.url, method, path, { token, body });
      assert.equal(r.status, expect, `${method} ${path}: ${r.body}`);
      return r.status === 204 ? null : r.json();
    };
    const secretId = (await call('POST', '/api/v1/secrets', { name: 'workers-ssh', template: 'unix-account', fields: { machine: '127.0.0.1', port: sshd.port, username: TARGET_USER, password: TARGET_PASSWORD } }, 201)).id as string;
    const sessionRow = async (id: string) => {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        return (await c.query('select node, status, end_reason from sessions where id = $1', [id])).rows[0] as { node: string; status: string; end_reason: string | null };
      } finally {
        await c.end();
      }
    };

    /** A ticket and the worker (1 or 2) that issued it, told by whose tickets_issued_total rose. */
    const launch = async () => {
      const before = [await ticketsIssued(metricsBase), await ticketsIssued(metricsBase + 1)];
      const l = await call('POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'ssh' });
      const now = [await ticketsIssued(metricsBase), await ticketsIssued(metricsBase + 1)];
      const by = now[0]! > before[0]! ? 1 : now[1]! > before[1]! ? 2 : 0;
      assert.ok(by, `one worker counted the ticket: ${before} → ${now}`);
      return { ticket: l.ticket as string, knownHosts: l.ssh.knownHosts as string[], by };
    };
    const seen = new Set<string>();
    /** Redeems a ticket on the shared SSH port, checking the host key against what the issuing worker handed out. */
    const open = async (t: { ticket: string; knownHosts: string[]; by: number }, marker: string) => {
      const kh = join(tempDir(), 'known_hosts');
      writeFileSync(kh, t.knownHosts.map((k) => `[127.0.0.1]:${sshPort} ${k.split(' ').slice(-2).join(' ')}`).join('\n') + '\n');
      const p = interactive(['-F', '/dev/null', '-p', String(sshPort), '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=10', `${t.ticket}@127.0.0.1`], { timeoutMs: 600_000 });
      clients.push(p);
      await p.waitFor(PROMPT, 30_000);
      p.write(`echo ${marker}-$((6*7))\r`);
      await p.waitFor(`${marker}-42`, 15_000);
      const { id } = await waitFor('the live session', async () => ((await call('GET', `/api/v1/sessions?secretId=${secretId}&status=live`)).items as { id: string }[]).find((s) => !seen.has(s.id)), 30_000);
      seen.add(id);
      return { id, client: p, node: (await sessionRow(id)).node, issuedOn: node[t.by - 1]! };
    };

    // Two tickets from each worker (HTTPS connections alternate too: launch until each issued two).
    const tickets: { ticket: string; knownHosts: string[]; by: number }[] = [];
    while (tickets.filter((t) => t.by === 1).length < 2 || tickets.filter((t) => t.by === 2).length < 2) {
      assert.ok(tickets.length < 20, `both workers issue tickets: ${tickets.map((t) => t.by)}`);
      tickets.push(await launch());
    }
    const ordered = [...tickets.filter((t) => t.by === 1).slice(0, 2), ...tickets.filter((t) => t.by === 2).slice(0, 2)];
    // Redeemed one after another: the SSH connections alternate between the workers.
    const sessions: Awaited<ReturnType<typeof open>>[] = [];
    for (const [i, t] of ordered.entries()) sessions.push(await open(t, `s${i}`));
    assert.deepEqual(new Set(sessions.map((s) => s.node)), new Set(node), `sessions on both workers: ${sessions.map((s) => s.node)}`);
    assert.ok(sessions.some((s) => s.node !== s.issuedOn), `a ticket issued by one worker was redeemed by the other: ${JSON.stringify(sessions.map((s) => [s.issuedOn, s.node]))}`);
    const on = (n: string) => sessions.filter((s) => s.node === n);
    assert.equal(on(node[0]!).length, 2);
    assert.equal(on(node[1]!).length, 2);

    // Listed through the one port, whichever worker answers.
    for (let i = 0; i < 2; i++) {
      const live = new Set(((await call('GET', '/api/v1/sessions?status=live')).items as { id: string }[]).map((s) => s.id));
      for (const s of sessions) assert.ok(live.has(s.id), `session ${s.id} on ${s.node} is listed`);
    }

    // Watched live: a session on each worker, each from two consecutive streams (so from both workers).
    for (const [k, s] of [on(node[0]!)[0]!, on(node[1]!)[0]!].entries()) {
      const watches = [await sse(S.url, `/api/v1/sessions/${s.id}/live`, token), await sse(S.url, `/api/v1/sessions/${s.id}/live`, token)];
      for (const w of watches) assert.equal(w.status, 200);
      s.client.write(`echo watched-${k}-$((40+2))\r`);
      for (const w of watches) await waitFor('the output in the live view', () => w.text().includes(`watched-${k}-42`), 15_000);
      for (const w of watches) w.close();
    }

    // Terminated: one session on each worker, both asked over one kept-alive connection (one worker):
    // one ends there, the other is forwarded to the worker it runs on.
    const pinned = new Agent({ keepAlive: true, maxSockets: 1 });
    for (const s of [on(node[0]!)[1]!, on(node[1]!)[1]!]) {
      const r = await callOver(pinned, S.url, 'POST', `/api/v1/sessions/${s.id}/terminate`, token, { reason: 'workers test' });
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(JSON.parse(r.body), { terminated: true });
      await s.client.done;
      const row = await waitFor('the session to end', async () => {
        const x = await sessionRow(s.id);
        return x.status === 'ended' ? x : false;
      }, 15_000);
      assert.match(row.end_reason ?? '', /terminated by admin: workers test/);
    }
    pinned.destroy();

    // kill -9 on worker 2 mid-session: started again (same node id); its session is interrupted, worker 1's goes on.
    const [stays, dies] = [on(node[0]!)[0]!, on(node[1]!)[0]!];
    const pid2 = Number(workerLine(2)![2]);
    process.kill(pid2, 'SIGKILL');
    await dies.client.done;
    const again = await S.waitFor(/gatehouse: worker 2 started again: node (\S+) \(pid (\d+)\)/, 120_000);
    assert.equal(again[1], node[1], 'the same node id');
    assert.notEqual(Number(again[2]), pid2);
    const interrupted = await waitFor('worker 2\'s session to be ended as interrupted', async () => {
      const x = await sessionRow(dies.id);
      return x.status === 'ended' ? x : false;
    }, 60_000, 250);
    assert.equal(interrupted.end_reason, 'interrupted');
    stays.client.write('echo still-here-$((40+2))\r');
    await stays.client.waitFor('still-here-42', 15_000);
    assert.equal((await sessionRow(stays.id)).status, 'live');
    // Both workers serve again: two more sessions, one on each.
    const more: Awaited<ReturnType<typeof open>>[] = [];
    for (const [i, t] of [await launch(), await launch()].entries()) more.push(await open(t, `after-${i}`));
    assert.deepEqual(new Set(more.map((s) => s.node)), new Set(node), 'new sessions on both workers after the restart');
    for (const s of more) {
      s.client.write('exit\r');
      await s.client.done;
    }

    // SIGTERM to the primary: every worker drains; the running session goes on, launches are refused.
    S.proc.kill('SIGTERM');
    await S.waitFor(/gatehouse: draining every worker, then shutting down/);
    stays.client.write('echo draining-$((40+2))\r');
    await stays.client.waitFor('draining-42', 15_000);
    const refused = await waitFor('a launch answered 503 draining', async () => {
      const r = await api(S.url, 'POST', `/api/v1/secrets/${secretId}/launch`, { token, body: { launcher: 'ssh' } }).catch(() => null);
      return r && r.status === 503 ? r : false;
    }, 30_000);
    assert.equal(refused.json().error.code, 'draining');
    assert.equal(S.running, true, 'the node waits for the running session');
    stays.client.write('exit\r');
    await stays.client.done;
    assert.deepEqual(await S.waitExit(60_000), { code: 0, signal: null });
    const ended = await sessionRow(stays.id);
    assert.equal(ended.status, 'ended');
    assert.doesNotMatch(ended.end_reason ?? '', /interrupted|shutting down/);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const rows = (await c.query('select id, status from cluster_nodes order by id')).rows as { id: string; status: string }[];
      assert.deepEqual(rows, node.map((id) => ({ id, status: 'stopped' })), 'both workers stopped cleanly');
      assert.equal((await c.query("select count(*)::int as n from sessions where status = 'live'")).rows[0].n, 0);
    } finally {
      await c.end();
    }
  });

  /**
   * `gatehouse serve` with two workers on a database of its own (the first test's is sealed with
   * its master key), spawned, not awaited; the primary's pid and its child processes (the workers).
   */
  async function spawnTwoWorkers(t: { after(fn: () => unknown): void }) {
    const own = await freshPgDatabase();
    t.after(() => own.drop().catch(() => undefined));
    const env = await serverEnv(join(tempDir(), 'node'), {
      GATEHOUSE_ADMIN_PASSWORD: PW,
      GATEHOUSE_DATABASE_URL: own.url,
      GATEHOUSE_MASTER_KEY: randomBytes(32).toString('base64'),
      GATEHOUSE_WORKERS: '2',
      GATEHOUSE_NODE_HEARTBEAT_SECONDS: '1',
    });
    const S = Server.spawn(env);
    server = S;
    const pid = S.proc.pid!;
    const children = () =>
      readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    return { S, pid, children };
  }

  /** Whether `pid` has exec'd as worker `index`: before exec its environment is still the primary's. */
  const execedAsWorker = (pid: number, index: number) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`GATEHOUSE_WORKER_INDEX=${index}`);

  it('a SIGTERM to every process (as systemd stops a unit) while worker 2 still starts: worker 1 drains, worker 2 goes or drains, exit 0', { timeout: 300_000 }, async (t) => {
    const { S, pid, children } = await spawnTwoWorkers(t);
    // Worker 1 starts alone; worker 2 once worker 1 listens: signalled as soon as it exists,
    // still loading or starting (it may have no handler yet, or be inside its start).
    await waitFor('worker 2 forked', () => children().length === 2 || undefined, 180_000, 20);
    assert.doesNotMatch(S.stdout, /worker 2: listening on/);
    for (const p of [pid, ...children()]) process.kill(p, 'SIGTERM');
    assert.deepEqual(await S.waitExit(120_000), { code: 0, signal: null }, `stdout: ${S.stdout}\nstderr: ${S.stderr}`);
    assert.doesNotMatch(S.stderr, /exited|died/);
  });

  it('a SIGTERM to the primary while worker 1 starts: worker 1 drains once it listens, worker 2 is never started, exit 0', { timeout: 300_000 }, async (t) => {
    const { S, children } = await spawnTwoWorkers(t);
    const pid1 = await waitFor('worker 1 forked', () => children()[0], 60_000, 20);
    await waitFor('worker 1 running its program', () => execedAsWorker(pid1, 1) || undefined, 60_000, 5);
    S.proc.kill('SIGTERM');
    const seen = new Set<number>([pid1]);
    const watch = setInterval(() => {
      try {
        for (const p of children()) seen.add(p);
      } catch {
        /* the primary is gone */
      }
    }, 10);
    try {
      assert.deepEqual(await S.waitExit(120_000), { code: 0, signal: null }, `stdout: ${S.stdout}\nstderr: ${S.stderr}`);
    } finally {
      clearInterval(watch);
    }
    // Before: workers 2..N were forked (and loaded and started) once worker 1 listened, only to drain.
    assert.deepEqual([...seen], [pid1], `stdout: ${S.stdout}`);
    assert.doesNotMatch(S.stdout, /worker 2/);
  });

  it('worker 1 dies while worker 2 still starts, and its restart fails too: it is started again until it runs', { timeout: 300_000 }, async (t) => {
    const { S, children } = await spawnTwoWorkers(t);
    const pid1 = await waitFor('worker 1 forked', () => children()[0], 60_000, 20);
    // Worker 2 is forked once worker 1 listens; held stopped, it keeps the start from finishing.
    // Stopped only once it runs its own program: between fork and exec the primary waits for the
    // exec inside its spawn call, and would wait as long as the child is held.
    const pid2 = await waitFor('worker 2 forked', () => children().find((p) => p !== pid1), 180_000, 20);
    await waitFor('worker 2 running its program', () => execedAsWorker(pid2, 2) || undefined, 60_000, 5);
    process.kill(pid2, 'SIGSTOP');
    t.after(() => {
      try {
        process.kill(pid2, 'SIGCONT');
      } catch {
        /* gone */
      }
    });
    process.kill(pid1, 'SIGKILL');
    // Forked again at once (it had listened); killed again before it can listen.
    const again = await waitFor('worker 1 forked again', () => children().find((p) => p !== pid1 && p !== pid2), 60_000, 5);
    process.kill(again, 'SIGKILL');
    // Before: a restart failing while the others still started was never retried.
    await waitFor('worker 1 forked a third time', () => children().find((p) => p !== pid1 && p !== pid2 && p !== again), 60_000, 20);
    process.kill(pid2, 'SIGCONT');
    await waitFor('every worker listening', () => S.stdout.includes('workers share the public ports') || undefined, 180_000, 50);
    await waitFor('worker 1 started again', () => /worker 1 started again: node \S+/.test(S.stdout) || undefined, 180_000, 50);
    assert.equal(children().length, 2, `stdout: ${S.stdout}\nstderr: ${S.stderr}`);
    assert.equal((S.stderr.match(/worker 1 \(pid \d+\) died/g) ?? []).length, 2, S.stderr);
    S.proc.kill('SIGTERM');
    assert.deepEqual(await S.waitExit(120_000), { code: 0, signal: null }, `stdout: ${S.stdout}\nstderr: ${S.stderr}`);
  });
});
