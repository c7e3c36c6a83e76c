// Folders, templates and secrets, with sharing and the audited reveal.
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { actorOf } from '../../core/identity/principal.js';
import { pageOf } from '../paging.js';
import { api } from '../contract/index.js';
import { addRoute, noContent } from '../contract-route.js';

const manageTemplates = { config: { permission: 'manage_templates' } } as const;

export const vaultRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    const { folders, templates, secrets, accounts } = api;

    // ---- folders
    addRoute(app, folders.list)(async (req) => ({ ...(await core.folders.list(req.principal!, req.query)), limit: req.query.limit, offset: req.query.offset }));
    addRoute(app, folders.create)(async (req, reply) => reply.code(201).send(await core.folders.create(req.principal!, req.body)));
    addRoute(app, folders.get)(async (req) => core.folders.get(req.principal!, req.params.id));
    // A policy attached with other changes: checked first, saved in the same transaction (all or nothing).
    addRoute(app, folders.update)(async (req) => {
      const { policyId, ...rest } = req.body;
      if (policyId !== undefined && !Object.keys(rest).length) {
        await core.policies.attach(req.principal!, 'folder', req.params.id, policyId);
        return core.folders.get(req.principal!, req.params.id);
      }
      const attach = policyId === undefined ? undefined : await core.policies.prepareAttach(req.principal!, 'folder', req.params.id, policyId);
      return core.folders.update(req.principal!, req.params.id, rest, attach);
    });
    addRoute(app, folders.remove)((req, reply) => noContent(reply, core.folders.remove(req.principal!, req.params.id)));
    addRoute(app, folders.permissions)(async (req) => core.folders.permissions(req.principal!, req.params.id));
    addRoute(app, folders.setPermissions)(async (req) => core.folders.setPermissions(req.principal!, req.params.id, req.body));

    // ---- templates
    addRoute(app, templates.list)(async (req) => pageOf(await core.templates.list(), req.query));
    addRoute(app, templates.get)(async (req) => core.templates.get(req.params.id));
    addRoute(app, templates.create, manageTemplates)(async (req, reply) => reply.code(201).send(await core.templates.create(actorOf(req.principal, req.ip), req.body)));
    addRoute(app, templates.update, manageTemplates)(async (req) => core.templates.update(actorOf(req.principal, req.ip), req.params.id, req.body));
    addRoute(app, templates.remove, manageTemplates)((req, reply) => noContent(reply, core.templates.remove(actorOf(req.principal, req.ip), req.params.id)));

    // ---- secrets
    addRoute(app, secrets.list)(async (req) => ({ ...(await core.secrets.list(req.principal!, req.query)), limit: req.query.limit, offset: req.query.offset }));
    addRoute(app, secrets.create)(async (req, reply) => reply.code(201).send(await core.secrets.create(req.principal!, req.body)));
    addRoute(app, secrets.get)(async (req) => core.secrets.get(req.principal!, req.params.id));
    addRoute(app, secrets.update)(async (req) => {
      const { policyId, account, ...rest } = req.body;
      // The management link is its own table (core/accounts): set first, outside the fields' transaction.
      if (account !== undefined) await core.targetAccounts.configure(req.principal!, req.params.id, account);
      if ((policyId !== undefined || account !== undefined) && !Object.keys(rest).length) {
        if (policyId !== undefined) await core.policies.attach(req.principal!, 'secret', req.params.id, policyId);
        return core.secrets.get(req.principal!, req.params.id);
      }
      const attach = policyId === undefined ? undefined : await core.policies.prepareAttach(req.principal!, 'secret', req.params.id, policyId);
      return core.secrets.update(req.principal!, req.params.id, rest, attach);
    });
    addRoute(app, secrets.remove)((req, reply) => noContent(reply, core.secrets.remove(req.principal!, req.params.id)));
    addRoute(app, secrets.reveal, { config: { scope: 'reveal' } })(async (req, reply) => reply.header('cache-control', 'no-store').code(200).send(await core.secrets.reveal(req.principal!, req.params.id)));
    // ---- target accounts (issue 12): rotation, heartbeat, versions
    addRoute(app, accounts.rotate)(async (req) => {
      await core.secrets.require(req.principal!, req.params.id, 'edit');
      const r = await core.rotation.rotate(actorOf(req.principal, req.ip), req.params.id, 'manual');
      return { secretId: req.params.id, status: 'ok' as const, version: r.version + 1, at: new Date(r.at).toISOString() };
    });
    addRoute(app, accounts.heartbeat)(async (req) => {
      await core.secrets.require(req.principal!, req.params.id, 'edit');
      const r = await core.heartbeat.check(actorOf(req.principal, req.ip), req.params.id);
      return { ...r, at: new Date(r.at).toISOString() };
    });
    addRoute(app, accounts.versions)(async (req) => ({ ...(await core.secrets.listVersions(req.principal!, req.params.id, req.query)), limit: req.query.limit, offset: req.query.offset }));
    addRoute(app, accounts.revealVersion, { config: { scope: 'reveal' } })(async (req, reply) =>
      reply.header('cache-control', 'no-store').code(200).send(await core.secrets.revealVersion(req.principal!, req.params.id, req.body.version)),
    );
    addRoute(app, secrets.permissions)(async (req) => core.secrets.permissions(req.principal!, req.params.id));
    addRoute(app, secrets.setPermissions)(async (req) => core.secrets.setPermissions(req.principal!, req.params.id, req.body));
  };
