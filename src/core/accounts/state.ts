// What Gatehouse keeps about a secret's account on its target (table secret_accounts): the
// management link, rotation and heartbeat settings, and the last results. Read for every
// secret view; written by the account settings (PATCH /secrets/:id), rotation and heartbeat.
import type { Db } from '../../store/db.js';
import type { SecretAccountsTable } from '../../store/schema.js';
import { now } from '../util.js';
import type { TargetKind } from './operator.js';

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
}

export type AccountRow = SecretAccountsTable;

export async function accountRow(db: Db, secretId: string): Promise<AccountRow | undefined> {
  return db.selectFrom('secretAccounts').selectAll().where('secretId', '=', secretId).executeTakeFirst();
}

/** The kind in force: the secret's own, else its template's. */
export const effectiveKind = (row: AccountRow | undefined, templateKind: TargetKind | null): TargetKind | null => (row?.targetKind as TargetKind | null | undefined) ?? templateKind;

export function accountView(row: AccountRow | undefined, templateKind: TargetKind | null, versions: number): AccountView {
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
  };
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
