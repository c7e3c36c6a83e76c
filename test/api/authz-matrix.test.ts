// Authorisation table: every route × every built-in role is allowed or denied exactly as
// the literal TABLE below says (docs/authorization.md is the same table for humans). The
// routes are enumerated from the running app, so a new route without a row fails here.
// Object ACLs are taken out of the picture by sharing the fixtures at `owner` level with
// every role user; separate tests below cover token scopes and the object ACLs themselves.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { LiveSession } from '../../src/core/sessions/live.js';
import { BUILTIN_ROLES } from '../../src/core/identity/permissions.js';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';
import { documentedRoutes, registeredRoutes } from '../support/routes.js';
import { openpsmLoop, type OpenPsmLoop } from '../support/openpsm.js';
import { sshPublicKeyLine } from '../support/ssh-public-key.js';
import { SoftAuthenticator, registerSoftKey } from '../support/soft-authenticator.js';
import { nextTotp } from '../support/totp.js';

const ROLES = ['Administrator', 'User', 'Auditor', 'Application'] as const;
const MASTER = 'matrix-Master-Password-1';
/** The portal's address here: WebAuthn needs a host name (the test app is reached by address). */
const WEBAUTHN_ORIGIN = 'https://gatehouse.test';
type RoleName = (typeof ROLES)[number];

const Y = 'allow';
const N = 'deny';
const PUBLIC = 'public';
type Verdict = typeof Y | typeof N;
/** Public routes need no token at all; the others list [Administrator, User, Auditor, Application]. */
type Row = typeof PUBLIC | readonly [Verdict, Verdict, Verdict, Verdict];

// prettier-ignore
const TABLE: Record<string, Row> = {
  // system
  'GET /healthz':                                PUBLIC,
  'GET /api/openapi.json':                       PUBLIC,
  'GET /api/v1/settings':                        [Y, N, N, N],
  'PATCH /api/v1/settings':                      [Y, N, N, N],
  'POST /api/v1/admin/rotate-master-key':        [Y, N, N, N],
  'GET /api/v1/cluster/nodes':                   [Y, N, N, N],
  // authentication and the caller's own account
  'POST /api/v1/auth/login':                     PUBLIC,
  'POST /oauth2/token':                          PUBLIC,
  'POST /api/v1/auth/logout':                    [Y, Y, Y, Y],
  // browser sign-in and sign-out (application accounts are refused sign-in; tested below)
  'POST /api/v1/auth/session':                   PUBLIC,
  'DELETE /api/v1/auth/session':                 [Y, Y, Y, Y],
  // OIDC single sign-on: the sign-in page's list and the CLI's code exchange are public; providers are the administrators'
  'GET /api/v1/auth/providers':                   PUBLIC,
  'POST /api/v1/auth/oidc/cli-token':             PUBLIC,
  'GET /api/v1/oidc-providers':                   [Y, N, N, N],
  'POST /api/v1/oidc-providers':                  [Y, N, N, N],
  'GET /api/v1/oidc-providers/:id':               [Y, N, N, N],
  'PATCH /api/v1/oidc-providers/:id':             [Y, N, N, N],
  'DELETE /api/v1/oidc-providers/:id':            [Y, N, N, N],
  'GET /api/v1/users/:id/oidc-links':             [Y, N, N, N],
  'DELETE /api/v1/users/:id/oidc-links/:providerId': [Y, N, N, N],
  // WebAuthn (issue 15): a sign-in challenge and the passwordless sign-in need no token; one's
  // own keys and the step-up with a key are every person's (application accounts have none);
  // a user's keys are the administrators'
  'POST /api/v1/auth/webauthn/options':           PUBLIC,
  'POST /api/v1/auth/webauthn/session':           PUBLIC,
  'GET /api/v1/me/webauthn':                      [Y, Y, Y, N],
  'POST /api/v1/me/webauthn/options':             [Y, Y, Y, N],
  'POST /api/v1/me/webauthn':                     [Y, Y, Y, N],
  'DELETE /api/v1/me/webauthn/:id':               [Y, Y, Y, N],
  'POST /api/v1/auth/step-up/webauthn/options':   [Y, Y, Y, N],
  'POST /api/v1/auth/step-up/webauthn':           [Y, Y, Y, N],
  'GET /api/v1/users/:id/webauthn':               [Y, N, N, N],
  'POST /api/v1/users/:id/webauthn/reset':        [Y, N, N, N],
  // audit streaming sinks (syslog, webhook): the administrators'
  'GET /api/v1/audit-sinks':                      [Y, N, N, N],
  'POST /api/v1/audit-sinks':                     [Y, N, N, N],
  'GET /api/v1/audit-sinks/:id':                  [Y, N, N, N],
  'PATCH /api/v1/audit-sinks/:id':                [Y, N, N, N],
  'DELETE /api/v1/audit-sinks/:id':               [Y, N, N, N],
  'GET /api/v1/me':                              [Y, Y, Y, Y],
  'POST /api/v1/me/password':                    [Y, Y, Y, Y],
  'POST /api/v1/me/totp':                        [Y, Y, Y, Y],
  'POST /api/v1/me/totp/confirm':                [Y, Y, Y, Y],
  'POST /api/v1/me/totp/disable':                [Y, Y, Y, Y],
  'POST /api/v1/auth/step-up':                   [Y, Y, Y, Y],
  'GET /api/v1/tokens':                          [Y, Y, Y, Y],
  'POST /api/v1/tokens':                         [Y, Y, Y, Y],
  'DELETE /api/v1/tokens/:id':                   [Y, Y, Y, Y],
  // directory: administrators only
  'GET /api/v1/users':                           [Y, N, N, N],
  'POST /api/v1/users':                          [Y, N, N, N],
  'GET /api/v1/users/:id':                       [Y, N, N, N],
  'PATCH /api/v1/users/:id':                     [Y, N, N, N],
  'DELETE /api/v1/users/:id':                    [Y, N, N, N],
  'POST /api/v1/users/:id/unlock':               [Y, N, N, N],
  'POST /api/v1/users/:id/totp/reset':           [Y, N, N, N],
  'POST /api/v1/users/:id/client-credentials':   [Y, N, N, N],
  'GET /api/v1/groups':                          [Y, N, N, N],
  'POST /api/v1/groups':                         [Y, N, N, N],
  'GET /api/v1/groups/:id':                      [Y, N, N, N],
  'PATCH /api/v1/groups/:id':                    [Y, N, N, N],
  'DELETE /api/v1/groups/:id':                   [Y, N, N, N],
  'GET /api/v1/roles':                           [Y, N, N, N],
  'POST /api/v1/roles':                          [Y, N, N, N],
  'GET /api/v1/roles/:id':                       [Y, N, N, N],
  'PATCH /api/v1/roles/:id':                     [Y, N, N, N],
  'DELETE /api/v1/roles/:id':                    [Y, N, N, N],
  // the LDAP / Active Directory directory (issue 15): administrators only
  'GET /api/v1/directory/ldap':                  [Y, N, N, N],
  'PUT /api/v1/directory/ldap':                  [Y, N, N, N],
  'POST /api/v1/directory/ldap/test':            [Y, N, N, N],
  'POST /api/v1/directory/ldap/sync':            [Y, N, N, N],
  // folders: creating needs manage_secrets; everything else follows the folder's ACL
  'GET /api/v1/folders':                         [Y, Y, Y, Y],
  'POST /api/v1/folders':                        [Y, Y, N, N],
  'GET /api/v1/folders/:id':                     [Y, Y, Y, Y],
  'PATCH /api/v1/folders/:id':                   [Y, Y, Y, Y],
  'DELETE /api/v1/folders/:id':                  [Y, Y, Y, Y],
  'GET /api/v1/folders/:id/permissions':         [Y, Y, Y, Y],
  'PUT /api/v1/folders/:id/permissions':         [Y, Y, Y, Y],
  // templates: readable by everyone, changed with manage_templates
  'GET /api/v1/templates':                       [Y, Y, Y, Y],
  'GET /api/v1/templates/:id':                   [Y, Y, Y, Y],
  'POST /api/v1/templates':                      [Y, N, N, N],
  'PATCH /api/v1/templates/:id':                 [Y, N, N, N],
  'DELETE /api/v1/templates/:id':                [Y, N, N, N],
  // secrets: creating needs manage_secrets; everything else follows the secret's ACL
  'GET /api/v1/secrets':                         [Y, Y, Y, Y],
  'POST /api/v1/secrets':                        [Y, Y, N, N],
  'GET /api/v1/secrets/:id':                     [Y, Y, Y, Y],
  'PATCH /api/v1/secrets/:id':                   [Y, Y, Y, Y],
  'DELETE /api/v1/secrets/:id':                  [Y, Y, Y, Y],
  'POST /api/v1/secrets/:id/reveal':             [Y, Y, Y, Y],
  'GET /api/v1/secrets/:id/permissions':         [Y, Y, Y, Y],
  'PUT /api/v1/secrets/:id/permissions':         [Y, Y, Y, Y],
  // target accounts (issue 12): rotate and heartbeat need edit, versions view, an old value owner
  'POST /api/v1/secrets/:id/rotate':             [Y, Y, Y, Y],
  'POST /api/v1/secrets/:id/heartbeat':          [Y, Y, Y, Y],
  'GET /api/v1/secrets/:id/versions':            [Y, Y, Y, Y],
  'POST /api/v1/secrets/:id/versions/reveal':     [Y, Y, Y, Y],
  // audit trail: the audit permission
  'GET /api/v1/audit':                           [Y, N, Y, N],
  'GET /api/v1/audit/verify':                    [Y, N, Y, N],
  'GET /api/v1/audit/export':                    [Y, N, Y, N],
  'GET /api/v1/audit/public-key':                [Y, N, Y, N],
  'POST /api/v1/audit/checkpoint':               [Y, N, Y, N],
  'GET /api/v1/audit/checkpoint':                [Y, N, Y, N],
  'POST /api/v1/audit/verify':                   [Y, N, Y, N],
  'POST /api/v1/recordings/verify':              [Y, N, Y, N],
  // recording retention (issue 16): policies set by administrators, read by auditors; legal holds by auditors
  'GET /api/v1/recording-retention':             [Y, N, Y, N],
  'PUT /api/v1/recording-retention':             [Y, N, N, N],
  'DELETE /api/v1/recording-retention/:id':      [Y, N, N, N],
  'POST /api/v1/recording-retention/sweep':      [Y, N, N, N],
  'GET /api/v1/legal-holds':                     [Y, N, Y, N],
  'PUT /api/v1/sessions/:id/legal-hold':        [Y, N, Y, N],
  'DELETE /api/v1/sessions/:id/legal-hold':     [Y, N, Y, N],
  // launchers: readable by everyone, changed with manage_templates
  'GET /api/v1/launchers':                       [Y, Y, Y, Y],
  'GET /api/v1/launchers/:id':                   [Y, Y, Y, Y],
  'POST /api/v1/launchers':                      [Y, N, N, N],
  'PATCH /api/v1/launchers/:id':                 [Y, N, N, N],
  'DELETE /api/v1/launchers/:id':                [Y, N, N, N],
  // RDS Server Credentials: fetched by a gateway node's application account (with view on the secret); people are refused
  'POST /api/v1/launchers/:id/rds-credentials':  [N, N, N, Y],
  // launching needs the launch permission (and view on the secret); host keys follow the secret's ACL
  'POST /api/v1/secrets/:id/launch':             [Y, Y, N, N],
  // exclusive checkout: taking and queueing need launch (and view); checking in someone
  // else's checkout (the rows below) needs manage_secrets and owner, or all_secrets; the
  // holder needs nothing to give back their own; leaving a queue is for anyone in it
  'GET /api/v1/checkouts':                       [Y, Y, Y, Y],
  'GET /api/v1/secrets/:id/checkout':            [Y, Y, Y, Y],
  'POST /api/v1/secrets/:id/checkout':           [Y, Y, N, N],
  'POST /api/v1/secrets/:id/checkin':            [Y, Y, N, N],
  'POST /api/v1/secrets/:id/checkout/queue':     [Y, Y, N, N],
  'DELETE /api/v1/secrets/:id/checkout/queue':   [Y, Y, Y, Y],
  // the .rdp file of the caller's own RDP launch ticket (any signed-in user; the ticket decides)
  'GET /api/v1/launch/rdp-file':                  [Y, Y, Y, Y],
  'GET /api/v1/secrets/:id/host-key':            [Y, Y, Y, Y],
  'DELETE /api/v1/secrets/:id/host-key':         [Y, Y, Y, Y],
  // the browser door: any signed-in user; the launch ticket (theirs, still valid) decides.
  // The terminal is a WebSocket: app.inject cannot upgrade, so an allowed call gets
  // @fastify/websocket's 404 for a plain GET, which it only reaches once authentication
  // and the role checks have passed (see Call.allowed; the real upgrade is exercised in
  // test/protocols/web-terminal.test.ts).
  'POST /api/v1/tickets/decline':                [Y, Y, Y, Y],
  'GET /api/v1/terminal':                        [Y, Y, Y, Y],
  // sessions: everyone lists their own; manage_sessions, view_recordings or audit see
  // everyone's (the :id rows are about someone else's session)
  'GET /api/v1/sessions':                        [Y, Y, Y, Y],
  'GET /api/v1/sessions/:id':                    [Y, N, Y, N],
  'POST /api/v1/sessions/:id/terminate':         [Y, N, Y, N],
  'GET /api/v1/sessions/:id/live':               [Y, N, Y, N],
  // shared control: asking to join someone's session needs join_sessions; the other rows act
  // on the caller's own session (its owner decides) or the caller's own joins
  'POST /api/v1/sessions/:id/join-requests':     [Y, N, Y, N],
  'POST /api/v1/sessions/:id/invites':           [Y, Y, Y, Y],
  'GET /api/v1/sessions/:id/joins':              [Y, Y, Y, Y],
  'GET /api/v1/me/joins':                        [Y, Y, Y, Y],
  'GET /api/v1/me/join-requests':                [Y, Y, Y, Y],
  'POST /api/v1/sessions/:id/joins/:joinId/accept':  [Y, Y, Y, Y],
  'POST /api/v1/sessions/:id/joins/:joinId/decline': [Y, Y, Y, Y],
  'POST /api/v1/sessions/:id/joins/:joinId/kick':    [Y, Y, Y, Y],
  // the joiner's terminal is a WebSocket: a plain GET is answered 404 (not the caller's join) or 426 once allowed
  'GET /api/v1/sessions/:id/joins/:joinId/terminal': [Y, Y, Y, Y],
  // recordings: view_recordings
  'GET /api/v1/recordings':                      [Y, N, Y, N],
  'GET /api/v1/recordings/:sessionId':           [Y, N, Y, N],
  'GET /api/v1/recordings/:sessionId/text':      [Y, N, Y, N],
  // the caller's own SSH keys
  'GET /api/v1/me/ssh-keys':                     [Y, Y, Y, Y],
  'POST /api/v1/me/ssh-keys':                    [Y, Y, Y, Y],
  'DELETE /api/v1/me/ssh-keys/:id':              [Y, Y, Y, Y],
  // access request policies: administrators only (attaching one is PATCH of a secret or folder with policyId)
  'GET /api/v1/access-policies':                 [Y, N, N, N],
  'POST /api/v1/access-policies':                [Y, N, N, N],
  'GET /api/v1/access-policies/:id':             [Y, N, N, N],
  'PATCH /api/v1/access-policies/:id':           [Y, N, N, N],
  'DELETE /api/v1/access-policies/:id':          [Y, N, N, N],
  // access levels (issue 12): administrators only; a secret's usable levels need view on it
  'GET /api/v1/access-levels':                   [Y, N, N, N],
  'POST /api/v1/access-levels':                  [Y, N, N, N],
  'GET /api/v1/access-levels/:id':               [Y, N, N, N],
  'PATCH /api/v1/access-levels/:id':             [Y, N, N, N],
  'DELETE /api/v1/access-levels/:id':            [Y, N, N, N],
  'GET /api/v1/secrets/:id/access-levels':       [Y, Y, Y, Y],
  // access requests: everyone lists their own; requesting needs the launch permission (and view on
  // the secret); the :id rows are about someone else's request under a policy naming the caller as
  // an approver, so the policy, not the role, decides
  'GET /api/v1/access-requests':                 [Y, Y, Y, Y],
  'POST /api/v1/access-requests':                [Y, Y, N, N],
  'GET /api/v1/access-requests/:id':             [Y, Y, Y, Y],
  'POST /api/v1/access-requests/:id/approve':    [Y, Y, Y, Y],
  'POST /api/v1/access-requests/:id/deny':       [Y, Y, Y, Y],
  'POST /api/v1/access-requests/:id/revoke':     [Y, Y, Y, Y],
  // the caller's own master password and personal credentials (nobody reaches another person's)
  'GET /api/v1/me/master-password':               [Y, Y, Y, Y],
  'PUT /api/v1/me/master-password':               [Y, Y, Y, Y],
  'POST /api/v1/me/master-password/unlock':       [Y, Y, Y, Y],
  'POST /api/v1/me/master-password/lock':         [Y, Y, Y, Y],
  'POST /api/v1/me/master-password/reset':        [Y, Y, Y, Y],
  'GET /api/v1/me/personal-credentials':          [Y, Y, Y, Y],
  'POST /api/v1/me/personal-credentials':         [Y, Y, Y, Y],
  'GET /api/v1/me/personal-credentials/:id':      [Y, Y, Y, Y],
  'PATCH /api/v1/me/personal-credentials/:id':    [Y, Y, Y, Y],
  'DELETE /api/v1/me/personal-credentials/:id':   [Y, Y, Y, Y],
  // the credential-provider API (on in this test): listing, retrieving and Test Settings need
  // Web Services Impersonate (only Administrator holds it among the built-in roles; Test
  // Settings also takes administer); Manage Applications is every person's own; the token cache is administer
  'GET /api/v1/webservices/credentials':          [Y, N, N, N],
  'POST /api/v1/webservices/credentials/:id/retrieve': [Y, N, N, N],
  'POST /api/v1/webservices/test':                [Y, N, N, N],
  'GET /api/v1/webservices/applications':         [Y, Y, Y, Y],
  'POST /api/v1/webservices/applications/:id/approve': [Y, Y, Y, Y],
  'POST /api/v1/webservices/applications/:id/deny': [Y, Y, Y, Y],
  'DELETE /api/v1/webservices/applications/:id':  [Y, Y, Y, Y],
  'GET /api/v1/webservices/token-cache':          [Y, N, N, N],
  'DELETE /api/v1/webservices/token-cache':       [Y, N, N, N],
  // OpenPSM (seed 003): the IAM calls authenticate with the gateway's application key and the
  // link's ApiKey, the start page's calls with the start's id, not with a Gatehouse sign-in;
  // issuing a /start link needs launch; the owed endsession calls are audit information
  'POST /api/services/v1/secureaccessgateway/getcredential': PUBLIC,
  'POST /api/services/v1/secureaccessgateway/endsession':    PUBLIC,
  'POST /api/v1/openpsm/links':                   [Y, Y, N, N],
  'GET /api/v1/openpsm/gateway':                  [Y, Y, N, N],
  'GET /api/v1/openpsm/starts/:id':               PUBLIC,
  'POST /api/v1/openpsm/starts/:id/password':     PUBLIC,
  'GET /api/v1/openpsm/starts/:id/terminal':      PUBLIC,
  'GET /api/v1/openpsm/end-notices':              [Y, N, Y, N],
  // TSplus-compatible logon tickets (seed 004): the logon-ticket RSA key is the administrators'
  'GET /api/v1/logon-tickets/key':                [Y, N, N, N],
  'POST /api/v1/logon-tickets/key/rotate':        [Y, N, N, N],
  // browser RDP (issue 14): no sign-in, the launch ticket inside the first WebSocket message
  // (RDCleanPath) is the authentication, as at the RDP door; a plain GET gets 426
  'GET /api/v1/rdp/socket':                       PUBLIC,
};

interface Actor {
  role: RoleName;
  username: string;
  id: string;
  token: string;
  password: string;
}
interface Call {
  method: string;
  url: string;
  body?: unknown;
  /** Defaults to the actor's token; `null` sends none. */
  token?: string | null;
  /** Runs while the request is in flight (ends a watched live session). */
  during?: (response: Promise<unknown>) => Promise<void>;
  /** The status an allowed call answers with, for a call that cannot be a 2xx through app.inject (a WebSocket). */
  allowed?: number;
  /** Headers of the call's own authentication (OpenPSM: the gateway's keys), sent with or without a token. */
  headers?: Record<string, string>;
  /** A denial that hides the object (404 not_found, as for an id that names nothing) instead of 403. */
  hidden?: boolean;
}
interface Fixtures {
  folderId: string;
  secretId: string;
  client: { clientId: string; clientSecret: string };
  /** An ended, recorded session of the bootstrap administrator. */
  sessionId: string;
  /** A secret under an access request policy whose approvers are every actor and the bootstrap administrator. */
  policySecretId: string;
  /** A User who requests access to it (approver of nothing). */
  requesterToken: string;
}

/**
 * A recorded session on a secret, started the way the SSH door starts one (the target is never
 * contacted); ended unless `live`. `shared`: its launcher allows join requests and invites and
 * its door takes joiners' input (shared control).
 */
async function startSession(t: TestApp, userId: string, secretId: string, live: boolean, shared = false): Promise<LiveSession> {
  const user = await t.core.dir.userRow(userId);
  const launcher = await t.core.launchers.get('ssh');
  const plan = {
    sessionId: randomUUID(),
    user: { id: user.id, username: user.username },
    protocol: 'ssh' as const,
    target: { host: 'db1', port: 22 },
    credential: await t.core.secrets.credential(secretId),
    launcher: shared ? { ...launcher, options: { ...launcher.options, allowJoinRequests: true, allowJoinInvites: true } } : launcher,
  };
  const s = await t.core.sessions.start(plan, { clientIp: '127.0.0.1', door: 'ssh' });
  s.begin({ cols: 80, rows: 24, term: 'xterm' });
  s.input(Buffer.from('uptime\r'));
  s.output(Buffer.from('up 3 days\r\n'));
  if (shared) s.onJoinInput(() => undefined);
  if (!live) await s.end('finished');
  return s;
}

for (const kind of DB_KINDS) {
  describe(`authorisation matrix on ${kind}`, () => {
    let t: TestApp;
    let n = 0;
    const uniq = (p: string) => `${p}-${++n}`;
    const actors = {} as Record<RoleName, Actor>;
    let fx: Fixtures;
    let psm: OpenPsmLoop;

    const admin = async (method: string, url: string, body?: unknown, expect = [200, 201, 204]) => {
      const r = await t.req(method, url, { token: t.adminToken, body });
      assert.ok(expect.includes(r.statusCode), `setup ${method} ${url}: ${r.statusCode} ${r.body}`);
      return r.body ? r.json() : undefined;
    };
    /** A fresh OIDC provider (nothing is fetched from its issuer until someone signs in). */
    const auditSink = async (): Promise<string> => (await admin('POST', '/api/v1/audit-sinks', { name: `sink-${++n}`, kind: 'syslog', host: '127.0.0.1', port: 6514 })).id;
    const oidcProvider = async (): Promise<string> => (await admin('POST', '/api/v1/oidc-providers', { name: `idp-${++n}`, displayName: 'IdP', issuer: 'https://idp.example.com', clientId: 'gatehouse' })).id;
    const extraFor = (role: RoleName) => (role === 'Application' ? { isApplication: true } : {});
    /** A fresh account holding only `role` with one passkey of a software authenticator. */
    const keyed = async (role: RoleName) => {
      const f = await freshActor(role);
      const auth = new SoftAuthenticator(WEBAUTHN_ORIGIN);
      const { key } = await registerSoftKey(t.req, f.token, auth);
      return { f, auth, key: key as { id: string } };
    };
    /** A brand-new account holding only `role`, for calls that change the caller's own account. */
    const freshActor = async (role: RoleName): Promise<Actor> => {
      const username = uniq(`fresh-${role.toLowerCase()}`);
      const u = await t.user(username, [role], extraFor(role));
      return { role, username, ...u };
    };
    const shareOwner = (a: Actor) => ({ entries: [{ principalType: 'user', principal: a.id, level: 'owner' }] });
    const mkUser = async (extra: Record<string, unknown> = {}) => (await admin('POST', '/api/v1/users', { username: uniq('target'), ...extra })).id as string;
    const mkFolder = async (a: Actor) => {
      const f = await admin('POST', '/api/v1/folders', { name: uniq('throwaway-folder') });
      await admin('PUT', `/api/v1/folders/${f.id}/permissions`, shareOwner(a));
      return f.id as string;
    };
    const mkSecret = async (a: Actor) => {
      const s = await admin('POST', '/api/v1/secrets', { name: uniq('throwaway-secret'), template: 'generic', fields: { username: 'u', password: 'throwaway-pw' } });
      await admin('PUT', `/api/v1/secrets/${s.id}/permissions`, shareOwner(a));
      return s.id as string;
    };
    const mkTemplate = async () => (await admin('POST', '/api/v1/templates', { name: uniq('tpl'), fields: [{ name: 'host', label: 'Host', type: 'text' }] })).id as string;
    const mkLauncher = async () => (await admin('POST', '/api/v1/launchers', { name: uniq('connector'), type: 'session-connector', childType: 'ssh', gatewayHost: 'gw.example.net' })).id as string;
    /**
     * A launch ticket of `a` on the shared secret, issued directly: Auditor and Application
     * accounts cannot launch, but the routes that take a ticket are open to every signed-in user.
     */
    const mkTicket = async (a: Actor, launcher = 'ssh') => (await t.core.tickets.issue({ userId: a.id, secretId: fx.secretId, launcherId: (await t.core.launchers.get(launcher)).id, clientIp: null, ttlSeconds: 300 })).ticket;
    const mkPolicy = async () => (await admin('POST', '/api/v1/access-policies', { name: uniq('policy'), approvers: [{ principalType: 'user', principal: 'admin' }] })).id as string;
    /** A pending request of the requester on the policy secret; approved by the bootstrap administrator when `granted`. */
    const mkRequest = async (granted: boolean) => {
      const r = await t.req('POST', '/api/v1/access-requests', { token: fx.requesterToken, body: { secretId: fx.policySecretId, reason: 'matrix' } });
      assert.equal(r.statusCode, 201, r.body);
      if (granted) await admin('POST', `/api/v1/access-requests/${r.json().id}/approve`, {});
      return r.json().id as string;
    };
    /** The actor's master password is set (once per account). */
    const withMaster = async (a: Actor) => {
      const s = await t.req('GET', '/api/v1/me/master-password', { token: a.token });
      if (s.json().set) return;
      const r = await t.req('PUT', '/api/v1/me/master-password', { token: a.token, body: { masterPassword: MASTER } });
      assert.equal(r.statusCode, 200, r.body);
    };
    /** The actor's session is unlocked. */
    const unlocked = async (a: Actor) => {
      await withMaster(a);
      const r = await t.req('POST', '/api/v1/me/master-password/unlock', { token: a.token, body: { masterPassword: MASTER } });
      assert.equal(r.statusCode, 200, r.body);
    };
    /** A personal credential of the actor. */
    const mkPersonal = async (a: Actor) => {
      await unlocked(a);
      const r = await t.req('POST', '/api/v1/me/personal-credentials', { token: a.token, body: { name: uniq('personal'), target: { machine: 'db1' }, username: 'me', password: 'personal-pw' } });
      assert.equal(r.statusCode, 201, r.body);
      return r.json().id as string;
    };
    /** A throwaway secret `a` owns, checked out by the bootstrap administrator (someone else's checkout). */
    const mkCheckedOut = async (a: Actor) => {
      const id = await mkSecret(a);
      await admin('POST', `/api/v1/secrets/${id}/checkout`, {});
      return id;
    };
    /** A pending delegated-trust request of a throwaway application for `a` (made directly: the request itself is an application's call). */
    const mkTrust = async (a: Actor) => {
      const id = randomUUID();
      await t.core.store.db.insertInto('webserviceTrusts').values({ id, applicationId: randomUUID(), applicationName: uniq('ecm-app'), userId: a.id, status: 'pending', endpoint: 'db1', requestedAt: Date.now(), decidedAt: null, lastUsedAt: null }).execute();
      return id;
    };
    /** A session of the bootstrap administrator on the shared secret; ended unless `live`. */
    const mkSession = async (live: boolean) => startSession(t, (await admin('GET', '/api/v1/me')).id, fx.secretId, live);
    /** A live, shareable session owned by `ownerId`. */
    const mkShared = async (ownerId: string) => startSession(t, ownerId, fx.secretId, true, true);
    /** A live shared session of `a` with a join of the bootstrap administrator: a pending request, or an invitation. */
    const mkJoin = async (a: Actor, via: 'request' | 'invite') => {
      const s = await mkShared(a.id);
      const me = await admin('GET', '/api/v1/me');
      const j =
        via === 'request'
          ? await t.core.sessions.sharing.request({ userId: me.id, username: me.username, ip: '127.0.0.1', permissions: new Set(['join_sessions']) }, s.id)
          : await t.core.sessions.sharing.invite({ userId: a.id, username: a.username, ip: '127.0.0.1', permissions: new Set() }, s.id, me.id);
      return `/api/v1/sessions/${s.id}/joins/${j.id}`;
    };

    /** One valid call per route, run as `a`; throwaway targets are created first so destructive calls have something to act on. */
    const CALLS: Record<string, (a: Actor) => Promise<Call>> = {
      'GET /healthz': async () => ({ method: 'GET', url: '/healthz' }),
      'GET /api/openapi.json': async () => ({ method: 'GET', url: '/api/openapi.json' }),
      'POST /api/services/v1/secureaccessgateway/getcredential': async () => {
        const q = await psm.link();
        return { method: 'POST', url: '/api/services/v1/secureaccessgateway/getcredential', headers: psm.headers(q), body: psm.body(q) };
      },
      'POST /api/services/v1/secureaccessgateway/endsession': async () => {
        const { q, session } = await psm.fetched();
        return { method: 'POST', url: '/api/services/v1/secureaccessgateway/endsession', headers: psm.headers(q), body: { session, loginsessionid: q.get('LoginSessionID') } };
      },
      'POST /api/v1/openpsm/links': async () => ({ method: 'POST', url: '/api/v1/openpsm/links', body: { secretId: fx.secretId, mode: 'SSH' } }),
      'GET /api/v1/openpsm/gateway': async () => ({ method: 'GET', url: '/api/v1/openpsm/gateway' }),
      'GET /api/v1/openpsm/starts/:id': async () => ({ method: 'GET', url: `/api/v1/openpsm/starts/${await psm.start(await psm.link())}` }),
      'POST /api/v1/openpsm/starts/:id/password': async () => ({ method: 'POST', url: `/api/v1/openpsm/starts/${await psm.start(await psm.link())}/password`, body: { password: psm.master } }),
      'GET /api/v1/openpsm/starts/:id/terminal': async () => ({ method: 'GET', url: `/api/v1/openpsm/starts/${await psm.ready()}/terminal?cols=80&rows=24`, allowed: 426 }),
      'GET /api/v1/openpsm/end-notices': async () => ({ method: 'GET', url: '/api/v1/openpsm/end-notices' }),
      'GET /api/v1/rdp/socket': async () => ({ method: 'GET', url: '/api/v1/rdp/socket?consent=1', allowed: 426 }),
      'GET /api/v1/settings': async () => ({ method: 'GET', url: '/api/v1/settings' }),
      'PATCH /api/v1/settings': async () => ({ method: 'PATCH', url: '/api/v1/settings', body: { lockoutMinutes: 15 } }),
      'POST /api/v1/admin/rotate-master-key': async () => ({ method: 'POST', url: '/api/v1/admin/rotate-master-key', body: {} }),
      'GET /api/v1/cluster/nodes': async () => ({ method: 'GET', url: '/api/v1/cluster/nodes' }),
      'GET /api/v1/logon-tickets/key': async () => ({ method: 'GET', url: '/api/v1/logon-tickets/key' }),
      'POST /api/v1/logon-tickets/key/rotate': async () => ({ method: 'POST', url: '/api/v1/logon-tickets/key/rotate' }),

      'POST /api/v1/auth/login': async (a) => ({ method: 'POST', url: '/api/v1/auth/login', body: { username: a.username, password: a.password } }),
      'POST /oauth2/token': async () => ({ method: 'POST', url: '/oauth2/token', body: { grant_type: 'client_credentials', client_id: fx.client.clientId, client_secret: fx.client.clientSecret } }),
      // Log out a second session of the same account, so the actor's own token stays valid.
      'POST /api/v1/auth/logout': async (a) => ({ method: 'POST', url: '/api/v1/auth/logout', token: await t.login(a.username, a.password) }),
      // Application accounts may not sign in to the browser (tested below); a person holding the Application role may.
      'POST /api/v1/auth/session': async (a) => {
        let { username, password } = a;
        if (a.role === 'Application') {
          username = uniq('application-role-person');
          ({ password } = await t.user(username, ['Application']));
        }
        return { method: 'POST', url: '/api/v1/auth/session', body: { username, password } };
      },
      // Sign out a second session of the same account (as a bearer token), so the actor's own token stays valid.
      'DELETE /api/v1/auth/session': async (a) => ({ method: 'DELETE', url: '/api/v1/auth/session', token: await t.login(a.username, a.password) }),
      'GET /api/v1/me': async () => ({ method: 'GET', url: '/api/v1/me' }),
      'POST /api/v1/me/password': async (a) => {
        const f = await freshActor(a.role);
        return { method: 'POST', url: '/api/v1/me/password', token: f.token, body: { currentPassword: f.password, newPassword: `changed-${f.password}` } };
      },
      'POST /api/v1/me/totp': async () => ({ method: 'POST', url: '/api/v1/me/totp' }),
      'POST /api/v1/me/totp/confirm': async (a) => {
        const f = await freshActor(a.role);
        const begin = await t.req('POST', '/api/v1/me/totp', { token: f.token });
        assert.equal(begin.statusCode, 200, begin.body);
        return { method: 'POST', url: '/api/v1/me/totp/confirm', token: f.token, body: { code: await nextTotp(begin.json().secret) } };
      },
      // A fresh account with TOTP enrolled verifies a current code.
      'POST /api/v1/auth/step-up': async (a) => {
        const f = await freshActor(a.role);
        const begin = await t.req('POST', '/api/v1/me/totp', { token: f.token });
        assert.equal(begin.statusCode, 200, begin.body);
        const confirm = await t.req('POST', '/api/v1/me/totp/confirm', { token: f.token, body: { code: await nextTotp(begin.json().secret) } });
        assert.equal(confirm.statusCode, 200, confirm.body);
        return { method: 'POST', url: '/api/v1/auth/step-up', token: f.token, body: { code: await nextTotp(begin.json().secret) } };
      },
      'POST /api/v1/me/totp/disable': async (a) => ({ method: 'POST', url: '/api/v1/me/totp/disable', body: { password: a.password } }),
      'GET /api/v1/tokens': async () => ({ method: 'GET', url: '/api/v1/tokens' }),
      'POST /api/v1/tokens': async () => ({ method: 'POST', url: '/api/v1/tokens', body: { name: uniq('tok'), scopes: ['read'] } }),
      'DELETE /api/v1/tokens/:id': async (a) => {
        const r = await t.req('POST', '/api/v1/tokens', { token: a.token, body: { name: uniq('tok'), scopes: ['read'] } });
        assert.equal(r.statusCode, 201, r.body);
        return { method: 'DELETE', url: `/api/v1/tokens/${r.json().id}` };
      },

      'GET /api/v1/users': async () => ({ method: 'GET', url: '/api/v1/users' }),
      'POST /api/v1/users': async () => ({ method: 'POST', url: '/api/v1/users', body: { username: uniq('created'), roles: ['User'] } }),
      'GET /api/v1/users/:id': async () => ({ method: 'GET', url: `/api/v1/users/${await mkUser()}` }),
      'PATCH /api/v1/users/:id': async () => ({ method: 'PATCH', url: `/api/v1/users/${await mkUser()}`, body: { displayName: 'Changed Name' } }),
      'DELETE /api/v1/users/:id': async () => ({ method: 'DELETE', url: `/api/v1/users/${await mkUser()}` }),
      'POST /api/v1/users/:id/unlock': async () => ({ method: 'POST', url: `/api/v1/users/${await mkUser()}/unlock` }),
      'POST /api/v1/users/:id/totp/reset': async () => ({ method: 'POST', url: `/api/v1/users/${await mkUser()}/totp/reset` }),
      'POST /api/v1/users/:id/client-credentials': async () => ({ method: 'POST', url: `/api/v1/users/${await mkUser({ isApplication: true })}/client-credentials` }),
      'GET /api/v1/auth/providers': async () => ({ method: 'GET', url: '/api/v1/auth/providers' }),
      // A made-up code: the exchange is reachable without a token and refuses the code (400 invalid_code).
      'POST /api/v1/auth/oidc/cli-token': async () => ({ method: 'POST', url: '/api/v1/auth/oidc/cli-token', body: { code: 'not-a-code', verifier: 'not-the-verifier' }, allowed: 400 }),
      'GET /api/v1/oidc-providers': async () => ({ method: 'GET', url: '/api/v1/oidc-providers' }),
      'POST /api/v1/oidc-providers': async () => ({ method: 'POST', url: '/api/v1/oidc-providers', body: { name: uniq('idp'), displayName: 'IdP', issuer: 'https://idp.example.com', clientId: 'gatehouse' } }),
      'GET /api/v1/oidc-providers/:id': async () => ({ method: 'GET', url: `/api/v1/oidc-providers/${await oidcProvider()}` }),
      'PATCH /api/v1/oidc-providers/:id': async () => ({ method: 'PATCH', url: `/api/v1/oidc-providers/${await oidcProvider()}`, body: { displayName: 'Changed' } }),
      'DELETE /api/v1/oidc-providers/:id': async () => ({ method: 'DELETE', url: `/api/v1/oidc-providers/${await oidcProvider()}` }),
      'GET /api/v1/users/:id/oidc-links': async (a) => ({ method: 'GET', url: `/api/v1/users/${a.id}/oidc-links` }),
      'DELETE /api/v1/users/:id/oidc-links/:providerId': async (a) => {
        // A link as a sign-in through the provider leaves it.
        const providerId = await oidcProvider();
        await t.core.store.db.insertInto('oidcLinks').values({ providerId, subject: `sub-${a.id}`, userId: a.id, createdAt: Date.now() }).execute();
        return { method: 'DELETE', url: `/api/v1/users/${a.id}/oidc-links/${providerId}` };
      },
      // WebAuthn: keys are registered on fresh accounts (a role actor with a key would be asked
      // for it at its next password sign-in); an application account is refused before its body is read.
      'POST /api/v1/auth/webauthn/options': async () => {
        const { f } = await keyed('User');
        return { method: 'POST', url: '/api/v1/auth/webauthn/options', body: { username: f.username, password: f.password } };
      },
      'POST /api/v1/auth/webauthn/session': async () => {
        const { auth } = await keyed('User');
        await admin('PATCH', '/api/v1/settings', { webauthnPasswordless: true });
        const o = (await t.req('POST', '/api/v1/auth/webauthn/options', { body: {} })).json();
        return { method: 'POST', url: '/api/v1/auth/webauthn/session', body: { challengeId: o.challengeId, response: auth.assert(o.options) } };
      },
      'GET /api/v1/me/webauthn': async () => ({ method: 'GET', url: '/api/v1/me/webauthn' }),
      'POST /api/v1/me/webauthn/options': async () => ({ method: 'POST', url: '/api/v1/me/webauthn/options' }),
      'POST /api/v1/me/webauthn': async (a) => {
        const f = await freshActor(a.role);
        if (a.role === 'Application') return { method: 'POST', url: '/api/v1/me/webauthn', token: f.token, body: { challengeId: randomUUID(), name: 'key', response: new SoftAuthenticator(WEBAUTHN_ORIGIN).register({ challenge: 'AAAA', rp: { id: 'gatehouse.test' }, user: { id: 'AAAA' } }) } };
        const o = (await t.req('POST', '/api/v1/me/webauthn/options', { token: f.token })).json();
        return { method: 'POST', url: '/api/v1/me/webauthn', token: f.token, body: { challengeId: o.challengeId, name: 'key', response: new SoftAuthenticator(WEBAUTHN_ORIGIN).register(o.options) } };
      },
      'DELETE /api/v1/me/webauthn/:id': async (a) => {
        if (a.role === 'Application') return { method: 'DELETE', url: `/api/v1/me/webauthn/${randomUUID()}`, token: (await freshActor(a.role)).token };
        const { f, key } = await keyed(a.role);
        return { method: 'DELETE', url: `/api/v1/me/webauthn/${key.id}`, token: f.token };
      },
      'POST /api/v1/auth/step-up/webauthn/options': async (a) => {
        if (a.role === 'Application') return { method: 'POST', url: '/api/v1/auth/step-up/webauthn/options', token: (await freshActor(a.role)).token };
        const { f } = await keyed(a.role);
        return { method: 'POST', url: '/api/v1/auth/step-up/webauthn/options', token: f.token };
      },
      'POST /api/v1/auth/step-up/webauthn': async (a) => {
        const dummy = new SoftAuthenticator(WEBAUTHN_ORIGIN);
        dummy.register({ challenge: 'AAAA', rp: { id: 'gatehouse.test' }, user: { id: 'AAAA' } });
        if (a.role === 'Application') return { method: 'POST', url: '/api/v1/auth/step-up/webauthn', token: (await freshActor(a.role)).token, body: { challengeId: randomUUID(), response: dummy.assert({ challenge: 'AAAA' }) } };
        const { f, auth } = await keyed(a.role);
        const o = (await t.req('POST', '/api/v1/auth/step-up/webauthn/options', { token: f.token })).json();
        return { method: 'POST', url: '/api/v1/auth/step-up/webauthn', token: f.token, body: { challengeId: o.challengeId, response: auth.assert(o.options) } };
      },
      'GET /api/v1/users/:id/webauthn': async () => ({ method: 'GET', url: `/api/v1/users/${await mkUser()}/webauthn` }),
      'POST /api/v1/users/:id/webauthn/reset': async () => ({ method: 'POST', url: `/api/v1/users/${(await keyed('User')).f.id}/webauthn/reset` }),
      'GET /api/v1/audit-sinks': async () => ({ method: 'GET', url: '/api/v1/audit-sinks' }),
      'POST /api/v1/audit-sinks': async () => ({ method: 'POST', url: '/api/v1/audit-sinks', body: { name: uniq('sink'), kind: 'syslog', host: '127.0.0.1', port: 6514 } }),
      'GET /api/v1/audit-sinks/:id': async () => ({ method: 'GET', url: `/api/v1/audit-sinks/${await auditSink()}` }),
      'PATCH /api/v1/audit-sinks/:id': async () => ({ method: 'PATCH', url: `/api/v1/audit-sinks/${await auditSink()}`, body: { enabled: false } }),
      'DELETE /api/v1/audit-sinks/:id': async () => ({ method: 'DELETE', url: `/api/v1/audit-sinks/${await auditSink()}` }),
      'GET /api/v1/groups': async () => ({ method: 'GET', url: '/api/v1/groups' }),
      'POST /api/v1/groups': async () => ({ method: 'POST', url: '/api/v1/groups', body: { name: uniq('group') } }),
      'GET /api/v1/groups/:id': async () => ({ method: 'GET', url: `/api/v1/groups/${(await admin('POST', '/api/v1/groups', { name: uniq('group') })).id}` }),
      'PATCH /api/v1/groups/:id': async () => ({ method: 'PATCH', url: `/api/v1/groups/${(await admin('POST', '/api/v1/groups', { name: uniq('group') })).id}`, body: { description: 'changed' } }),
      'DELETE /api/v1/groups/:id': async () => ({ method: 'DELETE', url: `/api/v1/groups/${(await admin('POST', '/api/v1/groups', { name: uniq('group') })).id}` }),
      'GET /api/v1/roles': async () => ({ method: 'GET', url: '/api/v1/roles' }),
      'POST /api/v1/roles': async () => ({ method: 'POST', url: '/api/v1/roles', body: { name: uniq('role'), permissions: ['launch'] } }),
      'GET /api/v1/roles/:id': async () => ({ method: 'GET', url: '/api/v1/roles/user' }),
      'PATCH /api/v1/roles/:id': async () => ({ method: 'PATCH', url: `/api/v1/roles/${(await admin('POST', '/api/v1/roles', { name: uniq('role') })).id}`, body: { description: 'changed' } }),
      'DELETE /api/v1/roles/:id': async () => ({ method: 'DELETE', url: `/api/v1/roles/${(await admin('POST', '/api/v1/roles', { name: uniq('role') })).id}` }),
      // No directory is configured here: test and sync answer 200 with ok false (nothing leaves the machine).
      'GET /api/v1/directory/ldap': async () => ({ method: 'GET', url: '/api/v1/directory/ldap' }),
      'PUT /api/v1/directory/ldap': async () => ({ method: 'PUT', url: '/api/v1/directory/ldap', body: { timeoutSeconds: 10 } }),
      'POST /api/v1/directory/ldap/test': async () => ({ method: 'POST', url: '/api/v1/directory/ldap/test' }),
      'POST /api/v1/directory/ldap/sync': async () => ({ method: 'POST', url: '/api/v1/directory/ldap/sync' }),

      'GET /api/v1/folders': async () => ({ method: 'GET', url: '/api/v1/folders' }),
      'POST /api/v1/folders': async () => ({ method: 'POST', url: '/api/v1/folders', body: { name: uniq('folder') } }),
      'GET /api/v1/folders/:id': async () => ({ method: 'GET', url: `/api/v1/folders/${fx.folderId}` }),
      'PATCH /api/v1/folders/:id': async (a) => ({ method: 'PATCH', url: `/api/v1/folders/${await mkFolder(a)}`, body: { name: uniq('renamed') } }),
      'DELETE /api/v1/folders/:id': async (a) => ({ method: 'DELETE', url: `/api/v1/folders/${await mkFolder(a)}` }),
      'GET /api/v1/folders/:id/permissions': async () => ({ method: 'GET', url: `/api/v1/folders/${fx.folderId}/permissions` }),
      'PUT /api/v1/folders/:id/permissions': async (a) => ({ method: 'PUT', url: `/api/v1/folders/${await mkFolder(a)}/permissions`, body: shareOwner(a) }),

      'GET /api/v1/templates': async () => ({ method: 'GET', url: '/api/v1/templates' }),
      'GET /api/v1/templates/:id': async () => ({ method: 'GET', url: '/api/v1/templates/generic' }),
      'POST /api/v1/templates': async () => ({ method: 'POST', url: '/api/v1/templates', body: { name: uniq('tpl'), fields: [{ name: 'host', label: 'Host', type: 'text' }] } }),
      'PATCH /api/v1/templates/:id': async () => ({ method: 'PATCH', url: `/api/v1/templates/${await mkTemplate()}`, body: { name: uniq('tpl-renamed') } }),
      'DELETE /api/v1/templates/:id': async () => ({ method: 'DELETE', url: `/api/v1/templates/${await mkTemplate()}` }),

      'GET /api/v1/secrets': async () => ({ method: 'GET', url: '/api/v1/secrets' }),
      'POST /api/v1/secrets': async () => ({ method: 'POST', url: '/api/v1/secrets', body: { name: uniq('secret'), template: 'generic', fields: { username: 'u', password: 'created-pw' } } }),
      'GET /api/v1/secrets/:id': async () => ({ method: 'GET', url: `/api/v1/secrets/${fx.secretId}` }),
      'PATCH /api/v1/secrets/:id': async (a) => ({ method: 'PATCH', url: `/api/v1/secrets/${await mkSecret(a)}`, body: { name: uniq('renamed'), fields: { password: 'changed-pw' } } }),
      'DELETE /api/v1/secrets/:id': async (a) => ({ method: 'DELETE', url: `/api/v1/secrets/${await mkSecret(a)}` }),
      'POST /api/v1/secrets/:id/reveal': async () => ({ method: 'POST', url: `/api/v1/secrets/${fx.secretId}/reveal` }),
      'GET /api/v1/secrets/:id/permissions': async () => ({ method: 'GET', url: `/api/v1/secrets/${fx.secretId}/permissions` }),
      'PUT /api/v1/secrets/:id/permissions': async (a) => ({ method: 'PUT', url: `/api/v1/secrets/${await mkSecret(a)}/permissions`, body: shareOwner(a) }),
      // No account operator is registered in this app (server.ts registers them): an allowed call reaches the core and gets not_managed.
      'POST /api/v1/secrets/:id/rotate': async () => ({ method: 'POST', url: `/api/v1/secrets/${fx.secretId}/rotate`, allowed: 409 }),
      'POST /api/v1/secrets/:id/heartbeat': async () => ({ method: 'POST', url: `/api/v1/secrets/${fx.secretId}/heartbeat`, allowed: 409 }),
      'GET /api/v1/secrets/:id/versions': async () => ({ method: 'GET', url: `/api/v1/secrets/${fx.secretId}/versions` }),
      'POST /api/v1/secrets/:id/versions/reveal': async (a) => {
        const id = await mkSecret(a);
        await admin('PATCH', `/api/v1/secrets/${id}`, { fields: { password: 'throwaway-pw-2' } });
        return { method: 'POST', url: `/api/v1/secrets/${id}/versions/reveal`, body: { version: 1 } };
      },

      'GET /api/v1/audit': async () => ({ method: 'GET', url: '/api/v1/audit?limit=5' }),
      'GET /api/v1/audit/verify': async () => ({ method: 'GET', url: '/api/v1/audit/verify' }),
      'GET /api/v1/audit/export': async () => ({ method: 'GET', url: '/api/v1/audit/export' }),
      'GET /api/v1/audit/public-key': async () => ({ method: 'GET', url: '/api/v1/audit/public-key' }),
      'POST /api/v1/audit/checkpoint': async () => ({ method: 'POST', url: '/api/v1/audit/checkpoint', body: {} }),
      'GET /api/v1/audit/checkpoint': async () => ({ method: 'GET', url: '/api/v1/audit/checkpoint' }),
      'POST /api/v1/audit/verify': async () => ({ method: 'POST', url: '/api/v1/audit/verify', body: { anchors: [{ seq: 1, hash: '0'.repeat(64), ts: new Date(0).toISOString(), keyId: 'k', signature: 's' }] } }),
      'POST /api/v1/recordings/verify': async () => ({ method: 'POST', url: '/api/v1/recordings/verify', body: { all: true } }),
      'GET /api/v1/recording-retention': async () => ({ method: 'GET', url: '/api/v1/recording-retention' }),
      'PUT /api/v1/recording-retention': async () => ({ method: 'PUT', url: '/api/v1/recording-retention', body: { scope: 'launcher', scopeId: 'ssh', keepDays: 3650 } }),
      'DELETE /api/v1/recording-retention/:id': async () => ({ method: 'DELETE', url: `/api/v1/recording-retention/${(await admin('PUT', '/api/v1/recording-retention', { scope: 'launcher', scopeId: await mkLauncher(), keepDays: 3650 })).id}` }),
      'POST /api/v1/recording-retention/sweep': async () => ({ method: 'POST', url: '/api/v1/recording-retention/sweep', body: {} }),
      'GET /api/v1/legal-holds': async () => ({ method: 'GET', url: '/api/v1/legal-holds' }),
      'PUT /api/v1/sessions/:id/legal-hold': async () => ({ method: 'PUT', url: `/api/v1/sessions/${(await mkSession(false)).id}/legal-hold`, body: { reason: 'authorisation test' } }),
      'DELETE /api/v1/sessions/:id/legal-hold': async () => {
        const s = await mkSession(false);
        await admin('PUT', `/api/v1/sessions/${s.id}/legal-hold`, { reason: 'authorisation test' });
        return { method: 'DELETE', url: `/api/v1/sessions/${s.id}/legal-hold` };
      },

      'GET /api/v1/launchers': async () => ({ method: 'GET', url: '/api/v1/launchers' }),
      'GET /api/v1/launchers/:id': async () => ({ method: 'GET', url: '/api/v1/launchers/ssh' }),
      'POST /api/v1/launchers': async () => ({ method: 'POST', url: '/api/v1/launchers', body: { name: uniq('connector'), type: 'session-connector', childType: 'ssh', gatewayHost: 'gw.example.net', gatewayPort: 2222 } }),
      'PATCH /api/v1/launchers/:id': async () => ({ method: 'PATCH', url: `/api/v1/launchers/${await mkLauncher()}`, body: { record: true, idleTimeoutSeconds: 600 } }),
      'DELETE /api/v1/launchers/:id': async () => ({ method: 'DELETE', url: `/api/v1/launchers/${await mkLauncher()}` }),
      'POST /api/v1/launchers/:id/rds-credentials': async () => {
        const id = (await admin('POST', '/api/v1/launchers', { name: uniq('connector'), type: 'session-connector', childType: 'rdp', gatewayHost: 'gw.example.net', options: { rdsServerCredentials: fx.secretId } })).id as string;
        return { method: 'POST', url: `/api/v1/launchers/${id}/rds-credentials` };
      },
      'POST /api/v1/secrets/:id/launch': async () => ({ method: 'POST', url: `/api/v1/secrets/${fx.secretId}/launch`, body: { launcher: 'ssh' } }),
      'GET /api/v1/checkouts': async () => ({ method: 'GET', url: '/api/v1/checkouts' }),
      'GET /api/v1/secrets/:id/checkout': async () => ({ method: 'GET', url: `/api/v1/secrets/${fx.secretId}/checkout` }),
      'POST /api/v1/secrets/:id/checkout': async (a) => ({ method: 'POST', url: `/api/v1/secrets/${await mkSecret(a)}/checkout`, body: { reason: 'authorisation test', durationSeconds: 600 } }),
      'POST /api/v1/secrets/:id/checkin': async (a) => ({ method: 'POST', url: `/api/v1/secrets/${await mkCheckedOut(a)}/checkin` }),
      'POST /api/v1/secrets/:id/checkout/queue': async (a) => ({ method: 'POST', url: `/api/v1/secrets/${await mkCheckedOut(a)}/checkout/queue` }),
      // Auditor and Application accounts cannot join a queue (no launch): the entry is made directly.
      'DELETE /api/v1/secrets/:id/checkout/queue': async (a) => {
        const id = await mkCheckedOut(a);
        await t.core.store.db.insertInto('checkoutQueue').values({ secretId: id, userId: a.id, username: a.username, joinedAt: Date.now(), notifiedAt: null, reservedUntil: null }).execute();
        return { method: 'DELETE', url: `/api/v1/secrets/${id}/checkout/queue` };
      },
      'GET /api/v1/launch/rdp-file': async (a) => ({ method: 'GET', url: `/api/v1/launch/rdp-file?ticket=${await mkTicket(a, 'rdp')}` }),
      'GET /api/v1/secrets/:id/host-key': async () => ({ method: 'GET', url: `/api/v1/secrets/${fx.secretId}/host-key` }),
      'DELETE /api/v1/secrets/:id/host-key': async () => ({ method: 'DELETE', url: `/api/v1/secrets/${fx.secretId}/host-key` }),
      'POST /api/v1/tickets/decline': async (a) => ({ method: 'POST', url: '/api/v1/tickets/decline', body: { ticket: await mkTicket(a) } }),
      'GET /api/v1/terminal': async (a) => ({ method: 'GET', url: `/api/v1/terminal?ticket=${await mkTicket(a)}&consent=1&cols=80&rows=24`, allowed: 404 }),
      'GET /api/v1/sessions': async () => ({ method: 'GET', url: '/api/v1/sessions' }),
      // Someone else's session: hidden from those who may not see it.
      'GET /api/v1/sessions/:id': async () => ({ method: 'GET', url: `/api/v1/sessions/${fx.sessionId}`, hidden: true }),
      'POST /api/v1/sessions/:id/terminate': async () => ({ method: 'POST', url: `/api/v1/sessions/${(await mkSession(true)).id}/terminate`, body: { reason: 'authorisation test' } }),
      // Someone else's shared session (a fresh User's): the caller asks to join it.
      'POST /api/v1/sessions/:id/join-requests': async () => ({ method: 'POST', url: `/api/v1/sessions/${(await mkShared((await freshActor('User')).id)).id}/join-requests` }),
      'POST /api/v1/sessions/:id/invites': async (a) => ({ method: 'POST', url: `/api/v1/sessions/${(await mkShared(a.id)).id}/invites`, body: { user: 'admin' } }),
      'GET /api/v1/sessions/:id/joins': async (a) => ({ method: 'GET', url: `/api/v1/sessions/${(await mkShared(a.id)).id}/joins` }),
      'GET /api/v1/me/joins': async () => ({ method: 'GET', url: '/api/v1/me/joins' }),
      'GET /api/v1/me/join-requests': async () => ({ method: 'GET', url: '/api/v1/me/join-requests' }),
      'POST /api/v1/sessions/:id/joins/:joinId/accept': async (a) => ({ method: 'POST', url: `${await mkJoin(a, 'request')}/accept` }),
      'POST /api/v1/sessions/:id/joins/:joinId/decline': async (a) => ({ method: 'POST', url: `${await mkJoin(a, 'request')}/decline` }),
      'POST /api/v1/sessions/:id/joins/:joinId/kick': async (a) => ({ method: 'POST', url: `${await mkJoin(a, 'invite')}/kick` }),
      // A join that is not the caller's: the plain GET answers 404 once authentication passed (the upgrade is test/protocols/session-sharing.test.ts's).
      'GET /api/v1/sessions/:id/joins/:joinId/terminal': async (a) => ({ method: 'GET', url: `${await mkJoin(a, 'invite')}/terminal`, allowed: 404 }),
      'GET /api/v1/sessions/:id/live': async () => {
        const s = await mkSession(true);
        // End the session once the viewer is subscribed, so the event stream finishes.
        let subscribed!: () => void;
        const ready = new Promise<void>((resolve) => (subscribed = resolve));
        const subscribe = s.subscribe.bind(s);
        s.subscribe = (fn) => {
          const off = subscribe(fn);
          subscribed();
          return off;
        };
        return { method: 'GET', url: `/api/v1/sessions/${s.id}/live`, during: async (response) => Promise.race([ready, response.then(() => undefined)]).then(() => s.end('viewer test over')) };
      },
      'GET /api/v1/recordings': async () => ({ method: 'GET', url: '/api/v1/recordings?q=uptime' }),
      'GET /api/v1/recordings/:sessionId': async () => ({ method: 'GET', url: `/api/v1/recordings/${fx.sessionId}` }),
      'GET /api/v1/recordings/:sessionId/text': async () => ({ method: 'GET', url: `/api/v1/recordings/${fx.sessionId}/text` }),
      'GET /api/v1/me/ssh-keys': async () => ({ method: 'GET', url: '/api/v1/me/ssh-keys' }),
      'POST /api/v1/me/ssh-keys': async () => ({ method: 'POST', url: '/api/v1/me/ssh-keys', body: { name: uniq('key'), publicKey: sshPublicKeyLine() } }),
      'GET /api/v1/access-policies': async () => ({ method: 'GET', url: '/api/v1/access-policies' }),
      'POST /api/v1/access-policies': async () => ({ method: 'POST', url: '/api/v1/access-policies', body: { name: uniq('policy'), approvers: [{ principalType: 'user', principal: 'admin' }] } }),
      'GET /api/v1/access-policies/:id': async () => ({ method: 'GET', url: '/api/v1/access-policies/matrix-policy' }),
      'PATCH /api/v1/access-policies/:id': async () => ({ method: 'PATCH', url: `/api/v1/access-policies/${await mkPolicy()}`, body: { description: 'changed' } }),
      'DELETE /api/v1/access-policies/:id': async () => ({ method: 'DELETE', url: `/api/v1/access-policies/${await mkPolicy()}` }),
      'GET /api/v1/access-levels': async () => ({ method: 'GET', url: '/api/v1/access-levels' }),
      'POST /api/v1/access-levels': async () => ({ method: 'POST', url: '/api/v1/access-levels', body: { name: uniq('level'), targetGroups: ['adm'] } }),
      'GET /api/v1/access-levels/:id': async () => ({ method: 'GET', url: '/api/v1/access-levels/matrix-level' }),
      'PATCH /api/v1/access-levels/:id': async () => ({ method: 'PATCH', url: `/api/v1/access-levels/${(await admin('POST', '/api/v1/access-levels', { name: uniq('level') })).id}`, body: { description: 'changed' } }),
      'DELETE /api/v1/access-levels/:id': async () => ({ method: 'DELETE', url: `/api/v1/access-levels/${(await admin('POST', '/api/v1/access-levels', { name: uniq('level') })).id}` }),
      'GET /api/v1/secrets/:id/access-levels': async () => ({ method: 'GET', url: `/api/v1/secrets/${fx.secretId}/access-levels` }),
      'GET /api/v1/access-requests': async () => ({ method: 'GET', url: '/api/v1/access-requests?scope=approve' }),
      'POST /api/v1/access-requests': async () => ({ method: 'POST', url: '/api/v1/access-requests', body: { secretId: fx.policySecretId, reason: 'authorisation test' } }),
      'GET /api/v1/access-requests/:id': async () => ({ method: 'GET', url: `/api/v1/access-requests/${await mkRequest(false)}` }),
      'POST /api/v1/access-requests/:id/approve': async () => ({ method: 'POST', url: `/api/v1/access-requests/${await mkRequest(false)}/approve`, body: { comment: 'ok' } }),
      'POST /api/v1/access-requests/:id/deny': async () => ({ method: 'POST', url: `/api/v1/access-requests/${await mkRequest(false)}/deny`, body: {} }),
      'POST /api/v1/access-requests/:id/revoke': async () => ({ method: 'POST', url: `/api/v1/access-requests/${await mkRequest(true)}/revoke`, body: { comment: 'over' } }),
      'DELETE /api/v1/me/ssh-keys/:id': async (a) => {
        const r = await t.req('POST', '/api/v1/me/ssh-keys', { token: a.token, body: { name: uniq('key'), publicKey: sshPublicKeyLine() } });
        assert.equal(r.statusCode, 201, r.body);
        return { method: 'DELETE', url: `/api/v1/me/ssh-keys/${r.json().id}` };
      },
      'GET /api/v1/me/master-password': async () => ({ method: 'GET', url: '/api/v1/me/master-password' }),
      // A fresh account: setting a master password is a one-time step per person.
      'PUT /api/v1/me/master-password': async (a) => {
        const f = await freshActor(a.role);
        return { method: 'PUT', url: '/api/v1/me/master-password', token: f.token, body: { masterPassword: MASTER } };
      },
      'POST /api/v1/me/master-password/unlock': async (a) => {
        await withMaster(a);
        return { method: 'POST', url: '/api/v1/me/master-password/unlock', body: { masterPassword: MASTER } };
      },
      'POST /api/v1/me/master-password/lock': async () => ({ method: 'POST', url: '/api/v1/me/master-password/lock' }),
      'POST /api/v1/me/master-password/reset': async (a) => {
        const f = await freshActor(a.role);
        await withMaster(f);
        return { method: 'POST', url: '/api/v1/me/master-password/reset', token: f.token, body: { confirm: 'delete my personal credentials' } };
      },
      'GET /api/v1/me/personal-credentials': async () => ({ method: 'GET', url: '/api/v1/me/personal-credentials' }),
      'POST /api/v1/me/personal-credentials': async (a) => {
        await unlocked(a);
        return { method: 'POST', url: '/api/v1/me/personal-credentials', body: { name: uniq('personal'), target: { machine: 'db1', protocol: 'ssh' }, username: 'me', password: 'personal-pw' } };
      },
      'GET /api/v1/me/personal-credentials/:id': async (a) => ({ method: 'GET', url: `/api/v1/me/personal-credentials/${await mkPersonal(a)}` }),
      'PATCH /api/v1/me/personal-credentials/:id': async (a) => ({ method: 'PATCH', url: `/api/v1/me/personal-credentials/${await mkPersonal(a)}`, body: { name: uniq('renamed'), password: 'changed-personal-pw' } }),
      'DELETE /api/v1/me/personal-credentials/:id': async (a) => ({ method: 'DELETE', url: `/api/v1/me/personal-credentials/${await mkPersonal(a)}` }),
      // The caller acts for themselves (no delegated trust needed) on the shared secret's machine.
      'GET /api/v1/webservices/credentials': async (a) => ({ method: 'GET', url: `/api/v1/webservices/credentials?user=${a.username}&endpoint=db1` }),
      'POST /api/v1/webservices/credentials/:id/retrieve': async (a) => ({ method: 'POST', url: `/api/v1/webservices/credentials/${fx.secretId}/retrieve`, body: { user: a.username, endpoint: 'db1' } }),
      'POST /api/v1/webservices/test': async (a) => ({ method: 'POST', url: '/api/v1/webservices/test', body: { user: a.username, endpoint: 'db1' } }),
      'GET /api/v1/webservices/applications': async () => ({ method: 'GET', url: '/api/v1/webservices/applications' }),
      'POST /api/v1/webservices/applications/:id/approve': async (a) => ({ method: 'POST', url: `/api/v1/webservices/applications/${await mkTrust(a)}/approve` }),
      'POST /api/v1/webservices/applications/:id/deny': async (a) => ({ method: 'POST', url: `/api/v1/webservices/applications/${await mkTrust(a)}/deny` }),
      'DELETE /api/v1/webservices/applications/:id': async (a) => ({ method: 'DELETE', url: `/api/v1/webservices/applications/${await mkTrust(a)}` }),
      'GET /api/v1/webservices/token-cache': async () => ({ method: 'GET', url: '/api/v1/webservices/token-cache' }),
      'DELETE /api/v1/webservices/token-cache': async () => ({ method: 'DELETE', url: '/api/v1/webservices/token-cache' }),
    };

    const send = async (a: Actor | null, r: Call) => {
      const token = r.token === null ? undefined : (r.token ?? a?.token);
      const res = t.req(r.method, r.url, { ...(token ? { token } : {}), ...(r.body !== undefined ? { body: r.body } : {}), ...(r.headers ? { headers: r.headers } : {}) });
      await r.during?.(res);
      return res;
    };

    before(async () => {
      t = await startTestApp(kind, { GATEHOUSE_PUBLIC_URL: WEBAUTHN_ORIGIN });
      for (const role of ROLES) {
        const username = `role-${role.toLowerCase()}`;
        actors[role] = { role, username, ...(await t.user(username, [role], extraFor(role))) };
      }
      const folder = await admin('POST', '/api/v1/folders', { name: 'shared-folder' });
      const secret = await admin('POST', '/api/v1/secrets', { name: 'shared-secret', template: 'unix-account', folderId: folder.id, fields: { machine: 'db1', username: 'root', password: 'matrix-Secret-1' } });
      const everyone = { entries: ROLES.map((r) => ({ principalType: 'user', principal: actors[r].id, level: 'owner' })) };
      await admin('PUT', `/api/v1/folders/${folder.id}/permissions`, everyone);
      await admin('PUT', `/api/v1/secrets/${secret.id}/permissions`, everyone);
      const client = await admin('POST', `/api/v1/users/${actors.Application.id}/client-credentials`);
      const requester = await t.user('access-requester', ['User']);
      const approvers = [...ROLES.map((r) => ({ principalType: 'user', principal: actors[r].id })), { principalType: 'user', principal: 'admin' }];
      await admin('POST', '/api/v1/access-policies', { name: 'matrix-policy', approvers, approvalsRequired: 1 });
      await admin('POST', '/api/v1/access-levels', { name: 'matrix-level', targetGroups: ['adm'] });
      const policySecret = await admin('POST', '/api/v1/secrets', { name: 'policy-secret', template: 'unix-account', fields: { machine: 'db2', username: 'root', password: 'matrix-Secret-2' } });
      await admin('PATCH', `/api/v1/secrets/${policySecret.id}`, { policyId: 'matrix-policy' });
      await admin('PUT', `/api/v1/secrets/${policySecret.id}/permissions`, { entries: [...everyone.entries, { principalType: 'user', principal: requester.id, level: 'view' }] });
      await admin('PATCH', '/api/v1/settings', { webservicesEnabled: true, sessionConnector: true });
      fx = { folderId: folder.id, secretId: secret.id, client, sessionId: '', policySecretId: policySecret.id, requesterToken: requester.token };
      fx.sessionId = (await mkSession(false)).id;
      psm = await openpsmLoop(t, fx.secretId);
    });
    after(async () => {
      await psm?.close();
      await t?.core.sessions.endAll('test over');
      await t?.close();
    });

    it('docs/authorization.md shows the same table', () => {
      const md = readFileSync(new URL('../../docs/authorization.md', import.meta.url), 'utf8');
      const rows: Record<string, Row> = {};
      for (const line of md.split('\n')) {
        const m = /^\|\s*`((?:GET|POST|PUT|PATCH|DELETE) \S+)`\s*\|(.*)\|\s*$/.exec(line);
        if (!m) continue;
        const cells = m[2]!.split('|').map((c) => c.trim());
        rows[m[1]!] = cells.every((c) => c === PUBLIC) ? PUBLIC : (cells as unknown as Row);
      }
      assert.deepEqual(rows, TABLE);
    });

    it('the table names exactly the built-in roles', () => {
      assert.deepEqual([...ROLES].sort(), BUILTIN_ROLES.map((r) => r.name).sort());
    });

    it('the table covers every registered route and lists no route that does not exist', async () => {
      const registered = registeredRoutes(t);
      const documented = await documentedRoutes(t);
      const tabled = Object.keys(TABLE).sort();
      assert.ok(registered.length >= documented.length && documented.length > 40, `route enumeration looks broken: ${registered.length} registered, ${documented.length} documented`);
      assert.deepEqual(documented.filter((r) => !(r in TABLE)), [], 'documented routes missing from the authorisation table');
      assert.deepEqual(registered.filter((r) => !(r in TABLE)), [], 'registered routes missing from the authorisation table');
      assert.deepEqual(tabled.filter((r) => !registered.includes(r)), [], 'table rows for routes the app does not have');
      for (const key of tabled) {
        const [method, url] = key.split(' ') as [string, string];
        assert.ok(t.app.hasRoute({ method: method as 'GET', url }), `hasRoute ${key}`);
        assert.ok(key in CALLS, `no request is defined for ${key}`);
      }
      assert.deepEqual(Object.keys(CALLS).sort(), tabled);
    });

    for (const [route, row] of Object.entries(TABLE)) {
      it(`${route}: ${row === PUBLIC ? 'public' : ROLES.map((r, i) => `${r}=${row[i]}`).join(' ')}`, async () => {
        const make = CALLS[route];
        assert.ok(make, `no request for ${route}`);
        // Without a token: public routes answer, all others want authentication.
        const anonCall = { ...(await make(actors.User)), token: null };
        const anon = await send(null, anonCall);
        if (row === PUBLIC) assert.ok(anonCall.allowed ? anon.statusCode === anonCall.allowed : anon.statusCode < 300, `${route} without a token: ${anon.statusCode} ${anon.body}`);
        else {
          assert.equal(anon.statusCode, 401, `${route} without a token: ${anon.body}`);
          assert.equal(anon.json().error.code, 'unauthorized');
        }
        for (const [i, role] of ROLES.entries()) {
          const verdict = row === PUBLIC ? Y : row[i]!;
          const req: Call = await make(actors[role]);
          const r = await send(actors[role], req);
          const what: string = `${role} ${req.method} ${req.url} -> ${r.statusCode} ${r.body.slice(0, 300)}`;
          if (verdict === Y) {
            assert.ok(r.statusCode !== 401 && r.statusCode !== 403, `expected allowed: ${what}`);
            // Every call is built to succeed, so "allowed" is a plain 2xx (or the status the call names).
            if (req.allowed) assert.equal(r.statusCode, req.allowed, `allowed but answered unexpectedly: ${what}`);
            else assert.ok(r.statusCode >= 200 && r.statusCode < 300, `allowed but failed: ${what}`);
          } else {
            assert.equal(r.statusCode, req.hidden ? 404 : 403, `expected denied: ${what}`);
            assert.equal(r.json().error.code, req.hidden ? 'not_found' : 'forbidden', what);
          }
        }
      });
    }

    it('denied destructive calls leave their target alone', async () => {
      const victim = await mkUser();
      for (const role of ['User', 'Auditor', 'Application'] as const) {
        const r = await t.req('DELETE', `/api/v1/users/${victim}`, { token: actors[role].token });
        assert.equal(r.statusCode, 403);
      }
      await admin('GET', `/api/v1/users/${victim}`);
      const tpl = await mkTemplate();
      const r = await t.req('DELETE', `/api/v1/templates/${tpl}`, { token: actors.User.token });
      assert.equal(r.statusCode, 403);
      await admin('GET', `/api/v1/templates/${tpl}`);
    });

    /** The two session cookies an answer sets, each checked for what __Host- needs (Path=/, Secure). */
    const hostCookies = (r: { headers: Record<string, unknown> }): string[] => {
      const set = ([] as string[]).concat((r.headers['set-cookie'] as string | string[] | undefined) ?? []);
      assert.deepEqual(set.map((c) => c.split('=')[0]).sort(), ['__Host-gh_csrf', '__Host-gh_session']);
      for (const c of set) {
        assert.match(c, /; Path=\/(;|$)/, c);
        assert.match(c, /; Secure(;|$)/, c);
      }
      return set;
    };

    it('browser sign-in cookies are host-only (__Host-: Secure, Path=/, no Domain), so no sibling subdomain can plant one', async () => {
      const u = actors.User;
      const r = await t.req('POST', '/api/v1/auth/session', { body: { username: u.username, password: u.password } });
      assert.equal(r.statusCode, 200, r.body);
      for (const c of hostCookies(r)) assert.doesNotMatch(c, /; Domain=/i, c);
      // The old names are not read any more.
      const token = (r.cookies as { name: string; value: string }[]).find((c) => c.name === '__Host-gh_session')!.value;
      assert.equal((await t.req('GET', '/api/v1/me', { headers: { cookie: `__Host-gh_session=${token}` } })).statusCode, 200);
      assert.equal((await t.req('GET', '/api/v1/me', { headers: { cookie: `gh_session=${token}` } })).statusCode, 401);
      // Sign-out expires both with the same attributes: a browser ignores a __Host- cookie without Secure.
      const csrf = (r.cookies as { name: string; value: string }[]).find((c) => c.name === '__Host-gh_csrf')!.value;
      const out = await t.req('DELETE', '/api/v1/auth/session', { headers: { cookie: `__Host-gh_session=${token}; __Host-gh_csrf=${csrf}`, 'x-csrf-token': csrf } });
      assert.equal(out.statusCode, 204, out.body);
      for (const c of hostCookies(out)) assert.match(c, /Expires=Thu, 01 Jan 1970/, c);
    });

    it('application accounts cannot sign in to the browser portal', async () => {
      const app = actors.Application;
      const r = await t.req('POST', '/api/v1/auth/session', { body: { username: app.username, password: app.password } });
      assert.equal(r.statusCode, 403, r.body);
      assert.equal(r.json().error.code, 'application_account');
      assert.equal(r.headers['set-cookie'], undefined, 'no session cookie for a refused sign-in');
    });

    it('the log holds no unhandled errors', () => {
      assert.ok(!t.logs().includes('unhandled error'), t.logs().split('\n').filter((l) => l.includes('unhandled error')).join('\n'));
    });
  });
}

// ---- token scopes (narrow what a token may do) and object ACLs (which secrets and folders).
for (const kind of DB_KINDS) {
  describe(`token scopes and object ACLs on ${kind}`, () => {
    let t: TestApp;
    let alice: { id: string; token: string; password: string };
    before(async () => {
      t = await startTestApp(kind);
      alice = await t.user('alice', ['User']);
    });
    after(async () => {
      await t?.core.sessions.endAll('test over');
      await t?.close();
    });

    const token = async (owner: string, scopes: string[]) => {
      const r = await t.req('POST', '/api/v1/tokens', { token: owner, body: { name: `scoped-${scopes.join('-')}`, scopes } });
      assert.equal(r.statusCode, 201, r.body);
      assert.deepEqual(r.json().scopes, scopes);
      return r.json().token as string;
    };
    const secretBody = (name: string, extra: Record<string, unknown> = {}) => ({ name, template: 'unix-account', fields: { machine: 'h1', username: 'root', password: `pw-of-${name}` }, ...extra });
    const share = async (type: 'secrets' | 'folders', id: string, entries: { principalType: 'user' | 'group'; principal: string; level: string }[], extra: Record<string, unknown> = {}) => {
      const r = await t.req('PUT', `/api/v1/${type}/${id}/permissions`, { token: t.adminToken, body: { entries, ...extra } });
      assert.equal(r.statusCode, 200, r.body);
    };
    const expectError = (r: { statusCode: number; json(): any; body: string }, status: number, code: string) => {
      assert.equal(r.statusCode, status, r.body);
      assert.equal(r.json().error.code, code, r.body);
    };

    it('a read-only token can GET but not change anything', async () => {
      const ro = await token(alice.token, ['read']);
      assert.equal((await t.req('GET', '/api/v1/secrets', { token: ro })).statusCode, 200);
      assert.equal((await t.req('GET', '/api/v1/me', { token: ro })).statusCode, 200);
      expectError(await t.req('POST', '/api/v1/secrets', { token: ro, body: secretBody('ro-create') }), 403, 'insufficient_scope');
      expectError(await t.req('POST', '/api/v1/tokens', { token: ro, body: { name: 'escalate', scopes: ['read', 'write', 'reveal'] } }), 403, 'insufficient_scope');
      expectError(await t.req('POST', '/api/v1/folders', { token: ro, body: { name: 'ro-folder' } }), 403, 'insufficient_scope');
    });

    it('a token with scopes cannot make sign-in credentials: no broader token, SSH key, passkey or TOTP', async () => {
      // A write token is enough for other writes; these would outlive it with more rights.
      const rw = await token(alice.token, ['read', 'write', 'launch']);
      const refused = [
        await t.req('POST', '/api/v1/tokens', { token: rw, body: { name: 'escalate', scopes: ['read', 'write', 'reveal', 'admin'] } }),
        await t.req('POST', '/api/v1/tokens', { token: rw, body: { name: 'narrower', scopes: ['read'] } }),
        await t.req('POST', '/api/v1/me/ssh-keys', { token: rw, body: { name: 'door', publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl x' } }),
        await t.req('POST', '/api/v1/me/webauthn/options', { token: rw }),
        await t.req('POST', '/api/v1/me/totp', { token: rw }),
        await t.req('POST', '/api/v1/me/totp/confirm', { token: rw, body: { code: '123456' } }),
      ];
      for (const r of refused) expectError(r, 403, 'insufficient_scope');
      assert.equal((await t.req('GET', '/api/v1/me/ssh-keys', { token: rw })).json().items.length, 0);
      assert.deepEqual((await t.req('GET', '/api/v1/tokens', { token: alice.token })).json().items.map((x: { name: string }) => x.name).filter((n: string) => n === 'escalate' || n === 'narrower'), []);
      // The signed-in user still makes them.
      assert.equal((await t.req('POST', '/api/v1/tokens', { token: alice.token, body: { name: 'signed-in', scopes: ['read'] } })).statusCode, 201);
      assert.equal((await t.req('POST', '/api/v1/me/totp', { token: alice.token })).statusCode, 200);
    });

    it('revealing needs the reveal scope; write does not imply it', async () => {
      const rw = await token(alice.token, ['read', 'write']);
      const c = await t.req('POST', '/api/v1/secrets', { token: rw, body: secretBody('scoped-own') });
      assert.equal(c.statusCode, 201, c.body);
      const id = c.json().id;
      const denied = await t.req('POST', `/api/v1/secrets/${id}/reveal`, { token: rw });
      expectError(denied, 403, 'insufficient_scope');
      assert.ok(!denied.body.includes('pw-of-scoped-own'));
      const rv = await token(alice.token, ['reveal']);
      const ok = await t.req('POST', `/api/v1/secrets/${id}/reveal`, { token: rv });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(ok.json().fields.password, 'pw-of-scoped-own');
    });

    it('administration and audit routes need their own scopes, and scopes never add permissions', async () => {
      const rw = await token(t.adminToken, ['read', 'write', 'reveal', 'launch']);
      expectError(await t.req('GET', '/api/v1/users', { token: rw }), 403, 'insufficient_scope');
      expectError(await t.req('PATCH', '/api/v1/settings', { token: rw, body: { lockoutMinutes: 15 } }), 403, 'insufficient_scope');
      expectError(await t.req('GET', '/api/v1/audit', { token: rw }), 403, 'insufficient_scope');
      const adm = await token(t.adminToken, ['admin']);
      assert.equal((await t.req('GET', '/api/v1/users', { token: adm })).statusCode, 200);
      const aud = await token(t.adminToken, ['audit']);
      assert.equal((await t.req('GET', '/api/v1/audit', { token: aud })).statusCode, 200);
      // A User with every scope is still only a User.
      const all = await token(alice.token, ['read', 'write', 'reveal', 'launch', 'admin', 'audit']);
      expectError(await t.req('GET', '/api/v1/users', { token: all }), 403, 'forbidden');
      expectError(await t.req('GET', '/api/v1/audit', { token: all }), 403, 'forbidden');
    });

    it('an unshared secret does not exist for a User; list lets them see it, view lets them reveal it', async () => {
      const s = (await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: secretBody('acl-secret') })).json();
      expectError(await t.req('GET', `/api/v1/secrets/${s.id}`, { token: alice.token }), 404, 'not_found');
      expectError(await t.req('POST', `/api/v1/secrets/${s.id}/reveal`, { token: alice.token }), 404, 'not_found');
      assert.ok(!(await t.req('GET', '/api/v1/secrets', { token: alice.token })).json().items.some((x: any) => x.id === s.id));

      await share('secrets', s.id, [{ principalType: 'user', principal: alice.id, level: 'list' }]);
      const got = await t.req('GET', `/api/v1/secrets/${s.id}`, { token: alice.token });
      assert.equal(got.statusCode, 200);
      assert.equal(got.json().access, 'list');
      const no = await t.req('POST', `/api/v1/secrets/${s.id}/reveal`, { token: alice.token });
      expectError(no, 403, 'forbidden');
      assert.ok(!no.body.includes('pw-of-acl-secret'));
      expectError(await t.req('GET', `/api/v1/secrets/${s.id}/permissions`, { token: alice.token }), 403, 'forbidden');

      await share('secrets', s.id, [{ principalType: 'user', principal: alice.id, level: 'view' }]);
      const yes = await t.req('POST', `/api/v1/secrets/${s.id}/reveal`, { token: alice.token });
      assert.equal(yes.statusCode, 200, yes.body);
      assert.equal(yes.json().fields.password, 'pw-of-acl-secret');
      expectError(await t.req('PATCH', `/api/v1/secrets/${s.id}`, { token: alice.token, body: { name: 'nope' } }), 403, 'forbidden');

      await share('secrets', s.id, [{ principalType: 'user', principal: alice.id, level: 'edit' }]);
      assert.equal((await t.req('PATCH', `/api/v1/secrets/${s.id}`, { token: alice.token, body: { name: 'acl-secret-edited' } })).statusCode, 200);
      expectError(await t.req('DELETE', `/api/v1/secrets/${s.id}`, { token: alice.token }), 403, 'forbidden');
      expectError(await t.req('PUT', `/api/v1/secrets/${s.id}/permissions`, { token: alice.token, body: { entries: [] } }), 403, 'forbidden');
    });

    it('a folder shared with a group lets its members reveal inheriting secrets; turning inheritance off removes that', async () => {
      const g = await t.req('POST', '/api/v1/groups', { token: t.adminToken, body: { name: 'ops', members: [alice.id] } });
      assert.equal(g.statusCode, 201, g.body);
      const folder = (await t.req('POST', '/api/v1/folders', { token: t.adminToken, body: { name: 'ops-folder' } })).json();
      const sub = (await t.req('POST', '/api/v1/folders', { token: t.adminToken, body: { name: 'ops-sub', parentId: folder.id } })).json();
      const s = (await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: secretBody('in-folder', { folderId: folder.id }) })).json();
      const deep = (await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: secretBody('in-subfolder', { folderId: sub.id }) })).json();
      expectError(await t.req('POST', `/api/v1/secrets/${s.id}/reveal`, { token: alice.token }), 404, 'not_found');

      await share('folders', folder.id, [{ principalType: 'group', principal: 'ops', level: 'view' }]);
      const r = await t.req('POST', `/api/v1/secrets/${s.id}/reveal`, { token: alice.token });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().fields.password, 'pw-of-in-folder');
      assert.equal((await t.req('POST', `/api/v1/secrets/${deep.id}/reveal`, { token: alice.token })).statusCode, 200, 'subfolder inherits too');
      const listed = (await t.req('GET', '/api/v1/secrets', { token: alice.token })).json().items.map((x: any) => x.id);
      assert.ok(listed.includes(s.id) && listed.includes(deep.id));
      // view on the folder is not edit: no moving secrets in, no new secrets there.
      expectError(await t.req('PATCH', `/api/v1/secrets/${s.id}`, { token: alice.token, body: { name: 'x' } }), 403, 'forbidden');
      expectError(await t.req('POST', '/api/v1/secrets', { token: alice.token, body: secretBody('alice-in-folder', { folderId: folder.id }) }), 403, 'forbidden');

      const off = await t.req('PATCH', `/api/v1/secrets/${s.id}`, { token: t.adminToken, body: { inheritPermissions: false } });
      assert.equal(off.statusCode, 200, off.body);
      assert.equal(off.json().inheritPermissions, false);
      expectError(await t.req('POST', `/api/v1/secrets/${s.id}/reveal`, { token: alice.token }), 404, 'not_found');
      assert.ok(!(await t.req('GET', '/api/v1/secrets', { token: alice.token })).json().items.some((x: any) => x.id === s.id));

      const subOff = await t.req('PATCH', `/api/v1/folders/${sub.id}`, { token: t.adminToken, body: { inheritPermissions: false } });
      assert.equal(subOff.statusCode, 200, subOff.body);
      expectError(await t.req('POST', `/api/v1/secrets/${deep.id}/reveal`, { token: alice.token }), 404, 'not_found');

      // Leaving the group removes the folder's grant as well.
      await t.req('PATCH', `/api/v1/secrets/${s.id}`, { token: t.adminToken, body: { inheritPermissions: true } });
      assert.equal((await t.req('POST', `/api/v1/secrets/${s.id}/reveal`, { token: alice.token })).statusCode, 200);
      assert.equal((await t.req('PATCH', `/api/v1/groups/${g.json().id}`, { token: t.adminToken, body: { members: [] } })).statusCode, 200);
      expectError(await t.req('POST', `/api/v1/secrets/${s.id}/reveal`, { token: alice.token }), 404, 'not_found');
    });

    it('edit moves a secret or folder only between folders it edits, never raising its own level; inheritance is the owner\'s', async () => {
      const bob = await t.user('bob-mover', ['User']);
      const folder = async (token: string, name: string, parentId?: string) => {
        const r = await t.req('POST', '/api/v1/folders', { token, body: { name, ...(parentId ? { parentId } : {}) } });
        assert.equal(r.statusCode, 201, r.body);
        return r.json().id as string;
      };
      const secretIn = async (name: string, folderId: string) => {
        const r = await t.req('POST', '/api/v1/secrets', { token: alice.token, body: secretBody(name, { folderId }) });
        assert.equal(r.statusCode, 201, r.body);
        return r.json().id as string;
      };
      const patch = (type: 'secrets' | 'folders', id: string, body: Record<string, unknown>) => t.req('PATCH', `/api/v1/${type}/${id}`, { token: bob.token, body });
      const where = async (id: string) => (await t.req('GET', `/api/v1/secrets/${id}`, { token: alice.token })).json().folderId;
      const prod = await folder(alice.token, 'mv-prod');
      const mine = await folder(bob.token, 'mv-bobs');

      // edit on a secret alone: it stays in the folder bob cannot edit (out of it, or to the top).
      const s = await secretIn('mv-secret', prod);
      const withBob = (level: string) => [{ principalType: 'user' as const, principal: alice.id, level: 'owner' }, { principalType: 'user' as const, principal: bob.id, level }];
      await share('secrets', s, withBob('edit'), { inheritPermissions: true });
      expectError(await patch('secrets', s, { folderId: mine }), 403, 'forbidden');
      expectError(await patch('secrets', s, { folderId: null }), 403, 'forbidden');
      assert.equal(await where(s), prod);
      // Nor does bob cut it off from the folder (or join it back): that is an ACL change, the owner's.
      expectError(await patch('secrets', s, { inheritPermissions: false }), 403, 'forbidden');
      assert.equal((await t.req('GET', `/api/v1/secrets/${s}`, { token: alice.token })).json().inheritPermissions, true);
      assert.equal((await patch('secrets', s, { name: 'mv-secret-renamed' })).statusCode, 200);

      // edit on a folder: a subfolder of his own (owner) is no way to owning its secrets.
      const team = await folder(alice.token, 'mv-team');
      await share('folders', team, withBob('edit'));
      const t2 = await secretIn('mv-team-secret', team);
      const sub = await folder(bob.token, 'mv-bobs-sub', team);
      const raised = await patch('secrets', t2, { folderId: sub });
      expectError(raised, 403, 'move_raises_access');
      assert.equal(await where(t2), team);
      // A folder too: one of alice's subfolders moved under bob's own.
      const inner = await folder(alice.token, 'mv-team-inner', team);
      expectError(await patch('folders', inner, { parentId: sub }), 403, 'move_raises_access');
      expectError(await patch('folders', inner, { parentId: mine }), 403, 'move_raises_access');
      // A folder bob edits, in one he does not: it stays (out of it, or to the top).
      const prodInner = await folder(alice.token, 'mv-prod-inner', prod);
      await share('folders', prodInner, withBob('edit'));
      expectError(await patch('folders', prodInner, { parentId: team }), 403, 'forbidden');
      expectError(await patch('folders', prodInner, { parentId: null }), 403, 'forbidden');
      expectError(await patch('folders', inner, { inheritPermissions: false }), 403, 'forbidden');
      // Between two folders bob edits, at the same level: allowed, as before.
      const other = await folder(alice.token, 'mv-other');
      await share('folders', other, withBob('edit'));
      const moved = await patch('secrets', t2, { folderId: other });
      assert.equal(moved.statusCode, 200, moved.body);
      assert.equal(await where(t2), other);
      assert.equal((await patch('folders', inner, { parentId: other })).statusCode, 200);
      // Nor by handing his own folder to another account first: he stays its owner, so the move raises his level.
      const mallory = await t.user('mallory-mover', ['User']);
      const handed = await t.req('PUT', `/api/v1/folders/${sub}/permissions`, { token: bob.token, body: { entries: [{ principalType: 'user', principal: mallory.id, level: 'owner' }] } });
      assert.equal(handed.statusCode, 200, handed.body);
      assert.ok(handed.json().entries.some((e: { principalId: string; level: string }) => e.principalId === bob.id && e.level === 'owner'), handed.body);
      const t3 = await secretIn('mv-team-secret-3', team);
      expectError(await patch('secrets', t3, { folderId: sub }), 403, 'move_raises_access');
      assert.equal(await where(t3), team);
      // The owner changes inheritance and moves as before.
      assert.equal((await t.req('PATCH', `/api/v1/secrets/${s}`, { token: alice.token, body: { inheritPermissions: false, folderId: null } })).statusCode, 200);
    });

    it('launching needs the launch scope, the launch permission and view on the secret', async () => {
      const s = (await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: secretBody('launch-me') })).json();
      expectError(await t.req('POST', `/api/v1/secrets/${s.id}/launch`, { token: alice.token, body: { launcher: 'ssh' } }), 404, 'not_found');
      await share('secrets', s.id, [{ principalType: 'user', principal: alice.id, level: 'list' }]);
      expectError(await t.req('POST', `/api/v1/secrets/${s.id}/launch`, { token: alice.token, body: { launcher: 'ssh' } }), 403, 'forbidden');
      await share('secrets', s.id, [{ principalType: 'user', principal: alice.id, level: 'view' }]);
      const ok = await t.req('POST', `/api/v1/secrets/${s.id}/launch`, { token: alice.token, body: { launcher: 'ssh' } });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.match(ok.json().ticket, /^[A-Za-z0-9_-]{32}$/);
      const rw = await token(alice.token, ['read', 'write', 'reveal']);
      expectError(await t.req('POST', `/api/v1/secrets/${s.id}/launch`, { token: rw, body: { launcher: 'ssh' } }), 403, 'insufficient_scope');
      const ln = await token(alice.token, ['launch']);
      assert.equal((await t.req('POST', `/api/v1/secrets/${s.id}/launch`, { token: ln, body: { launcher: 'ssh' } })).statusCode, 200);
      // Sharing never grants the permission: an Auditor with view still cannot launch.
      const aud = await t.user('auditor-launch', ['Auditor']);
      await share('secrets', s.id, [{ principalType: 'user', principal: aud.id, level: 'owner' }]);
      expectError(await t.req('POST', `/api/v1/secrets/${s.id}/launch`, { token: aud.token, body: { launcher: 'ssh' } }), 403, 'forbidden');
    });

    it("a User sees their own sessions only; an Auditor sees everyone's", async () => {
      const s = (await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: secretBody('session-target') })).json();
      const adminId = (await t.req('GET', '/api/v1/me', { token: t.adminToken })).json().id;
      const mine = await startSession(t, alice.id, s.id, false);
      const theirs = await startSession(t, adminId, s.id, false);
      assert.equal((await t.req('GET', `/api/v1/sessions/${mine.id}`, { token: alice.token })).statusCode, 200);
      // As a session id that names nothing: a 403 would say that it names a session.
      expectError(await t.req('GET', `/api/v1/sessions/${theirs.id}`, { token: alice.token }), 404, 'not_found');
      expectError(await t.req('GET', `/api/v1/sessions/00000000-0000-4000-8000-000000000000`, { token: alice.token }), 404, 'not_found');
      const listed = (await t.req('GET', `/api/v1/sessions?userId=${adminId}`, { token: alice.token })).json();
      assert.deepEqual(listed.items.map((x: any) => x.id), [mine.id], 'the userId filter cannot widen what a User sees');
      expectError(await t.req('GET', `/api/v1/recordings/${mine.id}`, { token: alice.token }), 403, 'forbidden');
      const aud = await t.user('auditor-sessions', ['Auditor']);
      const all = (await t.req('GET', '/api/v1/sessions', { token: aud.token })).json().items.map((x: any) => x.id);
      assert.ok(all.includes(mine.id) && all.includes(theirs.id));
      const rec = await t.req('GET', `/api/v1/recordings/${mine.id}`, { token: aud.token });
      assert.equal(rec.statusCode, 200, rec.body);
      assert.match(rec.body, /uptime/);
    });

    it('role permissions do not open objects: an Auditor or Application sees only what is shared with it', async () => {
      const aud = await t.user('auditor1', ['Auditor']);
      const app = await t.user('app1', ['Application'], { isApplication: true });
      const s = (await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: secretBody('app-secret') })).json();
      for (const u of [aud, app]) expectError(await t.req('POST', `/api/v1/secrets/${s.id}/reveal`, { token: u.token }), 404, 'not_found');
      await share('secrets', s.id, [{ principalType: 'user', principal: app.id, level: 'view' }]);
      assert.equal((await t.req('POST', `/api/v1/secrets/${s.id}/reveal`, { token: app.token })).statusCode, 200);
      expectError(await t.req('POST', `/api/v1/secrets/${s.id}/reveal`, { token: aud.token }), 404, 'not_found');
    });

    it('the log holds no unhandled errors', () => {
      assert.ok(!t.logs().includes('unhandled error'));
    });
  });
}
