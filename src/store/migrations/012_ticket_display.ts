import type { Kysely } from 'kysely';

// Display and keyboard settings chosen at launch (issue 14: width, height, DPI, keyboard
// layout) ride on the ticket to the door that redeems it, on whichever node: a nullable
// JSON text column on tickets. No foreign keys: it may land in any order after 001.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tickets').addColumn('display', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tickets').dropColumn('display').execute();
}
