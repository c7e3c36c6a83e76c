import type { Kysely } from 'kysely';

// Shared control (issue 14 point 6): a line of the typed-text index names who typed it once
// someone has joined the session (their input is attributed); null for lines before that and
// for sessions nobody joined. It depends on no other migration but 002.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('session_text').addColumn('typed_by', 'text').execute();
}
