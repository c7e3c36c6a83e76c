// Named role permissions and the built-in roles. Access to individual secrets and
// folders is governed separately by their ACLs (list/view/edit/owner).
export const PERMISSIONS = {
  administer: 'Manage users, groups, roles, application accounts and settings',
  manage_templates: 'Create and change secret templates and launchers',
  manage_secrets: 'Create secrets and folders (the creator becomes owner)',
  all_secrets: 'Unlimited administration: owner rights on every secret and folder',
  launch: 'Launch sessions on secrets the user can view',
  view_recordings: 'List, search and replay session recordings',
  audit: 'Read, export and verify the audit trail',
  manage_sessions: 'Watch live sessions and terminate them',
  webservices_impersonate: 'Web Services Impersonate: list and retrieve credentials on behalf of a user through the credential-provider API (an Endpoint Credential Manager)',
  join_sessions: "Ask to join someone's live SSH/Telnet session (shared control; the owner accepts or declines, the launcher must allow join requests)",
} as const;

export type Permission = keyof typeof PERMISSIONS;
export const PERMISSION_NAMES = Object.keys(PERMISSIONS) as Permission[];

export const isPermission = (p: string): p is Permission => p in PERMISSIONS;

export interface BuiltinRole {
  id: string;
  name: string;
  description: string;
  permissions: Permission[];
}

export const BUILTIN_ROLES: BuiltinRole[] = [
  { id: 'administrator', name: 'Administrator', description: 'Everything, including every secret', permissions: [...PERMISSION_NAMES] },
  { id: 'user', name: 'User', description: 'Create own secrets and launch sessions on shared ones', permissions: ['manage_secrets', 'launch'] },
  { id: 'auditor', name: 'Auditor', description: 'Audit trail, recordings and live sessions; no secret values', permissions: ['audit', 'view_recordings', 'manage_sessions', 'join_sessions'] },
  { id: 'application', name: 'Application', description: 'API-only accounts (gateways, integrations); access comes from secret sharing', permissions: [] },
];

/** Token scopes restrict what a token may do on top of its owner's permissions. */
export const SCOPES = {
  read: 'GET requests',
  write: 'changes (create, update, delete)',
  reveal: 'read secret values',
  launch: 'launch sessions',
  admin: 'administration routes (users, groups, roles, settings, key rotation)',
  audit: 'audit trail',
} as const;
export type Scope = keyof typeof SCOPES;
export const SCOPE_NAMES = Object.keys(SCOPES) as Scope[];
