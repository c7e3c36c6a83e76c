// Shapes of the Gatehouse API answers the portal uses (see docs/api.md and /api/openapi.json).

export type Permission =
  | 'administer'
  | 'manage_templates'
  | 'manage_secrets'
  | 'all_secrets'
  | 'launch'
  | 'view_recordings'
  | 'audit'
  | 'manage_sessions';

export type AccessLevel = 'list' | 'view' | 'edit' | 'owner';
export const LEVELS: AccessLevel[] = ['list', 'view', 'edit', 'owner'];

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface Ref {
  id: string;
  name: string;
}

export interface User {
  id: string;
  username: string;
  displayName: string;
  email: string | null;
  isApplication: boolean;
  enabled: boolean;
  locked: boolean;
  totpEnabled: boolean;
  roles: Ref[];
  groups: Ref[];
  createdAt: string;
  lastLoginAt: string | null;
}

export interface Me extends User {
  permissions: Permission[];
  scopes: string[] | null;
}

export interface Group {
  id: string;
  name: string;
  description: string;
  members: { id: string; username: string }[];
  roles: Ref[];
}

export interface Role {
  id: string;
  name: string;
  description: string;
  permissions: Permission[];
  builtin: boolean;
}

export type RolePage = Page<Role> & { permissions: Record<Permission, string> };

export interface Folder {
  id: string;
  name: string;
  parentId: string | null;
  inheritPermissions: boolean;
  access: AccessLevel;
  createdAt: string;
}

export type FieldType = 'text' | 'password' | 'key' | 'number' | 'notes';

export interface FieldDef {
  name: string;
  label: string;
  type: FieldType;
  secret: boolean;
  required: boolean;
  default?: string | number;
}

export interface Template {
  id: string;
  name: string;
  builtin: boolean;
  fields: FieldDef[];
  machineField: string | null;
  domainField: string | null;
  usernameField: string | null;
  launchers: string[];
}

export interface Secret {
  id: string;
  name: string;
  template: Ref;
  folderId: string | null;
  fields: Record<string, string | number>;
  secretFields: string[];
  machine: string | null;
  domain: string | null;
  username: string | null;
  inheritPermissions: boolean;
  access: AccessLevel;
  createdAt: string;
  updatedAt: string;
}

export interface AclEntry {
  principalType: 'user' | 'group';
  principalId: string;
  level: AccessLevel;
}

export interface Acl {
  inheritPermissions: boolean;
  entries: AclEntry[];
}

export type Protocol = 'ssh' | 'telnet' | 'rdp';

export interface LauncherOptions {
  consentText?: string;
  telnetLoginPrompt?: string;
  telnetPasswordPrompt?: string;
  telnetFailurePattern?: string;
  /** RDP redirection: false denies (left out = allowed). */
  rdpClipboard?: boolean;
  rdpDrives?: boolean;
  rdpPrinters?: boolean;
}

export interface Launcher {
  id: string;
  name: string;
  type: Protocol | 'session-connector';
  protocol: Protocol;
  childType: Protocol | null;
  gatewayHost: string | null;
  gatewayPort: number | null;
  active: boolean;
  builtin: boolean;
  record: boolean;
  recordKeystrokes: boolean;
  idleTimeoutSeconds: number;
  maxDurationSeconds: number;
  allowPortForwarding: boolean;
  options: LauncherOptions;
}

export interface LaunchResponse {
  ticket: string;
  expiresAt: string;
  launcher: { id: string; name: string; protocol: Protocol };
  ssh?: { host: string; port: number; username: string; command: string; knownHosts: string[] };
  rdpFile?: string;
  consent?: { required: boolean; text: string };
}

export interface Session {
  id: string;
  user: { id: string; username: string };
  secret: { id: string; name: string };
  launcher: string;
  protocol: string;
  target: { host: string; port: number; username: string | null };
  clientIp: string | null;
  door: string;
  status: 'live' | 'ended';
  startedAt: string;
  endedAt: string | null;
  endReason: string | null;
  bytesIn: number;
  bytesOut: number;
  /** format: asciicast (terminal) or ghrec-rdp (graphical, played by the RDP player). */
  recording: { available: boolean; sha256: string | null; keystrokes: boolean; format?: 'asciicast' | 'ghrec-rdp' | null };
}

export interface TextLine {
  at: number;
  kind: string;
  text: string;
}

export type SearchHit = Session & { matches: TextLine[] };

export interface SshKey {
  id: string;
  name: string;
  keyType: string;
  fingerprint: string;
  createdAt: string;
}

export interface AuditEvent {
  seq: number;
  ts: string;
  actorId: string | null;
  actorName: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  outcome: 'success' | 'failure';
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface VerifyResult {
  ok: boolean;
  count: number;
  brokenAt?: number;
  reason?: string;
  message?: string;
  checkpoints: number;
  lastCheckpointSeq?: number;
}

export interface SettingsResponse {
  values: Record<string, string | number | boolean>;
  definitions: Record<string, { default: string | number | boolean; description: string }>;
}
