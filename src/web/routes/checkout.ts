// Exclusive checkout of shared credentials: take, give back, look, queue. The rules (who
// may check in someone else's checkout, what the queue does) are the core's (vault/checkout.ts).
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { api } from '../contract/index.js';
import { addRoute } from '../contract-route.js';
import { pageOf } from '../paging.js';

// Checking out and queueing are part of launching: the launch permission and token scope.
const launching = { config: { permission: 'launch', scope: 'launch' } } as const;

export const checkoutRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    const { checkout } = api;
    addRoute(app, checkout.mine)(async (req) => pageOf(await core.checkouts.concerning(req.principal!), req.query));
    addRoute(app, checkout.status)(async (req) => core.checkouts.status(req.principal!, req.params.id));
    addRoute(app, checkout.take, launching)(async (req) => core.checkouts.checkout(req.principal!, req.params.id, req.body ?? {}, req.ip));
    // The holder needs no permission to give back what they hold; forcing is for administrators of the secret (checked in the core).
    addRoute(app, checkout.checkin, { config: { scope: 'launch' } })(async (req) => core.checkouts.checkin(req.principal!, req.params.id, req.ip));
    addRoute(app, checkout.join, launching)(async (req) => core.checkouts.joinQueue(req.principal!, req.params.id, req.ip));
    addRoute(app, checkout.leave, { config: { scope: 'launch' } })(async (req, reply) => {
      await core.checkouts.leaveQueue(req.principal!, req.params.id, req.ip);
      return reply.code(204).send();
    });
  };
