// The OpenPSM start flow (seed 003, src/core/openpsm): the two IAM calls this node answers
// (/api/services/v1/secureaccessgateway/*, with the seed's field names), the /start redirect
// it issues for its own secrets, and the gateway's start page calls (master password, the
// browser session, the endsession calls still owed). GET /start itself is an HTML page.
import { body, bool, errors, idParams, int, nullableInt, nullableText, obj, page, pageQuery, str, text } from './schema.js';
import { route } from './route.js';
import type { Model } from './route.js';

export const OPENPSM_MODES = ['RDP', 'SSH', 'Telnet'] as const;
const tags = ['openpsm'] as const;
const guid = str(36, { pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' });
const mode = { type: 'string', enum: OPENPSM_MODES } as const;
/** The gateway authenticates with the ApiKey as a bearer token and the ApiApplicationKey header. */
const gatewaySecurity = [{ bearer: [], applicationKey: [] }] as const;
const startParams = idParams;

/** The getcredential answer, field for field as the seed's example. */
export const credentialAnswerSchema = obj({
  IsPasswordSSHKey: bool,
  UserName: text,
  Password: text,
  Notes: nullableText,
  Server: nullableText,
  Server2: nullableText,
  Server3: nullableText,
  GatewayServerDNSHostName: nullableText,
  ManagementPort: nullableInt,
  AllowLiveSnooping: bool,
  AllowJoinRequests: bool,
  AllowJoinInvites: bool,
  RecordPSMSession: bool,
});
export type OpenPsmCredentialAnswer = Model<typeof credentialAnswerSchema>;

export const startViewSchema = obj({
  state: { type: 'string', enum: ['password', 'ready', 'used'] },
  mode: text,
  computerId: text,
  /** PSM_Connection_Delay: seconds the page waits before asking for the master password. */
  delaySeconds: int,
  display: obj({ width: int, height: int, dpi: int }),
});

export const endNoticeSchema = obj({
  session: text,
  loginSessionId: text,
  apiUrl: text,
  attempts: int,
  unauthorized: int,
  /** null while owed; delivered or abandoned. */
  outcome: nullableText,
  lastError: nullableText,
  /** The session has ended and the call is (still) being tried. */
  due: bool,
});

export const openpsm = {
  getCredential: route('POST', '/api/services/v1/secureaccessgateway/getcredential', {
    tags,
    summary: 'IAM side: the credential for a /start this node issued, in clear, for the gateway (ApiKey as bearer token, X-Api-Application-Key; the person\'s master password)',
    security: gatewaySecurity,
    body: body({ computer: str(128), credential: guid, password: str(1024), mode, session: guid, loginsessionid: guid }, ['computer', 'credential', 'password', 'mode', 'session', 'loginsessionid']),
    response: { 200: credentialAnswerSchema, ...errors },
  }),
  endSession: route('POST', '/api/services/v1/secureaccessgateway/endsession', {
    tags,
    summary: 'IAM side: the gateway says the session of a getcredential ended (idempotent)',
    security: gatewaySecurity,
    body: body({ session: guid, loginsessionid: guid, computer: str(128), credential: guid }, ['session', 'loginsessionid']),
    response: { 200: obj({ ended: { type: 'boolean', enum: [true] } }), ...errors },
  }),
  link: route('POST', '/api/v1/openpsm/links', {
    tags,
    summary: 'IAM side: the /start URL on the gateway (setting openpsmGatewayUrl) for one of your secrets, optionally with one of your personal credentials (needs launch and view on the secret)',
    body: body(
      { secretId: str(128), mode, personalCredentialId: guid, width: { type: 'integer', minimum: 100, maximum: 10000 }, height: { type: 'integer', minimum: 100, maximum: 10000 }, dpi: { type: 'integer', minimum: 50, maximum: 1000 } },
      ['secretId', 'mode'],
    ),
    response: { 200: obj({ url: text, loginSessionId: text, expiresAt: text }), ...errors },
  }),
  gateway: route('GET', '/api/v1/openpsm/gateway', {
    tags,
    summary: 'IAM side: the gateway this node issues /start links for (openpsmGatewayUrl; empty while it or openpsmApplicationKey is unset), for the portal\'s "Open through OpenPSM gateway" action (needs launch)',
    response: { 200: obj({ gatewayUrl: text }), ...errors },
  }),
  start: route('GET', '/api/v1/openpsm/starts/:id', { tags, summary: 'Gateway side: what the start page shows (no credential)', security: [], params: startParams, response: { 200: startViewSchema, ...errors } }),
  password: route('POST', '/api/v1/openpsm/starts/:id/password', {
    tags,
    summary: "Gateway side: the master password, sent once to the IAM's getcredential. 401 invalid_master_password: enter it again; 410 token_expired: close the tab and start again; 502 iam_error: the error page. Mode RDP: rdpSession is the browser RDP page to open (its single-use token and the GUAC_* desktop)",
    security: [],
    params: startParams,
    body: body({ password: str(1024) }, ['password']),
    response: { 200: { type: 'object', properties: { status: { type: 'string', enum: ['ready'] }, rdpSession: text }, required: ['status'], additionalProperties: false }, ...errors },
  }),
  terminal: route('GET', '/api/v1/openpsm/starts/:id/terminal', {
    tags,
    summary: 'Gateway side: WebSocket terminal of a start whose credential was retrieved (frames as /api/v1/terminal)',
    security: [],
    params: startParams,
    querystring: { type: 'object', additionalProperties: false, properties: { cols: { type: 'integer', minimum: 10, maximum: 1000 }, rows: { type: 'integer', minimum: 5, maximum: 500 } } },
    response: { 101: { type: 'null', description: 'Switching to the WebSocket protocol' }, ...errors },
  }),
  endNotices: route('GET', '/api/v1/openpsm/end-notices', {
    tags,
    summary: 'Gateway side: the endsession calls owed, delivered or abandoned, newest first (needs audit)',
    querystring: pageQuery(),
    response: { 200: page(endNoticeSchema), ...errors },
  }),
} as const;
