// Personal credentials under a master password: the caller's master password (set, change,
// unlock, lock, reset when forgotten) and their own credentials for targets. Secret values
// go in, never out: answers name which secret fields hold a value, not the values.
import { body, errors, idParams, int, noContent, nullableInt, nullableStr, nullableText, obj, page, pageQuery, str, text, textList, time, bool } from './schema.js';
import { route } from './route.js';

export const PERSONAL_PROTOCOLS = ['ssh', 'telnet', 'rdp'] as const;
/** The reset's confirmation, word for word. */
export const PERSONAL_RESET_CONFIRMATION = 'delete my personal credentials';

// ---- answers
export const vaultStatusSchema = obj({
  /** Whether the caller has a master password. */
  set: bool,
  /** Whether this sign-in session (token or browser session) is unlocked. */
  unlocked: bool,
  /** The personalUnlockIdleSeconds setting: an unlocked session locks after this long unused. */
  idleTimeoutSeconds: int,
});
const targetSchema = obj({ secretId: nullableText, machine: nullableText, port: nullableInt, protocol: { type: ['string', 'null'], enum: [...PERSONAL_PROTOCOLS, null] } });
export const personalCredentialSchema = obj({
  id: text,
  name: text,
  /** A target secret (its machine and launchers), or a machine with an optional port and protocol. */
  target: targetSchema,
  username: text,
  domain: nullableText,
  /** Names of the secret fields that hold a value (password, privateKey, passphrase). */
  secretFields: textList,
  createdAt: time,
  updatedAt: time,
});

// ---- requests
const masterPassword = str(1024);
const targetInput = body({
  secretId: nullableStr(128),
  machine: nullableStr(253),
  port: { type: ['integer', 'null'], minimum: 1, maximum: 65535 },
  protocol: { type: ['string', 'null'], enum: [...PERSONAL_PROTOCOLS, null] },
});
const credentialProps = {
  name: str(200),
  target: targetInput,
  username: str(256),
  domain: nullableStr(256),
  /** Secret values: null (or empty) clears one on update. */
  password: nullableStr(1024),
  privateKey: nullableStr(16384),
  passphrase: nullableStr(1024),
} as const;

export const personal = {
  status: route('GET', '/api/v1/me/master-password', { tags: ['personal'], summary: 'Whether you have a master password and whether this session is unlocked', response: { 200: vaultStatusSchema, ...errors } }),
  setMaster: route('PUT', '/api/v1/me/master-password', {
    tags: ['personal'],
    summary: 'Set your master password (separate from your sign-in password), or change it with currentMasterPassword (re-wraps your vault key); unlocks this session',
    body: body({ masterPassword, currentMasterPassword: masterPassword }, ['masterPassword']),
    response: { 200: vaultStatusSchema, ...errors },
  }),
  unlock: route('POST', '/api/v1/me/master-password/unlock', {
    tags: ['personal'],
    summary: 'Unlock your personal credentials for this session (kept in server memory only, until idle for personalUnlockIdleSeconds); a wrong master password is 401: enter it again',
    body: body({ masterPassword }, ['masterPassword']),
    response: { 200: vaultStatusSchema, ...errors },
  }),
  lock: route('POST', '/api/v1/me/master-password/lock', { tags: ['personal'], summary: 'Lock your personal credentials in this session', response: { 200: vaultStatusSchema, ...errors } }),
  reset: route('POST', '/api/v1/me/master-password/reset', {
    tags: ['personal'],
    summary: `Forgotten master password: deletes all your personal credentials and the master password (confirm: "${PERSONAL_RESET_CONFIRMATION}"); audited`,
    body: body({ confirm: str(64) }, ['confirm']),
    response: { 200: obj({ deleted: int }), ...errors },
  }),
  list: route('GET', '/api/v1/me/personal-credentials', { tags: ['personal'], summary: 'Your personal credentials (never their secret values)', querystring: pageQuery(), response: { 200: page(personalCredentialSchema), ...errors } }),
  get: route('GET', '/api/v1/me/personal-credentials/:id', { tags: ['personal'], params: idParams, response: { 200: personalCredentialSchema, ...errors } }),
  create: route('POST', '/api/v1/me/personal-credentials', {
    tags: ['personal'],
    summary: 'Store one of your own accounts for a target (needs the unlocked vault): sealed under a key only your master password opens',
    body: body(credentialProps, ['name', 'target', 'username']),
    response: { 201: personalCredentialSchema, ...errors },
  }),
  update: route('PATCH', '/api/v1/me/personal-credentials/:id', {
    tags: ['personal'],
    summary: 'Change one of your personal credentials (new secret values need the unlocked vault)',
    params: idParams,
    body: body(credentialProps),
    response: { 200: personalCredentialSchema, ...errors },
  }),
  remove: route('DELETE', '/api/v1/me/personal-credentials/:id', { tags: ['personal'], params: idParams, response: { 204: noContent, ...errors } }),
} as const;
