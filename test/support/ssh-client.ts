// Drives the stock OpenSSH client (and other command-line tools) against a test gateway:
// one-shot runs, interactive sessions on a real pty (`script`), launches, audit look-ups.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Gateway } from './gateway.js';
import ssh2 from 'ssh2';

export interface Done {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const shq = (s: string) => (/^[A-Za-z0-9_.,:=@/%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** A child process whose output is collected as it comes, with waits on that output. */
export class Proc {
  readonly child: ChildProcess;
  private out: Buffer[] = [];
  private err: Buffer[] = [];
  readonly done: Promise<Done>;
  private listeners = new Set<() => void>();
  exited = false;

  constructor(cmd: string, args: string[], opts: { env?: Record<string, string>; timeoutMs?: number; input?: string | Buffer } = {}) {
    this.child = spawn(cmd, args, { env: { ...process.env, TERM: 'xterm', ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => {
      this.out.push(d);
      this.changed();
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.err.push(d);
      this.changed();
    });
    this.child.stdin!.on('error', () => undefined);
    const kill = setTimeout(() => this.child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    this.done = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        clearTimeout(kill);
        this.exited = true;
        this.changed();
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
    if (opts.input !== undefined) this.child.stdin!.end(opts.input);
  }

  get stdout(): string {
    return Buffer.concat(this.out).toString('utf8');
  }
  get stderr(): string {
    return Buffer.concat(this.err).toString('utf8');
  }
  get all(): string {
    return this.stdout + this.stderr;
  }

  private changed(): void {
    for (const l of [...this.listeners]) l();
  }

  write(s: string): void {
    this.child.stdin!.write(s);
  }

  /** Resolves once stdout+stderr match; rejects (with what was seen) on timeout or exit. */
  waitFor(pattern: RegExp | string, timeoutMs = 10_000): Promise<void> {
    const test = () => (typeof pattern === 'string' ? this.all.includes(pattern) : pattern.test(this.all));
    return new Promise((resolve, reject) => {
      const check = () => {
        if (test()) return finish(null);
        if (this.exited) return finish(new Error(`process exited before ${pattern} appeared; output:\n${this.all}`));
      };
      const timer = setTimeout(() => finish(new Error(`${pattern} did not appear within ${timeoutMs} ms; output:\n${this.all}`)), timeoutMs);
      const finish = (err: Error | null) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        if (err) reject(err);
        else resolve();
      };
      this.listeners.add(check);
      check();
    });
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGTERM');
  }
}

export function run(cmd: string, args: string[], opts: { env?: Record<string, string>; timeoutMs?: number; input?: string | Buffer } = {}): Promise<Done> {
  return new Proc(cmd, args, { input: '', ...opts }).done;
}

/** A client-side scratch dir holding the gateway's known_hosts, so StrictHostKeyChecking=yes works. */
export interface Client {
  dir: string;
  knownHosts: string;
  /**
   * `-F /dev/null` (no system config), port, strict host key checking against the gateway's keys.
   * ConnectTimeout 30 s: it covers the banner exchange, and tests that start 30 sessions at once on a
   * loaded 2-CPU machine saw a banner take over 10 s (the gateway's answer, not a lost one).
   */
  base(extra?: string[]): string[];
}

export function clientFor(gw: Gateway, knownHostsLines: string[]): Client {
  const dir = mkdtempSync(join(tmpdir(), 'gh-ssh-client-'));
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, knownHostsLines.join('\n') + '\n');
  return {
    dir,
    knownHosts,
    base: (extra = []) => ['-F', '/dev/null', '-p', String(gw.sshPort), '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=30', ...extra],
  };
}

/** `ssh -tt` on a real pty of the given size (via `script`), so the client sends that size and raw keystrokes. */
export function interactive(sshArgs: string[], opts: { cols?: number; rows?: number; env?: Record<string, string>; timeoutMs?: number } = {}): Proc {
  const cmd = `stty cols ${opts.cols ?? 100} rows ${opts.rows ?? 30}; exec ssh -tt ${sshArgs.map(shq).join(' ')}`;
  return new Proc('script', ['-qfec', cmd, '/dev/null'], { env: opts.env, timeoutMs: opts.timeoutMs ?? 30_000 });
}

/** The bash prompt of the target account (Debian's default PS1). */
export const PROMPT = /ghtarget@[^\s:]*:[^\r\n]*\$ /;

export interface Launched {
  ticket: string;
  knownHosts: string[];
  body: any;
}

export async function launch(gw: Gateway, secretId: string, opts: { token?: string; launcher?: string; bindIp?: boolean; remoteAddress?: string } = {}): Promise<Launched> {
  const r = await gw.api('POST', `/api/v1/secrets/${secretId}/launch`, {
    token: opts.token ?? gw.adminToken,
    body: { launcher: opts.launcher ?? 'ssh', ...(opts.bindIp !== undefined ? { bindIp: opts.bindIp } : {}) },
    ...(opts.remoteAddress ? { remoteAddress: opts.remoteAddress } : {}),
  });
  if (r.status !== 200) throw new Error(`launch: ${r.status} ${r.raw}`);
  return { ticket: r.body.ticket, knownHosts: r.body.ssh.knownHosts, body: r.body };
}

export async function createSecret(gw: Gateway, name: string, fields: Record<string, unknown>, token = gw.adminToken): Promise<string> {
  const r = await gw.api('POST', '/api/v1/secrets', { token, body: { name, template: 'unix-account', fields: { machine: '127.0.0.1', username: 'ghtarget', ...fields } } });
  if (r.status !== 201) throw new Error(`create secret: ${r.status} ${r.raw}`);
  return r.body.id;
}

export async function ok(gw: Gateway, method: string, url: string, body?: unknown, expect = 200, token = gw.adminToken): Promise<any> {
  const r = await gw.api(method, url, { token, ...(body !== undefined ? { body } : {}) });
  if (r.status !== expect) throw new Error(`${method} ${url}: expected ${expect}, got ${r.status} ${r.raw}`);
  return r.body;
}

export async function auditEvents(gw: Gateway, action: string): Promise<any[]> {
  return (await ok(gw, 'GET', `/api/v1/audit?action=${encodeURIComponent(action)}&limit=500`)).items;
}

/** Polls until fn returns a truthy value (or throws the last error after timeoutMs). */
export async function eventually<T>(fn: () => Promise<T | null | undefined | false>, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`${what} not reached within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(100);
  }
}

/** The session a ticket became (tickets are single-use, so the newest session of the secret). */
export async function sessionOf(gw: Gateway, secretId: string, status?: 'live' | 'ended'): Promise<any> {
  return eventually(async () => {
    const r = await ok(gw, 'GET', `/api/v1/sessions?secretId=${secretId}${status ? `&status=${status}` : ''}&limit=1`);
    return r.items[0];
  }, 10_000, `a ${status ?? ''} session of secret ${secretId}`);
}

/** Waits for a session to be ended (recording sealed, audit written). */
export async function endedSession(gw: Gateway, sessionId: string): Promise<any> {
  return eventually(async () => {
    const s = await ok(gw, 'GET', `/api/v1/sessions/${sessionId}`);
    return s.status === 'ended' && (await auditEvents(gw, 'session.end')).some((e) => e.targetId === sessionId) ? s : null;
  }, 10_000, `end of session ${sessionId}`);
}

/** One SSH password authentication as `user:secret` at the door: true when accepted. */
export function sshPasswordLogin(port: number, username: string, password: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    let tried = false;
    c.on('ready', () => {
      c.end();
      resolve(true);
    });
    c.on('error', (e: Error & { level?: string }) => {
      c.end();
      if (e.level === 'client-authentication') resolve(false);
      else reject(e);
    });
    c.connect({
      host: '127.0.0.1',
      port,
      username,
      hostVerifier: () => true,
      readyTimeout: 60_000,
      // Exactly one password attempt per connection.
      authHandler: (_methods, _partial, next) => {
        // false ends authentication (the types do not list it).
        if (tried) return (next as (m: unknown) => void)(false);
        tried = true;
        next({ type: 'password', username, password });
      },
    });
  });
}
