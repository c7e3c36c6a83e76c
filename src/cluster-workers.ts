// Every core of a node (issue 16 point 3): `gatehouse serve` with GATEHOUSE_WORKERS above 1 is a
// primary process that serves nothing itself and forks that many worker processes (node:cluster,
// round-robin scheduling) sharing the node's public listeners: HTTPS (API, UI, browser terminal
// and RDP), the SSH door and the RDP door. Each worker is a full node of a cluster on the node's
// PostgreSQL database (cluster-node.ts): its own node id (the data dir's id and `-w<index>`), its
// heartbeat, its own node-to-node mutual-TLS listener (loopback and a port of its own, unless the
// node is itself one machine of a cluster: then GATEHOUSE_CLUSTER_PORT + index - 1). So the session
// list, the live view and terminate of a session on another worker take the cluster's forwarding,
// and the periodic jobs run as on the nodes of any cluster: audit checkpoints under the database's
// advisory lock, audit streaming under a sink lease, sweepers that settle each row once.
// The workers share the data dir: the cluster identity files, the master key, the recordings
// (each file named by its session), the log file, the node-id file their ids derive from.
// - Worker 1 starts alone: it migrates, makes (or, from an existing single node's files, adopts)
//   the cluster identity and creates the bootstrap administrator; the others start once it
//   listens and find all that done.
// - A worker that dies (a crash, kill -9) is forked again with the same index, hence the same node
//   id: at its start it ends as interrupted what the dead one left live and seals its recordings
//   (the crash recovery of any node; the other workers may have ended them first, by the dead-node
//   rule). A worker dying before it ever listened, at the node's start, stops the node: a
//   configuration error would only repeat.
// - SIGTERM (to the primary, or to the whole process group as systemd sends it) drains every
//   worker, each with its own drain, then the primary exits; a second SIGTERM ends the wait.
//   SIGINT stops the workers at once. A primary killed with -9 takes its workers with it
//   (node:cluster ends a worker whose primary went away): the next start recovers their sessions.
import cluster, { type Worker } from 'node:cluster';
import { ConfigError, type Config } from './config.js';
import { startServer } from './server.js';

/** The environment variable the primary gives each worker its index in (1…workers). */
const WORKER_ENV = 'GATEHOUSE_WORKER_INDEX';
/** A restarted worker that keeps dying waits longer each time, up to this. */
const MAX_RESTART_DELAY_MS = 60_000;

type ToWorker = { gatehouse: 'drain' | 'cut' | 'stop' };
type ToPrimary = { gatehouse: 'ready'; node: string; listening: string };

export const isWorker = (): boolean => cluster.isWorker && process.env[WORKER_ENV] !== undefined;

/** A worker's configuration: its index, and ports of its own for what is not shared. */
export function workerConfig(config: Config, index: number): Config {
  const c: Config = { ...config, worker: index };
  if (config.clusterPort === undefined) {
    // A node on its own: the workers reach each other on loopback, each on a port the kernel picks.
    c.clusterPort = 0;
    c.clusterListenHost = '127.0.0.1';
    c.clusterAddress = '127.0.0.1';
  } else if (config.clusterPort !== 0) {
    c.clusterPort = config.clusterPort + index - 1;
  }
  if (config.metricsListen && config.metricsListen.port !== 0) c.metricsListen = { ...config.metricsListen, port: config.metricsListen.port + index - 1 };
  return c;
}

/** What a node with several workers cannot do, as one line naming the setting. */
function checkWorkers(config: Config): void {
  const zero = [config.httpPort, config.sshPort, config.rdpPort].filter((p) => p === 0).length;
  // node:cluster shares a listener by address and port: two listeners on port 0 would become one.
  if (zero > 1) throw new ConfigError('GATEHOUSE_WORKERS', 'above 1 needs fixed ports: at most one of GATEHOUSE_HTTP_PORT, GATEHOUSE_SSH_PORT and GATEHOUSE_RDP_PORT may be 0');
  const top = (config.clusterPort ?? 0) + config.workers - 1;
  if (config.clusterPort && top > 65535) throw new ConfigError('GATEHOUSE_CLUSTER_PORT', `with ${config.workers} workers uses ports ${config.clusterPort}-${top}, beyond 65535`);
  const mtop = (config.metricsListen?.port ?? 0) + config.workers - 1;
  if (config.metricsListen?.port && mtop > 65535) throw new ConfigError('GATEHOUSE_METRICS_LISTEN', `with ${config.workers} workers uses ports ${config.metricsListen.port}-${mtop}, beyond 65535`);
}

/**
 * What the primary warns of at start (null: nothing). /metrics on the HTTPS port alone answers
 * for whichever worker takes the connection: its counters jump between the workers' from one
 * scrape to the next (Prometheus reads that as resets) and a node's alerts see about one worker.
 */
export function workersWarning(config: Config): string | null {
  if (config.workers <= 1 || !config.metricsToken || config.metricsListen) return null;
  return `gatehouse: warning: with GATEHOUSE_WORKERS=${config.workers}, /metrics on the HTTPS port answers for whichever worker takes the connection; set GATEHOUSE_METRICS_LISTEN to scrape each worker on a port of its own (port + index - 1)`;
}

/**
 * In a worker: starts the server with the worker's configuration, tells the primary it listens,
 * and takes the primary's word (and SIGTERM) for draining and stopping. Resolves once listening.
 */
export async function startWorker(config: Config): Promise<void> {
  const index = Number(process.env[WORKER_ENV]);
  if (!Number.isInteger(index) || index < 1) throw new Error(`${WORKER_ENV} is not a worker index: ${process.env[WORKER_ENV]}`);
  let listening = '';
  // A SIGTERM while it starts (to the process group, the primary's too) is held: the primary
  // tells a worker that became ready while it drains to drain, and this drains then as well.
  // A second one ends the wait (a start that hangs, on a database that does not answer, could
  // otherwise be ended by SIGKILL only), as a second SIGTERM ends a single node's drain.
  let held = false;
  const holdTerm = () => {
    if (held) {
      // Ended by the signal itself, which the primary takes for a stop, not a failed start.
      process.off('SIGTERM', holdTerm);
      process.kill(process.pid, 'SIGTERM');
      return;
    }
    held = true;
  };
  process.on('SIGTERM', holdTerm);
  const running = await startServer(workerConfig(config, index), {
    announce: (line) => {
      if (line.startsWith('gatehouse: listening on ')) listening = line;
      process.stdout.write(line.replace(/^gatehouse: /, `gatehouse: worker ${index}: `) + '\n');
    },
  });
  let state: 'running' | 'draining' | 'stopping' = 'running';
  const finish = (work: Promise<void>) => void work.then(() => process.exit(0));
  const drain = () => {
    // SIGTERM to the process group reaches a worker twice (itself, and the primary's word): one drain.
    if (state !== 'running') return;
    running.core.log.info({ worker: index }, 'draining, then shutting down');
    state = 'draining';
    finish(running.drain());
  };
  process.off('SIGTERM', holdTerm);
  process.on('SIGTERM', drain);
  if (held) drain();
  // Ctrl-C reaches the whole process group: the primary decides, and says so.
  process.on('SIGINT', () => {});
  process.on('message', (m: ToWorker) => {
    if (m?.gatehouse === 'drain') drain();
    else if (m?.gatehouse === 'cut' && state === 'draining') {
      state = 'stopping';
      void running.drain();
    } else if (m?.gatehouse === 'stop' && state !== 'stopping') {
      const wasDraining = state === 'draining';
      state = 'stopping';
      running.core.log.info({ worker: index }, 'shutting down');
      finish(wasDraining ? running.drain() : running.stop());
    }
  });
  process.send!({ gatehouse: 'ready', node: running.core.cluster.registry.self, listening } satisfies ToPrimary);
}

/** The primary: forks the workers, forks again any that dies, and drains them all on SIGTERM. Never resolves. */
export async function runPrimary(config: Config): Promise<void> {
  checkWorkers(config);
  const out = (line: string) => process.stdout.write(line + '\n');
  const err = (line: string) => process.stderr.write(line + '\n');
  const warning = workersWarning(config);
  if (warning) err(warning);
  cluster.schedulingPolicy = cluster.SCHED_RR;
  // The workers run this same command (bin/gatehouse.js serve), told apart by their index.
  cluster.setupPrimary({ silent: false });

  const workers = new Map<number, Worker>();
  const ready = new Set<number>();
  const delay = new Map<number, number>();
  let state: 'starting' | 'running' | 'draining' | 'stopping' = 'starting';
  let exitCode = 0;

  // `again`: a worker forked again after it died; its failing to start is retried, never the start's failure.
  const fork = (index: number, again = false): Promise<ToPrimary> =>
    new Promise((resolve, reject) => {
      const w = cluster.fork({ [WORKER_ENV]: String(index) });
      workers.set(index, w);
      // A message to a worker that is going away fails (EPIPE) as an 'error' event, which
      // unheard would end the primary; the worker's exit is what counts, handled below.
      w.on('error', () => undefined);
      w.on('message', (m: ToPrimary) => {
        if (m?.gatehouse !== 'ready') return;
        ready.add(index);
        delay.delete(index);
        // Told to drain or stop while it was starting (it heard nothing then): told again.
        if (state === 'draining' || state === 'stopping') w.send({ gatehouse: state === 'draining' ? 'drain' : 'stop' } satisfies ToWorker);
        resolve(m);
      });
      w.once('exit', (code, signal) => {
        const wasReady = ready.delete(index);
        if (workers.get(index) === w) workers.delete(index);
        if (!wasReady) reject(new Error(`worker ${index} exited (${signal ?? `code ${code}`}) before it listened`));
        onExit(index, w, code, signal, wasReady, again);
      });
    });

  // A worker that the stop signal itself ended before it listened (systemd signals every
  // process of the unit at once; one still loading has no handler yet) had no session: no failure.
  const stoppedWhileStarting = (signal: string | null, wasReady: boolean) => !wasReady && (signal === 'SIGTERM' || signal === 'SIGINT');
  const onExit = (index: number, w: Worker, code: number | null, signal: string | null, wasReady: boolean, again: boolean) => {
    if (state === 'draining' || state === 'stopping') {
      if (code !== 0 && !stoppedWhileStarting(signal, wasReady)) exitCode = 1;
      if (workers.size === 0) process.exit(exitCode);
      return;
    }
    // A first start that fails fails the whole start (below). A worker forked again (one that
    // died after it listened, the others perhaps still starting) is retried however it ends.
    if (state === 'starting' && !wasReady && !again) return;
    // Died while serving (or while starting again): forked again with the same node id, which recovers its sessions.
    const wait = wasReady ? 0 : Math.min((delay.get(index) ?? 500) * 2, MAX_RESTART_DELAY_MS);
    delay.set(index, wait || 500);
    err(`gatehouse: worker ${index} (pid ${w.process.pid}) died (${signal ?? `exit code ${code}`}); starting it again${wait ? ` in ${wait / 1000} s` : ''}`);
    setTimeout(() => {
      if (state === 'draining' || state === 'stopping') return;
      fork(index, true).then(
        (m) => out(`gatehouse: worker ${index} started again: node ${m.node} (pid ${workers.get(index)?.process.pid})`),
        () => undefined, // its exit is handled above
      );
    }, wait);
  };

  const stopAll = (word: ToWorker['gatehouse']) => {
    for (const w of workers.values()) if (w.isConnected()) w.send({ gatehouse: word } satisfies ToWorker);
    if (workers.size === 0) process.exit(exitCode);
  };
  process.on('SIGTERM', () => {
    if (state === 'stopping') return;
    if (state === 'draining') {
      state = 'stopping';
      stopAll('cut');
      return;
    }
    out('gatehouse: draining every worker, then shutting down');
    state = 'draining';
    stopAll('drain');
  });
  process.on('SIGINT', () => {
    if (state === 'stopping') {
      for (const w of workers.values()) w.process.kill('SIGKILL');
      process.exit(130);
    }
    state = 'stopping';
    stopAll('stop');
  });

  try {
    // Worker 1 alone first: migrations, the cluster identity, the bootstrap administrator.
    const first = await fork(1);
    // Told to drain or stop while worker 1 started: it has been told; no others are started.
    if (state !== 'starting') return;
    const rest = await Promise.all(Array.from({ length: config.workers - 1 }, (_, i) => fork(i + 2)));
    if (state !== 'starting') return;
    state = 'running';
    out(`gatehouse: ${config.workers} workers share the public ports`);
    [first, ...rest].forEach((m, i) => out(`gatehouse: worker ${i + 1} is node ${m.node} (pid ${workers.get(i + 1)?.process.pid})`));
    // The line a single node prints, once for the node, with the number of workers.
    out(first.listening.replace(/ \(/, ` (${config.workers} workers, `));
  } catch (e) {
    // Told to stop while starting: the workers go with it, and onExit keeps the exit code.
    if (state !== 'starting') return;
    err(`gatehouse: ${(e as Error).message}; stopping the other workers`);
    state = 'stopping';
    exitCode = 1;
    stopAll('stop');
  }
}
