// Serves the built browser app (ui/dist): static assets, and index.html for any other
// non-API GET so client-side routes survive a reload. API paths keep JSON 404s.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

export const UI_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'ui', 'dist');

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Gatehouse</title><p>The browser app is not built. Run <code>npm run build</code> (npm install does it) and restart.</p>`;

/** The browser RDP page (issue 14): IronRDP's WebAssembly ships as a data: URL that its loader fetches, so that page alone may fetch data: URLs. */
const RDP_SESSION_PAGE = '/rdp/session';
const RDP_PAGE_CSP = { 'content-security-policy': "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self' data:; frame-ancestors 'none'; base-uri 'none'" };

export async function registerUi(app: FastifyInstance): Promise<void> {
  const built = existsSync(join(UI_DIR, 'index.html'));
  // The app's own files are public (the sign-in page must load); routes added before this hook keep their settings.
  app.addHook('onRoute', (r) => {
    if (!r.url.startsWith('/api/') && !r.url.startsWith('/oauth2/')) r.config = { ...(r.config as object), auth: false } as typeof r.config;
  });
  const securityHeaders = {
    'content-security-policy': "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
  // Every file gets the page's headers too: the static plugin answers /index.html itself, and
  // the app loaded from there would otherwise run without its CSP and could be framed.
  const staticHeaders = (res: { setHeader(name: string, value: string): unknown }, path: string) => {
    for (const [name, value] of Object.entries(securityHeaders)) res.setHeader(name, value);
    res.setHeader('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
  };
  if (built) await app.register(fastifyStatic, { root: UI_DIR, prefix: '/', wildcard: false, index: false, decorateReply: true, cacheControl: false, setHeaders: staticHeaders });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!;
    // HEAD answers like GET (status and headers), as HTTP requires and scanners check.
    const wantsPage = (req.method === 'GET' || req.method === 'HEAD') && !path.startsWith('/api/') && !path.startsWith('/oauth2/') && path !== '/healthz';
    if (!wantsPage) return reply.status(404).send({ error: { code: 'not_found', message: `no route ${req.method} ${path}` } });
    reply.headers({ ...securityHeaders, ...(path === RDP_SESSION_PAGE ? RDP_PAGE_CSP : {}), 'cache-control': 'no-cache' });
    if (!built) return reply.type('text/html; charset=utf-8').send(NOT_BUILT);
    return reply.type('text/html; charset=utf-8').sendFile('index.html');
  });
}
