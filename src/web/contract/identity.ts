// Sign-in, the caller's own account, API tokens, OAuth2, and the directory (users,
// application accounts, groups, roles): the routes' requests and answers.
import { body, bool, errors, idParams, noContent, nullableStr, nullableText, nullableTime, obj, optStr, page, pageQuery, recordOf, ref, str, strList, text, textList, time, int } from './schema.js';
import { route } from './route.js';
import { assertionSchema } from './webauthn-json.js';

/** Role permissions (src/core/identity/permissions.ts describes each). */
export const PERMISSION_NAMES = ['administer', 'manage_templates', 'manage_secrets', 'all_secrets', 'launch', 'view_recordings', 'audit', 'manage_sessions', 'webservices_impersonate', 'join_sessions'] as const;
/** Token scopes. */
export const SCOPE_NAMES = ['read', 'write', 'reveal', 'launch', 'admin', 'audit'] as const;

const permission = { type: 'string', enum: PERMISSION_NAMES } as const;
const scope = { type: 'string', enum: SCOPE_NAMES } as const;

// ---- answers
export const userSchema = obj({
  id: text,
  username: text,
  displayName: text,
  email: nullableText,
  isApplication: bool,
  enabled: bool,
  locked: bool,
  totpEnabled: bool,
  roles: { type: 'array', items: ref },
  groups: { type: 'array', items: ref },
  createdAt: time,
  lastLoginAt: nullableTime,
});
export const meSchema = obj({
  ...userSchema.properties,
  permissions: { type: 'array', items: permission },
  /** null: a session or token without scope limits. */
  scopes: { type: ['array', 'null'], items: scope },
});
const tokenProps = {
  id: text,
  name: text,
  kind: { type: 'string', enum: ['session', 'api', 'oauth'] },
  scopes: { type: ['array', 'null'], items: scope },
  expiresAt: time,
  createdAt: time,
  lastUsedAt: nullableTime,
} as const;
export const tokenSchema = obj(tokenProps);
export const groupSchema = obj({ id: text, name: text, description: text, members: { type: 'array', items: obj({ id: text, username: text }) }, roles: { type: 'array', items: ref } });
export const roleSchema = obj({ id: text, name: text, description: text, permissions: { type: 'array', items: permission }, builtin: bool });

// ---- requests
// `webauthn`: a security key as the second factor (a challenge from POST /api/v1/auth/webauthn/options).
const signIn = body({ username: str(64), password: str(1024), totp: str(32), webauthn: assertionSchema }, ['username', 'password']);
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
const groupProps = { name: str(128), description: optStr(1024), members: strList(1000, 128), roles: strList(20, 128) };
const roleProps = { name: str(128), description: optStr(1024), permissions: { type: 'array', maxItems: 50, items: permission } } as const;


export const auth = {
  login: route('POST', '/api/v1/auth/login', {
    tags: ['auth'],
    summary: 'Log in with username, password and (when enrolled) a TOTP or recovery code',
    security: [],
    body: signIn,
    response: { 200: obj({ token: text, expiresAt: time }), ...errors },
  }),
  // Browser sign-in: the same checks as /auth/login, the token goes into an HttpOnly cookie.
  signIn: route('POST', '/api/v1/auth/session', {
    tags: ['auth'],
    summary: 'Browser sign-in: sets an HttpOnly session cookie and returns the CSRF token to send as X-CSRF-Token',
    security: [],
    body: signIn,
    response: { 200: obj({ user: userSchema, csrfToken: text, expiresAt: time }), ...errors },
  }),
  signOut: route('DELETE', '/api/v1/auth/session', { tags: ['auth'], summary: 'Browser sign-out: revokes the session and clears the cookies', response: { 204: noContent, ...errors } }),
  logout: route('POST', '/api/v1/auth/logout', { tags: ['auth'], summary: 'Revoke the token used for this call', response: { 204: noContent, ...errors } }),
  me: route('GET', '/api/v1/me', { tags: ['auth'], summary: 'The calling user, with roles, groups and effective permissions', response: { 200: meSchema, ...errors } }),
  changePassword: route('POST', '/api/v1/me/password', {
    tags: ['auth'],
    summary: 'Change your own password',
    body: body({ currentPassword: str(1024), newPassword: str(1024) }, ['currentPassword', 'newPassword']),
    response: { 204: noContent, ...errors },
  }),
  beginTotp: route('POST', '/api/v1/me/totp', { tags: ['auth'], summary: 'Start TOTP enrolment: returns the seed and an otpauth:// URL (shown once)', response: { 200: obj({ secret: text, otpauthUrl: text }), ...errors } }),
  confirmTotp: route('POST', '/api/v1/me/totp/confirm', {
    tags: ['auth'],
    summary: 'Finish TOTP enrolment with a current code; returns ten single-use recovery codes',
    body: body({ code: str(16, { pattern: '^[0-9]{6}$' }) }, ['code']),
    response: { 200: obj({ recoveryCodes: textList }), ...errors },
  }),
  stepUp: route('POST', '/api/v1/auth/step-up', {
    tags: ['auth'],
    summary: 'MFA step-up: verify a TOTP (or recovery) code for launches whose access policy asks for a fresh second factor; remembered on the token used for this call',
    body: body({ code: str(64) }, ['code']),
    response: { 200: obj({ verifiedAt: text }), ...errors },
  }),
  disableTotp: route('POST', '/api/v1/me/totp/disable', { tags: ['auth'], summary: 'Turn your own TOTP off (needs your password)', body: body({ password: str(1024) }, ['password']), response: { 204: noContent, ...errors } }),
  listTokens: route('GET', '/api/v1/tokens', { tags: ['auth'], summary: 'Your unexpired tokens (never their values)', querystring: pageQuery(), response: { 200: page(tokenSchema), ...errors } }),
  createToken: route('POST', '/api/v1/tokens', {
    tags: ['auth'],
    summary: 'Create a scoped, expiring API token (the value is shown once, stored hashed)',
    body: body(
      {
        name: str(100),
        scopes: { type: 'array', minItems: 1, maxItems: SCOPE_NAMES.length, items: scope },
        expiresInDays: { type: 'integer', minimum: 1, maximum: 3650 },
      },
      ['name', 'scopes'],
    ),
    response: { 201: obj({ token: text, ...tokenProps }), ...errors },
  }),
  revokeToken: route('DELETE', '/api/v1/tokens/:id', { tags: ['auth'], summary: 'Revoke one of your tokens', params: idParams, response: { 204: noContent, ...errors } }),
  // RFC 6749 section 4.4. Credentials in the body or as HTTP Basic.
  oauthToken: route('POST', '/oauth2/token', {
    tags: ['auth'],
    summary: 'OAuth2 client-credentials grant for application accounts',
    security: [],
    body: body({ grant_type: str(64), client_id: str(128), client_secret: str(256), scope: str(256) }, ['grant_type']),
    response: { 200: body({ access_token: text, token_type: { type: 'string', const: 'Bearer' }, expires_in: int, scope: text }, ['access_token', 'token_type', 'expires_in']), ...errors },
  }),
} as const;

export const directory = {
  listUsers: route('GET', '/api/v1/users', { tags: ['users'], summary: 'List users and application accounts', querystring: pageQuery({ search: optStr(64) }), response: { 200: page(userSchema), ...errors } }),
  createUser: route('POST', '/api/v1/users', {
    tags: ['users'],
    summary: 'Create a user (isApplication: true makes an API-only application account)',
    body: body(userProps, ['username']),
    response: { 201: userSchema, ...errors },
  }),
  getUser: route('GET', '/api/v1/users/:id', { tags: ['users'], params: idParams, response: { 200: userSchema, ...errors } }),
  updateUser: route('PATCH', '/api/v1/users/:id', { tags: ['users'], summary: 'Change a user (enable/disable, password, roles, groups …)', params: idParams, body: body(userProps), response: { 200: userSchema, ...errors } }),
  deleteUser: route('DELETE', '/api/v1/users/:id', { tags: ['users'], params: idParams, response: { 204: noContent, ...errors } }),
  unlockUser: route('POST', '/api/v1/users/:id/unlock', { tags: ['users'], summary: 'Clear a lockout', params: idParams, response: { 200: userSchema, ...errors } }),
  resetTotp: route('POST', '/api/v1/users/:id/totp/reset', { tags: ['users'], summary: "Remove a user's TOTP enrolment", params: idParams, response: { 204: noContent, ...errors } }),
  clientCredentials: route('POST', '/api/v1/users/:id/client-credentials', {
    tags: ['users'],
    summary: 'Issue OAuth2 client credentials for an application account (replaces earlier ones; the secret is shown once)',
    params: idParams,
    response: { 201: obj({ clientId: text, clientSecret: text }), ...errors },
  }),

  listGroups: route('GET', '/api/v1/groups', { tags: ['groups'], querystring: pageQuery(), response: { 200: page(groupSchema), ...errors } }),
  createGroup: route('POST', '/api/v1/groups', { tags: ['groups'], body: body(groupProps, ['name']), response: { 201: groupSchema, ...errors } }),
  getGroup: route('GET', '/api/v1/groups/:id', { tags: ['groups'], params: idParams, response: { 200: groupSchema, ...errors } }),
  updateGroup: route('PATCH', '/api/v1/groups/:id', { tags: ['groups'], params: idParams, body: body(groupProps), response: { 200: groupSchema, ...errors } }),
  deleteGroup: route('DELETE', '/api/v1/groups/:id', { tags: ['groups'], params: idParams, response: { 204: noContent, ...errors } }),

  listRoles: route('GET', '/api/v1/roles', {
    tags: ['roles'],
    querystring: pageQuery(),
    // `permissions`: every permission name with its description, for role editors.
    response: { 200: obj({ ...page(roleSchema).properties, permissions: recordOf(PERMISSION_NAMES, text) }), ...errors },
  }),
  createRole: route('POST', '/api/v1/roles', { tags: ['roles'], body: body(roleProps, ['name']), response: { 201: roleSchema, ...errors } }),
  getRole: route('GET', '/api/v1/roles/:id', { tags: ['roles'], params: idParams, response: { 200: roleSchema, ...errors } }),
  updateRole: route('PATCH', '/api/v1/roles/:id', { tags: ['roles'], params: idParams, body: body(roleProps), response: { 200: roleSchema, ...errors } }),
  deleteRole: route('DELETE', '/api/v1/roles/:id', { tags: ['roles'], params: idParams, response: { 204: noContent, ...errors } }),
} as const;
