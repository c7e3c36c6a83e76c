// Audit streaming sinks over HTTP (contract: contract/audit-sinks.ts; rules:
// core/audit/streaming): list, add, change, delete. Administrators only.
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { actorOf } from '../../core/identity/principal.js';
import { api } from '../contract/index.js';
import { addRoute, noContent } from '../contract-route.js';

const admin = { config: { permission: 'administer', scope: 'admin' } } as const;

export const auditSinkRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    const s = api.auditSinks;
    const sinks = core.auditSinks;
    addRoute(app, s.list, admin)(async (req) => ({ ...(await sinks.list(req.query)), limit: req.query.limit, offset: req.query.offset }));
    addRoute(app, s.create, admin)(async (req, reply) => reply.code(201).send(await sinks.create(actorOf(req.principal, req.ip), req.body)));
    addRoute(app, s.get, admin)(async (req) => sinks.get(req.params.id));
    addRoute(app, s.update, admin)(async (req) => sinks.update(actorOf(req.principal, req.ip), req.params.id, req.body));
    addRoute(app, s.remove, admin)((req, reply) => noContent(reply, sinks.remove(actorOf(req.principal, req.ip), req.params.id)));
  };
