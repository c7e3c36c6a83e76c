// Data keys: one random AES-256 key per protected record, stored wrapped by the master key.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Db, Store } from '../../store/db.js';
import { prepare, type SlotOf } from '../../store/prepared.js';
import { Keyring, seal, unseal } from '../keyring.js';
import { newId, now } from '../util.js';

// Read whenever a credential is opened (prepared once: store/prepared.ts).
const dataKeyById = prepare((db, slot: SlotOf<{ id: string }>) => db.selectFrom('dataKeys').selectAll().where('id', '=', slot('id')));

// Wrapping a new data key and committing it must not straddle the end of a rotation: a
// key wrapped by the outgoing master key but committed after the rotation's last sweep
// would be lost once that key is dropped. Creators hold this lock shared until their
// transaction commits; the rotation's final sweep takes it exclusively (PostgreSQL; the
// single SQLite connection already serialises transactions).
const WRAP_LOCK = 74110002;

export class DataKeys {
  constructor(
    private readonly store: Store,
    readonly keyring: Keyring,
  ) {}

  async create(db: Db = this.store.db): Promise<{ id: string; key: Buffer }> {
    if (!db.isTransaction) return db.transaction().execute((trx) => this.create(trx));
    if (this.store.kind === 'postgres') await sql`select pg_advisory_xact_lock_shared(${WRAP_LOCK})`.execute(db);
    const id = newId();
    const key = randomBytes(32);
    const { kekId, wrapped } = this.keyring.wrap(key, id);
    await db.insertInto('dataKeys').values({ id, kekId, wrapped, createdAt: now() }).execute();
    return { id, key };
  }

  /** A data key, or null when there is no such key (where an id comes from outside the database: an object's header). */
  async find(id: string, db: Db = this.store.db): Promise<Buffer | null> {
    const row = await dataKeyById.first(db, { id });
    if (!row) return null;
    if (this.keyring.has(row.kekId)) return this.keyring.unwrap(row.kekId, row.wrapped, id);
    // A rotation may have rewrapped the row and dropped the old key between our read and now: read again.
    const again = await dataKeyById.first(db, { id });
    return again ? this.keyring.unwrap(again.kekId, again.wrapped, id) : null;
  }

  async get(id: string, db: Db = this.store.db): Promise<Buffer> {
    const key = await this.find(id, db);
    // A missing data key is a broken store, not a refusal: said as such.
    if (!key) throw new Error(`data key ${id} not found`);
    return key;
  }


  async encrypt(plaintext: string, aad: string, db: Db = this.store.db): Promise<{ dataKeyId: string; sealed: string }> {
    const { id, key } = await this.create(db);
    return { dataKeyId: id, sealed: seal(key, Buffer.from(plaintext, 'utf8'), aad) };
  }

  async reseal(dataKeyId: string, plaintext: string, aad: string, db: Db = this.store.db): Promise<string> {
    return seal(await this.get(dataKeyId, db), Buffer.from(plaintext, 'utf8'), aad);
  }

  async decrypt(dataKeyId: string, sealed: string, aad: string, db: Db = this.store.db): Promise<string> {
    return unseal(await this.get(dataKeyId, db), sealed, aad).toString('utf8');
  }

  async remove(id: string, db: Db = this.store.db): Promise<void> {
    await db.deleteFrom('dataKeys').where('id', '=', id).execute();
  }

  /** Refuses to start with a master key that cannot unwrap what the database holds. */
  async checkKeysLoaded(): Promise<string[]> {
    const rows = await this.store.db.selectFrom('dataKeys').select('kekId').distinct().execute();
    return rows.map((r) => r.kekId).filter((id) => !this.keyring.has(id));
  }

  /** Rewraps every data key under a new master key, in batches, while the server keeps serving. */
  async rotate(newKey: Buffer, onProgress?: (done: number) => void): Promise<{ rewrapped: number; kekId: string }> {
    this.keyring.beginRotation(newKey);
    const target = this.keyring.currentId;
    let done = 0;
    const rewrap = async (trx: Db, batch: { id: string; kekId: string; wrapped: string }[]) => {
      for (const row of batch) {
        const key = this.keyring.unwrap(row.kekId, row.wrapped, row.id);
        const { kekId, wrapped } = this.keyring.wrap(key, row.id);
        await trx.updateTable('dataKeys').set({ kekId, wrapped }).where('id', '=', row.id).where('kekId', '=', row.kekId).execute();
      }
    };
    for (;;) {
      const batch = await this.store.db.selectFrom('dataKeys').selectAll().where('kekId', '!=', target).limit(500).execute();
      if (batch.length === 0) break;
      await this.store.db.transaction().execute((trx) => rewrap(trx, batch));
      done += batch.length;
      onProgress?.(done);
    }
    // Final sweep once every creator that may still hold an old-key wrap has committed.
    done += await this.store.db.transaction().execute(async (trx) => {
      if (this.store.kind === 'postgres') await sql`select pg_advisory_xact_lock(${WRAP_LOCK})`.execute(trx);
      const rest = await trx.selectFrom('dataKeys').selectAll().where('kekId', '!=', target).execute();
      await rewrap(trx, rest);
      return rest.length;
    });
    this.keyring.finishRotation();
    return { rewrapped: done, kekId: target };
  }
}
