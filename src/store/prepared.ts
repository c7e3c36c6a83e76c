// Queries built and compiled once, then run many times with new values. Building a Kysely
// query (the builder's frozen nodes, the camel-case plugin's rewrite, the SQL compiler) costs
// ~20 µs of the event loop each time, as much as SQLite running it; the few queries every API
// request or launch runs (the token's look-up, the person's groups and roles, the ticket) are
// built once per dialect instead. Values go in as slots: the query is built with a placeholder
// object where a value goes, compiled, and each placeholder's position in the parameter list
// is replaced by the value given at each run. The SQL text is the one Kysely compiled, so the
// SQLite statement cache (sqlite-statements.ts) keeps its prepared statement as before.
//
// A slot must stand for one bound value (a comparison, an inserted or updated value, a limit):
// a list of variable length (`in`) or an identifier cannot be a slot. A query that needs one
// is left to the ordinary builder.
import type { Compilable, CompiledQuery, InsertObject, QueryResult } from 'kysely';
import type { Db } from './db.js';
import type { Database } from './schema.js';

const SLOT = Symbol('prepared query slot');
interface Slot {
  readonly [SLOT]: string;
}
const isSlot = (v: unknown): v is Slot => typeof v === 'object' && v !== null && SLOT in v;

/** Names a value given at each run; typed as the value so the builder checks it as one. */
export type SlotOf<A> = <K extends keyof A & string>(name: K) => A[K];

interface Compiled {
  query: CompiledQuery;
  /** For each parameter: the argument name it takes, or null for a value fixed at build time. */
  slots: (string | null)[];
}

export interface Prepared<A, R> {
  /** Every row. */
  all(db: Db, args: A): Promise<R[]>;
  /** The first row, if any. */
  first(db: Db, args: A): Promise<R | undefined>;
  /** Runs it (insert, update, delete): rows affected, and the rows of a `returning`. */
  run(db: Db, args: A): Promise<QueryResult<R>>;
}

/**
 * A query built once per database dialect by `build`, which puts `slot('name')` where a value
 * goes; the slots' names and types come from the annotation, the rows' type from the query:
 * `prepare((db, slot: SlotOf<{ id: string }>) => db.selectFrom('users').selectAll().where('id', '=', slot('id')))`.
 * `db` at each run may be the store's database or a transaction on it.
 */
export function prepare<A extends Record<string, unknown>, R>(build: (db: Db, slot: SlotOf<A>) => Compilable<R>): Prepared<A, R> {
  // Per dialect adapter: a transaction shares its database's adapter, so it shares the compiled
  // query. The compile applies the plugins of the database it was built on (the store's
  // camel-case plugin); a `withPlugin` copy on the same adapter would share it too (none is made).
  const byAdapter = new WeakMap<object, Compiled>();
  const compiledFor = (db: Db): Compiled => {
    const adapter = db.getExecutor().adapter;
    let c = byAdapter.get(adapter);
    if (!c) {
      const slot = ((name: string) => ({ [SLOT]: name })) as unknown as SlotOf<A>;
      const query = build(db, slot).compile();
      c = { query, slots: query.parameters.map((p) => (isSlot(p) ? p[SLOT] : null)) };
      byAdapter.set(adapter, c);
    }
    return c;
  };
  const execute = (db: Db, args: A): Promise<QueryResult<R>> => {
    const { query, slots } = compiledFor(db);
    const parameters = slots.map((name, i) => {
      if (name === null) return query.parameters[i];
      const value = args[name];
      // A missing value would bind as NULL in one driver and fail in another: said here instead.
      if (value === undefined) throw new Error(`prepared query: no value for '${name}'`);
      return value;
    });
    return db.executeQuery<R>({ ...query, parameters });
  };
  return {
    all: async (db, args) => (await execute(db, args)).rows,
    first: async (db, args) => (await execute(db, args)).rows[0],
    run: execute,
  };
}

type Table = keyof Database & string;
/** An expression (sql`…`, a builder) or a factory in a row: Kysely turns it into SQL, so it cannot be a bound value. */
const isExpression = (v: unknown): boolean => typeof v === 'function' || (typeof v === 'object' && v !== null && typeof (v as { toOperationNode?: unknown }).toOperationNode === 'function');
/** Column sets kept per table; a caller writes one shape, so this bounds only a mistake. */
const INSERT_SHAPES = 32;

/**
 * Inserts a whole row into `table`, prepared once per set of columns (the row's defined values,
 * as Kysely's own insert skips undefined ones). A row carrying an SQL expression is inserted by
 * the ordinary builder.
 */
export function prepareInsert<T extends Table>(table: T): (db: Db, row: InsertObject<Database, T>) => Promise<void> {
  const byColumns = new Map<string, Prepared<Record<string, unknown>, unknown>>();
  return async (db, row) => {
    const values: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row)) {
      if (v === undefined) continue;
      if (isExpression(v)) return void (await db.insertInto(table).values(row as never).execute());
      values[k] = v;
    }
    const columns = Object.keys(values);
    const key = columns.join(',');
    let q = byColumns.get(key);
    if (!q) {
      q = prepare((d, slot: SlotOf<Record<string, unknown>>) => d.insertInto(table).values(Object.fromEntries(columns.map((c) => [c, slot(c)])) as never));
      if (byColumns.size >= INSERT_SHAPES) byColumns.delete(byColumns.keys().next().value!);
      byColumns.set(key, q);
    }
    await q.run(db, values);
  };
}
