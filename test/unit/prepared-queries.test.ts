// Queries built once and run many times (store/prepared.ts), on SQLite and on PostgreSQL:
// each run binds its own values where the slots are and keeps values fixed at build time; the
// builder runs once per dialect (a transaction shares its database's compiled query); rows come
// back camel-cased as from the ordinary builder; a write reports the rows it touched; a value
// left out is refused instead of binding as NULL; and a value is only ever bound (an injection
// attempt is a value like any other). Whole-row inserts are prepared per set of columns, skip
// undefined values as Kysely does, and leave a row with an SQL expression to the builder.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../src/store/db.js';
import { sql } from 'kysely';
import { prepare, prepareInsert, type SlotOf } from '../../src/store/prepared.js';
import { openTestStore } from '../support/store.js';

const user = (id: string, username: string, enabled: 0 | 1) => ({
  id,
  username,
  displayName: username.toUpperCase(),
  email: null,
  passwordHash: null,
  isApplication: 0 as const,
  enabled,
  failedLogins: 0,
  lockedUntil: null,
  totpDataKeyId: null,
  totpEnc: null,
  totpEnabled: 0 as const,
  recoveryCodes: null,
  createdAt: 1,
  updatedAt: 1,
  lastLoginAt: null,
});

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`prepared queries (${kind})`, () => {
    let store: Store;
    let close: () => Promise<void>;

    before(async () => {
      ({ store, close } = await openTestStore(kind));
      await store.db.insertInto('users').values([user('u1', 'alice', 1), user('u2', 'bob', 1), user('u3', 'carol', 0)]).execute();
    });
    after(() => close());

    it('binds each run its own values and keeps the fixed ones, building once', async () => {
      let built = 0;
      const enabledByName = prepare((db, slot: SlotOf<{ username: string }>) => {
        built++;
        return db.selectFrom('users').select(['id', 'displayName', 'lastLoginAt']).where('username', '=', slot('username')).where('enabled', '=', 1);
      });
      assert.deepEqual(await enabledByName.first(store.db, { username: 'alice' }), { id: 'u1', displayName: 'ALICE', lastLoginAt: null });
      assert.deepEqual(await enabledByName.all(store.db, { username: 'bob' }), [{ id: 'u2', displayName: 'BOB', lastLoginAt: null }]);
      // The fixed value (enabled = 1) stays bound: carol is disabled.
      assert.equal(await enabledByName.first(store.db, { username: 'carol' }), undefined);
      await store.db.transaction().execute(async (trx) => {
        assert.equal((await enabledByName.first(trx, { username: 'alice' }))?.id, 'u1');
      });
      assert.equal(built, 1);
    });

    it('runs writes with several slots, and a slot used twice', async () => {
      const touch = prepare((db, slot: SlotOf<{ at: number; id: string }>) => db.updateTable('users').set({ lastLoginAt: slot('at'), updatedAt: slot('at') }).where('id', '=', slot('id')));
      const r = await touch.run(store.db, { at: 1234, id: 'u2' });
      assert.equal(r.numAffectedRows, 1n);
      assert.equal((await touch.run(store.db, { at: 5, id: 'nobody' })).numAffectedRows, 0n);
      const row = await store.db.selectFrom('users').select(['lastLoginAt', 'updatedAt']).where('id', '=', 'u2').executeTakeFirstOrThrow();
      assert.deepEqual(row, { lastLoginAt: 1234, updatedAt: 1234 });
    });

    it('refuses a run without one of its values', async () => {
      const byId = prepare((db, slot: SlotOf<{ id: string }>) => db.selectFrom('users').select('id').where('id', '=', slot('id')));
      await assert.rejects(byId.first(store.db, {} as { id: string }), /no value for 'id'/);
    });

    it('inserts whole rows, prepared per set of columns', async () => {
      const insertUser = prepareInsert('users');
      await insertUser(store.db, user('i1', 'ins-one', 1));
      // email undefined: left out, as Kysely's insert leaves it (the column's NULL), another shape.
      await insertUser(store.db, { ...user('i2', 'ins-two', 0), email: undefined });
      await store.db.transaction().execute((trx) => insertUser(trx, { ...user('i3', 'ins-three', 1), email: 'c@example.test' }));
      // An SQL expression in a row is not a value: the ordinary builder inserts it.
      await insertUser(store.db, { ...user('i4', 'ins-four', 1), createdAt: sql<number>`40 + 2` });
      const rows = await store.db.selectFrom('users').select(['id', 'username', 'enabled', 'email', 'createdAt']).where('id', 'like', 'i%').orderBy('id').execute();
      assert.deepEqual(rows, [
        { id: 'i1', username: 'ins-one', enabled: 1, email: null, createdAt: 1 },
        { id: 'i2', username: 'ins-two', enabled: 0, email: null, createdAt: 1 },
        { id: 'i3', username: 'ins-three', enabled: 1, email: 'c@example.test', createdAt: 1 },
        { id: 'i4', username: 'ins-four', enabled: 1, email: null, createdAt: 42 },
      ]);
      await store.db.deleteFrom('users').where('id', 'like', 'i%').execute();
    });

    it('binds an injection attempt as a value', async () => {
      const byName = prepare((db, slot: SlotOf<{ username: string }>) => db.selectFrom('users').select('id').where('username', '=', slot('username')));
      assert.equal(await byName.first(store.db, { username: "alice' or '1'='1" }), undefined);
      assert.equal((await store.db.selectFrom('users').select('id').execute()).length, 3);
    });
  });
}
