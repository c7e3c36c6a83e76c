import { sql, type Kysely } from 'kysely';

// Exclusive checkout of shared credentials (src/core/vault/checkout.ts): who holds a secret
// and until when, and who waits for it. At most one open checkout per secret is enforced by
// the database itself (a partial unique index), so parallel checkouts on any number of
// gateway nodes have exactly one winner on SQLite and PostgreSQL alike. No foreign keys to
// secrets or users: this migration stands on its own, and a deleted secret's history stays.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('checkouts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('secret_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('username', 'text', (c) => c.notNull())
    // explicit (POST /checkout), launch (taken by a launch of a secret that requires checkout), grant (an access grant)
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('source_id', 'text')
    .addColumn('reason', 'text')
    .addColumn('since', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    // A launch checkout is bound to the session that redeemed its ticket; it ends with it.
    .addColumn('session_id', 'text')
    .addColumn('checked_in_at', 'bigint')
    // holder, expired, session_end, forced, grant_end
    .addColumn('checkin_reason', 'text')
    .addColumn('checked_in_by', 'text')
    .execute();
  await db.schema.createIndex('checkouts_one_open').on('checkouts').column('secret_id').unique().where(sql.ref('checked_in_at'), 'is', null).execute();
  await db.schema.createIndex('checkouts_by_secret').on('checkouts').columns(['secret_id', 'since']).execute();

  await db.schema
    .createTable('checkout_queue')
    .addColumn('secret_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('joined_at', 'bigint', (c) => c.notNull())
    // Set when the secret came free while this person was first in line: their turn, held for them until reserved_until.
    .addColumn('notified_at', 'bigint')
    .addColumn('reserved_until', 'bigint')
    .addPrimaryKeyConstraint('checkout_queue_pk', ['secret_id', 'user_id'])
    .execute();
}
