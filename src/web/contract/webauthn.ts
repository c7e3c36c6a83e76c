// WebAuthn passkeys and security keys (issue 15 point 3, docs/identity.md): the caller's own
// keys (register, list, delete), challenges for a sign-in (second factor after the password,
// or passwordless when the webauthnPasswordless setting allows) and for a step-up, the
// passwordless browser sign-in, and an administrator's view and reset of a user's keys.
// A sign-in with a key as the second factor goes through POST /api/v1/auth/session (or
// /auth/login) with `webauthn` beside the password (identity.ts).
import { body, bool, errors, idParams, int, noContent, nullableTime, obj, page, pageQuery, str, text, textList, time } from './schema.js';
import { route } from './route.js';
import { userSchema } from './identity.js';
import { assertionSchema, creationOptionsSchema, registrationResponseSchema, requestOptionsSchema } from './webauthn-json.js';

const tags = ['webauthn'];

export const securityKeySchema = obj({
  id: text,
  name: text,
  /** A passkey (discoverable credential): it can sign in without a user name. */
  discoverable: bool,
  /** singleDevice (a security key) or multiDevice (a synced passkey). */
  deviceType: text,
  backedUp: bool,
  transports: textList,
  createdAt: time,
  lastUsedAt: nullableTime,
});

const challengeOf = <const O extends object>(options: O) => obj({ challengeId: text, options });

export const webauthn = {
  signInOptions: route('POST', '/api/v1/auth/webauthn/options', {
    tags,
    summary: 'A sign-in challenge: with username and password, for that account\'s keys (then POST /api/v1/auth/session with `webauthn`); without them, for a passwordless sign-in with a passkey (setting webauthnPasswordless)',
    security: [],
    body: body({ username: str(64), password: str(1024) }),
    response: { 200: challengeOf(requestOptionsSchema), ...errors },
  }),
  passwordlessSignIn: route('POST', '/api/v1/auth/webauthn/session', {
    tags,
    summary: 'Browser sign-in with a passkey alone (setting webauthnPasswordless): sets the session cookies like POST /api/v1/auth/session',
    security: [],
    body: assertionSchema,
    response: { 200: obj({ user: userSchema, csrfToken: text, expiresAt: time }), ...errors },
  }),
  listMine: route('GET', '/api/v1/me/webauthn', { tags, summary: 'Your passkeys and security keys', querystring: pageQuery(), response: { 200: page(securityKeySchema), ...errors } }),
  registerOptions: route('POST', '/api/v1/me/webauthn/options', {
    tags,
    summary: 'Start registering a passkey or security key: a challenge and the options for navigator.credentials.create',
    response: { 200: challengeOf(creationOptionsSchema), ...errors },
  }),
  register: route('POST', '/api/v1/me/webauthn', {
    tags,
    summary: 'Finish registering a key with the authenticator\'s answer; a first second factor comes with ten recovery codes (shown once)',
    body: body({ challengeId: str(64), name: str(64), response: registrationResponseSchema }, ['challengeId', 'name', 'response']),
    response: { 201: obj({ key: securityKeySchema, recoveryCodes: { type: ['array', 'null'], items: text } }), ...errors },
  }),
  removeMine: route('DELETE', '/api/v1/me/webauthn/:id', { tags, summary: 'Delete one of your keys', params: idParams, response: { 204: noContent, ...errors } }),
  stepUpOptions: route('POST', '/api/v1/auth/step-up/webauthn/options', {
    tags,
    summary: 'MFA step-up with a key: a challenge for your keys',
    response: { 200: challengeOf(requestOptionsSchema), ...errors },
  }),
  stepUp: route('POST', '/api/v1/auth/step-up/webauthn', {
    tags,
    summary: 'MFA step-up with a key: the answer to the challenge; remembered on the token used for this call like POST /api/v1/auth/step-up',
    body: assertionSchema,
    response: { 200: obj({ verifiedAt: text }), ...errors },
  }),
  listUser: route('GET', '/api/v1/users/:id/webauthn', { tags, summary: "A user's passkeys and security keys (administrators)", params: idParams, querystring: pageQuery(), response: { 200: page(securityKeySchema), ...errors } }),
  resetUser: route('POST', '/api/v1/users/:id/webauthn/reset', {
    tags,
    summary: "Remove every passkey and security key of a user (a lost device); audited",
    params: idParams,
    response: { 200: obj({ removed: int }), ...errors },
  }),
} as const;
