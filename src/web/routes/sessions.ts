// Sessions, live and past: listing (everyone sees their own; auditors see all), one
// session, and terminating a live one.
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { forbidden } from '../../core/errors.js';
import { actorOf, type Principal } from '../../core/identity/principal.js';
import { body, idParams, optStr, pageQuery, type PageQuery } from '../schemas.js';

export const sessionRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    // ---- sessions
    const canSee = (p: Principal) => p.permissions.has('manage_sessions') || p.permissions.has('view_recordings') || p.permissions.has('audit');
    app.get<{ Querystring: PageQuery & { status?: 'live' | 'ended'; userId?: string; secretId?: string; protocol?: string } }>(
      '/sessions',
      {
        schema: {
          tags: ['sessions'],
          summary: 'Live and past sessions (everyone sees their own; auditors see all)',
          querystring: pageQuery({ status: { type: 'string', enum: ['live', 'ended'] }, userId: optStr(128), secretId: optStr(128), protocol: { type: 'string', enum: ['ssh', 'telnet', 'rdp'] } }),
        },
      },
      async (req) => {
        const p = req.principal!;
        const q = { ...req.query, ...(canSee(p) ? {} : { userId: p.userId }) };
        return { ...(await core.sessions.list(q)), limit: req.query.limit, offset: req.query.offset };
      },
    );
    app.get<{ Params: { id: string } }>('/sessions/:id', { schema: { tags: ['sessions'], params: idParams } }, async (req) => {
      const s = await core.sessions.get(req.params.id);
      if (!canSee(req.principal!) && s.user.id !== req.principal!.userId) throw forbidden();
      return s;
    });
    app.post<{ Params: { id: string }; Body: { reason?: string } }>(
      '/sessions/:id/terminate',
      { config: { permission: 'manage_sessions' }, schema: { tags: ['sessions'], summary: 'End a live session; the person sees the reason on one line, then is disconnected', params: idParams, body: body({ reason: optStr(500) }) } },
      async (req) => {
        await core.sessions.terminate(actorOf(req.principal, req.ip), req.params.id, req.body?.reason ?? '');
        return { terminated: true };
      },
    );
  };
