// Shared control of live sessions over HTTP (contract: contract/sharing.ts; rules:
// core/sessions/sharing.ts): join requests and their answers, invitations, kicks, the
// caller's own joins, and the joiner's WebSocket terminal. The owner's side of a join (the
// prompt in the session's window) rides on the owner's own terminal WebSocket
// (web/terminal-relay.ts). An RDP session is joined on the same WebSocket: the joiner is
// sent the screen as the live view's feed gives it ({type:'screen'|'keyframe'|'record'}
// text frames) and sends input events the RDP door turns into input PDUs
// (protocols/rdp-door/join-input.ts).
import type { FastifyPluginAsync } from 'fastify';
import type { WebSocket } from 'ws';
import type { Core } from '../../core/core.js';
import { AppError, normalizeIp } from '../../core/broker.js';
import { notFound } from '../../core/errors.js';
import type { Principal } from '../../core/identity/principal.js';
import type { Asker, Participant } from '../../core/sessions/sharing.js';
import { WebTerminalDoor } from '../../protocols/web-terminal.js';
import { api, type RouteTypes } from '../contract/index.js';
import { addRoute, localPath } from '../contract-route.js';
import { pageOf } from '../paging.js';
import { admitTerminal, inputOf, parseFrame } from '../terminal-relay.js';
import { WATCHER_UNREAD_LIMIT } from '../live-view-stream.js';
import { holdable } from '../ws-hold.js';

const askerOf = (p: Principal, ip: string): Asker => ({ userId: p.userId, username: p.username, ip: normalizeIp(ip), permissions: p.permissions });

export const sharingRoutes =
  (core: Core, door: WebTerminalDoor = WebTerminalDoor.open()): FastifyPluginAsync =>
  async (app) => {
    const { sharing } = core.sessions;
    const s = api.sharing;
    /** A session id that names no session at all is 404 (one that has ended is the service's 409 not_live). */
    const known = async (id: string) => {
      if (!core.sessions.live.has(id)) await core.sessions.get(id);
      return id;
    };
    addRoute(app, s.request)(async (req, reply) => reply.code(201).send(await sharing.request(askerOf(req.principal!, req.ip), await known(req.params.id))));
    addRoute(app, s.invite)(async (req, reply) => reply.code(201).send(await sharing.invite(askerOf(req.principal!, req.ip), await known(req.params.id), req.body.user)));
    addRoute(app, s.list)(async (req) => pageOf(sharing.list(askerOf(req.principal!, req.ip), await known(req.params.id)), req.query));
    addRoute(app, s.mine)(async (req) => pageOf(sharing.mine(req.principal!.userId), req.query));
    addRoute(app, s.toAnswer)(async (req) => pageOf(sharing.toAnswer(req.principal!.userId), req.query));
    addRoute(app, s.accept)(async (req) => sharing.answer(askerOf(req.principal!, req.ip), req.params.id, req.params.joinId, true));
    addRoute(app, s.decline)(async (req) => sharing.answer(askerOf(req.principal!, req.ip), req.params.id, req.params.joinId, false));
    addRoute(app, s.kick)(async (req) => sharing.kick(askerOf(req.principal!, req.ip), req.params.id, req.params.joinId));

    // The joiner's terminal: a WebSocket route. A plain GET (no upgrade) is answered in the
    // uniform error shape: 404 for a session or join that is not the caller's, else 426.
    type JoinTerminal = { Params: RouteTypes<typeof s.terminal>['Params'] };
    app.route<JoinTerminal>({
      method: 'GET',
      url: localPath(app, s.terminal),
      schema: s.terminal.schema,
      handler: async (req) => {
        await known(req.params.id);
        if (!sharing.mine(req.principal!.userId).some((j) => j.id === req.params.joinId && j.sessionId === req.params.id)) throw notFound('join');
        throw new AppError(426, 'upgrade_required', 'open this address as a WebSocket');
      },
      wsHandler: (socket: WebSocket, req) => {
        let participant: Participant | null = null;
        const ch = admitTerminal(socket, { origin: req.headers.origin, host: req.headers.host }, door, 'left the session', () => participant?.leave());
        if (!ch) return;
        const { fail, finish } = ch;
        // The joiner's socket is held while their input waits for the target (or recording).
        const held = holdable(socket);
        let waits = 0;
        // A joiner reads what the session writes, at the session's pace: one who stops reading is
        // cut past the live view's bound (WATCHER_UNREAD_LIMIT) rather than held in this node's
        // memory (the session goes on; the owner is told they left).
        // Counted past what the opening sent (the session so far, or the screen and its records), as the live view does.
        let allowed = Infinity;
        const opened = () => (allowed = socket.bufferedAmount + WATCHER_UNREAD_LIMIT);
        const unread = () => {
          if (socket.bufferedAmount <= allowed || ch.ended) return;
          req.log.warn({ sessionId: req.params.id, unread: socket.bufferedAmount }, 'a joiner is not reading the session; it is cut');
          finish('not reading the session');
          socket.terminate();
        };
        const send = (m: Record<string, unknown>) => {
          ch.send(m);
          unread();
        };
        socket.on('message', (raw, isBinary) => {
          const f = parseFrame(raw, isBinary);
          const data = f && inputOf(f);
          if (!data || !participant || ch.ended) return;
          // A target (or recording) that does not keep up: the joiner's socket is not read until
          // it does, so a paste waits in their browser, not in this process.
          held.took(data.length);
          const wait = participant.input(data);
          if (wait) {
            // Read again once every wait begun has ended (a frame or two read after the pause add theirs).
            waits++;
            held.pause();
            void wait.then(() => --waits === 0 && held.resume());
          }
        });
        // A graphical session: the screen so far (a keyframe) and every record after it, as the live view sends them.
        const openScreen = async (feed: NonNullable<ReturnType<typeof core.sessions.feed>>) => {
          await feed.prepare(req.log);
          if (ch.ended || feed.ended) return;
          const { header, keyframe, backlog, unsubscribe } = feed.open(req.log, (line) => {
            if (line) send({ type: 'record', data: line.trimEnd() });
          });
          socket.on('close', unsubscribe);
          send({ type: 'screen', header });
          if (keyframe) send({ type: 'keyframe', keyframe });
          for (const data of backlog) send({ type: 'record', data });
          opened();
        };
        sharing
          .attach(askerOf(req.principal!, req.ip), req.params.id, req.params.joinId, {
            output: (d) => {
              if (socket.readyState !== socket.OPEN) return;
              socket.send(d, { binary: true });
              unread();
            },
            resize: (cols, rows) => send({ type: 'resize', cols, rows }),
            end: (reason) => finish(reason),
            onPending: () => send({ type: 'pending' }),
          })
          .then(async (p) => {
            participant = p;
            if (ch.ended) return p.leave();
            const feed = core.sessions.feed(p.join.sessionId);
            send({ type: 'ready', sessionId: p.join.sessionId, joinId: p.join.id, owner: p.join.owner.username, protocol: p.join.protocol, screen: !!feed?.graphical, cols: p.size.cols, rows: p.size.rows });
            if (feed?.graphical) return openScreen(feed);
            if (p.backlog.length) socket.send(p.backlog, { binary: true });
            opened();
          })
          .catch((e) => {
            if (!(e instanceof AppError)) req.log.error({ err: { message: (e as Error).message } }, 'joining a session failed');
            fail(e instanceof AppError ? e.message : 'internal error; the server log has details');
          });
      },
    });
  };
