// The database latency the metrics report (gatehouse_db_query_duration_seconds) as the gateway
// sees it: on PostgreSQL a query first waits for a connection from the pool, and that wait is
// where a saturated pool or a database that does not answer shows. Kysely's query log times
// only the query on its connection, and logs nothing when no connection can be had, so with
// the database down no error was ever observed. This driver wraps Kysely's: the wait for a
// connection is added to the first query run on it, and a connection that cannot be had is a
// failed query, timed until it failed.
import type { CompiledQuery, DatabaseConnection, Driver, QueryResult, TransactionSettings } from 'kysely';

export type QueryObserver = (seconds: number, failed: boolean) => void;

class TimedConnection implements DatabaseConnection {
  constructor(
    readonly inner: DatabaseConnection,
    /** The wait for this connection, not yet counted in a query (ms). */
    private waitMs: number,
    private readonly observer: () => QueryObserver | null,
  ) {}

  async executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    const start = performance.now() - this.waitMs;
    this.waitMs = 0;
    try {
      const r = await this.inner.executeQuery<R>(q);
      this.observer()?.((performance.now() - start) / 1000, false);
      return r;
    } catch (e) {
      this.observer()?.((performance.now() - start) / 1000, true);
      throw e;
    }
  }

  streamQuery<R>(q: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(q, chunkSize);
  }
}

const inner = (c: DatabaseConnection) => (c instanceof TimedConnection ? c.inner : c);

export class TimedDriver implements Driver {
  constructor(
    private readonly driver: Driver,
    private readonly observer: () => QueryObserver | null,
  ) {}

  init(): Promise<void> {
    return this.driver.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const start = performance.now();
    try {
      return new TimedConnection(await this.driver.acquireConnection(), performance.now() - start, this.observer);
    } catch (e) {
      this.observer()?.((performance.now() - start) / 1000, true);
      throw e;
    }
  }

  // A transaction's own statements (begin, commit, rollback) go to the driver on the bare
  // connection, as Kysely's drivers expect their own connection class there.
  beginTransaction(c: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.driver.beginTransaction(inner(c), settings);
  }

  commitTransaction(c: DatabaseConnection): Promise<void> {
    return this.driver.commitTransaction(inner(c));
  }

  rollbackTransaction(c: DatabaseConnection): Promise<void> {
    return this.driver.rollbackTransaction(inner(c));
  }

  releaseConnection(c: DatabaseConnection): Promise<void> {
    return this.driver.releaseConnection(inner(c));
  }

  destroy(): Promise<void> {
    return this.driver.destroy();
  }
  // No savepoints: nothing here uses them (Kysely says so plainly if something does).
}
