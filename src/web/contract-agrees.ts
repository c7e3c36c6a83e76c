// Compile-time checks that the contract's vocabularies are the core's own: a permission,
// scope, access level, field type, protocol, setting or status added on one side only fails
// the type check here (the contract states them as data because it imports nothing).
import type { BreakReason } from '../core/audit/chain.js';
import type { CHECKPOINT_FORMAT as CORE_CHECKPOINT_FORMAT } from '../core/audit/pinning.js';
import type { Permission as CorePermission, Scope as CoreScope } from '../core/identity/permissions.js';
import type { Protocol as CoreProtocol } from '../core/launch/launchers.js';
import type { SettingName } from '../core/settings.js';
import type { RecordingStatus } from '../core/sessions/recording-seals.js';
import type { RecordingFormat as CoreRecordingFormat } from '../core/sessions/service.js';
import type { MAX_KEY_FIELD as CORE_MAX_KEY_FIELD, FieldType as CoreFieldType } from '../core/vault/templates.js';
import type { RESET_CONFIRMATION } from '../core/vault/personal.js';
import type { SINK_KINDS } from '../core/audit/streaming/config.js';
import type { AccessLevel as CoreAccessLevel, LauncherType } from '../store/schema.js';
import type { AccessLevel, FieldType, Permission, Protocol, RecordingFormat, Scope } from './contract/types.js';
import type { BREAK_REASONS, CHECKPOINT_FORMAT, LAUNCHER_TYPES, MAX_KEY_FIELD, RECORDING_STATUSES, SETTING_NAMES, PERSONAL_PROTOCOLS, PERSONAL_RESET_CONFIRMATION, AUDIT_SINK_KINDS } from './contract/index.js';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;

export type ContractAgreesWithCore = [
  Assert<Same<Permission, CorePermission>>,
  Assert<Same<Scope, CoreScope>>,
  Assert<Same<AccessLevel, CoreAccessLevel>>,
  Assert<Same<FieldType, CoreFieldType>>,
  Assert<Same<Protocol, CoreProtocol>>,
  Assert<Same<(typeof LAUNCHER_TYPES)[number], LauncherType>>,
  Assert<Same<RecordingFormat, CoreRecordingFormat>>,
  Assert<Same<(typeof RECORDING_STATUSES)[number], RecordingStatus>>,
  Assert<Same<(typeof BREAK_REASONS)[number], BreakReason>>,
  Assert<Same<(typeof SETTING_NAMES)[number], SettingName>>,
  Assert<Same<typeof MAX_KEY_FIELD, typeof CORE_MAX_KEY_FIELD>>,
  Assert<Same<typeof CHECKPOINT_FORMAT, typeof CORE_CHECKPOINT_FORMAT>>,
  Assert<Same<(typeof PERSONAL_PROTOCOLS)[number], CoreProtocol>>,
  Assert<Same<typeof PERSONAL_RESET_CONFIRMATION, typeof RESET_CONFIRMATION>>,
  Assert<Same<(typeof AUDIT_SINK_KINDS)[number], (typeof SINK_KINDS)[number]>>,
];
