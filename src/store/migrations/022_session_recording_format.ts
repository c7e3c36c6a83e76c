import type { Kysely } from 'kysely';

// The format a session is recorded in, written when it starts (issue 16 point 1): while it is
// live, the node it runs on knows its recording file, but every other node of a cluster knew
// only that it had none yet, so listed there a recorded live session read as unrecorded. Null
// for a session that is not recorded, and for rows written before this column (they read as
// before). A nullable text column on sessions; it may land in any order after 002.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sessions').addColumn('recording_format', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sessions').dropColumn('recording_format').execute();
}
