import type { Kysely } from 'kysely';

// The sessions by status and node: every node asks for the live ones every heartbeat (the
// dead nodes with live sessions, core/cluster/registry.ts), at start-up (recovery), and when
// deciding for the whole cluster whether a person or a credential still has a session
// (Sessions.liveAnywhere: a forced check-in, an LDAP disable, a checkout carried on, rotation).
// Without it each of those read the whole table, which keeps every session ever held; with it,
// the few live rows. (Not a partial index on status = 'live': SQLite does not use one for a
// bound parameter, and the queries bind their values.) It may land in any order after 003.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('sessions_status_node').on('sessions').columns(['status', 'node']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('sessions_status_node').execute();
}
