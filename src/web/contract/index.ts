// The Gatehouse API contract: every route's method, path, request schema and answers, as
// data the server registers (src/web/routes) and the types the portal (ui/) and the CLI
// (src/cli) use. Dependency-free: no Node.js API, no runtime import outside this folder.
import { accessPolicies, accessRequests } from './access.js';
import { accessLevels } from './access-levels.js';
import { audit } from './audit.js';
import { auth, directory } from './identity.js';
import { launch, launchers, recordings, sessions, hostKeys, sshKeys } from './sessions.js';
import { checkout } from './checkout.js';
import { accounts } from './accounts.js';
import { system } from './system.js';
import { personal } from './personal.js';
import { openpsm } from './openpsm.js';
import { logonTickets } from './logon-tickets.js';
import { folders, secrets, templates } from './vault.js';
import { webservices } from './webservices.js';
import { rdpWeb } from './rdp-web.js';
import { sharing } from './sharing.js';
import { ldapDirectory } from './ldap-directory.js';
import { oidc } from './oidc.js';
import { webauthn } from './webauthn.js';
import { auditSinks } from './audit-sinks.js';
import { retention } from './retention.js';
import { cluster } from './cluster.js';
import type { Route } from './route.js';

export const api = { system, auth, directory, folders, templates, secrets, audit, launchers, launch, sessions, recordings, hostKeys, sshKeys, accessPolicies, accessRequests, personal, checkout, accounts, webservices, openpsm, accessLevels, logonTickets, rdpWeb, sharing, ldapDirectory, oidc, webauthn, auditSinks, retention, cluster } as const;

/** Every route of the contract, by "METHOD /path" (the server checks each registered route against it). */
export const CONTRACT_ROUTES: ReadonlyMap<string, Route> = new Map(
  Object.values(api).flatMap((group) => Object.values(group as Record<string, Route>).map((r) => [`${r.method} ${r.url}`, r] as const)),
);

export * from './route.js';
export * from './schema.js';
export * from './types.js';
export { PERMISSION_NAMES, SCOPE_NAMES } from './identity.js';
export { ACCESS_LEVELS, FIELD_TYPES, MAX_KEY_FIELD } from './vault.js';
export { BREAK_REASONS, CHECKPOINT_FORMAT, RECORDING_STATUSES } from './audit.js';
export { DISPLAY_BOUNDS, KEYBOARD_LAYOUTS, LAUNCHER_TYPES, PROTOCOLS, RECORDING_FORMATS, TEXT_PAGE } from './sessions.js';
export { SETTING_NAMES } from './system.js';
export { NODE_STATUSES } from './cluster.js';
export { ACCESS_MODES, MFA_MODES, REQUEST_SCOPES, REQUEST_STATUSES, TICKET_REFERENCE } from './access.js';
export { OPENPSM_MODES } from './openpsm.js';
export { JOIN_STATUSES, JOIN_VIAS } from './sharing.js';
export { MAX_KEEP_DAYS, RETENTION_SCOPES } from './retention.js';
export { LDAP_SECURITY } from './ldap-directory.js';
export { AUDIT_SINK_KINDS } from './audit-sinks.js';
export { PERSONAL_PROTOCOLS, PERSONAL_RESET_CONFIRMATION } from './personal.js';
export { HEARTBEAT_STATUSES, MAX_HEARTBEAT_HOURS, ROTATION_STATUSES, TARGET_KINDS } from './accounts.js';
export { ECM_PROTOCOLS, TRUST_STATUSES } from './webservices.js';
export { CHECKOUT_MAX_SECONDS, CHECKOUT_SOURCES, type CheckoutStatus } from './checkout.js';
