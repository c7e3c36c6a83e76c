// Byte-level scans of what a database keeps on disk: the SQLite files in a data dir,
// and for PostgreSQL a pg_dump of the database plus the cluster's files for it (heap
// files under base/<oid> and the write-ahead log). Used by the plaintext tests.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

export interface Blob {
  name: string;
  data: Buffer;
}

/** Every encoding a value is looked for in: UTF-8 and UTF-16LE. */
export function encodings(value: string): { enc: string; bytes: Buffer }[] {
  return [
    { enc: 'utf8', bytes: Buffer.from(value, 'utf8') },
    { enc: 'utf16le', bytes: Buffer.from(value, 'utf16le') },
  ];
}

/** Where (file and encoding) a value occurs in the blobs; empty when it is nowhere. */
export function occurrences(blobs: Blob[], value: string | Buffer): string[] {
  const forms = typeof value === 'string' ? encodings(value) : [{ enc: 'raw', bytes: value }];
  const out: string[] = [];
  for (const b of blobs) for (const f of forms) if (b.data.indexOf(f.bytes) >= 0) out.push(`${b.name} (${f.enc})`);
  return out;
}

/** Fails with every value that occurs anywhere, and where. */
export function leaks(blobs: Blob[], values: Record<string, string | Buffer>): string[] {
  const out: string[] = [];
  for (const [label, v] of Object.entries(values)) {
    const where = occurrences(blobs, v);
    if (where.length) out.push(`${label} found in ${where.join(', ')}`);
  }
  return out;
}

export function sqliteFiles(dataDir: string): Blob[] {
  const out: Blob[] = [];
  for (const f of ['gatehouse.db', 'gatehouse.db-wal', 'gatehouse.db-shm', 'gatehouse.db-journal']) {
    const p = join(dataDir, f);
    if (existsSync(p)) out.push({ name: f, data: readFileSync(p) });
  }
  return out;
}

function filesUnder(dir: string, prefix: string): Blob[] {
  const out: Blob[] = [];
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    let st;
    try {
      st = statSync(p);
    } catch {
      continue; // removed meanwhile (WAL recycling, a dropped relation)
    }
    if (!st.isFile()) continue;
    try {
      out.push({ name: `${prefix}/${f}`, data: readFileSync(p) });
    } catch {
      /* vanished between stat and read */
    }
  }
  return out;
}

/**
 * The cluster files that hold one database: base/<oid>/* and pg_wal/*. The data directory
 * and oid are asked from the server (the cluster is a mktemp dir in CI). A CHECKPOINT is
 * forced first so what sits in shared buffers reaches the heap files too.
 */
export async function pgClusterFiles(url: string): Promise<Blob[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const dir = (await c.query<{ data_directory: string }>('show data_directory')).rows[0]!.data_directory;
    const oid = (await c.query<{ oid: number }>('select oid from pg_database where datname = current_database()')).rows[0]!.oid;
    await c.query('checkpoint');
    return [...filesUnder(join(dir, 'base', String(oid)), `base/${oid}`), ...filesUnder(join(dir, 'pg_wal'), 'pg_wal')];
  } finally {
    await c.end();
  }
}

/** pg_dump of the database, using the binary that matches the server's major version when installed. */
export async function pgDump(url: string): Promise<Blob> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const major = Math.floor(Number((await c.query<{ v: string }>(`select current_setting('server_version_num') as v`)).rows[0]!.v) / 10000);
  await c.end();
  const candidates = [`/usr/lib/postgresql/${major}/bin/pg_dump`, 'pg_dump'];
  const bin = candidates.find((b) => b === 'pg_dump' || existsSync(b))!;
  const { stdout } = await promisify(execFile)(bin, ['--no-owner', '--no-privileges', `--dbname=${url}`], { encoding: 'buffer', maxBuffer: 512 * 1024 * 1024 });
  return { name: 'pg_dump', data: stdout as Buffer };
}
