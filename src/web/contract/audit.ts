// The audit trail (events, verification, signed checkpoints, export) and recording seals:
// the routes' requests and answers.
import { body, bool, errors, int, nullableInt, nullableText, obj, optStr, page, pageQuery, str, text, time } from './schema.js';
import { route } from './route.js';

export const CHECKPOINT_FORMAT = 'gatehouse-audit-checkpoint/1';
export const BREAK_REASONS = ['edited', 'deleted', 'reordered', 'bad_signature', 'truncated', 'missing_checkpoint', 'bad_anchor', 'no_pinned_key'] as const;
export const RECORDING_STATUSES = ['ok', 'differs', 'missing', 'unsealed', 'live', 'deleted'] as const;

// ---- answers
export const auditEventSchema = obj({
  seq: int,
  ts: time,
  actorId: nullableText,
  actorName: nullableText,
  action: text,
  targetType: nullableText,
  targetId: nullableText,
  ip: nullableText,
  outcome: { type: 'string', enum: ['success', 'failure'] },
  /** Free-form facts of the event (what changed, why it failed …). */
  details: { type: 'object', additionalProperties: true },
  prevHash: text,
  hash: text,
});
export const verifyResultSchema = body(
  {
    ok: bool,
    /** Events checked. */
    count: int,
    brokenAt: int,
    reason: { type: 'string', enum: BREAK_REASONS },
    message: text,
    checkpoints: int,
    lastCheckpointSeq: int,
    /** Events after the last checkpoint whose checkpoint is not due yet. */
    unsigned: int,
    /** Anchors (checkpoints kept outside the database) that were checked. */
    anchors: int,
    /** 'pinned': only keys kept outside the database; 'database': keys recorded in it were trusted too. */
    trust: { type: 'string', enum: ['pinned', 'database'] },
    /** Where the pinned keys came from. */
    keySource: nullableText,
  },
  ['ok', 'count', 'checkpoints', 'unsigned', 'anchors', 'trust', 'keySource'],
);
/** A checkpoint in its portable form: what `audit checkpoint export` prints and an anchor file holds. */
export const exportedCheckpointSchema = obj({
  format: { type: 'string', const: CHECKPOINT_FORMAT },
  seq: int,
  hash: text,
  ts: time,
  keyId: text,
  fingerprint: nullableText,
  signature: text,
});
/** A checkpoint as stored: createdAt in epoch milliseconds. */
export const storedCheckpointSchema = obj({ seq: int, hash: text, signature: text, keyId: text, createdAt: int });
export const recordingCheckSchema = obj({
  sessionId: nullableText,
  /** Relative to the recordings directory. */
  file: text,
  status: { type: 'string', enum: RECORDING_STATUSES },
  format: nullableText,
  /** What the seal event says, and what the file hashes to now (null when missing or live). */
  sealedSha256: nullableText,
  sha256: nullableText,
  /** The seal event's place in the chain. */
  sealSeq: nullableInt,
  message: text,
});

// ---- requests
const checkpointBody = body(
  {
    format: { type: 'string', const: CHECKPOINT_FORMAT },
    seq: { type: 'integer', minimum: 1 },
    hash: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    ts: str(64),
    keyId: str(64),
    fingerprint: { type: ['string', 'null'], maxLength: 128 },
    signature: str(256),
  },
  ['seq', 'hash', 'ts', 'keyId', 'signature'],
);

export const audit = {
  list: route('GET', '/api/v1/audit', {
    tags: ['audit'],
    summary: 'Audit events, newest first (action accepts a trailing * wildcard)',
    querystring: pageQuery({ action: optStr(128), actorId: optStr(128), targetId: optStr(128), since: { type: 'string', maxLength: 64 }, until: { type: 'string', maxLength: 64 } }),
    response: { 200: page(auditEventSchema), ...errors },
  }),
  verify: route('GET', '/api/v1/audit/verify', {
    tags: ['audit'],
    summary: 'Recompute the hash chain and check the signed checkpoints against the pinned keys and anchors: {ok, count, brokenAt?, reason?, unsigned, …}',
    response: { 200: verifyResultSchema, ...errors },
  }),
  // The same, with further anchors: checkpoints exported earlier (`gatehouse audit checkpoint export`) and kept elsewhere.
  verifyWithAnchors: route('POST', '/api/v1/audit/verify', {
    tags: ['audit'],
    summary: 'Verify as GET /audit/verify does, and that the chain still holds these exported checkpoints',
    body: body({ anchors: { type: 'array', minItems: 1, maxItems: 100, items: checkpointBody } }, ['anchors']),
    response: { 200: verifyResultSchema, ...errors },
  }),
  /** application/x-ndjson: one audit event (auditEventSchema) per line. */
  export: route('GET', '/api/v1/audit/export', { tags: ['audit'], summary: 'Every event in chain order as JSON lines (application/x-ndjson)', response: { 200: { type: 'string', description: 'JSON lines, one event each' }, ...errors } }),
  publicKey: route('GET', '/api/v1/audit/public-key', {
    tags: ['audit'],
    summary: 'The Ed25519 key that signs chain checkpoints (pin it for offline verification)',
    response: { 200: obj({ keyId: text, fingerprint: text, publicKeyPem: text, pinned: { type: 'array', items: obj({ keyId: text, fingerprint: text }) }, pinnedFrom: nullableText }), ...errors },
  }),
  checkpoint: route('GET', '/api/v1/audit/checkpoint', {
    tags: ['audit'],
    summary: 'The newest checkpoint a pinned key signed, in the export format (keep it elsewhere as an anchor); null before the first',
    response: { 200: obj({ checkpoint: { anyOf: [exportedCheckpointSchema, { type: 'null' }] } }), ...errors },
  }),
  signCheckpoint: route('POST', '/api/v1/audit/checkpoint', {
    tags: ['audit'],
    summary: 'Sign the current chain head now',
    body: body({}),
    response: { 200: obj({ checkpoint: { anyOf: [storedCheckpointSchema, { type: 'null' }] } }), ...errors },
  }),
  // Lives with the audit routes rather than the recording routes: it is a check against the audit chain.
  verifyRecordings: route('POST', '/api/v1/recordings/verify', {
    tags: ['recordings'],
    summary: "Re-hash recording files against their recording.seal audit events: each is ok, differs, missing, unsealed, live or deleted (by retention); with the audit chain's own verification",
    body: body({ sessions: { type: 'array', minItems: 1, maxItems: 500, items: str(128) }, sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' }, all: { type: 'boolean' } }),
    response: { 200: obj({ chain: verifyResultSchema, items: { type: 'array', items: recordingCheckSchema } }), ...errors },
  }),
} as const;
