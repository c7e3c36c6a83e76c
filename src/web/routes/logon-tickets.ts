// TSplus-compatible logon tickets over HTTP (seed 004; rules in src/core/logon-tickets). The
// seed's paths, parameters and answer formats, each also under /~~<server> (which application
// server the request is for: with Gatehouse every server sits behind this one gateway, so
// /~~<name>/ picks the configured server entry; nothing is proxied to the server's own web
// server). Every refusal is the same generic answer (403 refused; an HTML page for html5.html);
// the precise reason goes to the log and the audit trail (the core's LogonRefused). Plus the
// administrators' key calls from the contract. Registered without a prefix.
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../../core/core.js';
import { normalizeIp } from '../../core/broker.js';
import { LogonRefused, type LogonContext } from '../../core/logon-tickets/service.js';
import { lbAnswer, MAX_PARAM, MAX_RSA_BASE64, SERVER_NAME, srvAssignedAnswer } from '../../core/logon-tickets/protocol.js';
import { api } from '../contract/index.js';
import { addRoute } from '../contract-route.js';

// No automatic HEAD twin: a link checker's HEAD must not use a logon ticket up.
const open = { config: { auth: false }, exposeHeadRoute: false } as const;
const HEADERS = { 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', 'x-content-type-options': 'nosniff' } as const;
const REFUSED = { error: { code: 'refused', message: 'the request was refused' } } as const;
const REFUSED_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>Gatehouse</title></head><body><h1>This link cannot be opened</h1><p>Ask your portal for a new one.</p></body></html>`;
/** Where the browser RDP session page is (the portal's, issue 14). */
export const RDP_SESSION_PAGE = '/rdp/session';

type Query = Record<string, unknown>;

export const logonTicketRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    const lt = core.logonTickets;

    addRoute(app, api.logonTickets.key, { config: { permission: 'administer', scope: 'admin' } })(async () => lt.keyInfo());
    addRoute(app, api.logonTickets.rotateKey, { config: { permission: 'administer', scope: 'admin' } })(async (req) => lt.rotateKey(req.principal!, normalizeIp(req.ip)));

    /** The query's values as single strings; a repeated or oversized parameter is refused (reason for the log). */
    const params = (q: Query, limits: Record<string, number> = {}): Record<string, string> => {
      // Null prototype, and own limits only: a parameter may be named `constructor` or `__proto__`.
      const out = Object.create(null) as Record<string, string>;
      for (const [k, v] of Object.entries(q ?? {})) {
        if (typeof v !== 'string') throw new LogonRefused('oversized', `parameter ${k.slice(0, 32)} given more than once`);
        if (k.length > 64 || v.length > (Object.hasOwn(limits, k) ? limits[k]! : MAX_PARAM)) throw new LogonRefused('oversized', `parameter ${k.slice(0, 32)} has ${v.length} characters`);
        out[k] = v;
      }
      return out;
    };
    const ctxOf = (req: FastifyRequest<{ Params: { server?: string } }>): LogonContext => ({ ip: normalizeIp(req.ip), via: req.params.server ?? null });

    /** Runs a TSplus endpoint: its text answer, or the one generic refusal. */
    const text = (step: string, work: (q: Record<string, string>, ctx: LogonContext, host: string | undefined) => Promise<string>, limits?: Record<string, number>) =>
      async (req: FastifyRequest<{ Params: { server?: string } }>, reply: FastifyReply) => {
        reply.headers(HEADERS);
        const ctx = ctxOf(req);
        try {
          if (ctx.via !== null && !SERVER_NAME.test(ctx.via)) throw new LogonRefused('unknown_server', 'not a server name');
          const answer = await work(params(req.query as Query, limits), ctx, req.headers.host);
          return reply.code(200).type('text/plain; charset=utf-8').send(answer);
        } catch (e) {
          if (!(e instanceof LogonRefused)) throw e;
          // Refusals found here, before the core saw the request, are logged and audited the same way.
          await lt.refuse(step, ctx, e);
          return reply.code(403).type('application/json; charset=utf-8').send(REFUSED);
        }
      };
    const wcreds = text('public_key', async (q, ctx) => {
      if (!('GetRuntimePublicModulusExponent' in q)) throw new LogonRefused('unknown_action', 'WCREDS without GetRuntimePublicModulusExponent');
      return lt.publicKey(ctx);
    });
    const lpw = text(
      'request',
      async (q, ctx) =>
        lt.request(
          {
            ...(q.rsabase64nojs !== undefined ? { rsabase64nojs: q.rsabase64nojs } : {}),
            ...(q.WinUser !== undefined ? { WinUser: q.WinUser } : {}),
            ...(q.WinPassword !== undefined ? { WinPassword: q.WinPassword } : {}),
            ...(q.WinLPWphrase !== undefined ? { WinLPWphrase: q.WinLPWphrase } : {}),
          },
          ctx,
        ),
      { rsabase64nojs: MAX_RSA_BASE64 },
    );
    const hb = text('farm', async (q, ctx, hostHeader) => {
      const s = await core.settings.get('publicUrl');
      const base = new URL(s || core.config.publicUrl || `https://${hostOf(hostHeader)}`);
      const host = base.hostname;
      const port = Number(base.port) || 443;
      if (q.action === 'lb') return lbAnswer(await lt.loadBalance(q.l ?? '', q.d ?? '', ctx), host, port);
      if (q.action === 'srvassigned') return srvAssignedAnswer(await lt.assigned(q.l ?? '', q.d ?? '', ctx), host, port);
      throw new LogonRefused('unknown_action', `hb.exe action ${JSON.stringify(String(q.action ?? '').slice(0, 32))}`);
    });

    const html5 = async (req: FastifyRequest<{ Params: { server?: string } }>, reply: FastifyReply) => {
      reply.headers(HEADERS);
      const ctx = ctxOf(req);
      try {
        if (ctx.via !== null && !SERVER_NAME.test(ctx.via)) throw new LogonRefused('unknown_server', 'not a server name');
        const q = params(req.query as Query);
        const display = { ...(q.GUAC_WIDTH !== undefined ? { width: q.GUAC_WIDTH } : {}), ...(q.GUAC_HEIGHT !== undefined ? { height: q.GUAC_HEIGHT } : {}), ...(q.GUAC_DPI !== undefined ? { dpi: q.GUAC_DPI } : {}) };
        // GUAC_* become the launch's display settings (checked by the core) and ride on to the page, which asks the same desktop.
        const r = await lt.open({ ...(q.user !== undefined ? { user: q.user } : {}), other: Object.keys(q).filter((k) => k !== 'user'), display }, ctx);
        if ('signIn' in r) return reply.code(303).header('location', '/').send();
        // The browser RDP page with a normal launch ticket (single use, bound to this address).
        const next = new URLSearchParams({ ticket: r.launchTicket });
        for (const k of ['GUAC_WIDTH', 'GUAC_HEIGHT', 'GUAC_DPI']) if (q[k] !== undefined) next.set(k, q[k]!);
        return reply.code(303).header('location', `${RDP_SESSION_PAGE}?${next}`).send();
      } catch (e) {
        if (!(e instanceof LogonRefused)) throw e;
        await lt.refuse('open', ctx, e);
        return reply.code(403).type('text/html; charset=utf-8').send(REFUSED_PAGE);
      }
    };

    const both = (a: FastifyInstance, path: string, handler: (req: FastifyRequest<{ Params: { server?: string } }>, reply: FastifyReply) => Promise<unknown>) => {
      a.get<{ Params: { server?: string } }>(path, open, handler);
      a.get<{ Params: { server?: string } }>(`/~~:server${path}`, open, handler);
    };
    both(app, '/socket.io/WCREDS', wcreds);
    both(app, '/socket.io/socket.io/LPW', lpw);
    both(app, '/cgi-bin/hb.exe', hb);
    both(app, '/software/html5.html', html5);
  };

/** A Host header fit for hb.exe's answer when no public URL is set. */
function hostOf(h: string | undefined): string {
  return h && /^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(h) ? h : 'localhost';
}
