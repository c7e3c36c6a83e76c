// Recordings compressed at rest and their retention, through the API on both databases:
// a compressed session's recording downloads (live and ended) as the plain asciicast its
// readers know, the live view's backlog reads it, `gzip -d` gives the same bytes and the
// seal is their hash; retention policies (global, folder with its subfolders, launcher; the
// longest that applies wins) delete what they should at a sweep, audited one by one, and
// nothing under legal hold; `recordings/verify` reports the deleted as deleted. A deleted
// secret's recordings keep the longest folder policy; a deletion is one transaction with its
// event and the file goes after it; a recording that cannot be deleted is logged and tried
// again without stopping the sweep; a deleted recording cannot be put on hold.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditService } from '../../src/core/audit/service.js';
import type { LiveSession } from '../../src/core/sessions/live.js';
import type { RecordingStorage } from '../../src/core/sessions/recording-storage.js';
import { RecordingRetention } from '../../src/core/sessions/retention.js';
import { whileAuditRefused } from '../support/audit-refused.js';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';

const DAY = 86_400_000;
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

for (const kind of DB_KINDS) {
  describe(`compressed recordings and retention on ${kind}`, () => {
    let t: TestApp;
    const api = async (method: string, url: string, body?: unknown, status = 200) => {
      const r = await t.req(method, url, { token: t.adminToken, ...(body !== undefined ? { body } : {}) });
      assert.equal(r.statusCode, status, `${method} ${url}: ${r.body}`);
      return r.statusCode === 204 ? null : r.json();
    };
    const secret = async (folderId?: string) =>
      (await api('POST', '/api/v1/secrets', { name: `s-${randomUUID().slice(0, 8)}`, template: 'generic', ...(folderId ? { folderId } : {}), fields: { username: 'u', password: 'pw-retention' } }, 201)).id as string;
    /** A recorded SSH session started as the door starts one (the target is never contacted). */
    const session = async (secretId: string, launcherId = 'ssh', lines = 3): Promise<LiveSession> => {
      const me = await api('GET', '/api/v1/me');
      const plan = {
        sessionId: randomUUID(),
        user: { id: me.id, username: me.username },
        protocol: 'ssh' as const,
        target: { host: 'db1', port: 22 },
        credential: await t.core.secrets.credential(secretId),
        launcher: await t.core.launchers.get(launcherId),
      };
      const s = await t.core.sessions.start(plan, { clientIp: '127.0.0.1', door: 'ssh' });
      s.begin({ cols: 80, rows: 24, term: 'xterm' });
      for (let i = 0; i < lines; i++) {
        s.input(Buffer.from(`echo line ${i}\r`));
        s.output(Buffer.from(`line ${i} ${'of output that compresses well '.repeat(8)}\r\n`));
      }
      return s;
    };
    /** Ends a session and moves its end back `days` days. */
    const endAgo = async (s: LiveSession, days: number) => {
      await s.end('finished');
      await t.core.store.db.updateTable('sessions').set({ endedAt: Date.now() - days * DAY }).where('id', '=', s.id).execute();
    };
    const download = async (id: string) => {
      const r = await t.req('GET', `/api/v1/recordings/${id}`, { token: t.adminToken });
      return { status: r.statusCode, body: r.rawPayload };
    };

    before(async () => {
      t = await startTestApp(kind, { GATEHOUSE_RECORDING_COMPRESSION: 'gzip' });
    });
    after(async () => {
      await t?.close();
    });

    it('a compressed recording reads as the plain asciicast: download (live and ended), live backlog, gzip -d, seal, verify', async () => {
      const s = await session(await secret(), 'ssh', 400);
      assert.match(s.recordingPath!, /\.cast\.gz$/);
      // Live: the download waits for the writer thread and inflates.
      const live = await download(s.id);
      assert.equal(live.status, 200);
      const liveText = live.body.toString('utf8');
      assert.match(liveText, /^\{"version":2,/);
      assert.ok(liveText.includes('line 399 of output'), 'everything recorded so far');
      const feed = t.core.sessions.feed(s.id)!;
      const opening = feed.open({ warn: () => undefined }, () => undefined);
      opening.unsubscribe();
      assert.equal(opening.backlog.filter((l) => l.includes('"o"')).length, 400, 'the live view backlog has every output event');
      await s.end('finished');
      const ended = await download(s.id);
      assert.equal(ended.status, 200);
      const path = join(t.core.sessions.recordingsDir, s.recordingPath!);
      const plain = execFileSync('gzip', ['-dc', path]);
      assert.deepEqual(ended.body, plain, 'the download is the file inflated');
      assert.ok(plain.length > 4 * (await import('node:fs')).statSync(path).size, 'compressed on disk');
      const view = await api('GET', `/api/v1/sessions/${s.id}`);
      assert.equal(view.recording.format, 'asciicast');
      assert.equal(view.recording.sha256, sha(plain), 'the sealed hash is the plain recording’s');
      const seal = (await api('GET', `/api/v1/audit?action=recording.seal&targetId=${s.id}`)).items[0];
      assert.equal(seal.details.sha256, sha(plain));
      assert.equal(seal.details.stored, 'gzip');
      const v = await api('POST', '/api/v1/recordings/verify', { sessions: [s.id] });
      assert.equal(v.items[0].status, 'ok', JSON.stringify(v.items));
    });

    it('retention deletes what no policy keeps, audited; legal holds and longer policies keep theirs', async () => {
      const parent = (await api('POST', '/api/v1/folders', { name: `keep-${randomUUID().slice(0, 6)}` }, 201)).id as string;
      const child = (await api('POST', '/api/v1/folders', { name: 'child', parentId: parent }, 201)).id as string;
      const plainSecret = await secret();
      const keptSecret = await secret(child);
      const old = await session(plainSecret);
      const held = await session(plainSecret);
      const recent = await session(plainSecret);
      const inFolder = await session(keptSecret);
      const telnetLauncher = await session(plainSecret, 'telnet');
      const stillLive = await session(plainSecret);
      await endAgo(old, 40);
      await endAgo(held, 40);
      await endAgo(recent, 5);
      await endAgo(inFolder, 40);
      await endAgo(telnetLauncher, 40);
      // Text index lines of the session that goes (typed lines are indexed at the end).
      const oldText = await api('GET', `/api/v1/recordings/${old.id}/text`);
      assert.ok(oldText.total > 0);

      // Nothing applies yet: a sweep deletes nothing.
      assert.deepEqual(await api('POST', '/api/v1/recording-retention/sweep', {}), { deleted: [], held: 0, failed: 0 });
      const global = await api('PUT', '/api/v1/recording-retention', { scope: 'global', keepDays: 30 });
      assert.deepEqual([global.scope, global.scopeId, global.keepDays], ['global', null, 30]);
      await api('PUT', '/api/v1/recording-retention', { scope: 'folder', scopeId: parent, keepDays: 365 });
      await api('PUT', '/api/v1/recording-retention', { scope: 'launcher', scopeId: 'telnet', keepDays: 90 });
      // Changing a scope's days changes its one policy.
      const again = await api('PUT', '/api/v1/recording-retention', { scope: 'global', keepDays: 31 });
      assert.equal(again.id, global.id);
      assert.equal((await api('GET', '/api/v1/recording-retention')).items.length, 3);

      const hold = await api('PUT', `/api/v1/sessions/${held.id}/legal-hold`, { reason: 'case 2026-17' });
      assert.equal(hold.reason, 'case 2026-17');
      await api('PUT', `/api/v1/sessions/${held.id}/legal-hold`, { reason: 'twice' }, 409);
      assert.deepEqual((await api('GET', '/api/v1/legal-holds')).items.map((h: { sessionId: string }) => h.sessionId), [held.id]);

      const oldFile = join(t.core.sessions.recordingsDir, old.recordingPath!);
      const heldFile = join(t.core.sessions.recordingsDir, held.recordingPath!);
      const oldSha = (await api('GET', `/api/v1/sessions/${old.id}`)).recording.sha256;
      const sweep = await api('POST', '/api/v1/recording-retention/sweep', {});
      assert.deepEqual(sweep.deleted, [{ sessionId: old.id, file: old.recordingPath, keepDays: 31 }], 'only the old session no longer policy keeps');
      assert.equal(sweep.held, 1);
      assert.equal(existsSync(oldFile), false, 'its file is gone');
      assert.equal(existsSync(heldFile), true, 'the held one stays');
      for (const s of [recent, inFolder, telnetLauncher, stillLive]) assert.ok(existsSync(join(t.core.sessions.recordingsDir, s.recordingPath!)), 'kept by a longer policy, or not old enough, or live');
      assert.equal((await download(old.id)).status, 404);
      assert.equal((await api('GET', `/api/v1/sessions/${old.id}`)).recording.available, false);
      assert.equal((await api('GET', `/api/v1/recordings/${old.id}/text`)).total, 0, 'its text index went with it');
      const del = (await api('GET', `/api/v1/audit?action=recording.delete&targetId=${old.id}`)).items;
      assert.equal(del.length, 1);
      assert.deepEqual([del[0].details.file, del[0].details.sha256, del[0].details.keepDays, del[0].details.reason], [old.recordingPath, oldSha, 31, 'retention']);
      const v = await api('POST', '/api/v1/recordings/verify', { sessions: [old.id, held.id] });
      assert.deepEqual(
        v.items.map((i: { sessionId: string; status: string }) => [i.sessionId, i.status]).sort(),
        [[old.id, 'deleted'], [held.id, 'ok']].sort(),
      );

      // Released: the next sweep deletes it; the hold's place and release are audited.
      await api('DELETE', `/api/v1/sessions/${held.id}/legal-hold`, undefined, 204);
      await api('DELETE', `/api/v1/sessions/${held.id}/legal-hold`, undefined, 404);
      const second = await api('POST', '/api/v1/recording-retention/sweep', {});
      assert.deepEqual(second.deleted.map((d: { sessionId: string }) => d.sessionId), [held.id]);
      assert.equal(existsSync(heldFile), false);
      for (const action of ['recording.hold', 'recording.release', 'recording.delete']) {
        assert.equal((await api('GET', `/api/v1/audit?action=${action}&targetId=${held.id}`)).items.length, 1, action);
      }
      assert.equal((await api('GET', '/api/v1/audit?action=recording.retention.set')).items.length, 4);
      // A policy removed: audited, and the folder's sessions fall back to the global 31 days.
      const folderPolicy = (await api('GET', '/api/v1/recording-retention')).items.find((p: { scope: string }) => p.scope === 'folder');
      await api('DELETE', `/api/v1/recording-retention/${folderPolicy.id}`, undefined, 204);
      const third = await api('POST', '/api/v1/recording-retention/sweep', {});
      assert.deepEqual(third.deleted.map((d: { sessionId: string }) => d.sessionId), [inFolder.id]);
      await stillLive.end('finished');
    });

    /** The app's recording storage, whose removals (or existence checks) wait until `open()` (each says when it starts). */
    const gatedStorage = (gated: 'remove' | 'exists' = 'remove') => {
      const real = t.core.sessions.storage;
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      const started: string[] = [];
      let wake: () => void = () => undefined;
      const storage: RecordingStorage = Object.create(real, {
        [gated]: {
          value: async (rel: string) => {
            started.push(rel);
            wake();
            await gate;
            return real[gated](rel);
          },
        },
      });
      const removals = (n: number) => new Promise<void>((r) => {
        wake = () => started.length >= n && r();
        wake();
      });
      return { storage, open, removals };
    };

    it('a legal hold placed while a sweep runs keeps the recording of a session later in its list', async () => {
      await api('PUT', '/api/v1/recording-retention', { scope: 'global', keepDays: 31 });
      const plainSecret = await secret();
      const first = await session(plainSecret);
      const second = await session(plainSecret);
      await endAgo(first, 41);
      await endAgo(second, 40);
      const { storage, open, removals } = gatedStorage();
      const sweeping = new RecordingRetention(t.core.store, t.core.audit, storage, t.core.log, t.core.sessions.node).sweep();
      // The sweep is deleting the first (older) recording: the second is put on hold now.
      await removals(1);
      await api('PUT', `/api/v1/sessions/${second.id}/legal-hold`, { reason: 'placed mid-sweep' });
      open();
      const result = await sweeping;
      assert.deepEqual(result.deleted.map((d) => d.sessionId), [first.id]);
      assert.equal(result.held, 1);
      assert.ok(existsSync(join(t.core.sessions.recordingsDir, second.recordingPath!)), 'the held recording is kept');
      assert.equal((await api('GET', `/api/v1/sessions/${second.id}`)).recording.available, true);
      assert.equal((await api('GET', `/api/v1/audit?action=recording.delete&targetId=${second.id}`)).items.length, 0);
      await api('DELETE', `/api/v1/sessions/${second.id}/legal-hold`, undefined, 204);
    });

    it('two sweeps deleting the same recording at once audit its deletion once', async () => {
      await api('PUT', '/api/v1/recording-retention', { scope: 'global', keepDays: 31 });
      // What earlier tests left past the policy is swept first, so that both sweeps below have one session to delete.
      await api('POST', '/api/v1/recording-retention/sweep', {});
      const s = await session(await secret());
      await endAgo(s, 40);
      // Both sweeps wait at their last step before the deletion's transaction (only the one that
      // commits it removes the file).
      const { storage, open, removals } = gatedStorage('exists');
      const sweeps = [new RecordingRetention(t.core.store, t.core.audit, storage, t.core.log, t.core.sessions.node).sweep(), new RecordingRetention(t.core.store, t.core.audit, storage, t.core.log, t.core.sessions.node).sweep()];
      await removals(2);
      open();
      const results = await Promise.all(sweeps);
      assert.deepEqual(results.flatMap((r) => r.deleted.map((d) => d.sessionId)), [s.id], 'one sweep reports the deletion');
      assert.equal((await api('GET', `/api/v1/audit?action=recording.delete&targetId=${s.id}`)).items.length, 1, 'one recording.delete event');
      assert.equal((await api('GET', `/api/v1/sessions/${s.id}`)).recording.available, false);
    });

    it("a folder policy keeps a deleted secret's recordings: the longest policy that could apply counts; a moved secret's, its new folder's", async () => {
      await api('PUT', '/api/v1/recording-retention', { scope: 'global', keepDays: 30 });
      const pci = (await api('POST', '/api/v1/folders', { name: `pci-${randomUUID().slice(0, 6)}` }, 201)).id as string;
      const pciPolicy = await api('PUT', '/api/v1/recording-retention', { scope: 'folder', scopeId: pci, keepDays: 365 });
      const deletedSecret = await secret(pci);
      const movedSecret = await secret(pci);
      const young = await session(deletedSecret);
      const ancient = await session(deletedSecret);
      const moved = await session(movedSecret);
      await endAgo(young, 31);
      await endAgo(ancient, 400);
      await endAgo(moved, 31);
      await api('DELETE', `/api/v1/secrets/${deletedSecret}`, undefined, 204);
      await api('PATCH', `/api/v1/secrets/${movedSecret}`, { folderId: null });

      const sweep = await api('POST', '/api/v1/recording-retention/sweep', {});
      const mine = sweep.deleted.filter((d: { sessionId: string }) => [young.id, ancient.id, moved.id].includes(d.sessionId));
      assert.deepEqual(
        mine.map((d: { sessionId: string; keepDays: number }) => [d.sessionId, d.keepDays]).sort(),
        [[ancient.id, 365], [moved.id, 30]].sort(),
        'the deleted secret’s sessions are kept as long as the pci policy could require; the moved one follows its new folder (none: global)',
      );
      assert.ok(existsSync(join(t.core.sessions.recordingsDir, young.recordingPath!)), 'a deleted secret’s 31-day-old recording is kept');
      assert.equal((await api('GET', `/api/v1/sessions/${young.id}`)).recording.available, true);
      assert.equal((await api('GET', `/api/v1/audit?action=recording.delete&targetId=${young.id}`)).items.length, 0);
      await api('DELETE', `/api/v1/recording-retention/${pciPolicy.id}`, undefined, 204);
    });

    /** The app's recording storage, whose removal of `file` fails as `rm` does on a file it may not delete. */
    const refusingStorage = (file: string): RecordingStorage => {
      const real = t.core.sessions.storage;
      return Object.create(real, {
        remove: {
          value: async (rel: string) => {
            if (rel === file) throw Object.assign(new Error(`EACCES: permission denied, unlink '${rel}'`), { code: 'EACCES' });
            return real.remove(rel);
          },
        },
      });
    };

    it('a recording that cannot be deleted is logged without a stack and tried again at the next sweep; the ones after it still go', async () => {
      await api('PUT', '/api/v1/recording-retention', { scope: 'global', keepDays: 31 });
      await api('POST', '/api/v1/recording-retention/sweep', {});
      const plainSecret = await secret();
      const stuck = await session(plainSecret);
      const next = await session(plainSecret);
      // The stuck one ended first: every sweep reaches it before the other.
      await endAgo(stuck, 41);
      await endAgo(next, 40);
      const stuckFile = join(t.core.sessions.recordingsDir, stuck.recordingPath!);
      const nextFile = join(t.core.sessions.recordingsDir, next.recordingPath!);

      const result = await new RecordingRetention(t.core.store, t.core.audit, refusingStorage(stuck.recordingPath!), t.core.log, t.core.sessions.node).sweep();
      assert.ok(result.deleted.some((d) => d.sessionId === next.id), JSON.stringify(result));
      assert.equal(result.failed, 1);
      assert.equal(existsSync(nextFile), false, 'the recording after the stuck one is deleted');
      assert.equal(existsSync(stuckFile), true);
      const logged = t.logs().split('\n').filter((l) => l.includes(stuck.id) && l.includes('EACCES'));
      assert.equal(logged.length, 1, t.logs());
      const entry = JSON.parse(logged[0]!);
      assert.equal(entry.err.message, `EACCES: permission denied, unlink '${stuck.recordingPath}'`);
      assert.ok(!entry.err.stack, 'no stack trace');

      // The next sweep (the file may be deleted again) deletes it, audited once.
      const again = await api('POST', '/api/v1/recording-retention/sweep', {});
      assert.equal(again.failed, 0);
      assert.equal(existsSync(stuckFile), false);
      assert.equal((await api('GET', `/api/v1/sessions/${stuck.id}`)).recording.available, false);
      assert.equal((await api('GET', `/api/v1/audit?action=recording.delete&targetId=${stuck.id}`)).items.length, 1);
    });

    /** The app's audit service, whose appends fail in their transaction after the rows written with them (as a failed insert of the event would). */
    const failingAudit = (): AuditService => {
      const real = t.core.audit;
      const fail = () => {
        throw new Error('the audit event could not be written');
      };
      return Object.create(real, {
        record: { value: (actor: Parameters<AuditService['record']>[0], input: Parameters<AuditService['record']>[1], opts: Parameters<AuditService['record']>[2] = {}) => real.record(actor, input, { alongside: async (trx) => (await opts.alongside?.(trx), fail()) }) },
        recordIf: { value: (when: Parameters<AuditService['recordIf']>[0], events: Parameters<AuditService['recordIf']>[1]) => real.recordIf(async (trx) => (await when(trx)) && fail(), events) },
      });
    };

    it('a deletion whose recording.delete cannot be written deletes nothing: file, row and text index stay for the next sweep', async () => {
      await api('PUT', '/api/v1/recording-retention', { scope: 'global', keepDays: 31 });
      await api('POST', '/api/v1/recording-retention/sweep', {});
      const s = await session(await secret());
      await endAgo(s, 40);
      const file = join(t.core.sessions.recordingsDir, s.recordingPath!);
      const text = (await api('GET', `/api/v1/recordings/${s.id}/text`)).total;
      assert.ok(text > 0);

      const result = await new RecordingRetention(t.core.store, failingAudit(), t.core.sessions.storage, t.core.log, t.core.sessions.node).sweep();
      assert.deepEqual([result.deleted, result.failed], [[], 1]);
      assert.equal(existsSync(file), true, 'the file is still there');
      assert.equal((await api('GET', `/api/v1/sessions/${s.id}`)).recording.available, true, 'the session still offers it');
      assert.equal((await api('GET', `/api/v1/recordings/${s.id}/text`)).total, text, 'its text index stays');
      assert.equal((await api('GET', `/api/v1/audit?action=recording.delete&targetId=${s.id}`)).items.length, 0);

      const again = await api('POST', '/api/v1/recording-retention/sweep', {});
      assert.deepEqual(again.deleted.map((d: { sessionId: string }) => d.sessionId), [s.id]);
      assert.equal(existsSync(file), false);
      assert.equal((await api('GET', `/api/v1/audit?action=recording.delete&targetId=${s.id}`)).items.length, 1);
    });

    it('the file goes only once its deletion is committed; one that cannot be removed then is removed by the next sweep, audited once', async () => {
      await api('PUT', '/api/v1/recording-retention', { scope: 'global', keepDays: 31 });
      await api('POST', '/api/v1/recording-retention/sweep', {});
      const s = await session(await secret());
      await endAgo(s, 40);
      const file = join(t.core.sessions.recordingsDir, s.recordingPath!);
      const audited = async () => (await api('GET', `/api/v1/audit?action=recording.delete&targetId=${s.id}`)).items.length;
      // What the database says when the storage is asked to remove the file (then it refuses).
      const seen: { available: boolean; audited: number }[] = [];
      const real = t.core.sessions.storage;
      const storage: RecordingStorage = Object.create(real, {
        remove: {
          value: async (rel: string) => {
            if (rel !== s.recordingPath) return real.remove(rel);
            seen.push({ available: (await api('GET', `/api/v1/sessions/${s.id}`)).recording.available, audited: await audited() });
            throw Object.assign(new Error(`EACCES: permission denied, unlink '${rel}'`), { code: 'EACCES' });
          },
        },
      });

      const result = await new RecordingRetention(t.core.store, t.core.audit, storage, t.core.log, t.core.sessions.node).sweep();
      assert.deepEqual(seen, [{ available: false, audited: 1 }], 'the row was cleared and recording.delete committed before the file was touched');
      assert.deepEqual(result.deleted.map((d) => d.sessionId), [s.id]);
      assert.equal(result.failed, 1);
      assert.equal(existsSync(file), true);
      assert.ok(t.logs().split('\n').some((l) => l.includes(s.recordingPath!) && l.includes('could not be removed')), 'the file left behind is logged');

      const again = await api('POST', '/api/v1/recording-retention/sweep', {});
      assert.equal(again.failed, 0);
      assert.ok(!again.deleted.some((d: { sessionId: string }) => d.sessionId === s.id), 'deleted once');
      assert.equal(existsSync(file), false, 'the next sweep removed the file left behind');
      assert.equal(await audited(), 1);
    });

    it('a legal hold on a session whose recording was deleted is refused (409 recording_deleted), neither audited nor listed; a live session can be held', async () => {
      await api('PUT', '/api/v1/recording-retention', { scope: 'global', keepDays: 31 });
      await api('POST', '/api/v1/recording-retention/sweep', {});
      const gone = await session(await secret());
      await endAgo(gone, 40);
      assert.deepEqual((await api('POST', '/api/v1/recording-retention/sweep', {})).deleted.map((d: { sessionId: string }) => d.sessionId), [gone.id]);

      const r = await t.req('PUT', `/api/v1/sessions/${gone.id}/legal-hold`, { token: t.adminToken, body: { reason: 'too late' } });
      assert.equal(r.statusCode, 409, r.body);
      assert.equal(r.json().error.code, 'recording_deleted');
      assert.match(r.json().error.message, /^this session's recording was deleted by retention/);
      assert.equal((await api('GET', `/api/v1/audit?action=recording.hold&targetId=${gone.id}`)).items.length, 0);
      assert.ok(!(await api('GET', '/api/v1/legal-holds')).items.some((h: { sessionId: string }) => h.sessionId === gone.id));

      // A live session's row names no recording until it ends: it is not a deleted one.
      const live = await session(await secret());
      assert.equal((await api('PUT', `/api/v1/sessions/${live.id}/legal-hold`, { reason: 'while it runs' })).sessionId, live.id);
      await api('DELETE', `/api/v1/sessions/${live.id}/legal-hold`, undefined, 204);
      await live.end('finished');
    });

    it("local storage: a recording another machine's node made and this one lacks is left to that node (its left-behind note too); an upload still open waits", async () => {
      await api('PUT', '/api/v1/recording-retention', { scope: 'global', keepDays: 31 });
      await api('POST', '/api/v1/recording-retention/sweep', {});
      const sweep = async () => ((await api('POST', '/api/v1/recording-retention/sweep', {})).deleted as { sessionId: string }[]).map((d) => d.sessionId);
      const deletions = async (id: string) => (await api('GET', `/api/v1/audit?action=recording.delete&targetId=${id}`)).items.length;
      const setNode = (id: string, node: string) => t.core.store.db.updateTable('sessions').set({ node }).where('id', '=', id).execute();

      const far = await session(await secret());
      await endAgo(far, 40);
      const file = join(t.core.sessions.recordingsDir, far.recordingPath!);
      renameSync(file, `${file}.on-the-other-machine`);
      await setNode(far.id, 'far-machine-0001');
      // Before: deleted here as "already gone" (audited), while the file stayed on the other machine.
      assert.ok(!(await sweep()).includes(far.id));
      assert.equal(await deletions(far.id), 0);
      assert.ok((await api('GET', `/api/v1/sessions/${far.id}`)).recording, 'the row still names it');
      // The node that has the file deletes it (here: the file back in this directory).
      renameSync(`${file}.on-the-other-machine`, file);
      assert.deepEqual(await sweep(), [far.id]);
      assert.equal(existsSync(file), false);
      assert.equal(await deletions(far.id), 1);

      // A left-behind note of a file on another machine stays for that machine's sweep.
      const note = 'recording-removal:on/another/machine.cast';
      await t.core.store.db.insertInto('meta').values({ key: note, value: far.id }).execute();
      await sweep();
      assert.ok(await t.core.store.db.selectFrom('meta').select('key').where('key', '=', note).executeTakeFirst(), 'note kept');
      // This machine's worker (the data dir's id plus -w<index>) shares the directory: its note is acted on here.
      await setNode(far.id, `${t.core.sessions.node}-w2`);
      await sweep();
      assert.equal(await t.core.store.db.selectFrom('meta').select('key').where('key', '=', note).executeTakeFirst(), undefined, 'note settled');

      // An upload still open (its node completes it at its next start) is not deleted yet.
      const uploading = await session(await secret());
      await endAgo(uploading, 40);
      await t.core.store.db.insertInto('recordingUploads').values({ rel: uploading.recordingPath!, sessionId: uploading.id, node: 'far-machine-0001', uploadId: 'u-1', parts: '[]', dataKeyId: null, createdAt: Date.now(), updatedAt: Date.now() }).execute();
      assert.ok(!(await sweep()).includes(uploading.id));
      assert.equal(await deletions(uploading.id), 0);
      await t.core.store.db.deleteFrom('recordingUploads').where('sessionId', '=', uploading.id).execute();
      assert.deepEqual(await sweep(), [uploading.id]);
    });

    it('a release, or a policy set or removed, whose event cannot be written changes nothing', async () => {
      const s = await session(await secret());
      await s.end('finished');
      await api('PUT', `/api/v1/sessions/${s.id}/legal-hold`, { reason: 'kept while the audit fails' });
      const policy = await api('PUT', '/api/v1/recording-retention', { scope: 'launcher', scopeId: 'rdp', keepDays: 77 });
      await whileAuditRefused(t.core.store, 'audit refused on purpose', async () => {
        const released = await t.req('DELETE', `/api/v1/sessions/${s.id}/legal-hold`, { token: t.adminToken });
        assert.ok(released.statusCode >= 500, released.body);
        const changed = await t.req('PUT', '/api/v1/recording-retention', { token: t.adminToken, body: { scope: 'launcher', scopeId: 'rdp', keepDays: 5 } });
        assert.ok(changed.statusCode >= 500, changed.body);
        const made = await t.req('PUT', '/api/v1/recording-retention', { token: t.adminToken, body: { scope: 'launcher', scopeId: 'ssh', keepDays: 5 } });
        assert.ok(made.statusCode >= 500, made.body);
        const removed = await t.req('DELETE', `/api/v1/recording-retention/${policy.id}`, { token: t.adminToken });
        assert.ok(removed.statusCode >= 500, removed.body);
      });
      // Before: the hold was gone (the next sweep could delete the recording) with no recording.release event.
      assert.ok((await api('GET', '/api/v1/legal-holds')).items.some((h: { sessionId: string }) => h.sessionId === s.id), 'still held');
      const policies = (await api('GET', '/api/v1/recording-retention')).items as { scope: string; scopeId: string | null; keepDays: number }[];
      assert.equal(policies.find((p) => p.scope === 'launcher' && p.scopeId === 'rdp')?.keepDays, 77, 'the policy unchanged');
      assert.ok(!policies.some((p) => p.scope === 'launcher' && p.scopeId === 'ssh'), 'no policy made');
      await api('DELETE', `/api/v1/sessions/${s.id}/legal-hold`, undefined, 204);
      await api('DELETE', `/api/v1/recording-retention/${policy.id}`, undefined, 204);
      assert.equal((await api('GET', `/api/v1/audit?action=recording.release&targetId=${s.id}`)).items.length, 1);
    });
  });
}
