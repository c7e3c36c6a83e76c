// Checks recording files against their `recording.seal` audit events: the SHA-256 sealed
// into the hash chain when the session ended, recomputed over the file as it is now. The
// sessions table's copy of the hash is not used: only the chain is tamper-evident.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { Store } from '../../store/db.js';
import { notFound } from '../errors.js';
import { parseJson } from '../util.js';
import { GHREC_FILE_EXTENSION } from './ghrec.js';
import { sha256File } from './recording-repair.js';
import { parseRecordingName, plainName, type RecordingStorage } from './recording-storage.js';

export type RecordingStatus = 'ok' | 'differs' | 'missing' | 'unsealed' | 'live' | 'deleted';

export interface RecordingCheck {
  sessionId: string | null;
  /** Relative to the recordings directory. */
  file: string;
  status: RecordingStatus;
  format: string | null;
  /** What the seal event says, and what the file hashes to now (null when missing or live). */
  sealedSha256: string | null;
  sha256: string | null;
  /** The seal event's place in the chain. */
  sealSeq: number | null;
  message: string;
}

export interface RecordingQuery {
  /** These sessions; each must exist and have a recording. */
  sessionIds?: string[];
  /** Only the seals with this hash (to identify a copy of a recording). */
  sha256?: string;
  /** Every seal, and every recording file in the directory without one. */
  all?: boolean;
}

export const isProblem = (s: RecordingStatus): boolean => s === 'differs' || s === 'missing' || s === 'unsealed';

interface Seal {
  seq: number;
  sessionId: string;
  file: string;
  sha256: string | null;
  format: string | null;
}

/** `recordingsDir`: the local recordings directory, or a storage holding them elsewhere (object storage). */
export async function verifyRecordings(store: Store, recordingsDir: string | RecordingStorage, q: RecordingQuery): Promise<RecordingCheck[]> {
  const storage = typeof recordingsDir === 'string' ? null : recordingsDir;
  const root = resolve(typeof recordingsDir === 'string' ? recordingsDir : '.');
  let sealQuery = store.db.selectFrom('auditEvents').select(['seq', 'targetId', 'details']).where('action', '=', 'recording.seal');
  if (q.sessionIds && !q.all) sealQuery = sealQuery.where('targetId', 'in', q.sessionIds.length ? q.sessionIds : ['']);
  const seals = new Map<string, Seal>();
  for (const r of await sealQuery.orderBy('seq').execute()) {
    const d = parseJson<{ file?: unknown; sha256?: unknown; format?: unknown }>(r.details, {});
    if (!r.targetId || typeof d.file !== 'string') continue;
    // A later seal of the same session (there should be none) replaces an earlier one.
    seals.set(r.targetId, { seq: r.seq, sessionId: r.targetId, file: d.file, sha256: typeof d.sha256 === 'string' ? d.sha256 : null, format: typeof d.format === 'string' ? d.format : null });
  }
  // Recordings retention deleted (retention.ts): their files are meant to be gone.
  let delQuery = store.db.selectFrom('auditEvents').select(['seq', 'targetId', 'details']).where('action', '=', 'recording.delete');
  if (q.sessionIds && !q.all) delQuery = delQuery.where('targetId', 'in', q.sessionIds.length ? q.sessionIds : ['']);
  const deleted = new Map<string, number>();
  for (const r of await delQuery.execute()) {
    const d = parseJson<{ file?: unknown }>(r.details, {});
    if (r.targetId && typeof d.file === 'string') deleted.set(`${r.targetId}\n${d.file}`, r.seq);
  }
  let wanted = [...seals.values()];
  if (q.sha256) wanted = wanted.filter((s) => s.sha256 === q.sha256);
  const out: RecordingCheck[] = [];
  for (const s of wanted) {
    const c = storage ? await checkStoredSeal(storage, s) : await checkSeal(root, s);
    const del = deleted.get(`${s.sessionId}\n${s.file}`);
    out.push(c.status === 'missing' && del !== undefined ? { ...c, status: 'deleted', message: `deleted by retention at audit event ${del}` } : c);
  }
  if (q.sha256 && !q.all && !q.sessionIds) return out;

  // Recordings without a seal: sessions asked for by id, or (with all) any file in the directory.
  const files = storage ? (await storage.list()).map((f) => ({ id: f.sessionId, rel: f.rel })) : await recordingFiles(root);
  const sealedFiles = new Set([...seals.values()].map((s) => s.file));
  const unsealed: { id: string; rel: string | null }[] = q.all
    ? files.filter((f) => !sealedFiles.has(f.rel))
    : (q.sessionIds ?? []).filter((id) => !seals.has(id)).map((id) => ({ id, rel: files.find((f) => f.id === id)?.rel ?? null }));
  const ids = [...new Set(unsealed.map((u) => u.id))];
  const rows = ids.length ? await store.db.selectFrom('sessions').select(['id', 'status', 'recording']).where('id', 'in', ids).execute() : [];
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const u of unsealed) {
    const row = byId.get(u.id);
    const rel = u.rel ?? row?.recording ?? null;
    if (!rel) throw notFound(row ? `recording of session ${u.id}` : `session ${u.id}`);
    const live = row?.status === 'live';
    out.push({
      sessionId: row ? u.id : null,
      file: rel,
      status: live ? 'live' : 'unsealed',
      format: formatOf(rel),
      sealedSha256: null,
      sha256: null,
      sealSeq: null,
      message: live ? 'still recording: sealed when the session ends' : row ? 'no recording.seal event in the audit trail for this session' : 'no session and no recording.seal event name this file',
    });
  }
  return out.sort((a, b) => a.file.localeCompare(b.file));
}

async function checkSeal(root: string, s: Seal): Promise<RecordingCheck> {
  const base = { sessionId: s.sessionId, file: s.file, format: s.format, sealedSha256: s.sha256, sealSeq: s.seq };
  const path = resolve(root, s.file);
  if (path !== root && !path.startsWith(root + sep)) {
    return { ...base, status: 'missing', sha256: null, message: 'the seal names a file outside the recordings directory' };
  }
  if (!existsSync(path)) return { ...base, status: 'missing', sha256: null, message: `sealed at audit event ${s.seq}, but the file is gone` };
  return compareWithSeal(base, s, await hashOrWhy(() => sha256File(path)));
}

/** Like checkSeal, for a recording in object storage (read through the storage: decrypted, inflated). */
async function checkStoredSeal(storage: RecordingStorage, s: Seal): Promise<RecordingCheck> {
  const base = { sessionId: s.sessionId, file: s.file, format: s.format, sealedSha256: s.sha256, sealSeq: s.seq };
  if (!parseRecordingName(s.file) || !(await storage.exists(s.file))) return { ...base, status: 'missing', sha256: null, message: `sealed at audit event ${s.seq}, but the recording is gone from ${storage.kind} storage` };
  return compareWithSeal(base, s, await hashOrWhy(() => storage.sha256(s.file)));
}

type CheckBase = Pick<RecordingCheck, 'sessionId' | 'file' | 'format' | 'sealedSha256' | 'sealSeq'>;

function compareWithSeal(base: CheckBase, s: Seal, hash: Hashed): RecordingCheck {
  // Never compared: a seal without a hash (null) must not match a file that cannot be read.
  if ('unreadable' in hash) return { ...base, status: 'differs', sha256: null, message: `cannot be read (${hash.unreadable}), so it does not match the seal at audit event ${s.seq}` };
  if (hash.sha256 === s.sha256) return { ...base, status: 'ok', sha256: hash.sha256, message: `matches the seal at audit event ${s.seq}` };
  return { ...base, status: 'differs', sha256: hash.sha256, message: `does not match the seal at audit event ${s.seq} (changed since the session ended)` };
}

export type Hashed = { sha256: string } | { unreadable: string };

/**
 * A recording's hash, or why it could not be taken. Damage is what verification is there to
 * find: a compressed recording changed or torn after its seal (corrupt deflate data, a cut
 * member, bytes after the last one), an encrypted object that no longer opens, or a file the
 * verifier may not read makes the hash throw; that recording is reported, and the others are
 * still checked.
 */
export async function hashOrWhy(hash: () => Promise<string>): Promise<Hashed> {
  try {
    return { sha256: await hash() };
  } catch (e) {
    return { unreadable: readError(e) };
  }
}

/** A few words for a report line, never a stack: zlib's own words say what is wrong with the data. */
function readError(e: unknown): string {
  const err = e as { code?: unknown; message?: unknown } | null;
  const message = String(err?.message ?? e).split('\n')[0]!.slice(0, 160);
  return typeof err?.code === 'string' && err.code.startsWith('Z_') ? `not valid gzip: ${message}` : message;
}

/** Recording files under the directory, with the session id their name carries. */
async function recordingFiles(root: string): Promise<{ id: string; rel: string }[]> {
  if (!existsSync(root)) return [];
  const out: { id: string; rel: string }[] = [];
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    const named = e.isFile() ? parseRecordingName(e.name) : null;
    if (!named) continue;
    const dir = e.parentPath ?? (e as unknown as { path: string }).path;
    out.push({ id: named.sessionId, rel: relative(root, join(dir, e.name)) });
  }
  return out;
}

const formatOf = (rel: string): string => (plainName(rel).endsWith(GHREC_FILE_EXTENSION) ? 'ghrec' : 'asciicast-v2');
