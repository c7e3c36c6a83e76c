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
  /** Asks the node at `address` to terminate its session: true done, false it was not live there. */
  terminate(address: string, actor: Actor, sessionId: string, reason: string): Promise<boolean>;
}

/** A session live on another node that is alive, and where to reach it. */
export interface RemoteOwner {
  node: string;
  address: string;
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
    if (!node || node.status !== 'up' || !node.address) return null;
    return { node: node.id, address: node.address };
  }

  async terminate(nodeId: string, actor: Actor, id: string, reason: string): Promise<'terminated' | 'ended' | 'dead'> {
    const node = await this.registry.get(nodeId);
    if (!node || node.status === 'dead') return 'dead';
    if (node.status === 'stopped' || !node.address) return 'ended';
    let done: boolean;
    try {
      done = await this.transport.terminate(node.address, actor, id, reason);
    } catch (e) {
      // Not yet dead by its heartbeat, but not answering (it stopped a moment ago, or its
      // network is cut): a clear refusal to try again, not an internal error. Once it has been
      // silent for the dead timeout, any node ends its sessions as interrupted.
      const wait = Math.max(1, Math.ceil((node.heartbeatAt + this.registry.timing.deadMs - (await this.registry.clock())) / 1000));
      throw new AppError(503, 'node_unreachable', `the gateway node running this session (${nodeId}) does not answer (${(e as Error).message}); if it has stopped, its sessions are ended as interrupted within ${wait} s: try again then`, { retryAfterSeconds: wait });
    }
    return done ? 'terminated' : 'ended';
  }
}
