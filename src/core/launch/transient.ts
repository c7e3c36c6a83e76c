// Transient credentials: a username, domain and password that one launch ticket carries in
// place of its secret's (the secret still names the target). A logon ticket (seed 004) makes
// one from the Windows credential an external portal sent. Sealed under its own data key
// (envelope encryption under the keyring), bound to the launch ticket's id, taken (and wiped)
// when the ticket is redeemed, swept when it expires. In the database so any node can redeem.
import type { Store } from '../../store/db.js';
import { prepare, type SlotOf } from '../../store/prepared.js';
import { now } from '../util.js';
import type { DataKeys } from '../vault/datakeys.js';
import type { Credential } from '../vault/secrets.js';

// Looked for at every redeem (prepared once: store/prepared.ts).
const credentialOfTicket = prepare((db, slot: SlotOf<{ ticketId: string }>) => db.selectFrom('launchCredentials').selectAll().where('ticketId', '=', slot('ticketId')));

export interface TransientCredential {
  username: string;
  domain: string | null;
  password: string;
  /** What made it (audit): e.g. "logon_ticket". */
  source: string;
}

const aad = (ticketId: string) => `launch-credential:${ticketId}`;
/** Every field of a secret a transient credential replaces: no secret value of the shared account stays. */
const SECRET_VALUE_FIELDS = ['password', 'privateKey', 'passphrase'];

export class TransientCredentials {
  constructor(
    private readonly store: Store,
    private readonly dataKeys: DataKeys,
  ) {}

  async bind(ticketId: string, cred: TransientCredential, expiresAt: number): Promise<void> {
    const { dataKeyId, sealed } = await this.dataKeys.encrypt(JSON.stringify({ u: cred.username, d: cred.domain, p: cred.password }), aad(ticketId));
    await this.store.db.insertInto('launchCredentials').values({ ticketId, dataKeyId, credentialSealed: sealed, source: cred.source, expiresAt }).execute();
  }

  /** The credential bound to a ticket, removed as it is read (single use); null when there is none. */
  async take(ticketId: string): Promise<{ username: string; domain: string | null; password: string; source: string } | null> {
    const row = await credentialOfTicket.first(this.store.db, { ticketId });
    if (!row) return null;
    const gone = await this.store.db.deleteFrom('launchCredentials').where('ticketId', '=', ticketId).executeTakeFirst();
    if (Number(gone.numDeletedRows) !== 1) return null;
    try {
      const v = JSON.parse(await this.dataKeys.decrypt(row.dataKeyId, row.credentialSealed, aad(ticketId))) as { u: string; d: string | null; p: string };
      return { username: v.u, domain: v.d, password: v.p, source: row.source };
    } finally {
      await this.dataKeys.remove(row.dataKeyId);
    }
  }

  /** Whether a ticket carries one (without taking it). */
  async has(ticketId: string): Promise<boolean> {
    return !!(await this.store.db.selectFrom('launchCredentials').select('ticketId').where('ticketId', '=', ticketId).executeTakeFirst());
  }

  /** Drops those of expired tickets (their data keys with them). */
  async sweep(): Promise<number> {
    const rows = await this.store.db.selectFrom('launchCredentials').select(['ticketId', 'dataKeyId']).where('expiresAt', '<=', now()).execute();
    for (const r of rows) {
      await this.store.db.deleteFrom('launchCredentials').where('ticketId', '=', r.ticketId).execute();
      await this.dataKeys.remove(r.dataKeyId);
    }
    return rows.length;
  }
}

/** The secret's credential with the transient one in its place: the target stays, every secret value goes. */
export function withTransient(shared: Credential, t: { username: string; domain: string | null; password: string }): Credential {
  const fields: Record<string, string | number> = { ...shared.fields };
  for (const f of SECRET_VALUE_FIELDS) delete fields[f];
  delete fields.domain;
  fields.username = t.username;
  fields.password = t.password;
  if (t.domain) fields.domain = t.domain;
  return { ...shared, username: t.username, domain: t.domain, fields };
}
