import type { Kysely } from 'kysely';

// The credential-provider API for an Endpoint Credential Manager (src/core/webservices):
// delegated trust (an application account may act for a person once that person approved
// it) and the token cache (per application and person, sealed with a data key, with an
// expiry). No foreign keys: this migration stands on its own and may land in any order
// with the other issue 12/13 migrations.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('webservice_trusts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('application_id', 'text', (c) => c.notNull())
    .addColumn('application_name', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    // pending (asked, not answered), approved, denied, revoked
    .addColumn('status', 'text', (c) => c.notNull())
    // The endpoint of the first request, shown to the person deciding.
    .addColumn('endpoint', 'text')
    .addColumn('requested_at', 'bigint', (c) => c.notNull())
    .addColumn('decided_at', 'bigint')
    .addColumn('last_used_at', 'bigint')
    .execute();
  await db.schema.createIndex('webservice_trusts_pair').on('webservice_trusts').columns(['application_id', 'user_id']).unique().execute();
  await db.schema.createIndex('webservice_trusts_user').on('webservice_trusts').column('user_id').execute();

  await db.schema
    .createTable('webservice_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('application_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('data_key_id', 'text', (c) => c.notNull())
    // The impersonation token, sealed (AES-GCM under the data key); never stored in plaintext.
    .addColumn('token_enc', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('webservice_tokens_pair').on('webservice_tokens').columns(['application_id', 'user_id']).unique().execute();
}
