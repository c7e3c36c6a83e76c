import type { Kysely } from 'kysely';

// The OpenPSM start flow (seed 003, src/core/openpsm). Two sides, each its own table:
// - openpsm_links (IAM side): a /start redirect this node issued for one of its secrets. Its id
//   is the LoginSessionID, its token (kept only as a hash) the ApiKey the gateway presents on
//   getcredential and endsession; the session UUID is set by the first getcredential.
// - openpsm_end_notices (gateway side): endsession calls still owed to an IAM, so they survive
//   a restart; the ApiKey is kept sealed under a data key, never in plaintext.
// No foreign keys: this migration stands on its own and may land in any order after 006.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('openpsm_links')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('secret_id', 'text')
    .addColumn('personal_credential_id', 'text')
    .addColumn('mode', 'text', (c) => c.notNull())
    .addColumn('checkout_id', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('session_uuid', 'text')
    .addColumn('fetched_at', 'bigint')
    .addColumn('ended_at', 'bigint')
    .execute();

  await db.schema
    .createTable('openpsm_end_notices')
    .addColumn('session_uuid', 'text', (c) => c.primaryKey())
    .addColumn('api_url', 'text', (c) => c.notNull())
    .addColumn('login_session_id', 'text', (c) => c.notNull())
    .addColumn('credential_id', 'text', (c) => c.notNull())
    .addColumn('computer_id', 'text', (c) => c.notNull())
    .addColumn('data_key_id', 'text', (c) => c.notNull())
    .addColumn('api_key_sealed', 'text', (c) => c.notNull())
    .addColumn('app_key', 'text', (c) => c.notNull())
    .addColumn('gateway_session_id', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('unauthorized', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_at', 'bigint', (c) => c.notNull())
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    // Null while owed; then delivered or abandoned.
    .addColumn('outcome', 'text')
    .addColumn('done_at', 'bigint')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('openpsm_end_notices').execute();
  await db.schema.dropTable('openpsm_links').execute();
}
