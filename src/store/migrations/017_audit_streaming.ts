import type { Kysely } from 'kysely';

// Audit streaming (issue 16 point 6, src/core/audit/streaming): where audit events are pushed
// (syslog over TCP/TLS, a webhook) and how far each sink got.
// - audit_sinks: one row per sink. `config` is JSON (host, port, TLS, URL, batch size, backoff);
//   what must stay secret (the webhook's HMAC key, the CA and client key a TLS sink trusts and
//   presents) is one JSON object sealed under the sink's own data key, never answered.
//   The outbox is the audit chain itself: `cursor` is the seq of the last event the receiver
//   acknowledged (advanced only after delivery), so nothing is lost across a restart and
//   delivery resumes in chain order. `checkpoint_cursor`: the seq of the last signed checkpoint
//   sent (each goes after the event it signs), so the SIEM holds anchors for its copy. `attempts`/`next_attempt_at` keep the retry backoff across
//   restarts. `lease_node`/`lease_until`: the one node of a cluster that delivers this sink.
// No foreign keys (like the other late migrations).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('audit_sinks')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('config', 'text', (c) => c.notNull())
    .addColumn('secret_data_key_id', 'text')
    .addColumn('secret_sealed', 'text')
    .addColumn('cursor', 'bigint', (c) => c.notNull())
    .addColumn('checkpoint_cursor', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('delivered', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('last_delivered_at', 'bigint')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .addColumn('last_error_at', 'bigint')
    .addColumn('lease_node', 'text')
    .addColumn('lease_until', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('audit_sinks').execute();
}
