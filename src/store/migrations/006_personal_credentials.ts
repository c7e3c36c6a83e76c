import type { Kysely } from 'kysely';

// Personal credentials under a master password (issue 11, point 4). Nothing here is wrapped
// by the master key: a person's vault key is wrapped by a key derived from their master
// password (argon2id), and each credential's data key by that vault key. Independent of the
// other issue-11 migrations (004, 005): it only adds its own tables.
export async function up(db: Kysely<unknown>): Promise<void> {
  // One row per person who set a master password: the KDF parameters and salt, a verifier
  // (tells a wrong master password from damage) and the vault key wrapped by the derived key.
  await db.schema
    .createTable('personal_vaults')
    .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('kdf', 'text', (c) => c.notNull())
    .addColumn('salt', 'text', (c) => c.notNull())
    .addColumn('verifier', 'text', (c) => c.notNull())
    .addColumn('wrapped_key', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  // A person's own account for a target: a target secret, or a machine (port, protocol).
  // The username is public like a secret's; the secret values are sealed by the row's data
  // key, which is wrapped by the owner's vault key (never by the master key).
  await db.schema
    .createTable('personal_credentials')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('target_secret_id', 'text')
    .addColumn('machine', 'text')
    .addColumn('port', 'integer')
    .addColumn('protocol', 'text')
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('domain', 'text')
    .addColumn('secret_fields', 'text', (c) => c.notNull())
    .addColumn('wrapped_key', 'text', (c) => c.notNull())
    .addColumn('data_enc', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('personal_credentials_user').on('personal_credentials').column('user_id').execute();

  // A launch with a personal credential, until its ticket is redeemed: the credential sealed
  // under a key derived from the ticket itself (which only the person holds; the tickets
  // table keeps only a hash), found by another hash of the ticket.
  await db.schema
    .createTable('personal_launches')
    .addColumn('ref', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('credential_id', 'text', (c) => c.notNull())
    .addColumn('sealed', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
}
