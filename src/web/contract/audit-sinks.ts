// Audit streaming sinks (issue 16 point 6; rules in src/core/audit/streaming): syslog over TCP or
// TLS and HMAC-signed webhooks, each with how far it got in the chain. The secrets (HMAC key, CA,
// client certificate and key) are write-only: answers say only whether one is held. A webhook's
// URL is sealed too (receivers often carry their secret in its path or query): answers show it
// as scheme, host and port, with `/…` for any path and query.
// Administrators only.
import { body, bool, errors, idParams, int, noContent, nullableInt, nullableText, obj, page, pageQuery, str, text, time } from './schema.js';
import { route } from './route.js';

const tags = ['audit'];
export const AUDIT_SINK_KINDS = ['syslog', 'webhook'] as const;

export const auditSinkSchema = obj({
  id: text,
  name: text,
  kind: { type: 'string', enum: AUDIT_SINK_KINDS },
  enabled: bool,
  host: nullableText,
  port: nullableInt,
  tls: bool,
  serverName: nullableText,
  facility: int,
  hostname: nullableText,
  /** webhook: the URL's display form, e.g. `https://hooks.example.com/…` (the URL itself is write-only); syslog: null. */
  url: nullableText,
  batchSize: int,
  timeoutSeconds: int,
  retryInitialMs: int,
  retryMaxMs: int,
  hasHmacKey: bool,
  hasCa: bool,
  hasClientCert: bool,
  status: obj({
    cursor: int,
    head: int,
    pending: int,
    delivered: int,
    lastDeliveredAt: nullableText,
    attempts: int,
    nextAttemptAt: nullableText,
    lastError: nullableText,
    lastErrorAt: nullableText,
    node: nullableText,
  }),
  createdAt: time,
  updatedAt: time,
});

const pem = { type: ['string', 'null'], minLength: 1, maxLength: 65536 } as const;
const sinkProps = {
  name: str(64, { pattern: '^[a-z0-9][a-z0-9-]{0,63}$' }),
  enabled: bool,
  host: str(253),
  port: { type: 'integer', minimum: 1, maximum: 65535 },
  tls: bool,
  serverName: { type: ['string', 'null'], minLength: 1, maxLength: 253 },
  facility: { type: 'integer', minimum: 0, maximum: 23 },
  hostname: { type: ['string', 'null'], minLength: 1, maxLength: 255 },
  /** Write-only (webhook): the whole https URL, sealed; left out on a change, the one held is kept. Answers show only its display form, which is refused here. */
  url: str(2048),
  batchSize: { type: 'integer', minimum: 1, maximum: 1000 },
  timeoutSeconds: { type: 'integer', minimum: 1, maximum: 60 },
  retryInitialMs: { type: 'integer', minimum: 100, maximum: 600_000 },
  retryMaxMs: { type: 'integer', minimum: 100, maximum: 86_400_000 },
  /** Write-only: the webhook's HMAC-SHA256 key (at least 16 characters). */
  hmacKey: { type: ['string', 'null'], minLength: 16, maxLength: 1024 },
  /** Write-only: PEM certificates trusted for the receiver (instead of the system store). */
  caPem: pem,
  /** Write-only: a client certificate and its key, for receivers that ask for one. */
  clientCertPem: pem,
  clientKeyPem: pem,
} as const;

export const auditSinks = {
  list: route('GET', '/api/v1/audit-sinks', { tags, summary: 'Audit streaming sinks and how far each got', querystring: pageQuery(), response: { 200: page(auditSinkSchema), ...errors } }),
  create: route('POST', '/api/v1/audit-sinks', {
    tags,
    summary: 'Add a syslog or webhook sink; it gets the chain from its first event (startAt "beginning", the default) or from the next one ("now")',
    body: body({ ...sinkProps, kind: { type: 'string', enum: AUDIT_SINK_KINDS }, startAt: { type: 'string', enum: ['beginning', 'now'] } }, ['name', 'kind']),
    response: { 201: auditSinkSchema, ...errors },
  }),
  get: route('GET', '/api/v1/audit-sinks/:id', { tags, params: idParams, response: { 200: auditSinkSchema, ...errors } }),
  update: route('PATCH', '/api/v1/audit-sinks/:id', { tags, summary: 'Change a sink (a secret given as null is removed); a failing sink is tried again at once', params: idParams, body: body(sinkProps), response: { 200: auditSinkSchema, ...errors } }),
  remove: route('DELETE', '/api/v1/audit-sinks/:id', { tags, params: idParams, response: { 204: noContent, ...errors } }),
} as const;
