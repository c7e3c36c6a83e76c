// The gateway nodes on this database (issue 16 point 1, core/cluster/registry.ts): the routes' answers.
import { errors, int, nullableText, obj, text } from './schema.js';
import { route } from './route.js';

export const NODE_STATUSES = ['up', 'stopped', 'dead'] as const;

export const clusterNodeSchema = obj({
  id: text,
  /** https://host:port of its cluster port; null: a node without one (not a cluster member). */
  address: nullableText,
  version: text,
  startedAt: text,
  heartbeatAt: text,
  /** Live sessions at its last heartbeat. */
  load: int,
  status: { type: 'string', enum: NODE_STATUSES },
  /** The node that answered. */
  self: { type: 'boolean' },
});

export const cluster = {
  nodes: route('GET', '/api/v1/cluster/nodes', {
    tags: ['system'],
    summary: 'The gateway nodes on this database: address, last heartbeat, load (live sessions), up / stopped / dead (no heartbeat for GATEHOUSE_NODE_DEAD_SECONDS)',
    // `nodes`, not `items`: a short unpaged list (the contract's paged lists answer `items`).
    response: { 200: obj({ nodes: { type: 'array', items: clusterNodeSchema }, deadAfterSeconds: int }), ...errors },
  }),
} as const;
