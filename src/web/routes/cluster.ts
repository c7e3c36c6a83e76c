// The gateway nodes on this database (core/cluster/registry.ts), for administrators: which
// nodes run, their load, which stopped and which are dead.
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { api } from '../contract/index.js';
import { addRoute } from '../contract-route.js';

export const clusterRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    addRoute(app, api.cluster.nodes, { config: { permission: 'administer' } })(async () => {
      const { registry } = core.cluster;
      const nodes = await registry.list();
      return {
        nodes: nodes.map((n) => ({ id: n.id, address: n.address, version: n.version, startedAt: new Date(n.startedAt).toISOString(), heartbeatAt: new Date(n.heartbeatAt).toISOString(), load: n.load, status: n.status, self: n.id === registry.self })),
        deadAfterSeconds: Math.round(registry.timing.deadMs / 1000),
      };
    });
  };
