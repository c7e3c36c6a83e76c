// The credential-provider API for an Endpoint Credential Manager (seeds 001/002,
// src/core/webservices): list and retrieve on behalf of a person, delegated trust
// (Manage Applications), the token cache and Test Settings. Every route answers 403
// webservices_disabled while the setting "Enable Webservices" is off.
import { body, bool, errors, idParams, int, noContent, nullableText, nullableTime, obj, optStr, ref, str, text, time } from './schema.js';
import { route } from './route.js';

export const TRUST_STATUSES = ['pending', 'approved', 'denied', 'revoked'] as const;
export const ECM_PROTOCOLS = ['ssh', 'telnet', 'rdp'] as const;

/** user1, DOMAIN\username or username@domain (seed: "Secret Server User ID"). */
const userId = str(320);
/** A machine name or address. */
const endpoint = str(253);
const organization = optStr(128);

const resolvedUser = obj({ id: text, username: text, matchedAs: { type: 'string', enum: ['domain', 'default-domain', 'local', 'fall-back'] } });
export const listedCredentialSchema = obj({
  id: text,
  name: text,
  template: text,
  machine: nullableText,
  domain: nullableText,
  username: nullableText,
  kind: { type: 'string', enum: ['machine', 'domain'] },
});
const credentials = { type: 'array', items: listedCredentialSchema } as const;

export const trustSchema = obj({
  id: text,
  application: ref,
  status: { type: 'string', enum: TRUST_STATUSES },
  endpoint: nullableText,
  requestedAt: time,
  decidedAt: nullableTime,
  lastUsedAt: nullableTime,
});

/** The settings Test Settings may try unsaved (the seed: "the ones currently entered on the screen"). */
const testSettings = body({
  webservicesMachineField: str(128),
  webservicesDomainField: str(128),
  webservicesIncludeDomainCredentialsFor: optStr(1024),
  webservicesDefaultDomain: optStr(253),
  webservicesFallbackToLocal: bool,
  webservicesIncludeDefaultOrganization: bool,
});

const tags = ['webservices'] as const;

export const webservices = {
  list: route('GET', '/api/v1/webservices/credentials', {
    tags,
    summary: 'The credentials a user may use on an endpoint, machine-specific then domain ones; never a secret value (Web Services Impersonate; the user approved the application)',
    querystring: { type: 'object', required: ['user', 'endpoint'], properties: { user: userId, endpoint, organization }, additionalProperties: false },
    response: { 200: obj({ user: resolvedUser, endpoint: text, organization: nullableText, credentials }), ...errors },
  }),
  retrieve: route('POST', '/api/v1/webservices/credentials/:id/retrieve', {
    tags,
    summary: "Retrieve one credential for injection on the user's behalf: audited with the application and the user; the access gate and checkout apply (Web Services Impersonate)",
    params: idParams,
    body: body({ user: userId, endpoint, organization, protocol: { type: 'string', enum: ECM_PROTOCOLS } }, ['user']),
    response: {
      200: obj({ id: text, name: text, machine: nullableText, domain: nullableText, username: nullableText, secrets: { type: 'object', additionalProperties: text } }),
      ...errors,
    },
  }),
  test: route('POST', '/api/v1/webservices/test', {
    tags,
    summary: 'Test Settings: the credentials that would be listed (no values) or that approval is pending; settings given here are tried unsaved (the application itself, or administer)',
    body: body({ user: userId, endpoint, organization, application: str(64), settings: testSettings }, ['user', 'endpoint']),
    response: {
      200: obj({
        user: { anyOf: [resolvedUser, { type: 'null' }] },
        endpoint: text,
        application: { anyOf: [ref, { type: 'null' }] },
        approval: { type: 'string', enum: [...TRUST_STATUSES, 'self', 'not_checked'] },
        message: text,
        credentials,
      }),
      ...errors,
    },
  }),
  applications: route('GET', '/api/v1/webservices/applications', {
    tags,
    summary: 'Manage Applications: the applications that asked for or hold access to your secrets',
    response: { 200: obj({ items: { type: 'array', items: trustSchema } }), ...errors },
  }),
  approve: route('POST', '/api/v1/webservices/applications/:id/approve', { tags, summary: 'Approve an application: it may retrieve your credentials from now on', params: idParams, response: { 200: trustSchema, ...errors } }),
  deny: route('POST', '/api/v1/webservices/applications/:id/deny', { tags, summary: 'Deny an application access to your credentials', params: idParams, response: { 200: trustSchema, ...errors } }),
  revoke: route('DELETE', '/api/v1/webservices/applications/:id', { tags, summary: "Revoke an application's access (its cached tokens go too); it must ask again", params: idParams, response: { 204: noContent, ...errors } }),
  tokenCache: route('GET', '/api/v1/webservices/token-cache', {
    tags,
    summary: 'The token cache: which application holds a valid cached token for which user, until when (never a token)',
    response: { 200: obj({ entries: int, items: { type: 'array', items: obj({ application: ref, user: ref, createdAt: time, expiresAt: time }) } }), ...errors },
  }),
  clearTokenCache: route('DELETE', '/api/v1/webservices/token-cache', { tags, summary: 'Clear Token Cache: every cached token goes; answers how many were valid', response: { 200: obj({ cleared: int }), ...errors } }),
} as const;
