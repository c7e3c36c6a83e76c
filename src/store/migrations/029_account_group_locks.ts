import type { Kysely } from 'kysely';

// One change of an account's group memberships at a time (core/accounts/group-locks.ts): an
// access level's grant decides which groups the account was in already (its own standing
// memberships, never taken away) and an undo decides which groups no other grant still holds;
// each decision holds only while no other grant or undo on the same account runs between its
// look and its change, on any node of the cluster. A row per account being changed now, with
// the node holding it and a lease that runs out (a node that dies holding it).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('account_group_locks')
    .addColumn('secret_id', 'text', (c) => c.notNull())
    .addColumn('account_name', 'text', (c) => c.notNull())
    .addColumn('lease_node', 'text', (c) => c.notNull())
    .addColumn('lease_until', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('account_group_locks_pk', ['secret_id', 'account_name'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('account_group_locks').execute();
}
