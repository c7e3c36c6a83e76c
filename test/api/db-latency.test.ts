// gatehouse_db_query_duration_seconds on PostgreSQL times a query from the wait for a pool
// connection (src/store/timed-driver.ts), as docs/operations.md says: a saturated pool shows
// in it, and a database that cannot be reached counts as failed queries (the "database
// errors" alert). Before, Kysely's query log timed only the query on its connection and
// observed nothing when no connection could be had.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/db.js';
import { freshPgDatabase } from '../support/harness.js';
import { freePort } from '../support/ports.js';
import { signal } from '../support/signal.js';

describe('database latency as the metrics see it (PostgreSQL)', () => {
  let db: Awaited<ReturnType<typeof freshPgDatabase>>;
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-dblat-'));
  before(async () => {
    db = await freshPgDatabase();
  });
  after(async () => {
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const observed = (store: Store) => {
    const seen: { seconds: number; failed: boolean }[] = [];
    store.observeQueries((seconds, failed) => seen.push({ seconds, failed }));
    return seen;
  };

  it('includes the wait for a pool connection', async () => {
    const store = openStore({ dataDir, databaseUrl: db.url });
    try {
      const seen = observed(store);
      await sql`select 1`.execute(store.db);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.failed, false);
      // Every connection of the pool (10) held by a transaction until the gate opens.
      const gate = signal();
      const holding: Promise<void>[] = [];
      const holds = signal();
      let held = 0;
      for (let i = 0; i < 10; i++) {
        holding.push(
          store.db.transaction().execute(async (trx) => {
            await sql`select 1`.execute(trx);
            if (++held === 10) holds.resolve();
            await gate.done;
          }),
        );
      }
      await holds.done;
      seen.length = 0;
      const waiting = sql`select 2`.execute(store.db);
      const HOLD_MS = 300;
      await new Promise((r) => setTimeout(r, HOLD_MS));
      gate.resolve();
      await Promise.all(holding);
      await waiting;
      const last = seen.at(-1)!;
      assert.equal(last.failed, false);
      // At least as long as the pool was held after the query asked (a lower bound: no clock race).
      assert.ok(last.seconds >= (HOLD_MS - 5) / 1000, `observed ${last.seconds} s for a query that waited ${HOLD_MS} ms for its connection`);
    } finally {
      await store.close();
    }
  });

  it('a database that cannot be reached is observed as failed queries', async () => {
    // A port nothing listens on (found free below the ephemeral range, ports.ts).
    const port = await freePort();
    const url = new URL(db.url);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    const store = openStore({ dataDir, databaseUrl: url.toString() });
    try {
      const seen = observed(store);
      await assert.rejects(sql`select 1`.execute(store.db), /ECONNREFUSED/);
      assert.deepEqual(seen.map((o) => o.failed), [true]);
    } finally {
      await store.close();
    }
  });
});
