// Sessions, live and past: listing (everyone sees their own; auditors see all), one
// session, and terminating a live one.
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { notFound } from '../../core/errors.js';
import { actorOf, type Principal } from '../../core/identity/principal.js';
import { api } from '../contract/index.js';
import { addRoute } from '../contract-route.js';

export const sessionRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    const { sessions } = api;
    const canSee = (p: Principal) => p.permissions.has('manage_sessions') || p.permissions.has('view_recordings') || p.permissions.has('audit');
    addRoute(app, sessions.list)(async (req) => {
      const p = req.principal!;
      const q = { ...req.query, ...(canSee(p) ? {} : { userId: p.userId }) };
      return { ...(await core.sessions.list(q)), limit: req.query.limit, offset: req.query.offset };
    });
    addRoute(app, sessions.get)(async (req) => {
      const s = await core.sessions.get(req.params.id);
      // Someone else's session does not exist for a caller who may not see it (as a secret
      // they cannot list): a 403 would tell them that the id names a session.
      if (!canSee(req.principal!) && s.user.id !== req.principal!.userId) throw notFound('session');
      return s;
    });
    addRoute(app, sessions.terminate, { config: { permission: 'manage_sessions' } })(async (req) => {
      await core.sessions.terminate(actorOf(req.principal, req.ip), req.params.id, req.body?.reason ?? '');
      return { terminated: true };
    });
  };
