// Benchmark 4 of bench/ssh.ts: the gateway's memory with thousands of concurrent idle shell
// sessions (RSS per session). One fresh gateway process (--expose-gc) relays every session;
// the people are ssh2 Clients in child processes (bench/idle-clients.ts) and the target is
// either the light ssh2 target (bench/idle-target.ts, BENCH_IDLE_TARGET=light, the
// default: no process per session on the target side, so 5000 sessions fit the machine) or
// the real sshd with a login bash per session (BENCH_IDLE_TARGET=sshd). Only the gateway's
// process is measured: RSS from /proc, heap figures from process.memoryUsage().
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import ssh2 from 'ssh2';
import { fmt, MiB, ownTicks, ROOT, rssOf, sleep, table, type GatewayChild } from './lib.js';
import { ensureNofile, forkIpcChild, nofileOf, type IpcChild } from './ipc-child.js';

/** What a benchmark gateway is given: the vaulted credential of the target. */
export interface IdleSecret {
  port: number;
  username: string;
  privateKey: string;
}

export interface IdleGateway {
  child: GatewayChild;
  token: string;
  secretId: string;
  /** Stops the gateway and removes its data. */
  stop(): Promise<void>;
}

export interface IdleOptions {
  sessions: number;
  /** Sessions being opened at once (over all client processes). */
  concurrency: number;
  clientProcs: number;
  /** Seconds the opening may take in all. */
  openSeconds: number;
  idleSeconds: number;
  heapDir: string | undefined;
  /** A fresh gateway process (with --expose-gc) whose secret is the given credential. */
  startGateway(secret: IdleSecret): Promise<IdleGateway>;
  /** light: bench/idle-target.ts; sshd: this sshd, and a count of its session processes. */
  target: { kind: 'light' } | { kind: 'sshd'; secret: IdleSecret; countProcs(): number };
  say(s?: string): void;
  progress(s: string): void;
}

interface Mem {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

/** The light target with a fresh key pair (the vaulted key) and host key. */
async function startLightTarget(sessions: number): Promise<{ proc: IpcChild<{ port: number }>; secret: IdleSecret }> {
  const user = 'bench';
  const key = ssh2.utils.generateKeyPairSync('ed25519');
  const host = ssh2.utils.generateKeyPairSync('ed25519');
  const proc = await forkIpcChild<{ port: number }>(join(ROOT, 'bench', 'idle-target.ts'), {
    BENCH_LIGHT_TARGET: JSON.stringify({ user, password: randomBytes(12).toString('base64url'), publicKey: key.public, hostKey: host.private }),
  });
  ensureNofile(proc.pid, sessions + 200, 'the light target');
  return { proc, secret: { port: proc.ready.port, username: user, privateKey: key.private } };
}

function memAvailable(): number {
  const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

export async function benchIdle(o: IdleOptions): Promise<Record<string, unknown>> {
  const { say, progress } = o;
  progress(`idle: ${o.sessions} sessions to the ${o.target.kind} target, ${o.concurrency} opening at a time from ${o.clientProcs} client processes (fresh gateway process)`);
  const light = o.target.kind === 'light' ? await startLightTarget(o.sessions) : null;
  const procs: IpcChild<object>[] = [];
  let gw: IdleGateway | null = null;
  try {
    const secret = light ? light.secret : o.target.kind === 'sshd' ? o.target.secret : null!;
    gw = await o.startGateway(secret);
    const g = gw;
    // Two sockets and a recording per session, plus the gateway's own files.
    const gwFiles = ensureNofile(g.child.pid, 3 * o.sessions + 500, 'the gateway');
    const perProc = Math.ceil(o.sessions / o.clientProcs);
    for (let i = 0; i < o.clientProcs; i++) {
      const p = await forkIpcChild<object>(join(ROOT, 'bench', 'idle-clients.ts'), {});
      ensureNofile(p.pid, perProc + 500, 'a client process');
      procs.push(p);
    }
    // Generous timeouts: on a loaded machine a gateway holding 5000 sessions may take a
    // while to answer (a full GC of its heap, a backlog of keepalives).
    const memOf = async (): Promise<Mem> => {
      const m = { ...(await g.child.call<Mem>('mem', 180_000)), rss: rssOf(g.child.pid) };
      progress(`  gateway RSS ${fmt(m.rss / MiB)} MiB, heap used ${fmt(m.heapUsed / MiB)} MiB, external ${fmt(m.external / MiB)} MiB`);
      return m;
    };
    const settle = async () => {
      await g.child.call('gc', 180_000);
      await sleep(1000);
      await g.child.call('gc', 180_000);
    };
    const waitLive = async (n: number, timeoutMs: number) => {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const live = await g.child.call<number>('live', 120_000);
        if (live <= n) return;
        if (Date.now() > until) throw new Error(`gateway still has ${live} live sessions after ${timeoutMs} ms`);
        await sleep(250);
      }
    };
    type Opened = { open: number; failed: number; firstError: string };
    const openOn = (p: IpcChild<object>, count: number, concurrency: number, deadlineMs: number) =>
      p.call<Opened>('open', { count, concurrency, url: g.child.url, token: g.token, secretId: g.secretId, sshPort: g.child.sshPort, deadlineMs }, deadlineMs - Date.now() + 180_000);
    const memAt: Record<string, Mem> = {};

    // Warm-up: a few sessions opened and closed, so that "before" is a gateway that has
    // already loaded and compiled the session path.
    const warm = await openOn(procs[0]!, 5, 5, Date.now() + 120_000);
    if (warm.failed) throw new Error(`warm-up: ${warm.failed} of 5 sessions failed (first: ${warm.firstError})`);
    await procs[0]!.call('close', {}, 120_000);
    await waitLive(0, 30_000);
    await settle();
    memAt.before = await memOf();
    if (o.heapDir) await g.child.call('snapshot', 120_000, { path: join(o.heapDir, 'before.heapsnapshot') });
    const targetBefore = o.target.kind === 'sshd' ? o.target.countProcs() : 0;
    const memAvailBefore = memAvailable();

    const t0 = performance.now();
    const deadline = Date.now() + o.openSeconds * 1000;
    const counts = procs.map(() => ({ open: 0, failed: 0 }));
    let shown = 0;
    procs.forEach((p, i) =>
      p.onProgress((m) => {
        counts[i] = { open: Number(m.open), failed: Number(m.failed) };
        const open = counts.reduce((n, c) => n + c.open, 0);
        if (open - shown < 500) return;
        shown = open;
        const failed = counts.reduce((n, c) => n + c.failed, 0);
        progress(`  ${open} open, ${failed} failed, ${fmt(open / ((performance.now() - t0) / 1000))} sessions/s`);
      }),
    );
    const each = procs.map((_, i) => Math.min(perProc, o.sessions - i * perProc));
    const per = await Promise.all(procs.map((p, i) => openOn(p, each[i]!, Math.max(1, Math.round(o.concurrency / o.clientProcs)), deadline)));
    const openMs = performance.now() - t0;
    const failures = per.reduce((n, r) => n + r.failed, 0);
    const firstError = per.find((r) => r.firstError)?.firstError ?? '';
    const live = await g.child.call<number>('live', 120_000);
    progress(`  ${per.reduce((n, r) => n + r.open, 0)} open (${failures} failed) in ${fmt(openMs / 1000)} s; gateway live sessions: ${live}; idling ${o.idleSeconds} s`);
    const idleTicks0 = ownTicks(g.child.pid);
    await sleep(o.idleSeconds * 1000);
    const idleCpu = (ownTicks(g.child.pid) - idleTicks0) / o.idleSeconds; // 10 ms ticks per s = % of a core
    memAt.open = await memOf();
    await settle();
    memAt.openGc = await memOf();
    if (o.heapDir) await g.child.call('snapshot', 600_000, { path: join(o.heapDir, 'open.heapsnapshot') });
    const targetText =
      o.target.kind === 'sshd'
        ? `${o.target.countProcs() - targetBefore} extra processes of the target account`
        : await light!.proc.call<{ connections: number; shells: number }>('count').then((c) => `${c.connections} connections and ${c.shells} shell channels in the light target's one process`);
    const systemMiB = (memAvailBefore - memAvailable()) / MiB;
    await Promise.all(procs.map((p) => p.call('close', {}, 300_000)));
    await waitLive(0, 300_000).catch((e) => progress(`  ${(e as Error).message}`));
    await sleep(2000);
    await settle();
    memAt.closed = await memOf();

    const n = live;
    const kib = (a: Mem, b: Mem, k: keyof Mem) => (a[k] - b[k]) / n / 1024;
    say(
      `### 4. ${n} concurrent idle shell sessions through one gateway process (ssh2 Clients in ${o.clientProcs} client processes, pty + shell on the ${o.target.kind === 'light' ? 'light ssh2 target (bench/idle-target.ts)' : 'target sshd, a login bash each'})`,
    );
    say();
    say(
      `Opened ${n} sessions in ${fmt(openMs / 1000)} s (${fmt(n / (openMs / 1000))} per second; ${o.concurrency} at a time, each: launch over HTTPS + SSH handshake to the gateway + gateway → target handshake + shell); ${failures} failed${firstError ? ` (first: ${firstError})` : ''}. Target side: ${targetText}; the whole machine used ${fmt(systemMiB, 0)} MiB more memory (MemAvailable) with the sessions open. The gateway used ${fmt(idleCpu, 1)}% of one CPU while the ${n} sessions sat idle for ${o.idleSeconds} s. Its open-file limit: ${gwFiles === Infinity ? 'unlimited' : gwFiles} (hard ${nofileOf(g.child.pid).hard}).`,
    );
    say();
    const mb = (x: number) => fmt(x / MiB, 1);
    const row = (name: string, m: Mem, perSession: boolean) => [
      name,
      mb(m.rss),
      mb(m.heapUsed),
      mb(m.heapTotal),
      mb(m.external),
      perSession ? fmt(kib(m, memAt.before!, 'rss'), 1) : '',
      perSession ? fmt(kib(m, memAt.before!, 'heapUsed'), 1) : '',
      perSession ? fmt(kib(m, memAt.before!, 'rss') - kib(m, memAt.before!, 'heapTotal'), 1) : '',
    ];
    say(
      table(
        ['gateway process', 'RSS MiB', 'V8 heap used MiB', 'V8 heap committed MiB', 'external MiB', 'RSS KiB / session', 'heap used KiB / session', 'RSS outside the V8 heap KiB / session'],
        [
          row('before (idle, after warm-up, after GC)', memAt.before!, false),
          row(`${n} sessions open, ${o.idleSeconds} s idle`, memAt.open!, true),
          row(`${n} sessions open, after GC`, memAt.openGc!, true),
          row('all closed again, after GC', memAt.closed!, false),
        ],
      ),
    );
    say();
    return { sessions: n, target: o.target.kind, failures, openSeconds: openMs / 1000, concurrency: o.concurrency, mem: memAt, systemMiB, idleCpuPercent: idleCpu, rssOpenBytes: memAt.open!.rss, rssPerSessionKiB: kib(memAt.open!, memAt.before!, 'rss') };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await gw?.stop();
    await light?.proc.stop();
  }
}
