// Gatehouse-side encryption in object storage: an object's header names its data key, and
// whoever can write the bucket can change that header. Deleting a recording (retention, or a
// delete by hand) deletes its data key, and repair stores a recording again under its key: both
// must take only the key that opens the object as that recording (its first frame, bound to the
// recording's name), never a key the header merely names. Before, an object put at one
// recording's name with another's header made the delete of the first remove the second's key,
// and the second recording could never be read again. The database also says which recordings
// were stored encrypted (recording_keys): an object without the header put in the place of one
// of them is refused, not played as plaintext. Against s3rver on loopback.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { text } from 'node:stream/consumers';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { envelopeHeader, FrameSealer, isEnvelope, provenKeyId } from '../../src/core/sessions/recording-envelope.js';
import { hashOrWhy } from '../../src/core/sessions/recording-seals.js';
import { recordingRelPath } from '../../src/core/sessions/recording-path.js';
import type { S3RecordingStorage } from '../../src/core/sessions/recording-storage-s3.js';
import { tempDir } from '../cli/support.js';
import { appWithS3, nodeStorage, recordThrough } from '../support/s3.js';

describe('the data key of an encrypted recording in object storage', () => {
  const the = appWithS3('keyhead');
  let storage: S3RecordingStorage;
  before(() => {
    storage = nodeStorage(the.s3, the.t.core, 'node-a', { encryption: 'gatehouse', prefix: 'keyhead/', spoolDir: tempDir('gatehouse-spool-keyhead-') });
  });

  /** An encrypted recording stored as an upload stores one: its own data key, its header, its frames. */
  const stored = async (content: string) => {
    const rel = recordingRelPath(randomUUID(), Date.now(), '.cast');
    const dk = await the.t.core.dataKeys.create();
    const body = Buffer.concat([envelopeHeader(dk.id), new FrameSealer(dk.key, rel).seal(Buffer.from(content), true)]);
    await storage.client.send(new PutObjectCommand({ Bucket: the.s3.bucket, Key: storage.key(rel), Body: body }));
    return { rel, keyId: dk.id, body };
  };
  const keyExists = async (id: string) => !!(await the.t.core.store.db.selectFrom('dataKeys').select('id').where('id', '=', id).executeTakeFirst());

  it('a delete takes the key that opens the object, and leaves alone the key a changed header names', async () => {
    const mine = await stored('{"version":2}\nmine\n');
    const other = await stored('{"version":2}\nthe other recording\n');
    // Someone with write access to the bucket puts the other recording's bytes at mine's name.
    await storage.client.send(new PutObjectCommand({ Bucket: the.s3.bucket, Key: storage.key(mine.rel), Body: other.body }));
    assert.equal(await storage.remove(mine.rel), true);
    assert.equal(await keyExists(other.keyId), true, "the other recording's key is kept");
    assert.equal(await text(await storage.read(other.rel)), '{"version":2}\nthe other recording\n', 'the other recording still reads');

    // An object left as stored: its delete takes its key with it.
    assert.equal(await storage.remove(other.rel), true);
    assert.equal(await keyExists(other.keyId), false);
  });

  it('an object without the encryption header in the place of a recording stored encrypted is refused (read for playback or download, hashed for verify), not read as plaintext; one stored before encryption still reads; the delete takes the recorded key', async () => {
    const rel = recordingRelPath(randomUUID(), Date.now(), '.cast');
    await recordThrough(storage, rel, [Buffer.from('{"version":2}\n[0.1,"o","the real session"]\n')]);
    assert.match(await text(await storage.read(rel)), /the real session/);
    const keys = await the.t.core.store.db.selectFrom('recordingKeys').selectAll().where('rel', '=', rel).execute();
    assert.equal(keys.length, 1, 'the key made for it is on record');
    // Someone with write access to the bucket puts plain content there.
    await storage.client.send(new PutObjectCommand({ Bucket: the.s3.bucket, Key: storage.key(rel), Body: '{"version":2}\n[0.1,"o","a forged session"]\n' }));
    // Before: read as plaintext, the forged content played as the session.
    await assert.rejects(storage.read(rel), (e: Error & { code?: string }) => e.code === 'recording_replaced' && /stored encrypted/.test(e.message));
    const hashed = await hashOrWhy(() => storage.sha256(rel));
    assert.ok('unreadable' in hashed, 'recording verify reports it unreadable');
    // A recording stored before encryption was on (no key on record) is read as it is.
    const plain = recordingRelPath(randomUUID(), Date.now(), '.cast');
    await storage.client.send(new PutObjectCommand({ Bucket: the.s3.bucket, Key: storage.key(plain), Body: '{"version":2}\nplain\n' }));
    assert.equal(await text(await storage.read(plain)), '{"version":2}\nplain\n');
    // The delete removes the key on record, whatever the object holds now.
    assert.equal(await storage.remove(rel), true);
    assert.equal(await keyExists(keys[0]!.dataKeyId), false);
    assert.deepEqual(await the.t.core.store.db.selectFrom('recordingKeys').selectAll().where('rel', '=', rel).execute(), []);
  });

  it('a recording stored sealed and repaired by a node that does not seal (encryption turned off since, or a node set otherwise) is stored sealed again, and still reads', async () => {
    const sessionId = randomUUID();
    const at = Date.now();
    const rel = recordingRelPath(sessionId, at, '.cast');
    await recordThrough(storage, rel, [Buffer.from('{"version":2}\n[0.1,"o","before the crash"]\n')]);
    const plainNode = nodeStorage(the.s3, the.t.core, 'node-b', { encryption: 'none', prefix: 'keyhead/', spoolDir: tempDir('gatehouse-spool-keyhead-b-') });
    const work = await plainNode.recover(sessionId, at);
    assert.equal(work?.rel, rel);
    appendFileSync(work!.path, '[0.2,"o","repaired"]\n');
    await work!.commit();
    const stored = Buffer.from(await (await storage.client.send(new GetObjectCommand({ Bucket: the.s3.bucket, Key: storage.key(rel) }))).Body!.transformToByteArray());
    // Before: stored plain by the node that does not seal, then refused as replaced.
    assert.ok(isEnvelope(stored), 'sealed again');
    assert.match(await text(await plainNode.read(rel)), /before the crash[\s\S]*repaired/);
  });

  it('provenKeyId: the named key only when it opens the first frame as that recording; not for a plain, truncated or foreign object', async () => {
    const a = await stored('{"version":2}\na\n');
    const b = await stored('{"version":2}\nb\n');
    const keyOf = (id: string) => the.t.core.dataKeys.find(id);
    const head = async (rel: string) => Buffer.from(await (await storage.client.send(new GetObjectCommand({ Bucket: the.s3.bucket, Key: storage.key(rel) }))).Body!.transformToByteArray());
    assert.equal(await provenKeyId(await head(a.rel), a.rel, keyOf), a.keyId);
    assert.equal(await provenKeyId(await head(b.rel), a.rel, keyOf), null, "b's bytes are not a's recording");
    assert.equal(await provenKeyId(b.body.subarray(0, b.body.length - 3), b.rel, keyOf), null, 'a first frame cut short');
    assert.equal(await provenKeyId(Buffer.from('{"version":2}\n'), a.rel, keyOf), null, 'not encrypted');
    const unknown = Buffer.concat([envelopeHeader(randomUUID()), b.body.subarray(envelopeHeader(b.keyId).length)]);
    assert.equal(await provenKeyId(unknown, b.rel, keyOf), null, 'a key that does not exist');
    // The database failing to give the key is no verdict on the object: it is thrown.
    await assert.rejects(provenKeyId(await head(a.rel), a.rel, async () => Promise.reject(new Error('database unavailable'))), /database unavailable/);
  });
});
