// The browser door: a WebSocket carrying one terminal session, started by the same
// single-use ticket as the native doors and recorded the same way. The frames and the pump
// are the browser terminal relay's (web/terminal-relay.ts); this route redeems the ticket.
// The connections are carried for the browser terminal door (protocols/web-terminal.ts),
// which the server starts and closes.
import type { FastifyPluginAsync } from 'fastify';
import type { WebSocket } from 'ws';
import type { Core } from '../../core/core.js';
import { normalizeIp, TicketRefused } from '../../core/broker.js';
import { actorOf } from '../../core/identity/principal.js';
import { WebTerminalDoor } from '../../protocols/web-terminal.js';
import { api, type RouteTypes } from '../contract/index.js';
import { addRoute, localPath, noContent } from '../contract-route.js';
import { relayTerminal, terminalSize } from '../terminal-relay.js';

const CONSENT_FIRST = 'this session is recorded: agree to the recording first';

export const terminalRoutes =
  (core: Core, door: WebTerminalDoor = WebTerminalDoor.open()): FastifyPluginAsync =>
  async (app) => {
    addRoute(app, api.launch.decline)((req, reply) => noContent(reply, core.launching.decline(req.principal!, req.body.ticket, req.ip)));

    // A WebSocket route: its handler takes the socket, so it is registered directly (with the contract's path and schema).
    app.get<{ Querystring: RouteTypes<typeof api.launch.terminal>['Querystring'] }>(
      localPath(app, api.launch.terminal),
      { websocket: true, schema: api.launch.terminal.schema },
      (socket: WebSocket, req) => {
        const p = req.principal!;
        const clientIp = normalizeIp(req.ip);
        const q = req.query;
        relayTerminal(socket, { origin: req.headers.origin, host: req.headers.host, log: req.log }, {
          door,
          term: terminalSize(q.cols, q.rows, q.term ?? 'xterm-256color'),
          what: 'browser terminal',
          open: async () => {
            const launcher = await core.launching.ticketLauncher(q.ticket);
            if (launcher?.record && q.consent !== '1') {
              await core.audit.record(actorOf(p, clientIp), { action: 'ticket.refused', outcome: 'failure', details: { reason: 'consent_missing', door: 'web' } });
              return { refused: CONSENT_FIRST };
            }
            try {
              return await core.launching.redeem(q.ticket, { clientIp, door: 'web', expectUserId: p.userId, consented: q.consent === '1' });
            } catch (e) {
              if (e instanceof TicketRefused) return { refused: e.reason === 'consent_required' ? CONSENT_FIRST : 'the session could not be started (the launch may have expired or been used); launch again' };
              throw e;
            }
          },
        });
      },
    );
  };
