// OIDC single sign-on: the public list of sign-in options, the browser legs (start: a
// redirect to the provider with a flow cookie; callback: a small page that sets the session
// cookies, or says why the sign-in was refused), the CLI's code exchange, and the
// administrators' provider configuration.
//
// The callback answers a page that moves on with a meta refresh rather than a redirect: the
// session cookie is SameSite=Strict, and a redirect chain the provider started is cross-site,
// so the portal's first request would go without it. The flow cookie itself is SameSite=Lax
// (the provider's redirect back is a cross-site top-level GET) and scoped to /auth/oidc.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../../core/core.js';
import { actorOf, type Principal } from '../../core/identity/principal.js';
import { OidcRefused } from '../../core/identity/oidc/sign-in.js';
import { api } from '../contract/index.js';
import { addRoute, noContent } from '../contract-route.js';
import { setSessionCookies } from '../cookies.js';
import { pageOf } from '../paging.js';

// __Secure-: a browser takes it only from HTTPS and with Secure, so no plain-HTTP page on the
// same host (another port) can plant or overwrite it. Not __Host-: that needs Path=/, and the
// flow cookie goes to /auth/oidc only.
const FLOW_COOKIE = '__Secure-gh_oidc_flow';
const FLOW_PATH = '/auth/oidc';
const admin = { config: { permission: 'administer', scope: 'admin' } } as const;
const open = { config: { auth: false } } as const;
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  // The callback URL carries the authorization code: it must not leave in a Referer.
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
} as const;

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title: string, body: string, refreshTo?: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>${refreshTo ? `<meta http-equiv="refresh" content="0;url=${esc(refreshTo)}">` : ''}` +
  `<style>body{font-family:system-ui,sans-serif;margin:3rem auto;max-width:36rem;line-height:1.5}</style></head><body><h1>${esc(title)}</h1>${body}</body></html>`;

function refusedPage(reply: FastifyReply, e: OidcRefused): FastifyReply {
  return reply
    .code(e.status)
    .headers(PAGE_HEADERS)
    .type('text/html; charset=utf-8')
    .send(page('Sign-in refused', `<p>${esc(e.message)}.</p><p>Reason: <code id="reason">${esc(e.reason)}</code></p><p><a href="/">Back to the sign-in page</a></p>`));
}

export const oidcRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    const { oidc } = api;
    const { providers, signIn } = core.oidc;
    const actor = (req: { principal: Principal | null; ip: string }) => actorOf(req.principal, req.ip);

    addRoute(app, oidc.providers, open)(async () => ({
      local: true,
      passkey: await core.settings.get('webauthnPasswordless'),
      oidc: (await providers.enabled()).map((p) => ({ name: p.name, displayName: p.displayName, startUrl: `${FLOW_PATH}/${p.name}/start` })),
    }));

    addRoute(app, oidc.cliToken, open)(async (req) => {
      const user = await signIn.cliToken(req.body.code, req.body.verifier, req.ip);
      const minutes = await core.settings.get('loginTokenMinutes');
      const { token, expiresAt } = await core.auth.issueToken(user.id, { name: 'cli (oidc)', kind: 'session', scopes: null, ttlSeconds: minutes * 60 });
      return { token, expiresAt, username: user.username };
    });

    addRoute(app, oidc.listProviders, admin)(async (req) => ({ ...(await providers.list(req.query)), limit: req.query.limit, offset: req.query.offset }));
    addRoute(app, oidc.createProvider, admin)(async (req, reply) => reply.code(201).send(await providers.create(actor(req), req.body)));
    addRoute(app, oidc.getProvider, admin)(async (req) => providers.view(await providers.row(req.params.id)));
    addRoute(app, oidc.updateProvider, admin)(async (req) => providers.update(actor(req), req.params.id, req.body));
    addRoute(app, oidc.deleteProvider, admin)((req, reply) => noContent(reply, providers.remove(actor(req), req.params.id)));
    addRoute(app, oidc.userLinks, admin)(async (req) => pageOf(await providers.links(req.params.id), req.query));
    addRoute(app, oidc.unlinkUser, admin)((req, reply) => noContent(reply, providers.unlink(actor(req), req.params.id, req.params.providerId)));

    // ---- The browser legs (pages, outside the JSON API).
    app.get<{ Params: { name: string }; Querystring: Record<string, unknown> }>(`${FLOW_PATH}/:name/start`, open, async (req, reply) => {
      const q = req.query ?? {};
      const str = (v: unknown) => (typeof v === 'string' && v.length <= 512 ? v : undefined);
      try {
        if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(req.params.name)) throw new OidcRefused('unknown_provider', 404, 'no such sign-in provider');
        const cliRedirect = str(q.cli_redirect);
        const cliChallenge = str(q.cli_challenge);
        const r = await signIn.begin(req.params.name, { ...(cliRedirect !== undefined ? { cliRedirect } : {}), ...(cliChallenge !== undefined ? { cliChallenge } : {}) }, req.ip);
        reply.setCookie(FLOW_COOKIE, r.cookie, { path: FLOW_PATH, httpOnly: true, secure: true, sameSite: 'lax', maxAge: r.maxAgeSeconds });
        return reply.code(303).headers(PAGE_HEADERS).header('location', r.location).send();
      } catch (e) {
        if (e instanceof OidcRefused) return refusedPage(reply, e);
        throw e;
      }
    });

    app.get(`${FLOW_PATH}/callback`, open, async (req: FastifyRequest, reply) => {
      const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
      const cookie = req.cookies[FLOW_COOKIE];
      reply.clearCookie(FLOW_COOKIE, { path: FLOW_PATH, secure: true, httpOnly: true, sameSite: 'lax' });
      try {
        const r = await signIn.finish(cookie, query, req.ip);
        if (r.cliLocation) {
          return reply.code(303).headers(PAGE_HEADERS).header('location', r.cliLocation).send();
        }
        const minutes = await core.settings.get('loginTokenMinutes');
        const { token, expiresAt } = await core.auth.issueToken(r.user.id, { name: 'browser (oidc)', kind: 'session', scopes: null, ttlSeconds: minutes * 60 });
        setSessionCookies(reply, token, expiresAt);
        return reply.code(200).headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(page('Signed in', '<p><a href="/">Continue to Gatehouse</a></p>', '/'));
      } catch (e) {
        if (e instanceof OidcRefused) return refusedPage(reply, e);
        throw e;
      }
    });
  };
