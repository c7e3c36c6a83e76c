// Access request policies and the requests, approvals and grants under them (core/access).
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { api } from '../contract/index.js';
import { addRoute } from '../contract-route.js';

const admin = { config: { permission: 'administer' } } as const;

export const accessRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    const { accessPolicies: pol, accessRequests: req_ } = api;

    addRoute(app, pol.list, admin)(async (req) => ({ ...(await core.policies.list(req.principal!, req.query)), limit: req.query.limit, offset: req.query.offset }));
    addRoute(app, pol.create, admin)(async (req, reply) => reply.code(201).send(await core.policies.create(req.principal!, req.body)));
    addRoute(app, pol.get, admin)(async (req) => core.policies.get(req.principal!, req.params.id));
    addRoute(app, pol.update, admin)(async (req) => core.policies.update(req.principal!, req.params.id, req.body));
    addRoute(app, pol.remove, admin)(async (req, reply) => {
      await core.policies.remove(req.principal!, req.params.id);
      return reply.code(204).send();
    });

    const lv = api.accessLevels;
    addRoute(app, lv.list, admin)(async (req) => ({ ...(await core.accessLevels.list(req.query)), limit: req.query.limit, offset: req.query.offset }));
    addRoute(app, lv.create, admin)(async (req, reply) => reply.code(201).send(await core.accessLevels.create(req.principal!, req.body)));
    addRoute(app, lv.get, admin)(async (req) => core.accessLevels.get(req.params.id));
    addRoute(app, lv.update, admin)(async (req) => core.accessLevels.update(req.principal!, req.params.id, req.body));
    addRoute(app, lv.remove, admin)(async (req, reply) => {
      await core.accessLevels.remove(req.principal!, req.params.id);
      return reply.code(204).send();
    });
    addRoute(app, lv.forSecret)(async (req) => {
      const { secret } = await core.secrets.require(req.principal!, req.params.id, 'view');
      const all = await core.accessLevels.usable(req.principal!, secret.id);
      const items = all.slice(req.query.offset, req.query.offset + req.query.limit).map((l) => ({ id: l.id, name: l.name, description: l.description, targetGroups: l.targetGroups }));
      return { items, total: all.length, limit: req.query.limit, offset: req.query.offset };
    });

    addRoute(app, req_.list)(async (req) => ({ ...(await core.accessRequests.list(req.principal!, req.query)), limit: req.query.limit, offset: req.query.offset }));
    addRoute(app, req_.create, { config: { scope: 'launch' } })(async (req, reply) => reply.code(201).send(await core.accessRequests.create(req.principal!, req.body)));
    addRoute(app, req_.get)(async (req) => core.accessRequests.get(req.principal!, req.params.id));
    addRoute(app, req_.approve)(async (req) => core.accessRequests.decide(req.principal!, req.params.id, 'approve', req.body.comment ?? ''));
    addRoute(app, req_.deny)(async (req) => core.accessRequests.decide(req.principal!, req.params.id, 'deny', req.body.comment ?? ''));
    addRoute(app, req_.revoke)(async (req) => core.accessRequests.revoke(req.principal!, req.params.id, req.body.comment ?? ''));
  };
