import type { Kysely } from 'kysely';

// Gateway nodes sharing one database (issue 16 point 1, src/core/cluster):
// - cluster_nodes: every node that ever started on this database, by its node id (node-id.ts):
//   the address its peers reach it at for forwarded calls (null when it runs without a peer
//   listener), its last heartbeat, its load (live sessions) and whether it stopped cleanly.
//   A node whose heartbeat is older than the dead timeout is dead: its live sessions are
//   ended as interrupted by whichever node sees it first.
// - cluster_identity: what every node of a cluster presents and signs with, made once by the
//   first node (SSH host keys, TLS certificate, audit signing key, logon-ticket RSA key, the
//   peer certificate): each value sealed under its own data key (the master key wraps it, so
//   every node needs the same master key). `version` rises when a value is replaced (rotation,
//   renewal), so nodes holding an older copy know to reload it.
// It depends on no other migration but 001 (data_keys).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('cluster_nodes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('address', 'text')
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
    .addColumn('load', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('status', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('cluster_identity')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('data_key_id', 'text', (c) => c.notNull())
    .addColumn('sealed', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('cluster_identity').execute();
  await db.schema.dropTable('cluster_nodes').execute();
}
