// A session leaves the live registry as its end begins; its row, `session.end` and
// `recording.seal` are written after that. Shutdown (a SIGTERM drain that has just seen the
// last session go) must wait for those writes before it closes the database:
// Sessions.settled() is what it waits on (src/server.ts). Found by the drain test
// (test/cli/drain.test.ts) on a loaded machine: the server stopped with the session's seal
// still unwritten.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';

for (const kind of DB_KINDS) {
  describe(`an ended session's end and seal are written before settled() resolves; shutdown starts none after (${kind})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(async () => {
      await t?.close();
    });

    /** Plans of SSH sessions of the administrator on a new secret named `name`, one per call. */
    const plans = async (name: string, password: string) => {
      const r = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name, template: 'generic', fields: { username: 'u', password } } });
      assert.equal(r.statusCode, 201, r.body);
      const me = (await t.req('GET', '/api/v1/me', { token: t.adminToken })).json();
      return async () => ({
        sessionId: randomUUID(),
        user: { id: me.id, username: me.username },
        protocol: 'ssh' as const,
        target: { host: 'db1', port: 22 },
        credential: await t.core.secrets.credential(r.json().id),
        launcher: await t.core.launchers.get('ssh'),
      });
    };

    it('once live is empty, settled() waits for session.end and recording.seal of every session that ended', async () => {
      const plan = await plans(`settled-${kind}`, 'pw-settled');
      const ids: string[] = [];
      const ending: Promise<void>[] = [];
      for (let i = 0; i < 3; i++) {
        const s = await t.core.sessions.start(await plan(), { clientIp: '127.0.0.1', door: 'ssh' });
        s.begin({ cols: 80, rows: 24, term: 'xterm' });
        s.output(Buffer.from(`output of session ${i}\r\n`));
        ids.push(s.id);
        // Ended as a door ends it: nobody awaits the end.
        ending.push(s.end('finished'));
      }
      // What the drain's poll waits for: no live session left (each leaves once its recording
      // is closed), while their ends are still being written.
      while (t.core.sessions.live.size) await new Promise((r) => setImmediate(r));
      await t.core.sessions.settled();
      const rows = await t.core.store.db.selectFrom('auditEvents').select(['action', 'targetId']).where('targetId', 'in', ids).execute();
      for (const id of ids) {
        assert.ok(rows.some((e) => e.action === 'session.end' && e.targetId === id), `session.end of ${id}`);
        assert.ok(rows.some((e) => e.action === 'recording.seal' && e.targetId === id), `recording.seal of ${id}`);
      }
      const ended = await t.core.store.db.selectFrom('sessions').select(['id', 'status']).where('id', 'in', ids).execute();
      assert.deepEqual(ended.map((s) => s.status), ['ended', 'ended', 'ended']);
      await Promise.all(ending);
      // Nothing pending: settled() answers at once.
      await t.core.sessions.settled();
    });

    // Shutdown (server.ts) ends every live session with endAll, then closes the doors and the
    // database. A redeem that passed the drain check just before and was still busy started its
    // session after endAll had looked: nobody ended or sealed it, and its door held the process.
    it('a session starting while endAll runs is ended with the others; none starts after', async () => {
      const plan = await plans(`closing-${kind}`, 'pw-closing');
      const p = await plan();
      // Not awaited: its row and session.start are still being written when endAll begins.
      const starting = t.core.sessions.start(p, { clientIp: '127.0.0.1', door: 'ssh' });
      await t.core.sessions.endAll('gateway shutting down');
      const s = await starting;
      const reasons: string[] = [];
      s.onTerminate((why) => reasons.push(why));
      assert.deepEqual(reasons, ['gateway shutting down'], 'its door is told at once');
      assert.equal(t.core.sessions.live.size, 0);
      await t.core.sessions.settled();
      const row = await t.core.store.db.selectFrom('sessions').select('status').where('id', '=', p.sessionId).executeTakeFirstOrThrow();
      assert.equal(row.status, 'ended');
      const ends = await t.core.store.db.selectFrom('auditEvents').select('action').where('targetId', '=', p.sessionId).where('action', '=', 'session.end').execute();
      assert.equal(ends.length, 1, 'its end audited');
      // After: refused before anything is written.
      const late = await plan();
      await assert.rejects(t.core.sessions.start(late, { clientIp: '127.0.0.1', door: 'ssh' }), (e: Error & { code?: string }) => e.code === 'draining');
      assert.equal(await t.core.store.db.selectFrom('sessions').select('id').where('id', '=', late.sessionId).executeTakeFirst(), undefined);
    });
  });
}
