// Recording retention over HTTP (contract: contract/retention.ts; rules: core/sessions/retention.ts).
// Administrators set policies and sweep; auditors (permission audit) read them and place
// and release legal holds.
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { actorOf } from '../../core/identity/principal.js';
import { api } from '../contract/index.js';
import { addRoute } from '../contract-route.js';

/** Policies and holds are few: paged here, from the whole list. */
const pageOf = <T>(all: T[], q: { limit: number; offset: number }) => ({ items: all.slice(q.offset, q.offset + q.limit), total: all.length });

const admin = { config: { permission: 'administer', scope: 'admin' } } as const;
const auditor = { config: { permission: 'audit', scope: 'audit' } } as const;

export const retentionRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    const r = api.retention;
    addRoute(app, r.list, auditor)(async (req) => ({ ...pageOf(await core.retention.list(), req.query), limit: req.query.limit, offset: req.query.offset }));
    addRoute(app, r.set, admin)(async (req) => core.retention.set(actorOf(req.principal, req.ip), req.body));
    addRoute(app, r.remove, admin)(async (req, reply) => {
      await core.retention.remove(actorOf(req.principal, req.ip), req.params.id);
      return reply.code(204).send();
    });
    addRoute(app, r.sweep, admin)(async (req) => core.retention.sweep(actorOf(req.principal, req.ip)));
    addRoute(app, r.holds, auditor)(async (req) => ({ ...pageOf(await core.retention.holds(), req.query), limit: req.query.limit, offset: req.query.offset }));
    addRoute(app, r.hold, auditor)(async (req) => core.retention.hold(actorOf(req.principal, req.ip), req.params.id, req.body.reason));
    addRoute(app, r.release, auditor)(async (req, reply) => {
      await core.retention.release(actorOf(req.principal, req.ip), req.params.id);
      return reply.code(204).send();
    });
  };
