import type { Kysely } from 'kysely';

// Recording retention (issue 16 point 4, src/core/sessions/retention.ts):
// - recording_retention: keep recordings N days after their session ended, for every
//   session ('global', scope_id ''), a folder's secrets (its subfolders too) or a launcher.
//   Where several apply the longest wins. No policy: kept for ever.
// - recording_holds: a legal hold on one session: its recording is deleted by no policy
//   until the hold is released.
// It depends on no other migration but 002.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('recording_retention')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('scope_id', 'text', (c) => c.notNull())
    .addColumn('keep_days', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('recording_retention_scope', ['scope', 'scope_id'])
    .execute();
  await db.schema
    .createTable('recording_holds')
    .addColumn('session_id', 'text', (c) => c.primaryKey().references('sessions.id').onDelete('cascade'))
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('recording_holds').execute();
  await db.schema.dropTable('recording_retention').execute();
}
