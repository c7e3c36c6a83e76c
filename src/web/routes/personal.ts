// Personal credentials: the caller's master password (set or change, unlock, lock, reset
// when forgotten) and their own credentials. Every route acts on the caller only; the
// unlocked state belongs to the session (token) the request came with.
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { api } from '../contract/index.js';
import { addRoute } from '../contract-route.js';

export const personalRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    const { personal } = api;
    addRoute(app, personal.status)(async (req) => core.personal.status(req.principal!));
    addRoute(app, personal.setMaster)(async (req) => core.personal.setMaster(req.principal!, req.body));
    addRoute(app, personal.unlock)(async (req) => core.personal.unlock(req.principal!, req.body.masterPassword));
    addRoute(app, personal.lock)(async (req) => core.personal.lock(req.principal!));
    addRoute(app, personal.reset)(async (req) => core.personal.reset(req.principal!, req.body.confirm));

    addRoute(app, personal.list)(async (req) => ({ ...(await core.personal.list(req.principal!, req.query)), limit: req.query.limit, offset: req.query.offset }));
    addRoute(app, personal.get)(async (req) => core.personal.get(req.principal!, req.params.id));
    addRoute(app, personal.create)(async (req, reply) => reply.code(201).send(await core.personal.create(req.principal!, req.body)));
    addRoute(app, personal.update)(async (req) => core.personal.update(req.principal!, req.params.id, req.body));
    addRoute(app, personal.remove)(async (req, reply) => {
      await core.personal.remove(req.principal!, req.params.id);
      return reply.code(204).send();
    });
  };
