// The live view of a session (Server-Sent Events): what happened so far, then every new
// recorded event until the session ends. The core's live feed (src/core/sessions/live-feed.ts)
// says what that is; live-view-stream.ts writes it as events. A session live on another node
// of the cluster is relayed from that node (peer/client.ts), which checks and audits it.
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { AppError } from '../../core/errors.js';
import { actorOf } from '../../core/identity/principal.js';
import { api } from '../contract/index.js';
import { addRoute } from '../contract-route.js';
import { relayLiveView } from '../live-view-relay.js';
import { checkLiveView, streamLiveView } from '../live-view-stream.js';
import type { PeerClient } from '../peer/client.js';
import type { ClusterForwarding } from '../../core/cluster/forwarding.js';

/** In a cluster: where a session lives (core/cluster/forwarding.ts) and the node-to-node client. */
export interface ClusterCalls {
  forwarding: ClusterForwarding;
  peers: PeerClient;
}

export const liveViewRoutes =
  (core: Core, cluster?: ClusterCalls): FastifyPluginAsync =>
  async (app) => {
    // Relayed views, cut when the server closes: nothing of this node ends them (the session
    // runs on another node), and the server's close waits for every active connection, so one
    // watcher would hold this node's stop until the other node's session ended.
    const relays = new Set<{ destroy(): void }>();
    let closing = false;
    app.addHook('preClose', async () => {
      closing = true;
      for (const r of relays) r.destroy();
    });
    addRoute(app, api.sessions.live, { config: { permission: 'manage_sessions' } })(async (req, reply) => {
      const actor = actorOf(req.principal, req.ip);
      const owner = cluster && !core.sessions.live.has(req.params.id) ? await cluster.forwarding.ownerOf(req.params.id) : null;
      if (cluster && owner) {
        const upstream = await cluster.peers.liveView(owner, actor, req.params.id).catch(async (e: Error) => {
          throw await cluster.forwarding.unreachable(owner, e);
        });
        if (upstream.status !== 200) {
          upstream.stream.destroy();
          return reply.code(upstream.status as 403).send(upstream.error!);
        }
        // The other node answered after this server began to close: nothing would cut this one.
        if (closing) {
          upstream.stream.destroy();
          throw new AppError(503, 'shutting_down', 'the gateway is shutting down; try again in a moment');
        }
        reply.hijack();
        relays.add(upstream.stream);
        upstream.stream.once('close', () => relays.delete(upstream.stream));
        relayLiveView(upstream.stream, reply.raw);
        return;
      }
      const opened = await checkLiveView(core, actor, req.params.id);
      if ('refusal' in opened) return reply.code(opened.refusal.status).send({ error: { code: opened.refusal.code, message: opened.refusal.message } });
      reply.hijack();
      await streamLiveView(opened.feed, req.log, reply.raw);
    });
  };
