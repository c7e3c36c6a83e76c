// This node's part in a cluster while it runs (issue 16 point 1), started by server.ts: the
// peer listener (node-to-node mutual TLS, web/peer/server.ts) when GATEHOUSE_CLUSTER_PORT is set,
// registration, the heartbeat itself (with the load) and, on a loop of its own at the same
// interval, the upkeep: the sessions of nodes found dead ended as interrupted, sessions this
// node still runs that another node ended (it took this node for dead) closed, and identity
// pieces another node replaced (a logon-ticket key rotation) reloaded. A node whose heartbeats
// have not reached the database for the dead timeout closes its own sessions (fail closed: the
// others take it for dead). A single node registers and beats too, so that a second node on
// the same database never mistakes it for dead.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { Core } from './core/core.js';
import { ClusterForwarding } from './core/cluster/forwarding.js';
import type { IdentityPiece } from './core/cluster/identity.js';
import { LOGON_KEY_PIECE, PEER_PIECE } from './cluster-identity.js';
import { PeerClient } from './web/peer/client.js';
import { peerTls } from './web/peer/cert.js';
import { PeerServer } from './web/peer/server.js';
import type { ClusterCalls } from './web/routes/live-view.js';
import { periodic, stopAll, type Periodic } from './core/periodic.js';

export interface ClusterNodeHandle {
  /** For the API: where other nodes' sessions are and how to reach them; null on a single node. */
  calls: ClusterCalls | null;
  /** The peer listener's address as registered (null on a single node). */
  address: string | null;
  /** Starts the heartbeat (after the start-up recovery). */
  startBeating(): void;
  /** Stops beating and listening; says "stopped" in the registry (after the sessions ended). */
  stop(): Promise<void>;
}

const wildcard = (h: string) => h === '0.0.0.0' || h === '::' || h === '';
/** How long a stop waits for the cluster's loops to finish the run under way. */
const LOOP_STOP_WAIT_MS = 15_000;

/** Listens on the cluster port (when configured) and registers this node; call before the start-up recovery. */
export async function joinCluster(config: Config, core: Core, pieces: IdentityPiece[] | undefined, log: Logger): Promise<ClusterNodeHandle> {
  const { registry, identity } = core.cluster;
  // Another process running as this node (the same data dir twice) would have every session
  // ended by this one's start-up recovery: refused here, before anything is touched (and before
  // the peer port is taken: on the same machine the other holds it, and EADDRINUSE would say less).
  await registry.ensureNotRunning();
  let calls: ClusterCalls | null = null;
  let peerServer: PeerServer | null = null;
  let address: string | null = null;
  if (identity && config.clusterPort !== undefined) {
    const tls = peerTls(identity.value(PEER_PIECE));
    const peers = new PeerClient(tls);
    const forwarding = new ClusterForwarding(core.store, registry, peers);
    core.sessions.forwardTo(forwarding);
    calls = { forwarding, peers };
    peerServer = new PeerServer(core, tls, log);
    const listenHost = config.clusterListenHost ?? config.bindHost;
    const port = await peerServer.listen(config.clusterPort, listenHost);
    const host = config.clusterAddress ?? (wildcard(listenHost) ? hostname() : listenHost);
    address = `https://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
    // Another node rotating the logon-ticket key stores it for all; this node's rotation too.
    core.logonTicketKey.onRotate(async (pem) => {
      const piece = pieces?.find((p) => p.name === LOGON_KEY_PIECE);
      if (piece && !(await identity.replace(piece, [pem]))) core.logonTicketKey.reload();
    });
  }
  const registering = performance.now();
  await registry.register(address, core.version);

  // When this node last began a heartbeat that reached the database (registration counts):
  // this process's monotonic clock, started before the beat took the database's time, so this
  // node counts its silence from no later than the others do.
  let lastBeat = registering;
  // When the oldest heartbeat not answered since then began; null while the last one was.
  let unansweredSince: number | null = null;
  const beat = async () => {
    const began = performance.now();
    unansweredSince ??= began;
    await registry.beat(core.sessions.live.size);
    lastBeat = began;
    unansweredSince = null;
  };
  // Fail closed: silent past the dead timeout (the database unreachable, or too slow), this
  // node is dead to the others, which end its sessions as interrupted; it cannot audit them
  // nor index their text. Its sessions are closed rather than relayed on unseen. Checked at
  // every tick, even while a beat hangs on a lost connection. Only a heartbeat left
  // unanswered for a whole interval counts: a process that was frozen (SIGSTOP, a suspended
  // VM) and wakes past the dead timeout first tries the database; if it answers, the upkeep's
  // dropReaped closes what other nodes ended meanwhile, and a node alone keeps its sessions.
  const checkSilence = () => {
    const t = performance.now();
    const silentMs = t - lastBeat;
    if (silentMs <= registry.timing.deadMs || unansweredSince === null || t - unansweredSince < registry.timing.heartbeatMs) return;
    const n = core.sessions.closeAllUnaudited('this gateway node lost the database (no heartbeat for longer than the dead timeout): the cluster takes it for dead');
    if (n) log.error({ silentSeconds: Math.round(silentMs / 1000), sessions: n }, 'no heartbeat reached the database for longer than the dead timeout: the other nodes take this node for dead and end its sessions as interrupted; its live sessions were closed (fail closed)');
  };
  // Loops of their own, never one: the heartbeat is a single small write, reaping dead nodes
  // (with object storage it completes uploads, reads, repairs and hashes whole recordings,
  // session by session) can take longer than the dead timeout. A heartbeat that waited for it
  // would let this node look dead to the others, which would then end its healthy sessions as
  // interrupted.
  // The upkeep: this node's own sessions (quick): those other nodes ended while it was unreachable, and
  // terminates other nodes could not get through to it; and identity pieces other nodes replaced.
  const upkeep = async () => {
    await core.sessions.dropReaped();
    const queued = await core.sessions.applyQueuedTerminations();
    if (queued) log.warn({ sessions: queued }, 'sessions terminated as other nodes asked while they could not reach this node');
    if (identity && pieces) {
      const changed = await identity.changed(pieces);
      if (changed.includes(LOGON_KEY_PIECE)) core.logonTicketKey.reload();
      if (changed.length) log.info({ pieces: changed }, 'cluster identity pieces replaced by another node were taken');
    }
  };
  // Dead nodes' sessions, ended as interrupted: a loop of its own too. With object storage it
  // completes uploads and reads, repairs and hashes whole recordings, session by session, which
  // can take minutes; in the upkeep's loop it held up the terminates queued for this node and
  // the closing of its sessions other nodes had ended (a tick is skipped while a run goes on).
  const reapDead = async () => {
    const dead = await registry.deadWithLiveSessions();
    if (!dead.length) return;
    const n = await core.sessions.reapDeadNodes(dead);
    if (n) log.warn({ nodes: dead, sessions: n }, 'gateway nodes stopped sending heartbeats: their sessions were ended as interrupted');
  };
  // Dead nodes' recordings the store did not give when their sessions were ended: a loop of
  // their own, apart from the upkeep (against a store still down each try waits out its
  // timeouts, which must not hold up terminates and reaping), once a minute (one log line per
  // session and try).
  const sealDeadNodesRecordings = async () => {
    const late = await core.sessions.sealDeadNodesRecordings();
    if (late) log.warn({ sessions: late }, 'recordings of dead nodes\' sessions, which object storage did not give when those sessions were ended, were completed and sealed');
  };
  /** Runs `fn` every `everyMs` (the heartbeat interval), never doubled (core/periodic.ts). */
  const loop = (fn: () => Promise<void>, failed: string, everyTick?: () => void, everyMs = registry.timing.heartbeatMs) =>
    periodic(fn, everyMs, (e) => log.warn({ err: { message: (e as Error).message } }, failed), everyTick ? { everyTick } : {});
  let loops: Record<string, Periodic> = {};
  return {
    calls,
    address,
    startBeating() {
      const heartbeat = loop(beat, 'the cluster heartbeat failed', checkSilence);
      // At once: the start-up recovery since registration may have taken a while.
      heartbeat.run();
      loops = {
        heartbeat,
        upkeep: loop(upkeep, 'the cluster upkeep (sessions ended elsewhere, queued terminates, identity) failed'),
        'reaping dead nodes': loop(reapDead, "ending dead nodes' sessions failed"),
        "sealing dead nodes' recordings": loop(sealDeadNodesRecordings, 'sealing dead nodes\' recordings failed', undefined, 60_000),
      };
    },
    async stop() {
      // Bounded: a reap of a dead node's recordings, or a beat on a lost connection, must not
      // hold the stop (and the seals and system.stop after it) until the service manager kills
      // the process. A reap takes up no further session once the node is stopping, and leaves
      // live (for the next reaper) one whose recording the closing storage kept from it
      // (recovery.ts); each session's end is one transaction. A late beat cannot undo stopped().
      const cut = await stopAll(loops, LOOP_STOP_WAIT_MS);
      if (cut.length) log.warn({ loops: cut }, `stopping: cluster work still under way after ${LOOP_STOP_WAIT_MS / 1000} s is left to finish or fail on its own`);
      await peerServer?.close();
      await registry.stopped().catch((e) => log.warn({ err: { message: (e as Error).message } }, 'marking this node stopped failed'));
    },
  };
}
