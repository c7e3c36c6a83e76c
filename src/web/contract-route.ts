// Registers an API route from its contract entry (src/web/contract): the path and schema
// come from the contract and the handler is typed by it, so a handler cannot take or
// answer a shape the contract does not state. Every API route the app registers is
// checked against the contract at start (same method, path and schema object).
import type { FastifyContextConfig, FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { CONTRACT_ROUTES, type Route, type RouteTypes } from './contract/index.js';

type Answer<R extends Route> = RouteTypes<R>['Reply'][keyof RouteTypes<R>['Reply']];

export type ContractHandler<R extends Route> = (
  req: FastifyRequest<RouteTypes<R>>,
  reply: FastifyReply<RouteTypes<R>>,
) => Promise<Answer<R> | FastifyReply<RouteTypes<R>> | void> | Answer<R> | FastifyReply<RouteTypes<R>> | void;

/**
 * Registers `r` under the plugin's prefix (the contract holds full paths):
 * `addRoute(app, api.users.get, { config })(async (req) => …)`. Two steps, so the route's
 * types are fixed before the handler is checked against them.
 */
export function addRoute<R extends Route>(app: FastifyInstance, r: R, opts: { config?: FastifyContextConfig } = {}): (handler: ContractHandler<R>) => void {
  return (handler) => {
    app.route({ method: r.method, url: localPath(app, r), schema: r.schema, ...(opts.config ? { config: opts.config } : {}), handler: handler as RouteOptions['handler'] });
  };
}

/** The option of routes that make sign-in credentials: only a sign-in may (see FastifyContextConfig.fullRights). */
export const fullRights = { config: { fullRights: true } } as const;

/** The contract path relative to the plugin's prefix. */
export function localPath(app: FastifyInstance, r: Route): string {
  if (!r.url.startsWith(app.prefix)) throw new Error(`contract route ${r.method} ${r.url} registered under prefix ${app.prefix}`);
  return r.url.slice(app.prefix.length) || '/';
}

const isApi = (url: string) => url.startsWith('/api/') || url.startsWith('/oauth2/') || url === '/healthz';

/** Refuses (at start) an API route that is not the contract's: one source for every shape. */
export function enforceContract(app: FastifyInstance): void {
  app.addHook('onRoute', (opts) => {
    const methods = Array.isArray(opts.method) ? opts.method : [opts.method];
    if (!isApi(opts.url)) return;
    for (const method of methods) {
      if (method === 'HEAD') continue;
      const key = `${method} ${opts.url}`;
      const entry = CONTRACT_ROUTES.get(key);
      if (!entry) throw new Error(`API route ${key} is not in the contract (src/web/contract)`);
      if (opts.schema !== entry.schema) throw new Error(`API route ${key} does not use its contract schema`);
    }
  });
}

/**
 * Runs `work` and answers 204 No Content, the shape of every delete and revoke:
 * `addRoute(app, api.x.remove)((req, reply) => noContent(reply, core.x.remove(…)))`.
 */
export async function noContent<T extends FastifyReply<any>>(reply: T, work: Promise<unknown>): Promise<T> {
  await work;
  return reply.code(204).send() as T;
}
