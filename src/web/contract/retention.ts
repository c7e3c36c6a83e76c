// Recording retention (issue 16 point 4; rules in src/core/sessions/retention.ts): policies
// that keep recordings N days after their session ended (global, a folder, a launcher; the
// longest that applies wins), legal holds on sessions, and a sweep on demand (the server also
// sweeps hourly). Deletions are audited as recording.delete.
import { body, errors, idParams, int, noContent, nullableText, obj, page, pageQuery, str, text, time } from './schema.js';
import { route } from './route.js';

export const RETENTION_SCOPES = ['global', 'folder', 'launcher'] as const;
/** At most about 100 years. */
export const MAX_KEEP_DAYS = 36_500;

export const retentionPolicySchema = obj({
  id: text,
  scope: { type: 'string', enum: RETENTION_SCOPES },
  /** The folder's or launcher's id; null for global. */
  scopeId: nullableText,
  keepDays: int,
  createdAt: time,
  updatedAt: time,
});
export const legalHoldSchema = obj({ sessionId: text, reason: text, by: obj({ id: text, username: text }), createdAt: time });

export const retention = {
  list: route('GET', '/api/v1/recording-retention', {
    tags: ['recordings'],
    summary: 'Recording retention policies: keep recordings N days after their session ended (global, per folder, per launcher)',
    querystring: pageQuery(),
    response: { 200: page(retentionPolicySchema), ...errors },
  }),
  set: route('PUT', '/api/v1/recording-retention', {
    tags: ['recordings'],
    summary: 'Set the policy of a scope (created, or its days changed): where several apply to a session the longest wins',
    body: body({ scope: { type: 'string', enum: RETENTION_SCOPES }, scopeId: str(128), keepDays: { type: 'integer', minimum: 1, maximum: MAX_KEEP_DAYS } }, ['scope', 'keepDays']),
    response: { 200: retentionPolicySchema, ...errors },
  }),
  remove: route('DELETE', '/api/v1/recording-retention/:id', { tags: ['recordings'], params: idParams, response: { 204: noContent, ...errors } }),
  sweep: route('POST', '/api/v1/recording-retention/sweep', {
    tags: ['recordings'],
    summary: 'Delete now every recording no policy keeps any longer and no legal hold keeps (each audited as recording.delete); failed counts those that could not be deleted (logged, tried again at the next sweep)',
    body: body({}),
    response: { 200: obj({ deleted: { type: 'array', items: obj({ sessionId: text, file: text, keepDays: int }) }, held: int, failed: int }), ...errors },
  }),
  holds: route('GET', '/api/v1/legal-holds', {
    tags: ['recordings'],
    summary: 'Sessions on legal hold: their recordings are deleted by no retention policy',
    querystring: pageQuery(),
    response: { 200: page(legalHoldSchema), ...errors },
  }),
  hold: route('PUT', '/api/v1/sessions/:id/legal-hold', {
    tags: ['recordings'],
    summary: "Put a session's recording on legal hold (409 already_held; 409 recording_deleted when retention already deleted it)",
    params: idParams,
    body: body({ reason: str(1000) }, ['reason']),
    response: { 200: legalHoldSchema, ...errors },
  }),
  release: route('DELETE', '/api/v1/sessions/:id/legal-hold', {
    tags: ['recordings'],
    summary: 'Release a legal hold: retention applies to the recording again',
    params: idParams,
    response: { 204: noContent, ...errors },
  }),
} as const;
