// The workers of one machine share its recording spool. A session writes its first segment
// before its upload exists (the store may take minutes to start it, and only then is its
// recording_uploads row written), so a worker starting up (resumeUploads, after a crash) saw
// that segment as an orphan of an upload completed elsewhere and deleted it: the other worker's
// session then failed, or its object lacked its first segment (its header). A live session's
// segments are left alone now; an ended session's with no upload are still dropped.
// Recovery's work copies (plain copies of a recording) do not pile up: one per session.
// Against a real S3-compatible server on loopback (s3rver, test/support/s3.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { recordingRelPath } from '../../src/core/sessions/recording-path.js';
import { tempDir } from '../cli/support.js';
import { appWithS3, nodeStorage, recordThrough } from '../support/s3.js';
import { sessionRow } from '../support/session-rows.js';

describe('a shared spool: a worker starting up leaves the live sessions of the others alone', () => {
  const the = appWithS3('shared-spool');

  it('the segment of a live session whose upload has not started stays; one of an ended session without an upload goes', async () => {
    const spoolDir = tempDir('gatehouse-shared-spool-');
    const w1 = nodeStorage(the.s3, the.t.core, 'n-w1', { encryption: 'none', prefix: 'shared/', spoolDir });
    const w2 = nodeStorage(the.s3, the.t.core, 'n-w2', { encryption: 'none', prefix: 'shared/', spoolDir });
    const at = Date.now() - 5_000;
    const live = sessionRow({ userId: the.adminId, username: 'admin', startedAt: at, node: 'n-w1' });
    const ended = sessionRow({ userId: the.adminId, username: 'admin', startedAt: at, node: 'n-w1', status: 'ended', endedAt: at + 1000, endReason: 'client_closed' });
    await the.t.core.store.db.insertInto('sessions').values([live, ended]).execute();
    const segment = (id: string) => `${w1.spoolPath(recordingRelPath(id, at, '.cast'))}.0`;
    for (const id of [live.id, ended.id]) {
      mkdirSync(dirname(segment(id)), { recursive: true });
      writeFileSync(segment(id), JSON.stringify({ version: 2, width: 80, height: 24 }) + '\n');
    }
    await w2.resumeUploads();
    assert.ok(existsSync(segment(live.id)), "the live session's first segment is kept");
    assert.ok(!existsSync(segment(ended.id)), "an ended session's segment with no upload is dropped");
  });

  it('recovery keeps one work copy per session: those left by earlier recoveries (never committed) are removed, one in use is not', async () => {
    const spoolDir = tempDir('gatehouse-recover-spool-');
    const n = nodeStorage(the.s3, the.t.core, 'n-rec', { encryption: 'gatehouse', prefix: 'recover/', spoolDir });
    const at = Date.now() - 5_000;
    const s = sessionRow({ userId: the.adminId, username: 'admin', startedAt: at, node: 'n-rec' });
    await the.t.core.store.db.insertInto('sessions').values(s).execute();
    const rel = recordingRelPath(s.id, at, '.cast');
    await recordThrough(n, rel, [Buffer.from(JSON.stringify({ version: 2, width: 80, height: 24 }) + '\n' + JSON.stringify([0.1, 'o', 'x']) + '\n')]);
    const copies = () => readdirSync(join(spoolDir, '.recover')).filter((f) => f.startsWith(`${s.id}-`));
    const first = await n.recover(s.id, at);
    assert.ok(first);
    assert.equal(copies().length, 1);
    // Another worker recovering the same session at this moment: its copy is in use, and kept.
    const busy = await n.recover(s.id, at);
    assert.ok(busy);
    assert.equal(copies().length, 2, 'a fresh copy is in use: kept');
    // Their recoveries went no further (unreadable, or the node stopped): left for later starts.
    const old = new Date(Date.now() - 11 * 60_000);
    for (const f of copies()) utimesSync(join(spoolDir, '.recover', f), old, old);
    const second = await n.recover(s.id, at);
    assert.ok(second);
    assert.deepEqual(copies(), [basename(second.path)], 'copies left from before are removed');
    await second.commit();
    assert.deepEqual(copies(), []);
  });
});
