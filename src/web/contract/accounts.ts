// Target accounts (issue 12, src/core/accounts): a secret's management link, rotation and
// heartbeat settings and results, password rotation, heartbeat on demand and the history
// of a secret's earlier values. The routes' requests and answers.
import { body, bool, errors, idParams, int, nullableInt, nullableStr, nullableText, obj, page, pageQuery, ref, text, textList, time } from './schema.js';
import { route } from './route.js';

export const TARGET_KINDS = ['linux', 'ldap', 'windows'] as const;
export const HEARTBEAT_STATUSES = ['ok', 'drift', 'unreachable'] as const;
export const ROTATION_STATUSES = ['ok', 'failed'] as const;
export const MAX_HEARTBEAT_HOURS = 8760;

const nullableKind = { type: ['string', 'null'], enum: [...TARGET_KINDS, null] } as const;

/** What rotated passwords of a template's secrets look like (defaults filled in). */
export const passwordRulesSchema = obj({ length: int, lower: bool, upper: bool, digit: bool, symbol: bool, symbols: text });
/** Password rules as given to a template: any left out take the default. */
export const passwordRulesBody = body({
  length: { type: 'integer', minimum: 1, maximum: 1024 },
  lower: bool,
  upper: bool,
  digit: bool,
  symbol: bool,
  symbols: { type: 'string', maxLength: 64 },
});

/** A secret's account on its target as Gatehouse manages it (part of every secret view). */
export const accountSchema = obj({
  /** The kind of target the account lives on (set here or by the template); null: not managed. */
  targetKind: nullableKind,
  /** The secret account operations run through (null: the account changes its own password). */
  managementSecretId: nullableText,
  rotateAfterUse: bool,
  heartbeat: bool,
  /** null: the heartbeatIntervalHours setting. */
  heartbeatIntervalHours: nullableInt,
  /** The last heartbeat: drift means the stored password no longer works. */
  lastHeartbeat: { anyOf: [obj({ status: { type: 'string', enum: HEARTBEAT_STATUSES }, message: nullableText, at: time }), { type: 'null' }] },
  lastRotation: { anyOf: [obj({ status: { type: 'string', enum: ROTATION_STATUSES }, message: nullableText, at: time }), { type: 'null' }] },
  /** How many earlier versions of the secret's values are kept. */
  versions: int,
  /** Just-in-time accounts: a launch creates a temporary account (prefix + random) through the management secret, removed or disabled at session end. */
  jit: obj({ enabled: bool, endAction: { type: 'string', enum: ['remove', 'disable'] }, /** Seed 003's PSM_Connection_Delay. */ connectionDelaySeconds: int, namePrefix: text }),
});

/** The account settings as given to PATCH /secrets/:id (needs edit; the management secret needs view). */
export const accountBody = body({
  managementSecretId: nullableStr(128),
  targetKind: nullableKind,
  rotateAfterUse: bool,
  heartbeat: bool,
  heartbeatIntervalHours: { type: ['integer', 'null'], minimum: 1, maximum: MAX_HEARTBEAT_HOURS },
  jit: body({ enabled: bool, endAction: { type: 'string', enum: ['remove', 'disable'] }, connectionDelaySeconds: { type: 'integer', minimum: 0, maximum: 300 }, namePrefix: { type: 'string', minLength: 1, maxLength: 20 } }),
});

export const heartbeatResultSchema = obj({ secretId: text, status: { type: 'string', enum: HEARTBEAT_STATUSES }, message: nullableText, at: time });
export const rotationResultSchema = obj({ secretId: text, status: { type: 'string', enum: ['ok'] }, version: int, at: time });
export const versionSchema = obj({
  version: int,
  /** Why it was replaced: 'rotation' or 'update'. */
  reason: text,
  replacedBy: { anyOf: [ref, { type: 'null' }] },
  /** When it was replaced. */
  replacedAt: time,
  /** Names of the fields that version held (values need the owner's reveal). */
  fields: textList,
});
export const revealedVersionSchema = obj({ id: text, version: int, fields: { type: 'object', additionalProperties: { type: ['string', 'number'] } } });

const tags = ['secrets'] as const;

export const accounts = {
  rotate: route('POST', '/api/v1/secrets/:id/rotate', {
    tags,
    summary: "Rotate the secret's password on its target now (needs edit): generate, change, verify by logging in, then store as a new version. A failure keeps the old password on the target and in the vault",
    params: idParams,
    response: { 200: rotationResultSchema, ...errors },
  }),
  heartbeat: route('POST', '/api/v1/secrets/:id/heartbeat', {
    tags,
    summary: 'Log in to the target with the stored credential now and record the result (needs edit): ok, drift (the stored password no longer works) or unreachable',
    params: idParams,
    response: { 200: heartbeatResultSchema, ...errors },
  }),
  versions: route('GET', '/api/v1/secrets/:id/versions', {
    tags,
    summary: "Earlier versions of a secret's values, newest first: metadata only (needs view)",
    params: idParams,
    querystring: pageQuery(),
    response: { 200: page(versionSchema), ...errors },
  }),
  revealVersion: route('POST', '/api/v1/secrets/:id/versions/reveal', {
    tags,
    summary: "An earlier version's values, secret ones included, for recovery (needs owner; audited)",
    params: idParams,
    body: body({ version: { type: 'integer', minimum: 1, maximum: 1_000_000_000 } }, ['version']),
    response: { 200: revealedVersionSchema, ...errors },
  }),
} as const;
