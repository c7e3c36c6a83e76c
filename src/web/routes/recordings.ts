// Recordings: download (asciicast for SSH/Telnet, ghrec for RDP), the typed-text index of
// one session, and text search across recordings.
import type { FastifyPluginAsync } from 'fastify';
import { GHREC_CONTENT_TYPE, GHREC_FILE_EXTENSION } from '../../core/sessions/ghrec.js';
import type { Core } from '../../core/core.js';
import { actorOf } from '../../core/identity/principal.js';
import { api } from '../contract/index.js';
import { addRoute } from '../contract-route.js';

const viewRecordings = { config: { permission: 'view_recordings' } } as const;

export const recordingRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    const { recordings } = api;
    addRoute(app, recordings.search, viewRecordings)(async (req) => ({ ...(await core.sessions.search(req.query)), limit: req.query.limit, offset: req.query.offset }));
    addRoute(app, recordings.get, viewRecordings)(async (req, reply) => {
      const rec = await core.sessions.recording(req.params.sessionId);
      await core.audit.record(actorOf(req.principal, req.ip), { action: 'recording.view', target: { type: 'session', id: req.params.sessionId } });
      const graphical = rec.format === 'ghrec-rdp';
      reply.header('content-type', graphical ? GHREC_CONTENT_TYPE : 'application/x-asciicast');
      reply.header('content-disposition', `attachment; filename="${req.params.sessionId}${graphical ? GHREC_FILE_EXTENSION : '.cast'}"`);
      // A stream: sent as it is, not through the JSON serializer.
      // (the plain recording: a compressed one is inflated on the way).
      return reply.send(rec.stream as never);
    });
    // A recording's index is read whole by the player, so its pages are larger (up to 10000 lines).
    addRoute(app, recordings.text, viewRecordings)(async (req) => ({ ...(await core.sessions.text(req.params.sessionId, req.query)), limit: req.query.limit, offset: req.query.offset }));
  };
