// Start-up recovery of sessions a crash left live, on both databases, with recordings made
// by hand in the data dir: each of this node's interrupted sessions ends "interrupted" at its
// last recorded event, its recording (torn tail cut off) is linked, counted and sealed like a
// normal end's, or, without a usable recording, the audit says why; other nodes' live
// sessions are left alone; a second start recovers nothing twice.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { encodeGhrecHeader, encodeGhrecRecord } from '../../src/core/sessions/ghrec.js';
import { recordingRelPath } from '../../src/core/sessions/recording-path.js';
import { findRecording, recoverInterrupted, sealLateRecordings } from '../../src/core/sessions/recovery.js';
import { RDP_RECORDED_TRAFFIC, RDPREC } from '../../src/protocols/rdp/recording/records.js';
import type { SessionsTable } from '../../src/store/schema.js';
import { whileAuditRefused } from '../support/audit-refused.js';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';
import { sessionRow } from '../support/session-rows.js';
import { signal } from '../support/signal.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const CAST_HEADER = JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1 }) + '\n';
const ev = (t: number, type: string, text: string) => JSON.stringify([t, type, text]) + '\n';

for (const kind of DB_KINDS) {
  describe(`session recovery at start (${kind})`, () => {
    let t: TestApp;
    let adminId: string;
    const started = Date.now() - 3_600_000;
    const dir = () => join(t.dataDir, 'recordings');

    before(async () => {
      t = await startTestApp(kind);
      adminId = (await t.core.store.db.selectFrom('users').select('id').where('username', '=', 'admin').executeTakeFirstOrThrow()).id;
    });
    after(() => t?.close());

    const insert = async (extra: Partial<SessionsTable> = {}): Promise<string> => {
      const row = sessionRow({ userId: adminId, username: 'admin', startedAt: started, node: t.core.sessions.node, ...extra });
      await t.core.store.db.insertInto('sessions').values(row).execute();
      return row.id;
    };
    const file = (id: string, ext: string, content: Buffer | string, at = started) => {
      const rel = recordingRelPath(id, at, ext);
      mkdirSync(dirname(join(dir(), rel)), { recursive: true });
      writeFileSync(join(dir(), rel), content);
      return rel;
    };
    const get = async (url: string) => {
      const r = await t.req('GET', url, { token: t.adminToken });
      assert.equal(r.statusCode, 200, r.body);
      return r.json();
    };
    const events = async (action: string, id: string) => (await get(`/api/v1/audit?action=${action}&targetId=${id}&limit=100`)).items as any[];

    let castId: string, ghrecId: string, missingId: string, emptyId: string, legacyId: string, otherNodeId: string, endedId: string, nextDayId: string;
    let castGood: string, ghrecGood: Buffer;

    it('recovers this node\'s interrupted sessions and no other node\'s', async () => {
      // SSH, cast with a torn last line.
      castId = await insert();
      castGood = CAST_HEADER + ev(0.5, 'o', 'hello\r\n') + ev(1.25, 'i', 'ls\r') + ev(7.75, 'o', 'done');
      file(castId, '.cast', castGood);
      appendFileSync(join(dir(), recordingRelPath(castId, started, '.cast')), '[9.0, "o", "torn');
      // RDP, ghrec with a torn last record; its own start is a moment after the row's.
      ghrecId = await insert({ protocol: 'rdp', door: 'rdp', launcherId: 'rdp' });
      const ghStart = started + 7;
      ghrecGood = Buffer.concat([
        encodeGhrecHeader({ format: 'rdp', formatVersion: 1, startedAt: new Date(ghStart).toISOString() }),
        encodeGhrecRecord(RDPREC.DESKTOP, 0, new Uint8Array(6)),
        encodeGhrecRecord(RDPREC.FASTPATH_OUTPUT, 100, new Uint8Array(500)),
        encodeGhrecRecord(RDPREC.INPUT, 4321, new Uint8Array(21)),
      ]);
      file(ghrecId, '.ghrec', Buffer.concat([ghrecGood, encodeGhrecRecord(RDPREC.FASTPATH_OUTPUT, 5000, new Uint8Array(100)).subarray(0, 50)]));
      // No recording at all (killed before it began), with a text index line at 42.5 s.
      missingId = await insert();
      await t.core.store.db.insertInto('sessionText').values({ sessionId: missingId, seq: 1, at: 42.5, kind: 'event', text: 'target_login x' }).execute();
      // An empty recording file (killed between creating and writing the header).
      emptyId = await insert({ protocol: 'telnet', launcherId: 'telnet' });
      file(emptyId, '.cast', '');
      // From before nodes were named: recovered here.
      legacyId = await insert({ node: null });
      file(legacyId, '.cast', CAST_HEADER);
      // Another node's live session: not ours to end.
      otherNodeId = await insert({ node: 'another-node-0001' });
      file(otherNodeId, '.cast', CAST_HEADER + ev(1, 'o', 'x') + '[2, "o", "torn');
      // Already ended: untouched.
      endedId = await insert({ status: 'ended', endedAt: started + 1000, endReason: 'client closed' });
      // Started a moment before midnight UTC: its writer filed the recording under the next day.
      const lateStart = Date.UTC(2026, 0, 5, 23, 59, 59, 999);
      nextDayId = await insert({ startedAt: lateStart });
      file(nextDayId, '.cast', CAST_HEADER + ev(3, 'o', 'late'), lateStart + 5);
      assert.notEqual(recordingRelPath(nextDayId, lateStart, '.cast'), recordingRelPath(nextDayId, lateStart + 5, '.cast'));
      assert.equal(findRecording(dir(), nextDayId, lateStart), recordingRelPath(nextDayId, lateStart + 5, '.cast'));

      const n = await t.core.sessions.reapStale({ rdp: RDP_RECORDED_TRAFFIC });
      assert.equal(n, 6, 'cast, ghrec, missing, empty, legacy, next day');
      const v = await get('/api/v1/audit/verify');
      assert.equal(v.ok, true, JSON.stringify(v));
      assert.equal(v.lastCheckpointSeq, v.count, 'the recovery signed the head, its own events included');
    });

    it('an SSH session: ended "interrupted" at its last event, torn line cut off, counted, sealed, downloadable', async () => {
      const s = await get(`/api/v1/sessions/${castId}`);
      assert.equal(s.status, 'ended');
      assert.equal(s.endReason, 'interrupted');
      assert.equal(s.endedAt, new Date(started + 7750).toISOString());
      assert.deepEqual([s.bytesIn, s.bytesOut], [3, 11]);
      assert.deepEqual(s.recording, { available: true, sha256: sha(Buffer.from(castGood)), keystrokes: true, format: 'asciicast' });
      const rel = recordingRelPath(castId, started, '.cast');
      assert.equal(readFileSync(join(dir(), rel), 'utf8'), castGood);
      const dl = await t.req('GET', `/api/v1/recordings/${castId}`, { token: t.adminToken });
      assert.equal(dl.statusCode, 200);
      assert.equal(dl.body, castGood);

      const [end] = await events('session.end', castId);
      assert.equal(end.actorName, 'admin');
      assert.equal(end.ip, '127.0.0.9');
      assert.deepEqual([end.details.reason, end.details.recovered, end.details.bytesIn, end.details.bytesOut, end.details.seconds], ['interrupted', true, 3, 11, 8]);
      const seals = await events('recording.seal', castId);
      assert.equal(seals.length, 1);
      assert.equal(seals[0].actorName, 'system');
      assert.deepEqual(
        { ...seals[0].details, note: undefined },
        { file: rel, sha256: sha(Buffer.from(castGood)), format: 'asciicast-v2', recovered: true, note: undefined, bytes: castGood.length, tornBytes: '[9.0, "o", "torn'.length },
      );
      assert.match(seals[0].details.note, /recovered after the gateway was interrupted: a torn last record of 16 bytes was cut off/);
    });

    it('an RDP session: the ghrec file is cut at its last whole record; the end is the header start plus the last record time', async () => {
      const s = await get(`/api/v1/sessions/${ghrecId}`);
      assert.equal(s.endReason, 'interrupted');
      assert.equal(s.endedAt, new Date(started + 7 + 4321).toISOString());
      assert.deepEqual([s.bytesIn, s.bytesOut], [21, 500]);
      assert.equal(s.recording.format, 'ghrec-rdp');
      assert.equal(s.recording.sha256, sha(ghrecGood));
      const dl = await t.req('GET', `/api/v1/recordings/${ghrecId}`, { token: t.adminToken });
      assert.equal(dl.statusCode, 200);
      assert.ok(dl.rawPayload.equals(ghrecGood));
      const [seal] = await events('recording.seal', ghrecId);
      assert.deepEqual([seal.details.format, seal.details.sha256, seal.details.recovered, seal.details.tornBytes], ['ghrec-rdp', sha(ghrecGood), true, 50]);
    });

    it('without a recording file: ended "interrupted" at the last indexed line, no recording, the audit says none was found', async () => {
      const s = await get(`/api/v1/sessions/${missingId}`);
      assert.deepEqual([s.status, s.endReason, s.recording.available, s.bytesIn, s.bytesOut], ['ended', 'interrupted', false, 0, 0]);
      assert.equal(s.endedAt, new Date(started + 42_500).toISOString());
      const [end] = await events('session.end', missingId);
      assert.equal(end.details.reason, 'interrupted');
      assert.equal(end.details.recovered, true);
      assert.equal(end.details.recording, 'no recording file was found');
      assert.deepEqual(await events('recording.seal', missingId), []);
      assert.equal((await t.req('GET', `/api/v1/recordings/${missingId}`, { token: t.adminToken })).statusCode, 404);
    });

    it('with an unreadable (empty) recording file: ended, not linked, the file left in place, the audit names it', async () => {
      const s = await get(`/api/v1/sessions/${emptyId}`);
      assert.deepEqual([s.endReason, s.recording.available, s.endedAt], ['interrupted', false, new Date(started).toISOString()]);
      const rel = recordingRelPath(emptyId, started, '.cast');
      assert.ok(existsSync(join(dir(), rel)));
      const [end] = await events('session.end', emptyId);
      assert.equal(end.details.recording, `the recording ${rel} is unreadable: the file is empty`);
      assert.deepEqual(await events('recording.seal', emptyId), []);
    });

    it('a session from before nodes were named is recovered (header only: ends at its start); one filed under the next day is found', async () => {
      const legacy = await get(`/api/v1/sessions/${legacyId}`);
      assert.deepEqual([legacy.endReason, legacy.recording.available, legacy.endedAt], ['interrupted', true, new Date(started).toISOString()]);
      assert.equal((await events('recording.seal', legacyId)).length, 1);
      const late = await get(`/api/v1/sessions/${nextDayId}`);
      assert.deepEqual([late.endReason, late.recording.available, late.bytesOut], ['interrupted', true, 4]);
    });

    it('leaves another node\'s live session and an ended session alone', async () => {
      const other = await get(`/api/v1/sessions/${otherNodeId}`);
      assert.deepEqual([other.status, other.endedAt, other.endReason], ['live', null, null]);
      assert.deepEqual(await events('session.end', otherNodeId), []);
      const torn = CAST_HEADER + ev(1, 'o', 'x') + '[2, "o", "torn';
      assert.equal(readFileSync(join(dir(), recordingRelPath(otherNodeId, started, '.cast')), 'utf8'), torn, 'its file untouched');
      const ended = await get(`/api/v1/sessions/${endedId}`);
      assert.deepEqual([ended.endReason, ended.endedAt], ['client closed', new Date(started + 1000).toISOString()]);
    });

    // Two live nodes whose heartbeats see the same node dead at once both take up its
    // session: each read the row while it was live; one ends it, the other's end finds it
    // ended. Whichever of them holds the recording, it is sealed into the session, once.
    for (const holderFirst of [false, true]) {
      it(`two nodes recover a dead node's session at once (${holderFirst ? 'the one with the recording ends it' : 'the one without ends it first'}): sealed once, by the holder`, async () => {
        const id = await insert({ node: 'node-dead' });
        const body = CAST_HEADER + ev(0.5, 'o', 'one') + ev(2.25, 'o', 'two');
        const rel = file(id, '.cast', body);
        const empty = join(t.dataDir, `empty-${id}`);
        mkdirSync(empty);
        const base = { store: t.core.store, audit: t.core.audit, log: t.core.log, deadNodes: ['node-dead'], deadOnly: true };
        // Both read the row while it is live (each waits in its lookup for the other to get
        // there), then the second's lookup waits until the first has ended the session.
        const looking = { holder: signal(), finder: signal() };
        const firstDone = signal();
        const holder = recoverInterrupted({
          ...base,
          node: 'node-holder',
          recordingsDir: dir(),
          recover: async () => {
            looking.holder.resolve();
            await looking.finder.done;
            if (!holderFirst) await firstDone.done;
            return { rel, path: join(dir(), rel), commit: async () => undefined };
          },
        }).finally(() => holderFirst && firstDone.resolve());
        const finder = recoverInterrupted({
          ...base,
          node: 'node-finder',
          recordingsDir: empty,
          recover: async () => {
            looking.finder.resolve();
            await looking.holder.done;
            if (holderFirst) await firstDone.done;
            return null;
          },
        }).finally(() => !holderFirst && firstDone.resolve());
        await Promise.all([holder, finder]);

        const s = await get(`/api/v1/sessions/${id}`);
        assert.deepEqual([s.status, s.endReason, s.recording.available, s.recording.sha256, s.bytesOut], ['ended', 'interrupted', true, sha(Buffer.from(body)), 6]);
        assert.equal(s.endedAt, new Date(started + 2250).toISOString());
        const ends = await events('session.end', id);
        assert.equal(ends.length, 1);
        assert.equal(ends[0].details.endedBy, holderFirst ? 'node-holder' : 'node-finder');
        const seals = await events('recording.seal', id);
        assert.equal(seals.length, 1, 'sealed exactly once');
        assert.deepEqual([seals[0].details.file, seals[0].details.sha256, seals[0].details.recovered], [rel, sha(Buffer.from(body)), true]);
        if (!holderFirst) {
          assert.match(ends[0].details.recording, /no recording file was found on node node-finder/);
          assert.match(seals[0].details.note, /sealed by node node-holder, which had the recording when another node had ended the session/);
        }
      });
    }

    const auditDown = <T>(fn: () => Promise<T>) => whileAuditRefused(t.core.store, 'audit unavailable', fn);

    // The ended row and its events are one transaction: a failure between them (before, the
    // row was written and then the events) must leave the session as it was, for the next try.
    it('a recovery whose audit write fails leaves the session live, unended and unsealed; the next one ends it', async () => {
      const id = await insert({ node: 'node-crashed' });
      const body = CAST_HEADER + ev(0.5, 'o', 'half');
      const rel = file(id, '.cast', body);
      const ctx = { store: t.core.store, audit: t.core.audit, log: t.core.log, recordingsDir: dir(), node: 'node-rescuer', deadNodes: ['node-crashed'], deadOnly: true };
      await assert.rejects(auditDown(() => recoverInterrupted(ctx)), /audit unavailable/);
      const r = await t.core.store.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      assert.deepEqual([r.status, r.endedAt, r.endReason, r.recording, r.recordingSha256], ['live', null, null, null, null], 'nothing of the end was written');
      assert.equal((await events('session.end', id)).length, 0);

      assert.equal(await recoverInterrupted(ctx), 1);
      const s = await get(`/api/v1/sessions/${id}`);
      assert.deepEqual([s.status, s.endReason, s.recording.sha256], ['ended', 'interrupted', sha(Buffer.from(body))]);
      assert.equal((await events('session.end', id)).length, 1);
      const seals = await events('recording.seal', id);
      assert.deepEqual(seals.map((e) => e.details.file), [rel]);
    });

    it('a late seal whose audit write fails leaves the session without a recording; the next start seals it', async () => {
      // Another node ended this node's session while this one was down, without its recording.
      const id = await insert({ status: 'ended', endedAt: started + 1000, endReason: 'interrupted' });
      const body = CAST_HEADER + ev(0.25, 'o', 'kept') + ev(1.5, 'o', 'here');
      file(id, '.cast', body);
      const ctx = { store: t.core.store, audit: t.core.audit, log: t.core.log, recordingsDir: dir(), node: t.core.sessions.node };
      await assert.rejects(auditDown(() => sealLateRecordings(ctx)), /audit unavailable/);
      const r = await t.core.store.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      assert.deepEqual([r.recording, r.recordingSha256, r.endedAt], [null, null, started + 1000], 'the row names no recording no seal vouches for');
      assert.equal((await events('recording.seal', id)).length, 0);

      assert.equal(await sealLateRecordings(ctx), 1);
      const s = await get(`/api/v1/sessions/${id}`);
      assert.deepEqual([s.recording.available, s.recording.sha256], [true, sha(Buffer.from(body))]);
      assert.equal((await events('recording.seal', id)).length, 1);
    });

    it('the chain still verifies; starting again recovers nothing twice', async () => {
      const v = await get('/api/v1/audit/verify');
      assert.equal(v.ok, true, JSON.stringify(v));
      assert.equal(await t.core.sessions.reapStale({ rdp: RDP_RECORDED_TRAFFIC }), 0);
      assert.equal((await events('session.end', castId)).length, 1);
      assert.equal((await events('recording.seal', castId)).length, 1);
    });
  });
}
