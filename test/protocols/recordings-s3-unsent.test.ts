// A node dies (or freezes) before the first part of a session's recording has been uploaded:
// the whole recording is in that node's spool, and the upload it started has no part. The
// node that ends the session as interrupted must leave that upload alone (before, it aborted
// it and dropped its row, so the node, back again, threw its spool away as orphaned and the
// recording was lost). The session ends without a recording, saying the node that ran it
// seals it; that node, started again, uploads its spool, completes the upload and seals the
// recording into the session. Against a real S3-compatible server on loopback (s3rver,
// test/support/s3.ts), in both encryption modes.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CreateMultipartUploadCommand } from '@aws-sdk/client-s3';
import { recordingRelPath } from '../../src/core/sessions/recording-path.js';
import { recoverInterrupted, sealLateRecordings } from '../../src/core/sessions/recovery.js';
import { tempDir } from '../cli/support.js';
import { appWithS3, nodeStorage } from '../support/s3.js';
import { sessionRow } from '../support/session-rows.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('a dead node\'s recording with no part uploaded yet', () => {
  const the = appWithS3('unsent');

  const storage = (node: string, encryption: 'none' | 'gatehouse') => nodeStorage(the.s3, the.t.core, node, { encryption, prefix: 'unsent/', spoolDir: tempDir(`gatehouse-spool-${node}-`) });
  const events = async (action: string, id: string) => (await the.t.req('GET', `/api/v1/audit?action=${action}&targetId=${id}&limit=100`, { token: the.t.adminToken })).json().items as { details: Record<string, any> }[];
  const row = (id: string) => the.t.core.store.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const upload = (rel: string) => the.t.core.store.db.selectFrom('recordingUploads').selectAll().where('rel', '=', rel).executeTakeFirst();

  for (const encryption of ['none', 'gatehouse'] as const) {
    it(`the node that ends it leaves the upload to the node that ran it, which seals it when back (encryption ${encryption})`, async () => {
      const at = Date.now() - 60_000; // started a minute ago: its last event is in the past
      const s = sessionRow({ userId: the.adminId, username: 'admin', startedAt: at, node: 'node-b' });
      await the.t.core.store.db.insertInto('sessions').values(s).execute();
      const rel = recordingRelPath(s.id, at, '.cast');
      const body = Buffer.from(JSON.stringify({ version: 2, width: 80, height: 24 }) + '\n' + JSON.stringify([0.5, 'o', `spooled only ${randomUUID()}`]) + '\n');

      // What node B had done before it died: started the upload, noted it with no part sent,
      // and spooled its first segment, smaller than a part.
      const b = storage('node-b', encryption);
      const dk = encryption === 'gatehouse' ? await the.t.core.dataKeys.create() : null;
      const started = await b.client.send(new CreateMultipartUploadCommand({ Bucket: the.s3.bucket, Key: b.key(rel) }));
      await the.t.core.store.db.insertInto('recordingUploads').values({ rel, sessionId: s.id, node: 'node-b', uploadId: started.UploadId!, parts: '[]', dataKeyId: dk?.id ?? null, createdAt: at, updatedAt: at }).execute();
      const segment = `${b.spoolPath(rel)}.0`;
      mkdirSync(dirname(segment), { recursive: true });
      writeFileSync(segment, body);

      // Node A's heartbeat finds B dead and ends its session.
      const a = storage('node-a', encryption);
      const ended = await recoverInterrupted({ store: the.t.core.store, audit: the.t.core.audit, log: the.t.core.log, recordingsDir: tempDir('gatehouse-a-disk-'), node: 'node-a', deadNodes: ['node-b'], deadOnly: true, recover: (id, st) => a.recover(id, st) });
      assert.equal(ended, 1);
      const r1 = await row(s.id);
      assert.deepEqual([r1.status, r1.endReason, r1.recording], ['ended', 'interrupted', null]);
      const ends = await events('session.end', s.id);
      assert.equal(ends.length, 1);
      assert.match(ends[0]!.details.recording, /no recording file was found on node node-a; node node-b seals it when it starts again/);
      assert.equal((await events('recording.seal', s.id)).length, 0);
      assert.ok(await upload(rel), 'the upload is left for node B');
      assert.ok(existsSync(segment));

      // B starts again: it completes the upload from its spool and seals the recording.
      assert.equal(await sealLateRecordings({ store: the.t.core.store, audit: the.t.core.audit, log: the.t.core.log, recordingsDir: tempDir('gatehouse-b-disk-'), node: 'node-b', recover: (id, st) => b.recover(id, st) }), 1);
      assert.equal(await upload(rel), undefined, 'the upload is completed');
      assert.ok(!existsSync(segment), 'the spool is emptied');
      const stored = Buffer.concat(await (await b.read(rel)).toArray());
      assert.ok(stored.equals(body), 'the bucket holds the recording, whole');
      const seals = await events('recording.seal', s.id);
      assert.equal(seals.length, 1);
      assert.deepEqual([seals[0]!.details.file, seals[0]!.details.sha256, seals[0]!.details.recovered], [rel, sha(body), true]);
      assert.match(seals[0]!.details.note, /sealed by its node when it started again/);
      const r2 = await row(s.id);
      assert.deepEqual([r2.status, r2.endReason, r2.recording, r2.recordingSha256], ['ended', 'interrupted', rel, sha(body)]);
      assert.equal(r2.endedAt, at + 500, 'the end is the last recorded event');
      // A second start finds nothing more to do.
      assert.equal(await sealLateRecordings({ store: the.t.core.store, audit: the.t.core.audit, log: the.t.core.log, recordingsDir: tempDir('gatehouse-b-disk-'), node: 'node-b', recover: (id, st) => b.recover(id, st) }), 0);
    });
  }
});
