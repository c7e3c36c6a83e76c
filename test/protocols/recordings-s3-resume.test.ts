// A recording's upload that could not be finished at the end of its session, finished at the
// node's next start (resumeUploads) from its recording_uploads row and its spool, read back
// whole. Against a real S3-compatible server on loopback (s3rver, test/support/s3.ts), the
// node's S3 client wrapped to fail one request the way a briefly unreachable store does.
// Driven in-process through the storage's spool (S3Upload): segments written, sealed and
// finished as the segmented writer (recording-spool.ts) does.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { recordingRelPath } from '../../src/core/sessions/recording-path.js';
import type { S3RecordingStorage } from '../../src/core/sessions/recording-storage-s3.js';
import type { RecordingSpool } from '../../src/core/sessions/spool-contract.js';
import { tempDir } from '../cli/support.js';
import { appWithS3, nodeStorage, recordThrough, S3_TEST_PART_BYTES } from '../support/s3.js';
import { sessionRow } from '../support/session-rows.js';
import { waitFor } from '../support/xrdp.js';

type Command = Parameters<S3RecordingStorage['client']['send']>[0];

/** Makes the storage's client throw for the first `times` requests of the class `kind` (the store cut off for them). */
function failOnce(storage: S3RecordingStorage, kind: abstract new (...a: never[]) => unknown, times = 1): { failed: () => number } {
  const client = storage.client;
  const send = client.send.bind(client) as (c: Command, ...rest: unknown[]) => Promise<unknown>;
  let failed = 0;
  (client as unknown as { send: unknown }).send = (c: Command, ...rest: unknown[]) => {
    if (failed < times && c instanceof kind) {
      failed++;
      return Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1'), { code: 'ECONNREFUSED' }));
    }
    return send(c, ...rest);
  };
  return { failed: () => failed };
}

/** Makes the storage's client never answer requests of the class `kind` (a store that hangs). */
function hang(storage: S3RecordingStorage, kind: abstract new (...a: never[]) => unknown): void {
  const client = storage.client;
  const send = client.send.bind(client) as (c: Command, ...rest: unknown[]) => Promise<unknown>;
  (client as unknown as { send: unknown }).send = (c: Command, ...rest: unknown[]) => (c instanceof kind ? new Promise(() => {}) : send(c, ...rest));
}

/** Counts the parts the storage's client sends (UploadPart), with their sizes. */
function countParts(storage: S3RecordingStorage): number[] {
  const client = storage.client;
  const send = client.send.bind(client) as (c: Command, ...rest: unknown[]) => Promise<unknown>;
  const sizes: number[] = [];
  (client as unknown as { send: unknown }).send = (c: Command, ...rest: unknown[]) => {
    if (c instanceof UploadPartCommand) sizes.push(Number(c.input.ContentLength));
    return send(c, ...rest);
  };
  return sizes;
}

describe('an upload left unfinished at the end of its session, completed at the next start', () => {
  const the = appWithS3('resume');

  const upload = (rel: string) => the.t.core.store.db.selectFrom('recordingUploads').selectAll().where('rel', '=', rel).executeTakeFirst();

  /** A session of node-a (ended) and its recording's name. */
  async function endedSession(): Promise<{ id: string; rel: string }> {
    const at = Date.now();
    const s = sessionRow({ userId: the.adminId, username: 'admin', startedAt: at, node: 'node-a', status: 'ended', endedAt: at + 1000, endReason: 'client_closed' });
    await the.t.core.store.db.insertInto('sessions').values(s).execute();
    return { id: s.id, rel: recordingRelPath(s.id, at, '.cast') };
  }

  it('encrypted: a failed final CompleteMultipartUpload leaves the sealed last part as it is, and the next start completes a readable recording', async () => {
    const { rel } = await endedSession();
    const spoolDir = tempDir('gatehouse-spool-a-');
    const a = nodeStorage(the.s3, the.t.core, 'node-a', { encryption: 'gatehouse', prefix: 'resume/', spoolDir });
    const fault = failOnce(a, CompleteMultipartUploadCommand);
    // Three segments: two full parts while the session runs, the last one sent by finish() with the final frame.
    const segments = [randomBytes(S3_TEST_PART_BYTES), randomBytes(S3_TEST_PART_BYTES), randomBytes(1000)];
    await recordThrough(a, rel, segments);
    assert.equal(fault.failed(), 1, 'the completion failed');
    const row = await upload(rel);
    assert.ok(row, 'the upload is kept for the next start');
    assert.equal((JSON.parse(row.parts) as unknown[]).length, 3, 'every segment was sent as a part, the last one with the final frame');
    assert.equal(await a.exists(rel), false, 'no object yet');

    // The node starts again (a new storage on the same spool), the store answers: the upload is completed.
    const again = nodeStorage(the.s3, the.t.core, 'node-a', { encryption: 'gatehouse', prefix: 'resume/', spoolDir });
    assert.equal(await again.resumeUploads(), 1);
    assert.equal(await upload(rel), undefined, 'the row is gone');
    const stored = Buffer.concat(await (await again.read(rel)).toArray());
    assert.ok(stored.equals(Buffer.concat(segments)), `the recording reads back whole (${stored.length} of ${Buffer.concat(segments).length} bytes)`);
  });

  it('encrypted: the same upload completed by another node\'s crash recovery (without the spool) is readable too', async () => {
    const { id, rel } = await endedSession();
    const a = nodeStorage(the.s3, the.t.core, 'node-a', { encryption: 'gatehouse', prefix: 'resume/', spoolDir: tempDir('gatehouse-spool-a-') });
    failOnce(a, CompleteMultipartUploadCommand);
    const segments = [randomBytes(S3_TEST_PART_BYTES), randomBytes(500)];
    await recordThrough(a, rel, segments);
    assert.ok(await upload(rel), 'the upload is kept');
    // Node A is dead; node B recovers its session from the parts in the bucket.
    const b = nodeStorage(the.s3, the.t.core, 'node-b', { encryption: 'gatehouse', prefix: 'resume/', spoolDir: tempDir('gatehouse-spool-b-') });
    const got = await b.recover(id, Date.now());
    assert.ok(got, 'the recording is found');
    try {
      assert.equal(await upload(rel), undefined, 'the upload is completed');
      const stored = Buffer.concat(await (await b.read(rel)).toArray());
      assert.ok(stored.equals(Buffer.concat(segments)), 'the recording reads back whole');
    } finally {
      await got.commit();
    }
  });

  for (const encryption of ['none', 'gatehouse'] as const) {
    it(`a store that does not let the upload start: the spool is kept, and the next start uploads it (encryption ${encryption})`, async () => {
      const { rel } = await endedSession();
      const keys = async () => (await the.t.core.store.db.selectFrom('dataKeys').select('id').execute()).length;
      const keysBefore = await keys();
      const spoolDir = tempDir('gatehouse-spool-a-');
      const a = nodeStorage(the.s3, the.t.core, 'node-a', { encryption, prefix: 'resume/', spoolDir });
      // CreateMultipartUpload fails at the session's start and again when its end tries to store what it has.
      const fault = failOnce(a, CreateMultipartUploadCommand, 2);
      const segments = [randomBytes(S3_TEST_PART_BYTES), randomBytes(3000)];
      await recordThrough(a, rel, segments, true);
      assert.equal(fault.failed(), 2);
      assert.ok(await upload(rel), 'a row keeps the recording for the next start');
      assert.ok(existsSync(`${a.spoolPath(rel)}.0`) && existsSync(`${a.spoolPath(rel)}.1`), 'the spool holds it');
      assert.equal(await a.exists(rel), false);

      // The node starts again with the store answering: the upload starts, is sent and completed.
      const again = nodeStorage(the.s3, the.t.core, 'node-a', { encryption, prefix: 'resume/', spoolDir });
      assert.equal(await again.resumeUploads(), 1);
      assert.equal(await upload(rel), undefined, 'the row is gone');
      assert.ok(!existsSync(`${a.spoolPath(rel)}.0`), 'the spool is emptied');
      const stored = Buffer.concat(await (await again.read(rel)).toArray());
      assert.ok(stored.equals(Buffer.concat(segments)), `the recording reads back whole (${stored.length} of ${Buffer.concat(segments).length} bytes)`);
      // Before: each start that failed left a data key serving nothing.
      assert.equal(await keys(), keysBefore + (encryption === 'gatehouse' ? 1 : 0), 'one data key: the recording\'s own');
    });
  }

  /** A live session of node-a, its recording's name, and the spool its writer would use (attached unless said: a node killed before it was). */
  async function liveSession(a: S3RecordingStorage, attached = true): Promise<{ id: string; at: number; rel: string; spool: RecordingSpool }> {
    const at = Date.now() - 60_000;
    const s = sessionRow({ userId: the.adminId, username: 'admin', startedAt: at, node: 'node-a' });
    await the.t.core.store.db.insertInto('sessions').values(s).execute();
    const rel = recordingRelPath(s.id, at, '.cast');
    const spool = a.writeTarget(rel).options.spool as RecordingSpool;
    if (attached) spool.attach({ failed: () => undefined, releasing: async () => undefined });
    return { id: s.id, at, rel, spool };
  }

  const writeSegment = (spool: RecordingSpool, i: number, data: Buffer) => {
    mkdirSync(dirname(spool.segmentPath(i)), { recursive: true });
    writeFileSync(spool.segmentPath(i), data);
  };

  it('a node killed while the store had not yet let the upload start: its next start stores the spooled recording', async () => {
    // Before: the recording_uploads row was written only once CreateMultipartUpload answered;
    // a node killed before that had a first segment on disk and no row, so its recovery found
    // no recording and the orphan sweep deleted the spool.
    const spoolDir = tempDir('gatehouse-spool-a-');
    const a = nodeStorage(the.s3, the.t.core, 'node-a', { encryption: 'gatehouse', prefix: 'resume/', spoolDir });
    hang(a, CreateMultipartUploadCommand);
    const { id, at, rel, spool } = await liveSession(a);
    const first = Buffer.from(JSON.stringify({ version: 2, width: 80, height: 24 }) + '\n[0.5,"o","before the kill"]\n');
    writeSegment(spool, 0, first);
    assert.ok(await upload(rel), 'the row is there while the upload starts');
    // kill -9; node-a starts again on the same spool and recovers its session.
    const again = nodeStorage(the.s3, the.t.core, 'node-a', { encryption: 'gatehouse', prefix: 'resume/', spoolDir });
    const got = await again.recover(id, at);
    assert.ok(got, 'the recording is found');
    try {
      assert.ok(readFileSync(got.path).equals(first), 'the recording as spooled');
      assert.equal(await upload(rel), undefined, 'the upload is completed');
    } finally {
      await got.commit();
    }
    assert.ok(Buffer.concat(await (await again.read(rel)).toArray()).equals(first), 'stored, readable from the bucket');
  });

  it('a node killed after its first segment reached the spool but before the upload row was written: its next start stores the spooled recording', async () => {
    // Before: the row is written an await after the writer creates segment 0; a node killed in
    // between left a spool no row named, recovery found no recording and the orphan sweep deleted it.
    const spoolDir = tempDir('gatehouse-spool-a-');
    const a = nodeStorage(the.s3, the.t.core, 'node-a', { encryption: 'gatehouse', prefix: 'resume/', spoolDir });
    const { id, at, rel, spool } = await liveSession(a, false);
    const first = Buffer.from(JSON.stringify({ version: 2, width: 80, height: 24 }) + '\n[0.5,"o","before the row"]\n');
    writeSegment(spool, 0, first);
    assert.equal(await upload(rel), undefined, 'no row: killed before the spool was attached');
    const again = nodeStorage(the.s3, the.t.core, 'node-a', { encryption: 'gatehouse', prefix: 'resume/', spoolDir });
    const got = await again.recover(id, at);
    assert.ok(got, 'the recording is found');
    try {
      assert.ok(readFileSync(got.path).equals(first), 'the recording as spooled');
    } finally {
      await got.commit();
    }
    assert.equal(await upload(rel), undefined, 'the upload is completed');
    assert.ok(!existsSync(`${spool.segmentPath(0)}`), 'the spool is emptied');
    assert.ok(Buffer.concat(await (await again.read(rel)).toArray()).equals(first), 'stored, readable from the bucket');
  });

  it('a row-less spool whose first segment holds nothing yet is not adopted; two workers sharing the spool adopt it once', async () => {
    const spoolDir = tempDir('gatehouse-spool-a-');
    const a = nodeStorage(the.s3, the.t.core, 'node-a', { encryption: 'gatehouse', prefix: 'resume/', spoolDir });
    const empty = await liveSession(a, false);
    writeSegment(empty.spool, 0, Buffer.alloc(0));
    const keys = async () => (await the.t.core.store.db.selectFrom('dataKeys').select('id').execute()).length;
    const keysBefore = await keys();
    assert.equal(await a.recover(empty.id, empty.at), null, 'nothing was recorded');
    assert.equal(await upload(empty.rel), undefined, 'no row, no upload, no data key');
    assert.equal(await keys(), keysBefore);

    // Two workers of one machine (one spool) recover the dead worker's session at once.
    const { id, at, rel, spool } = await liveSession(a, false);
    const first = Buffer.from(JSON.stringify({ version: 2, width: 80, height: 24 }) + '\n[0.5,"o","two workers"]\n');
    writeSegment(spool, 0, first);
    const w1 = nodeStorage(the.s3, the.t.core, 'node-a-w1', { encryption: 'gatehouse', prefix: 'resume/', spoolDir });
    const w2 = nodeStorage(the.s3, the.t.core, 'node-a-w2', { encryption: 'gatehouse', prefix: 'resume/', spoolDir });
    // The race made certain: each looks for a stored object only once both have found the spool.
    let arrived = 0;
    let both!: () => void;
    const together = new Promise<void>((r) => (both = r));
    for (const w of [w1, w2]) {
      const exists = w.exists.bind(w);
      w.exists = async (r: string) => {
        if (r === rel && ++arrived === 2) both();
        if (r === rel) await together;
        return exists(r);
      };
    }
    let creates = 0;
    for (const w of [w1, w2]) {
      const send = w.client.send.bind(w.client) as (c: Command, ...rest: unknown[]) => Promise<unknown>;
      (w.client as unknown as { send: unknown }).send = (c: Command, ...rest: unknown[]) => {
        if (c instanceof CreateMultipartUploadCommand) creates++;
        return send(c, ...rest);
      };
    }
    const got = await Promise.all([w1.recover(id, at), w2.recover(id, at)]);
    assert.equal(arrived, 2);
    // Before: each took the row for its own and stored the spool: two uploads of one recording,
    // the later completion replacing what the other had repaired and sealed.
    assert.equal(creates, 1, 'one upload');
    for (const g of got) await g?.commit();
    // Before: each wrote (or found) the row and stored the spool itself: two uploads, two data keys.
    assert.equal(await keys(), keysBefore + 1, 'one data key: one upload');
    assert.equal(await upload(rel), undefined);
    assert.ok(Buffer.concat(await (await w1.read(rel)).toArray()).equals(first), 'stored once, readable');
  });

  it('segments left behind by an upload completed just before a crash are not stored over the recording', async () => {
    const spoolDir = tempDir('gatehouse-spool-a-');
    const a = nodeStorage(the.s3, the.t.core, 'node-a', { encryption: 'none', prefix: 'resume/', spoolDir });
    const { id, at, rel, spool } = await liveSession(a);
    const whole = Buffer.from(JSON.stringify({ version: 2, width: 80, height: 24 }) + '\n[0.5,"o","the whole recording"]\n');
    writeSegment(spool, 0, whole);
    await spool.finish(0, false);
    assert.equal(await upload(rel), undefined, 'completed');
    // The crash came after the row's delete and before the segments' removal.
    writeSegment(spool, 0, Buffer.from('[9.5,"o","a leftover"]\n'));
    const again = nodeStorage(the.s3, the.t.core, 'node-a', { encryption: 'none', prefix: 'resume/', spoolDir });
    const got = await again.recover(id, at);
    assert.ok(got);
    await got.commit();
    assert.ok(Buffer.concat(await (await again.read(rel)).toArray()).equals(whole), 'the stored recording is untouched');
  });

  for (const encryption of ['none', 'gatehouse'] as const) {
    it(`a node killed at a segment's rollover (the new segment still empty): no empty part is sent, the recording is what reached the disk (encryption ${encryption})`, async () => {
      const spoolDir = tempDir('gatehouse-spool-a-');
      const a = nodeStorage(the.s3, the.t.core, 'node-a', { encryption, prefix: 'resume/', spoolDir });
      const { id, at, rel, spool } = await liveSession(a);
      await waitFor('the upload started', async () => !!(await upload(rel))?.uploadId);
      // Segment 0 full on disk; segment 1 opened, its first chunk still queued for the writer thread.
      const full = randomBytes(S3_TEST_PART_BYTES);
      writeSegment(spool, 0, full);
      writeSegment(spool, 1, Buffer.alloc(0));
      const again = nodeStorage(the.s3, the.t.core, 'node-a', { encryption, prefix: 'resume/', spoolDir });
      const sent = countParts(again);
      const got = await again.recover(id, at);
      assert.ok(got, 'the recording is found');
      await got.commit();
      // Before: the empty segment went as part 2, behind a part 1 smaller than S3's 5 MiB
      // minimum for a part that is not the last (real S3 refuses to complete such an upload).
      assert.equal(sent.length, 1, `one part: ${JSON.stringify(sent)}`);
      assert.ok(Buffer.concat(await (await again.read(rel)).toArray()).equals(full), 'the recording reads back whole');
    });
  }

  it('a store that does not let the upload start but answers again at the session\'s end: stored then', async () => {
    const { rel } = await endedSession();
    const a = nodeStorage(the.s3, the.t.core, 'node-a', { encryption: 'gatehouse', prefix: 'resume/', spoolDir: tempDir('gatehouse-spool-a-') });
    failOnce(a, CreateMultipartUploadCommand, 1);
    const segments = [randomBytes(2000)];
    await recordThrough(a, rel, segments, true);
    assert.equal(await upload(rel), undefined, 'completed at the end');
    const stored = Buffer.concat(await (await a.read(rel)).toArray());
    assert.ok(stored.equals(segments[0]!), 'the recording reads back whole');
  });
});
