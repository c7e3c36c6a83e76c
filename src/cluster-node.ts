// This node's part in a cluster while it runs (issue 16 point 1), started by server.ts: the
// peer listener (node-to-node mutual TLS, web/peer/server.ts) when GATEHOUSE_CLUSTER_PORT is set,
// registration, and every heartbeat: the beat itself (with the load), the sessions of nodes
// found dead ended as interrupted, sessions this node still runs that another node ended (it
// took this node for dead) closed, and identity pieces another node replaced (a logon-ticket
// key rotation) reloaded. A single node registers and beats too, so that a second node on the
// same database never mistakes it for dead.
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

/** Listens on the cluster port (when configured) and registers this node; call before the start-up recovery. */
export async function joinCluster(config: Config, core: Core, pieces: IdentityPiece[] | undefined, log: Logger): Promise<ClusterNodeHandle> {
  const { registry, identity } = core.cluster;
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
  await registry.register(address, core.version);

  let timer: NodeJS.Timeout | null = null;
  let beating: Promise<void> | null = null;
  const beat = async () => {
    await registry.beat(core.sessions.live.size);
    const dead = await registry.deadWithLiveSessions();
    if (dead.length) {
      const n = await core.sessions.reapDeadNodes(dead);
      if (n) log.warn({ nodes: dead, sessions: n }, 'gateway nodes stopped sending heartbeats: their sessions were ended as interrupted');
    }
    await core.sessions.dropReaped();
    if (identity && pieces) {
      const changed = await identity.changed(pieces);
      if (changed.includes(LOGON_KEY_PIECE)) core.logonTicketKey.reload();
      if (changed.length) log.info({ pieces: changed }, 'cluster identity pieces replaced by another node were taken');
    }
  };
  return {
    calls,
    address,
    startBeating() {
      timer = setInterval(() => {
        if (beating) return;
        beating = beat()
          .catch((e) => log.warn({ err: { message: (e as Error).message } }, 'the cluster heartbeat failed'))
          .finally(() => (beating = null));
      }, registry.timing.heartbeatMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await beating;
      await peerServer?.close();
      await registry.stopped().catch((e) => log.warn({ err: { message: (e as Error).message } }, 'marking this node stopped failed'));
    },
  };
}
