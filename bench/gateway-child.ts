// A whole Gatehouse (HTTPS API + SSH door) in its own process for the benchmarks, so
// that its CPU and RSS are its own. Started by bench/ssh.ts with
// `node --import tsx bench/gateway-child.ts` and an IPC channel; configured by the
// GATEHOUSE_* environment like `gatehouse serve` (log to the data dir, as in production).
// IPC: sends {type:'ready', sshPort, url}; answers {id, op:'mem'|'gc'|'live'|'snapshot'|'eld-start'|'eld-stop'|'stop'}.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import { loadConfig } from '../src/config.js';
import { startServer } from '../src/server.js';

type Request = { id: number; op: 'mem' | 'gc' | 'live' | 'stop' | 'snapshot' | 'eld-start' | 'eld-stop'; path?: string };

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
