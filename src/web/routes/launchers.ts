// Launchers: the built-in ssh, telnet and rdp launchers and the session connectors
// administrators create (what recording, timeouts and forwarding a launch gets).
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { actorOf } from '../../core/identity/principal.js';
import { forbidden } from '../../core/errors.js';
import { pageOf } from '../paging.js';
import { api } from '../contract/index.js';
import { addRoute, noContent } from '../contract-route.js';

const manageTemplates = { config: { permission: 'manage_templates' } } as const;

export const launcherRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    const { launchers } = api;
    addRoute(app, launchers.list)(async (req) => pageOf(await core.launchers.list(), req.query));
    addRoute(app, launchers.get)(async (req) => core.launchers.get(req.params.id));
    addRoute(app, launchers.create, manageTemplates)(async (req, reply) => reply.code(201).send(await core.launchers.create(actorOf(req.principal, req.ip), req.body)));
    addRoute(app, launchers.update, manageTemplates)(async (req) => core.launchers.update(actorOf(req.principal, req.ip), req.params.id, req.body));
    addRoute(app, launchers.remove, manageTemplates)((req, reply) => noContent(reply, core.launchers.remove(actorOf(req.principal, req.ip), req.params.id)));
    // RDS Server Credentials: only an application account (a gateway node) fetches them, with its own view access to the secret.
    addRoute(app, launchers.rdsCredentials, { config: { scope: 'reveal' } })(async (req) => {
      const p = req.principal!;
      if (!p.isApplication) throw forbidden("RDS Server Credentials are fetched by a gateway node's application account");
      const { launcher, secretId } = await core.launchers.rdsCredentialSecretId(req.params.id);
      const revealed = await core.secrets.reveal({ ...p, ip: req.ip }, secretId);
      await core.audit.record(actorOf(p, req.ip), { action: 'launcher.rds_credentials', target: { type: 'launcher', id: launcher.id }, details: { launcher: launcher.name, secretId, secret: revealed.name } });
      return { launcher: { id: launcher.id, name: launcher.name }, secret: { id: secretId, name: revealed.name }, fields: revealed.fields };
    });
  };
