import type { Kysely } from 'kysely';

// OIDC single sign-on (issue 15 point 1, src/core/identity/oidc):
// - oidc_providers: an identity provider an administrator configured. The client secret is
//   sealed under its own data key (never stored or answered in plaintext); scopes, allowed
//   domains and the group map are JSON text.
// - oidc_links: which Gatehouse user a provider's subject (`sub`) signed in as, so a renamed
//   person at the provider keeps their account.
// - oidc_flows: a sign-in under way (state, nonce, PKCE verifier), keyed by the hash of the
//   browser's flow cookie; in the database so any node can finish it; single use, short-lived.
//   A CLI sign-in (loopback redirect) also keeps its challenge and, once done, the hash of the
//   one-time code the CLI exchanges for a token.
// No foreign keys (like the other late migrations); deleting a provider deletes its rows.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('oidc_providers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('secret_data_key_id', 'text')
    .addColumn('secret_sealed', 'text')
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('username_claim', 'text', (c) => c.notNull())
    .addColumn('groups_claim', 'text', (c) => c.notNull())
    .addColumn('allowed_domains', 'text', (c) => c.notNull())
    .addColumn('group_map', 'text', (c) => c.notNull())
    .addColumn('require_mapped_group', 'integer', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('oidc_links')
    .addColumn('provider_id', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('oidc_links_pk', ['provider_id', 'subject'])
    .execute();
  await db.schema
    .createTable('oidc_flows')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('provider_id', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('nonce', 'text', (c) => c.notNull())
    .addColumn('code_verifier', 'text', (c) => c.notNull())
    .addColumn('cli_redirect', 'text')
    .addColumn('cli_challenge', 'text')
    .addColumn('cli_code_hash', 'text')
    .addColumn('user_id', 'text')
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('oidc_flows').execute();
  await db.schema.dropTable('oidc_links').execute();
  await db.schema.dropTable('oidc_providers').execute();
}
