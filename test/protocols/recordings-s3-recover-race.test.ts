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
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { envelopeHeader, envelopeKeyId, FrameSealer } from '../../src/core/sessions/recording-envelope.js';
import { recordingRelPath } from '../../src/core/sessions/recording-path.js';
import type { S3RecordingStorage } from '../../src/core/sessions/recording-storage-s3.js';
import { removeTempDirs, tempDir } from '../cli/support.js';
import { startTestApp, type TestApp } from '../support/harness.js';
import { nodeStorage, S3Server } from '../support/s3.js';
import { signal } from '../support/signal.js';

describe('two nodes completing the same dead node\'s recording upload at once', () => {
  let t: TestApp;
  let s3: S3Server;

  before(async () => {
    t = await startTestApp('sqlite');
    s3 = new S3Server(tempDir('gatehouse-s3-race-'));
    await s3.start();
  });
  after(async () => {
    await s3?.stop();
    await t?.close();
    removeTempDirs();
  });

  const storage = (node: string, encryption: 'none' | 'gatehouse') => nodeStorage(s3, t.core, node, { encryption, prefix: 'race/', spoolDir: tempDir(`gatehouse-spool-${node}-`) });

  for (const encryption of ['none', 'gatehouse'] as const) {
    it(`both come back with the whole recording and store it back repaired, under its own data key (encryption ${encryption})`, async () => {
      const sessionId = randomUUID();
      const rel = recordingRelPath(sessionId, Date.now(), '.cast');
      const body = Buffer.from(JSON.stringify({ version: 2, width: 80, height: 24 }) + '\n' + JSON.stringify([0.5, 'o', 'sent before the node died']) + '\n');
      const stored = Buffer.concat([body, Buffer.from('[0.75, "o", "torn by the ')]);

      // What the dead node had done: started the upload, sent one part, noted it.
      const dead = storage('node-dead', encryption);
      const dk = encryption === 'gatehouse' ? await t.core.dataKeys.create() : null;
      const started = await dead.client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: dead.key(rel) }));
      const sealer = dk ? new FrameSealer(dk.key, rel) : null;
      const part = sealer ? Buffer.concat([envelopeHeader(dk!.id), sealer.seal(stored, false)]) : stored;
      const sent = await dead.client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: dead.key(rel), UploadId: started.UploadId!, PartNumber: 1, Body: part, ContentLength: part.length }));
      const at = Date.now();
      await t.core.store.db
        .insertInto('recordingUploads')
        .values({ rel, sessionId, node: 'node-dead', uploadId: started.UploadId!, parts: JSON.stringify([{ n: 1, etag: sent.ETag!, bytes: stored.length, frames: sealer?.frames ?? 0 }]), dataKeyId: dk?.id ?? null, createdAt: at, updatedAt: at })
        .execute();

      const keys = async () => Number((await t.core.store.db.selectFrom('dataKeys').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
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
      assert.equal(await t.core.store.db.selectFrom('recordingUploads').select('rel').where('rel', '=', rel).executeTakeFirst(), undefined, 'the upload row is gone');
      // Each repairs its copy (recovery.ts cuts the torn line) and stores it back.
      writeFileSync(early.path, body);
      writeFileSync(got.path, body);
      await early.commit();
      await got.commit();
      const read = async (s: S3RecordingStorage) => Buffer.concat(await (await s.read(rel)).toArray());
      assert.ok((await read(first)).equals(body), 'the bucket holds the repaired recording');
      assert.ok((await read(second)).equals(body));
      const head = await first.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: first.key(rel), Range: 'bytes=0-1023' }));
      assert.equal(envelopeKeyId(Buffer.from(await head.Body!.transformToByteArray())), dk?.id ?? null, 'stored back sealed with the key it had');
      assert.equal(await keys(), keysBefore, 'no data key was added');
    });
  }
});
