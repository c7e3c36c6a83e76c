// The LDAP / Active Directory directory (issue 15 point 2; rules in
// src/core/identity/directory-ldap): its settings (the bind password is a vault secret
// reference, never a value), a connection test, and a sync on demand. Administrators only.
import { body, bool, errors, int, nullableText, obj, str, text, textList } from './schema.js';
import { route } from './route.js';

export const LDAP_SECURITY = ['ldaps', 'starttls', 'none'] as const;

const mapping = obj({ ldapGroup: text, group: text });
const configProps = {
  enabled: bool,
  url: text,
  security: { type: 'string', enum: LDAP_SECURITY },
  caFile: nullableText,
  bindDn: text,
  /** The vault secret whose bindSecretField holds the service account's password. */
  bindSecretId: nullableText,
  bindSecretField: text,
  userBaseDn: text,
  userFilter: text,
  usernameAttribute: text,
  displayNameAttribute: text,
  emailAttribute: text,
  disabledFilter: text,
  groupBaseDn: text,
  groupFilter: text,
  memberAttribute: text,
  groupMappings: { type: 'array', items: mapping },
  timeoutSeconds: int,
} as const;
export const ldapConfigSchema = obj(configProps);

export const ldapSyncSchema = obj({
  at: text,
  ok: bool,
  error: nullableText,
  users: int,
  created: textList,
  disabled: textList,
  enabled: textList,
  conflicts: textList,
  skipped: textList,
  groupChanges: int,
  terminatedSessions: int,
  unknownGroups: textList,
});
export const ldapStatusSchema = obj({ config: ldapConfigSchema, lastSyncAt: nullableText, lastSync: { anyOf: [ldapSyncSchema, { type: 'null' }] } });
export const ldapTestSchema = obj({ ok: bool, message: text, users: { type: ['integer', 'null'] }, groups: { type: ['integer', 'null'] } });

const dn = { type: 'string', maxLength: 1024 } as const;
const filter = str(2048);
const attribute = str(64);
const update = body({
  enabled: bool,
  url: { type: 'string', maxLength: 2048 },
  security: { type: 'string', enum: LDAP_SECURITY },
  caFile: { type: ['string', 'null'], minLength: 1, maxLength: 4096 },
  bindDn: dn,
  bindSecretId: { type: ['string', 'null'], minLength: 1, maxLength: 128 },
  bindSecretField: str(128),
  userBaseDn: dn,
  userFilter: filter,
  usernameAttribute: attribute,
  displayNameAttribute: attribute,
  emailAttribute: attribute,
  disabledFilter: filter,
  groupBaseDn: dn,
  groupFilter: filter,
  memberAttribute: attribute,
  groupMappings: { type: 'array', maxItems: 200, items: body({ ldapGroup: str(1024), group: str(128) }, ['ldapGroup', 'group']) },
  timeoutSeconds: { type: 'integer', minimum: 1, maximum: 120 },
});

export const ldapDirectory = {
  get: route('GET', '/api/v1/directory/ldap', { tags: ['directory'], summary: 'The LDAP / Active Directory settings and the last sync', response: { 200: ldapStatusSchema, ...errors } }),
  update: route('PUT', '/api/v1/directory/ldap', {
    tags: ['directory'],
    summary: 'Change the LDAP / Active Directory settings (fields left out keep their value; naming a bind secret needs view access to it)',
    body: update,
    response: { 200: ldapStatusSchema, ...errors },
  }),
  test: route('POST', '/api/v1/directory/ldap/test', { tags: ['directory'], summary: 'Connect and bind as the service account; count users and groups (the answer says what failed)', response: { 200: ldapTestSchema, ...errors } }),
  sync: route('POST', '/api/v1/directory/ldap/sync', { tags: ['directory'], summary: 'Sync users and groups from the directory now', response: { 200: ldapSyncSchema, ...errors } }),
} as const;
