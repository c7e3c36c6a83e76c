// GET /metrics: the Prometheus text exposition of the core's metrics (core/metrics). It is an
// operations endpoint, not part of the API contract (like the portal's files): its answer is
// text, and it is protected by its own token, not by a person's permissions. Two ways to
// reach it (docs/operations.md "Metrics and alerts"):
// - on the HTTPS port, only when GATEHOUSE_METRICS_TOKEN is set, with `Authorization: Bearer <token>`
//   (without a token configured it answers 404, as if it did not exist);
// - on a separate plain-HTTP listener (GATEHOUSE_METRICS_LISTEN, e.g. a management network or
//   127.0.0.1 for a local agent), which serves /metrics only; the token is asked there too when set.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Core } from '../core/core.js';
import { safeEqual } from '../core/util.js';

/** Whether the request carries the metrics token (always true when none is configured: the listener's case). */
function tokenOk(header: string | string[] | undefined, token: string | undefined): boolean {
  if (!token) return true;
  const m = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return !!m && safeEqual(m[1]!, token);
}

const UNAUTHORIZED = { error: { code: 'unauthorized', message: 'the metrics token is required: send Authorization: Bearer <GATEHOUSE_METRICS_TOKEN>' } };

export function registerMetricsRoute(app: FastifyInstance, core: Core): void {
  const token = core.config.metricsToken;
  app.get('/metrics', { config: { auth: false } }, async (req, reply) => {
    reply.header('cache-control', 'no-store');
    if (!token) return reply.code(404).send({ error: { code: 'not_found', message: 'metrics are not served on this port (set GATEHOUSE_METRICS_TOKEN or GATEHOUSE_METRICS_LISTEN)' } });
    if (!tokenOk(req.headers.authorization, token)) return reply.code(401).header('www-authenticate', 'Bearer').send(UNAUTHORIZED);
    const { contentType, body } = await core.metrics.exposition();
    return reply.code(200).header('content-type', contentType).send(body);
  });
}

export interface MetricsListener {
  port: number;
  close(): Promise<void>;
}

/** The separate listener: plain HTTP, GET/HEAD /metrics only, nothing else on it. */
export async function startMetricsListener(core: Core, host: string, port: number): Promise<MetricsListener> {
  const token = core.config.metricsToken;
  const answer = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
    res.end(JSON.stringify(body));
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') return answer(res, 404, { error: { code: 'not_found', message: 'only /metrics is served here' } });
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, { error: { code: 'method_not_allowed', message: 'GET /metrics' } }, { allow: 'GET, HEAD' });
    if (!tokenOk(req.headers.authorization, token)) return answer(res, 401, UNAUTHORIZED, { 'www-authenticate': 'Bearer' });
    core.metrics.exposition().then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: Error) => {
        core.log.error({ err: { message: err.message } }, 'collecting metrics failed');
        answer(res, 500, { error: { code: 'internal', message: 'internal error; the server log has details' } });
      },
    );
  });
  // Requests are small and quick: a slow client is cut rather than held.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Exclusive: each worker process (src/cluster-workers.ts) answers its own metrics on its own port.
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err: Error) => core.log.error({ err: { message: err.message } }, 'metrics listener error'));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
