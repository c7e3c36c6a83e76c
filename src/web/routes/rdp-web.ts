// The browser RDP WebSocket (issue 14). The route only upgrades, refuses cross-site pages
// and hands the socket to the browser RDP door (protocols/rdp-web/), which reads the
// RDCleanPath request, redeems the ticket through the broker and relays. Before the ticket
// is redeemed the route checks what only the web layer asks: a launcher that records
// wants the person's consent from the page (consent=1), as the browser terminal does. A token
// of an OpenPSM Mode RDP start (seed 003) is no launch ticket: the OpenPSM gateway opens its
// session instead of the broker (the same door, relay and recorder from there on).
import type { FastifyPluginAsync } from 'fastify';
import type { WebSocket } from 'ws';
import type { Core } from '../../core/core.js';
import { AppError, normalizeIp, TicketRefused, type RedeemContext } from '../../core/broker.js';
import { actorOf } from '../../core/identity/principal.js';
import { WebRdpDoor } from '../../protocols/rdp-web/door.js';
import { api, type RouteTypes } from '../contract/index.js';
import { localPath } from '../contract-route.js';

const originHost = (origin: string): string | null => {
  try {
    return new URL(origin).host;
  } catch {
    return null;
  }
};

export const rdpWebRoutes =
  (core: Core, door: WebRdpDoor = WebRdpDoor.open({ broker: core.launching, log: core.log })): FastifyPluginAsync =>
  async (app) => {
    type SocketRequest = { Querystring: RouteTypes<typeof api.rdpWeb.socket>['Querystring'] };
    // A WebSocket route without sign-in (the ticket in the first message is the authentication);
    // a plain GET (no upgrade) is answered in the uniform error shape.
    app.route<SocketRequest>({
      method: 'GET',
      url: localPath(app, api.rdpWeb.socket),
      schema: api.rdpWeb.socket.schema,
      config: { auth: false },
      handler: async () => {
        throw new AppError(426, 'upgrade_required', 'open this address as a WebSocket');
      },
      wsHandler: (socket: WebSocket, req) => {
        const clientIp = normalizeIp(req.ip);
        // Cross-site WebSocket hijacking: only pages of this origin (an Origin that is no URL is refused the same way).
        const origin = req.headers.origin;
        if (origin && originHost(origin) !== req.headers.host) return socket.close(1008, 'cross-origin requests are refused');
        const consented = req.query.consent === '1';
        const precheck = async (ticket: string): Promise<string | null> => {
          const launcher = await core.launching.ticketLauncher(ticket);
          if (!launcher?.record || consented) return null;
          await core.audit.record(actorOf(null, clientIp), { action: 'ticket.refused', outcome: 'failure', details: { reason: 'consent_missing', door: 'web-rdp' } });
          return 'this session is recorded: agree to the recording first';
        };
        const psm = core.openpsm.gateway;
        const redeem = async (token: string, ctx: RedeemContext) => {
          if (!psm.ownsRdpToken(token)) return core.launching.redeem(token, ctx);
          try {
            return await psm.openRdp(token, { clientIp });
          } catch (e) {
            // Generic to the browser; the gateway logged and audited the reason.
            if (e instanceof AppError) throw new TicketRefused('unknown', e.message);
            throw e;
          }
        };
        if (!door.accept(socket, { clientIp, consented, precheck, redeem })) socket.close(1013, 'browser RDP is not available now');
      },
    });
  };
