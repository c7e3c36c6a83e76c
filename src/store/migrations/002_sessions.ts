import type { Kysely } from 'kysely';

// Launchers, single-use tickets, sessions with their recordings and text index,
// pinned target host keys, and SSH public keys registered by Gatehouse users.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('launchers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('child_type', 'text')
    .addColumn('gateway_host', 'text')
    .addColumn('gateway_port', 'integer')
    .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('builtin', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('record', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('record_keystrokes', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('idle_timeout_seconds', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('max_duration_seconds', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('allow_port_forwarding', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('options', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('tickets')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('secret_id', 'text', (c) => c.notNull())
    .addColumn('launcher_id', 'text', (c) => c.notNull())
    .addColumn('client_ip', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .addColumn('session_id', 'text')
    .execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('secret_id', 'text', (c) => c.notNull())
    .addColumn('secret_name', 'text', (c) => c.notNull())
    .addColumn('launcher_id', 'text', (c) => c.notNull())
    .addColumn('protocol', 'text', (c) => c.notNull())
    .addColumn('target_host', 'text', (c) => c.notNull())
    .addColumn('target_port', 'integer', (c) => c.notNull())
    .addColumn('target_user', 'text')
    .addColumn('client_ip', 'text')
    .addColumn('door', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('ended_at', 'bigint')
    .addColumn('end_reason', 'text')
    .addColumn('bytes_in', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('bytes_out', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('recording', 'text')
    .addColumn('recording_sha256', 'text')
    .addColumn('record_keystrokes', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('sessions_started').on('sessions').column('started_at').execute();

  await db.schema
    .createTable('session_text')
    .addColumn('session_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('at', 'real', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('session_text_pk', ['session_id', 'seq'])
    .execute();

  await db.schema
    .createTable('host_keys')
    .addColumn('secret_id', 'text', (c) => c.notNull())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('port', 'integer', (c) => c.notNull())
    .addColumn('key_type', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('first_seen', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('host_keys_pk', ['secret_id'])
    .execute();

  await db.schema
    .createTable('ssh_user_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('key_type', 'text', (c) => c.notNull())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ['ssh_user_keys', 'host_keys', 'session_text', 'sessions', 'tickets', 'launchers']) await db.schema.dropTable(t).ifExists().execute();
}
