// Launchers, launching (single-use tickets), sessions (live and past, live view,
// terminate) and recordings (asciicast download, text search), and SSH keys.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { GHREC_CONTENT_TYPE, GHREC_FILE_EXTENSION } from '../../core/sessions/ghrec.js';
import type { LiveSession } from '../../core/sessions/live.js';
import { RdpKeyframes } from '../rdp-keyframes.js';
import { recordingFormatOf } from '../../core/sessions/service.js';
import type { Core } from '../../core/core.js';
import { badRequest, forbidden } from '../../core/errors.js';
import { actorOf, type Principal } from '../../core/identity/principal.js';
import type { LauncherInput } from '../../core/launch/launchers.js';
import { buildRdpFile, RDP_FILE_CONTENT_TYPE, rdpFileName } from '../../protocols/rdp/rdp-file.js';
import { body, bool, idParams, nullableStr, optStr, pageOf, pageQuery, str, type PageQuery } from '../schemas.js';

const TEXT_PAGE = 10_000;

const launcherProps = {
  name: str(128),
  type: { type: 'string', enum: ['session-connector'] },
  childType: { type: ['string', 'null'], enum: ['ssh', 'telnet', 'rdp', null] },
  gatewayHost: nullableStr(253),
  gatewayPort: { type: ['integer', 'null'], minimum: 1, maximum: 65535 },
  active: bool,
  record: bool,
  recordKeystrokes: bool,
  idleTimeoutSeconds: { type: 'integer', minimum: 0, maximum: 604800 },
  maxDurationSeconds: { type: 'integer', minimum: 0, maximum: 604800 },
  allowPortForwarding: bool,
  options: {
    type: 'object',
    additionalProperties: false,
    properties: { consentText: optStr(4000), telnetLoginPrompt: optStr(256), telnetPasswordPrompt: optStr(256), telnetFailurePattern: optStr(256), rdpClipboard: bool, rdpDrives: bool, rdpPrinters: bool },
  },
};

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

const shellQuote = (s: string) => (/^[A-Za-z0-9_.:@/-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export const sessionRoutes =
  (core: Core, doors: () => { sshHostKeys: string[] }): FastifyPluginAsync =>
  async (app) => {
    const keyframes = new RdpKeyframes((id) => core.sessions.live.has(id));
    const gatewayHost = (req: FastifyRequest): Promise<string> =>
      core.settings.get('publicUrl').then((u) => {
        const url = u || core.config.publicUrl;
        if (url) return new URL(url).hostname;
        return (req.headers.host ?? 'localhost').replace(/:\d+$/, '');
      });

    // ---- launchers
    app.get<{ Querystring: PageQuery }>(
      '/launchers',
      { schema: { tags: ['launchers'], summary: 'Launcher types: built-in ssh, telnet, rdp and session connector launchers', querystring: pageQuery() } },
      async (req) => pageOf(await core.launchers.list(), req.query),
    );
    app.get<{ Params: { id: string } }>('/launchers/:id', { schema: { tags: ['launchers'], params: idParams } }, async (req) => core.launchers.get(req.params.id));
    app.post<{ Body: LauncherInput & { name: string; type: 'session-connector' } }>(
      '/launchers',
      { config: { permission: 'manage_templates' }, schema: { tags: ['launchers'], summary: 'Create a session connector launcher (child launcher type + gateway address)', body: body(launcherProps, ['name', 'type', 'childType', 'gatewayHost']) } },
      async (req, reply) => reply.status(201).send(await core.launchers.create(actorOf(req.principal, req.ip), req.body)),
    );
    app.patch<{ Params: { id: string }; Body: LauncherInput }>(
      '/launchers/:id',
      { config: { permission: 'manage_templates' }, schema: { tags: ['launchers'], summary: 'Change a launcher (recording, keystrokes, timeouts, port forwarding, gateway)', params: idParams, body: body(launcherProps) } },
      async (req) => core.launchers.update(actorOf(req.principal, req.ip), req.params.id, req.body),
    );
    app.delete<{ Params: { id: string } }>('/launchers/:id', { config: { permission: 'manage_templates' }, schema: { tags: ['launchers'], params: idParams } }, async (req, reply) => {
      await core.launchers.remove(actorOf(req.principal, req.ip), req.params.id);
      return reply.status(204).send();
    });

    // ---- launch
    app.post<{ Params: { id: string }; Body: { launcher: string; bindIp?: boolean } }>(
      '/secrets/:id/launch',
      {
        config: { permission: 'launch', scope: 'launch' },
        schema: {
          tags: ['sessions'],
          summary: 'Issue a single-use launch ticket (lifetime: the sessionTimeout setting, default 900 s) and the command or file that uses it',
          params: idParams,
          body: body({ launcher: str(128), bindIp: bool }, ['launcher']),
        },
      },
      async (req) => {
        const r = await core.launching.launch(req.principal!, req.params.id, req.body.launcher, { clientIp: req.ip, bindIp: req.body.bindIp ?? false });
        const host = r.gateway.host || (await gatewayHost(req));
        const out: Record<string, unknown> = { ticket: r.ticket, expiresAt: r.expiresAt, launcher: r.launcher, consent: await core.launching.consentFor(r.launcher.id) };
        if (r.launcher.protocol === 'ssh' || r.launcher.protocol === 'telnet') {
          const knownHosts = doors().sshHostKeys.map((k) => `[${host}]:${r.gateway.port} ${k}`);
          out.ssh = { host, port: r.gateway.port, username: r.ticket, command: `ssh -p ${r.gateway.port} ${shellQuote(r.ticket)}@${shellQuote(host)}`, knownHosts };
        }
        // Same origin: the file is fetched with the same credentials, by the ticket's owner only.
        if (r.launcher.protocol === 'rdp') out.rdpFile = `/api/v1/launch/rdp-file?ticket=${encodeURIComponent(r.ticket)}`;
        return out;
      },
    );
    app.get<{ Querystring: { ticket: string } }>(
      '/launch/rdp-file',
      {
        schema: {
          tags: ['sessions'],
          summary: 'The .rdp file for one of your unused RDP launch tickets (application/x-rdp): the ticket travels as loadbalanceinfo to the RDP door',
          querystring: { type: 'object', required: ['ticket'], additionalProperties: false, properties: { ticket: str(64) } },
        },
      },
      async (req, reply) => {
        const f = await core.launching.rdpFileFor(req.principal!, req.query.ticket);
        const host = f.gateway.host || (await gatewayHost(req));
        let text: string;
        try {
          text = buildRdpFile({ host, port: f.gateway.port, ticket: req.query.ticket, allowConnectionSharing: f.allowConnectionSharing, redirectClipboard: f.redirection.clipboard, redirectDrives: f.redirection.drives, redirectPrinters: f.redirection.printers });
        } catch (e) {
          // A Host header that is no host name (set publicUrl to fix the address handed out).
          if (e instanceof RangeError) throw badRequest(`cannot write a .rdp file for gateway host "${host.slice(0, 64)}": ${e.message}`, 'bad_gateway_host');
          throw e;
        }
        reply.header('content-type', RDP_FILE_CONTENT_TYPE);
        reply.header('content-disposition', `attachment; filename="${rdpFileName(f.secretName)}"`);
        reply.header('cache-control', 'no-store');
        return reply.send(text);
      },
    );

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

    // ---- host keys pinned per secret
    app.get<{ Params: { id: string } }>('/secrets/:id/host-key', { schema: { tags: ['secrets'], summary: "The target host key pinned for this secret (trust on first use)", params: idParams } }, async (req) => {
      await core.secrets.require(req.principal!, req.params.id, 'view');
      return { hostKey: (await core.sessions.hostKey(req.params.id)) ?? null };
    });
    app.delete<{ Params: { id: string } }>('/secrets/:id/host-key', { schema: { tags: ['secrets'], summary: 'Forget the pinned host key after a legitimate change (needs edit)', params: idParams } }, async (req, reply) => {
      await core.secrets.require(req.principal!, req.params.id, 'edit');
      await core.sessions.resetHostKey(actorOf(req.principal, req.ip), req.params.id);
      return reply.status(204).send();
    });

    // ---- the caller's SSH public keys (for `ssh user:secret@gatehouse`)
    app.get<{ Querystring: PageQuery }>('/me/ssh-keys', { schema: { tags: ['auth'], summary: 'Your registered SSH public keys', querystring: pageQuery() } }, async (req) => pageOf(await core.sshKeys.list(req.principal!.userId), req.query));
    app.post<{ Body: { name: string; publicKey: string } }>(
      '/me/ssh-keys',
      { schema: { tags: ['auth'], summary: 'Register an SSH public key for logging in at the SSH door as <user>:<secret>', body: body({ name: str(100), publicKey: str(16384) }, ['name', 'publicKey']) } },
      async (req, reply) => reply.status(201).send(await core.sshKeys.add({ ...actorOf(req.principal, req.ip), id: req.principal!.userId }, req.body)),
    );
    app.delete<{ Params: { id: string } }>('/me/ssh-keys/:id', { schema: { tags: ['auth'], params: idParams } }, async (req, reply) => {
      await core.sshKeys.remove({ ...actorOf(req.principal, req.ip), id: req.principal!.userId }, req.params.id);
      return reply.status(204).send();
    });
  };
