// Access levels (issue 12, point 5; src/core/accounts/access-levels.ts): named target groups
// attached to secrets and folders, with the people pre-approved for them. The routes'
// requests and answers; a launch names a level with `accessLevel` (sessions.ts).
import { body, bool, errors, idParams, noContent, nullableText, obj, optStr, page, pageQuery, str, text, textList, time } from './schema.js';
import { route } from './route.js';

const principalType = { type: 'string', enum: ['user', 'group'] } as const;

export const accessLevelSchema = obj({
  id: text,
  name: text,
  description: text,
  /** Linux group names or LDAP group DNs the session's account gets for the session. */
  targetGroups: textList,
  /** Linux: the sudoers drop-in body for the session ({account} stands for the account name); null: none. */
  sudoers: nullableText,
  /** People not pre-approved may use it with an approved access request naming it. */
  needsApproval: bool,
  secretIds: textList,
  folderIds: textList,
  preApproved: { type: 'array', items: obj({ principalType, principalId: text, principalName: nullableText }) },
  createdAt: time,
  updatedAt: time,
});

/** The levels of one secret the caller may choose at launch. */
export const usableLevelSchema = obj({ id: text, name: text, description: text, targetGroups: textList });

const levelProps = {
  name: str(128),
  description: optStr(1024),
  targetGroups: { type: 'array', maxItems: 64, items: str(1024) },
  sudoers: { type: ['string', 'null'], minLength: 1, maxLength: 4096 },
  needsApproval: bool,
  preApproved: { type: 'array', maxItems: 200, items: body({ principalType, principal: str(128) }, ['principalType', 'principal']) },
  secretIds: { type: 'array', maxItems: 500, items: str(128) },
  folderIds: { type: 'array', maxItems: 500, items: str(128) },
} as const;

const tags = ['access'] as const;

export const accessLevels = {
  list: route('GET', '/api/v1/access-levels', { tags, summary: 'Access levels (needs administer)', querystring: pageQuery(), response: { 200: page(accessLevelSchema), ...errors } }),
  create: route('POST', '/api/v1/access-levels', {
    tags,
    summary: 'Create an access level (needs administer): target groups, an optional sudoers drop-in, who is pre-approved, the secrets and folders it applies to',
    body: body(levelProps, ['name']),
    response: { 201: accessLevelSchema, ...errors },
  }),
  get: route('GET', '/api/v1/access-levels/:id', { tags, summary: 'One access level, by id or name (needs administer)', params: idParams, response: { 200: accessLevelSchema, ...errors } }),
  update: route('PATCH', '/api/v1/access-levels/:id', { tags, summary: 'Change an access level; secretIds/folderIds/preApproved replace the lists (needs administer)', params: idParams, body: body(levelProps), response: { 200: accessLevelSchema, ...errors } }),
  remove: route('DELETE', '/api/v1/access-levels/:id', { tags, summary: 'Delete an access level (needs administer)', params: idParams, response: { 204: noContent, ...errors } }),
  forSecret: route('GET', '/api/v1/secrets/:id/access-levels', {
    tags,
    summary: 'The access levels of a secret the caller may choose at launch (needs view on the secret)',
    params: idParams,
    querystring: pageQuery(),
    response: { 200: page(usableLevelSchema), ...errors },
  }),
} as const;
