// Opens the store: embedded SQLite (WAL) in the data dir, or PostgreSQL when a URL is given.
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { CamelCasePlugin, Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type Driver, type LogEvent, type Migration, type MigrationProvider } from 'kysely';
import { TimedDriver, type QueryObserver } from './timed-driver.js';
import type { Database } from './schema.js';
import { withStatementCache } from './sqlite-statements.js';
import * as m001 from './migrations/001_initial.js';
import * as m002 from './migrations/002_sessions.js';
import * as m003 from './migrations/003_session_node.js';
import * as m004 from './migrations/004_access_policies.js';
import * as m006 from './migrations/006_personal_credentials.js';
import * as m005 from './migrations/005_checkout.js';
import * as m007 from './migrations/007_target_accounts.js';
import * as m008 from './migrations/008_jit_access_levels.js';
import * as m009 from './migrations/009_webservices.js';
import * as m010 from './migrations/010_openpsm.js';
import * as m011 from './migrations/011_logon_tickets.js';
import * as m012 from './migrations/012_ticket_display.js';
import * as m013 from './migrations/013_session_sharing.js';
import * as m014 from './migrations/014_oidc.js';
import * as m015 from './migrations/015_ldap_directory.js';
import * as m016 from './migrations/016_webauthn.js';
import * as m020 from './migrations/020_request_ids.js';
import * as m021 from './migrations/021_recording_uploads.js';
import * as m022 from './migrations/022_session_recording_format.js';
import * as m023 from './migrations/023_totp_last_step.js';
import * as m024 from './migrations/024_sessions_status_index.js';
import * as m025 from './migrations/025_jit_leases.js';
import * as m026 from './migrations/026_recording_keys.js';
import * as m027 from './migrations/027_ticket_policy_version.js';
import * as m028 from './migrations/028_secret_rotations.js';
import * as m029 from './migrations/029_account_group_locks.js';
import * as m017 from './migrations/017_audit_streaming.js';
import * as m018 from './migrations/018_recording_retention.js';
import * as m019 from './migrations/019_cluster.js';

export type Db = Kysely<Database>;
export type DbKind = 'sqlite' | 'postgres';

export interface Store {
  db: Db;
  kind: DbKind;
  /** Path of the SQLite file, for the plaintext scan and backups. */
  file?: string;
  /** Tells `fn` how long every query took (the metrics' database latency); one observer. */
  observeQueries(fn: (seconds: number, failed: boolean) => void): void;
  close(): Promise<void>;
}

/**
 * Who observes query times (set after the store opens, by the core's metrics): fed by Kysely's
 * query log on SQLite (no pool to wait for), by TimedDriver on PostgreSQL (pool wait included).
 */
function queryLog(): { log: (e: LogEvent) => void; observer: () => QueryObserver | null; observe: Store['observeQueries'] } {
  let observer: QueryObserver | null = null;
  return {
    log: (e) => observer?.(e.queryDurationMillis / 1000, e.level === 'error'),
    observer: () => observer,
    observe: (fn) => {
      observer = fn;
    },
  };
}

/** PostgreSQL, its queries timed from the wait for a pool connection (timed-driver.ts). */
class TimedPostgresDialect extends PostgresDialect {
  constructor(
    config: ConstructorParameters<typeof PostgresDialect>[0],
    private readonly observer: () => QueryObserver | null,
  ) {
    super(config);
  }

  override createDriver(): Driver {
    return new TimedDriver(super.createDriver(), this.observer);
  }
}

// int8 and numeric come back as strings by default; our bigints are epoch ms and sequence numbers.
pg.types.setTypeParser(20, (v) => Number(v));

const migrations: Record<string, Migration> = { '001_initial': m001, '002_sessions': m002, '003_session_node': m003, '004_access_policies': m004, '005_checkout': m005, '006_personal_credentials': m006, '007_target_accounts': m007, '008_jit_access_levels': m008, '009_webservices': m009, '010_openpsm': m010, '011_logon_tickets': m011, '012_ticket_display': m012, '013_session_sharing': m013, '014_oidc': m014, '015_ldap_directory': m015, '016_webauthn': m016, '017_audit_streaming': m017, '018_recording_retention': m018, '019_cluster': m019, '020_request_ids': m020, '021_recording_uploads': m021, '022_session_recording_format': m022, '023_totp_last_step': m023, '024_sessions_status_index': m024, '025_jit_leases': m025, '026_recording_keys': m026, '027_ticket_policy_version': m027, '028_secret_rotations': m028, '029_account_group_locks': m029 };
const provider: MigrationProvider = { getMigrations: async () => migrations };

export function openStore(opts: { dataDir: string; databaseUrl?: string }): Store {
  if (opts.databaseUrl) {
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 10, connectionTimeoutMillis: 10_000 });
    // An idle client losing its server must not crash the process.
    pool.on('error', () => {});
    const q = queryLog();
    const db = new Kysely<Database>({ dialect: new TimedPostgresDialect({ pool }, q.observer), plugins: [new CamelCasePlugin()] });
    return { db, kind: 'postgres', observeQueries: q.observe, close: () => db.destroy() };
  }
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const file = join(opts.dataDir, 'gatehouse.db');
  const sqlite = new SQLite(file);
  chmodSync(file, 0o600);
  sqlite.pragma('journal_mode = WAL');
  // Every commit reaches the disk before it is answered (the WAL is synced at each commit).
  // Said explicitly: this SQLite build defaults a file that is already in WAL mode to NORMAL,
  // so a restarted gateway would otherwise run without it. NORMAL survives a process crash but
  // not a power loss, which could undo a redeem (a single-use ticket usable again within its
  // lifetime) or the newest audit events; group commit (core/audit/group-commit.ts) is what
  // keeps the cost of a sync per commit low.
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('secure_delete = ON');
  const q = queryLog();
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }), plugins: [new CamelCasePlugin()], log: q.log });
  return { db, kind: 'sqlite', file, observeQueries: q.observe, close: () => db.destroy() };
}

/** The database could not be reached at start-up; the message is one line for the operator. */
export class DatabaseUnavailableError extends Error {
  constructor(detail: string) {
    super(`cannot connect to the database: ${detail}`);
  }
}

function describeConnectError(e: unknown): string {
  const err = e as Error & { code?: string; errors?: Error[] };
  // net reports a host with several addresses as an AggregateError with an empty message.
  const msg = err?.message || err?.errors?.map((x) => x.message).filter(Boolean).join('; ') || err?.code || String(e);
  return msg.split('\n')[0]!;
}

export async function migrate(db: Db): Promise<void> {
  try {
    await sql`select 1`.execute(db);
  } catch (e) {
    throw new DatabaseUnavailableError(describeConnectError(e));
  }
  // Migrations 004-006 (issue 11) are independent and may land in any order.
  const migrator = new Migrator({ db, provider, allowUnorderedMigrations: true });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? error}`);
  }
}

/** A unique or primary-key constraint refused an insert (PostgreSQL 23505, SQLite's constraint codes): someone else got there first. */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: string })?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
