// The credential-provider API (core/webservices): list and retrieve for an application
// account acting for a person, the person's Manage Applications, the token cache and Test
// Settings. The "Enable Webservices" switch is checked before anything else on every route.
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { api } from '../contract/index.js';
import { addRoute, noContent } from '../contract-route.js';

export const webservicesRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    const { webservices: w } = api;
    const { provider, trust, tokens } = core.webservices;
    // Off → 403 webservices_disabled before any permission check, so the answer says what to turn on.
    app.addHook('preHandler', async () => provider.requireEnabled());
    addRoute(app, w.list)(async (req) => provider.list(req.principal!, req.query, req.ip));
    // Retrieving hands out a secret value: the token needs the reveal scope.
    addRoute(app, w.retrieve, { config: { scope: 'reveal' } })(async (req) => provider.retrieve(req.principal!, req.params.id, req.body, req.ip));
    addRoute(app, w.test, { config: { scope: 'read' } })(async (req) => provider.test(req.principal!, req.body, req.ip));
    addRoute(app, w.applications)(async (req) => ({ items: await trust.mine(req.principal!) }));
    addRoute(app, w.approve)(async (req) => trust.decide(req.principal!, req.params.id, 'approve', req.ip));
    addRoute(app, w.deny)(async (req) => trust.decide(req.principal!, req.params.id, 'deny', req.ip));
    addRoute(app, w.revoke)(async (req, reply) => noContent(reply, trust.revoke(req.principal!, req.params.id, req.ip)));
    addRoute(app, w.tokenCache, { config: { permission: 'administer', scope: 'admin' } })(async () => {
      const items = await tokens.list();
      return { entries: items.length, items };
    });
    addRoute(app, w.clearTokenCache, { config: { permission: 'administer', scope: 'admin' } })(async (req) => ({ cleared: await tokens.clear({ id: req.principal!.userId, name: req.principal!.username, ip: req.ip }) }));
  };
