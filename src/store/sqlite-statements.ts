// Prepared statements kept for reuse. Kysely's SQLite driver prepares every query it runs
// afresh (better-sqlite3 compiles the SQL each time); the same few hundred query texts run
// over and over (a launch runs a few dozen), so the compiled statements are kept, the most
// recently used ones, by their SQL text. Parameters are bound at each run, never part of the
// key. SQLite re-prepares a kept statement by itself when the schema changed (migrations).
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/** The part of a better-sqlite3 Database the dialect uses; `busy`: a statement whose iterator is still open. */
type Prepares = { prepare(sql: string): SqliteStatement & { readonly busy?: boolean }; close(): void };

export const STATEMENT_CACHE_SIZE = 512;

/** The database as Kysely's SqliteDialect takes it, with prepare() answered from a bounded cache. */
export function withStatementCache(db: Prepares, max = STATEMENT_CACHE_SIZE): SqliteDatabase {
  const kept = new Map<string, SqliteStatement & { readonly busy?: boolean }>();
  return {
    prepare(sql: string): SqliteStatement {
      const hit = kept.get(sql);
      // A statement still being iterated (a streamed select) cannot run again meanwhile: a fresh one does.
      if (hit && !hit.busy) {
        // Most recently used last, so the first key is the one to drop.
        kept.delete(sql);
        kept.set(sql, hit);
        return hit;
      }
      const stmt = db.prepare(sql);
      if (!hit) {
        kept.set(sql, stmt);
        if (kept.size > max) kept.delete(kept.keys().next().value!);
      }
      return stmt;
    },
    close(): void {
      kept.clear();
      db.close();
    },
  };
}
