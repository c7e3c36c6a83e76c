// OIDC single sign-on (issue 15 point 1): the public list the sign-in page shows, the
// administrators' provider configuration, and the CLI's exchange of the one-time code its
// loopback listener received. The browser legs (/auth/oidc/:name/start, /auth/oidc/callback)
// are redirects and small HTML pages outside /api (src/web/routes/oidc.ts).
import { body, bool, errors, idParams, noContent, obj, page, pageQuery, str, strList, text, textList, time } from './schema.js';
import { route } from './route.js';

const tags = ['oidc'];
/** A provider's name: its path segment in /auth/oidc/<name>/start. */
const providerName = str(64, { pattern: '^[a-z0-9][a-z0-9-]{0,63}$' });
const groupMapEntry = body({ claim: str(256), group: str(128) }, ['claim', 'group']);

export const oidcProviderSchema = obj({
  id: text,
  name: text,
  displayName: text,
  issuer: text,
  clientId: text,
  /** Whether a client secret is held (sealed); the secret itself is never answered. */
  hasClientSecret: bool,
  scopes: textList,
  usernameClaim: text,
  groupsClaim: text,
  allowedDomains: textList,
  /** Values of the groups claim → Gatehouse groups (by id and name). */
  groupMap: { type: 'array', items: obj({ claim: text, group: obj({ id: text, name: text }) }) },
  requireMappedGroup: bool,
  enabled: bool,
  /** The redirect URI to register at the provider. */
  redirectUri: text,
  createdAt: time,
  updatedAt: time,
});

export const oidcLinkSchema = obj({ providerId: text, provider: text, displayName: text, subject: text, linkedAt: time });

const providerProps = {
  name: providerName,
  displayName: str(128),
  issuer: str(2048),
  clientId: str(512),
  /** Write-only. null removes it (a public client with PKCE only). */
  clientSecret: { type: ['string', 'null'], minLength: 1, maxLength: 4096 },
  scopes: strList(20, 128),
  usernameClaim: str(128),
  groupsClaim: str(128),
  allowedDomains: strList(50, 253),
  groupMap: { type: 'array', maxItems: 500, items: groupMapEntry },
  requireMappedGroup: bool,
  enabled: bool,
} as const;

export const oidc = {
  providers: route('GET', '/api/v1/auth/providers', {
    tags,
    summary: 'The sign-in options the sign-in page shows: local password sign-in, passwordless passkey sign-in (setting webauthnPasswordless) and each enabled OIDC provider (public)',
    security: [],
    response: { 200: obj({ local: bool, passkey: bool, oidc: { type: 'array', items: obj({ name: text, displayName: text, startUrl: text }) } }), ...errors },
  }),
  cliToken: route('POST', '/api/v1/auth/oidc/cli-token', {
    tags,
    summary: 'CLI sign-in through the browser: the one-time code the loopback redirect carried and the verifier of the challenge the CLI started with → a login token',
    security: [],
    body: body({ code: str(128), verifier: str(128) }, ['code', 'verifier']),
    response: { 200: obj({ token: text, expiresAt: time, username: text }), ...errors },
  }),
  listProviders: route('GET', '/api/v1/oidc-providers', { tags, summary: 'OIDC providers (administrators)', querystring: pageQuery(), response: { 200: page(oidcProviderSchema), ...errors } }),
  createProvider: route('POST', '/api/v1/oidc-providers', {
    tags,
    summary: 'Add an OIDC provider; the client secret is sealed and never answered',
    body: body(providerProps, ['name', 'displayName', 'issuer', 'clientId']),
    response: { 201: oidcProviderSchema, ...errors },
  }),
  getProvider: route('GET', '/api/v1/oidc-providers/:id', { tags, params: idParams, response: { 200: oidcProviderSchema, ...errors } }),
  updateProvider: route('PATCH', '/api/v1/oidc-providers/:id', { tags, params: idParams, body: body(providerProps), response: { 200: oidcProviderSchema, ...errors } }),
  userLinks: route('GET', '/api/v1/users/:id/oidc-links', {
    tags,
    summary: "The OIDC providers a user signs in through, and who they are there (the ID token's sub)",
    params: idParams,
    querystring: pageQuery(),
    response: { 200: page(oidcLinkSchema), ...errors },
  }),
  unlinkUser: route('DELETE', '/api/v1/users/:id/oidc-links/:providerId', {
    tags,
    summary: "Remove a user's link to a provider: their next sign-in there matches by name again (audited user.oidc_unlinked)",
    params: { type: 'object', required: ['id', 'providerId'], additionalProperties: false, properties: { id: str(128), providerId: str(128) } },
    response: { 204: noContent, ...errors },
  }),
  deleteProvider: route('DELETE', '/api/v1/oidc-providers/:id', { tags, params: idParams, response: { 204: noContent, ...errors } }),
} as const;
