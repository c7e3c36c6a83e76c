// A node dies with parts of a session's recording in the bucket, and the node that ends its
// session as interrupted cannot reach the store just then (an outage, a 503): the session ends
// without a recording. Before, nobody tried again unless the dead node itself came back: the
// parts stayed in the bucket as an unfinished upload, with no recording for playback, verify
// or retention. Now a live node's upkeep completes that upload from the stored parts once the
// store answers, and seals the recording into the session (sealDeadNodesUploads).
// Against a real S3-compatible server on loopback (s3rver, test/support/s3.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { recoverInterrupted, sealDeadNodesUploads } from '../../src/core/sessions/recovery.js';
import { tempDir } from '../cli/support.js';
import { appWithS3, nodeStorage, sessionWithOnePart } from '../support/s3.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('a dead node\'s recording, when the store was down as its session was ended', () => {
  const the = appWithS3('outage');
  const storage = (node: string, encryption: 'none' | 'gatehouse') => nodeStorage(the.s3, the.t.core, node, { encryption, prefix: 'outage/', spoolDir: tempDir(`gatehouse-spool-${node}-`) });
  const events = async (action: string, id: string) => (await the.t.req('GET', `/api/v1/audit?action=${action}&targetId=${id}&limit=100`, { token: the.t.adminToken })).json().items as { details: Record<string, any> }[];
  const row = (id: string) => the.t.core.store.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const upload = (rel: string) => the.t.core.store.db.selectFrom('recordingUploads').selectAll().where('rel', '=', rel).executeTakeFirst();

  for (const encryption of ['none', 'gatehouse'] as const) {
    it(`is completed and sealed by a live node once the store answers (encryption ${encryption})`, async () => {
      // Node A ran the session and uploaded its first part; then it died.
      const a = storage('node-a', encryption);
      const { id, rel, first } = await sessionWithOnePart(the, a, 'node-a');

      // Node B ends A's session while the store does not answer: no recording.
      const b = storage('node-b', encryption);
      const ctx = { store: the.t.core.store, audit: the.t.core.audit, log: the.t.core.log, recordingsDir: tempDir('gatehouse-b-disk-'), node: 'node-b', recover: (id: string, st: number) => b.recover(id, st), stillDead: async (n: string) => n === 'node-a' };
      the.s3.takeDown();
      try {
        assert.equal(await recoverInterrupted({ ...ctx, deadNodes: ['node-a'], deadOnly: true }), 1);
      } finally {
        the.s3.bringUp();
      }
      const r1 = await row(id);
      assert.deepEqual([r1.status, r1.endReason, r1.recording], ['ended', 'interrupted', null]);
      assert.ok(await upload(rel), 'the upload is still there');

      // B's next upkeep, the store back: the upload completed from its parts, the recording sealed.
      assert.equal(await sealDeadNodesUploads(ctx), 1);
      assert.equal(await upload(rel), undefined, 'the upload is completed');
      const stored = Buffer.concat(await (await b.read(rel)).toArray());
      assert.ok(stored.equals(first), 'the bucket holds what the part held');
      const seals = await events('recording.seal', id);
      assert.equal(seals.length, 1);
      assert.deepEqual([seals[0]!.details.file, seals[0]!.details.sha256], [rel, sha(first)]);
      assert.match(seals[0]!.details.note, /sealed by node node-b once object storage answered/);
      const r2 = await row(id);
      assert.deepEqual([r2.recording, r2.recordingSha256], [rel, sha(first)]);
      // Nothing more to do at the next upkeep; a node that is not dead is left alone.
      assert.equal(await sealDeadNodesUploads(ctx), 0);
    });
  }

  it('a node stopping while it reaps leaves live a session whose recording its closing storage kept from it, and takes up no further one', async () => {
    // Before: the stop's bounded wait let the reap go on while the S3 client was destroyed; the
    // session was ended without its recording, and nobody sealed the object later.
    const a = storage('node-a', 'gatehouse');
    const one = await sessionWithOnePart(the, a, 'node-a');
    const two = await sessionWithOnePart(the, a, 'node-a');
    let stopping = false;
    const ctx = {
      store: the.t.core.store, audit: the.t.core.audit, log: the.t.core.log, recordingsDir: tempDir('gatehouse-b-disk-'), node: 'node-b', stillDead: async (n: string) => n === 'node-a', stopping: () => stopping,
      // The stop begins while the first session's recording is fetched; the storage closes under it.
      recover: async () => {
        stopping = true;
        throw new Error('the S3 client was destroyed');
      },
    };
    assert.equal(await recoverInterrupted({ ...ctx, deadNodes: ['node-a'], deadOnly: true }), 0);
    for (const s of [one, two]) assert.equal((await row(s.id)).status, 'live', 'left for the next reaper');
    // The next reaper, not stopping, ends them with their recordings.
    const c = storage('node-c', 'gatehouse');
    assert.equal(await recoverInterrupted({ ...ctx, node: 'node-c', stopping: () => false, recover: (id: string, st: number) => c.recover(id, st), deadNodes: ['node-a'], deadOnly: true }), 2);
    for (const s of [one, two]) {
      const r = await row(s.id);
      assert.deepEqual([r.status, r.recording], ['ended', s.rel]);
    }
  });
});
