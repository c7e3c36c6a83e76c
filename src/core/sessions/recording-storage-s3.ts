// Recordings in S3-compatible object storage (issue 16 point 2): the second RecordingStorage
// (recording-storage.ts), so every node of a cluster plays, exports, verifies, searches and
// deletes any recording, wherever its session ran.
// This file: the storage (reading, listing, deleting, recovery); one recording's upload is
// recording-s3-upload.ts.
//
// Writing: the session's writer keeps appending to this node's disk, but as a series of
// segment files in a spool directory (recording-spool.ts). Each full segment is sent as one
// part of a multipart upload while the session runs, sealed first when Gatehouse-side
// encryption is on (recording-envelope.ts); the part before the newest is kept on disk for
// the live view's backlog, then deleted. At the end the last segment goes as the last part
// and the upload is completed. So a node's disk holds at most about
// (2 + maxWaitingParts) × partSize per recording (see docs/operations.md).
//
// The upload's id and the parts sent are kept in recording_uploads (migration 021), so that
// a recording whose node was killed is completed by whoever ends its session (recovery.ts):
// from the parts uploaded, plus the spool's tail when it is this node's disk. One with no part
// uploaded yet is all in its node's spool: left for that node to complete when it is back.
//
// Failure: a part that cannot be uploaded (after the SDK's retries), or parts piling up
// faster than they leave, fails the recording like a stalled disk does (its session ends,
// fail closed, recording.failed says why). What was written stays in the spool and the
// uploaded parts stay in the bucket: completed at the end if the store answers again, or at
// the next start of this node (resumeUploads) — never dropped silently.
import type { RecordingS3Config } from '../../config.js';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import type { Store } from '../../store/db.js';
import type { DataKeys } from '../vault/datakeys.js';
import type { AppenderOptions } from './appender.js';
import { AppError } from '../errors.js';
import { dropRecordingKeys, recordingKeyIds, sealingKey } from './recording-keys.js';
import { envelopeHeader, envelopeKeyId, FIRST_FRAME_SPAN, FrameSealer, isEnvelope, openEnvelope, provenKeyId } from './recording-envelope.js';
import { adoptSpooled, completeFromRow, MAX_PARTS, s3ErrorText, S3Upload, type S3Host } from './recording-s3-upload.js';
import { GZIP_SUFFIX, isGzipPath, sha256Gunzipped, sha256Stream } from './recording-gzip.js';
import { recordingNames, recordingRelPath } from './recording-path.js';
import { parseRecordingName, type RecordingCompression, type RecordingStorage } from './recording-storage.js';
import type { RecordingWriter } from './recording-writer.js';

/** The settings (config.ts's RecordingS3Config: endpoint, bucket, prefix, keys, SSE, encryption, part size, spool). */
export interface S3StorageSettings extends RecordingS3Config {
  /** Full segments waiting for their upload before the recording fails closed (default 2). */
  maxWaitingParts?: number;
}

/** Why object storage cannot be used, said plainly (no stack, no secret). */
export class ObjectStorageUnavailable extends Error {}

export { s3ErrorText };

/** A recovery work copy not written to for this long is left over from an earlier recovery (a copy is written as it is fetched, then read at once). */
const STALE_WORK_COPY_MS = 10 * 60_000;

export class S3RecordingStorage implements RecordingStorage, S3Host {
  readonly kind = 's3';
  readonly readsLive = false;
  readonly client: S3Client;
  readonly spoolRoot: string;

  constructor(
    readonly settings: S3StorageSettings,
    readonly compression: RecordingCompression,
    private readonly deps: { store: Store; dataKeys: DataKeys; node: string; log: Logger; writer?: RecordingWriter },
  ) {
    this.spoolRoot = resolve(settings.spoolDir);
    this.client = new S3Client({
      region: settings.region,
      forcePathStyle: settings.forcePathStyle,
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      ...(settings.accessKeyId && settings.secretAccessKey ? { credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey } } : {}),
      // Checksums only where the API requires them: S3-compatible servers differ in the flexible ones.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
    });
  }

  /** At start: the bucket answers (a clear error otherwise), the spool exists. */
  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.settings.bucket }));
    } catch (e) {
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      const where = this.settings.endpoint ?? `AWS S3 (${this.settings.region})`;
      const why = status === 404 ? 'does not exist' : status === 403 ? 'refuses these credentials' : `cannot be reached (${s3ErrorText(e)})`;
      throw new ObjectStorageUnavailable(`recording storage: bucket "${this.settings.bucket}" at ${where} ${why}`);
    }
    mkdirSync(this.spoolRoot, { recursive: true, mode: 0o700 });
  }

  /** For /healthz: the bucket answers now (throws otherwise). */
  async probe(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.settings.bucket }));
  }

  key(rel: string): string {
    return this.settings.prefix + rel;
  }

  nameFor(sessionId: string, startedAt: number, ext: string): string {
    return recordingRelPath(sessionId, startedAt, ext) + (this.compression === 'gzip' ? GZIP_SUFFIX : '');
  }

  writeTarget(rel: string): { path: string; options: AppenderOptions } {
    const named = parseRecordingName(rel);
    if (!named) throw new Error(`not a recording name: ${rel}`);
    const base = this.spoolPath(rel);
    const spool = new S3Upload(this, rel, named.sessionId, base);
    return { path: base, options: { gzip: isGzipPath(rel), spool, ...(this.deps.writer ? { writer: this.deps.writer } : {}) } };
  }

  /** Where a recording's segments wait: `<spool>/<rel>.<n>`. */
  spoolPath(rel: string): string {
    const p = resolve(this.spoolRoot, rel);
    if (p === this.spoolRoot || !p.startsWith(this.spoolRoot + sep)) throw new Error(`a recording name outside the spool: ${rel}`);
    return p;
  }

  async find(sessionId: string, startedAt: number): Promise<string | null> {
    for (const rel of recordingNames(sessionId, startedAt)) if (await this.exists(rel)) return rel;
    return null;
  }

  /** A recording of the session in this node's spool that no row names (adoptSpooled), given a row now. */
  private async adoptSpooled(sessionId: string, startedAt: number): Promise<{ rel: string; node: string } | undefined> {
    return (await adoptSpooled(this, recordingNames(sessionId, startedAt), sessionId, (r) => this.exists(r))) ?? undefined;
  }

  async exists(rel: string): Promise<boolean> {
    if (!parseRecordingName(rel)) return false;
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: this.key(rel) }));
      return true;
    } catch (e) {
      if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
      throw e;
    }
  }

  /** The object as stored, decrypted when Gatehouse sealed it (still gzip members when compressed). */
  async readStored(rel: string): Promise<Readable> {
    const r = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.key(rel) }));
    const body = r.Body as Readable;
    const { head, stream } = await peek(body, 6);
    if (isEnvelope(head)) return openEnvelope(stream, rel, (id) => this.deps.dataKeys.get(id));
    // Without the header, where Gatehouse stored it encrypted: another object was put in its
    // place. Not played as if it were the recording (fail closed); verify reports it unreadable.
    if ((await recordingKeyIds(this.store, rel)).length) {
      stream.destroy();
      throw new AppError(409, 'recording_replaced', 'this recording was stored encrypted, but the object in the bucket is not: it was replaced there, and is not played');
    }
    return stream;
  }

  async read(rel: string): Promise<Readable> {
    const stored = await this.readStored(rel);
    if (!isGzipPath(rel)) return stored;
    const gunzip = createGunzip();
    stored.on('error', (e) => gunzip.destroy(e));
    return stored.pipe(gunzip);
  }

  async sha256(rel: string): Promise<string> {
    // Strict where reading is lenient: nothing may follow a compressed recording's last member.
    const stored = await this.readStored(rel);
    return isGzipPath(rel) ? sha256Gunzipped(stored) : sha256Stream(stored);
  }

  /**
   * Deletes the object and, when Gatehouse sealed it, its data key: a recording's key serves
   * that recording only, so a row left behind would be dead weight every master key rotation
   * rewraps. The key goes after the object (a key deleted first would leave an object nobody
   * can read, should the delete fail).
   */
  async remove(rel: string): Promise<boolean> {
    if (!(await this.exists(rel))) return false;
    const made = await recordingKeyIds(this.store, rel);
    // A recording stored before migration 026 has no row: its key is the one proven to open it.
    const proven = made.length ? null : await this.sealedWith(rel);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.key(rel) }));
    const dataKeyIds = proven ? [proven] : made;
    await dropRecordingKeys(this.store, this.dataKeys, rel, dataKeyIds).catch((e: Error) => this.log.warn({ rel, dataKeyIds, err: e.message }, 'recording deleted, its data keys not'));
    return true;
  }

  /**
   * The data key an object is sealed with, null when it is not sealed (or not by the key its
   * header names: provenKeyId). Its header and first frame, read with a ranged GET.
   */
  private async sealedWith(rel: string): Promise<string | null> {
    const r = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.key(rel), Range: `bytes=0-${FIRST_FRAME_SPAN - 1}` }));
    const chunks: Buffer[] = [];
    for await (const c of r.Body as Readable) chunks.push(c as Buffer);
    const head = Buffer.concat(chunks);
    const id = await provenKeyId(head, rel, (k) => this.dataKeys.find(k));
    const named = id ? null : envelopeKeyId(head);
    if (named) this.log.warn({ rel, named }, 'an encrypted recording names a data key that does not open it (the object was changed in the bucket): that key is left alone');
    return id;
  }

  async list(): Promise<{ rel: string; sessionId: string }[]> {
    const out: { rel: string; sessionId: string }[] = [];
    let token: string | undefined;
    do {
      const r = await this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: this.settings.prefix, ...(token ? { ContinuationToken: token } : {}) }));
      for (const o of r.Contents ?? []) {
        const rel = o.Key!.slice(this.settings.prefix.length);
        const named = parseRecordingName(rel);
        if (named) out.push({ rel, sessionId: named.sessionId });
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  /** No recording lives on a node's disk (only spooled segments of live ones). */
  localPath(): string | null {
    return null;
  }

  async stop(): Promise<void> {
    await this.deps.writer?.stop();
    this.client.destroy();
  }

  /** The headers every new object gets: server-side encryption when asked for. */
  sseParams(): { ServerSideEncryption?: ServerSideEncryption; SSEKMSKeyId?: string } {
    const s = this.settings;
    if (!s.sse) return {};
    return { ServerSideEncryption: s.sse as ServerSideEncryption, ...(s.sse === 'aws:kms' && s.kmsKeyId ? { SSEKMSKeyId: s.kmsKeyId } : {}) };
  }

  get store(): Store {
    return this.deps.store;
  }

  get dataKeys(): DataKeys {
    return this.deps.dataKeys;
  }

  get node(): string {
    return this.deps.node;
  }

  get log(): Logger {
    return this.deps.log;
  }

  /**
   * At start: this node's uploads that a crash or an unreachable store left unfinished, and
   * whose session was already ended (by this node before it stopped, or by another node), are
   * completed from their parts and this node's spool. Sessions still 'live' are left to
   * crash recovery (recover()), which repairs their recording too.
   */
  async resumeUploads(): Promise<number> {
    const rows = await this.store.db
      .selectFrom('recordingUploads')
      .innerJoin('sessions', 'sessions.id', 'recordingUploads.sessionId')
      .select(['recordingUploads.rel', 'recordingUploads.sessionId'])
      .where('recordingUploads.node', '=', this.node)
      .where('sessions.status', '=', 'ended')
      .execute();
    let n = 0;
    for (const r of rows) {
      try {
        if ((await completeFromRow(this, r.rel, true)) !== 'completed') continue;
        n++;
        this.log.warn({ sessionId: r.sessionId, recording: r.rel }, 'an unfinished recording upload was completed');
      } catch (e) {
        this.log.error({ sessionId: r.sessionId, recording: r.rel, err: { message: s3ErrorText(e) } }, 'an unfinished recording upload could not be completed; kept for the next start');
      }
    }
    await this.dropOrphanSegments();
    return n;
  }

  /**
   * Spooled segments whose upload is no longer anyone's (another node completed it from the
   * parts while this one was dead): what they held past those parts is lost; said in the log.
   * A live session's are left alone: the workers of a machine share its spool, and a session
   * writes its first segment before its upload (and row) exists, which a slow store may take
   * minutes to start.
   */
  private async dropOrphanSegments(): Promise<void> {
    if (!existsSync(this.spoolRoot)) return;
    const open = new Set((await this.store.db.selectFrom('recordingUploads').select('rel').execute()).map((r) => r.rel));
    const live = new Set((await this.store.db.selectFrom('sessions').select('id').where('status', '=', 'live').execute()).map((r) => r.id));
    for (const e of await readdir(this.spoolRoot, { recursive: true, withFileTypes: true })) {
      if (!e.isFile()) continue;
      const dir = e.parentPath ?? (e as unknown as { path: string }).path;
      const path = join(dir, e.name);
      const m = /^(.*)\.(\d+)$/.exec(path.slice(this.spoolRoot.length + 1));
      const named = m ? parseRecordingName(m[1]!) : null;
      if (!m || !named || open.has(m[1]!) || live.has(named.sessionId)) continue;
      const { size } = await stat(path);
      await unlink(path).catch(() => undefined);
      this.log.warn({ recording: m[1], segment: Number(m[2]), bytes: size }, 'a spooled segment of a recording completed by another node was dropped (it had not been uploaded)');
    }
  }

  /**
   * Crash recovery of one session (recovery.ts): its unfinished upload completed (with this
   * node's spool tail when it is here), then the object fetched into a local work file that
   * recovery repairs and hashes; `commit` stores the repaired file back when repair changed
   * it, and removes the work file. Null when there is no recording of the session.
   */
  async recover(sessionId: string, startedAt: number): Promise<{ rel: string; path: string; commit: () => Promise<void> } | null> {
    const row =
      (await this.store.db.selectFrom('recordingUploads').select(['rel', 'node']).where('sessionId', '=', sessionId).executeTakeFirst()) ??
      (await this.adoptSpooled(sessionId, startedAt));
    if (row) {
      let done: Awaited<ReturnType<typeof completeFromRow>>;
      try {
        done = await completeFromRow(this, row.rel, row.node === this.node);
      } catch (e) {
        // Another node recovering the same dead node's session may have completed the upload
        // first (this one's parts or completion then fail): its row is gone, the object is there.
        if (await this.store.db.selectFrom('recordingUploads').select('rel').where('rel', '=', row.rel).executeTakeFirst()) throw e;
        done = 'none';
      }
      // No part of it reached the store: it is all on its node's disk, for that node to seal.
      if (done === 'unsent') return null;
    }
    const rel = row?.rel ?? (await this.find(sessionId, startedAt));
    if (!rel) return null;
    const workDir = join(this.spoolRoot, '.recover');
    const path = join(workDir, `${sessionId}-${Date.now()}-${rel.split('/').pop()}`);
    await mkdir(workDir, { recursive: true, mode: 0o700 });
    // A work copy an earlier recovery of this session left (the recording was unreadable, or
    // storing it back failed): a plain copy of the recording, and one more at every start. Not
    // one in use: the workers of a machine share the spool, and two may recover the same dead
    // node's session at once; a copy untouched for STALE_WORK_COPY_MS is no one's.
    for (const name of await readdir(workDir)) {
      if (!name.startsWith(`${sessionId}-`)) continue;
      const at = await stat(join(workDir, name)).then((st) => st.mtimeMs, () => Infinity);
      if (Date.now() - at > STALE_WORK_COPY_MS) await rm(join(workDir, name), { force: true });
    }
    // Streamed to the work file, never held whole: a crashed session's recording may be many
    // gigabytes, and a node that ran out of memory recovering it would crash at every start.
    const h = createHash('sha256');
    const hashing = new Transform({
      transform(c: Buffer, _e, cb) {
        h.update(c);
        cb(null, c);
      },
    });
    try {
      await pipeline(await this.readStored(rel), hashing, createWriteStream(path, { mode: 0o600 }));
    } catch (e) {
      await rm(path, { force: true });
      throw e;
    }
    const before = h.digest('hex');
    return {
      rel,
      path,
      commit: async () => {
        try {
          if ((await sha256Stream(createReadStream(path))) !== before) await this.putFile(rel, path);
        } finally {
          await rm(path, { force: true });
        }
      },
    };
  }

  /**
   * Stores a repaired recording from its work file, sealed like an uploaded one, with the data
   * key it was sealed with: a new key would leave that one serving nothing (and two nodes
   * recovering the same session at once would leave one such key each). One request when it
   * fits in a part; otherwise a multipart upload read from the file part by part, so memory
   * holds one part, and parts grow so that S3's 10,000 are enough.
   */
  private async putFile(rel: string, path: string): Promise<void> {
    const { bucket } = this.settings;
    const key = this.key(rel);
    const dk = await sealingKey(this.store, this.dataKeys, rel, { sealNew: this.settings.encryption === 'gatehouse', opens: () => this.sealedWith(rel) });
    const sealer = dk ? new FrameSealer(dk.key, rel) : null;
    const header = dk ? envelopeHeader(dk.id) : Buffer.alloc(0);
    const size = (await stat(path)).size;
    const partBytes = Math.max(this.settings.partBytes, Math.ceil(size / (MAX_PARTS - 1)));
    const sealed = (data: Buffer, first: boolean, last: boolean) => (sealer ? Buffer.concat([first ? header : Buffer.alloc(0), sealer.seal(data, last)]) : data);
    if (size <= partBytes) {
      const body = sealed(await readFile(path), true, true);
      await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length, ...this.sseParams() }));
      return;
    }
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: 'application/octet-stream', ...this.sseParams() }));
    const parts: { PartNumber: number; ETag: string }[] = [];
    const file = await open(path, 'r');
    try {
      for (let off = 0; off < size; off += partBytes) {
        const data = Buffer.allocUnsafe(Math.min(partBytes, size - off));
        const { bytesRead } = await file.read(data, 0, data.length, off);
        if (bytesRead !== data.length) throw new Error(`the recovery work file ${path} shrank while it was stored`);
        const body = sealed(data, off === 0, off + data.length >= size);
        const PartNumber = parts.length + 1;
        const r = await this.client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber, Body: body, ContentLength: body.length }));
        parts.push({ PartNumber, ETag: r.ETag! });
      }
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (e) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => undefined);
      throw e;
    } finally {
      await file.close();
    }
  }
}

/** Reads at least `n` bytes of a stream (or all of it) and gives them back with the whole stream. */
async function peek(body: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const it = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first: Buffer[] = [];
  let got = 0;
  let done = false;
  while (got < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    first.push(r.value);
    got += r.value.length;
  }
  const head = Buffer.concat(first);
  async function* all(): AsyncGenerator<Buffer> {
    if (head.length) yield head;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  const stream = Readable.from(all(), { objectMode: false });
  stream.on('close', () => body.destroy());
  return { head, stream };
}

/** Bytes this node's spool holds (tests sample it; metrics may). */
export async function spoolBytes(root: string): Promise<number> {
  if (!existsSync(root)) return 0;
  let n = 0;
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const dir = e.parentPath ?? (e as unknown as { path: string }).path;
    n += (await stat(join(dir, e.name)).catch(() => ({ size: 0 }))).size;
  }
  return n;
}
