// A person's registered passkeys and security keys: the rows (public keys and counters only;
// nothing here is secret) and the view the API answers.
import type { Selectable } from 'kysely';
import type { Store } from '../../../store/db.js';
import type { WebauthnCredentialsTable } from '../../../store/schema.js';
import { parseJson } from '../../util.js';

export type CredentialRow = Selectable<WebauthnCredentialsTable>;

export interface CredentialView {
  id: string;
  name: string;
  /** Whether it can sign in without a user name (a passkey: a discoverable credential); null when the browser did not say. */
  discoverable: boolean;
  /** singleDevice (a security key) or multiDevice (a synced passkey). */
  deviceType: string;
  backedUp: boolean;
  transports: string[];
  createdAt: string;
  lastUsedAt: string | null;
}

export const viewCredential = (r: CredentialRow): CredentialView => ({
  id: r.id,
  name: r.name,
  discoverable: !!r.discoverable,
  deviceType: r.deviceType,
  backedUp: !!r.backedUp,
  transports: parseJson<string[]>(r.transports, []),
  createdAt: new Date(r.createdAt).toISOString(),
  lastUsedAt: r.lastUsedAt ? new Date(r.lastUsedAt).toISOString() : null,
});

export class Credentials {
  constructor(private readonly store: Store) {}

  private get db() {
    return this.store.db;
  }

  ofUser(userId: string): Promise<CredentialRow[]> {
    return this.db.selectFrom('webauthnCredentials').selectAll().where('userId', '=', userId).orderBy('createdAt', 'asc').execute();
  }

  async count(userId: string): Promise<number> {
    const r = await this.db.selectFrom('webauthnCredentials').select((eb) => eb.fn.countAll<number>().as('n')).where('userId', '=', userId).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** By the id the authenticator gave (base64url); `userId` limits it to one person's keys. */
  async byCredentialId(credentialId: string, userId: string | null): Promise<CredentialRow | undefined> {
    let q = this.db.selectFrom('webauthnCredentials').selectAll().where('credentialId', '=', credentialId);
    if (userId !== null) q = q.where('userId', '=', userId);
    return q.executeTakeFirst();
  }

  async insert(row: CredentialRow): Promise<void> {
    await this.db.insertInto('webauthnCredentials').values(row).execute();
  }

  /** After a verified assertion: the counter the authenticator reported, and when. */
  async used(id: string, counter: number, at: number): Promise<void> {
    await this.db.updateTable('webauthnCredentials').set({ counter, lastUsedAt: at }).where('id', '=', id).execute();
  }

  async remove(userId: string, id: string): Promise<CredentialRow | undefined> {
    return this.db.deleteFrom('webauthnCredentials').where('id', '=', id).where('userId', '=', userId).returningAll().executeTakeFirst();
  }

  async removeAll(userId: string): Promise<CredentialRow[]> {
    return this.db.deleteFrom('webauthnCredentials').where('userId', '=', userId).returningAll().execute();
  }
}
