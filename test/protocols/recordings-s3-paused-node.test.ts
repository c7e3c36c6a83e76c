// A node pauses (a frozen VM, a long stall) past the dead timeout while a session of it runs:
// another node ends the session as interrupted, completes the recording's upload from the parts
// already stored and seals it. When the paused node wakes up, its next part fails (the upload
// is complete) and it finishes its recording as a failed one. It must leave the sealed object
// alone. Before, finding no upload row it took the upload for one that never started, began a
// new upload on the same key with what its spool still held and completed it: the recording
// the other node had sealed was replaced by a tail without its header (verify: differs).
// Against a real S3-compatible server on loopback (s3rver, test/support/s3.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { UploadPartCommand } from '@aws-sdk/client-s3';
import { recoverInterrupted } from '../../src/core/sessions/recovery.js';
import { tempDir } from '../cli/support.js';
import { appWithS3, nodeStorage, sessionWithOnePart } from '../support/s3.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const line = (t: number, text: string) => Buffer.from(JSON.stringify([t, 'o', text]) + '\n');

describe('a paused node wakes after another node sealed its recording', () => {
  const the = appWithS3('paused');
  const storage = (node: string, encryption: 'none' | 'gatehouse') => nodeStorage(the.s3, the.t.core, node, { encryption, prefix: 'paused/', spoolDir: tempDir(`gatehouse-spool-${node}-`) });
  const events = async (action: string, id: string) => (await the.t.req('GET', `/api/v1/audit?action=${action}&targetId=${id}&limit=100`, { token: the.t.adminToken })).json().items as { details: Record<string, any> }[];
  const upload = (rel: string) => the.t.core.store.db.selectFrom('recordingUploads').selectAll().where('rel', '=', rel).executeTakeFirst();

  for (const encryption of ['none', 'gatehouse'] as const) {
    it(`the sealed object stays as sealed; the paused node's tail is dropped, not stored over it (encryption ${encryption})`, async () => {
      // Node A runs the session: its first segment (header and output, one part) is uploaded.
      const a = storage('node-a', encryption);
      const failures: Error[] = [];
      const { id, rel, spool } = await sessionWithOnePart(the, a, 'node-a', failures);
      const uploadId = (await upload(rel))!.uploadId;

      // A is paused; B finds it dead, ends its session and seals the recording from the stored part.
      const b = storage('node-b', encryption);
      const ended = await recoverInterrupted({ store: the.t.core.store, audit: the.t.core.audit, log: the.t.core.log, recordingsDir: tempDir('gatehouse-b-disk-'), node: 'node-b', deadNodes: ['node-a'], deadOnly: true, recover: (id, st) => b.recover(id, st) });
      assert.equal(ended, 1);
      const seals = await events('recording.seal', id);
      assert.equal(seals.length, 1);
      const sealed = seals[0]!.details.sha256 as string;
      assert.equal(sha(Buffer.concat(await (await b.read(rel)).toArray())), sealed);
      assert.equal(await upload(rel), undefined, 'B completed the upload');

      // A wakes up: its next part fails (the upload is complete), and its recording finishes as failed.
      // AWS answers NoSuchUpload to a part of a completed upload; s3rver takes the part, so
      // that answer is given here, for that upload only.
      const send = a.client.send.bind(a.client) as (c: unknown) => Promise<unknown>;
      (a.client as unknown as { send: (c: unknown) => Promise<unknown> }).send = async (c: unknown) => {
        if (c instanceof UploadPartCommand && c.input.UploadId === uploadId) throw Object.assign(new Error('The specified upload does not exist.'), { name: 'NoSuchUpload', Code: 'NoSuchUpload', $metadata: { httpStatusCode: 404 } });
        return send(c);
      };
      for (const i of [1, 2]) writeFileSync(spool.segmentPath(i), line(i, `after the pause ${i} ${randomBytes(8).toString('hex')}`));
      spool.sealed(1);
      await spool.finish(2, false);
      assert.ok(failures.length > 0, 'the part after the pause failed (its session ends)');

      assert.equal(sha(Buffer.concat(await (await b.read(rel)).toArray())), sealed, 'the object is still the one sealed');
      assert.equal(await upload(rel), undefined, 'no new upload was begun');
      for (const i of [0, 1, 2]) assert.ok(!existsSync(spool.segmentPath(i)), `segment ${i} is not kept for an upload that will not come`);
    });
  }
});
