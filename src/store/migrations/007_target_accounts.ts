import type { Kysely } from 'kysely';

// Target accounts (issue 12): how Gatehouse manages the account a secret holds on its target
// (management link, rotation and heartbeat settings and their last results) and the earlier
// field sets of a secret (versions). Independent of 004-006: it only adds its own tables.
// Password rules and the target kind of a template live in the template's JSON definition.
export async function up(db: Kysely<unknown>): Promise<void> {
  // One row per secret Gatehouse manages on its target (absent: an unmanaged secret).
  await db.schema
    .createTable('secret_accounts')
    .addColumn('secret_id', 'text', (c) => c.primaryKey().references('secrets.id').onDelete('cascade'))
    // The privileged secret account operations run through (null: the account changes itself).
    .addColumn('management_secret_id', 'text')
    // 'linux' | 'ldap'; null: the template's.
    .addColumn('target_kind', 'text')
    .addColumn('rotate_after_use', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('heartbeat', 'integer', (c) => c.notNull().defaultTo(0))
    // null: the heartbeatIntervalHours setting.
    .addColumn('heartbeat_interval_hours', 'integer')
    // Last heartbeat: 'ok' | 'drift' | 'unreachable' (null: never), a one-line reason, when.
    .addColumn('heartbeat_status', 'text')
    .addColumn('heartbeat_message', 'text')
    .addColumn('heartbeat_at', 'bigint')
    // Last rotation: 'ok' | 'failed' (null: never), a one-line reason, when.
    .addColumn('rotation_status', 'text')
    .addColumn('rotation_message', 'text')
    .addColumn('rotation_at', 'bigint')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('secret_accounts_management').on('secret_accounts').column('management_secret_id').execute();

  // A secret's earlier field sets, sealed under the secret's own data key (bound to the
  // version by the AAD), with who replaced them, when and why ('rotation', 'update').
  await db.schema
    .createTable('secret_versions')
    .addColumn('secret_id', 'text', (c) => c.notNull().references('secrets.id').onDelete('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('public_fields', 'text', (c) => c.notNull())
    .addColumn('fields_enc', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('replaced_by', 'text')
    .addColumn('replaced_by_name', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('secret_versions_pk', ['secret_id', 'version'])
    .execute();
}
