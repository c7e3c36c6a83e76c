// Folders, templates and secrets, with sharing and the audited reveal.
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { actorOf } from '../../core/identity/principal.js';
import { LEVELS } from '../../core/vault/access.js';
import type { AclInput } from '../../core/vault/folders.js';
import type { SecretInput } from '../../core/vault/secrets.js';
import { MAX_KEY_FIELD, type FieldDef, type TemplateDef } from '../../core/vault/templates.js';
import { body, bool, idParams, nullableStr, optStr, pageOf, pageQuery, str, type PageQuery } from '../schemas.js';

const aclBody = body(
  {
    inheritPermissions: bool,
    entries: {
      type: 'array',
      maxItems: 500,
      items: body({ principalType: { type: 'string', enum: ['user', 'group'] }, principal: str(128), level: { type: 'string', enum: LEVELS } }, ['principalType', 'principal', 'level']),
    },
  },
  ['entries'],
);

const fieldsSchema = {
  type: 'object',
  maxProperties: 50,
  propertyNames: { maxLength: 64 },
  additionalProperties: { type: ['string', 'integer', 'null'], maxLength: MAX_KEY_FIELD },
} as const;

const fieldDef = body(
  {
    name: str(64),
    label: str(128),
    type: { type: 'string', enum: ['text', 'password', 'key', 'number', 'notes'] },
    secret: bool,
    required: bool,
    default: { type: ['string', 'integer'], maxLength: 256 },
  },
  ['name', 'label', 'type'],
);

const templateProps = {
  name: str(128),
  fields: { type: 'array', minItems: 1, maxItems: 50, items: fieldDef },
  machineField: nullableStr(64),
  domainField: nullableStr(64),
  usernameField: nullableStr(64),
  launchers: { type: 'array', maxItems: 20, items: str(64) },
};

export const vaultRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    // ---- folders
    app.get<{ Querystring: PageQuery & { parentId?: string } }>(
      '/folders',
      { schema: { tags: ['folders'], summary: 'Folders you can see (parentId=root for top level)', querystring: pageQuery({ parentId: optStr(128) }) } },
      async (req) => ({ ...(await core.folders.list(req.principal!, req.query)), limit: req.query.limit, offset: req.query.offset }),
    );
    app.post<{ Body: { name: string; parentId?: string | null; inheritPermissions?: boolean } }>(
      '/folders',
      { schema: { tags: ['folders'], summary: 'Create a folder (needs manage_secrets, and edit on the parent)', body: body({ name: str(256), parentId: nullableStr(128), inheritPermissions: bool }, ['name']) } },
      async (req, reply) => reply.status(201).send(await core.folders.create(req.principal!, req.body)),
    );
    app.get<{ Params: { id: string } }>('/folders/:id', { schema: { tags: ['folders'], params: idParams } }, async (req) => core.folders.get(req.principal!, req.params.id));
    app.patch<{ Params: { id: string }; Body: { name?: string; parentId?: string | null; inheritPermissions?: boolean } }>(
      '/folders/:id',
      { schema: { tags: ['folders'], summary: 'Rename, move, or change inheritance (needs edit)', params: idParams, body: body({ name: str(256), parentId: nullableStr(128), inheritPermissions: bool }) } },
      async (req) => core.folders.update(req.principal!, req.params.id, req.body),
    );
    app.delete<{ Params: { id: string } }>('/folders/:id', { schema: { tags: ['folders'], summary: 'Delete an empty folder (needs owner)', params: idParams } }, async (req, reply) => {
      await core.folders.remove(req.principal!, req.params.id);
      return reply.status(204).send();
    });
    app.get<{ Params: { id: string } }>('/folders/:id/permissions', { schema: { tags: ['folders'], params: idParams } }, async (req) => core.folders.permissions(req.principal!, req.params.id));
    app.put<{ Params: { id: string }; Body: AclInput }>(
      '/folders/:id/permissions',
      { schema: { tags: ['folders'], summary: "Replace a folder's sharing (needs owner); secrets and subfolders that inherit follow", params: idParams, body: aclBody } },
      async (req) => core.folders.setPermissions(req.principal!, req.params.id, req.body),
    );

    // ---- templates
    app.get<{ Querystring: PageQuery }>('/templates', { schema: { tags: ['templates'], summary: 'Secret templates, built-in and custom', querystring: pageQuery() } }, async (req) => pageOf(await core.templates.list(), req.query));
    app.get<{ Params: { id: string } }>('/templates/:id', { schema: { tags: ['templates'], params: idParams } }, async (req) => core.templates.get(req.params.id));
    app.post<{ Body: { name: string; fields: FieldDef[] } & Partial<TemplateDef> }>(
      '/templates',
      { config: { permission: 'manage_templates' }, schema: { tags: ['templates'], body: body(templateProps, ['name', 'fields']) } },
      async (req, reply) => reply.status(201).send(await core.templates.create(actorOf(req.principal, req.ip), req.body)),
    );
    app.patch<{ Params: { id: string }; Body: { name?: string } & Partial<TemplateDef> }>(
      '/templates/:id',
      { config: { permission: 'manage_templates' }, schema: { tags: ['templates'], params: idParams, body: body(templateProps) } },
      async (req) => core.templates.update(actorOf(req.principal, req.ip), req.params.id, req.body),
    );
    app.delete<{ Params: { id: string } }>('/templates/:id', { config: { permission: 'manage_templates' }, schema: { tags: ['templates'], params: idParams } }, async (req, reply) => {
      await core.templates.remove(actorOf(req.principal, req.ip), req.params.id);
      return reply.status(204).send();
    });

    // ---- secrets
    app.get<{ Querystring: PageQuery & { search?: string; folderId?: string; template?: string } }>(
      '/secrets',
      { schema: { tags: ['secrets'], summary: 'Secrets you can list: metadata only, never secret values', querystring: pageQuery({ search: optStr(256), folderId: optStr(128), template: optStr(128) }) } },
      async (req) => ({ ...(await core.secrets.list(req.principal!, req.query)), limit: req.query.limit, offset: req.query.offset }),
    );
    app.post<{ Body: SecretInput & { name: string; template: string; fields: Record<string, unknown> } }>(
      '/secrets',
      {
        schema: {
          tags: ['secrets'],
          summary: "Create a secret from a template's fields (needs manage_secrets; you become its owner)",
          body: body({ name: str(256), template: str(128), folderId: nullableStr(128), fields: fieldsSchema, inheritPermissions: bool }, ['name', 'template', 'fields']),
        },
      },
      async (req, reply) => reply.status(201).send(await core.secrets.create(req.principal!, req.body)),
    );
    app.get<{ Params: { id: string } }>('/secrets/:id', { schema: { tags: ['secrets'], summary: 'Secret metadata (needs list)', params: idParams } }, async (req) => core.secrets.get(req.principal!, req.params.id));
    app.patch<{ Params: { id: string }; Body: SecretInput }>(
      '/secrets/:id',
      {
        schema: {
          tags: ['secrets'],
          summary: 'Change name, folder or field values (needs edit); a null or empty field value clears it',
          params: idParams,
          body: body({ name: str(256), folderId: nullableStr(128), fields: fieldsSchema, inheritPermissions: bool }),
        },
      },
      async (req) => core.secrets.update(req.principal!, req.params.id, req.body),
    );
    app.delete<{ Params: { id: string } }>('/secrets/:id', { schema: { tags: ['secrets'], summary: 'Delete a secret (needs owner)', params: idParams } }, async (req, reply) => {
      await core.secrets.remove(req.principal!, req.params.id);
      return reply.status(204).send();
    });
    app.post<{ Params: { id: string } }>(
      '/secrets/:id/reveal',
      { config: { scope: 'reveal' }, schema: { tags: ['secrets'], summary: "The secret's field values, secret ones included (needs view; audited)", params: idParams } },
      async (req, reply) => reply.header('cache-control', 'no-store').send(await core.secrets.reveal(req.principal!, req.params.id)),
    );
    app.get<{ Params: { id: string } }>('/secrets/:id/permissions', { schema: { tags: ['secrets'], params: idParams } }, async (req) => core.secrets.permissions(req.principal!, req.params.id));
    app.put<{ Params: { id: string }; Body: AclInput }>(
      '/secrets/:id/permissions',
      { schema: { tags: ['secrets'], summary: "Replace a secret's sharing: list/view/edit/owner for users and groups (needs owner)", params: idParams, body: aclBody } },
      async (req) => core.secrets.setPermissions(req.principal!, req.params.id, req.body),
    );
  };
