// One recording's multipart upload (recordings in object storage, recording-storage-s3.ts):
// fed segment by segment by its segmented writer (recording-spool.ts), and completed at the
// end — or, after a crash or while the store was failing, from its recording_uploads row
// (migration 021) and what the spool still holds. Knows the storage only through S3Host, so
// the storage file imports this one and not the other way round.
import { readdir, readFile, stat, unlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, HeadObjectCommand, UploadPartCommand, type S3Client, type ServerSideEncryption } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import type { Store } from '../../store/db.js';
import type { DataKeys } from '../vault/datakeys.js';
import { now } from '../util.js';
import { dropRecordingKeys, sealingKey } from './recording-keys.js';
import { envelopeHeader, FrameSealer } from './recording-envelope.js';
import { isGzipPath, memberIndex } from './recording-gzip.js';
import type { RecordingSpool, SpoolEvents } from './spool-contract.js';

/** What an upload needs of its storage. */
export interface S3Host {
  readonly client: S3Client;
  readonly settings: { bucket: string; encryption: 'none' | 'gatehouse'; partBytes: number; maxWaitingParts?: number };
  readonly store: Store;
  readonly dataKeys: DataKeys;
  readonly node: string;
  readonly log: Logger;
  key(rel: string): string;
  spoolPath(rel: string): string;
  sseParams(): { ServerSideEncryption?: ServerSideEncryption; SSEKMSKeyId?: string };
}

export interface PartDone {
  n: number;
  etag: string;
  /** Spool bytes the part held (before sealing). */
  bytes: number;
  /** Encrypted: frames sealed up to and including this part (the next frame's index). */
  frames: number;
  /**
   * Encrypted: this part ends with the final frame (the last segment, sent by finish()). When
   * the completion after it failed, completing from the row must add nothing after it: a
   * second final frame would make the object unreadable ("bytes after its final frame").
   */
  final?: boolean;
}

/** S3's most parts in one multipart upload. */
export const MAX_PARTS = 10_000;
/** Parts of one size before the size doubles (see partBytesAt). */
export const PARTS_PER_SIZE = 1_000;
/** The largest part the doubling reaches (GATEHOUSE_S3_PART_MIB's maximum too): a part is read whole into memory. */
export const MAX_PART_BYTES = 1024 * 1024 * 1024;

/**
 * The size of segment `index` (part index+1): the configured size for the first 1,000 parts,
 * doubling every 1,000 parts up to 1 GiB. With a fixed size S3's 10,000-part limit would end a
 * recording at 80 GB (8 MiB parts): a long graphical session could reach that, its last part
 * refused at every attempt and the upload never completed. Doubling reaches ~4 TB with 8 MiB
 * parts (S3's largest object is 5 TB) while a short session's parts, and so the spool's bound
 * per session, stay the configured size. The last part allowed is never cut (Infinity).
 */
export function partBytesAt(base: number, index: number): number {
  if (index >= MAX_PARTS - 1) return Infinity;
  const doubled = base * 2 ** Math.floor(index / PARTS_PER_SIZE);
  return Math.max(base, Math.min(doubled, MAX_PART_BYTES));
}

/** What an S3 error says, briefly (its name and HTTP status, or the socket error). */
export function s3ErrorText(e: unknown): string {
  const err = e as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const status = err.$metadata?.httpStatusCode;
  const what = err.code ?? err.name ?? 'Error';
  return `${what}${status ? ` (HTTP ${status})` : ''}${err.message && err.message !== what ? `: ${err.message}` : ''}`;
}

/**
 * Completes an upload from its row: the parts sent, then (when `withSpool`) the segments this
 * node's spool still holds after them (a torn gzip tail cut to its whole members), then the
 * final frame when encrypted (unless the last part sent already ends with it: finish() sent
 * it, and only the completion failed). Removes the row and the spool files.
 * 'none' when there was no row (someone completed it already); 'unsent' when no part was sent
 * and the spool is another node's: the whole recording is on that node's disk, so the upload
 * and its row are left for that node to complete when it is back (sealLateRecordings at its
 * start, or its own end of the session when it was only paused). Aborting it would drop what
 * that node holds at its next start.
 */
export async function completeFromRow(s3: S3Host, rel: string, withSpool: boolean): Promise<'completed' | 'none' | 'unsent' | 'lost'> {
  try {
    return await completeFromRowOnce(s3, rel, withSpool);
  } catch (e) {
    if (!isNoSuchUpload(e)) throw e;
    // The store no longer has the upload: a lifecycle rule aborted it, or it was completed and
    // the answer lost (some stores answer a repeated completion so). Tried again it fails the
    // same way for ever, holding its row and spool: settled now, by whether the object is there.
    const row = await s3.store.db.selectFrom('recordingUploads').select(['sessionId']).where('rel', '=', rel).executeTakeFirst();
    if (!row) return 'none';
    const stored = await s3.client.send(new HeadObjectCommand({ Bucket: s3.settings.bucket, Key: s3.key(rel) })).then(
      () => true,
      (err: { name?: string; $metadata?: { httpStatusCode?: number } }) => {
        if (err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404) return false;
        throw err;
      },
    );
    await s3.store.db.deleteFrom('recordingUploads').where('rel', '=', rel).execute();
    const base = s3.spoolPath(rel);
    if (withSpool) await dropSegments(base, await spoolSegments(base));
    if (stored) {
      s3.log.warn({ sessionId: row.sessionId, recording: rel }, 'the store no longer has this recording\'s upload, and holds the recording: it was completed (its answer had been lost)');
      return 'completed';
    }
    // Its data key is kept: another node may be completing this very upload (its completion is
    // what made the upload unknown here) and its object not visible yet; dropping the key would
    // leave that object unreadable for good. A key serving nothing costs a row.
    s3.log.error({ sessionId: row.sessionId, recording: rel }, 'the store no longer has this recording\'s upload (aborted by the store, e.g. a lifecycle rule for incomplete uploads shorter than a session): the parts it held are gone, and the recording is lost; its row and spool are released');
    return 'lost';
  }
}

const isNoSuchUpload = (e: unknown) => {
  const err = e as { name?: string; Code?: string; code?: string };
  return err?.name === 'NoSuchUpload' || err?.Code === 'NoSuchUpload' || err?.code === 'NoSuchUpload';
};

async function completeFromRowOnce(s3: S3Host, rel: string, withSpool: boolean): Promise<'completed' | 'none' | 'unsent'> {
  const row = await s3.store.db.selectFrom('recordingUploads').selectAll().where('rel', '=', rel).executeTakeFirst();
  if (!row) return 'none';
  const parts = JSON.parse(row.parts) as PartDone[];
  if (parts.length === 0 && !withSpool) return 'unsent';
  const bucket = s3.settings.bucket;
  const key = s3.key(rel);
  let { uploadId, dataKeyId } = row;
  if (uploadId === NOT_STARTED) {
    // The store did not let the upload start while the session ran: it starts now.
    const started = await createUpload(s3, rel, row.sessionId);
    ({ uploadId, dataKeyId } = { uploadId: started.uploadId, dataKeyId: started.dataKey?.id ?? null });
    await s3.store.db.updateTable('recordingUploads').set({ uploadId, dataKeyId, updatedAt: now() }).where('rel', '=', rel).where('uploadId', '=', NOT_STARTED).execute();
  }
  const sealer = dataKeyId ? new FrameSealer(await s3.dataKeys.get(dataKeyId), rel, parts.at(-1)?.frames ?? 0) : null;
  const base = s3.spoolPath(rel);
  const segments = withSpool ? await spoolSegments(base) : [];
  // A last part with the final frame closed the recording: nothing follows it.
  const closed = parts.at(-1)?.final === true;
  const pending: { i: number; bytes: number }[] = [];
  for (const i of closed ? [] : segments.filter((i) => i >= parts.length)) {
    // A segment a crash left empty (opened, its first chunk still queued for the writer
    // thread) is no part: a part of nothing would be a part of the upload, and one before a
    // last part is under S3's minimum size. Only the newest segments can be empty: a
    // segment's data reaches the disk after all of the one before it (recording-spool.ts).
    const bytes = await usableBytes(rel, `${base}.${i}`);
    if (bytes > 0) pending.push({ i, bytes });
  }
  for (const [k, { i, bytes }] of pending.entries()) {
    const data = (await readFile(`${base}.${i}`)).subarray(0, bytes);
    const last = k === pending.length - 1;
    const body = sealer ? Buffer.concat([parts.length === 0 ? envelopeHeader(dataKeyId!) : Buffer.alloc(0), sealer.seal(data, last)]) : data;
    const n = parts.length + 1;
    const r = await s3.client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: n, Body: body, ContentLength: body.length }));
    parts.push({ n, etag: r.ETag!, bytes: data.length, frames: sealer?.frames ?? 0, ...(sealer && last ? { final: true } : {}) });
  }
  if (sealer && pending.length === 0 && !closed) {
    // The parts sent end without the final frame: one empty final frame (a last part may be small).
    const body = Buffer.concat([parts.length === 0 ? envelopeHeader(dataKeyId!) : Buffer.alloc(0), sealer.seal(Buffer.alloc(0), true)]);
    const n = parts.length + 1;
    const r = await s3.client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: n, Body: body, ContentLength: body.length }));
    parts.push({ n, etag: r.ETag!, bytes: 0, frames: sealer.frames, final: true });
  }
  if (parts.length === 0) {
    // Nothing ever reached the store, and nothing is spooled here: nothing to complete.
    await s3.client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
  } else {
    await s3.client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.n, ETag: p.etag })) } }));
  }
  await s3.store.db.deleteFrom('recordingUploads').where('rel', '=', rel).execute();
  await dropSegments(base, segments);
  return 'completed';
}

/**
 * The upload id of a recording_uploads row whose upload the store did not let start (S3Upload's
 * finish() writes it): the whole recording is in its node's spool, kept there by the row (the
 * spool's orphan sweep leaves it) until completeFromRow starts the upload and sends it.
 */
const NOT_STARTED = '';

/** Starts a recording's multipart upload, with its data key when it is sealed (sealingKey). */
async function createUpload(s3: S3Host, rel: string, sessionId: string): Promise<{ uploadId: string; dataKey: { id: string; key: Buffer } | null }> {
  const dataKey = await sealingKey(s3.store, s3.dataKeys, rel, { sealNew: s3.settings.encryption === 'gatehouse' });
  try {
    const r = await s3.client.send(
      new CreateMultipartUploadCommand({
        Bucket: s3.settings.bucket,
        Key: s3.key(rel),
        ContentType: 'application/octet-stream',
        Metadata: { 'gatehouse-session': sessionId, ...(dataKey ? { 'gatehouse-encryption': 'envelope-aes-256-gcm' } : {}) },
        ...s3.sseParams(),
      }),
    );
    return { uploadId: r.UploadId!, dataKey };
  } catch (e) {
    // No upload, nothing sealed: the key would serve nothing (and every master key rotation would rewrap it).
    if (dataKey?.made) await dropRecordingKeys(s3.store, s3.dataKeys, rel, [dataKey.id]).catch(() => undefined);
    throw e;
  }
}

/**
 * A recording whose first segment reached this node's spool before its row was written: the
 * session's writer creates the segment at once, and S3Upload.start() writes the row a few
 * milliseconds later (an await away). A node killed between the two left a spool no row
 * named, so its recovery found no recording and the orphan sweep deleted it. Called by
 * recovery on the node whose spool it is: the row is written now, as an upload not started,
 * and completeFromRow stores the spool. Only a spool that still has its first segment (no row
 * ever named it, so none was released) and whose object is not stored: segments left behind by
 * an upload completed just before a crash (the row is deleted before they are) must not be
 * uploaded again over the whole recording. The first of `rels` so found; null when none.
 */
export async function adoptSpooled(s3: S3Host, rels: readonly string[], sessionId: string, stored: (rel: string) => Promise<boolean>): Promise<{ rel: string; node: string } | null> {
  for (const rel of rels) {
    const base = s3.spoolPath(rel);
    if ((await spoolSegments(base))[0] !== 0 || (await stored(rel))) continue;
    // Created and not written yet (its head still queued for the writer thread): nothing recorded.
    if ((await usableBytes(rel, `${base}.0`)) === 0) continue;
    const t = now();
    await s3.store.db
      .insertInto('recordingUploads')
      .values({ rel, sessionId, node: s3.node, uploadId: NOT_STARTED, parts: '[]', dataKeyId: null, createdAt: t, updatedAt: t })
      .onConflict((oc) => oc.column('rel').doNothing())
      .execute();
    // The row as it is: a sibling worker sharing this spool may have adopted it a moment before,
    // and only the row's node stores the spool (completeFromRow with it), not both.
    const row = await s3.store.db.selectFrom('recordingUploads').select(['rel', 'node']).where('rel', '=', rel).executeTakeFirst();
    if (!row) continue;
    if (row.node === s3.node) s3.log.warn({ sessionId, recording: rel }, 'a spooled recording without its upload row (the node stopped before writing it) is stored from the spool');
    return row;
  }
  return null;
}

/** A spool segment's bytes worth storing: its whole gzip members when compressed (a crash may have torn the last). */
async function usableBytes(rel: string, path: string): Promise<number> {
  return isGzipPath(rel) ? memberIndex(path).end : (await stat(path)).size;
}

/** The segment numbers of a spooled recording found on disk, in order. */
/** Spool segments `<base>.<i>` removed (those gone already are no matter). */
async function dropSegments(base: string, indices: Iterable<number>): Promise<void> {
  for (const i of indices) await unlink(`${base}.${i}`).catch(() => undefined);
}

/** 0, 1, … n. */
const upTo = (n: number): number[] => Array.from({ length: n + 1 }, (_, i) => i);

async function spoolSegments(base: string): Promise<number[]> {
  const dir = dirname(base);
  const name = base.slice(dir.length + 1);
  if (!existsSync(dir)) return [];
  const out: number[] = [];
  for (const f of await readdir(dir)) {
    const m = f.startsWith(name + '.') ? /^(\d+)$/.exec(f.slice(name.length + 1)) : null;
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

/**
 * One recording's multipart upload, fed by its segmented writer (recording-spool.ts). Parts
 * go one at a time, in order. Segment i is deleted once segment i+1 is uploaded (the live
 * backlog reads the one before the newest).
 */
export class S3Upload implements RecordingSpool {
  private events: SpoolEvents | null = null;
  private ready: Promise<{ uploadId: string; sealer: FrameSealer | null; dataKeyId: string | null }> | null = null;
  private readonly parts: PartDone[] = [];
  /** The uploads, one after another. */
  private chain: Promise<void> = Promise.resolve();
  /** Sealed segments not uploaded yet. */
  private waiting = 0;
  private failed: Error | null = null;

  constructor(
    private readonly s3: S3Host,
    private readonly rel: string,
    private readonly sessionId: string,
    private readonly base: string,
  ) {}

  segmentBytes(index: number): number {
    return partBytesAt(this.s3.settings.partBytes, index);
  }

  segmentPath(index: number): string {
    return `${this.base}.${index}`;
  }

  attach(events: SpoolEvents): void {
    this.events = events;
    this.ready = this.start();
    // A store that cannot start the upload fails the recording at once (its session ends).
    this.ready.catch((e) => this.fail(e));
  }

  private async start(): Promise<{ uploadId: string; sealer: FrameSealer | null; dataKeyId: string | null }> {
    const s3 = this.s3;
    // The row comes first, saying the upload has not started: the first segment is already on
    // disk, and starting the upload can take minutes when the store is slow. A node killed in
    // that time finds the row at its next start and stores the spool (completeFromRow starts
    // the upload); without it, recovery found no recording and the orphan sweep deleted it.
    // A node killed before even this insert: recovery writes the row itself (adoptSpooled).
    const t = now();
    await s3.store.db.insertInto('recordingUploads').values({ rel: this.rel, sessionId: this.sessionId, node: s3.node, uploadId: NOT_STARTED, parts: '[]', dataKeyId: null, createdAt: t, updatedAt: t }).execute();
    const { uploadId, dataKey: dk } = await createUpload(s3, this.rel, this.sessionId);
    await s3.store.db.updateTable('recordingUploads').set({ uploadId, dataKeyId: dk?.id ?? null, updatedAt: now() }).where('rel', '=', this.rel).where('uploadId', '=', NOT_STARTED).execute();
    return { uploadId, sealer: dk ? new FrameSealer(dk.key, this.rel) : null, dataKeyId: dk?.id ?? null };
  }

  sealed(index: number): void {
    if (this.failed) return;
    const max = this.s3.settings.maxWaitingParts ?? 2;
    if (++this.waiting > max) {
      this.fail(Object.assign(new Error(`object storage is not keeping up: ${this.waiting} parts of up to ${this.segmentBytes(index)} bytes wait for their upload`), { code: 'upload_backlog' }));
      return;
    }
    this.chain = this.chain.then(async () => {
      if (this.failed) return;
      try {
        await this.upload(index, false);
        // Counted as waiting until the one before it has left the disk: the spool's bound holds throughout.
        if (index > 0) await this.release(index - 1);
        this.waiting--;
      } catch (e) {
        this.fail(e);
      }
    });
  }

  /** Uploads segment `index` as part index+1 and records it. */
  private async upload(index: number, last: boolean): Promise<void> {
    const { uploadId, sealer, dataKeyId } = await this.ready!;
    const path = this.segmentPath(index);
    let data: Buffer = await readFile(path);
    const body = sealer ? Buffer.concat([index === 0 ? envelopeHeader(dataKeyId!) : Buffer.alloc(0), sealer.seal(data, last)]) : data;
    const n = index + 1;
    const r = await this.s3.client.send(new UploadPartCommand({ Bucket: this.s3.settings.bucket, Key: this.s3.key(this.rel), UploadId: uploadId, PartNumber: n, Body: body, ContentLength: body.length }));
    this.parts.push({ n, etag: r.ETag!, bytes: data.length, frames: sealer?.frames ?? 0, ...(sealer && last ? { final: true } : {}) });
    data = Buffer.alloc(0);
    await this.s3.store.db.updateTable('recordingUploads').set({ parts: JSON.stringify(this.parts), updatedAt: now() }).where('rel', '=', this.rel).execute();
  }

  private async release(index: number): Promise<void> {
    await this.events?.releasing(index);
    await unlink(this.segmentPath(index)).catch(() => undefined);
  }

  private fail(e: unknown): void {
    if (this.failed) return;
    const err = e instanceof Error && (e as NodeJS.ErrnoException).code === 'upload_backlog' ? e : Object.assign(new Error(`uploading the recording to object storage failed: ${s3ErrorText(e)}`), { code: 'upload_failed' });
    this.failed = err;
    this.events?.failed(err);
  }

  /**
   * The recording is closed: the segments not sent yet go (the last one last), and the upload
   * is completed. When the store fails, what is not stored stays in the spool and in
   * recording_uploads, completed at this node's next start (resumeUploads).
   */
  async finish(lastIndex: number, failed: boolean): Promise<void> {
    await this.chain;
    // The start is waited for first: a session that ends before the store answered it (no
    // segment sent yet) must know whether it failed, and take the path for that below.
    await this.ready?.catch(() => undefined);
    const log = this.s3.log.child({ sessionId: this.sessionId, recording: this.rel });
    try {
      if (this.failed || failed) {
        // Fail closed already happened; still try to store everything written, as it is.
        const started = this.ready ? await this.ready.then(() => true, () => false) : false;
        const row = await this.s3.store.db.selectFrom('recordingUploads').select('rel').where('rel', '=', this.rel).executeTakeFirst();
        if (!row && started) {
          // The upload began and its row is gone: another node settled it, having taken this
          // node for dead (a pause past the dead timeout), and sealed the recording from the
          // parts stored. A new upload of what this spool still holds would replace that sealed
          // object with its tail; what came after the other node's end is not stored.
          log.warn('another gateway node completed and sealed this recording while this node was unreachable; what this node recorded after that is not stored');
          await dropSegments(this.base, upTo(lastIndex));
          return;
        }
        if (!started) {
          // The upload never started (the store or the data keys failed at the session's
          // start): the row start() wrote first says so; it keeps the spool on this node
          // (resumeUploads' orphan sweep would drop it otherwise) and has completeFromRow start
          // the upload, now or at the next start. Written here only if that first write failed.
          if (!row) {
            const t = now();
            await this.s3.store.db.insertInto('recordingUploads').values({ rel: this.rel, sessionId: this.sessionId, node: this.s3.node, uploadId: NOT_STARTED, parts: '[]', dataKeyId: null, createdAt: t, updatedAt: t }).execute();
          }
          log.warn('the recording upload never started; its spooled segments are kept on this node and uploaded now or at its next start');
        }
        await completeFromRow(this.s3, this.rel, true);
        return;
      }
      for (let i = this.parts.length; i <= lastIndex; i++) await this.upload(i, i === lastIndex);
      const { uploadId } = await this.ready!;
      await this.s3.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.s3.settings.bucket,
          Key: this.s3.key(this.rel),
          UploadId: uploadId,
          MultipartUpload: { Parts: this.parts.map((p) => ({ PartNumber: p.n, ETag: p.etag })) },
        }),
      );
      await this.s3.store.db.deleteFrom('recordingUploads').where('rel', '=', this.rel).execute();
      await dropSegments(this.base, upTo(lastIndex));
    } catch (e) {
      log.error({ err: { message: s3ErrorText(e) } }, 'the recording could not be stored in object storage; its parts and spool are kept and completed at the next start');
    }
  }
}
