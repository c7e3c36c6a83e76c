// Folders, templates and secrets, with sharing and the audited reveal: the routes'
// requests and answers.
import { body, bool, errors, idParams, noContent, nullableStr, nullableText, obj, optStr, page, pageQuery, ref, str, text, textList, time } from './schema.js';
import { route } from './route.js';
import { accountBody, accountSchema, passwordRulesBody, passwordRulesSchema, TARGET_KINDS } from './accounts.js';

export const ACCESS_LEVELS = ['list', 'view', 'edit', 'owner'] as const;
export const FIELD_TYPES = ['text', 'password', 'key', 'number', 'notes'] as const;
/** Longest value of a key or notes field (other fields are shorter, see src/core/vault/templates.ts). */
export const MAX_KEY_FIELD = 65536;

const level = { type: 'string', enum: ACCESS_LEVELS } as const;
const principalType = { type: 'string', enum: ['user', 'group'] } as const;
const fieldValue = { type: ['string', 'number'] } as const;

// ---- answers
export const folderSchema = obj({ id: text, name: text, parentId: nullableText, inheritPermissions: bool, access: level, /** The access request policy attached here (null: inherited or none). */ policyId: nullableText, createdAt: time });
export const aclSchema = obj({
  inheritPermissions: bool,
  entries: { type: 'array', items: obj({ principalType, principalId: text, level, /** Username or group name. */ principalName: nullableText }) },
});
export const fieldDefSchema = body({ name: text, label: text, type: { type: 'string', enum: FIELD_TYPES }, secret: bool, required: bool, default: fieldValue }, ['name', 'label', 'type', 'secret', 'required']);
export const templateSchema = obj({ id: text, name: text, builtin: bool, fields: { type: 'array', items: fieldDefSchema }, machineField: nullableText, domainField: nullableText, usernameField: nullableText, launchers: textList, passwordRules: passwordRulesSchema, targetKind: { type: ['string', 'null'], enum: [...TARGET_KINDS, null] } });
export const secretSchema = obj({
  id: text,
  name: text,
  template: ref,
  folderId: nullableText,
  /** Non-secret field values (machine, port, username, domain, notes …). */
  fields: { type: 'object', additionalProperties: fieldValue },
  /** Names of secret fields that hold a value; the values need reveal. */
  secretFields: textList,
  machine: nullableText,
  domain: nullableText,
  username: nullableText,
  inheritPermissions: bool,
  access: level,
  /** The access request policy attached to the secret itself (null: its folder's, or none). */
  policyId: nullableText,
  /** How Gatehouse manages the account on its target: management link, rotation, heartbeat (issue 12). */
  account: accountSchema,
  createdAt: time,
  updatedAt: time,
});
export const revealedSchema = obj({ id: text, name: text, template: text, fields: { type: 'object', additionalProperties: fieldValue } });

// ---- requests
const aclBody = body(
  {
    inheritPermissions: bool,
    entries: { type: 'array', maxItems: 500, items: body({ principalType, principal: str(128), level }, ['principalType', 'principal', 'level']) },
  },
  ['entries'],
);
const fieldsBody = {
  type: 'object',
  maxProperties: 50,
  propertyNames: { maxLength: 64 },
  additionalProperties: { type: ['string', 'integer', 'null'], maxLength: MAX_KEY_FIELD },
} as const;
const fieldDefBody = body(
  { name: str(64), label: str(128), type: { type: 'string', enum: FIELD_TYPES }, secret: bool, required: bool, default: { type: ['string', 'integer'], maxLength: 256 } },
  ['name', 'label', 'type'],
);
const templateProps = {
  name: str(128),
  fields: { type: 'array', minItems: 1, maxItems: 50, items: fieldDefBody },
  machineField: nullableStr(64),
  domainField: nullableStr(64),
  usernameField: nullableStr(64),
  launchers: { type: 'array', maxItems: 20, items: str(64) },
  passwordRules: passwordRulesBody,
  targetKind: { type: ['string', 'null'], enum: [...TARGET_KINDS, null] },
} as const;
const folderProps = { name: str(256), parentId: nullableStr(128), inheritPermissions: bool };
/** Attach (id or name) or detach (null) an access request policy: needs administer as well as edit. */
const policyRef = nullableStr(128);

export const folders = {
  list: route('GET', '/api/v1/folders', { tags: ['folders'], summary: 'Folders you can see (parentId=root for top level)', querystring: pageQuery({ parentId: optStr(128) }), response: { 200: page(folderSchema), ...errors } }),
  create: route('POST', '/api/v1/folders', { tags: ['folders'], summary: 'Create a folder (needs manage_secrets, and edit on the parent)', body: body(folderProps, ['name']), response: { 201: folderSchema, ...errors } }),
  get: route('GET', '/api/v1/folders/:id', { tags: ['folders'], params: idParams, response: { 200: folderSchema, ...errors } }),
  update: route('PATCH', '/api/v1/folders/:id', {
    tags: ['folders'],
    summary: 'Rename, move, change inheritance (needs edit), or attach an access request policy (policyId; also needs administer)',
    params: idParams,
    body: body({ ...folderProps, policyId: policyRef }),
    response: { 200: folderSchema, ...errors },
  }),
  remove: route('DELETE', '/api/v1/folders/:id', { tags: ['folders'], summary: 'Delete an empty folder (needs owner)', params: idParams, response: { 204: noContent, ...errors } }),
  permissions: route('GET', '/api/v1/folders/:id/permissions', { tags: ['folders'], params: idParams, response: { 200: aclSchema, ...errors } }),
  setPermissions: route('PUT', '/api/v1/folders/:id/permissions', {
    tags: ['folders'],
    summary: "Replace a folder's sharing (needs owner); secrets and subfolders that inherit follow",
    params: idParams,
    body: aclBody,
    response: { 200: aclSchema, ...errors },
  }),
} as const;

export const templates = {
  list: route('GET', '/api/v1/templates', { tags: ['templates'], summary: 'Secret templates, built-in and custom', querystring: pageQuery(), response: { 200: page(templateSchema), ...errors } }),
  get: route('GET', '/api/v1/templates/:id', { tags: ['templates'], params: idParams, response: { 200: templateSchema, ...errors } }),
  create: route('POST', '/api/v1/templates', { tags: ['templates'], body: body(templateProps, ['name', 'fields']), response: { 201: templateSchema, ...errors } }),
  update: route('PATCH', '/api/v1/templates/:id', { tags: ['templates'], params: idParams, body: body(templateProps), response: { 200: templateSchema, ...errors } }),
  remove: route('DELETE', '/api/v1/templates/:id', { tags: ['templates'], params: idParams, response: { 204: noContent, ...errors } }),
} as const;

export const secrets = {
  list: route('GET', '/api/v1/secrets', {
    tags: ['secrets'],
    summary: 'Secrets you can list: metadata only, never secret values',
    querystring: pageQuery({ search: optStr(256), folderId: optStr(128), template: optStr(128) }),
    response: { 200: page(secretSchema), ...errors },
  }),
  create: route('POST', '/api/v1/secrets', {
    tags: ['secrets'],
    summary: "Create a secret from a template's fields (needs manage_secrets; you become its owner)",
    body: body({ name: str(256), template: str(128), folderId: nullableStr(128), fields: fieldsBody, inheritPermissions: bool }, ['name', 'template', 'fields']),
    response: { 201: secretSchema, ...errors },
  }),
  get: route('GET', '/api/v1/secrets/:id', { tags: ['secrets'], summary: 'Secret metadata (needs list)', params: idParams, response: { 200: secretSchema, ...errors } }),
  update: route('PATCH', '/api/v1/secrets/:id', {
    tags: ['secrets'],
    summary: 'Change name, folder or field values (needs edit); a null or empty field value clears it (the earlier values are kept as a version). policyId attaches an access request policy (also needs administer); account sets the management link, rotation and heartbeat',
    params: idParams,
    body: body({ name: str(256), folderId: nullableStr(128), fields: fieldsBody, inheritPermissions: bool, policyId: policyRef, account: accountBody }),
    response: { 200: secretSchema, ...errors },
  }),
  remove: route('DELETE', '/api/v1/secrets/:id', { tags: ['secrets'], summary: 'Delete a secret (needs owner)', params: idParams, response: { 204: noContent, ...errors } }),
  reveal: route('POST', '/api/v1/secrets/:id/reveal', { tags: ['secrets'], summary: "The secret's field values, secret ones included (needs view; audited)", params: idParams, response: { 200: revealedSchema, ...errors } }),
  permissions: route('GET', '/api/v1/secrets/:id/permissions', { tags: ['secrets'], params: idParams, response: { 200: aclSchema, ...errors } }),
  setPermissions: route('PUT', '/api/v1/secrets/:id/permissions', {
    tags: ['secrets'],
    summary: "Replace a secret's sharing: list/view/edit/owner for users and groups (needs owner)",
    params: idParams,
    body: aclBody,
    response: { 200: aclSchema, ...errors },
  }),
} as const;
