import type { Kysely } from 'kysely';

// Which data keys seal a recording in object storage with Gatehouse-side encryption
// (core/sessions/recording-keys.ts): one row per key made for a recording (normally one; two
// when two nodes started the upload of a recovered recording at once), written in the
// transaction that makes the key. The database's word, where the object's header is only the
// bucket's: an object at a recording's name without the encryption header is refused when the
// recording was stored encrypted (before, it was played as plaintext, so whoever could write
// the bucket could put any content there), and a delete removes these keys. Recordings stored
// before this migration have no row: their objects are read and their keys found as before.
// Own table; it may land in any order after 001 (data_keys).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('recording_keys')
    .addColumn('data_key_id', 'text', (c) => c.primaryKey())
    .addColumn('rel', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('recording_keys_rel').on('recording_keys').column('rel').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('recording_keys').execute();
}
