// Users (incl. application accounts), groups and roles: administrators only.
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { actorOf } from '../../core/identity/principal.js';
import { PERMISSION_NAMES, PERMISSIONS } from '../../core/identity/permissions.js';
import type { UserInput } from '../../core/identity/directory.js';
import { body, bool, idParams, nullableStr, optStr, pageQuery, str, strList, type PageQuery } from '../schemas.js';

const admin = { permission: 'administer', scope: 'admin' } as const;

const userProps = {
  username: str(64),
  displayName: str(128),
  email: nullableStr(254),
  password: str(1024),
  isApplication: bool,
  enabled: bool,
  roles: strList(20, 128),
  groups: strList(100, 128),
};

export const directoryRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    const actor = (req: { principal: any; ip: string }) => actorOf(req.principal, req.ip);

    // ---- users
    app.get<{ Querystring: PageQuery & { search?: string } }>(
      '/users',
      { config: admin, schema: { tags: ['users'], summary: 'List users and application accounts', querystring: pageQuery({ search: optStr(64) }) } },
      async (req) => ({ ...(await core.dir.listUsers(req.query)), limit: req.query.limit, offset: req.query.offset }),
    );
    app.post<{ Body: UserInput & { username: string } }>(
      '/users',
      { config: admin, schema: { tags: ['users'], summary: 'Create a user (isApplication: true makes an API-only application account)', body: body(userProps, ['username']) } },
      async (req, reply) => reply.status(201).send(await core.dir.createUser(actor(req), req.body)),
    );
    app.get<{ Params: { id: string } }>('/users/:id', { config: admin, schema: { tags: ['users'], params: idParams } }, async (req) => core.dir.viewUser(await core.dir.userRow(req.params.id)));
    app.patch<{ Params: { id: string }; Body: UserInput }>(
      '/users/:id',
      { config: admin, schema: { tags: ['users'], summary: 'Change a user (enable/disable, password, roles, groups …)', params: idParams, body: body(userProps) } },
      async (req) => core.dir.updateUser(actor(req), req.params.id, req.body),
    );
    app.delete<{ Params: { id: string } }>('/users/:id', { config: admin, schema: { tags: ['users'], params: idParams } }, async (req, reply) => {
      await core.dir.deleteUser(actor(req), req.params.id);
      return reply.status(204).send();
    });
    app.post<{ Params: { id: string } }>('/users/:id/unlock', { config: admin, schema: { tags: ['users'], summary: 'Clear a lockout', params: idParams } }, async (req) => core.dir.unlockUser(actor(req), req.params.id));
    app.post<{ Params: { id: string } }>('/users/:id/totp/reset', { config: admin, schema: { tags: ['users'], summary: "Remove a user's TOTP enrolment", params: idParams } }, async (req, reply) => {
      await core.auth.disableTotp(actor(req), req.params.id);
      return reply.status(204).send();
    });
    app.post<{ Params: { id: string } }>(
      '/users/:id/client-credentials',
      { config: admin, schema: { tags: ['users'], summary: 'Issue OAuth2 client credentials for an application account (replaces earlier ones; the secret is shown once)', params: idParams } },
      async (req, reply) => reply.status(201).send(await core.auth.createClientCredentials(actor(req), req.params.id)),
    );

    // ---- groups
    const groupProps = { name: str(128), description: optStr(1024), members: strList(1000, 128), roles: strList(20, 128) };
    app.get<{ Querystring: PageQuery }>('/groups', { config: admin, schema: { tags: ['groups'], querystring: pageQuery() } }, async (req) => ({
      ...(await core.dir.listGroups(req.query)),
      limit: req.query.limit,
      offset: req.query.offset,
    }));
    app.post<{ Body: { name: string; description?: string; members?: string[]; roles?: string[] } }>(
      '/groups',
      { config: admin, schema: { tags: ['groups'], body: body(groupProps, ['name']) } },
      async (req, reply) => reply.status(201).send(await core.dir.saveGroup(actor(req), null, req.body)),
    );
    app.get<{ Params: { id: string } }>('/groups/:id', { config: admin, schema: { tags: ['groups'], params: idParams } }, async (req) => core.dir.viewGroup(req.params.id));
    app.patch<{ Params: { id: string }; Body: { name?: string; description?: string; members?: string[]; roles?: string[] } }>(
      '/groups/:id',
      { config: admin, schema: { tags: ['groups'], params: idParams, body: body(groupProps) } },
      async (req) => core.dir.saveGroup(actor(req), req.params.id, req.body),
    );
    app.delete<{ Params: { id: string } }>('/groups/:id', { config: admin, schema: { tags: ['groups'], params: idParams } }, async (req, reply) => {
      await core.dir.deleteGroup(actor(req), req.params.id);
      return reply.status(204).send();
    });

    // ---- roles
    const roleProps = { name: str(128), description: optStr(1024), permissions: { type: 'array', maxItems: 50, items: { type: 'string', enum: PERMISSION_NAMES } } };
    app.get<{ Querystring: PageQuery }>('/roles', { config: admin, schema: { tags: ['roles'], querystring: pageQuery() } }, async (req) => ({
      ...(await core.dir.listRoles(req.query)),
      limit: req.query.limit,
      offset: req.query.offset,
      permissions: PERMISSIONS,
    }));
    app.post<{ Body: { name: string; description?: string; permissions?: string[] } }>(
      '/roles',
      { config: admin, schema: { tags: ['roles'], body: body(roleProps, ['name']) } },
      async (req, reply) => reply.status(201).send(await core.dir.saveRole(actor(req), null, req.body)),
    );
    app.get<{ Params: { id: string } }>('/roles/:id', { config: admin, schema: { tags: ['roles'], params: idParams } }, async (req) => core.dir.viewRole(req.params.id));
    app.patch<{ Params: { id: string }; Body: { name?: string; description?: string; permissions?: string[] } }>(
      '/roles/:id',
      { config: admin, schema: { tags: ['roles'], params: idParams, body: body(roleProps) } },
      async (req) => core.dir.saveRole(actor(req), req.params.id, req.body),
    );
    app.delete<{ Params: { id: string } }>('/roles/:id', { config: admin, schema: { tags: ['roles'], params: idParams } }, async (req, reply) => {
      await core.dir.deleteRole(actor(req), req.params.id);
      return reply.status(204).send();
    });
  };
