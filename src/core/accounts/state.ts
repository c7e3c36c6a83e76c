// What Gatehouse keeps about a secret's account on its target (table secret_accounts): the
// management link, rotation and heartbeat settings, and the last results. Read for every
// secret view; written by the account settings (PATCH /secrets/:id), rotation and heartbeat.
import type { Db } from '../../store/db.js';
import { prepare, type SlotOf } from '../../store/prepared.js';
import type { SecretAccountsTable, SecretJitTable } from '../../store/schema.js';
import { now } from '../util.js';
import type { TargetKind } from './operator.js';

// Read at every session end (rotation after use; prepared once: store/prepared.ts).
const accountBySecret = prepare((db, slot: SlotOf<{ secretId: string }>) => db.selectFrom('secretAccounts').selectAll().where('secretId', '=', slot('secretId')));

export type HeartbeatStatus = 'ok' | 'drift' | 'unreachable';
export type RotationStatus = 'ok' | 'failed';

export interface AccountView {
  targetKind: TargetKind | null;
  managementSecretId: string | null;
  rotateAfterUse: boolean;
  heartbeat: boolean;
  heartbeatIntervalHours: number | null;
  lastHeartbeat: { status: HeartbeatStatus; message: string | null; at: string } | null;
  lastRotation: { status: RotationStatus; message: string | null; at: string } | null;
  versions: number;
  /** Just-in-time accounts for launches of this secret (issue 12, point 4). */
  jit: JitSettings;
}

export interface JitSettings {
  enabled: boolean;
  endAction: 'remove' | 'disable';
  connectionDelaySeconds: number;
  namePrefix: string;
}
export const DEFAULT_JIT: JitSettings = { enabled: false, endAction: 'remove', connectionDelaySeconds: 0, namePrefix: 'gh-jit-' };
/** A JIT name prefix: lower case, as useradd's default NAME_REGEX wants; a random suffix follows. */
export const JIT_PREFIX = /^[a-z_][a-z0-9_-]{0,19}$/;

export type AccountRow = SecretAccountsTable;

export async function accountRow(db: Db, secretId: string): Promise<AccountRow | undefined> {
  return accountBySecret.first(db, { secretId });
}

/** The kind in force: the secret's own, else its template's. */
export const effectiveKind = (row: AccountRow | undefined, templateKind: TargetKind | null): TargetKind | null => (row?.targetKind as TargetKind | null | undefined) ?? templateKind;

export function accountView(row: AccountRow | undefined, templateKind: TargetKind | null, versions: number, jit?: SecretJitTable): AccountView {
  const iso = (t: number | null) => new Date(t ?? 0).toISOString();
  return {
    targetKind: effectiveKind(row, templateKind),
    managementSecretId: row?.managementSecretId ?? null,
    rotateAfterUse: !!row?.rotateAfterUse,
    heartbeat: !!row?.heartbeat,
    heartbeatIntervalHours: row?.heartbeatIntervalHours ?? null,
    lastHeartbeat: row?.heartbeatStatus ? { status: row.heartbeatStatus as HeartbeatStatus, message: row.heartbeatMessage, at: iso(row.heartbeatAt) } : null,
    lastRotation: row?.rotationStatus ? { status: row.rotationStatus as RotationStatus, message: row.rotationMessage, at: iso(row.rotationAt) } : null,
    versions,
    jit: jit ? { enabled: !!jit.enabled, endAction: jit.endAction, connectionDelaySeconds: jit.connectionDelaySeconds, namePrefix: jit.namePrefix } : { ...DEFAULT_JIT },
  };
}

export async function jitRow(db: Db, secretId: string): Promise<SecretJitTable | undefined> {
  return db.selectFrom('secretJit').selectAll().where('secretId', '=', secretId).executeTakeFirst();
}

/** Writes a secret's JIT settings, creating the row when missing. */
export async function upsertJit(db: Db, secretId: string, set: Partial<Omit<SecretJitTable, 'secretId' | 'updatedAt'>>): Promise<void> {
  const cur = await jitRow(db, secretId);
  const t = now();
  if (cur) await db.updateTable('secretJit').set({ ...set, updatedAt: t }).where('secretId', '=', secretId).execute();
  else await db.insertInto('secretJit').values({ secretId, enabled: 0, endAction: 'remove', connectionDelaySeconds: 0, namePrefix: 'gh-jit-', ...set, updatedAt: t }).execute();
}

/** Writes some columns of a secret's row, creating it when missing. */
export async function upsertAccount(db: Db, secretId: string, set: Partial<Omit<AccountRow, 'secretId' | 'updatedAt'>>): Promise<void> {
  const t = now();
  const values: AccountRow = {
    secretId,
    managementSecretId: null,
    targetKind: null,
    rotateAfterUse: 0,
    heartbeat: 0,
    heartbeatIntervalHours: null,
    heartbeatStatus: null,
    heartbeatMessage: null,
    heartbeatAt: null,
    rotationStatus: null,
    rotationMessage: null,
    rotationAt: null,
    ...set,
    updatedAt: t,
  };
  await db
    .insertInto('secretAccounts')
    .values(values)
    .onConflict((oc) => oc.column('secretId').doUpdateSet({ ...set, updatedAt: t }))
    .execute();
}
