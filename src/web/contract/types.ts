// Named TypeScript types of the API's objects, each derived from its schema (never written
// by hand): what the portal and the CLI import.
import type { Model, Ok } from './route.js';
import type { auditEventSchema, exportedCheckpointSchema, recordingCheckSchema, verifyResultSchema, audit } from './audit.js';
import type { groupSchema, meSchema, roleSchema, tokenSchema, userSchema, directory, PERMISSION_NAMES, SCOPE_NAMES } from './identity.js';
import type { ACCESS_LEVELS, aclSchema, fieldDefSchema, FIELD_TYPES, folderSchema, revealedSchema, secretSchema, templateSchema } from './vault.js';
import type { hostKeySchema, launcherSchema, launchSchema, PROTOCOLS, RECORDING_FORMATS, searchHitSchema, sessionSchema, sshKeySchema, textLineSchema } from './sessions.js';
import type { healthSchema, system } from './system.js';
import type { personalCredentialSchema, vaultStatusSchema } from './personal.js';
import type { errorSchema, page } from './schema.js';
import type { accessRequestSchema, policySchema } from './access.js';
import type { accessLevelSchema, usableLevelSchema } from './access-levels.js';
import type { joinSchema } from './sharing.js';
import type { accountSchema, heartbeatResultSchema, revealedVersionSchema, rotationResultSchema, versionSchema } from './accounts.js';

export type Permission = (typeof PERMISSION_NAMES)[number];
export type Scope = (typeof SCOPE_NAMES)[number];
export type AccessLevel = (typeof ACCESS_LEVELS)[number];
export type FieldType = (typeof FIELD_TYPES)[number];
export type Protocol = (typeof PROTOCOLS)[number];
export type RecordingFormat = (typeof RECORDING_FORMATS)[number];

/** One page of a list answer. */
export type Page<T> = Omit<Model<ReturnType<typeof page<{ type: 'object' }>>>, 'items'> & { items: T[] };

export type User = Model<typeof userSchema>;
export type Me = Model<typeof meSchema>;
export type Token = Model<typeof tokenSchema>;
export type Group = Model<typeof groupSchema>;
export type Role = Model<typeof roleSchema>;
export type RolePage = Ok<typeof directory.listRoles>;
export type Ref = User['roles'][number];

export type Folder = Model<typeof folderSchema>;
export type Acl = Model<typeof aclSchema>;
export type AclEntry = Acl['entries'][number];
export type FieldDef = Model<typeof fieldDefSchema>;
export type Template = Model<typeof templateSchema>;
export type Secret = Model<typeof secretSchema>;
export type RevealedSecret = Model<typeof revealedSchema>;
export type SecretAccount = Model<typeof accountSchema>;
export type SecretVersion = Model<typeof versionSchema>;
export type RevealedVersion = Model<typeof revealedVersionSchema>;
export type RotationResult = Model<typeof rotationResultSchema>;
export type HeartbeatResult = Model<typeof heartbeatResultSchema>;

export type Launcher = Model<typeof launcherSchema>;
export type LauncherOptions = Launcher['options'];
export type LaunchResponse = Model<typeof launchSchema>;
export type Session = Model<typeof sessionSchema>;
export type TextLine = Model<typeof textLineSchema>;
/** Shared control: one person's way into one live session. */
export type Join = Model<typeof joinSchema>;
export type SearchHit = Model<typeof searchHitSchema>;
export type SshKey = Model<typeof sshKeySchema>;
export type HostKey = Model<typeof hostKeySchema>;

export type AuditEvent = Model<typeof auditEventSchema>;
export type VerifyResult = Model<typeof verifyResultSchema>;
export type ExportedCheckpoint = Model<typeof exportedCheckpointSchema>;
export type RecordingCheck = Model<typeof recordingCheckSchema>;
export type RecordingVerifyResponse = Ok<typeof audit.verifyRecordings>;

export type PersonalCredential = Model<typeof personalCredentialSchema>;
export type VaultStatus = Model<typeof vaultStatusSchema>;

export type Health = Model<typeof healthSchema>;
export type SettingsResponse = Ok<typeof system.settings>;
export type RotateMasterKeyResponse = Ok<typeof system.rotateMasterKey>;

export type ErrorBody = Model<typeof errorSchema>;

export type AccessPolicy = Model<typeof policySchema>;
export type AccessRequest = Model<typeof accessRequestSchema>;
/** An access level of issue 12 (target groups for a session); not the ACL level `AccessLevel`. */
export type TargetAccessLevel = Model<typeof accessLevelSchema>;
export type UsableAccessLevel = Model<typeof usableLevelSchema>;
