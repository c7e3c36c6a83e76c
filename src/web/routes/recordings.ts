// Recordings: download (asciicast for SSH/Telnet, ghrec for RDP), the typed-text index of
// one session, and text search across recordings.
import type { FastifyPluginAsync } from 'fastify';
import { createReadStream } from 'node:fs';
import { GHREC_CONTENT_TYPE, GHREC_FILE_EXTENSION } from '../../core/sessions/ghrec.js';
import { recordingFormatOf } from '../../core/sessions/service.js';
import type { Core } from '../../core/core.js';
import { actorOf } from '../../core/identity/principal.js';
import { pageQuery, str, type PageQuery } from '../schemas.js';

const TEXT_PAGE = 10_000;

export const recordingRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    // ---- recordings
    app.get<{ Querystring: PageQuery & { q: string } }>(
      '/recordings',
      { config: { permission: 'view_recordings' }, schema: { tags: ['recordings'], summary: 'Search typed commands/keystrokes and session events across recordings', querystring: { ...pageQuery({ q: str(256) }), required: ['q'] } } },
      async (req) => ({ ...(await core.sessions.search(req.query)), limit: req.query.limit, offset: req.query.offset }),
    );
    app.get<{ Params: { sessionId: string } }>(
      '/recordings/:sessionId',
      { config: { permission: 'view_recordings' }, schema: { tags: ['recordings'], summary: 'The session recording: asciicast v2 for SSH/Telnet (plays with `asciinema play`), a Gatehouse graphics recording (ghrec) for RDP (`gatehouse recording export`)', params: { type: 'object', properties: { sessionId: str(128) }, required: ['sessionId'] } } },
      async (req, reply) => {
        const path = await core.sessions.recordingFile(req.params.sessionId);
        await core.audit.record(actorOf(req.principal, req.ip), { action: 'recording.view', target: { type: 'session', id: req.params.sessionId } });
        const graphical = recordingFormatOf(path) === 'ghrec-rdp';
        reply.header('content-type', graphical ? GHREC_CONTENT_TYPE : 'application/x-asciicast');
        reply.header('content-disposition', `attachment; filename="${req.params.sessionId}${graphical ? GHREC_FILE_EXTENSION : '.cast'}"`);
        return reply.send(createReadStream(path));
      },
    );
    // A recording's index is read whole by the player, so its pages are larger (up to 10000 lines).
    app.get<{ Params: { sessionId: string }; Querystring: PageQuery }>(
      '/recordings/:sessionId/text',
      {
        config: { permission: 'view_recordings' },
        schema: {
          tags: ['recordings'],
          summary: 'The typed-text index of one session (commands and events with their time offsets); limit 1-10000, default 10000',
          params: { type: 'object', properties: { sessionId: str(128) }, required: ['sessionId'] },
          querystring: pageQuery({}, { max: TEXT_PAGE, default: TEXT_PAGE }),
        },
      },
      async (req) => ({ ...(await core.sessions.text(req.params.sessionId, req.query)), limit: req.query.limit, offset: req.query.offset }),
    );
  };
