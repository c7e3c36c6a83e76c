import type { Kysely } from 'kysely';

// The gateway node a session runs on, so that a node restarting after a crash recovers its
// own interrupted sessions and leaves the live ones of other nodes alone. Rows from before
// have none (null).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sessions').addColumn('node', 'text').execute();
}
