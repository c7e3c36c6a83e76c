// Calls about a session that lives on another gateway node go to that node (issue 16 point 1):
// terminate, and the live view (whose stream the web layer relays). The core only decides where
// a session lives and whether its node is alive; the transport — node-to-node HTTPS with mutual
// TLS (src/web/peer/) — is handed in by the server, so the core holds no socket.
import type { Store } from '../../store/db.js';
import type { Actor } from '../audit/service.js';
import { AppError } from '../errors.js';
import type { RemoteSessions } from '../sessions/service.js';
import type { NodeRegistry } from './registry.js';

/** What the transport does for the core. */
export interface PeerTransport {
  /** Asks node `to.node`, at `to.address`, to terminate its session: true done, false it was not live there. */
  terminate(to: PeerTarget, actor: Actor, sessionId: string, reason: string): Promise<boolean>;
}

/** A node to call, and where: the call names the node, and a node refuses one meant for another (an address taken over). */
export interface PeerTarget {
  node: string;
  address: string;
}

/** A session live on another node that is alive, and where to reach it. */
export interface RemoteOwner extends PeerTarget {
  /** Its last heartbeat (ms): when it would count as dead if it stays silent. */
  heartbeatAt: number;
}

export class ClusterForwarding implements RemoteSessions {
  constructor(
    private readonly store: Store,
    private readonly registry: NodeRegistry,
    private readonly transport: PeerTransport,
  ) {}

  /**
   * The live node a session runs on, when that is not this node; null when the session is not
   * live, runs here, or its node is dead or takes no forwarded calls.
   */
  async ownerOf(sessionId: string): Promise<RemoteOwner | null> {
    const row = await this.store.db.selectFrom('sessions').select(['status', 'node']).where('id', '=', sessionId).executeTakeFirst();
    if (!row || row.status !== 'live' || !row.node || row.node === this.registry.self) return null;
    const node = await this.registry.get(row.node);
    // Live on a node that takes no forwarded calls: that is the answer, not "not live".
    if (!node || (node.status === 'up' && !node.address)) throw notReachable(row.node, !!node);
    if (node.status !== 'up' || !node.address) return null;
    return { node: node.id, address: node.address, heartbeatAt: node.heartbeatAt };
  }

  /**
   * The refusal for a call the session's node did not answer: not yet dead by its heartbeat,
   * but not answering (it stopped a moment ago, or its network is cut). A clear "try again
   * then", not an internal error: once it has been silent for the dead timeout, any node ends
   * its sessions as interrupted.
   */
  async unreachable(owner: RemoteOwner, e: Error): Promise<AppError> {
    const wait = Math.max(1, Math.ceil((owner.heartbeatAt + this.registry.timing.deadMs - (await this.registry.clock())) / 1000));
    return new AppError(503, 'node_unreachable', `the gateway node running this session (${owner.node}) does not answer (${e.message}); if it has stopped, its sessions are ended as interrupted within ${wait} s: try again then`, { retryAfterSeconds: wait });
  }

  async terminate(nodeId: string, actor: Actor, id: string, reason: string): Promise<'terminated' | 'ended' | 'dead'> {
    const node = await this.registry.get(nodeId);
    // A node that never registered (a version from before nodes did) is not known to be dead,
    // and one without a cluster port takes no forwarded calls: neither is "already ended".
    if (!node || (node.status === 'up' && !node.address)) throw notReachable(nodeId, !!node);
    if (node.status !== 'up') return 'dead';
    const owner = { node: node.id, address: node.address!, heartbeatAt: node.heartbeatAt };
    try {
      return (await this.transport.terminate(owner, actor, id, reason)) ? 'terminated' : 'ended';
    } catch (e) {
      throw await this.unreachable(owner, e as Error);
    }
  }
}

/** A session on a node this one cannot call: one without a cluster port, or one never registered (a version from before nodes did). */
function notReachable(nodeId: string, registered: boolean): AppError {
  return new AppError(409, 'node_not_reachable', `the session runs on gateway node ${nodeId}, which ${registered ? 'takes no calls from other nodes (no cluster port)' : 'is not registered in this cluster'}; terminate it or watch it on that node`);
}
