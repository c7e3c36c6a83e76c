import type { Kysely } from 'kysely';

// LDAP / Active Directory as a source of users and groups (issue 15 point 2,
// src/core/identity/directory-ldap):
// - ldap_directory: the one directory's settings (JSON: URL, TLS, bind DN and the vault secret
//   holding the bind password — a reference, never the password), and the last sync's outcome.
// - ldap_users: which Gatehouse users come from the directory (their DN), and whether a sync
//   disabled them (a sync re-enables only those it disabled itself, never one an administrator
//   disabled by hand). Removed with the user.
// It depends on no other migration but 001.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('ldap_directory')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('config', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('last_sync_at', 'bigint')
    .addColumn('last_sync_result', 'text')
    .execute();
  await db.schema
    .createTable('ldap_users')
    .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('dn', 'text', (c) => c.notNull())
    .addColumn('disabled_by_sync', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('ldap_users').execute();
  await db.schema.dropTable('ldap_directory').execute();
}
