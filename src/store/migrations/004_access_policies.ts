import type { Kysely } from 'kysely';

// Access request policies (who approves, how many, windows, hours, modes, and the fields
// the later step-up, consent and checkout work reads), the policy attached to a secret or
// a folder, requests with each approver's decision, and the grants an approval opens.
// Principal lists and CIDRs are JSON text, like the rest of the schema.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('access_policies')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('approvers', 'text', (c) => c.notNull())
    .addColumn('approvals_required', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('pre_approved', 'text', (c) => c.notNull())
    .addColumn('default_window_minutes', 'integer', (c) => c.notNull())
    .addColumn('max_window_minutes', 'integer', (c) => c.notNull())
    .addColumn('allowed_hours', 'text')
    .addColumn('allowed_modes', 'text', (c) => c.notNull())
    .addColumn('mfa', 'text', (c) => c.notNull().defaultTo('never'))
    .addColumn('trusted_networks', 'text', (c) => c.notNull())
    .addColumn('mfa_max_age_minutes', 'integer', (c) => c.notNull().defaultTo(5))
    .addColumn('recording_required', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('consent_text', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('checkout_required', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('reason_required', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('ticket_reference', 'text', (c) => c.notNull().defaultTo('none'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema.alterTable('secrets').addColumn('policy_id', 'text').execute();
  await db.schema.alterTable('folders').addColumn('policy_id', 'text').execute();

  await db.schema
    .createTable('access_requests')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('secret_id', 'text', (c) => c.notNull())
    .addColumn('secret_name', 'text', (c) => c.notNull())
    .addColumn('requester_id', 'text', (c) => c.notNull())
    .addColumn('requester_name', 'text', (c) => c.notNull())
    .addColumn('policy_id', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('ticket_ref', 'text')
    .addColumn('modes', 'text', (c) => c.notNull())
    .addColumn('start_at', 'bigint', (c) => c.notNull())
    .addColumn('end_at', 'bigint', (c) => c.notNull())
    .addColumn('approvals_required', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('decided_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('access_requests_requester').on('access_requests').column('requester_id').execute();
  await db.schema.createIndex('access_requests_status').on('access_requests').column('status').execute();

  await db.schema
    .createTable('access_approvals')
    .addColumn('request_id', 'text', (c) => c.notNull().references('access_requests.id').onDelete('cascade'))
    .addColumn('approver_id', 'text', (c) => c.notNull())
    .addColumn('approver_name', 'text', (c) => c.notNull())
    .addColumn('decision', 'text', (c) => c.notNull())
    .addColumn('comment', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('access_approvals_pk', ['request_id', 'approver_id'])
    .execute();

  await db.schema
    .createTable('access_grants')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('request_id', 'text', (c) => c.notNull().unique())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('secret_id', 'text', (c) => c.notNull())
    .addColumn('modes', 'text', (c) => c.notNull())
    .addColumn('start_at', 'bigint', (c) => c.notNull())
    .addColumn('end_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .addColumn('revoked_by', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('access_grants_user_secret').on('access_grants').columns(['user_id', 'secret_id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ['access_grants', 'access_approvals', 'access_requests']) await db.schema.dropTable(t).ifExists().execute();
  await db.schema.alterTable('folders').dropColumn('policy_id').execute();
  await db.schema.alterTable('secrets').dropColumn('policy_id').execute();
  await db.schema.dropTable('access_policies').ifExists().execute();
}
