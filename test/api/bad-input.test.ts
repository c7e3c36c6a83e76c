// Bad input on every route: wrong types, missing and unknown properties, oversized values,
// malformed or huge bodies, odd content types, bad path ids, bad query strings and bad
// tokens. Each route lists a request that passes validation; the generic cases are derived
// from that route's schema in the OpenAPI document and mutate exactly one thing, so the
// refusal is known to come from that thing. Every answer must be a 4xx (never a 500) in
// the uniform {error: {code, message}} shape without stack traces or source paths, and the
// server must not log an unhandled error. A route without an entry in SPECS fails the test.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { Ajv } from 'ajv';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';
import { SoftAuthenticator } from '../support/soft-authenticator.js';
import { documentedRoutes, registeredRoutes } from '../support/routes.js';
import { openpsmLoop, type OpenPsmLoop } from '../support/openpsm.js';
import { sshPublicKeyLine } from '../support/ssh-public-key.js';

type Json = Record<string, unknown>;
interface Schema {
  type?: string | string[];
  nullable?: boolean;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  anyOf?: Schema[];
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  propertyNames?: Schema;
  additionalProperties?: boolean | Schema;
}
interface Case {
  name: string;
  method: string;
  url: string;
  body?: unknown;
  payload?: string;
  headers?: Record<string, string>;
  /** Defaults to the route's token; null sends none. */
  token?: string | null;
  expect: number;
  code?: string;
  /** Text the error message must contain (e.g. the offending property). */
  mention?: string;
}
interface Spec {
  /** No token needed. */
  public?: boolean;
  /** A body that passes validation; required exactly when the route has a body schema. */
  body?: Json;
  /** A query string that passes validation (needed when the route has required query parameters). */
  query?: Record<string, string>;
  /** Run as this token instead of the administrator's (for calls on the caller's own session). */
  token?: string;
  /** Route-specific semantic mistakes: they pass the schema and the handler must refuse them cleanly. */
  extra?: Omit<Case, 'method'>[];
}

const MISSING_ID = '00000000-0000-4000-8000-000000000000';
/** Well-formed WebAuthn answers (a software authenticator's) to challenges the server never gave. */
const SOFT_KEY = new SoftAuthenticator('https://gatehouse.test');
const REGISTRATION = SOFT_KEY.register({ challenge: 'AAAA', rp: { id: 'gatehouse.test' }, user: { id: 'AAAA' } }) as unknown as Json;
const ASSERTION = SOFT_KEY.assert({ challenge: 'AAAA' }) as unknown as Json;
const KIB = 1024;

/** Ids that name nothing, or are malformed: never a 500. */
const BAD_IDS: { name: string; id: string; expect: number; code: string }[] = [
  { name: 'unknown uuid', id: MISSING_ID, expect: 404, code: 'not_found' },
  { name: 'not a uuid', id: 'no-such-thing', expect: 404, code: 'not_found' },
  { name: 'SQL-looking id', id: encodeURIComponent("' OR '1'='1' --"), expect: 404, code: 'not_found' },
  { name: 'path traversal id', id: encodeURIComponent('../../etc/passwd'), expect: 404, code: 'not_found' },
  { name: 'unicode id', id: encodeURIComponent('ключ-🔑'), expect: 404, code: 'not_found' },
  { name: 'NUL in id', id: 'a%00b', expect: 400, code: 'invalid_request' },
  { name: 'broken percent-encoding', id: '%E0%A4%A', expect: 400, code: 'invalid_url' },
  { name: 'overlong id', id: 'x'.repeat(300), expect: 414, code: 'uri_too_long' },
];

const jsonType = (v: unknown): string[] =>
  v === null ? ['null'] : Array.isArray(v) ? ['array'] : typeof v === 'number' ? (Number.isInteger(v) ? ['integer', 'number'] : ['number']) : [typeof v];
const allowedTypes = (s: Schema): string[] => {
  const t = s.type ? [s.type].flat() : s.anyOf ? s.anyOf.flatMap((x) => (x.type ? [x.type].flat() : [])) : [];
  return s.nullable ? [...t, 'null'] : t;
};
/** A string the pattern refuses (the first candidate it does not match), for the "not matching its pattern" case. */
const notMatching = (pattern: string): string => {
  const re = new RegExp(pattern);
  const v = ['abcdef', 'Not A Valid Value!', ' ', '../..', '%00'].find((c) => !re.test(c));
  assert.ok(v !== undefined, `no candidate breaks the pattern ${pattern}: add one`);
  return v;
};
/** Values of the wrong JSON type for a schema: a number for a string, a string for a boolean, … */
const wrongTypes = (s: Schema): unknown[] => {
  const ok = allowedTypes(s);
  if (ok.length === 0) return [];
  return [12345, 'true', true, ['x'], { k: 'v' }, 1.5].filter((v) => !jsonType(v).some((t) => ok.includes(t)));
};
const sampleItem = (s: Schema | undefined, base: unknown[] | undefined): unknown => (base && base.length ? base[0] : s?.enum ? s.enum[0] : 'a');

/** One-fault mutations of a valid body, derived from the body schema. */
interface Mutation {
  name: string;
  body: unknown;
  mention?: string;
  /** Valid for the schema; refused by server-wide policy (NUL characters). */
  policy?: true;
}
function bodyMutations(schema: Schema, base: Json): Mutation[] {
  const out: Mutation[] = [];
  const withProp = (k: string, v: unknown) => ({ ...base, [k]: v });
  for (const k of schema.required ?? []) {
    const { [k]: _drop, ...rest } = base;
    out.push({ name: `missing required "${k}"`, body: rest, mention: k });
  }
  out.push({ name: 'unknown property', body: { ...base, unexpectedProperty: 1 }, mention: 'additional properties' });
  for (const [k, s] of Object.entries(schema.properties ?? {})) {
    for (const v of wrongTypes(s)) out.push({ name: `"${k}" as ${JSON.stringify(v)}`, body: withProp(k, v), mention: k });
    if (s.maxLength !== undefined && allowedTypes(s).includes('string')) out.push({ name: `"${k}" longer than ${s.maxLength}`, body: withProp(k, 'x'.repeat(s.maxLength + 1)), mention: k });
    if (s.minLength) out.push({ name: `"${k}" empty`, body: withProp(k, ''), mention: k });
    if (s.enum) out.push({ name: `"${k}" not one of its choices`, body: withProp(k, 'not-a-valid-choice'), mention: k });
    if (s.pattern) out.push({ name: `"${k}" not matching its pattern`, body: withProp(k, notMatching(s.pattern)), mention: k });
    if (s.maximum !== undefined) out.push({ name: `"${k}" above its maximum`, body: withProp(k, s.maximum + 1), mention: k });
    if (s.minimum !== undefined) out.push({ name: `"${k}" below its minimum`, body: withProp(k, s.minimum - 1), mention: k });
    if (allowedTypes(s).includes('array') && s.items) {
      const b = Array.isArray(base[k]) ? (base[k] as unknown[]) : undefined;
      const item = sampleItem(s.items, b);
      if (s.maxItems !== undefined) out.push({ name: `"${k}" with ${s.maxItems + 1} items`, body: withProp(k, Array(s.maxItems + 1).fill(item)), mention: k });
      if (s.minItems) out.push({ name: `"${k}" empty list`, body: withProp(k, []), mention: k });
      for (const v of wrongTypes(s.items)) out.push({ name: `"${k}" item as ${JSON.stringify(v)}`, body: withProp(k, [v]), mention: k });
      if (s.items.maxLength !== undefined) out.push({ name: `"${k}" item too long`, body: withProp(k, ['x'.repeat(s.items.maxLength + 1)]), mention: k });
      if (s.items.enum) out.push({ name: `"${k}" item not one of its choices`, body: withProp(k, ['not-a-valid-choice']), mention: k });
      if (s.items.properties && item && typeof item === 'object') {
        const it = item as Json;
        out.push({ name: `"${k}" item with an unknown property`, body: withProp(k, [{ ...it, unexpectedProperty: 1 }]), mention: 'additional properties' });
        for (const r of s.items.required ?? []) {
          const { [r]: _drop, ...rest } = it;
          out.push({ name: `"${k}" item missing "${r}"`, body: withProp(k, [rest]), mention: r });
        }
        for (const [ik, is] of Object.entries(s.items.properties)) {
          for (const v of wrongTypes(is).slice(0, 2)) out.push({ name: `"${k}" item "${ik}" as ${JSON.stringify(v)}`, body: withProp(k, [{ ...it, [ik]: v }]), mention: ik });
          if (is.maxLength !== undefined && allowedTypes(is).includes('string')) out.push({ name: `"${k}" item "${ik}" too long`, body: withProp(k, [{ ...it, [ik]: 'x'.repeat(is.maxLength + 1) }]), mention: ik });
          if (is.enum) out.push({ name: `"${k}" item "${ik}" not one of its choices`, body: withProp(k, [{ ...it, [ik]: 'not-a-valid-choice' }]), mention: ik });
        }
      }
    }
    if (allowedTypes(s).includes('object') && s.properties && s.additionalProperties === false) {
      const inner = (base[k] && typeof base[k] === 'object' ? base[k] : {}) as Json;
      out.push({ name: `"${k}" with an unknown property`, body: withProp(k, { ...inner, unexpectedProperty: 1 }), mention: 'additional properties' });
      for (const [ik, is] of Object.entries(s.properties)) {
        for (const v of wrongTypes(is).slice(0, 2)) out.push({ name: `"${k}.${ik}" as ${JSON.stringify(v)}`, body: withProp(k, { ...inner, [ik]: v }), mention: ik });
        if (is.maxLength !== undefined && allowedTypes(is).includes('string')) out.push({ name: `"${k}.${ik}" too long`, body: withProp(k, { ...inner, [ik]: 'x'.repeat(is.maxLength + 1) }), mention: ik });
      }
    }
    if (allowedTypes(s).includes('object') && s.additionalProperties && typeof s.additionalProperties === 'object') {
      const ap = s.additionalProperties;
      if (s.maxProperties !== undefined) out.push({ name: `"${k}" with ${s.maxProperties + 1} properties`, body: withProp(k, Object.fromEntries(Array.from({ length: s.maxProperties + 1 }, (_, i) => [`f${i}`, 'a']))), mention: k });
      if (s.propertyNames?.maxLength !== undefined) out.push({ name: `"${k}" with an overlong key`, body: withProp(k, { ['k'.repeat(s.propertyNames.maxLength + 1)]: 'a' }), mention: k });
      if (ap.maxLength !== undefined) out.push({ name: `"${k}" with an overlong value`, body: withProp(k, { f: 'x'.repeat(ap.maxLength + 1) }), mention: k });
      for (const v of wrongTypes(ap).slice(0, 2)) out.push({ name: `"${k}" value as ${JSON.stringify(v)}`, body: withProp(k, { f: v }), mention: k });
    }
  }
  const firstString = Object.entries(schema.properties ?? {}).find(([k, s]) => allowedTypes(s).includes('string') && typeof base[k] === 'string');
  if (firstString) out.push({ name: `NUL character in "${firstString[0]}"`, body: withProp(firstString[0], `${base[firstString[0]]}\u0000x`), mention: 'NUL', policy: true });
  return out;
}

interface QueryParam {
  name: string;
  required?: boolean;
  schema: Schema;
}
/** One-fault mutations of a valid query string, derived from the query parameters' schemas. */
function queryMutations(params: QueryParam[], base: Record<string, string>): { name: string; qs: string; mention?: string }[] {
  if (params.length === 0) return [];
  const qs = (over: Record<string, string | null>, twice?: string) => {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...base, ...over })) if (v !== null) u.append(k, v);
    if (twice) u.append(twice, u.get(twice) ?? '1');
    return u.toString();
  };
  const out: { name: string; qs: string; mention?: string }[] = [{ name: 'unknown query parameter', qs: qs({ bogus: '1' }), mention: 'additional properties' }];
  for (const { name, required, schema: s } of params) {
    if (required) out.push({ name: `${name} missing`, qs: qs({ [name]: null }), mention: name });
    if (s.type === 'integer') {
      out.push({ name: `${name} not a number`, qs: qs({ [name]: 'abc' }), mention: name }, { name: `${name} a fraction`, qs: qs({ [name]: '1.5' }), mention: name }, { name: `${name} given twice`, qs: qs({ [name]: '1' }, name), mention: name });
      if (s.maximum !== undefined) out.push({ name: `${name} above maximum`, qs: qs({ [name]: String(s.maximum + 1) }), mention: name });
      if (s.minimum !== undefined) out.push({ name: `${name} below minimum`, qs: qs({ [name]: String(s.minimum - 1) }), mention: name });
    }
    if (s.type === 'string') {
      if (s.maxLength !== undefined) out.push({ name: `${name} longer than ${s.maxLength}`, qs: qs({ [name]: 'q'.repeat(s.maxLength + 1) }), mention: name });
      if (s.minLength) out.push({ name: `${name} empty`, qs: qs({ [name]: '' }), mention: name });
      if (s.enum) out.push({ name: `${name} not one of its choices`, qs: qs({ [name]: 'not-a-valid-choice' }), mention: name });
      out.push({ name: `${name} with a NUL`, qs: qs({ [name]: 'a\u0000b' }), mention: 'NUL' });
    }
  }
  return out;
}

interface Fixtures {
  /** OpenPSM (test/support/openpsm.ts): the application key, and getcredential/endsession calls each on a fresh link. */
  psmAppKey: string;
  psmWrongMaster: { headers: Record<string, string>; body: Json };
  psmMismatch: { headers: Record<string, string>; body: Json };
  psmUsed: { headers: Record<string, string>; body: Json };
  psmEndMismatch: { headers: Record<string, string>; body: Json };
  psmEndUnfetched: { headers: Record<string, string>; body: Json };
  /** A start waiting for its master password, and one whose credential was retrieved. */
  psmPendingId: string;
  psmReadyId: string;
  adminId: string;
  selfToken: string;
  /** A second session of the self user, for the logout route. */
  logoutToken: string;
  /** A third session of the self user, for the browser sign-out route. */
  signOutToken: string;
  /** An application account's credentials (refused by the browser sign-in). */
  appAccount: { username: string; password: string };
  /** A launch ticket of the administrator's, which the self user cannot decline. */
  othersTicket: string;
  /** An unused RDP launch ticket of the administrator's. */
  rdpTicket: string;
  /** An RDP launch ticket of the administrator's, declined (so used up). */
  usedRdpTicket: string;
  /** A Windows-account secret (mapped to rdp only). */
  windowsSecretId: string;
  selfPassword: string;
  selfApiTokenId: string;
  clientId: string;
  userId: string;
  groupId: string;
  roleId: string;
  folderId: string;
  secretId: string;
  templateId: string;
  entry: { principalType: string; principal: string; level: string };
  pemPublicKey: string;
  pemPrivateKey: string;
  /** An SSH key the administrator has registered. */
  registeredKey: string;
  /** An access request policy (approver: target-user) attached to policySecretId. */
  policyId: string;
  policySecretId: string;
  /** An access level attached to secretId, nobody pre-approved. */
  levelId: string;
  /** A pending access request of the administrator's on policySecretId. */
  requestId: string;
  /** The administrator's master password; their personal credential (for machine other.example). */
  adminMaster: string;
  adminPersonalId: string;
  /** A personal credential of the self user. */
  selfPersonalId: string;
  /** A pending delegated-trust request for the self user (Manage Applications). */
  selfTrustId: string;
  /** An application account's token, and a session connector launcher whose RDS Server Credentials it may not see. */
  appToken: string;
  rdsLauncherId: string;
  /** A session of the self user that is not unlocked; one of a user without a master password. */
  lockedToken: string;
  noMasterToken: string;
  /** A secret the administrator has checked out. */
  heldByAdminSecretId: string;
  /** A secret another user has checked out. */
  heldByOtherSecretId: string;
  /** A syslog audit sink named target-sink. */
  auditSinkId: string;
}

/** One entry per route: a valid request plus route-specific mistakes. */
const makeSpecs = (fx: Fixtures): Record<string, Spec> => ({
    'GET /healthz': { public: true, extra: [{ name: 'junk query and body are ignored', url: '/healthz?x=%3Cscript%3E&limit=abc', payload: '{bad', headers: { 'content-type': 'application/json' }, expect: 200 }] },
    'POST /api/services/v1/secureaccessgateway/getcredential': {
      public: true,
      body: { computer: 'c1', credential: MISSING_ID, password: 'x', mode: 'SSH', session: MISSING_ID, loginsessionid: MISSING_ID },
      extra: [
        { name: 'no access token', url: '/api/services/v1/secureaccessgateway/getcredential', token: null, headers: { 'x-api-application-key': fx.psmAppKey }, body: fx.psmMismatch.body, expect: 401, code: 'invalid_token' },
        { name: 'unknown access token', url: '/api/services/v1/secureaccessgateway/getcredential', token: null, headers: { authorization: 'Bearer no-such-token', 'x-api-application-key': fx.psmAppKey }, body: fx.psmMismatch.body, expect: 401, code: 'invalid_token' },
        { name: 'no application key', url: '/api/services/v1/secureaccessgateway/getcredential', token: null, headers: { authorization: fx.psmMismatch.headers?.authorization ?? '' }, body: fx.psmMismatch.body, expect: 403, code: 'invalid_application_key' },
        { name: 'wrong application key', url: '/api/services/v1/secureaccessgateway/getcredential', token: null, headers: { ...fx.psmMismatch.headers, 'x-api-application-key': MISSING_ID }, body: fx.psmMismatch.body, expect: 403, code: 'invalid_application_key' },
        { name: 'another credential than the link', url: '/api/services/v1/secureaccessgateway/getcredential', token: null, headers: fx.psmMismatch.headers, body: fx.psmMismatch.body, expect: 400, code: 'link_mismatch' },
        { name: 'wrong master password', url: '/api/services/v1/secureaccessgateway/getcredential', token: null, headers: fx.psmWrongMaster.headers, body: fx.psmWrongMaster.body, expect: 401, code: 'invalid_master_password' },
        { name: 'credential already retrieved', url: '/api/services/v1/secureaccessgateway/getcredential', token: null, headers: fx.psmUsed.headers, body: fx.psmUsed.body, expect: 409, code: 'link_used' },
      ],
    },
    'POST /api/services/v1/secureaccessgateway/endsession': {
      public: true,
      body: { session: MISSING_ID, loginsessionid: MISSING_ID },
      extra: [
        { name: 'unknown access token', url: '/api/services/v1/secureaccessgateway/endsession', token: null, headers: { authorization: 'Bearer no-such-token', 'x-api-application-key': fx.psmAppKey }, body: fx.psmEndMismatch.body, expect: 401, code: 'invalid_token' },
        { name: 'another session', url: '/api/services/v1/secureaccessgateway/endsession', token: null, headers: fx.psmEndMismatch.headers, body: fx.psmEndMismatch.body, expect: 400, code: 'link_mismatch' },
        { name: 'credential never retrieved', url: '/api/services/v1/secureaccessgateway/endsession', token: null, headers: fx.psmEndUnfetched.headers, body: fx.psmEndUnfetched.body, expect: 400, code: 'link_mismatch' },
      ],
    },
    'POST /api/v1/openpsm/links': {
      body: { secretId: fx.secretId, mode: 'SSH' },
      extra: [
        { name: 'unknown secret', url: '/api/v1/openpsm/links', body: { secretId: MISSING_ID, mode: 'SSH' }, expect: 404, code: 'not_found' },
        { name: "someone else's personal credential", url: '/api/v1/openpsm/links', body: { secretId: fx.secretId, mode: 'SSH', personalCredentialId: fx.selfPersonalId }, expect: 403, code: 'not_your_credential' },
      ],
    },
    'GET /api/v1/openpsm/gateway': {},
    'GET /api/v1/openpsm/starts/:id': { public: true },
    'POST /api/v1/openpsm/starts/:id/password': {
      public: true,
      body: { password: 'x' },
      extra: [
        { name: 'wrong master password', url: `/api/v1/openpsm/starts/${fx.psmPendingId}/password`, body: { password: 'not-the-master-password' }, expect: 401, code: 'invalid_master_password' },
        { name: 'credential already retrieved', url: `/api/v1/openpsm/starts/${fx.psmReadyId}/password`, body: { password: 'x' }, expect: 409, code: 'already_unlocked' },
      ],
    },
    'GET /api/v1/openpsm/starts/:id/terminal': { public: true },
    'GET /api/v1/openpsm/end-notices': {},
    // Logon tickets (seed 004): the TSplus-compatible paths are no API routes; their bad input is in test/api/logon-tickets.test.ts.
    'GET /api/v1/logon-tickets/key': {},
    'POST /api/v1/logon-tickets/key/rotate': {},
    // Browser RDP: the ticket travels in the WebSocket (RDCleanPath), so the query only says consent.
    'GET /api/v1/rdp/socket': {
      public: true,
      extra: [
        { name: 'consent not one of its choices', url: '/api/v1/rdp/socket?consent=yes', expect: 400, code: 'invalid_request', mention: 'consent' },
        { name: 'a ticket in the query', url: `/api/v1/rdp/socket?ticket=${'A'.repeat(32)}`, expect: 400, code: 'invalid_request', mention: 'additional properties' },
      ],
    },
    'GET /api/openapi.json': { public: true, extra: [{ name: 'junk query is ignored', url: '/api/openapi.json?format=%3Cx%3E&x=' + 'y'.repeat(4 * KIB), expect: 200 }, { name: 'NUL in the query', url: '/api/openapi.json?format=%00', expect: 400, code: 'invalid_request' }] },
    'GET /api/v1/settings': {},
    'GET /api/v1/cluster/nodes': {},
    'PATCH /api/v1/settings': {
      body: { lockoutMinutes: 15, allowConnectionSharing: false },
      extra: [
        { name: 'publicUrl not https', url: '/api/v1/settings', body: { publicUrl: 'http://gatehouse.example' }, expect: 400, code: 'invalid_request' },
        { name: 'publicUrl garbage', url: '/api/v1/settings', body: { publicUrl: 'not a url at all' }, expect: 400, code: 'invalid_request' },
        { name: 'a negative request rate limit', url: '/api/v1/settings', body: { loginRequestsPerIp: -1 }, expect: 400, code: 'invalid_request', mention: 'loginRequestsPerIp' },
        { name: 'a request rate limit as text', url: '/api/v1/settings', body: { ticketRequestsPerAccount: '60' }, expect: 400, code: 'invalid_request', mention: 'ticketRequestsPerAccount' },
      ],
    },
    'POST /api/v1/admin/rotate-master-key': {
      body: { newKey: 'A'.repeat(44) },
      extra: [
        { name: 'newKey too short', url: '/api/v1/admin/rotate-master-key', body: { newKey: 'short' }, expect: 400, code: 'invalid_request' },
        { name: 'newKey not base64 or hex', url: '/api/v1/admin/rotate-master-key', body: { newKey: '!'.repeat(44) }, expect: 400, code: 'invalid_request' },
        // A POST without a body counts as {} (rotate with a generated key when the key is file-backed).
        { name: 'no body at all', url: '/api/v1/admin/rotate-master-key', expect: 200 },
      ],
    },

    'POST /api/v1/auth/login': {
      public: true,
      // With a (well-formed, never asked for) key answer, so the mutations reach inside it.
      body: { username: 'admin', password: 'wrong-password-here', webauthn: { challengeId: MISSING_ID, response: ASSERTION } },
      extra: [
        { name: 'unknown user', url: '/api/v1/auth/login', body: { username: 'nobody-here', password: 'x' }, expect: 401, code: 'invalid_credentials' },
        { name: 'TOTP code of the wrong shape for an account without TOTP', url: '/api/v1/auth/login', body: { username: 'nobody-here', password: 'x', totp: 'abc' }, expect: 401, code: 'invalid_credentials' },
      ],
    },
    'POST /oauth2/token': {
      public: true,
      body: { grant_type: 'client_credentials', client_id: fx.clientId, client_secret: 'wrong-secret' },
      extra: [
        { name: 'unsupported grant type', url: '/oauth2/token', body: { grant_type: 'password', client_id: fx.clientId, client_secret: 'x' }, expect: 400, code: 'unsupported_grant_type' },
        { name: 'no client credentials', url: '/oauth2/token', body: { grant_type: 'client_credentials' }, expect: 400, code: 'invalid_client' },
        { name: 'wrong client secret', url: '/oauth2/token', body: { grant_type: 'client_credentials', client_id: fx.clientId, client_secret: 'nope' }, expect: 401, code: 'invalid_client' },
        { name: 'Basic credentials with broken percent-encoding', url: '/oauth2/token', body: { grant_type: 'client_credentials' }, headers: { authorization: `Basic ${Buffer.from('%E0%A4%A:%').toString('base64')}` }, token: null, expect: 400, code: 'invalid_client' },
        { name: 'Basic credentials with a NUL', url: '/oauth2/token', body: { grant_type: 'client_credentials' }, headers: { authorization: `Basic ${Buffer.from('a%00b:c').toString('base64')}` }, token: null, expect: 400, code: 'invalid_client' },
        { name: 'Basic credentials that are not base64', url: '/oauth2/token', body: { grant_type: 'client_credentials' }, headers: { authorization: 'Basic ###' }, token: null, expect: 400, code: 'invalid_client' },
        { name: 'form body with a wrong grant', url: '/oauth2/token', payload: 'grant_type=implicit', headers: { 'content-type': 'application/x-www-form-urlencoded' }, expect: 400, code: 'unsupported_grant_type' },
        { name: 'form body over 64 KiB', url: '/oauth2/token', payload: `grant_type=client_credentials&scope=${'s'.repeat(70 * KIB)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, expect: 413, code: 'payload_too_large' },
      ],
    },
    'POST /api/v1/auth/logout': { token: fx.logoutToken },
    'POST /api/v1/auth/session': {
      public: true,
      body: { username: 'admin', password: 'wrong-password-here', webauthn: { challengeId: MISSING_ID, response: ASSERTION } },
      extra: [
        { name: 'unknown user', url: '/api/v1/auth/session', body: { username: 'nobody-here', password: 'x' }, expect: 401, code: 'invalid_credentials' },
        { name: 'TOTP code of the wrong shape for an account without TOTP', url: '/api/v1/auth/session', body: { username: 'nobody-here', password: 'x', totp: 'abc' }, expect: 401, code: 'invalid_credentials' },
        { name: 'application account', url: '/api/v1/auth/session', body: { username: fx.appAccount.username, password: fx.appAccount.password }, expect: 403, code: 'application_account' },
        // What any site can make a browser post (no preflight for forms): it signed the person into the site's account (login CSRF).
        { name: 'a form body (login CSRF)', url: '/api/v1/auth/session', payload: 'username=nobody-here&password=x', headers: { 'content-type': 'application/x-www-form-urlencoded' }, expect: 415, code: 'unsupported_media_type' },
      ],
    },
    'DELETE /api/v1/auth/session': { token: fx.signOutToken },
    'GET /api/v1/me': {},
    'POST /api/v1/me/password': {
      token: fx.selfToken,
      body: { currentPassword: 'not-the-current-one', newPassword: 'a-Long-enough-new-password-1' },
      extra: [
        { name: 'wrong current password', url: '/api/v1/me/password', body: { currentPassword: 'not-the-current-one', newPassword: 'a-Long-enough-new-password-1' }, expect: 403, code: 'invalid_credentials' },
        { name: 'weak new password', url: '/api/v1/me/password', body: { currentPassword: fx.selfPassword, newPassword: 'short' }, expect: 400, code: 'weak_password' },
      ],
    },
    'POST /api/v1/me/totp': { token: fx.selfToken },
    'POST /api/v1/me/totp/confirm': {
      token: fx.selfToken,
      body: { code: '123456' },
      extra: [{ name: 'confirm before starting enrolment', url: '/api/v1/me/totp/confirm', body: { code: '123456' }, expect: 400, code: 'totp_not_started' }],
    },
    'POST /api/v1/auth/step-up': {
      token: fx.selfToken,
      body: { code: '123456' },
      extra: [{ name: 'step-up without TOTP enrolled', url: '/api/v1/auth/step-up', body: { code: '123456' }, expect: 403, code: 'mfa_not_enrolled' }],
    },
    'POST /api/v1/me/totp/disable': { token: fx.selfToken, body: { password: 'wrong-password' }, extra: [{ name: 'wrong password', url: '/api/v1/me/totp/disable', body: { password: 'wrong-password' }, expect: 403, code: 'invalid_credentials' }] },
    'GET /api/v1/tokens': {},
    'POST /api/v1/tokens': { body: { name: 'bad-input-token', scopes: ['read'], expiresInDays: 30 } },
    'DELETE /api/v1/tokens/:id': { extra: [{ name: "another user's token", url: `/api/v1/tokens/${fx.selfApiTokenId}`, expect: 404, code: 'not_found' }] },

    'GET /api/v1/users': {},
    'POST /api/v1/users': {
      body: { username: 'never-created', displayName: 'Never', email: null, password: 'a-Long-enough-password-1', isApplication: false, enabled: true, roles: ['User'], groups: ['target-group'] },
      extra: [
        { name: 'username with spaces', url: '/api/v1/users', body: { username: 'bad name!' }, expect: 400, code: 'invalid_request' },
        { name: 'weak password', url: '/api/v1/users', body: { username: 'weak-pw', password: 'short' }, expect: 400, code: 'weak_password' },
        { name: 'unknown role', url: '/api/v1/users', body: { username: 'no-role', roles: ['Wizard'] }, expect: 400, code: 'invalid_request' },
        { name: 'unknown group', url: '/api/v1/users', body: { username: 'no-group', groups: ['no-such-group'] }, expect: 400, code: 'invalid_request' },
        { name: 'existing username', url: '/api/v1/users', body: { username: 'admin' }, expect: 409, code: 'conflict' },
      ],
    },
    'GET /api/v1/users/:id': {},
    'PATCH /api/v1/users/:id': {
      body: { displayName: 'Renamed', enabled: true },
      extra: [
        { name: 'disable yourself', url: `/api/v1/users/${fx.adminId}`, body: { enabled: false }, expect: 403, code: 'forbidden' },
        { name: 'unknown role', url: `/api/v1/users/${fx.userId}`, body: { roles: ['Wizard'] }, expect: 400, code: 'invalid_request' },
        { name: 'username taken', url: `/api/v1/users/${fx.userId}`, body: { username: 'admin' }, expect: 409, code: 'conflict' },
        { name: 'invalid username', url: `/api/v1/users/${fx.userId}`, body: { username: '-leading-dash' }, expect: 400, code: 'invalid_request' },
      ],
    },
    'DELETE /api/v1/users/:id': {},
    'POST /api/v1/users/:id/unlock': {},
    'POST /api/v1/users/:id/totp/reset': {},
    'POST /api/v1/users/:id/client-credentials': { extra: [{ name: 'not an application account', url: `/api/v1/users/${fx.userId}/client-credentials`, expect: 400, code: 'not_application_account' }] },
    // WebAuthn: this app is reached by address, so a ceremony that needs the relying party is refused with what to set.
    'POST /api/v1/auth/webauthn/options': {
      public: true,
      body: { username: 'nobody-for-keys', password: 'x' },
      extra: [
        { name: 'unknown user', url: '/api/v1/auth/webauthn/options', body: { username: 'nobody-for-keys', password: 'x' }, expect: 401, code: 'invalid_credentials' },
        { name: 'username without password', url: '/api/v1/auth/webauthn/options', body: { username: 'nobody-here' }, expect: 400, code: 'invalid_request' },
        { name: 'passwordless while the setting is off', url: '/api/v1/auth/webauthn/options', body: {}, expect: 403, code: 'passwordless_disabled' },
        { name: 'an account without keys', url: '/api/v1/auth/webauthn/options', body: { username: 'bad-input-self', password: fx.selfPassword }, expect: 400, code: 'no_security_keys' },
      ],
    },
    'POST /api/v1/auth/webauthn/session': {
      public: true,
      body: { challengeId: MISSING_ID, response: ASSERTION },
      extra: [{ name: 'passwordless while the setting is off', url: '/api/v1/auth/webauthn/session', body: { challengeId: MISSING_ID, response: ASSERTION }, expect: 403, code: 'passwordless_disabled' }],
    },
    'GET /api/v1/me/webauthn': {},
    'POST /api/v1/me/webauthn/options': { extra: [{ name: 'a node reached by address only', url: '/api/v1/me/webauthn/options', expect: 409, code: 'webauthn_not_configured' }] },
    'POST /api/v1/me/webauthn': {
      body: { challengeId: MISSING_ID, name: 'key', response: REGISTRATION },
      extra: [
        { name: 'a blank name', url: '/api/v1/me/webauthn', body: { challengeId: MISSING_ID, name: '   ', response: REGISTRATION }, expect: 400, code: 'invalid_name' },
        { name: 'a control character in the name', url: '/api/v1/me/webauthn', body: { challengeId: MISSING_ID, name: 'a\u0007b', response: REGISTRATION }, expect: 400, code: 'invalid_name' },
        { name: 'a node reached by address only', url: '/api/v1/me/webauthn', body: { challengeId: MISSING_ID, name: 'key', response: REGISTRATION }, expect: 409, code: 'webauthn_not_configured' },
      ],
    },
    'DELETE /api/v1/me/webauthn/:id': {},
    'POST /api/v1/auth/step-up/webauthn/options': { extra: [{ name: 'no keys', url: '/api/v1/auth/step-up/webauthn/options', expect: 400, code: 'no_security_keys' }] },
    'POST /api/v1/auth/step-up/webauthn': {
      token: fx.selfToken,
      body: { challengeId: MISSING_ID, response: ASSERTION },
      extra: [{ name: 'step-up without a second factor', url: '/api/v1/auth/step-up/webauthn', body: { challengeId: MISSING_ID, response: ASSERTION }, expect: 403, code: 'mfa_not_enrolled' }],
    },
    'GET /api/v1/users/:id/webauthn': {},
    'POST /api/v1/users/:id/webauthn/reset': {},
    'GET /api/v1/auth/providers': { public: true, extra: [{ name: 'junk query is ignored', url: '/api/v1/auth/providers?x=%3Cscript%3E&y=' + 'z'.repeat(4 * KIB), expect: 200 }] },
    'POST /api/v1/auth/oidc/cli-token': { public: true, body: { code: 'not-a-code', verifier: 'not-the-verifier' } },
    'GET /api/v1/oidc-providers': {},
    'POST /api/v1/oidc-providers': {
      body: { name: 'never-created-idp', displayName: 'IdP', issuer: 'https://idp.example.com', clientId: 'gh' },
      extra: [
        { name: 'plain http issuer off loopback', url: '/api/v1/oidc-providers', body: { name: 'idp-http', displayName: 'IdP', issuer: 'http://idp.example.com', clientId: 'gh' }, expect: 400, code: 'invalid_request' },
        { name: 'unknown mapped group', url: '/api/v1/oidc-providers', body: { name: 'idp-group', displayName: 'IdP', issuer: 'https://idp.example.com', clientId: 'gh', groupMap: [{ claim: 'x', group: 'no-such-group' }] }, expect: 400, code: 'invalid_request' },
        { name: 'name not a path segment', url: '/api/v1/oidc-providers', body: { name: 'Bad Name', displayName: 'IdP', issuer: 'https://idp.example.com', clientId: 'gh' }, expect: 400, code: 'invalid_request', mention: 'name' },
      ],
    },
    'GET /api/v1/oidc-providers/:id': {},
    'PATCH /api/v1/oidc-providers/:id': { body: { displayName: 'Changed' } },
    'DELETE /api/v1/oidc-providers/:id': {},
    'GET /api/v1/users/:id/oidc-links': {},
    'DELETE /api/v1/users/:id/oidc-links/:providerId': {
      extra: [
        { name: 'unknown link of an unknown user', url: `/api/v1/users/${MISSING_ID}/oidc-links/${MISSING_ID}`, expect: 404, code: 'not_found' },
        { name: 'provider id with a NUL', url: `/api/v1/users/${MISSING_ID}/oidc-links/a%00b`, expect: 400, code: 'invalid_request' },
        { name: 'overlong provider id', url: `/api/v1/users/${MISSING_ID}/oidc-links/${'p'.repeat(200)}`, expect: 414, code: 'uri_too_long' },
      ],
    },
    'GET /api/v1/audit-sinks': {},
    'POST /api/v1/audit-sinks': {
      body: { name: 'never-created-sink', kind: 'syslog', host: '127.0.0.1', port: 6514 },
      extra: [
        { name: 'webhook without an HMAC key', url: '/api/v1/audit-sinks', body: { name: 'hook-no-key', kind: 'webhook', url: 'https://siem.example.com/in' }, expect: 400, code: 'invalid_request', mention: 'hmacKey' },
        { name: 'HMAC key too short', url: '/api/v1/audit-sinks', body: { name: 'hook-short', kind: 'webhook', url: 'https://siem.example.com/in', hmacKey: 'short' }, expect: 400, code: 'invalid_request', mention: 'hmacKey' },
        { name: 'plain http webhook off loopback', url: '/api/v1/audit-sinks', body: { name: 'hook-http', kind: 'webhook', url: 'http://siem.example.com/in', hmacKey: 'a-long-enough-hmac-key' }, expect: 400, code: 'invalid_request', mention: 'url' },
        { name: 'webhook URL with port 0', url: '/api/v1/audit-sinks', body: { name: 'hook-port-0', kind: 'webhook', url: 'https://siem.example.com:0/in', hmacKey: 'a-long-enough-hmac-key' }, expect: 400, code: 'invalid_request', mention: 'port 0' },
        { name: 'CA on a plain http webhook', url: '/api/v1/audit-sinks', body: { name: 'hook-http-ca', kind: 'webhook', url: 'http://127.0.0.1:9/in', hmacKey: 'a-long-enough-hmac-key', caPem: 'a CA' }, expect: 400, code: 'invalid_request', mention: 'https' },
        { name: 'syslog without a port', url: '/api/v1/audit-sinks', body: { name: 'syslog-no-port', kind: 'syslog', host: '127.0.0.1' }, expect: 400, code: 'invalid_request', mention: 'port' },
        { name: 'CA that is no certificate', url: '/api/v1/audit-sinks', body: { name: 'syslog-bad-ca', kind: 'syslog', host: '127.0.0.1', port: 6514, tls: true, caPem: 'not a certificate' }, expect: 400, code: 'invalid_request', mention: 'caPem' },
        { name: 'CA on a plain TCP syslog sink', url: '/api/v1/audit-sinks', body: { name: 'syslog-ca-no-tls', kind: 'syslog', host: '127.0.0.1', port: 6514, caPem: 'a CA' }, expect: 400, code: 'invalid_request', mention: 'tls' },
        { name: 'client certificate without its key', url: '/api/v1/audit-sinks', body: { name: 'syslog-half-cert', kind: 'syslog', host: '127.0.0.1', port: 6514, tls: true, clientCertPem: 'x' }, expect: 400, code: 'invalid_request', mention: 'clientKeyPem' },
        { name: 'unknown kind', url: '/api/v1/audit-sinks', body: { name: 'sink-kind', kind: 'kafka', host: '127.0.0.1', port: 1 }, expect: 400, code: 'invalid_request', mention: 'kind' },
        { name: 'facility out of range', url: '/api/v1/audit-sinks', body: { name: 'sink-fac', kind: 'syslog', host: '127.0.0.1', port: 1, facility: 24 }, expect: 400, code: 'invalid_request', mention: 'facility' },
        { name: 'existing name', url: '/api/v1/audit-sinks', body: { name: 'target-sink', kind: 'syslog', host: '127.0.0.1', port: 6514 }, expect: 409, code: 'conflict' },
      ],
    },
    'GET /api/v1/audit-sinks/:id': {},
    'PATCH /api/v1/audit-sinks/:id': {
      body: { enabled: false },
      extra: [
        { name: 'retryMaxMs below retryInitialMs', url: `/api/v1/audit-sinks/${fx.auditSinkId}`, body: { retryInitialMs: 5000, retryMaxMs: 1000 }, expect: 400, code: 'invalid_request', mention: 'retryMaxMs' },
        { name: 'a CA on the plain TCP syslog sink', url: `/api/v1/audit-sinks/${fx.auditSinkId}`, body: { caPem: 'a CA' }, expect: 400, code: 'invalid_request', mention: 'tls' },
        { name: 'a url on a syslog sink', url: `/api/v1/audit-sinks/${fx.auditSinkId}`, body: { url: 'https://siem.example.com/in' }, expect: 400, code: 'invalid_request', mention: 'url' },
      ],
    },
    'DELETE /api/v1/audit-sinks/:id': {},
    'GET /api/v1/groups': {},
    'POST /api/v1/groups': {
      body: { name: 'never-created-group', description: 'x', members: [fx.userId], roles: ['User'] },
      extra: [
        { name: 'existing name', url: '/api/v1/groups', body: { name: 'target-group' }, expect: 409, code: 'conflict' },
        { name: 'unknown member', url: '/api/v1/groups', body: { name: 'g-unknown-member', members: ['nobody-here'] }, expect: 400, code: 'invalid_request' },
      ],
    },
    'GET /api/v1/groups/:id': {},
    'PATCH /api/v1/groups/:id': {
      body: { description: 'changed' },
      extra: [{ name: 'one member named twice (id and name) is not a 500', url: `/api/v1/groups/${fx.groupId}`, body: { members: [fx.userId, 'target-user'], roles: [fx.roleId, 'target-role'] }, expect: 200 }],
    },
    'DELETE /api/v1/groups/:id': {},
    'GET /api/v1/roles': {},
    'POST /api/v1/roles': { body: { name: 'never-created-role', description: 'x', permissions: ['launch'] }, extra: [{ name: 'name of a built-in role', url: '/api/v1/roles', body: { name: 'Administrator' }, expect: 409, code: 'conflict' }] },
    'GET /api/v1/roles/:id': {},
    'PATCH /api/v1/roles/:id': { body: { description: 'changed' }, extra: [{ name: 'built-in role', url: '/api/v1/roles/administrator', body: { description: 'mine now' }, expect: 403, code: 'builtin_role' }] },
    'DELETE /api/v1/roles/:id': { extra: [{ name: 'built-in role', url: '/api/v1/roles/user', expect: 403, code: 'builtin_role' }] },
    'GET /api/v1/directory/ldap': {},
    'PUT /api/v1/directory/ldap': {
      body: { timeoutSeconds: 10 },
      extra: [
        { name: 'url not ldap', url: '/api/v1/directory/ldap', body: { url: 'http://127.0.0.1:389' }, expect: 400, code: 'invalid_ldap_config' },
        { name: 'ldaps url with StartTLS', url: '/api/v1/directory/ldap', body: { url: 'ldaps://127.0.0.1:636', security: 'starttls' }, expect: 400, code: 'invalid_ldap_config' },
        { name: 'unbalanced filter', url: '/api/v1/directory/ldap', body: { userFilter: '(uid=*' }, expect: 400, code: 'invalid_ldap_config' },
        { name: 'filter without parentheses', url: '/api/v1/directory/ldap', body: { disabledFilter: 'pwdAccountLockedTime=*' }, expect: 400, code: 'invalid_ldap_config' },
        { name: 'attribute with a filter in it', url: '/api/v1/directory/ldap', body: { usernameAttribute: 'uid)(cn=*' }, expect: 400, code: 'invalid_ldap_config' },
        { name: 'relative CA file', url: '/api/v1/directory/ldap', body: { caFile: 'ca.pem' }, expect: 400, code: 'invalid_ldap_config' },
        { name: 'mapping to an unknown group', url: '/api/v1/directory/ldap', body: { groupMappings: [{ ldapGroup: 'cn=admins,dc=example', group: 'no-such-group' }] }, expect: 400, code: 'invalid_ldap_config' },
        { name: 'enabled without a server', url: '/api/v1/directory/ldap', body: { enabled: true }, expect: 400, code: 'invalid_ldap_config' },
        { name: 'bind secret that does not exist', url: '/api/v1/directory/ldap', body: { bindSecretId: 'no-such-secret' }, expect: 404, code: 'not_found' },
      ],
    },
    'POST /api/v1/directory/ldap/test': {},
    'POST /api/v1/directory/ldap/sync': {},

    'GET /api/v1/folders': {},
    'POST /api/v1/folders': {
      body: { name: 'never-created-folder', parentId: null, inheritPermissions: true },
      extra: [
        { name: 'unknown parent', url: '/api/v1/folders', body: { name: 'orphan', parentId: MISSING_ID }, expect: 404, code: 'not_found' },
        { name: 'empty parent id', url: '/api/v1/folders', body: { name: 'orphan', parentId: '' }, expect: 404, code: 'not_found' },
      ],
    },
    'GET /api/v1/folders/:id': {},
    'PATCH /api/v1/folders/:id': {
      body: { name: 'renamed', inheritPermissions: true },
      extra: [
        { name: 'move into itself', url: `/api/v1/folders/${fx.folderId}`, body: { parentId: fx.folderId }, expect: 400, code: 'invalid_request' },
        { name: 'move under an unknown folder', url: `/api/v1/folders/${fx.folderId}`, body: { parentId: MISSING_ID }, expect: 404, code: 'not_found' },
        { name: 'move under an empty parent id', url: `/api/v1/folders/${fx.folderId}`, body: { parentId: '' }, expect: 404, code: 'not_found' },
        { name: 'attach an unknown access policy', url: `/api/v1/folders/${fx.folderId}`, body: { policyId: MISSING_ID }, expect: 404, code: 'not_found' },
      ],
    },
    'DELETE /api/v1/folders/:id': { extra: [{ name: 'folder is not empty', url: `/api/v1/folders/${fx.folderId}`, expect: 409, code: 'folder_not_empty' }] },
    'GET /api/v1/folders/:id/permissions': {},
    'PUT /api/v1/folders/:id/permissions': {
      body: { inheritPermissions: true, entries: [fx.entry] },
      extra: [
        { name: 'unknown user', url: `/api/v1/folders/${fx.folderId}/permissions`, body: { entries: [{ principalType: 'user', principal: 'nobody-here', level: 'view' }] }, expect: 400, code: 'invalid_request' },
        { name: 'unknown group', url: `/api/v1/folders/${fx.folderId}/permissions`, body: { entries: [{ principalType: 'group', principal: 'no-such-group', level: 'view' }] }, expect: 400, code: 'invalid_request' },
      ],
    },

    'GET /api/v1/templates': {},
    'GET /api/v1/templates/:id': {},
    'POST /api/v1/templates': {
      body: { name: 'never-created-template', fields: [{ name: 'host', label: 'Host', type: 'text', secret: false, required: true, default: 'h' }], machineField: 'host', domainField: null, usernameField: null, launchers: ['ssh'] },
      extra: [
        { name: 'field name starting with a digit', url: '/api/v1/templates', body: { name: 't-bad-field', fields: [{ name: '1st', label: 'x', type: 'text' }] }, expect: 400, code: 'invalid_request' },
        { name: 'field defined twice', url: '/api/v1/templates', body: { name: 't-dup-field', fields: [{ name: 'a', label: 'x', type: 'text' }, { name: 'a', label: 'y', type: 'text' }] }, expect: 400, code: 'invalid_request' },
        { name: 'machineField that is not a field', url: '/api/v1/templates', body: { name: 't-bad-machine', fields: [{ name: 'a', label: 'x', type: 'text' }], machineField: 'b' }, expect: 400, code: 'invalid_request' },
        { name: 'password rules no password can meet', url: '/api/v1/templates', body: { name: 't-bad-rules', fields: [{ name: 'a', label: 'x', type: 'text' }], passwordRules: { length: 3 } }, expect: 400, code: 'invalid_request', mention: 'password rules' },
        { name: 'password rules with a symbol set that is empty', url: '/api/v1/templates', body: { name: 't-bad-symbols', fields: [{ name: 'a', label: 'x', type: 'text' }], passwordRules: { symbol: true, symbols: '' } }, expect: 400, code: 'invalid_request' },
        { name: 'existing name', url: '/api/v1/templates', body: { name: 'target-template', fields: [{ name: 'a', label: 'x', type: 'text' }] }, expect: 409, code: 'conflict' },
      ],
    },
    'PATCH /api/v1/templates/:id': {
      body: { name: 'renamed-template' },
      extra: [
        { name: 'rename a built-in template', url: '/api/v1/templates/generic', body: { name: 'mine' }, expect: 403, code: 'builtin_template' },
        { name: 'usernameField that is not a field', url: `/api/v1/templates/${fx.templateId}`, body: { usernameField: 'nope' }, expect: 400, code: 'invalid_request' },
      ],
    },
    'DELETE /api/v1/templates/:id': { extra: [{ name: 'built-in template', url: '/api/v1/templates/generic', expect: 403, code: 'builtin_template' }] },

    'GET /api/v1/secrets': { extra: [{ name: 'unknown template filter', url: '/api/v1/secrets?template=no-such-template', expect: 404, code: 'not_found' }] },
    'POST /api/v1/secrets': {
      body: { name: 'never-created-secret', template: 'unix-account', folderId: null, fields: { machine: 'h', username: 'u', password: 'p', port: 22 }, inheritPermissions: true },
      extra: [
        { name: 'unknown template', url: '/api/v1/secrets', body: { name: 's', template: 'no-such-template', fields: {} }, expect: 404, code: 'not_found' },
        { name: 'unknown field', url: '/api/v1/secrets', body: { name: 's', template: 'generic', fields: { colour: 'red' } }, expect: 400, code: 'invalid_request' },
        { name: 'required field missing', url: '/api/v1/secrets', body: { name: 's', template: 'unix-account', fields: { machine: 'h' } }, expect: 400, code: 'invalid_request' },
        { name: 'port out of range', url: '/api/v1/secrets', body: { name: 's', template: 'generic', fields: { port: 70000 } }, expect: 400, code: 'invalid_request' },
        { name: 'port as a word', url: '/api/v1/secrets', body: { name: 's', template: 'generic', fields: { port: 'twenty-two' } }, expect: 400, code: 'invalid_request' },
        { name: 'password as a number', url: '/api/v1/secrets', body: { name: 's', template: 'generic', fields: { password: 1234 } }, expect: 400, code: 'invalid_request' },
        { name: 'text field over 4096 characters', url: '/api/v1/secrets', body: { name: 's', template: 'generic', fields: { username: 'u'.repeat(4097) } }, expect: 400, code: 'invalid_request' },
        { name: 'unknown folder', url: '/api/v1/secrets', body: { name: 's', template: 'generic', fields: {}, folderId: MISSING_ID }, expect: 404, code: 'not_found' },
        { name: 'empty folder id', url: '/api/v1/secrets', body: { name: 's', template: 'generic', fields: {}, folderId: '' }, expect: 404, code: 'not_found' },
      ],
    },
    'GET /api/v1/secrets/:id': {},
    'PATCH /api/v1/secrets/:id': {
      body: { name: 'renamed-secret', folderId: null, fields: { notes: 'n' }, inheritPermissions: true },
      extra: [
        { name: 'clear a required field', url: `/api/v1/secrets/${fx.secretId}`, body: { fields: { username: null } }, expect: 400, code: 'invalid_request' },
        { name: 'unknown field', url: `/api/v1/secrets/${fx.secretId}`, body: { fields: { colour: 'red' } }, expect: 400, code: 'invalid_request' },
        { name: 'move to an unknown folder', url: `/api/v1/secrets/${fx.secretId}`, body: { folderId: MISSING_ID }, expect: 404, code: 'not_found' },
        { name: 'move to an empty folder id', url: `/api/v1/secrets/${fx.secretId}`, body: { folderId: '' }, expect: 404, code: 'not_found' },
        { name: 'attach an unknown access policy', url: `/api/v1/secrets/${fx.secretId}`, body: { policyId: 'no-such-policy' }, expect: 404, code: 'not_found' },
        { name: 'management link to itself', url: `/api/v1/secrets/${fx.secretId}`, body: { account: { managementSecretId: fx.secretId } }, expect: 400, code: 'management_cycle' },
        { name: 'management link to an unknown secret', url: `/api/v1/secrets/${fx.secretId}`, body: { account: { managementSecretId: MISSING_ID } }, expect: 404, code: 'not_found' },
        { name: 'JIT without a management secret', url: `/api/v1/secrets/${fx.secretId}`, body: { account: { jit: { enabled: true } } }, expect: 400, code: 'invalid_jit' },
        { name: 'a JIT name prefix with shell metacharacters', url: `/api/v1/secrets/${fx.secretId}`, body: { account: { jit: { namePrefix: 'x;id' } } }, expect: 400, code: 'invalid_jit' },
      ],
    },
    'DELETE /api/v1/secrets/:id': {},
    'POST /api/v1/secrets/:id/reveal': {},
    'GET /api/v1/secrets/:id/permissions': {},
    'POST /api/v1/secrets/:id/rotate': { extra: [{ name: 'a secret that is no managed target account', url: `/api/v1/secrets/${fx.secretId}/rotate`, expect: 409, code: 'not_managed' }] },
    'POST /api/v1/secrets/:id/heartbeat': { extra: [{ name: 'a secret that is no managed target account', url: `/api/v1/secrets/${fx.secretId}/heartbeat`, expect: 409, code: 'not_managed' }] },
    'GET /api/v1/secrets/:id/versions': {},
    'POST /api/v1/secrets/:id/versions/reveal': {
      body: { version: 1 },
      extra: [{ name: 'a version that does not exist', url: `/api/v1/secrets/${fx.secretId}/versions/reveal`, body: { version: 999 }, expect: 404, code: 'not_found' }],
    },
    'PUT /api/v1/secrets/:id/permissions': {
      body: { inheritPermissions: true, entries: [fx.entry] },
      extra: [
        { name: 'unknown user', url: `/api/v1/secrets/${fx.secretId}/permissions`, body: { entries: [{ principalType: 'user', principal: 'nobody-here', level: 'view' }] }, expect: 400, code: 'invalid_request' },
        { name: 'group given as a user', url: `/api/v1/secrets/${fx.secretId}/permissions`, body: { entries: [{ principalType: 'user', principal: 'target-group', level: 'view' }] }, expect: 400, code: 'invalid_request' },
      ],
    },

    'GET /api/v1/audit': { extra: [{ name: 'unparseable dates are ignored', url: '/api/v1/audit?since=not-a-date&until=1e400', expect: 200 }] },
    'GET /api/v1/audit/verify': {},
    'GET /api/v1/audit/export': {},
    'GET /api/v1/audit/public-key': {},
    'POST /api/v1/audit/checkpoint': { body: {}, extra: [{ name: 'no body at all', url: '/api/v1/audit/checkpoint', expect: 200 }] },
    'GET /api/v1/audit/checkpoint': {},
    'POST /api/v1/audit/verify': {
      body: { anchors: [{ format: 'gatehouse-audit-checkpoint/1', seq: 1, hash: '0'.repeat(64), ts: '2024-01-01T00:00:00.000Z', keyId: 'k', fingerprint: null, signature: 's' }] },
      extra: [{ name: 'a date that is not one', url: '/api/v1/audit/verify', body: { anchors: [{ seq: 1, hash: '0'.repeat(64), ts: 'yesterday', keyId: 'k', signature: 's' }] }, expect: 400, code: 'invalid_request' }],
    },
    'POST /api/v1/recordings/verify': {
      body: { all: true, sessions: ['s'], sha256: '0'.repeat(64) },
      extra: [
        { name: 'nothing asked for', url: '/api/v1/recordings/verify', body: {}, expect: 400, code: 'invalid_request' },
        { name: 'unknown session', url: '/api/v1/recordings/verify', body: { sessions: [MISSING_ID] }, expect: 404, code: 'not_found' },
      ],
    },
    'GET /api/v1/recording-retention': {},
    'PUT /api/v1/recording-retention': {
      body: { scope: 'global', keepDays: 36500 },
      extra: [
        { name: 'a folder policy without its folder', url: '/api/v1/recording-retention', body: { scope: 'folder', keepDays: 30 }, expect: 400, code: 'invalid_request' },
        { name: 'a global policy naming a scope', url: '/api/v1/recording-retention', body: { scope: 'global', scopeId: 'x', keepDays: 30 }, expect: 400, code: 'invalid_request' },
        { name: 'an unknown launcher', url: '/api/v1/recording-retention', body: { scope: 'launcher', scopeId: MISSING_ID, keepDays: 30 }, expect: 404, code: 'not_found' },
        { name: 'zero days', url: '/api/v1/recording-retention', body: { scope: 'global', keepDays: 0 }, expect: 400, code: 'invalid_request' },
      ],
    },
    'DELETE /api/v1/recording-retention/:id': {},
    'POST /api/v1/recording-retention/sweep': { body: {} },
    'GET /api/v1/legal-holds': {},
    'PUT /api/v1/sessions/:id/legal-hold': { body: { reason: 'bad input test' }, extra: [{ name: 'unknown session', url: `/api/v1/sessions/${MISSING_ID}/legal-hold`, body: { reason: 'x' }, expect: 404, code: 'not_found' }] },
    'DELETE /api/v1/sessions/:id/legal-hold': { extra: [{ name: 'no hold', url: `/api/v1/sessions/${MISSING_ID}/legal-hold`, expect: 404, code: 'not_found' }] },

    'GET /api/v1/launchers': {},
    'GET /api/v1/launchers/:id': {},
    'POST /api/v1/launchers': {
      body: { name: 'never-created-launcher', type: 'session-connector', childType: 'ssh', gatewayHost: 'gw.example.net', gatewayPort: 2222, active: true, record: true, recordKeystrokes: false, idleTimeoutSeconds: 600, maxDurationSeconds: 3600, allowPortForwarding: false, options: { consentText: 'This session is recorded.' } },
      extra: [
        { name: 'session connector without a child type', url: '/api/v1/launchers', body: { name: 'l1', type: 'session-connector', childType: null, gatewayHost: 'gw.example.net' }, expect: 400, code: 'invalid_request' },
        { name: 'session connector without a gateway', url: '/api/v1/launchers', body: { name: 'l2', type: 'session-connector', childType: 'ssh', gatewayHost: null }, expect: 400, code: 'invalid_request' },
        { name: 'gateway host that is not a host name', url: '/api/v1/launchers', body: { name: 'l3', type: 'session-connector', childType: 'ssh', gatewayHost: 'gw example; rm -rf /' }, expect: 400, code: 'invalid_request' },
        { name: 'telnet prompt that is not a regular expression', url: '/api/v1/launchers', body: { name: 'l4', type: 'session-connector', childType: 'telnet', gatewayHost: 'gw', options: { telnetLoginPrompt: '(' } }, expect: 400, code: 'invalid_request' },
        { name: 'name of a built-in launcher', url: '/api/v1/launchers', body: { name: 'SSH', type: 'session-connector', childType: 'ssh', gatewayHost: 'gw' }, expect: 409, code: 'conflict' },
      ],
    },
    'PATCH /api/v1/launchers/:id': {
      body: { record: true, idleTimeoutSeconds: 60 },
      extra: [
        { name: 'rename a built-in launcher', url: '/api/v1/launchers/ssh', body: { name: 'mine' }, expect: 403, code: 'builtin_launcher' },
        { name: 'empty gateway host', url: '/api/v1/launchers/ssh', body: { gatewayHost: '' }, expect: 400, code: 'invalid_request' },
        { name: 'child type on a built-in launcher', url: '/api/v1/launchers/ssh', body: { childType: 'telnet' }, expect: 403, code: 'builtin_launcher' },
      ],
    },
    'DELETE /api/v1/launchers/:id': { extra: [{ name: 'built-in launcher', url: '/api/v1/launchers/ssh', expect: 403, code: 'builtin_launcher' }] },
    // Asked by an application account (a gateway node); the administrator is refused (403) before any lookup.
    'POST /api/v1/launchers/:id/rds-credentials': {
      token: fx.appToken,
      extra: [
        { name: 'a built-in launcher (no RDS Server Credentials)', url: '/api/v1/launchers/rdp/rds-credentials', expect: 404, code: 'not_found' },
        { name: 'RDS Server Credentials not shared with the application account', url: `/api/v1/launchers/${fx.rdsLauncherId}/rds-credentials`, expect: 404, code: 'not_found' },
      ],
    },
    'POST /api/v1/secrets/:id/launch': {
      body: { launcher: 'ssh', bindIp: false },
      extra: [
        { name: 'unknown launcher', url: `/api/v1/secrets/${fx.secretId}/launch`, body: { launcher: 'no-such-launcher' }, expect: 400, code: 'unknown_launcher' },
        { name: 'launcher not mapped to the template', url: `/api/v1/secrets/${fx.windowsSecretId}/launch`, body: { launcher: 'ssh' }, expect: 400, code: 'launcher_not_mapped' },
        { name: "someone else's personal credential", url: `/api/v1/secrets/${fx.secretId}/launch`, body: { launcher: 'ssh', personalCredentialId: fx.selfPersonalId }, expect: 403, code: 'not_your_credential' },
        { name: 'unknown personal credential', url: `/api/v1/secrets/${fx.secretId}/launch`, body: { launcher: 'ssh', personalCredentialId: MISSING_ID }, expect: 404, code: 'not_found' },
        { name: 'personal credential for another target', url: `/api/v1/secrets/${fx.secretId}/launch`, body: { launcher: 'ssh', personalCredentialId: fx.adminPersonalId }, expect: 400, code: 'personal_credential_mismatch' },
        { name: 'an access level that does not apply to the secret', url: `/api/v1/secrets/${fx.secretId}/launch`, body: { launcher: 'ssh', accessLevel: 'no-such-level' }, expect: 400, code: 'unknown_access_level' },
        { name: 'an access level the caller is not approved for', url: `/api/v1/secrets/${fx.secretId}/launch`, body: { launcher: 'ssh', accessLevel: 'target-level' }, expect: 403, code: 'access_level_not_approved' },
        // Display settings (issue 14): bounded, paired, RDP only.
        { name: 'desktop width below 200', url: `/api/v1/secrets/${fx.windowsSecretId}/launch`, body: { launcher: 'rdp', width: 199, height: 600 }, expect: 400, code: 'invalid_display', mention: 'width' },
        { name: 'desktop height above 8192', url: `/api/v1/secrets/${fx.windowsSecretId}/launch`, body: { launcher: 'rdp', width: 800, height: 8193 }, expect: 400, code: 'invalid_display', mention: 'height' },
        { name: 'dpi above 480', url: `/api/v1/secrets/${fx.windowsSecretId}/launch`, body: { launcher: 'rdp', dpi: 481 }, expect: 400, code: 'invalid_display', mention: 'dpi' },
        { name: 'width without height', url: `/api/v1/secrets/${fx.windowsSecretId}/launch`, body: { launcher: 'rdp', width: 800 }, expect: 400, code: 'invalid_display', mention: 'height' },
        { name: 'unknown keyboard layout', url: `/api/v1/secrets/${fx.windowsSecretId}/launch`, body: { launcher: 'rdp', keyboardLayout: 'dvorak' }, expect: 400, code: 'invalid_display', mention: 'keyboardLayout' },
        { name: 'display settings on an SSH launcher', url: `/api/v1/secrets/${fx.secretId}/launch`, body: { launcher: 'ssh', width: 800, height: 600 }, expect: 400, code: 'invalid_display' },
      ],
    },
    'GET /api/v1/checkouts': {},
    'GET /api/v1/secrets/:id/checkout': {},
    'POST /api/v1/secrets/:id/checkout': {
      body: { reason: 'maintenance window', durationSeconds: 600 },
      extra: [
        { name: 'a secret you already hold', url: `/api/v1/secrets/${fx.heldByAdminSecretId}/checkout`, body: {}, expect: 409, code: 'already_checked_out' },
        { name: 'a secret someone else holds', url: `/api/v1/secrets/${fx.heldByOtherSecretId}/checkout`, body: {}, expect: 409, code: 'credential_unavailable' },
      ],
    },
    'POST /api/v1/secrets/:id/checkin': { extra: [{ name: 'a secret nobody holds', url: `/api/v1/secrets/${fx.secretId}/checkin`, expect: 409, code: 'not_checked_out' }] },
    'POST /api/v1/secrets/:id/checkout/queue': {
      extra: [
        { name: 'queue for a free secret', url: `/api/v1/secrets/${fx.secretId}/checkout/queue`, expect: 409, code: 'checkout_available' },
        { name: 'queue for a secret you hold', url: `/api/v1/secrets/${fx.heldByAdminSecretId}/checkout/queue`, expect: 409, code: 'already_checked_out' },
      ],
    },
    'DELETE /api/v1/secrets/:id/checkout/queue': { extra: [{ name: 'leave a queue you are not in', url: `/api/v1/secrets/${fx.secretId}/checkout/queue`, expect: 404, code: 'not_found' }] },
    'GET /api/v1/launch/rdp-file': {
      query: { ticket: 'A'.repeat(32) },
      extra: [
        { name: 'unknown ticket', url: `/api/v1/launch/rdp-file?ticket=${'A'.repeat(32)}`, expect: 404, code: 'not_found' },
        { name: 'not shaped like a ticket', url: `/api/v1/launch/rdp-file?ticket=${encodeURIComponent("' OR '1'='1' --")}`, expect: 404, code: 'not_found' },
        { name: "someone else's ticket", url: `/api/v1/launch/rdp-file?ticket=${fx.othersTicket}`, token: fx.selfToken, expect: 404, code: 'not_found' },
        { name: 'an SSH ticket', url: `/api/v1/launch/rdp-file?ticket=${fx.othersTicket}`, expect: 400, code: 'not_rdp' },
        { name: 'a used ticket', url: `/api/v1/launch/rdp-file?ticket=${fx.usedRdpTicket}`, expect: 409, code: 'ticket_used' },
        { name: 'ticket missing', url: '/api/v1/launch/rdp-file', expect: 400, code: 'invalid_request', mention: 'ticket' },
        { name: 'a Host header that is no host name', url: `/api/v1/launch/rdp-file?ticket=${fx.rdpTicket}`, headers: { host: 'bad host!' }, expect: 400, code: 'bad_gateway_host' },
        { name: 'an unused RDP ticket of yours', url: `/api/v1/launch/rdp-file?ticket=${fx.rdpTicket}`, expect: 200 },
      ],
    },
    'GET /api/v1/secrets/:id/host-key': {},
    'DELETE /api/v1/secrets/:id/host-key': {},
    'POST /api/v1/tickets/decline': {
      token: fx.selfToken,
      body: { ticket: 'A'.repeat(32) },
      extra: [
        { name: 'unknown ticket', url: '/api/v1/tickets/decline', body: { ticket: 'A'.repeat(32) }, expect: 404, code: 'not_found' },
        { name: 'not shaped like a ticket', url: '/api/v1/tickets/decline', body: { ticket: "' OR '1'='1' --" }, expect: 404, code: 'not_found' },
        { name: "someone else's ticket", url: '/api/v1/tickets/decline', body: { ticket: fx.othersTicket }, expect: 404, code: 'not_found' },
      ],
    },
    // A WebSocket route is hidden from the OpenAPI document, so its query string gets no
    // generic cases: they are listed here. All are refused before the upgrade.
    'GET /api/v1/terminal': {
      query: { ticket: 'A'.repeat(32) },
      extra: [
        { name: 'ticket missing', url: '/api/v1/terminal?cols=80', expect: 400, code: 'invalid_request', mention: 'ticket' },
        { name: 'ticket longer than 64', url: `/api/v1/terminal?ticket=${'A'.repeat(65)}`, expect: 400, code: 'invalid_request', mention: 'ticket' },
        { name: 'ticket empty', url: '/api/v1/terminal?ticket=', expect: 400, code: 'invalid_request', mention: 'ticket' },
        { name: 'ticket with a NUL', url: '/api/v1/terminal?ticket=a%00b', expect: 400, code: 'invalid_request', mention: 'NUL' },
        { name: 'cols below minimum', url: '/api/v1/terminal?ticket=abc&cols=9', expect: 400, code: 'invalid_request', mention: 'cols' },
        { name: 'cols above maximum', url: '/api/v1/terminal?ticket=abc&cols=1001', expect: 400, code: 'invalid_request', mention: 'cols' },
        { name: 'cols not a number', url: '/api/v1/terminal?ticket=abc&cols=wide', expect: 400, code: 'invalid_request', mention: 'cols' },
        { name: 'rows below minimum', url: '/api/v1/terminal?ticket=abc&rows=4', expect: 400, code: 'invalid_request', mention: 'rows' },
        { name: 'rows above maximum', url: '/api/v1/terminal?ticket=abc&rows=501', expect: 400, code: 'invalid_request', mention: 'rows' },
        { name: 'consent not one of its choices', url: '/api/v1/terminal?ticket=abc&consent=yes', expect: 400, code: 'invalid_request', mention: 'consent' },
        { name: 'term longer than 64', url: `/api/v1/terminal?ticket=abc&term=${'x'.repeat(65)}`, expect: 400, code: 'invalid_request', mention: 'term' },
        { name: 'unknown query parameter', url: '/api/v1/terminal?ticket=abc&bogus=1', expect: 400, code: 'invalid_request', mention: 'additional properties' },
      ],
    },
    'GET /api/v1/sessions': {},
    'GET /api/v1/sessions/:id': {},
    'POST /api/v1/sessions/:id/terminate': { body: { reason: 'bad input test' }, extra: [{ name: 'no body at all (reason is optional)', url: `/api/v1/sessions/${MISSING_ID}/terminate`, expect: 404, code: 'not_found' }] },
    'GET /api/v1/sessions/:id/live': {},
    'POST /api/v1/sessions/:id/join-requests': {},
    'POST /api/v1/sessions/:id/invites': { body: { user: 'nobody' } },
    'GET /api/v1/sessions/:id/joins': {},
    'GET /api/v1/me/joins': {},
    'GET /api/v1/me/join-requests': {},
    'POST /api/v1/sessions/:id/joins/:joinId/accept': { extra: [{ name: 'unknown join of an unknown session', url: `/api/v1/sessions/${MISSING_ID}/joins/${MISSING_ID}/accept`, expect: 404, code: 'not_found' }] },
    'POST /api/v1/sessions/:id/joins/:joinId/decline': { extra: [{ name: 'join id with a NUL', url: `/api/v1/sessions/${MISSING_ID}/joins/a%00b/decline`, expect: 400, code: 'invalid_request' }] },
    'POST /api/v1/sessions/:id/joins/:joinId/kick': { extra: [{ name: 'overlong join id', url: `/api/v1/sessions/${MISSING_ID}/joins/${'j'.repeat(200)}/kick`, expect: 414, code: 'uri_too_long' }] },
    'GET /api/v1/sessions/:id/joins/:joinId/terminal': { extra: [{ name: 'unknown join of an unknown session', url: `/api/v1/sessions/${MISSING_ID}/joins/${MISSING_ID}/terminal`, expect: 404, code: 'not_found' }] },
    'GET /api/v1/recordings': { query: { q: 'uptime' }, extra: [{ name: 'LIKE wildcards in the search are no error', url: '/api/v1/recordings?q=%25_%5C', expect: 200 }] },
    'GET /api/v1/recordings/:sessionId': {},
    'GET /api/v1/recordings/:sessionId/text': {},
    'GET /api/v1/me/ssh-keys': {},
    'POST /api/v1/me/ssh-keys': {
      body: { name: 'never-registered', publicKey: 'ssh-ed25519 AAAA not-checked-by-the-schema' },
      extra: [
        { name: 'not a key', url: '/api/v1/me/ssh-keys', body: { name: 'k', publicKey: 'hello world' }, expect: 400, code: 'invalid_public_key' },
        { name: 'truncated key', url: '/api/v1/me/ssh-keys', body: { name: 'k', publicKey: 'ssh-ed25519 AAAA' }, expect: 400, code: 'invalid_public_key' },
        { name: 'key blob of garbage', url: '/api/v1/me/ssh-keys', body: { name: 'k', publicKey: `ssh-ed25519 ${'A'.repeat(16000)}` }, expect: 400, code: 'invalid_public_key' },
        { name: 'PEM public key instead of an OpenSSH line', url: '/api/v1/me/ssh-keys', body: { name: 'k', publicKey: fx.pemPublicKey }, expect: 400, code: 'invalid_public_key' },
        { name: 'a private key', url: '/api/v1/me/ssh-keys', body: { name: 'k', publicKey: fx.pemPrivateKey }, expect: 400, code: 'invalid_public_key' },
        { name: 'a key registered already', url: '/api/v1/me/ssh-keys', body: { name: 'again', publicKey: fx.registeredKey }, expect: 409, code: 'conflict' },
      ],
    },
    'DELETE /api/v1/me/ssh-keys/:id': {},

    'GET /api/v1/access-policies': {},
    'POST /api/v1/access-policies': {
      body: {
        name: 'never-created-policy',
        description: 'x',
        approvers: [{ principalType: 'user', principal: fx.userId }],
        approvalsRequired: 1,
        preApproved: [],
        defaultWindowMinutes: 60,
        maxWindowMinutes: 120,
        allowedHours: { days: [1, 2, 3, 4, 5], from: '08:00', to: '18:00', timeZone: 'UTC' },
        allowedModes: ['ssh'],
        mfa: 'never',
        trustedNetworks: ['10.0.0.0/8'],
        mfaMaxAgeMinutes: 5,
        recordingRequired: false,
        consentText: '',
        checkoutRequired: false,
        reasonRequired: true,
        ticketReference: 'none',
      },
      extra: [
        { name: 'existing name', url: '/api/v1/access-policies', body: { name: 'target-policy', approvers: [{ principalType: 'user', principal: fx.userId }] }, expect: 409, code: 'name_taken' },
        { name: 'unknown approver', url: '/api/v1/access-policies', body: { name: 'p1', approvers: [{ principalType: 'user', principal: 'nobody-here' }] }, expect: 400, code: 'invalid_request' },
        { name: 'unknown approver group', url: '/api/v1/access-policies', body: { name: 'p1', approvers: [{ principalType: 'group', principal: 'no-such-group' }] }, expect: 400, code: 'invalid_request' },
        { name: 'no approvers and nobody pre-approved', url: '/api/v1/access-policies', body: { name: 'p1' }, expect: 400, code: 'invalid_policy' },
        { name: 'more approvals than approvers', url: '/api/v1/access-policies', body: { name: 'p1', approvers: [{ principalType: 'user', principal: fx.userId }], approvalsRequired: 3 }, expect: 400, code: 'invalid_policy' },
        { name: 'default window over the maximum', url: '/api/v1/access-policies', body: { name: 'p1', approvers: [{ principalType: 'user', principal: fx.userId }], defaultWindowMinutes: 90, maxWindowMinutes: 60 }, expect: 400, code: 'invalid_policy' },
        { name: 'not a CIDR', url: '/api/v1/access-policies', body: { name: 'p1', approvers: [{ principalType: 'user', principal: fx.userId }], trustedNetworks: ['10.0.0.0/33'] }, expect: 400, code: 'invalid_policy' },
        { name: 'unknown time zone', url: '/api/v1/access-policies', body: { name: 'p1', approvers: [{ principalType: 'user', principal: fx.userId }], allowedHours: { days: [], from: '08:00', to: '18:00', timeZone: 'Mars/Olympus' } }, expect: 400, code: 'invalid_policy' },
        { name: 'hours not HH:MM', url: '/api/v1/access-policies', body: { name: 'p1', approvers: [{ principalType: 'user', principal: fx.userId }], allowedHours: { days: [], from: '8', to: '25:00', timeZone: 'UTC' } }, expect: 400, code: 'invalid_request' },
        { name: 'same from and to', url: '/api/v1/access-policies', body: { name: 'p1', approvers: [{ principalType: 'user', principal: fx.userId }], allowedHours: { days: [], from: '08:00', to: '08:00', timeZone: 'UTC' } }, expect: 400, code: 'invalid_policy' },
      ],
    },
    'GET /api/v1/access-policies/:id': {},
    'PATCH /api/v1/access-policies/:id': {
      body: { description: 'changed', allowedHours: { days: [0, 6], from: '22:00', to: '06:00', timeZone: 'Europe/Berlin' } },
      extra: [{ name: 'more approvals than approvers', url: `/api/v1/access-policies/${fx.policyId}`, body: { approvalsRequired: 5 }, expect: 400, code: 'invalid_policy' }],
    },
    'DELETE /api/v1/access-policies/:id': { extra: [{ name: 'policy still attached', url: `/api/v1/access-policies/${fx.policyId}`, expect: 409, code: 'policy_in_use' }] },
    'GET /api/v1/access-levels': {},
    'POST /api/v1/access-levels': {
      body: { name: 'never-created-level', description: 'x', targetGroups: ['adm', 'cn=ops,ou=groups,dc=example,dc=org'], sudoers: '{account} ALL=(root) NOPASSWD: /usr/bin/id', needsApproval: false, preApproved: [], secretIds: [], folderIds: [] },
      extra: [
        { name: 'existing name', url: '/api/v1/access-levels', body: { name: 'target-level' }, expect: 409, code: 'name_taken' },
        { name: 'a group name with shell metacharacters', url: '/api/v1/access-levels', body: { name: 'l1', targetGroups: ['adm;touch /tmp/x'] }, expect: 400, code: 'invalid_access_level' },
        { name: 'a group name with a command substitution', url: '/api/v1/access-levels', body: { name: 'l1', targetGroups: ['$(id)'] }, expect: 400, code: 'invalid_access_level' },
        { name: 'a group list separator', url: '/api/v1/access-levels', body: { name: 'l1', targetGroups: ['adm,root'] }, expect: 400, code: 'invalid_access_level' },
        { name: 'a blank sudoers body', url: '/api/v1/access-levels', body: { name: 'l1', sudoers: '   ' }, expect: 400, code: 'invalid_access_level' },
        { name: 'an unknown secret', url: '/api/v1/access-levels', body: { name: 'l1', secretIds: [MISSING_ID] }, expect: 400, code: 'invalid_access_level' },
        { name: 'an unknown pre-approved user', url: '/api/v1/access-levels', body: { name: 'l1', preApproved: [{ principalType: 'user', principal: 'nobody-here' }] }, expect: 400, code: 'invalid_request' },
      ],
    },
    'GET /api/v1/access-levels/:id': {},
    'PATCH /api/v1/access-levels/:id': {
      body: { description: 'changed' },
      extra: [{ name: 'a group name with a line break', url: `/api/v1/access-levels/${fx.levelId}`, body: { targetGroups: ['adm\nroot'] }, expect: 400, code: 'invalid_access_level' }],
    },
    'DELETE /api/v1/access-levels/:id': {},
    'GET /api/v1/secrets/:id/access-levels': {},
    'GET /api/v1/access-requests': { extra: [{ name: 'everyone\'s requests without administer', url: '/api/v1/access-requests?scope=all', token: fx.selfToken, expect: 403, code: 'forbidden' }] },
    'POST /api/v1/access-requests': {
      body: { secretId: MISSING_ID, reason: 'x', ticketRef: 'CHG-1', start: '2030-01-01T00:00:00Z', end: '2030-01-01T01:00:00Z', modes: ['ssh'] },
      extra: [
        { name: 'unknown secret', url: '/api/v1/access-requests', body: { secretId: MISSING_ID, reason: 'x' }, expect: 404, code: 'not_found' },
        { name: 'secret without a policy', url: '/api/v1/access-requests', body: { secretId: fx.secretId, reason: 'x' }, expect: 400, code: 'no_policy' },
        { name: 'an access level that does not apply to the secret', url: '/api/v1/access-requests', body: { secretId: fx.policySecretId, reason: 'x', accessLevel: 'no-such-level' }, expect: 400, code: 'unknown_access_level' },
        { name: 'no reason', url: '/api/v1/access-requests', body: { secretId: fx.policySecretId }, expect: 400, code: 'reason_required' },
        { name: 'blank reason', url: '/api/v1/access-requests', body: { secretId: fx.policySecretId, reason: '   ' }, expect: 400, code: 'reason_required' },
        { name: 'start not a date', url: '/api/v1/access-requests', body: { secretId: fx.policySecretId, reason: 'x', start: 'tomorrow-ish' }, expect: 400, code: 'invalid_window' },
        { name: 'start in the past', url: '/api/v1/access-requests', body: { secretId: fx.policySecretId, reason: 'x', start: '2001-01-01T00:00:00Z' }, expect: 400, code: 'invalid_window' },
        { name: 'end before start', url: '/api/v1/access-requests', body: { secretId: fx.policySecretId, reason: 'x', start: '2030-01-01T02:00:00Z', end: '2030-01-01T01:00:00Z' }, expect: 400, code: 'invalid_window' },
        { name: 'window over the maximum', url: '/api/v1/access-requests', body: { secretId: fx.policySecretId, reason: 'x', start: '2030-01-01T00:00:00Z', end: '2030-02-01T00:00:00Z' }, expect: 400, code: 'window_too_long' },
        { name: 'mode the policy does not allow', url: '/api/v1/access-requests', body: { secretId: fx.policySecretId, reason: 'x', modes: ['rdp'] }, expect: 400, code: 'mode_not_allowed' },
      ],
    },
    'GET /api/v1/access-requests/:id': {},
    'POST /api/v1/access-requests/:id/approve': {
      body: { comment: 'ok' },
      extra: [{ name: 'your own request', url: `/api/v1/access-requests/${fx.requestId}/approve`, body: {}, expect: 403, code: 'forbidden' }],
    },
    'POST /api/v1/access-requests/:id/deny': {
      body: { comment: 'no' },
      extra: [{ name: 'your own request', url: `/api/v1/access-requests/${fx.requestId}/deny`, body: {}, expect: 403, code: 'forbidden' }],
    },
    'POST /api/v1/access-requests/:id/revoke': { body: { comment: 'over' } },
    // The administrator has a master password (fx.adminMaster) and a personal credential; the self user too (fx.selfPersonalId).
    'GET /api/v1/me/master-password': {},
    'PUT /api/v1/me/master-password': {
      body: { masterPassword: 'a-Long-enough-master-1', currentMasterPassword: 'a-Long-enough-master-0' },
      extra: [
        { name: 'already set, without the current one', url: '/api/v1/me/master-password', body: { masterPassword: 'a-Long-enough-master-1' }, expect: 409, code: 'master_password_set' },
        { name: 'wrong current master password', url: '/api/v1/me/master-password', body: { masterPassword: 'a-Long-enough-master-1', currentMasterPassword: 'not-the-master-password' }, expect: 401, code: 'invalid_master_password' },
        { name: 'weak new master password', url: '/api/v1/me/master-password', body: { masterPassword: 'short', currentMasterPassword: fx.adminMaster }, expect: 400, code: 'weak_password' },
      ],
    },
    'POST /api/v1/me/master-password/unlock': {
      body: { masterPassword: 'not-the-master-password' },
      extra: [
        { name: 'wrong master password', url: '/api/v1/me/master-password/unlock', body: { masterPassword: 'not-the-master-password' }, expect: 401, code: 'invalid_master_password' },
        { name: 'no master password yet', url: '/api/v1/me/master-password/unlock', token: fx.noMasterToken, body: { masterPassword: 'anything-at-all' }, expect: 409, code: 'no_master_password' },
      ],
    },
    'POST /api/v1/me/master-password/lock': {},
    'POST /api/v1/me/master-password/reset': {
      body: { confirm: 'not confirmed' },
      extra: [
        { name: 'without the exact confirmation', url: '/api/v1/me/master-password/reset', body: { confirm: 'yes' }, expect: 400, code: 'confirmation_required' },
        { name: 'confirmation in other case', url: '/api/v1/me/master-password/reset', body: { confirm: 'DELETE MY PERSONAL CREDENTIALS' }, expect: 400, code: 'confirmation_required' },
      ],
    },
    'GET /api/v1/me/personal-credentials': {},
    'GET /api/v1/me/personal-credentials/:id': { extra: [{ name: "someone else's", url: `/api/v1/me/personal-credentials/${fx.selfPersonalId}`, expect: 404, code: 'not_found' }] },
    'POST /api/v1/me/personal-credentials': {
      body: { name: 'never-stored', target: { machine: 'h1', port: 22, protocol: 'ssh' }, username: 'u', password: 'p' },
      extra: [
        { name: 'no target', url: '/api/v1/me/personal-credentials', body: { name: 'n', target: {}, username: 'u', password: 'p' }, expect: 400, code: 'no_target' },
        { name: 'no secret value', url: '/api/v1/me/personal-credentials', body: { name: 'n', target: { machine: 'h1' }, username: 'u' }, expect: 400, code: 'no_secret' },
        { name: 'unknown target secret', url: '/api/v1/me/personal-credentials', body: { name: 'n', target: { secretId: MISSING_ID }, username: 'u', password: 'p' }, expect: 404, code: 'not_found' },
        { name: 'locked vault', url: '/api/v1/me/personal-credentials', token: fx.lockedToken, body: { name: 'n', target: { machine: 'h1' }, username: 'u', password: 'p' }, expect: 423, code: 'personal_vault_locked' },
        { name: 'no master password yet', url: '/api/v1/me/personal-credentials', token: fx.noMasterToken, body: { name: 'n', target: { machine: 'h1' }, username: 'u', password: 'p' }, expect: 409, code: 'no_master_password' },
      ],
    },
    'PATCH /api/v1/me/personal-credentials/:id': {
      body: { name: 'renamed' },
      extra: [
        { name: "someone else's", url: `/api/v1/me/personal-credentials/${fx.selfPersonalId}`, body: { name: 'stolen' }, expect: 404, code: 'not_found' },
        { name: 'clearing the only secret value', url: `/api/v1/me/personal-credentials/${fx.adminPersonalId}`, body: { password: null }, expect: 400, code: 'no_secret' },
        { name: 'target left empty', url: `/api/v1/me/personal-credentials/${fx.adminPersonalId}`, body: { target: { machine: null } }, expect: 400, code: 'no_target' },
      ],
    },
    'DELETE /api/v1/me/personal-credentials/:id': { extra: [{ name: "someone else's", url: `/api/v1/me/personal-credentials/${fx.selfPersonalId}`, expect: 404, code: 'not_found' }] },

    // the credential-provider API (on for this test); the administrator acts for themselves
    'GET /api/v1/webservices/credentials': {
      query: { user: 'admin', endpoint: 'h1' },
      extra: [
        { name: 'not a user id form', url: '/api/v1/webservices/credentials?user=a%5Cb%5Cc&endpoint=h1', expect: 400, code: 'invalid_user_id' },
        { name: 'DOMAIN\\ with nothing after it', url: '/api/v1/webservices/credentials?user=CORP%5C&endpoint=h1', expect: 400, code: 'invalid_user_id' },
        { name: 'unknown user', url: '/api/v1/webservices/credentials?user=nobody-here&endpoint=h1', expect: 404, code: 'user_not_found' },
        { name: 'another organization', url: '/api/v1/webservices/credentials?user=admin&endpoint=h1&organization=acme', expect: 404, code: 'organization_not_found' },
      ],
    },
    'POST /api/v1/webservices/credentials/:id/retrieve': {
      body: { user: 'admin', endpoint: 'h1' },
      extra: [
        { name: 'credential not for the endpoint', url: `/api/v1/webservices/credentials/${fx.secretId}/retrieve`, body: { user: 'admin', endpoint: 'elsewhere' }, expect: 400, code: 'not_for_endpoint' },
        { name: 'user id with two domains', url: `/api/v1/webservices/credentials/${fx.secretId}/retrieve`, body: { user: 'CORP\\admin@corp' }, expect: 400, code: 'invalid_user_id' },
      ],
    },
    'POST /api/v1/webservices/test': {
      body: { user: 'admin', endpoint: 'h1' },
      extra: [
        { name: 'unknown application', url: '/api/v1/webservices/test', body: { user: 'admin', endpoint: 'h1', application: 'nobody-here' }, expect: 404, code: 'application_not_found' },
        { name: 'a person named as the application', url: '/api/v1/webservices/test', body: { user: 'admin', endpoint: 'h1', application: 'target-user' }, expect: 404, code: 'application_not_found' },
        { name: 'application without Web Services Impersonate', url: '/api/v1/webservices/test', body: { user: 'admin', endpoint: 'h1', application: 'target-app' }, expect: 400, code: 'application_not_permitted' },
        { name: 'a Domain Field of spaces', url: '/api/v1/webservices/test', body: { user: 'admin', endpoint: 'h1', settings: { webservicesDomainField: '   ' } }, expect: 400, code: 'invalid_request' },
      ],
    },
    'GET /api/v1/webservices/applications': {},
    'POST /api/v1/webservices/applications/:id/approve': { extra: [{ name: "someone else's", url: `/api/v1/webservices/applications/${fx.selfTrustId}/approve`, expect: 404, code: 'not_found' }] },
    'POST /api/v1/webservices/applications/:id/deny': { extra: [{ name: "someone else's", url: `/api/v1/webservices/applications/${fx.selfTrustId}/deny`, expect: 404, code: 'not_found' }] },
    'DELETE /api/v1/webservices/applications/:id': { extra: [{ name: "someone else's", url: `/api/v1/webservices/applications/${fx.selfTrustId}`, expect: 404, code: 'not_found' }] },
    'GET /api/v1/webservices/token-cache': {},
    'DELETE /api/v1/webservices/token-cache': {},
});

// Test names must exist before the fixtures do: take the route list from placeholder fixtures.
const ROUTE_KEYS = Object.keys(makeSpecs(new Proxy({} as Fixtures, { get: () => 'placeholder' })));

const STACK_MARKERS = [/\n\s+at /, / {4}at /, /\/src\//, /node_modules/, /\.ts:\d+/, /\/work\//];

for (const kind of DB_KINDS) {
  describe(`bad input on every route on ${kind}`, () => {
    let t: TestApp;
    let doc: { paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: Schema }> }; parameters?: { in: string; name: string; required?: boolean; schema: Schema }[] }>> };
    let specs: Record<string, Spec>;
    let psm: OpenPsmLoop;
    /** A browser session of the self user (__Host-gh_session=…), for the cookie and CSRF cases. */
    let sessionCookie: string;
    const ajv = new Ajv({ strict: false, coerceTypes: false, allErrors: false });

    const ok = async (method: string, url: string, body?: unknown) => {
      const r = await t.req(method, url, { token: t.adminToken, body });
      assert.ok(r.statusCode < 300, `setup ${method} ${url}: ${r.statusCode} ${r.body}`);
      return r.json();
    };

    before(async () => {
      t = await startTestApp(kind);
      doc = (await t.req('GET', '/api/openapi.json')).json();
      const self = await t.user('bad-input-self', ['User']);
      const user = await ok('POST', '/api/v1/users', { username: 'target-user' });
      const appAccount = await ok('POST', '/api/v1/users', { username: 'target-app', isApplication: true });
      const group = await ok('POST', '/api/v1/groups', { name: 'target-group' });
      const auditSink = await ok('POST', '/api/v1/audit-sinks', { name: 'target-sink', kind: 'syslog', host: '127.0.0.1', port: 6514 });
      const role = await ok('POST', '/api/v1/roles', { name: 'target-role', permissions: ['launch'] });
      const folder = await ok('POST', '/api/v1/folders', { name: 'target-folder' });
      const secret = await ok('POST', '/api/v1/secrets', { name: 'target-secret', template: 'unix-account', folderId: folder.id, fields: { machine: 'h1', username: 'root', password: 'bad-input-pw' } });
      const tpl = await ok('POST', '/api/v1/templates', { name: 'target-template', fields: [{ name: 'host', label: 'Host', type: 'text' }] });
      const selfToken = (await t.req('POST', '/api/v1/tokens', { token: self.token, body: { name: 'self', scopes: ['read'] } })).json();
      const browser = await t.req('POST', '/api/v1/auth/session', { body: { username: 'bad-input-self', password: self.password } });
      assert.equal(browser.statusCode, 200, browser.body);
      const session = (browser.cookies as { name: string; value: string }[]).find((c) => c.name === '__Host-gh_session');
      assert.ok(session, 'the browser sign-in sets __Host-gh_session');
      sessionCookie = `__Host-gh_session=${session.value}`;
      const appLogin = await t.user('bad-input-app', ['Application'], { isApplication: true });
      const launch = await ok('POST', `/api/v1/secrets/${secret.id}/launch`, { launcher: 'ssh' });
      const rdpLaunch = await ok('POST', `/api/v1/secrets/${secret.id}/launch`, { launcher: 'rdp' });
      const rdpUnused = await ok('POST', `/api/v1/secrets/${secret.id}/launch`, { launcher: 'rdp' });
      assert.equal((await t.req('POST', '/api/v1/tickets/decline', { token: t.adminToken, body: { ticket: rdpLaunch.ticket } })).statusCode, 204);
      const windows = await ok('POST', '/api/v1/secrets', { name: 'target-windows', template: 'windows-account', fields: { machine: 'w1', username: 'Administrator', password: 'bad-input-win-pw' } });
      const client = await ok('POST', `/api/v1/users/${appAccount.id}/client-credentials`);
      const me = await ok('GET', '/api/v1/me');
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const registeredKey = sshPublicKeyLine();
      await ok('POST', '/api/v1/me/ssh-keys', { name: 'registered', publicKey: registeredKey });
      const policy = await ok('POST', '/api/v1/access-policies', { name: 'target-policy', approvers: [{ principalType: 'user', principal: user.id }], maxWindowMinutes: 240, allowedModes: ['ssh', 'telnet'] });
      const policySecret = await ok('POST', '/api/v1/secrets', { name: 'target-policy-secret', template: 'unix-account', fields: { machine: 'h2', username: 'root', password: 'bad-input-pw-2' } });
      await ok('PATCH', `/api/v1/secrets/${policySecret.id}`, { policyId: policy.id });
      const pending = await ok('POST', '/api/v1/access-requests', { secretId: policySecret.id, reason: 'bad input fixture' });
      const level = await ok('POST', '/api/v1/access-levels', { name: 'target-level', targetGroups: ['adm'], secretIds: [secret.id] });
      const adminMaster = 'bad-input-Admin-Master-1';
      await ok('PUT', '/api/v1/me/master-password', { masterPassword: adminMaster });
      const adminPersonal = await ok('POST', '/api/v1/me/personal-credentials', { name: 'admin-own', target: { machine: 'other.example' }, username: 'me', password: 'admin-personal-pw' });
      const asSelf = async (method: string, url: string, body?: unknown) => {
        const r = await t.req(method, url, { token: self.token, body });
        assert.ok(r.statusCode < 300, `setup ${method} ${url}: ${r.statusCode} ${r.body}`);
        return r.json();
      };
      await asSelf('PUT', '/api/v1/me/master-password', { masterPassword: 'bad-input-Self-Master-1' });
      const selfPersonal = await asSelf('POST', '/api/v1/me/personal-credentials', { name: 'self-own', target: { machine: 'h1' }, username: 'me', password: 'self-personal-pw' });
      const noMaster = await t.user('bad-input-no-master', ['User']);
      const heldByAdmin = await ok('POST', '/api/v1/secrets', { name: 'held-by-admin', template: 'generic', fields: { username: 'u', password: 'held-pw' } });
      await ok('POST', `/api/v1/secrets/${heldByAdmin.id}/checkout`, {});
      const holder = await t.user('bad-input-holder', ['User']);
      const heldByOther = await ok('POST', '/api/v1/secrets', { name: 'held-by-other', template: 'generic', fields: { username: 'u', password: 'held-pw' } });
      await ok('PUT', `/api/v1/secrets/${heldByOther.id}/permissions`, { entries: [{ principalType: 'user', principal: holder.id, level: 'view' }] });
      assert.equal((await t.req('POST', `/api/v1/secrets/${heldByOther.id}/checkout`, { token: holder.token, body: {} })).statusCode, 200);
      await ok('PATCH', '/api/v1/settings', { webservicesEnabled: true, sessionConnector: true });
      const selfTrustId = randomUUID();
      await t.core.store.db.insertInto('webserviceTrusts').values({ id: selfTrustId, applicationId: appAccount.id, applicationName: 'target-app', userId: self.id, status: 'pending', endpoint: 'h1', requestedAt: Date.now(), decidedAt: null, lastUsedAt: null }).execute();
      const rdsLauncher = await ok('POST', '/api/v1/launchers', { name: 'target-rds-launcher', type: 'session-connector', childType: 'rdp', gatewayHost: 'gw.example.net', options: { rdsServerCredentials: secret.id } });
      psm = await openpsmLoop(t, secret.id, adminMaster);
      const call = async (password?: string) => {
        const q = await psm.link();
        return { headers: psm.headers(q), body: psm.body(q, password) };
      };
      const used = await psm.fetched();
      const endMismatch = await psm.fetched();
      const unfetched = await psm.link();
      const mismatch = await call();
      specs = makeSpecs({
        selfTrustId,
        appToken: appLogin.token,
        rdsLauncherId: rdsLauncher.id,

        psmAppKey: psm.appKey,
        psmWrongMaster: await call('not-the-master-password'),
        psmMismatch: { ...mismatch, body: { ...mismatch.body, credential: MISSING_ID } },
        psmUsed: { headers: psm.headers(used.q), body: psm.body(used.q) },
        psmEndMismatch: { headers: psm.headers(endMismatch.q), body: { session: MISSING_ID, loginsessionid: endMismatch.q.get('LoginSessionID')! } },
        psmEndUnfetched: { headers: psm.headers(unfetched), body: { session: MISSING_ID, loginsessionid: unfetched.get('LoginSessionID')! } },
        psmPendingId: await psm.start(await psm.link()),
        psmReadyId: await psm.ready(),
        policyId: policy.id,
        policySecretId: policySecret.id,
        levelId: level.id,
        requestId: pending.id,
        adminMaster,
        adminPersonalId: adminPersonal.id,
        selfPersonalId: selfPersonal.id,
        lockedToken: await t.login('bad-input-self', self.password),
        noMasterToken: noMaster.token,
        heldByAdminSecretId: heldByAdmin.id,
        heldByOtherSecretId: heldByOther.id,
        auditSinkId: auditSink.id,
        adminId: me.id,
        selfToken: self.token,
        logoutToken: await t.login('bad-input-self', self.password),
        signOutToken: await t.login('bad-input-self', self.password),
        appAccount: { username: 'bad-input-app', password: appLogin.password },
        othersTicket: launch.ticket,
        usedRdpTicket: rdpLaunch.ticket,
        rdpTicket: rdpUnused.ticket,
        windowsSecretId: windows.id,
        selfPassword: self.password,
        selfApiTokenId: selfToken.id,
        clientId: client.clientId,
        userId: user.id,
        groupId: group.id,
        roleId: role.id,
        folderId: folder.id,
        secretId: secret.id,
        templateId: tpl.id,
        entry: { principalType: 'user', principal: user.id, level: 'view' },
        pemPublicKey: rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        pemPrivateKey: rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
        registeredKey,
      });

    });
    after(async () => {
      await psm?.close();
      await t?.close();
    });

    const operation = (route: string) => {
      const [method, path] = route.split(' ') as [string, string];
      return doc.paths[path.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()];
    };

    /** Every generic and route-specific case for one route. */
    const casesFor = (route: string, spec: Spec): Case[] => {
      const [method, path] = route.split(' ') as [string, string];
      const op = operation(route);
      const schema = op?.requestBody?.content['application/json']?.schema;
      const query = (op?.parameters ?? []).filter((p) => p.in === 'query');
      const param = /:(\w+)/.exec(path)?.[0];
      const withParam = (id: string) => (param ? path.replace(param, id) : path);
      const baseQuery = spec.query ? `?${new URLSearchParams(spec.query)}` : '';
      const url = withParam(MISSING_ID) + baseQuery;
      const cases: Case[] = [];
      const add = (c: Omit<Case, 'method'> & { method?: string }) => cases.push({ method, ...c });

      if (schema) {
        assert.ok(spec.body, `${route} has a body schema: SPECS needs a valid body`);
        assert.ok(ajv.validate(schema, spec.body), `${route}: the valid body is not valid: ${ajv.errorsText()}`);
        for (const m of bodyMutations(schema, spec.body)) {
          if (!m.policy) assert.ok(!ajv.validate(schema, m.body), `${route}: mutation "${m.name}" is still valid, fix the generator`);
          add({ name: `body: ${m.name}`, url, body: m.body, expect: 400, code: 'invalid_request', ...(m.mention ? { mention: m.mention } : {}) });
        }
        for (const [name, payload] of [['an array', '[]'], ['null', 'null'], ['a string', '"text"'], ['a number', '42']] as const) {
          add({ name: `body is ${name}`, url, payload, headers: { 'content-type': 'application/json' }, expect: 400, code: 'invalid_request' });
        }
      } else assert.equal(spec.body, undefined, `${route} takes no body, but SPECS gives one`);

      if (method !== 'GET') {
        const json = { 'content-type': 'application/json' };
        add({ name: 'malformed JSON', url, payload: '{"name": "x",', headers: json, expect: 400, code: 'invalid_json' });
        add({ name: 'empty JSON body', url, payload: '', headers: json, expect: 400, code: 'invalid_json' });
        add({ name: 'prototype pollution', url, payload: '{"__proto__": {"isAdmin": true}}', headers: json, expect: 400, code: 'invalid_json' });
        add({ name: 'constructor pollution', url, payload: '{"constructor": {"prototype": {"isAdmin": true}}}', headers: json, expect: 400, code: 'invalid_json' });
        add({ name: '2 MiB JSON body', url, payload: JSON.stringify({ name: 'x'.repeat(2 * KIB * KIB) }), headers: json, expect: 413, code: 'payload_too_large' });
        add({ name: 'XML body', url, payload: '<x/>', headers: { 'content-type': 'application/xml' }, expect: 415, code: 'unsupported_media_type' });
        add({ name: 'multipart body', url, payload: '--b\r\n\r\nx\r\n--b--', headers: { 'content-type': 'multipart/form-data; boundary=b' }, expect: 415, code: 'unsupported_media_type' });
        // Fastify parses text/plain itself; a route with a body schema must still refuse the string.
        if (schema) add({ name: 'text/plain body', url, payload: 'hello', headers: { 'content-type': 'text/plain' }, expect: 400, code: 'invalid_request' });
      }

      for (const q of queryMutations(query.map((p) => ({ name: p.name, required: (p as { required?: boolean }).required ?? false, schema: p.schema })), spec.query ?? {})) {
        add({ name: `query: ${q.name}`, url: `${withParam(MISSING_ID)}?${q.qs}`, expect: 400, code: 'invalid_request', ...(q.mention ? { mention: q.mention } : {}) });
      }

      if (param) {
        for (const b of BAD_IDS) add({ name: `path ${param}: ${b.name}`, url: withParam(b.id) + baseQuery, ...(spec.body ? { body: spec.body } : {}), expect: b.expect, code: b.code });
      }

      if (!spec.public) {
        const body = spec.body ? { body: spec.body } : {};
        add({ name: 'no token', url, ...body, token: null, expect: 401, code: 'unauthorized' });
        add({ name: 'garbage bearer token', url, ...body, token: null, headers: { authorization: 'Bearer not-a-token' }, expect: 401, code: 'unauthorized' });
        add({ name: 'overlong bearer token', url, ...body, token: null, headers: { authorization: `Bearer gh_${'A'.repeat(4 * KIB)}` }, expect: 401, code: 'unauthorized' });
        add({ name: 'Basic instead of Bearer', url, ...body, token: null, headers: { authorization: `Basic ${Buffer.from('admin:x').toString('base64')}` }, expect: 401, code: 'unauthorized' });
        add({ name: 'empty bearer', url, ...body, token: null, headers: { authorization: 'Bearer ' }, expect: 401, code: 'unauthorized' });
        add({ name: 'garbage session cookie', url, ...body, token: null, headers: { cookie: '__Host-gh_session=not-a-token' }, expect: 401, code: 'unauthorized' });
        if (method !== 'GET') {
          // A valid browser session is not enough for a change: the CSRF header must come with it.
          add({ name: 'session cookie without X-CSRF-Token', url, ...body, token: null, headers: { cookie: sessionCookie }, expect: 403, code: 'csrf_failed' });
          add({ name: 'session cookie with a wrong X-CSRF-Token', url, ...body, token: null, headers: { cookie: sessionCookie, 'x-csrf-token': 'A'.repeat(43) }, expect: 403, code: 'csrf_failed' });
        }
      }

      for (const e of spec.extra ?? []) add({ ...e, name: `specific: ${e.name}` });
      return cases;
    };

    /** Runs one case; returns a description of what is wrong with the answer, or null. */
    const run = async (route: string, spec: Spec, c: Case): Promise<string | null> => {
      const token = c.token === null ? undefined : (c.token ?? spec.token ?? t.adminToken);
      const r = await t.req(c.method, c.url, {
        ...(token ? { token } : {}),
        ...(c.body !== undefined ? { body: c.body } : {}),
        ...(c.payload !== undefined ? { payload: c.payload } : {}),
        ...(c.headers ? { headers: c.headers } : {}),
      });
      const problems: string[] = [];
      if (r.statusCode >= 500) problems.push(`server error ${r.statusCode}`);
      if (r.statusCode !== c.expect) problems.push(`status ${r.statusCode}, wanted ${c.expect}`);
      if (r.statusCode >= 400) {
        let body: any;
        try {
          body = JSON.parse(r.body);
        } catch {
          problems.push('error body is not JSON');
        }
        if (!/^application\/json/.test(String(r.headers['content-type']))) problems.push(`content-type ${r.headers['content-type']}`);
        if (body && (typeof body.error?.code !== 'string' || typeof body.error?.message !== 'string' || Object.keys(body).length !== 1)) problems.push('not {error: {code, message}}');
        if (c.code && body?.error?.code !== c.code) problems.push(`code ${body?.error?.code}, wanted ${c.code}`);
        if (c.mention && !String(body?.error?.message).includes(c.mention)) problems.push(`message does not mention ${c.mention}`);
      }
      for (const m of STACK_MARKERS) if (m.test(r.body)) problems.push(`body leaks ${m}`);
      return problems.length ? `${c.name}: ${c.method} ${c.url.slice(0, 120)} -> ${problems.join('; ')} | ${r.body.slice(0, 200)}` : null;
    };

    it('every route has bad-input cases, and every case names a real route', async () => {
      const documented = await documentedRoutes(t);
      const registered = registeredRoutes(t);
      assert.ok(documented.length > 40, `only ${documented.length} documented routes?`);
      assert.deepEqual(documented.filter((r) => !(r in specs)), [], 'documented routes without bad-input cases');
      assert.deepEqual(registered.filter((r) => !(r in specs)), [], 'registered routes without bad-input cases');
      assert.deepEqual(Object.keys(specs).filter((r) => !registered.includes(r)), [], 'cases for routes the app does not have');
      for (const [route, spec] of Object.entries(specs)) assert.ok(casesFor(route, spec).length > 0, `${route} has no cases`);
    });

    for (const route of ROUTE_KEYS) {
      it(`${route} refuses bad input cleanly`, async () => {
        const spec = specs[route];
        assert.ok(spec, `no bad-input spec for ${route}`);
        const failures: string[] = [];
        for (const c of casesFor(route, spec)) {
          const f = await run(route, spec, c);
          if (f) failures.push(f);
        }
        assert.deepEqual(failures, [], `${failures.length} case(s) failed for ${route}:\n${failures.join('\n')}`);
      });
    }

    it('the server logged no unhandled error', () => {
      const bad = t.logs().split('\n').filter((l) => l.includes('unhandled error'));
      assert.deepEqual(bad, []);
    });
  });
}
