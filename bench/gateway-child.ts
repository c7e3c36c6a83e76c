// A whole Gatehouse (HTTPS API + SSH door) in its own process for the benchmarks, so
// that its CPU and RSS are its own. Started by bench/ssh.ts with
// `node --import tsx bench/gateway-child.ts` and an IPC channel; configured by the
// GATEHOUSE_* environment like `gatehouse serve` (log to the data dir, as in production).
// IPC: sends {type:'ready', sshPort, url}; answers {id, op:'mem'|'gc'|'live'|'snapshot'|'eld-start'|'eld-stop'|'redeem'|'stop'}.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import { loadConfig } from '../src/config.js';
import { startServer } from '../src/server.js';

import type { SessionHandle } from '../src/core/broker.js';

type Request = { id: number; op: 'mem' | 'gc' | 'live' | 'stop' | 'snapshot' | 'eld-start' | 'eld-stop' | 'redeem'; path?: string; tickets?: string[]; concurrency?: number };

/** What the 'redeem' op answers (bench/tickets.ts). */
export interface RedeemResult {
  redeemed: number;
  refused: number;
  firstError: string | null;
  /** Wall time of all redeems, then of ending every session they opened. */
  redeemMs: number;
  endMs: number;
  /** Per-redeem latency in ms. */
  latencies: number[];
}

/**
 * Redeems tickets as the SSH door does (broker.redeem with the client's address and door,
 * src/protocols/ssh/connection.ts), `concurrency` at a time, then ends every session that
 * opened (a session that never began: no target, no recording), as a client gone before
 * its shell would.
 */
async function redeemAll(broker: { redeem(t: string, ctx: { clientIp: string; door: 'ssh' }): Promise<SessionHandle> }, tickets: string[], concurrency: number): Promise<RedeemResult> {
  const handles: SessionHandle[] = [];
  const latencies: number[] = [];
  let refused = 0;
  let firstError: string | null = null;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < tickets.length) {
      const t = tickets[next++]!;
      const s = performance.now();
      try {
        handles.push(await broker.redeem(t, { clientIp: '127.0.0.1', door: 'ssh' }));
        latencies.push(performance.now() - s);
      } catch (e) {
        refused++;
        firstError ??= (e as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  const redeemMs = performance.now() - t0;
  const t1 = performance.now();
  next = 0;
  const ender = async () => {
    while (next < handles.length) await handles[next++]!.end('bench');
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, ender));
  return { redeemed: handles.length, refused, firstError, redeemMs, endMs: performance.now() - t1, latencies };
}

const send = (m: unknown) => process.send?.(m);

async function main(): Promise<void> {
  const running = await startServer(loadConfig(process.env), { announce: () => {} });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await running.stop().catch(() => undefined);
  };
  // Event-loop delay (blocking or not being scheduled), only while a benchmark asks for it:
  // the sampling timer would otherwise keep an idle gateway awake.
  let eld: IntervalHistogram | null = null;
  process.on('message', (raw) => {
    const m = raw as Request;
    void (async () => {
      switch (m.op) {
        case 'mem':
          return send({ id: m.id, result: process.memoryUsage() });
        case 'gc': {
          const gc = (globalThis as { gc?: () => void }).gc;
          gc?.();
          return send({ id: m.id, result: !!gc });
        }
        case 'snapshot':
          return send({ id: m.id, result: writeHeapSnapshot(m.path) });
        case 'eld-start':
          eld?.disable();
          eld = monitorEventLoopDelay({ resolution: 10 });
          eld.enable();
          return send({ id: m.id, result: true });
        case 'eld-stop': {
          if (!eld) return send({ id: m.id, result: null });
          eld.disable();
          // The histogram holds the timer's actual intervals: lateness is what exceeds 10 ms.
          const ms = (ns: number) => Math.max(0, ns / 1e6 - 10);
          send({ id: m.id, result: { p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), max: ms(eld.max), samples: eld.count } });
          eld = null;
          return;
        }
        case 'redeem':
          return send({ id: m.id, result: await redeemAll(running.core.launching, m.tickets ?? [], m.concurrency ?? 1) });
        case 'live':
          return send({ id: m.id, result: running.core.sessions.live.size });
        case 'stop':
          await stop();
          send({ id: m.id, result: true });
          process.disconnect?.();
          // Let --cpu-prof write its profile on a normal exit.
          setTimeout(() => process.exit(0), 50);
          return;
      }
    })();
  });
  // The parent going away (crash, Ctrl-C) must not leave a gateway behind.
  process.on('disconnect', () => void stop().then(() => process.exit(0)));
  send({ type: 'ready', sshPort: running.sshPort, url: running.url });
}

main().catch((err) => {
  console.error('gateway child failed:', err);
  process.exit(1);
});
