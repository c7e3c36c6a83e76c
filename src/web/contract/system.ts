// Health, settings and master-key rotation: the routes' requests and answers.
import { body, bool, errors, int, num, obj, recordOf, str, text } from './schema.js';
import { route } from './route.js';

/** The runtime settings with their bounds: the PATCH body and the values GET answers. */
const settingProps = {
  sessionTimeout: { type: 'integer', minimum: -1_000_000, maximum: 86400 },
  allowConnectionSharing: { type: 'boolean' },
  publicUrl: { type: 'string', maxLength: 2048 },
  lockoutThreshold: { type: 'integer', minimum: 0, maximum: 100 },
  lockoutMinutes: { type: 'integer', minimum: 1, maximum: 10080 },
  loginRateLimit: { type: 'integer', minimum: 0, maximum: 100000 },
  loginRequestsPerIp: { type: 'integer', minimum: 0, maximum: 1000000 },
  loginRequestsPerAccount: { type: 'integer', minimum: 0, maximum: 1000000 },
  tokenRequestsPerIp: { type: 'integer', minimum: 0, maximum: 1000000 },
  tokenRequestsPerAccount: { type: 'integer', minimum: 0, maximum: 1000000 },
  ticketRequestsPerIp: { type: 'integer', minimum: 0, maximum: 1000000 },
  ticketRequestsPerAccount: { type: 'integer', minimum: 0, maximum: 1000000 },
  loginRateWindowSeconds: { type: 'integer', minimum: 1, maximum: 86400 },
  loginAuditThreshold: { type: 'integer', minimum: 0, maximum: 100000 },
  loginTokenMinutes: { type: 'integer', minimum: 5, maximum: 43200 },
  auditCheckpointSeconds: { type: 'integer', minimum: 10, maximum: 86400 },
  auditStreamDrainSeconds: { type: 'integer', minimum: 0, maximum: 300 },
  smtpHost: { type: 'string', maxLength: 255 },
  smtpPort: { type: 'integer', minimum: 1, maximum: 65535 },
  smtpSecure: { type: 'boolean' },
  smtpFrom: { type: 'string', maxLength: 255 },
  personalUnlockIdleSeconds: { type: 'integer', minimum: 1, maximum: 86400 },
  heartbeatIntervalHours: { type: 'integer', minimum: 1, maximum: 8760 },
  heartbeatConcurrency: { type: 'integer', minimum: 1, maximum: 64 },
  sessionConnector: { type: 'boolean' },
  oidcJitProvisioning: { type: 'boolean' },
  oidcClockToleranceSeconds: { type: 'integer', minimum: 0, maximum: 300 },
  webauthnRpId: { type: 'string', maxLength: 253 },
  webauthnPasswordless: { type: 'boolean' },
  webservicesEnabled: { type: 'boolean' },
  webservicesMachineField: { type: 'string', maxLength: 128 },
  webservicesDomainField: { type: 'string', maxLength: 128 },
  webservicesIncludeDomainCredentialsFor: { type: 'string', maxLength: 1024 },
  webservicesDefaultDomain: { type: 'string', maxLength: 253 },
  webservicesFallbackToLocal: { type: 'boolean' },
  webservicesIncludeDefaultOrganization: { type: 'boolean' },
  webservicesTokenMinutes: { type: 'integer', minimum: 1, maximum: 1440 },
  openpsmAllowedApiUrls: { type: 'array', maxItems: 50, items: { type: 'string', maxLength: 512 } },
  openpsmTrustedCa: { type: 'string', maxLength: 65536 },
  openpsmEndSessionBackoffSeconds: { type: 'integer', minimum: 0, maximum: 3600 },
  openpsmGatewayUrl: { type: 'string', maxLength: 2048 },
  openpsmApplicationKey: { type: 'string', maxLength: 36 },
  openpsmLinkSeconds: { type: 'integer', minimum: 30, maximum: 86400 },
  logonTicketUser: { type: 'string', maxLength: 128 },
  logonTicketServers: { type: 'array', maxItems: 50, items: { type: 'string', maxLength: 1024 } },
  logonTicketLoadBalancing: { type: 'boolean' },
  logon_type_allowance: { type: 'integer', minimum: 0, maximum: 3 },
  lpw_timeout_list_ip: { type: 'string', maxLength: 4096 },
  lpw_phrase: { type: 'string', maxLength: 256 },
  accept_lpw_only_rsa_secured: { type: 'boolean' },
  ldapSyncMinutes: { type: 'integer', minimum: 0, maximum: 10080 },
  ldapTerminateSessionsOnDisable: { type: 'boolean' },
} as const;
export const SETTING_NAMES = Object.keys(settingProps) as (keyof typeof settingProps)[];

const settingValues = obj(settingProps);
const check = body({ ok: bool, /** Why not: an errno code, `timeout` or `write_failed`. */ error: text }, ['ok']);
export const healthSchema = obj({
  /** draining: after SIGTERM the node takes no new sessions (docs/operations.md). */
  status: { type: 'string', enum: ['ok', 'degraded', 'draining'] },
  version: text,
  database: { type: 'string', enum: ['sqlite', 'postgres'] },
  checks: body({
    database: check,
    /** lastFailure: the latest session whose recording could not be created or written (kept as information). */
    recordings: body({ ...check.properties, lastFailure: obj({ code: text, stage: { type: 'string', enum: ['open', 'write'] }, at: text }) }, ['ok']),
    /** One per front door, by name (when the server registered its doors); error `not_listening`. */
    doors: { type: 'object', additionalProperties: check },
    /** The recordings' bucket, when recordings go to S3-compatible storage; error `timeout` or `unreachable`. */
    objectStorage: check,
  }, ['database', 'recordings']),
});

export const system = {
  // 200 {status:'ok'} or 503 {status:'degraded'} with the failing check. A request arriving
  // while the server shuts down is refused with the uniform error instead.
  health: route('GET', '/healthz', {
    tags: ['system'],
    summary: 'Liveness; whether the database and the recordings directory (or bucket) can be written (503 when not)',
    security: [],
    response: { 200: healthSchema, 503: { anyOf: [healthSchema, errors['5xx']] }, ...errors },
  }),
  settings: route('GET', '/api/v1/settings', {
    tags: ['system'],
    summary: 'Current settings with descriptions and defaults',
    response: {
      200: obj({
        values: settingValues,
        definitions: recordOf(SETTING_NAMES as unknown as readonly (keyof typeof settingProps)[], obj({ default: { type: ['string', 'number', 'boolean', 'array'], items: { type: 'string' } }, description: text })),
      }),
      ...errors,
    },
  }),
  updateSettings: route('PATCH', '/api/v1/settings', { tags: ['system'], summary: 'Change settings', body: body(settingProps), response: { 200: obj({ values: settingValues }), ...errors } }),
  // The generated OpenAPI 3 document of this contract (not itself part of it, so hidden).
  openapi: route('GET', '/api/openapi.json', { hide: true, response: { 200: { type: 'object', additionalProperties: true, description: 'OpenAPI 3.0 document' }, ...errors } }),
  rotateMasterKey: route('POST', '/api/v1/admin/rotate-master-key', {
    tags: ['system'],
    summary: 'Rewrap every data key under a new master key while serving. With GATEHOUSE_MASTER_KEY, pass the new key and set it in the environment before the next restart.',
    body: body({ newKey: str(128) }),
    response: { 200: obj({ keyId: text, previousKeyId: text, rewrapped: int, seconds: num, keySource: { type: 'string', enum: ['env', 'file'] } }), ...errors },
  }),
} as const;
