// Table types for Kysely. Columns are snake_case in the database and camelCase here
// (CamelCasePlugin). Booleans are 0/1 integers and JSON is text so one schema fits
// SQLite and PostgreSQL; timestamps are epoch milliseconds.
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export type Flag = 0 | 1;

export interface UsersTable {
  id: string;
  username: string;
  displayName: string;
  email: string | null;
  passwordHash: string | null;
  isApplication: Flag;
  enabled: Flag;
  failedLogins: number;
  lockedUntil: number | null;
  totpDataKeyId: string | null;
  totpEnc: string | null;
  totpEnabled: Flag;
  /** The TOTP time step (30 s) of the last code accepted (migration 023): a code is taken once, only for a later step. Never in an API answer. */
  totpLastStep: number | null;
  recoveryCodes: string | null;
  createdAt: number;
  updatedAt: number;
  lastLoginAt: number | null;
}

/** An OIDC identity provider (migration 014); the client secret only sealed. */
export interface OidcProvidersTable {
  id: string;
  name: string;
  displayName: string;
  issuer: string;
  clientId: string;
  secretDataKeyId: string | null;
  secretSealed: string | null;
  /** JSON string[]. */
  scopes: string;
  usernameClaim: string;
  groupsClaim: string;
  /** JSON string[]. */
  allowedDomains: string;
  /** JSON {claim, group}[]: a value of the groups claim → a Gatehouse group id. */
  groupMap: string;
  requireMappedGroup: Flag;
  enabled: Flag;
  createdAt: number;
  updatedAt: number;
}

export interface OidcLinksTable {
  providerId: string;
  subject: string;
  userId: string;
  createdAt: number;
}

/** A sign-in under way (migration 014), keyed by the hash of its flow cookie. */
export interface OidcFlowsTable {
  id: string;
  providerId: string;
  state: string;
  nonce: string;
  codeVerifier: string;
  cliRedirect: string | null;
  cliChallenge: string | null;
  cliCodeHash: string | null;
  userId: string | null;
  expiresAt: number;
}

/** A registered passkey or security key (migration 016); public material only. */
export interface WebauthnCredentialsTable {
  id: string;
  userId: string;
  /** base64url, as the authenticator gave it. */
  credentialId: string;
  /** base64url COSE public key. */
  publicKey: string;
  counter: number;
  /** JSON string[]: how the browser may reach the authenticator (usb, nfc, internal …). */
  transports: string;
  deviceType: string;
  backedUp: Flag;
  discoverable: Flag;
  aaguid: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

/** A WebAuthn challenge handed out (migration 016): single use, short-lived. */
export interface WebauthnChallengesTable {
  id: string;
  purpose: string;
  userId: string | null;
  challenge: string;
  expiresAt: number;
}

export interface GroupsTable {
  id: string;
  name: string;
  description: string;
  createdAt: number;
}

export interface GroupMembersTable {
  groupId: string;
  userId: string;
}

export interface RolesTable {
  id: string;
  name: string;
  description: string;
  permissions: string;
  builtin: Flag;
  createdAt: number;
}

export type PrincipalType = 'user' | 'group';

export interface RoleAssignmentsTable {
  roleId: string;
  principalType: PrincipalType;
  principalId: string;
}

export interface ApiTokensTable {
  id: string;
  userId: string;
  name: string;
  tokenHash: string;
  kind: 'session' | 'api' | 'oauth';
  scopes: string;
  expiresAt: number;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface OauthClientsTable {
  clientId: string;
  userId: string;
  secretHash: string;
  createdAt: number;
}

export interface DataKeysTable {
  id: string;
  kekId: string;
  wrapped: string;
  createdAt: number;
}

/** A data key made to seal a recording in object storage (026_recording_keys). */
export interface RecordingKeysTable {
  dataKeyId: string;
  /** The recording's name in the storage (its rel path). */
  rel: string;
  createdAt: number;
}

export interface FoldersTable {
  id: string;
  name: string;
  parentId: string | null;
  inheritPermissions: Flag;
  createdAt: number;
  updatedAt: number;
  /** The access request policy attached here (004_access_policies); null: inherited or none. */
  policyId?: string | null;
}

export interface TemplatesTable {
  id: string;
  name: string;
  builtin: Flag;
  definition: string;
  createdAt: number;
  updatedAt: number;
}

export interface SecretsTable {
  id: string;
  name: string;
  templateId: string;
  folderId: string | null;
  publicFields: string;
  dataKeyId: string;
  fieldsEnc: string;
  inheritPermissions: Flag;
  createdBy: string | null;
  createdAt: number;
  updatedAt: number;
  /** The access request policy attached here (004_access_policies); null: the folder's, or none. */
  policyId?: string | null;
}

/** How Gatehouse manages a secret's account on its target (007_target_accounts). */
export interface SecretAccountsTable {
  secretId: string;
  managementSecretId: string | null;
  targetKind: string | null;
  rotateAfterUse: Flag;
  heartbeat: Flag;
  heartbeatIntervalHours: number | null;
  heartbeatStatus: string | null;
  heartbeatMessage: string | null;
  heartbeatAt: number | null;
  rotationStatus: string | null;
  rotationMessage: string | null;
  rotationAt: number | null;
  updatedAt: number;
}

/** A secret's earlier field set, sealed under the secret's data key (007_target_accounts). */
export interface SecretVersionsTable {
  secretId: string;
  version: number;
  publicFields: string;
  fieldsEnc: string;
  reason: string;
  replacedBy: string | null;
  replacedByName: string | null;
  createdAt: number;
}

export type ObjectType = 'secret' | 'folder';
export type AccessLevel = 'list' | 'view' | 'edit' | 'owner';

export interface PermissionsTable {
  objectType: ObjectType;
  objectId: string;
  principalType: PrincipalType;
  principalId: string;
  level: AccessLevel;
}

export interface SettingsTable {
  key: string;
  value: string;
  updatedAt: number;
}

export interface AuditEventsTable {
  seq: number;
  ts: number;
  actorId: string | null;
  actorName: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  outcome: 'success' | 'failure';
  details: string;
  prevHash: string;
  hash: string;
}

export interface AuditCheckpointsTable {
  seq: number;
  hash: string;
  signature: string;
  keyId: string;
  createdAt: number;
}

export interface MetaTable {
  key: string;
  value: string;
}

export type LauncherType = 'ssh' | 'telnet' | 'rdp' | 'session-connector';

export interface LaunchersTable {
  id: string;
  name: string;
  type: LauncherType;
  childType: Exclude<LauncherType, 'session-connector'> | null;
  gatewayHost: string | null;
  gatewayPort: number | null;
  active: Flag;
  builtin: Flag;
  record: Flag;
  recordKeystrokes: Flag;
  idleTimeoutSeconds: number;
  maxDurationSeconds: number;
  allowPortForwarding: Flag;
  options: string;
  createdAt: number;
  updatedAt: number;
}

export interface TicketsTable {
  id: string;
  tokenHash: string;
  userId: string;
  secretId: string;
  launcherId: string;
  clientIp: string | null;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  sessionId: string | null;
  /** Display and keyboard settings chosen at launch (JSON, core/launch/display.ts); null: none. */
  display: string | null;
  /** The id of the API request that launched it (migration 020): the doors log it with the session. */
  launchRequestId: string | null;
  /** The access policy its launch decided under (migration 027, launch-policy.ts `stamp`); null: not known (an older ticket, or none a launch issued). */
  policyVersion: string | null;
}

export interface SessionsTable {
  id: string;
  userId: string;
  username: string;
  secretId: string;
  secretName: string;
  launcherId: string;
  protocol: string;
  targetHost: string;
  targetPort: number;
  targetUser: string | null;
  clientIp: string | null;
  door: string;
  status: 'live' | 'ended';
  startedAt: number;
  endedAt: number | null;
  endReason: string | null;
  bytesIn: number;
  bytesOut: number;
  recording: string | null;
  recordingSha256: string | null;
  recordKeystrokes: Flag;
  /** The gateway node that ran it (node-id in its data dir); null for sessions from before nodes were named. */
  node: string | null;
  /** The format it is recorded in, set at its start (migration 022); null when not recorded, or for rows from before. */
  recordingFormat: string | null;
}

export interface SessionTextTable {
  sessionId: string;
  seq: number;
  at: number;
  kind: 'input' | 'command' | 'event';
  text: string;
  /** Who typed the line (user name), in a shared session (migration 012); null otherwise. */
  typedBy: string | null;
}

export interface HostKeysTable {
  secretId: string;
  host: string;
  port: number;
  keyType: string;
  fingerprint: string;
  firstSeen: number;
}

export interface SshUserKeysTable {
  id: string;
  userId: string;
  name: string;
  keyType: string;
  publicKey: string;
  fingerprint: string;
  createdAt: number;
}

export interface AccessPoliciesTable {
  id: string;
  name: string;
  description: string;
  /** JSON {users: id[], groups: id[]}. */
  approvers: string;
  approvalsRequired: number;
  /** JSON {users: id[], groups: id[]}. */
  preApproved: string;
  defaultWindowMinutes: number;
  maxWindowMinutes: number;
  /** JSON {days, from, to, timeZone} or null (any time). */
  allowedHours: string | null;
  /** JSON array of protocols. */
  allowedModes: string;
  mfa: 'never' | 'always' | 'untrusted';
  /** JSON array of CIDRs. */
  trustedNetworks: string;
  mfaMaxAgeMinutes: number;
  recordingRequired: Flag;
  consentText: string;
  checkoutRequired: Flag;
  /** 008_jit_access_levels: rotate the password of the policy's secrets after each use. */
  rotateAfterUse?: Flag;
  reasonRequired: Flag;
  ticketReference: 'none' | 'optional' | 'required';
  createdAt: number;
  updatedAt: number;
}

/** A person's master-password vault (personal credentials, migration 006). */
export interface PersonalVaultsTable {
  userId: string;
  /** JSON: {alg: 'argon2id', memoryCost, timeCost, parallelism}. */
  kdf: string;
  salt: string;
  verifier: string;
  wrappedKey: string;
  createdAt: number;
  updatedAt: number;
}

export type AccessRequestStatus = 'pending' | 'approved' | 'denied' | 'cancelled';

export interface AccessRequestsTable {
  id: string;
  secretId: string;
  secretName: string;
  requesterId: string;
  requesterName: string;
  policyId: string;
  reason: string;
  ticketRef: string | null;
  /** JSON array of protocols. */
  modes: string;
  startAt: number;
  endAt: number;
  approvalsRequired: number;
  status: AccessRequestStatus;
  decidedAt: number | null;
  createdAt: number;
  /** The access level the request asks for (008_jit_access_levels); null: none. */
  accessLevelId?: string | null;
}

export interface AccessApprovalsTable {
  requestId: string;
  approverId: string;
  approverName: string;
  decision: 'approve' | 'deny';
  comment: string;
  at: number;
}

export interface AccessGrantsTable {
  id: string;
  requestId: string;
  userId: string;
  secretId: string;
  modes: string;
  startAt: number;
  endAt: number;
  revokedAt: number | null;
  revokedBy: string | null;
  createdAt: number;
}

export interface PersonalCredentialsTable {
  id: string;
  userId: string;
  name: string;
  targetSecretId: string | null;
  machine: string | null;
  port: number | null;
  protocol: string | null;
  username: string;
  domain: string | null;
  /** JSON list of the secret fields that hold a value (names only). */
  secretFields: string;
  wrappedKey: string;
  dataEnc: string;
  createdAt: number;
  updatedAt: number;
}

export interface PersonalLaunchesTable {
  ref: string;
  userId: string;
  credentialId: string;
  sealed: string;
  expiresAt: number;
}

/** Exclusive checkouts of secrets (migration 005); at most one open (checkedInAt null) per secret. */
export interface CheckoutsTable {
  id: string;
  secretId: string;
  userId: string;
  username: string;
  source: 'explicit' | 'launch' | 'grant';
  sourceId: string | null;
  reason: string | null;
  since: number;
  expiresAt: number;
  sessionId: string | null;
  checkedInAt: number | null;
  checkinReason: string | null;
  checkedInBy: string | null;
}

export interface CheckoutQueueTable {
  secretId: string;
  userId: string;
  username: string;
  joinedAt: number;
  notifiedAt: number | null;
  reservedUntil: number | null;
}

/** Delegated trust of an application account to act for a person (migration 009, core/webservices). */
export interface WebserviceTrustsTable {
  id: string;
  applicationId: string;
  applicationName: string;
  userId: string;
  status: 'pending' | 'approved' | 'denied' | 'revoked';
  endpoint: string | null;
  requestedAt: number;
  decidedAt: number | null;
  lastUsedAt: number | null;
}

/** The token cache of the credential-provider API (migration 009): sealed, with an expiry. */
export interface WebserviceTokensTable {
  id: string;
  applicationId: string;
  userId: string;
  dataKeyId: string;
  tokenEnc: string;
  createdAt: number;
  expiresAt: number;
}

/** OpenPSM (IAM side): a /start redirect issued for one secret or personal credential (010_openpsm). */
export interface OpenpsmLinksTable {
  id: string;
  tokenHash: string;
  userId: string;
  secretId: string | null;
  personalCredentialId: string | null;
  mode: string;
  checkoutId: string | null;
  createdAt: number;
  expiresAt: number;
  sessionUuid: string | null;
  fetchedAt: number | null;
  endedAt: number | null;
}

/** OpenPSM (gateway side): an endsession call still owed to an IAM (010_openpsm). */
export interface OpenpsmEndNoticesTable {
  sessionUuid: string;
  apiUrl: string;
  loginSessionId: string;
  credentialId: string;
  computerId: string;
  dataKeyId: string;
  apiKeySealed: string;
  appKey: string;
  gatewaySessionId: string | null;
  attempts: number;
  unauthorized: number;
  nextAt: number;
  lastError: string | null;
  createdAt: number;
  outcome: string | null;
  doneAt: number | null;
}

/** An access level: named target groups for a session (008_jit_access_levels). */
export interface AccessLevelsTable {
  id: string;
  name: string;
  description: string;
  /** JSON array of group names (Linux) or DNs (LDAP). */
  targetGroups: string;
  sudoers: string | null;
  needsApproval: Flag;
  createdAt: number;
  updatedAt: number;
}

export interface AccessLevelLinksTable {
  levelId: string;
  secretId: string | null;
  folderId: string | null;
}

export interface AccessLevelMembersTable {
  levelId: string;
  principalType: 'user' | 'group';
  principalId: string;
}

/** A secret's just-in-time account settings (008_jit_access_levels). */
export interface SecretJitTable {
  secretId: string;
  enabled: Flag;
  endAction: 'remove' | 'disable';
  connectionDelaySeconds: number;
  namePrefix: string;
  updatedAt: number;
}

/** A temporary account or a level given to a stored account, for one session (008_jit_access_levels). */
/** A rotation under way, or one whose outcome is not settled yet (migration 028, core/accounts/rotation.ts). */
export interface SecretRotationsTable {
  secretId: string;
  trigger: string;
  startedAt: number;
  pendingEnc: string;
  leaseNode: string | null;
  leaseUntil: number;
  message: string | null;
}

/** An account whose group memberships a grant or undo is changing now (migration 029, core/accounts/group-locks.ts). */
export interface AccountGroupLocksTable {
  secretId: string;
  accountName: string;
  leaseNode: string;
  leaseUntil: number;
}

export interface JitAccountsTable {
  id: string;
  purpose: 'jit' | 'level';
  secretId: string;
  sessionId: string;
  targetKind: string;
  accountName: string;
  levelId: string | null;
  targetGroups: string;
  state: 'active' | 'disabled' | 'removed' | 'failed';
  message: string | null;
  createdAt: number;
  endedAt: number | null;
  removedAt: number | null;
  /** The node preparing or undoing the row until leaseUntil (025_jit_leases); 0: nobody. */
  leaseNode: string | null;
  leaseUntil: number;
}

/** A TSplus-compatible logon ticket (011_logon_tickets); the seal is wiped on use or expiry. */
export interface LogonTicketsTable {
  id: string;
  tokenHash: string;
  /** The application server (setting logonTicketServers) the ticket opens. */
  server: string;
  winUser: string;
  dataKeyId: string | null;
  credentialSealed: string | null;
  requestedFrom: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  launchTicketId: string | null;
}

/** A transient credential bound to one launch ticket (011_logon_tickets). */
export interface LaunchCredentialsTable {
  ticketId: string;
  dataKeyId: string;
  credentialSealed: string;
  /** What made it, e.g. "logon_ticket". */
  source: string;
  expiresAt: number;
}

/** The LDAP / AD directory's settings (one row, id 'default'; migration 015). */
export interface LdapDirectoryTable {
  id: string;
  /** JSON (src/core/identity/directory-ldap/config.ts); the bind password is a vault reference. */
  config: string;
  updatedAt: number;
  lastSyncAt: number | null;
  /** JSON: the last sync's summary or its error. */
  lastSyncResult: string | null;
}

/** A Gatehouse user that comes from the LDAP directory. */
export interface LdapUsersTable {
  userId: string;
  dn: string;
  /** 1 when a sync disabled the user (a sync re-enables only these). */
  disabledBySync: Flag;
  lastSeenAt: number;
}

/** Where audit events are streamed (migration 017, src/core/audit/streaming). */
export interface AuditSinksTable {
  id: string;
  name: string;
  /** 'syslog' | 'webhook'. */
  kind: string;
  enabled: Flag;
  /** JSON (src/core/audit/streaming/config.ts): everything but the secrets. */
  config: string;
  secretDataKeyId: string | null;
  /** JSON {hmacKey?, caPem?, clientCertPem?, clientKeyPem?} sealed under secretDataKeyId. */
  secretSealed: string | null;
  /** seq of the last audit event the receiver took (0: none yet). */
  cursor: number;
  /** seq of the last signed checkpoint sent (0: none yet). */
  checkpointCursor: number;
  delivered: number;
  lastDeliveredAt: number | null;
  /** Failed deliveries in a row (the backoff's exponent); 0 after a success. */
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  lastErrorAt: number | null;
  /** The node delivering this sink until leaseUntil (a cluster delivers each sink from one node). */
  leaseNode: string | null;
  leaseUntil: number;
  createdAt: number;
  updatedAt: number;
}

/** Keep recordings N days after their session ended (018, core/sessions/retention.ts). */
export interface RecordingRetentionTable {
  id: string;
  scope: 'global' | 'folder' | 'launcher';
  /** The folder's or launcher's id; '' for global. */
  scopeId: string;
  keepDays: number;
  createdAt: number;
  updatedAt: number;
}

/** A legal hold: the session's recording is deleted by no retention policy. */
export interface RecordingHoldsTable {
  sessionId: string;
  reason: string;
  userId: string;
  username: string;
  createdAt: number;
}

/** A gateway node on this database (migration 019, core/cluster/registry.ts). */
export interface ClusterNodesTable {
  id: string;
  /** https://host:port of its peer listener; null: it takes no forwarded calls. */
  address: string | null;
  version: string;
  startedAt: number;
  heartbeatAt: number;
  /** Live sessions at the last heartbeat. */
  load: number;
  status: 'up' | 'stopped';
}

/** One piece of the shared cluster identity (migration 019, core/cluster/identity.ts), sealed. */
export interface ClusterIdentityTable {
  name: string;
  dataKeyId: string;
  sealed: string;
  version: number;
  updatedAt: number;
}

export interface Database {
  auditSinks: AuditSinksTable;
  recordingRetention: RecordingRetentionTable;
  recordingHolds: RecordingHoldsTable;
  clusterNodes: ClusterNodesTable;
  clusterIdentity: ClusterIdentityTable;
  ldapDirectory: LdapDirectoryTable;
  ldapUsers: LdapUsersTable;
  logonTickets: LogonTicketsTable;
  launchCredentials: LaunchCredentialsTable;
  openpsmLinks: OpenpsmLinksTable;
  openpsmEndNotices: OpenpsmEndNoticesTable;
  accessLevels: AccessLevelsTable;
  accessLevelLinks: AccessLevelLinksTable;
  accessLevelMembers: AccessLevelMembersTable;
  secretJit: SecretJitTable;
  jitAccounts: JitAccountsTable;
  secretRotations: SecretRotationsTable;
  accountGroupLocks: AccountGroupLocksTable;
  accessPolicies: AccessPoliciesTable;
  accessRequests: AccessRequestsTable;
  accessApprovals: AccessApprovalsTable;
  accessGrants: AccessGrantsTable;
  personalVaults: PersonalVaultsTable;
  personalCredentials: PersonalCredentialsTable;
  personalLaunches: PersonalLaunchesTable;
  checkouts: CheckoutsTable;
  checkoutQueue: CheckoutQueueTable;
  webserviceTrusts: WebserviceTrustsTable;
  webserviceTokens: WebserviceTokensTable;
  launchers: LaunchersTable;
  tickets: TicketsTable;
  sessions: SessionsTable;
  sessionText: SessionTextTable;
  hostKeys: HostKeysTable;
  sshUserKeys: SshUserKeysTable;
  users: UsersTable;
  oidcProviders: OidcProvidersTable;
  oidcLinks: OidcLinksTable;
  oidcFlows: OidcFlowsTable;
  webauthnCredentials: WebauthnCredentialsTable;
  webauthnChallenges: WebauthnChallengesTable;
  groups: GroupsTable;
  groupMembers: GroupMembersTable;
  roles: RolesTable;
  roleAssignments: RoleAssignmentsTable;
  apiTokens: ApiTokensTable;
  oauthClients: OauthClientsTable;
  dataKeys: DataKeysTable;
  recordingKeys: RecordingKeysTable;
  folders: FoldersTable;
  templates: TemplatesTable;
  secrets: SecretsTable;
  secretAccounts: SecretAccountsTable;
  secretVersions: SecretVersionsTable;
  permissions: PermissionsTable;
  settings: SettingsTable;
  auditEvents: AuditEventsTable;
  auditCheckpoints: AuditCheckpointsTable;
  meta: MetaTable;
  recordingUploads: RecordingUploadsTable;
}

/** A recording being uploaded to S3-compatible storage (migration 021, recording-storage-s3.ts). */
export interface RecordingUploadsTable {
  rel: string;
  sessionId: string;
  node: string;
  uploadId: string;
  /** JSON: [{ n, etag, bytes }] — the parts sent, in order. */
  parts: string;
  dataKeyId: string | null;
  createdAt: number;
  updatedAt: number;
}

export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type Secret = Selectable<SecretsTable>;
export type Folder = Selectable<FoldersTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
export type Unused = Generated<never>;
