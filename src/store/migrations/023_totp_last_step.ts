import type { Kysely } from 'kysely';

// A TOTP code is accepted once (RFC 6238 §5.2): the time step of the last code accepted for
// the user, at sign-in, step-up or the confirmation of an enrolment. A code is taken only for
// a later step, by one conditional update (core/identity/auth.ts), so a code used on one node
// of a cluster is refused on every other. Null: no code accepted since the seed was made
// (enrolment and turning TOTP off reset it). A nullable integer column on users; it may land
// in any order after 001.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').addColumn('totp_last_step', 'integer').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('totp_last_step').execute();
}
