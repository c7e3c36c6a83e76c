import type { Kysely } from 'kysely';

// Which node is working on a JIT account or access level row (core/accounts/jit.ts): the node
// preparing it (until its session has started) or undoing it. The nodes of a cluster share
// jit_accounts, and each node's sweeper looked only at its own process: another node's sweeper
// removed an account still being prepared (its session not yet in the table, during the
// connection delay), and two nodes undid one row together (the second removal failing, or a
// level's groups taken twice). A node takes a row with one conditional update; the lease runs
// out, so a node that dies holding one leaves it to the others' sweepers. Two columns on
// jit_accounts, as audit_sinks' lease_node/lease_until (017); it may land in any order after 008.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jit_accounts').addColumn('lease_node', 'text').execute();
  await db.schema.alterTable('jit_accounts').addColumn('lease_until', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jit_accounts').dropColumn('lease_until').execute();
  await db.schema.alterTable('jit_accounts').dropColumn('lease_node').execute();
}
