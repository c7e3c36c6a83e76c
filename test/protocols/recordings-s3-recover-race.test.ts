// Two live nodes take up the same dead node's session at once (their heartbeats see it dead
// together, recovery.ts): both read its unfinished multipart upload (recording_uploads) and
// set out to complete it against a real S3-compatible server on loopback (s3rver,
// test/support/s3.ts). The test holds the second node's first write to the upload until the
// first node has completed it and read the object back; the second's write then fails on an
// upload that is no more. Both must still come back with the recording (the object the first
// completed), plaintext and whole, in both encryption modes: the second reads what the first
// stored instead of giving the session up as having no recording. Both then store back the
// repaired recording (its torn last line cut off): sealed with the data key it had, so no
// key is left behind serving nothing.
// Also here: a recording of many parts is fetched into its work file and stored back part by
// part (recovery never holds a whole recording in memory: it may be gigabytes).
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { envelopeHeader, envelopeKeyId, FrameSealer } from '../../src/core/sessions/recording-envelope.js';
import { recordingRelPath } from '../../src/core/sessions/recording-path.js';
import type { S3RecordingStorage } from '../../src/core/sessions/recording-storage-s3.js';
import { tempDir } from '../cli/support.js';
import { appWithS3, nodeStorage, S3_TEST_PART_BYTES } from '../support/s3.js';
import { signal } from '../support/signal.js';

const the = appWithS3('race');

const storage = (node: string, encryption: 'none' | 'gatehouse') => nodeStorage(the.s3, the.t.core, node, { encryption, prefix: 'race/', spoolDir: tempDir(`gatehouse-spool-${node}-`) });

/** What a dead node left: its upload started, `stored` sent as parts of `partBytes` (sealed with a new data key when encrypted), the row noting them. */
async function deadNodeUpload(rel: string, sessionId: string, stored: Buffer, encryption: 'none' | 'gatehouse', partBytes = stored.length) {
  const dead = storage('node-dead', encryption);
  const dk = encryption === 'gatehouse' ? await the.t.core.dataKeys.create() : null;
  const started = await dead.client.send(new CreateMultipartUploadCommand({ Bucket: the.s3.bucket, Key: dead.key(rel) }));
  const sealer = dk ? new FrameSealer(dk.key, rel) : null;
  const parts: { n: number; etag: string; bytes: number; frames: number }[] = [];
  for (let off = 0; off < stored.length; off += partBytes) {
    const data = stored.subarray(off, off + partBytes);
    const part = sealer ? Buffer.concat([off === 0 ? envelopeHeader(dk!.id) : Buffer.alloc(0), sealer.seal(data, false)]) : data;
    const sent = await dead.client.send(new UploadPartCommand({ Bucket: the.s3.bucket, Key: dead.key(rel), UploadId: started.UploadId!, PartNumber: parts.length + 1, Body: part, ContentLength: part.length }));
    parts.push({ n: parts.length + 1, etag: sent.ETag!, bytes: data.length, frames: sealer?.frames ?? 0 });
  }
  const at = Date.now();
  await the.t.core.store.db
    .insertInto('recordingUploads')
    .values({ rel, sessionId, node: 'node-dead', uploadId: started.UploadId!, parts: JSON.stringify(parts), dataKeyId: dk?.id ?? null, createdAt: at, updatedAt: at })
    .execute();
  return { dk, at };
}

const readBack = async (s: S3RecordingStorage, rel: string) => Buffer.concat(await (await s.read(rel)).toArray());
const sealedKey = async (s: S3RecordingStorage, rel: string) => {
  const head = await s.client.send(new GetObjectCommand({ Bucket: the.s3.bucket, Key: s.key(rel), Range: 'bytes=0-1023' }));
  return envelopeKeyId(Buffer.from(await head.Body!.transformToByteArray()));
};

describe('two nodes completing the same dead node\'s recording upload at once', () => {

  for (const encryption of ['none', 'gatehouse'] as const) {
    it(`both come back with the whole recording and store it back repaired, under its own data key (encryption ${encryption})`, async () => {
      const sessionId = randomUUID();
      const rel = recordingRelPath(sessionId, Date.now(), '.cast');
      const body = Buffer.from(JSON.stringify({ version: 2, width: 80, height: 24 }) + '\n' + JSON.stringify([0.5, 'o', 'sent before the node died']) + '\n');
      const stored = Buffer.concat([body, Buffer.from('[0.75, "o", "torn by the ')]);

      // What the dead node had done: started the upload, sent one part, noted it.
      const { dk, at } = await deadNodeUpload(rel, sessionId, stored, encryption);

      const keys = async () => Number((await the.t.core.store.db.selectFrom('dataKeys').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
      const keysBefore = await keys();
      // The second node's first write to the upload waits until the first node is done.
      const first = storage('node-a', encryption);
      const second = storage('node-c', encryption);
      const secondAtUpload = signal();
      const firstDone = signal();
      const send = second.client.send.bind(second.client) as (c: unknown) => Promise<unknown>;
      (second.client as unknown as { send: (c: unknown) => Promise<unknown> }).send = async (c: unknown) => {
        if (c instanceof UploadPartCommand || c instanceof CompleteMultipartUploadCommand) {
          secondAtUpload.resolve();
          await firstDone.done;
        }
        return send(c);
      };
      const late = second.recover(sessionId, at);
      await secondAtUpload.done;
      const early = await first.recover(sessionId, at);
      firstDone.resolve();
      const got = await late;

      assert.ok(early, 'the first node has the recording');
      assert.ok(got, 'the second node has it too, though its own completion failed');
      assert.deepEqual([early.rel, got.rel], [rel, rel]);
      assert.ok(readFileSync(early.path).equals(stored), 'the first node\'s copy is the recording, plaintext');
      assert.ok(readFileSync(got.path).equals(stored), 'the second node\'s copy is the recording, plaintext');
      assert.equal(await the.t.core.store.db.selectFrom('recordingUploads').select('rel').where('rel', '=', rel).executeTakeFirst(), undefined, 'the upload row is gone');
      // Each repairs its copy (recovery.ts cuts the torn line) and stores it back.
      writeFileSync(early.path, body);
      writeFileSync(got.path, body);
      await early.commit();
      await got.commit();
      assert.ok((await readBack(first, rel)).equals(body), 'the bucket holds the repaired recording');
      assert.ok((await readBack(second, rel)).equals(body));
      assert.equal(await sealedKey(first, rel), dk?.id ?? null, 'stored back sealed with the key it had');
      assert.equal(await keys(), keysBefore, 'no data key was added');
    });
  }
});

describe('crash recovery of a recording of many parts', () => {
  for (const encryption of ['none', 'gatehouse'] as const) {
    it(`copies it to its work file and stores the repaired one back part by part, each within the part size (encryption ${encryption})`, async () => {
      const sessionId = randomUUID();
      const rel = recordingRelPath(sessionId, Date.now(), '.cast');
      const lines = [JSON.stringify({ version: 2, width: 80, height: 24 })];
      for (let i = 0; lines.join('\n').length < 5 * S3_TEST_PART_BYTES; i++) lines.push(JSON.stringify([i / 10, 'o', `line ${i} `.padEnd(200, 'x')]));
      const body = Buffer.from(lines.join('\n') + '\n');
      const stored = Buffer.concat([body, Buffer.from('[9999, "o", "torn by the ')]);
      const { dk, at } = await deadNodeUpload(rel, sessionId, stored, encryption, S3_TEST_PART_BYTES);

      const node = storage('node-b', encryption);
      const got = await node.recover(sessionId, at);
      assert.ok(got, 'recovered');
      assert.ok(readFileSync(got.path).equals(stored), 'the work file is the recording, plaintext');
      writeFileSync(got.path, body); // repaired (recovery.ts cuts the torn line)
      const seenBefore = the.s3.seen.length;
      await got.commit();
      const writes = the.s3.seen.slice(seenBefore).filter((r) => r.method === 'PUT');
      const parts = writes.filter((r) => /[?&]partNumber=/.test(r.url));
      assert.equal(parts.length, Math.ceil(body.length / S3_TEST_PART_BYTES), 'one upload per part, none of the whole recording');
      assert.equal(writes.length, parts.length);
      // A part holds at most the part size, plus what sealing adds (frame heads, tags, the envelope header).
      for (const p of parts) assert.ok(Number(p.headers['content-length']) <= S3_TEST_PART_BYTES + 4096, `part of ${p.headers['content-length']} bytes`);
      assert.ok((await readBack(node, rel)).equals(body), 'the bucket holds the repaired recording, whole');
      assert.equal(await sealedKey(node, rel), dk?.id ?? null, 'sealed with the key it had');
      assert.equal(existsSync(got.path), false, 'the work file is gone');
    });
  }
});
