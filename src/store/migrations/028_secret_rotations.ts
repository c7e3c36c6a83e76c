import type { Kysely } from 'kysely';

// A rotation under way (core/accounts/rotation.ts): written before the target's password is
// changed, with the new password sealed under the secret's own data key, and deleted once the
// outcome is stored. A process that dies between the change and the store (or a change whose
// outcome nobody could tell) leaves the row, and a sweeper finds which password the target
// holds instead of losing the new one. The row is also the cluster-wide lock: one rotation of
// a secret at a time on all nodes (lease_node, lease_until as jit_accounts' in 025).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('secret_rotations')
    .addColumn('secret_id', 'text', (c) => c.primaryKey().references('secrets.id').onDelete('cascade'))
    // 'manual' | 'session_end' | 'checkin' | 'retrieve'
    .addColumn('trigger', 'text', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    // The new password, sealed with the secret's data key (AAD "rotation:<secret id>").
    .addColumn('pending_enc', 'text', (c) => c.notNull())
    .addColumn('lease_node', 'text')
    .addColumn('lease_until', 'bigint', (c) => c.notNull().defaultTo(0))
    // Why the last attempt to settle it did not (one line; null: none yet).
    .addColumn('message', 'text')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('secret_rotations').execute();
}
