import type { Kysely } from 'kysely';

// Request ids that follow a launch through the doors (issue 16 point 5): the id of the API
// request that launched a ticket rides on the ticket to the door that redeems it, on
// whichever node, so the door's and the core's log lines about the session carry the same
// `reqId` as the launch request's. A nullable text column on tickets; no foreign keys, so it
// may land in any order after 001.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tickets').addColumn('launch_request_id', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tickets').dropColumn('launch_request_id').execute();
}
