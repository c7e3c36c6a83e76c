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
  recoveryCodes: string | null;
  createdAt: number;
  updatedAt: number;
  lastLoginAt: number | null;
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

export interface FoldersTable {
  id: string;
  name: string;
  parentId: string | null;
  inheritPermissions: Flag;
  createdAt: number;
  updatedAt: number;
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

export interface Database {
  users: UsersTable;
  groups: GroupsTable;
  groupMembers: GroupMembersTable;
  roles: RolesTable;
  roleAssignments: RoleAssignmentsTable;
  apiTokens: ApiTokensTable;
  oauthClients: OauthClientsTable;
  dataKeys: DataKeysTable;
  folders: FoldersTable;
  templates: TemplatesTable;
  secrets: SecretsTable;
  permissions: PermissionsTable;
  settings: SettingsTable;
  auditEvents: AuditEventsTable;
  auditCheckpoints: AuditCheckpointsTable;
  meta: MetaTable;
}

export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type Secret = Selectable<SecretsTable>;
export type Folder = Selectable<FoldersTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
export type Unused = Generated<never>;
