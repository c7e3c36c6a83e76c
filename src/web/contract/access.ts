// Access request policies, requests, approvals and grants: the routes' requests and
// answers (docs/access-workflows.md describes the model).
import { body, bool, errors, idParams, int, noContent, nullableText, obj, optStr, page, pageQuery, str, text, textList, time } from './schema.js';
import { route } from './route.js';

export const ACCESS_MODES = ['ssh', 'telnet', 'rdp'] as const;
export const MFA_MODES = ['never', 'always', 'untrusted'] as const;
export const TICKET_REFERENCE = ['none', 'optional', 'required'] as const;
export const REQUEST_STATUSES = ['pending', 'approved', 'denied', 'cancelled', 'revoked', 'expired'] as const;
export const REQUEST_SCOPES = ['mine', 'approve', 'all'] as const;

const principalType = { type: 'string', enum: ['user', 'group'] } as const;
const mode = { type: 'string', enum: ACCESS_MODES } as const;
const hhmm = { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' } as const;

// ---- answers
const principalRef = obj({ principalType, principalId: text, /** Username or group name. */ principalName: nullableText });
const allowedHoursSchema = obj({ days: { type: 'array', items: int }, from: text, to: text, timeZone: text });
export const policySchema = obj({
  id: text,
  name: text,
  description: text,
  approvers: { type: 'array', items: principalRef },
  /** N of "N of M": approvals a request needs. */
  approvalsRequired: int,
  /** Who launches without a request (and whose requests are granted at once). */
  preApproved: { type: 'array', items: principalRef },
  defaultWindowMinutes: int,
  maxWindowMinutes: int,
  /** null: any time. */
  allowedHours: { anyOf: [allowedHoursSchema, { type: 'null' }] },
  allowedModes: { type: 'array', items: mode },
  mfa: { type: 'string', enum: MFA_MODES },
  trustedNetworks: textList,
  mfaMaxAgeMinutes: int,
  recordingRequired: bool,
  consentText: text,
  checkoutRequired: bool,
  /** Rotate the password of the policy's managed secrets after each use (issue 12). */
  rotateAfterUse: bool,
  reasonRequired: bool,
  ticketReference: { type: 'string', enum: TICKET_REFERENCE },
  createdAt: time,
  updatedAt: time,
});
export const accessRequestSchema = obj({
  id: text,
  secret: obj({ id: text, name: text }),
  requester: obj({ id: text, name: text }),
  policy: obj({ id: text, name: text }),
  reason: text,
  ticketRef: nullableText,
  modes: { type: 'array', items: mode },
  start: time,
  end: time,
  approvalsRequired: int,
  decisions: { type: 'array', items: obj({ approverId: text, approverName: text, decision: { type: 'string', enum: ['approve', 'deny'] }, comment: text, at: time }) },
  status: { type: 'string', enum: REQUEST_STATUSES },
  grant: { anyOf: [obj({ id: text, start: time, end: time, revokedAt: nullableText, revokedBy: nullableText }), { type: 'null' }] },
  /** Whether the caller may approve or deny it now. */
  canDecide: bool,
  /** The access level (issue 12) the request asks for. */
  accessLevel: { anyOf: [obj({ id: text, name: text }), { type: 'null' }] },
  createdAt: time,
  decidedAt: nullableText,
});

// ---- requests
const principalList = { type: 'array', maxItems: 200, items: body({ principalType, principal: str(128) }, ['principalType', 'principal']) } as const;
const policyProps = {
  name: str(128),
  description: optStr(1024),
  approvers: principalList,
  approvalsRequired: { type: 'integer', minimum: 1, maximum: 50 },
  preApproved: principalList,
  defaultWindowMinutes: { type: 'integer', minimum: 1, maximum: 525600 },
  maxWindowMinutes: { type: 'integer', minimum: 1, maximum: 525600 },
  /** null: any time. One nullable object (not anyOf), so a fault inside it is named in the error. */
  allowedHours: { ...body({ days: { type: 'array', maxItems: 7, items: { type: 'integer', minimum: 0, maximum: 6 } }, from: hhmm, to: hhmm, timeZone: str(64) }, ['days', 'from', 'to', 'timeZone']), type: ['object', 'null'] },
  allowedModes: { type: 'array', minItems: 1, maxItems: 3, items: mode },
  mfa: { type: 'string', enum: MFA_MODES },
  trustedNetworks: { type: 'array', maxItems: 100, items: str(64) },
  mfaMaxAgeMinutes: { type: 'integer', minimum: 1, maximum: 1440 },
  recordingRequired: bool,
  consentText: optStr(4096),
  checkoutRequired: bool,
  rotateAfterUse: bool,
  reasonRequired: bool,
  ticketReference: { type: 'string', enum: TICKET_REFERENCE },
} as const;
const commentBody = body({ comment: optStr(1024) });

export const accessPolicies = {
  list: route('GET', '/api/v1/access-policies', { tags: ['access'], summary: 'Access request policies (needs administer)', querystring: pageQuery(), response: { 200: page(policySchema), ...errors } }),
  create: route('POST', '/api/v1/access-policies', {
    tags: ['access'],
    summary: 'Create an access request policy (needs administer); attach it with policyId on a secret or folder',
    body: body(policyProps, ['name']),
    response: { 201: policySchema, ...errors },
  }),
  get: route('GET', '/api/v1/access-policies/:id', { tags: ['access'], summary: 'One policy, by id or name (needs administer)', params: idParams, response: { 200: policySchema, ...errors } }),
  update: route('PATCH', '/api/v1/access-policies/:id', { tags: ['access'], summary: 'Change a policy (needs administer)', params: idParams, body: body(policyProps), response: { 200: policySchema, ...errors } }),
  remove: route('DELETE', '/api/v1/access-policies/:id', { tags: ['access'], summary: 'Delete a policy attached nowhere (needs administer)', params: idParams, response: { 204: noContent, ...errors } }),
} as const;

export const accessRequests = {
  list: route('GET', '/api/v1/access-requests', {
    tags: ['access'],
    summary: 'Access requests: yours (scope=mine), those waiting for your decision (scope=approve), or everyone\'s (scope=all, needs administer)',
    querystring: pageQuery({ scope: { type: 'string', enum: REQUEST_SCOPES, default: 'mine' } }),
    response: { 200: page(accessRequestSchema), ...errors },
  }),
  create: route('POST', '/api/v1/access-requests', {
    tags: ['access'],
    summary: 'Request access to a secret under a policy for a window (start/end ISO 8601; default: now for the policy\'s default length)',
    body: body({ secretId: str(128), reason: optStr(1024), ticketRef: optStr(256), start: str(64), end: str(64), modes: { type: 'array', minItems: 1, maxItems: 3, items: mode }, accessLevel: str(128) }, ['secretId']),
    response: { 201: accessRequestSchema, ...errors },
  }),
  get: route('GET', '/api/v1/access-requests/:id', { tags: ['access'], summary: 'One request (its requester, its approvers, administrators)', params: idParams, response: { 200: accessRequestSchema, ...errors } }),
  approve: route('POST', '/api/v1/access-requests/:id/approve', {
    tags: ['access'],
    summary: "Approve a pending request (its policy's approvers; not your own); the last approval needed opens the grant",
    params: idParams,
    body: commentBody,
    response: { 200: accessRequestSchema, ...errors },
  }),
  deny: route('POST', '/api/v1/access-requests/:id/deny', { tags: ['access'], summary: 'Deny a pending request (one denial closes it)', params: idParams, body: commentBody, response: { 200: accessRequestSchema, ...errors } }),
  revoke: route('POST', '/api/v1/access-requests/:id/revoke', {
    tags: ['access'],
    summary: 'Revoke a grant early, ending its live sessions (requester, approvers, administrators), or withdraw your pending request',
    params: idParams,
    body: commentBody,
    response: { 200: accessRequestSchema, ...errors },
  }),
} as const;
