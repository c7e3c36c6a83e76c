// Byte-level scans of what a database keeps on disk: the SQLite files in a data dir,
// and for PostgreSQL a pg_dump of the database plus the cluster's files for it (heap
// files under base/<oid> and the write-ahead log). Used by the plaintext tests. And the
// wider scan of what went toward a client (wireLeaks): more encodings, base64 included.
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

/**
 * The base64 text of `bytes` as it shows inside a longer base64 stream: one needle per
 * alignment (the value starting 0, 1 or 2 bytes into a 3-byte group), each keeping only
 * the characters made of the value's own bits (the edge characters also carry the
 * neighbours' bits, so they are trimmed). Standard and URL-safe alphabets.
 */
export function base64Needles(bytes: Buffer): string[] {
  const out = new Set<string>();
  for (let k = 0; k < 3; k++) {
    const b64 = Buffer.concat([Buffer.alloc(k), bytes]).toString('base64');
    const needle = b64.slice(Math.ceil((8 * k) / 6), Math.floor((8 * (k + bytes.length)) / 6));
    if (needle.length < 4) continue; // too short to mean anything
    out.add(needle);
    out.add(needle.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return [...out];
}

/**
 * Every form a secret could take on a wire toward a client: its UTF-8 (ASCII) bytes,
 * Latin-1 when that differs, UTF-16LE (RDP, NTLM), and the base64 of the UTF-8 and the
 * UTF-16LE bytes at every alignment (JSON, data: URLs, SASL/NTLM blobs).
 */
export function wireForms(value: string): { enc: string; bytes: Buffer }[] {
  const utf8 = Buffer.from(value, 'utf8');
  const utf16 = Buffer.from(value, 'utf16le');
  const forms = [
    { enc: 'utf8', bytes: utf8 },
    { enc: 'utf16le', bytes: utf16 },
  ];
  if (/^[\x00-\xff]*$/.test(value) && /[\x80-\xff]/.test(value)) forms.push({ enc: 'latin1', bytes: Buffer.from(value, 'latin1') });
  base64Needles(utf8).forEach((n, i) => forms.push({ enc: `base64 of utf8 #${i}`, bytes: Buffer.from(n, 'ascii') }));
  base64Needles(utf16).forEach((n, i) => forms.push({ enc: `base64 of utf16le #${i}`, bytes: Buffer.from(n, 'ascii') }));
  return forms;
}

/** Terminal output as a person reads it: escape sequences and control characters removed (an echo split by colour codes still spells the secret). */
export function screenText(data: Buffer): Buffer {
  return Buffer.from(
    data
      .toString('utf8')
      .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, '')
      .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '')
      .replace(/\x1b[@-_]/g, '')
      .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, ''),
    'utf8',
  );
}

/**
 * Where a secret occurs in what went toward a client, in any of its wire forms, in the
 * bytes as they are and in their screen text. Empty when it is nowhere.
 */
export function wireLeaks(blobs: Blob[], values: Record<string, string>): string[] {
  const out: string[] = [];
  for (const [label, v] of Object.entries(values)) {
    const forms = wireForms(v);
    for (const b of blobs) {
      for (const f of forms) if (b.data.indexOf(f.bytes) >= 0) out.push(`${label} found in ${b.name} (${f.enc})`);
      if (!out.some((o) => o.startsWith(`${label} found in ${b.name} `)) && screenText(b.data).indexOf(Buffer.from(v, 'utf8')) >= 0) out.push(`${label} found in ${b.name} (screen text)`);
    }
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
