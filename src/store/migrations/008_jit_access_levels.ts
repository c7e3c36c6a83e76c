import type { Kysely } from 'kysely';

// Just-in-time accounts and access levels (issue 12, points 4 and 5; seed 003). An access
// level is a named set of target groups (Linux groups or LDAP group DNs, and on Linux an
// optional sudoers drop-in) attached to secrets or folders (inherited down the folder tree,
// as an access policy is) and usable by pre-approved users and groups. A secret's JIT
// settings say whether a launch creates a temporary account. jit_accounts records every
// temporary account and every level given to a stored account for one session, so a
// sweeper can undo what a crash left behind. Independent of 009/010: own tables only, plus
// one nullable column on access_requests (a request may name the level it asks for).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('access_levels')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    // JSON array of target group names (Linux) or DNs (LDAP).
    .addColumn('target_groups', 'text', (c) => c.notNull())
    // Linux: the body of /etc/sudoers.d/<account> for the session (checked with visudo -cf); null: none.
    .addColumn('sudoers', 'text')
    // 1: people not pre-approved may use it with an approved access request naming the level.
    .addColumn('needs_approval', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  // Where a level applies: exactly one of secret_id / folder_id per row.
  await db.schema
    .createTable('access_level_links')
    .addColumn('level_id', 'text', (c) => c.notNull().references('access_levels.id').onDelete('cascade'))
    .addColumn('secret_id', 'text')
    .addColumn('folder_id', 'text')
    .execute();
  await db.schema.createIndex('access_level_links_level').on('access_level_links').column('level_id').execute();

  // Who is pre-approved: principal_type 'user' | 'group'.
  await db.schema
    .createTable('access_level_members')
    .addColumn('level_id', 'text', (c) => c.notNull().references('access_levels.id').onDelete('cascade'))
    .addColumn('principal_type', 'text', (c) => c.notNull())
    .addColumn('principal_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('access_level_members_pk', ['level_id', 'principal_type', 'principal_id'])
    .execute();

  // A secret's JIT settings (absent row: JIT off).
  await db.schema
    .createTable('secret_jit')
    .addColumn('secret_id', 'text', (c) => c.primaryKey().references('secrets.id').onDelete('cascade'))
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(0))
    // 'remove' | 'disable': what happens to the temporary account when the session is over.
    .addColumn('end_action', 'text', (c) => c.notNull().defaultTo('remove'))
    // Seed 003's PSM_Connection_Delay: seconds to wait after creating the account (0: none).
    .addColumn('connection_delay_seconds', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('name_prefix', 'text', (c) => c.notNull().defaultTo('gh-jit-'))
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  // Every temporary account (purpose 'jit') and every level given to a stored account
  // (purpose 'level') for one session; state 'active' → 'disabled' | 'removed' (or 'failed').
  await db.schema
    .createTable('jit_accounts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('secret_id', 'text', (c) => c.notNull())
    .addColumn('session_id', 'text', (c) => c.notNull())
    .addColumn('target_kind', 'text', (c) => c.notNull())
    .addColumn('account_name', 'text', (c) => c.notNull())
    .addColumn('level_id', 'text')
    // JSON array: the groups given for the session (removed again for purpose 'level').
    .addColumn('target_groups', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('message', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('ended_at', 'bigint')
    .addColumn('removed_at', 'bigint')
    .execute();
  await db.schema.createIndex('jit_accounts_state').on('jit_accounts').column('state').execute();
  await db.schema.createIndex('jit_accounts_session').on('jit_accounts').column('session_id').execute();

  await db.schema.alterTable('access_requests').addColumn('access_level_id', 'text').execute();
  // Rotate after use for every secret under the policy (as a secret's own account.rotateAfterUse).
  await db.schema.alterTable('access_policies').addColumn('rotate_after_use', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}
