// An upload the store no longer has (a bucket lifecycle rule aborted it: docs/operations.md
// recommends one for incomplete uploads; or a completion whose answer was lost, which some
// stores answer NoSuchUpload when repeated). Before, completing it failed at every start for
// ever: its recording_uploads row and spool segments were never released (the disk bound
// broken; retention skipping the session as someone else's). Now: when the object is there the
// upload is settled as completed; when it is not, as lost (logged), row and spool released.
// Against a real S3-compatible server on loopback (s3rver, test/support/s3.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { CompleteMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { tempDir } from '../cli/support.js';
import { appWithS3, nodeStorage, sessionWithOnePart } from '../support/s3.js';

describe('an upload the store no longer has', () => {
  const the = appWithS3('gone');
  const upload = (rel: string) => the.t.core.store.db.selectFrom('recordingUploads').selectAll().where('rel', '=', rel).executeTakeFirst();

  it('aborted by the store mid-session: settled as lost at the next start, its row and spool released (not retried for ever)', async () => {
    const g = nodeStorage(the.s3, the.t.core, 'node-g', { encryption: 'none', prefix: 'gone/', spoolDir: tempDir('gatehouse-spool-g-') });
    const { id, at, rel, spool } = await sessionWithOnePart(the, g, 'node-g');

    // The store's lifecycle rule aborts the upload; the session goes on and ends. (s3rver has
    // no AbortMultipartUpload: the store's answers to that upload from now on are AWS's after
    // an abort, NoSuchUpload, given here.)
    const uploadId = (await upload(rel))!.uploadId;
    const send = g.client.send.bind(g.client) as (c: unknown) => Promise<unknown>;
    (g.client as unknown as { send: (c: unknown) => Promise<unknown> }).send = async (c: unknown) => {
      if ((c instanceof UploadPartCommand || c instanceof CompleteMultipartUploadCommand) && c.input.UploadId === uploadId) throw Object.assign(new Error('The specified upload does not exist.'), { name: 'NoSuchUpload', Code: 'NoSuchUpload', $metadata: { httpStatusCode: 404 } });
      return send(c);
    };
    writeFileSync(spool.segmentPath(1), JSON.stringify([1, 'o', 'after the abort']) + '\n');
    await spool.finish(1, false);
    await the.t.core.store.db.updateTable('sessions').set({ status: 'ended', endedAt: at + 1000, endReason: 'client_closed' }).where('id', '=', id).execute();

    await g.resumeUploads();
    assert.equal(await upload(rel), undefined, 'the row is settled');
    for (const i of [0, 1]) assert.ok(!existsSync(spool.segmentPath(i)), `segment ${i} released`);
    assert.equal(await g.resumeUploads(), 0, 'nothing left to retry');
  });
});
