import type { Kysely } from 'kysely';

// The access policy a launch decided under rides on its ticket (core/access/launch-policy.ts):
// a ticket redeemed on another node (or after a restart), where the launch's memory of it is
// not, is still refused when the policy in force changed since (an MFA step-up or consent
// taken under the old policy must not open a session under the new one). A nullable text
// column on tickets (null: a ticket from before this migration, or one no launch issued).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tickets').addColumn('policy_version', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tickets').dropColumn('policy_version').execute();
}
