// A migrated store of its own for a test, on either database: SQLite in a temp dir, or an
// empty PostgreSQL database on the suite's server (freshPgDatabase). close() removes it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, openStore, type DbKind, type Store } from '../../src/store/db.js';
import { freshPgDatabase } from './harness.js';

export async function openTestStore(kind: DbKind): Promise<{ store: Store; close: () => Promise<void> }> {
  let store: Store;
  let remove: () => Promise<void>;
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'gh-store-'));
    store = openStore({ dataDir: dir });
    remove = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const pg = await freshPgDatabase();
    store = openStore({ dataDir: '', databaseUrl: pg.url });
    remove = pg.drop;
  }
  await migrate(store.db);
  return {
    store,
    close: async () => {
      await store.db.destroy();
      await remove();
    },
  };
}
