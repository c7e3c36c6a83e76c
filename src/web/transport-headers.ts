// Headers every answer needs because of how it travels rather than what it says: HSTS on
// the HTTPS listener (browsers then never try plain http for this host), and no-store on
// API and OAuth answers, which carry tokens (the login answer above all), secrets from
// `reveal`, and personal data that no browser or proxy cache may keep.
import type { FastifyInstance } from 'fastify';

export const HSTS = 'max-age=31536000';

export function registerTransportHeaders(app: FastifyInstance, opts: { https: boolean }): void {
  app.addHook('onSend', async (req, reply, payload) => {
    if (opts.https) reply.header('strict-transport-security', HSTS);
    if (/^\/(api|oauth2)\//.test(req.url)) reply.header('cache-control', 'no-store');
    return payload;
  });
}
