// A node that was only paused (a frozen VM, a lost database link) longer than the dead timeout
// comes back to sessions another node has meanwhile ended as interrupted (core/cluster: the
// other node's heartbeat took this one for dead and ran the recovery on its sessions). When
// such a session then ends here, by itself or closed by this node's next heartbeat
// (Sessions.dropReaped), the other node's end stands: no second session.end, the row keeps its
// reason and end. The recording this node holds (on its own disk, which the other node could
// not read) is sealed into that session, once; if the other node sealed one, nothing is written.
// Before, the end here overwrote the row and wrote a second session.end and recording.seal.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LiveSession } from '../../src/core/sessions/live.js';
import { recoverInterrupted } from '../../src/core/sessions/recovery.js';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';

const OTHER = 'node-other';

for (const kind of DB_KINDS) {
  describe(`a session ended by another node while this one was paused (${kind})`, () => {
    let t: TestApp;
    let secretId: string;
    const otherDisk = mkdtempSync(join(tmpdir(), 'gatehouse-other-node-'));
    before(async () => {
      t = await startTestApp(kind);
      const r = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name: `elsewhere-${kind}`, template: 'generic', fields: { username: 'u', password: 'pw-elsewhere-1' } } });
      assert.equal(r.statusCode, 201, r.body);
      secretId = r.json().id;
    });
    after(async () => {
      await t?.close();
      rmSync(otherDisk, { recursive: true, force: true });
    });

    /** A recorded SSH session, started as the door starts one (the target is never contacted). */
    const session = async (): Promise<LiveSession> => {
      const me = (await t.req('GET', '/api/v1/me', { token: t.adminToken })).json();
      const s = await t.core.sessions.start(
        { sessionId: randomUUID(), user: { id: me.id, username: me.username }, protocol: 'ssh', target: { host: 'db1', port: 22 }, credential: await t.core.secrets.credential(secretId), launcher: await t.core.launchers.get('ssh') },
        { clientIp: '127.0.0.1', door: 'ssh' },
      );
      s.begin({ cols: 80, rows: 24, term: 'xterm' });
      s.output(Buffer.from('before-the-pause\r\n'));
      await s.recordingWritten();
      return s;
    };
    /** What the other node's heartbeat does once this node looks dead: its recovery, from its own disk. */
    const otherNodeEnds = async () => {
      const n = await recoverInterrupted({ store: t.core.store, audit: t.core.audit, log: t.core.log, recordingsDir: otherDisk, node: OTHER, deadNodes: [t.core.sessions.node], deadOnly: true });
      assert.equal(n, 1, 'the other node ended the session');
    };
    const events = async (action: string, id: string) => (await t.req('GET', `/api/v1/audit?action=${action}&targetId=${id}&limit=100`, { token: t.adminToken })).json().items as { details: Record<string, any>; seq: number }[];
    const row = (id: string) => t.core.store.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

    /** The other node's end stands, and this node sealed its recording into the session, once. */
    const sealedHere = async (s: LiveSession) => {
      const ends = await events('session.end', s.id);
      assert.equal(ends.length, 1, 'one session.end: the other node\'s');
      assert.equal(ends[0]!.details.endedBy, OTHER);
      assert.match(ends[0]!.details.recording, /no recording file was found on node node-other/);
      const seals = await events('recording.seal', s.id);
      assert.equal(seals.length, 1, 'one recording.seal');
      assert.ok(seals[0]!.seq > ends[0]!.seq);
      assert.match(seals[0]!.details.note, new RegExp(`sealed by node ${t.core.sessions.node}, where the session ran, after another node had ended it`));
      const r = await row(s.id);
      assert.equal(r.status, 'ended');
      assert.equal(r.endReason, 'interrupted', 'the other node\'s reason stands');
      assert.equal(r.recording, s.recordingPath);
      assert.equal(r.recordingSha256, seals[0]!.details.sha256);
      assert.equal(r.bytesOut, s.bytesOut, 'the bytes counted here');
      const v = await t.req('POST', '/api/v1/recordings/verify', { token: t.adminToken, body: { sessions: [s.id] } });
      assert.equal(v.json().items[0].status, 'ok', v.body);
      const played = await t.req('GET', `/api/v1/recordings/${s.id}`, { token: t.adminToken });
      assert.equal(played.statusCode, 200);
      assert.ok(played.body.includes('before-the-pause') && played.body.includes('after-the-pause'), 'everything relayed here is in the recording');
    };

    it('ends by itself after the other node ended it: the end stands, the recording is sealed into it', async () => {
      const s = await session();
      await otherNodeEnds();
      // Still relaying here until its end (the pause is over, the heartbeat has not run yet).
      s.output(Buffer.from('after-the-pause\r\n'));
      await s.end('client disconnected');
      await t.core.sessions.settled();
      await sealedHere(s);
    });

    it('closed by this node\'s next heartbeat (dropReaped): the same', async () => {
      const s = await session();
      const terminated: string[] = [];
      // What a door does when its session is terminated.
      s.onTerminate((reason) => {
        terminated.push(reason);
        void s.end(`terminated: ${reason}`);
      });
      await otherNodeEnds();
      s.output(Buffer.from('after-the-pause\r\n'));
      assert.equal(await t.core.sessions.dropReaped(), 1);
      assert.deepEqual(terminated, ['ended by another gateway node while this node was unreachable']);
      while (t.core.sessions.live.has(s.id)) await new Promise((r) => setImmediate(r));
      await t.core.sessions.settled();
      await sealedHere(s);
    });

    it('when the other node sealed a recording (object storage, a shared disk), nothing more is written', async () => {
      const s = await session();
      // The other node's end with its seal, as its recovery writes them when it found the recording.
      const endedAt = Date.now() - 1000;
      await t.core.store.db.updateTable('sessions').set({ status: 'ended', endReason: 'interrupted', endedAt, bytesOut: 7, recording: 'elsewhere.cast', recordingSha256: 'ab'.repeat(32) }).where('id', '=', s.id).execute();
      await t.core.audit.record({ id: null, name: 'admin' }, { action: 'session.end', target: { type: 'session', id: s.id }, details: { reason: 'interrupted', recovered: true, endedBy: OTHER } });
      const before = (await t.core.store.db.selectFrom('auditEvents').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirstOrThrow()).seq;
      await s.end('client disconnected');
      await t.core.sessions.settled();
      assert.equal((await events('session.end', s.id)).length, 1);
      assert.equal((await events('recording.seal', s.id)).length, 0);
      const r = await row(s.id);
      assert.deepEqual([r.endReason, r.endedAt, r.bytesOut, r.recording, r.recordingSha256], ['interrupted', endedAt, 7, 'elsewhere.cast', 'ab'.repeat(32)], 'the row is as the other node left it');
      assert.equal((await t.core.store.db.selectFrom('auditEvents').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirstOrThrow()).seq, before, 'no event written here');
    });

    it('an end committed whose commit the database did not confirm: tried again, it finds its own end, and its end listeners run (not "ended elsewhere")', async () => {
      const told: string[] = [];
      t.core.sessions.onSessionEnd(async (e) => void told.push(e.id));
      const s = await session();
      const audit = t.core.audit as unknown as { recordIf: (...a: unknown[]) => Promise<unknown> };
      const recordIf = audit.recordIf;
      // The first write commits, and the connection drops before the answer comes.
      audit.recordIf = async function (this: unknown, ...a: unknown[]) {
        audit.recordIf = recordIf;
        await recordIf.apply(this, a);
        throw new Error('Connection terminated unexpectedly');
      };
      await assert.rejects(s.end('finished'), /Connection terminated/);
      // Tried again every 2 s.
      for (let i = 0; i < 100 && !told.includes(s.id); i++) await new Promise((r) => setTimeout(r, 100));
      await t.core.sessions.settled();
      assert.deepEqual(told.filter((id) => id === s.id), [s.id], 'the end listeners ran once');
      assert.equal((await events('session.end', s.id)).length, 1);
      assert.equal((await row(s.id)).endReason, 'finished');
    });

    it('a session nobody else ended still ends with its end and seal; the chain verifies', async () => {
      const s = await session();
      await s.end('finished');
      await t.core.sessions.settled();
      assert.equal((await events('session.end', s.id)).length, 1);
      assert.equal((await events('recording.seal', s.id)).length, 1);
      assert.equal((await row(s.id)).endReason, 'finished');
      const v = await t.req('GET', '/api/v1/audit/verify', { token: t.adminToken });
      assert.equal(v.json().ok, true, v.body);
    });
  });
}
