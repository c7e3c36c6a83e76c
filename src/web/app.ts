// Builds the HTTP application: validation, uniform errors, bearer authentication,
// OpenAPI, then one plugin per resource.
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import { Ajv } from 'ajv';
import { AppError } from '../core/errors.js';
import type { Core } from '../core/core.js';
import { hasScope } from '../core/identity/principal.js';
import { routes, type DoorInfo } from './routes/index.js';
import cookie from '@fastify/cookie';
import websocket from '@fastify/websocket';
import { CSRF_HEADER, SESSION_COOKIE, csrfFor } from './cookies.js';
import { registerUi } from './ui.js';
import { registerMetricsRoute } from './metrics.js';
import { mayHoldTicket } from '../core/launch/ticket-text.js';
import { registerTransportHeaders } from './transport-headers.js';
import { HTTPS_TLS_OPTIONS } from '../tls.js';
import { clientErrorHandler } from './client-errors.js';
import { voidMisplacedTicketsInUrls } from './misplaced-tickets.js';
import { registerStrictResponses } from './strict-responses.js';
import { enforceContract } from './contract-route.js';
import { api } from './contract/index.js';
import type { WebTerminalDoor } from '../protocols/web-terminal.js';
import type { WebRdpDoor } from '../protocols/rdp-web/door.js';
import type { ClusterCalls } from './routes/live-view.js';
import './types.js';

export interface AppOptions {
  https?: { key: string | Buffer; cert: string | Buffer };
  /** Facts about the protocol doors the API hands out (e.g. SSH host keys for known_hosts). */
  doors?: () => DoorInfo;
  /** The browser terminal door the server starts and closes with the others (default: one always open). */
  terminal?: WebTerminalDoor;
  /** The browser RDP door (issue 14; default: one always open, without a certificate it refuses). */
  rdpWeb?: WebRdpDoor;
  /** In a cluster: where sessions of other nodes are (core/cluster) and how to reach them (peer/client.ts). */
  cluster?: ClusterCalls;
}

/**
 * X-Request-Id as given when it is a plain token (no log injection, bounded) that could not
 * hold a ticket or token (a long base64url run: the log never takes one), else a new random id.
 */
export function requestIdOf(req: { headers: Record<string, string | string[] | undefined> }): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[A-Za-z0-9._:-]{8,64}$/.test(given) && !mayHoldTicket(given) ? given : randomUUID();
}

export const BODY_LIMIT = 1024 * 1024;
/** Form bodies (only /oauth2/token takes them) are small. */
const FORM_BODY_LIMIT = 64 * 1024;

function makeAjv(coerce: boolean) {
  return new Ajv({ coerceTypes: coerce, useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
}

export async function buildApp(core: Core, opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: core.log,
    bodyLimit: BODY_LIMIT,
    // A request still not fully received after a minute is cut (408): a trickled body cannot hold a connection.
    requestTimeout: 60_000,
    // Router-level failures (malformed %-escapes, over-long path parameters) get the uniform error shape too.
    frameworkErrors: (err: { code?: string; statusCode?: number }, _req: unknown, reply: { status(n: number): { send(b: unknown): unknown } }) =>
      reply.status(typeof err.statusCode === 'number' ? err.statusCode : 400).send({ error: { code: err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'uri_too_long' : 'invalid_url', message: err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is too long' : 'the URL is not valid (bad percent-encoding)' } }),
    // Parser-level failures (431 headers too large, malformed HTTP, timeouts) too.
    clientErrorHandler,
    // Requests arriving while the server closes get the uniform 503 below, not Fastify's own.
    return503OnClosing: false,
    // Request ids (`reqId` in every log line of the request): a caller's or load balancer's
    // X-Request-Id when it is a short plain token, else a random one; answered in X-Request-Id.
    // A launch's id rides on its ticket into the door's log lines (issue 16 point 5).
    requestIdHeader: false,
    genReqId: requestIdOf,
    ...(opts.https ? { https: { ...HTTPS_TLS_OPTIONS, ...opts.https } } : {}),
  } as FastifyServerOptions) as unknown as FastifyInstance;

  // Bodies are validated strictly (no type coercion); query strings and params are text, so they coerce.
  const strict = makeAjv(false);
  const lenient = makeAjv(true);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : lenient).compile(schema));

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT }, (_req, raw, done) => {
    done(null, Object.fromEntries(new URLSearchParams(raw as string)));
  });

  app.setErrorHandler((err: any, req, reply) => {
    if (err instanceof AppError) {
      if (err.extra?.retryAfterSeconds) reply.header('retry-after', String(err.extra.retryAfterSeconds));
      return reply.status(err.status).send({ error: { code: err.code, message: err.message, ...err.extra?.fields } });
    }
    if (err.validation) {
      return reply.status(400).send({ error: { code: 'invalid_request', message: `${err.validationContext ?? 'request'}${err.validation[0]?.instancePath ?? ''} ${err.validation[0]?.message ?? 'is invalid'}`.replace(/^(\w+)\//, '$1.') } });
    }
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 400 && status < 500) {
      const code =
        err.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? 'payload_too_large'
          : err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
            ? 'unsupported_media_type'
            : err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError
              ? 'invalid_json'
              : 'bad_request';
      const limit = /^application\/x-www-form-urlencoded/i.test(String(req.headers['content-type'] ?? '')) ? FORM_BODY_LIMIT : BODY_LIMIT;
      const message = code === 'payload_too_large' ? `request body is larger than ${limit} bytes` : code === 'invalid_json' ? 'request body is not valid JSON' : String(err.message ?? 'bad request');
      return reply.status(status).send({ error: { code, message } });
    }
    req.log.error({ err: { message: err.message, stack: err.stack, code: err.code } }, 'unhandled error');
    return reply.status(500).send({ error: { code: 'internal', message: 'internal error; the server log has details' } });
  });

  // While the server closes, requests still arriving on open connections are refused in the
  // uniform shape (Fastify's built-in 503 body is {error, message, statusCode}).
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    if (!closing) return;
    reply.header('connection', 'close');
    return reply.status(503).send({ error: { code: 'shutting_down', message: 'the gateway is shutting down; try again in a moment' } });
  });

  // NUL characters cannot be stored in PostgreSQL text and have no business in names or ids: refuse them on both databases.
  const hasNul = (v: unknown, depth = 0): boolean =>
    typeof v === 'string' ? v.includes('\u0000') : v !== null && typeof v === 'object' && depth < 64 ? Object.entries(v).some(([k, x]) => k.includes('\u0000') || hasNul(x, depth + 1)) : false;
  app.addHook('preValidation', async (req) => {
    // A POST without a body (e.g. terminate with no reason) is an empty object, so required fields are reported by name.
    if (req.body === undefined && (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH')) req.body = {};
    for (const [part, v] of [['params', req.params], ['querystring', req.query], ['body', req.body]] as const) {
      if (hasNul(v)) throw new AppError(400, 'invalid_request', `${part} must not contain NUL (\\u0000) characters`);
    }
  });

  // Tests run with every JSON answer checked against its route's response schema.
  if (core.config.strictResponses) registerStrictResponses(app);

  // GET /metrics (Prometheus; outside the API contract like the portal's files): token-protected.
  registerMetricsRoute(app, core);
  registerTransportHeaders(app, { https: !!opts.https });
  await app.register(cookie);
  voidMisplacedTicketsInUrls(app, core);
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  app.decorateRequest('principal', null);
  app.addHook('preHandler', async (req) => {
    const cfg = req.routeOptions.config ?? {};
    // Unknown paths fall through to the not-found handler (browser app pages, JSON 404s).
    if (cfg.auth === false || req.is404) return;
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    const cookieToken = !header ? req.cookies[SESSION_COOKIE] : undefined;
    const presented = m?.[1] ?? cookieToken;
    const principal = presented ? await core.auth.resolveToken(presented, req.ip) : null;
    if (!principal) throw new AppError(401, 'unauthorized', presented ? 'session or token is invalid or expired' : 'authentication required: send Authorization: Bearer <token>');
    if (cookieToken && req.method !== 'GET' && req.method !== 'HEAD' && req.headers[CSRF_HEADER] !== csrfFor(cookieToken)) {
      throw new AppError(403, 'csrf_failed', 'missing or wrong X-CSRF-Token header for a cookie-authenticated request');
    }
    const scope = cfg.scope ?? (req.method === 'GET' || req.method === 'HEAD' ? 'read' : 'write');
    if (!hasScope(principal, scope)) throw new AppError(403, 'insufficient_scope', `this token lacks the "${scope}" scope`);
    if (cfg.fullRights && principal.tokenKind !== 'session') throw new AppError(403, 'insufficient_scope', 'only a sign-in makes sign-in credentials (tokens, SSH keys, passkeys, TOTP): API and OAuth2 tokens cannot');
    if (cfg.permission && !principal.permissions.has(cfg.permission)) throw new AppError(403, 'forbidden', `you need the ${cfg.permission} permission`);
    req.principal = principal;
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Gatehouse API', version: core.version, description: 'Privileged session gateway: vault, identities, audit. Errors are {error: {code, message}}.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, applicationKey: { type: 'apiKey', in: 'header', name: 'X-Api-Application-Key' } } },
      security: [{ bearer: [] }],
    },
  });

  // Every API route is the contract's (src/web/contract): the same path, method and schemas.
  enforceContract(app);
  await app.register(routes(core, opts.doors, opts.terminal, opts.rdpWeb, opts.cluster));
  await registerUi(app);
  app.get('/api/openapi.json', { config: { auth: false }, schema: api.system.openapi.schema }, async () => app.swagger());
  return app;
}
