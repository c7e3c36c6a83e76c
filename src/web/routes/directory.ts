// Users (incl. application accounts), groups and roles: administrators only.
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { actorOf, type Principal } from '../../core/identity/principal.js';
import { PERMISSIONS } from '../../core/identity/permissions.js';
import { api } from '../contract/index.js';
import { addRoute, noContent } from '../contract-route.js';

const admin = { config: { permission: 'administer', scope: 'admin' } } as const;

export const directoryRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    const { directory: d } = api;
    const actor = (req: { principal: Principal | null; ip: string }) => actorOf(req.principal, req.ip);

    // ---- users
    addRoute(app, d.listUsers, admin)(async (req) => ({ ...(await core.dir.listUsers(req.query)), limit: req.query.limit, offset: req.query.offset }));
    addRoute(app, d.createUser, admin)(async (req, reply) => reply.code(201).send(await core.dir.createUser(actor(req), req.body)));
    addRoute(app, d.getUser, admin)(async (req) => core.dir.viewUser(await core.dir.userRow(req.params.id)));
    addRoute(app, d.updateUser, admin)(async (req) => core.dir.updateUser(actor(req), req.params.id, req.body));
    addRoute(app, d.deleteUser, admin)((req, reply) => noContent(reply, core.dir.deleteUser(actor(req), req.params.id)));
    addRoute(app, d.unlockUser, admin)(async (req) => core.dir.unlockUser(actor(req), req.params.id));
    addRoute(app, d.resetTotp, admin)((req, reply) => noContent(reply, core.auth.disableTotp(actor(req), req.params.id)));
    addRoute(app, d.clientCredentials, admin)(async (req, reply) => reply.code(201).send(await core.auth.createClientCredentials(actor(req), req.params.id)));

    // ---- groups
    addRoute(app, d.listGroups, admin)(async (req) => ({ ...(await core.dir.listGroups(req.query)), limit: req.query.limit, offset: req.query.offset }));
    addRoute(app, d.createGroup, admin)(async (req, reply) => reply.code(201).send(await core.dir.saveGroup(actor(req), null, req.body)));
    addRoute(app, d.getGroup, admin)(async (req) => core.dir.viewGroup(req.params.id));
    addRoute(app, d.updateGroup, admin)(async (req) => core.dir.saveGroup(actor(req), req.params.id, req.body));
    addRoute(app, d.deleteGroup, admin)((req, reply) => noContent(reply, core.dir.deleteGroup(actor(req), req.params.id)));

    // ---- roles
    addRoute(app, d.listRoles, admin)(async (req) => ({ ...(await core.dir.listRoles(req.query)), limit: req.query.limit, offset: req.query.offset, permissions: PERMISSIONS }));
    addRoute(app, d.createRole, admin)(async (req, reply) => reply.code(201).send(await core.dir.saveRole(actor(req), null, req.body)));
    addRoute(app, d.getRole, admin)(async (req) => core.dir.viewRole(req.params.id));
    addRoute(app, d.updateRole, admin)(async (req) => core.dir.saveRole(actor(req), req.params.id, req.body));
    addRoute(app, d.deleteRole, admin)((req, reply) => noContent(reply, core.dir.deleteRole(actor(req), req.params.id)));
  };
