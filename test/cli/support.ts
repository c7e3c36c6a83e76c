// Helpers for the end-to-end tests: spawn the real `gatehouse serve` and the real CLI
// (bin/gatehouse.js, i.e. the built dist/), with a clean GATEHOUSE_* environment, free
// ports and a timeout on every wait. Every spawned process is registered so after()
// hooks (and, as a backstop, process exit) can kill whatever is still running.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { freePort } from '../support/ports.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'bin', 'gatehouse.js');

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** Kills every process these helpers spawned that is still running. */
export function killAll(): void {
  for (const p of live) p.kill('SIGKILL');
  live.clear();
}

// Below the kernel's ephemeral range, so no other test's connection can take it first (ports.ts).
export { freePort };

const dirs: string[] = [];
export function tempDir(prefix = 'gatehouse-e2e-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** process.env without any GATEHOUSE_* setting (the test runner's own GATEHOUSE_TEST_* stay), plus `extra`. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GATEHOUSE_') || k.startsWith('GATEHOUSE_TEST_')) env[k] = v;
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

/**
 * The door ports serverEnv drew for an environment (not those a test gave). A port found free
 * can still be taken by another test file before the server binds it (the server then exits with
 * EADDRINUSE); Server.start draws such a port again, in the same environment object, so a test
 * reads the door's port from its env after the start and a restart keeps it.
 */
const drawnPorts = new WeakMap<NodeJS.ProcessEnv, string[]>();
const DOOR_PORTS = ['GATEHOUSE_SSH_PORT', 'GATEHOUSE_RDP_PORT'];

/** Environment for a server: data dir, loopback bind, HTTP port 0 unless given, free SSH/RDP ports. */
export async function serverEnv(dataDir: string, extra: Record<string, string | undefined> = {}): Promise<NodeJS.ProcessEnv> {
  const env = cleanEnv({
    GATEHOUSE_DATA_DIR: dataDir,
    GATEHOUSE_BIND_HOST: '127.0.0.1',
    GATEHOUSE_HTTP_PORT: '0',
    GATEHOUSE_SSH_PORT: String(await freePort()),
    GATEHOUSE_RDP_PORT: String(await freePort()),
    // Every JSON answer is checked against its route's response schema (src/web/strict-responses.ts).
    GATEHOUSE_STRICT_RESPONSES: '1',
    // SIGTERM ends live sessions at once, as a test's stop() expects; the drain test sets its own.
    GATEHOUSE_DRAIN_SECONDS: '0',
    ...extra,
  });
  drawnPorts.set(env, DOOR_PORTS.filter((k) => extra[k] === undefined));
  return env;
}

/** The key of a port serverEnv drew for `env` that the server could not bind (from its stderr). */
function takenDrawnPort(env: NodeJS.ProcessEnv, stderr: string): string | undefined {
  const port = /listen EADDRINUSE: address already in use \S+:(\d+)/.exec(stderr)?.[1];
  return port ? drawnPorts.get(env)?.find((k) => env[k] === port) : undefined;
}

/**
 * What every node of a test cluster shares (hand it to serverEnv for each node): the admin
 * password, one database, one master key, a cluster port of its own each, a heartbeat a
 * second; `extra` adds to it (a dead timeout, object storage, a metrics token).
 */
export function clusterEnv(adminPassword: string, databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    GATEHOUSE_ADMIN_PASSWORD: adminPassword,
    GATEHOUSE_DATABASE_URL: databaseUrl,
    GATEHOUSE_MASTER_KEY: randomBytes(32).toString('base64'),
    GATEHOUSE_CLUSTER_PORT: '0',
    GATEHOUSE_NODE_HEARTBEAT_SECONDS: '1',
    ...extra,
  };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion (killed after `timeoutMs`), feeding `input` on stdin. */
export function runCli(args: string[], opts: { env: NodeJS.ProcessEnv; input?: string; timeoutMs?: number }): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(p);
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      rej(new Error(`gatehouse ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    p.once('error', (e) => {
      clearTimeout(timer);
      live.delete(p);
      rej(e);
    });
    p.once('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(p);
      res({ code, signal, stdout, stderr });
    });
    p.stdin!.on('error', () => {});
    p.stdin!.end(opts.input ?? '');
  });
}

/** A running `gatehouse serve`. */
export class Server {
  stdout = '';
  stderr = '';
  url = '';
  fingerprint = '';
  private exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private waiters = new Set<() => void>();

  private constructor(readonly proc: ChildProcess) {
    live.add(proc);
    const poke = () => {
      for (const w of this.waiters) w();
    };
    proc.stdout!.on('data', (c: Buffer) => {
      this.stdout += c.toString();
      poke();
    });
    proc.stderr!.on('data', (c: Buffer) => {
      this.stderr += c.toString();
      poke();
    });
    this.exit = new Promise((res) =>
      proc.once('close', (code, signal) => {
        live.delete(proc);
        this.exited = { code, signal };
        poke();
        res({ code, signal });
      }),
    );
  }

  /**
   * Spawns the server and waits for its "listening on" line. A door port serverEnv drew that
   * another test took in the meantime is drawn again (in `env`) and the server started anew.
   */
  static async start(env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<Server> {
    for (let attempt = 1; ; attempt++) {
      const s = Server.spawn(env);
      try {
        const m = await s.waitFor(/gatehouse: listening on (https:\/\/\S+) \(([^)]*)\)/, timeoutMs);
        s.url = m[1]!;
        s.fingerprint = /self-signed TLS ([0-9A-F:]+)/.exec(m[2]!)?.[1] ?? '';
        return s;
      } catch (e) {
        s.kill();
        const taken = attempt < 3 && s.exited ? takenDrawnPort(env, s.stderr) : undefined;
        if (!taken) throw e;
        env[taken] = String(await freePort());
      }
    }
  }

  static spawn(env: NodeJS.ProcessEnv): Server {
    return new Server(spawn(process.execPath, [BIN, 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  get running(): boolean {
    return this.exited === null;
  }

  /** Resolves with the first match of `re` on stdout; rejects on timeout or if the server exits first. */
  waitFor(re: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
    return new Promise((res, rej) => {
      const check = () => {
        const m = re.exec(this.stdout);
        if (m) return done(null, m);
        if (this.exited) return done(new Error(`server exited (${JSON.stringify(this.exited)}) before printing ${re}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`));
      };
      const timer = setTimeout(() => done(new Error(`timed out after ${timeoutMs} ms waiting for ${re}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`)), timeoutMs);
      const done = (err: Error | null, m?: RegExpExecArray) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) rej(err);
        else res(m!);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves with the exit status; rejects after `timeoutMs`. */
  waitExit(timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      this.exit.finally(() => clearTimeout(timer)),
      new Promise<never>((_, rej) => {
        timer = setTimeout(() => rej(new Error(`server did not exit within ${timeoutMs} ms\nstdout: ${this.stdout}\nstderr: ${this.stderr}`)), timeoutMs);
      }),
    ]);
  }

  /** Sends `signal` and waits for the exit; SIGKILLs if it does not come in time. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.exited) return this.exited;
    this.proc.kill(signal);
    try {
      return await this.waitExit(timeoutMs);
    } catch (e) {
      this.kill();
      throw e;
    }
  }

  kill(): void {
    if (this.running) this.proc.kill('SIGKILL');
  }
}

export interface ApiResponse {
  status: number;
  body: string;
  json(): any;
}

/** One HTTPS request to the server (self-signed certificate accepted, no keep-alive). */
export function api(url: string, method: string, path: string, opts: { token?: string; body?: unknown; timeoutMs?: number } = {}): Promise<ApiResponse> {
  const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
  return new Promise((res, rej) => {
    const req = request(
      new URL(path, url),
      {
        method,
        agent: false,
        rejectUnauthorized: false,
        timeout: opts.timeoutMs ?? 30_000,
        headers: {
          accept: 'application/json',
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        },
      },
      (r) => {
        let body = '';
        r.on('data', (c: Buffer) => (body += c.toString()));
        r.on('end', () => res({ status: r.statusCode ?? 0, body, json: () => JSON.parse(body) }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', rej);
    req.end(payload);
  });
}

/** Logs in over the API and returns the token (throws with the response on failure). */
export async function apiLogin(url: string, username: string, password: string): Promise<string> {
  const r = await api(url, 'POST', '/api/v1/auth/login', { body: { username, password } });
  if (r.status !== 200) throw new Error(`login ${username} failed: ${r.status} ${r.body}`);
  return r.json().token as string;
}

/** Non-empty lines of a string. */
export const lines = (s: string): string[] => s.split('\n').filter((l) => l.trim() !== '');

/** Occurrences of `needle` in `hay`. */
export const count = (hay: string, needle: string): number => hay.split(needle).length - 1;

/**
 * An empty PostgreSQL database on the test cluster (GATEHOUSE_TEST_PG_URL), and a dropper.
 * Same as freshPgDatabase in test/support/harness.ts, without importing src/ into the
 * test process: these tests only talk to the built CLI and server.
 */
export interface PgTestDatabase {
  url: string;
  drop: () => Promise<void>;
  /** A query from outside the nodes under test (one connection per call: the tests ask a few times). */
  query: <T>(sql: string, args?: unknown[]) => Promise<T[]>;
}

export async function freshPgDatabase(): Promise<PgTestDatabase> {
  const admin = process.env.GATEHOUSE_TEST_PG_URL;
  if (!admin) throw new Error('GATEHOUSE_TEST_PG_URL is not set: run the tests through `npm test` (scripts/run-tests.sh starts PostgreSQL)');
  const name = `gh_e2e_${randomBytes(6).toString('hex')}`;
  const sqlOn = async (q: string) => {
    const c = new pg.Client({ connectionString: admin, connectionTimeoutMillis: 15_000 });
    await c.connect();
    try {
      await c.query(q);
    } finally {
      await c.end();
    }
  };
  await sqlOn(`create database ${name}`);
  const u = new URL(admin);
  u.pathname = `/${name}`;
  const url = u.toString();
  const query = async <T>(sql: string, args: unknown[] = []): Promise<T[]> => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query(sql, args)).rows as T[];
    } finally {
      await c.end();
    }
  };
  return { url, drop: () => sqlOn(`drop database if exists ${name} with (force)`), query };
}

/** A command that succeeded (exit 0), with its output in the failure message. */
export const ok = (r: RunResult, what: string) => assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);

/** A failed command: exit 1, one line on stderr matching `re`, no stack trace. */
export function fails(r: RunResult, re: RegExp): void {
  assert.equal(r.code, 1, `exit 1; stdout: ${r.stdout} stderr: ${r.stderr}`);
  const errLines = lines(r.stderr);
  assert.equal(errLines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(errLines[0]!, re);
  assert.doesNotMatch(r.stderr + r.stdout, /^\s+at .*:\d+:\d+\)?$/m, 'no stack trace');
}
