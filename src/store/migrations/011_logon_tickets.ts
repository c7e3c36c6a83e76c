import type { Kysely } from 'kysely';

// TSplus-compatible logon tickets (seed 004, src/core/logon-tickets) and the transient
// credential a launch ticket may carry in place of its secret's (src/core/launch/transient.ts).
// - logon_tickets: a single-use logon ticket (kept only as a hash) with the Windows credential
//   it was asked with, sealed under its own data key; the seal and the data key are wiped when
//   the ticket is used or expires (only the row's facts stay, for the audit trail's sake).
// - launch_credentials: a credential bound to one launch ticket (by ticket id), sealed under its
//   own data key; taken (deleted) when the ticket is redeemed, swept when it expires.
// In the database rather than in memory so any node can redeem. No foreign keys.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('logon_tickets')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('server', 'text', (c) => c.notNull())
    .addColumn('win_user', 'text', (c) => c.notNull())
    .addColumn('data_key_id', 'text')
    .addColumn('credential_sealed', 'text')
    .addColumn('requested_from', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .addColumn('launch_ticket_id', 'text')
    .execute();
  await db.schema
    .createTable('launch_credentials')
    .addColumn('ticket_id', 'text', (c) => c.primaryKey())
    .addColumn('data_key_id', 'text', (c) => c.notNull())
    .addColumn('credential_sealed', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('launch_credentials').execute();
  await db.schema.dropTable('logon_tickets').execute();
}
