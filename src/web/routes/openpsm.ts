// The OpenPSM start flow over HTTP (seed 003; rules in src/core/openpsm). Gateway side: GET
// /start (checks the parameters, answers the seed's message or sends the person on to
// /start/<id>), the start page's calls and its WebSocket terminal (web/terminal-relay.ts);
// a Mode RDP start continues on the browser RDP page (routes/rdp-web.ts takes its token). IAM side: getcredential
// and endsession under /api/services/v1/secureaccessgateway, and the /start redirect for one
// of this node's secrets. Registered without a prefix: the contract holds full paths.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { Core } from '../../core/core.js';
import { normalizeIp } from '../../core/broker.js';
import { AppError } from '../../core/errors.js';
import { APP_KEY_HEADER } from '../../core/openpsm/iam-client.js';
import type { GatewayAuth } from '../../core/openpsm/iam.js';
import type { Mode } from '../../core/openpsm/params.js';
import { WebTerminalDoor } from '../../protocols/web-terminal.js';
import { api, type RouteTypes } from '../contract/index.js';
import { addRoute, localPath } from '../contract-route.js';
import { pageOf } from '../paging.js';
import { errorPage, PAGE_HEADERS, PAGE_SCRIPT, startPage } from '../openpsm-page.js';
import { relayTerminal, terminalSize } from '../terminal-relay.js';
import { RDP_SESSION_PAGE } from './logon-tickets.js';

const open = { config: { auth: false } } as const;

const gatewayAuth = (req: FastifyRequest): GatewayAuth => {
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer\s+(\S{1,4096})$/i.exec(h) : null;
  const k = req.headers[APP_KEY_HEADER];
  return { bearer: m?.[1] ?? null, applicationKey: typeof k === 'string' ? k : null, ip: normalizeIp(req.ip) };
};

export const openpsmRoutes =
  (core: Core, door: WebTerminalDoor = WebTerminalDoor.open()): FastifyPluginAsync =>
  async (app) => {
    const { gateway, iam } = core.openpsm;

    // ---- Gateway side: the pages.
    app.get('/start', open, async (req, reply) => {
      reply.headers(PAGE_HEADERS);
      const ip = normalizeIp(req.ip);
      // A start is a ticket request (no sign-in): under the per-address limit on those, which
      // also bounds the audit rows one address writes here.
      try {
        await core.requestLimits.take('ticket', ip, null, { id: null, name: null, ip });
      } catch (e) {
        if (!(e instanceof AppError) || e.status !== 429) throw e;
        if (e.extra?.retryAfterSeconds) reply.header('retry-after', String(e.extra.retryAfterSeconds));
        return reply.code(429).type('text/html; charset=utf-8').send(errorPage(e.message));
      }
      const r = await gateway.begin((req.query ?? {}) as Record<string, unknown>, ip);
      if (!r.ok) return reply.code(400).type('text/html; charset=utf-8').send(errorPage(r.message));
      return reply.code(303).header('location', `/start/${r.id}`).send();
    });
    app.get('/start/page.js', open, async (_req, reply) => reply.headers(PAGE_HEADERS).type('text/javascript; charset=utf-8').send(PAGE_SCRIPT));
    app.get<{ Params: { id: string } }>('/start/:id', open, async (_req, reply) => reply.headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(startPage()));

    // ---- Gateway side: what the page calls.
    addRoute(app, api.openpsm.start, open)(async (req) => gateway.view(req.params.id));
    addRoute(app, api.openpsm.password, open)(async (req) => {
      const r = await gateway.submitPassword(req.params.id, req.body.password, normalizeIp(req.ip));
      if (r.status === 'ready' && r.rdp) {
        // Mode RDP: the browser RDP page with this start's single-use token (the IAM decided the recording: consent=1).
        const q = new URLSearchParams({ ticket: r.rdp.ticket, consent: '1', GUAC_WIDTH: String(r.rdp.display.width), GUAC_HEIGHT: String(r.rdp.display.height), GUAC_DPI: String(r.rdp.display.dpi) });
        return { status: 'ready' as const, rdpSession: `${RDP_SESSION_PAGE}?${q}` };
      }
      if (r.status === 'ready') return { status: 'ready' as const };
      if (r.status === 'wrong_password') throw new AppError(401, 'invalid_master_password', r.message);
      if (r.status === 'token_expired') throw new AppError(410, 'token_expired', r.message);
      throw new AppError(502, 'iam_error', r.message);
    });
    addRoute(app, api.openpsm.endNotices, { config: { permission: 'audit' } })(async (req) => pageOf(await gateway.notices(), req.query));

    type TerminalRequest = { Params: RouteTypes<typeof api.openpsm.terminal>['Params']; Querystring: RouteTypes<typeof api.openpsm.terminal>['Querystring'] };
    // A WebSocket route: a plain GET (no upgrade) is answered in the uniform error shape.
    app.route<TerminalRequest>({
      method: 'GET',
      url: localPath(app, api.openpsm.terminal),
      schema: api.openpsm.terminal.schema,
      config: { auth: false },
      handler: async (req) => {
        gateway.view(req.params.id);
        throw new AppError(426, 'upgrade_required', 'open this address as a WebSocket');
      },
      wsHandler: (socket: WebSocket, req) => {
        relayTerminal(socket, { origin: req.headers.origin, host: req.headers.host, log: req.log }, {
          door,
          term: terminalSize(req.query.cols, req.query.rows),
          what: 'OpenPSM browser terminal',
          open: async () => {
            try {
              return await gateway.open(req.params.id, { clientIp: normalizeIp(req.ip) });
            } catch (e) {
              return { refused: e instanceof AppError ? e.message : 'the session could not be started' };
            }
          },
        });
      },
    });

    // ---- IAM side.
    addRoute(app, api.openpsm.link, { config: { permission: 'launch', scope: 'launch' } })(async (req) => {
      const publicUrl = (await core.settings.get('publicUrl')) || core.config.publicUrl || `https://${req.headers.host}`;
      const b = req.body;
      return iam.issueLink(req.principal!, { secretId: b.secretId, mode: b.mode as Mode, ...(b.personalCredentialId ? { personalCredentialId: b.personalCredentialId.toLowerCase() } : {}), width: b.width, height: b.height, dpi: b.dpi }, { apiUrl: publicUrl.replace(/\/+$/, ''), ip: normalizeIp(req.ip) });
    });
    addRoute(app, api.openpsm.gateway, { config: { permission: 'launch' } })(async () => {
      const [gatewayUrl, appKey] = await Promise.all([core.settings.get('openpsmGatewayUrl'), core.settings.get('openpsmApplicationKey')]);
      return { gatewayUrl: gatewayUrl && appKey ? gatewayUrl : '' };
    });
    addRoute(app, api.openpsm.getCredential, open)(async (req, reply) => {
      try {
        return await iam.getCredential(gatewayAuth(req), req.body);
      } catch (e) {
        if (e instanceof AppError && e.code === 'invalid_token') reply.header('www-authenticate', 'Bearer error="invalid_token"');
        throw e;
      }
    });
    addRoute(app, api.openpsm.endSession, open)(async (req, reply) => {
      try {
        return await iam.endSession(gatewayAuth(req), req.body);
      } catch (e) {
        if (e instanceof AppError && e.code === 'invalid_token') reply.header('www-authenticate', 'Bearer error="invalid_token"');
        throw e;
      }
    });
  };
