// A helper process of a benchmark (the light SSH target, the idle-session clients): forked
// through tsx with an IPC channel, tracked so an aborted run kills it, with bounded waits
// for its 'ready' message ({type:'ready', …}, sent once it can serve) and for the answer to each request ({id, op, …} → {id, result}
// or {id, error}), and a way to raise its open-file limit.
import { execFileSync, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { track, withTimeout } from './lib.js';

export interface IpcChild<Ready> {
  pid: number;
  ready: Ready;
  call<T>(op: string, extra?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** Progress messages ({type:'progress', …}) go here. */
  onProgress(cb: (m: Record<string, unknown>) => void): void;
  stop(): Promise<void>;
}

export async function forkIpcChild<Ready>(file: string, env: Record<string, string>, readyTimeoutMs = 60_000): Promise<IpcChild<Ready>> {
  const child = track(fork(file, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
  const waiting = new Map<number, (m: { result?: unknown; error?: string }) => void>();
  let progress: (m: Record<string, unknown>) => void = () => undefined;
  let seq = 0;
  const ready = new Promise<Ready>((res, rej) => {
    child.on('message', (raw) => {
      const m = raw as { type?: string; id?: number; result?: unknown; error?: string };
      if (m.type === 'ready') res(m as Ready);
      else if (m.type === 'progress') progress(m as Record<string, unknown>);
      else if (m.id !== undefined) waiting.get(m.id)?.(m);
    });
    child.once('exit', (code, sig) => rej(new Error(`${file} exited (${code ?? sig}) before it was ready`)));
  });
  const r = await withTimeout(ready, readyTimeoutMs, `${file} start`);
  return {
    pid: child.pid!,
    ready: r,
    onProgress: (cb) => (progress = cb),
    call: <T>(op: string, extra: Record<string, unknown> = {}, timeoutMs = 30_000) => {
      const id = ++seq;
      return withTimeout(
        new Promise<T>((res, rej) => {
          waiting.set(id, (m) => {
            waiting.delete(id);
            if (m.error !== undefined) rej(new Error(m.error));
            else res(m.result as T);
          });
          child.send({ id, op, ...extra });
        }),
        timeoutMs,
        `${file} ${op}`,
      );
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.disconnect();
      await withTimeout(exited, 10_000, `${file} exit`).catch(() => child.kill('SIGKILL'));
    },
  };
}

/** The soft and hard open-file limits of a process (from /proc). */
export function nofileOf(pid: number): { soft: number; hard: number } {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  const n = (s: string | undefined) => (s === 'unlimited' ? Infinity : Number(s));
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}

/**
 * Makes sure a process may open `need` files: raises its soft limit up to its hard limit
 * (prlimit, util-linux) when that is enough; throws, saying what is required, when not.
 */
export function ensureNofile(pid: number, need: number, what: string): number {
  const { soft, hard } = nofileOf(pid);
  if (soft >= need) return soft;
  if (hard < need) throw new Error(`${what} needs ${need} open files but its hard limit is ${hard}: raise it (ulimit -Hn, LimitNOFILE=) or run fewer sessions`);
  execFileSync('prlimit', ['--pid', String(pid), `--nofile=${hard === Infinity ? need : hard}:${hard === Infinity ? 'unlimited' : hard}`]);
  return nofileOf(pid).soft;
}
