// The live view of a session (Server-Sent Events): what happened so far, then every new
// recorded event until the session ends. The core's live feed (src/core/sessions/live-feed.ts)
// says what that is; this file only writes it as events.
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { actorOf } from '../../core/identity/principal.js';
import { api } from '../contract/index.js';
import { addRoute } from '../contract-route.js';

export const liveViewRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    addRoute(app, api.sessions.live, { config: { permission: 'manage_sessions' } })(async (req, reply) => {
      const feed = core.sessions.feed(req.params.id);
      if (!feed) {
        await core.sessions.get(req.params.id);
        return reply.code(409).send({ error: { code: 'not_live', message: 'session is not live; replay its recording instead' } });
      }
      // The launcher's allowLiveSnooping (seed 003) off: nobody watches its sessions live.
      if (!feed.snoopingAllowed) {
        await core.audit.record(actorOf(req.principal, req.ip), { action: 'session.watch', outcome: 'failure', target: { type: 'session', id: feed.sessionId }, details: { reason: 'live_snooping_disallowed' } });
        return reply.code(403).send({ error: { code: 'live_view_disallowed', message: 'the launcher of this session does not allow live viewing' } });
      }
      await core.audit.record(actorOf(req.principal, req.ip), { action: 'session.watch', target: { type: 'session', id: feed.sessionId } });
      await feed.prepare(req.log);
      if (feed.ended) return reply.code(409).send({ error: { code: 'not_live', message: 'session is not live; replay its recording instead' } });
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      // The opening and the subscription come from one synchronous step of the feed, and are
      // written before any later record can arrive, so none falls between them.
      const { header, backlog, keyframe, unsubscribe } = feed.open(req.log, (line) => {
        if (!line) {
          clearInterval(ping);
          res.write('event: end\ndata: {}\n\n');
          res.end();
          return;
        }
        res.write(`data: ${line.trimEnd()}\n\n`);
      });
      res.write(`event: header\ndata: ${JSON.stringify(header)}\n\n`);
      if (keyframe) res.write(`event: keyframe\ndata: ${JSON.stringify(keyframe)}\n\n`);
      for (const line of backlog) res.write(`data: ${line}\n\n`);
      const ping = setInterval(() => res.write(': ping\n\n'), 15000);
      req.raw.on('close', () => {
        clearInterval(ping);
        unsubscribe();
      });
    });
  };
