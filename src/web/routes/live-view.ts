// The live view of a session (Server-Sent Events): what happened so far, then every new
// recorded event until the session ends.
import type { FastifyPluginAsync } from 'fastify';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { LiveSession } from '../../core/sessions/live.js';
import { RdpKeyframes } from '../rdp-keyframes.js';
import type { Core } from '../../core/core.js';
import { actorOf } from '../../core/identity/principal.js';
import { idParams } from '../schemas.js';

const BACKLOG_BYTES = 4 * 1024 * 1024;

/** Event lines of a live session's recording so far (at most the last 4 MiB, whole lines). */
function recordingBacklog(live: LiveSession): string[] {
  if (!live.cast) return [];
  live.cast.flush();
  const fd = openSync(live.cast.path, 'r');
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - BACKLOG_BYTES);
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    const lines = buf.toString('utf8').split('\n');
    // Drop the header (first line of the file) or a line cut by the 4 MiB window.
    lines.shift();
    return lines.filter((l) => l.startsWith('['));
  } finally {
    closeSync(fd);
  }
}

export const liveViewRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    const keyframes = new RdpKeyframes((id) => core.sessions.live.has(id));
    app.get<{ Params: { id: string } }>(
      '/sessions/:id/live',
      { config: { permission: 'manage_sessions' }, schema: { tags: ['sessions'], summary: 'Live view (Server-Sent Events). SSH/Telnet: the asciicast header, the recording so far, then every event. RDP: a header with format "rdp", a PNG keyframe of the screen so far, then every recording record in base64', params: idParams } },
      async (req, reply) => {
        const live = core.sessions.live.get(req.params.id);
        if (!live) {
          await core.sessions.get(req.params.id);
          return reply.status(409).send({ error: { code: 'not_live', message: 'session is not live; replay its recording instead' } });
        }
        await core.audit.record(actorOf(req.principal, req.ip), { action: 'session.watch', target: { type: 'session', id: live.id } });
        // A long RDP backlog is decoded in slices first, so other sessions keep flowing meanwhile.
        if (live.plan.protocol === 'rdp') {
          await keyframes.warm(live, req.log);
          if (live.isEnded) return reply.status(409).send({ error: { code: 'not_live', message: 'session is not live; replay its recording instead' } });
        }
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
        const who = { sessionId: live.id, user: live.plan.user.username, secret: live.plan.credential.secretName };
        if (live.plan.protocol === 'rdp') {
          // Graphical: the recording's header, the screen so far as one PNG, then every ghrec record
          // (base64). Like the terminal backlog, the keyframe and the subscription happen in one
          // synchronous step, so no record falls between them.
          res.write(`event: header\ndata: ${JSON.stringify({ ...live.ghrec?.header, format: 'rdp', recorded: live.plan.launcher.record, ...who })}\n\n`);
          const keyframe = keyframes.keyframe(live, req.log);
          if (keyframe) res.write(`event: keyframe\ndata: ${JSON.stringify(keyframe)}\n\n`);
        } else {
          res.write(`event: header\ndata: ${JSON.stringify({ version: 2, width: live.size.cols, height: live.size.rows, ...who })}\n\n`);
          // What happened before the auditor arrived (the tail of the recording so far), then live
          // events. Flushing, reading and subscribing run in one synchronous step, so no event
          // falls between the backlog and the stream.
          for (const line of recordingBacklog(live)) res.write(`data: ${line}\n\n`);
        }
        const unsubscribe = live.subscribe((line) => {
          if (!line) {
            clearInterval(ping);
            res.write('event: end\ndata: {}\n\n');
            res.end();
            return;
          }
          res.write(`data: ${line.trimEnd()}\n\n`);
        });
        const ping = setInterval(() => res.write(': ping\n\n'), 15000);
        req.raw.on('close', () => {
          clearInterval(ping);
          unsubscribe();
        });
      },
    );
  };
