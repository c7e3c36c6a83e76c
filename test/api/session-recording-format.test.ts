// A session's recording format is written when it starts (migration 022), so that every node of
// a cluster can say how a live session is recorded, though only the node it runs on has the
// file: terminals asciicast, RDP ghrec, unrecorded sessions none. Rows from before the column
// read as before (no format until a file is sealed).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { SessionsTable } from '../../src/store/schema.js';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';
import { sessionRow } from '../support/session-rows.js';

for (const kind of DB_KINDS) {
  describe(`a session's recording format, known on every node (${kind})`, () => {
    let t: TestApp;
    let secretId: string;
    let me: { id: string; username: string };
    before(async () => {
      t = await startTestApp(kind);
      const r = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name: `format-${kind}`, template: 'generic', fields: { username: 'u', password: 'pw-format-1' } } });
      assert.equal(r.statusCode, 201, r.body);
      secretId = r.json().id;
      me = (await t.req('GET', '/api/v1/me', { token: t.adminToken })).json();
    });
    after(() => t?.close());

    const view = async (id: string) => {
      const r = await t.req('GET', `/api/v1/sessions/${id}`, { token: t.adminToken });
      assert.equal(r.statusCode, 200, r.body);
      return r.json().recording as { available: boolean; format: string | null };
    };
    const formatOf = async (id: string) => (await t.core.store.db.selectFrom('sessions').select('recordingFormat').where('id', '=', id).executeTakeFirstOrThrow()).recordingFormat;

    it('is written at the start: asciicast for a terminal, ghrec for RDP, none when not recorded', async () => {
      const launcher = await t.core.launchers.get('ssh');
      const credential = await t.core.secrets.credential(secretId);
      const start = (protocol: 'ssh' | 'rdp', record: boolean) =>
        t.core.sessions.start({ sessionId: randomUUID(), user: me, protocol, target: { host: 'db1', port: 22 }, credential, launcher: { ...launcher, record } }, { clientIp: '127.0.0.1', door: protocol });
      const ssh = await start('ssh', true);
      const rdp = await start('rdp', true);
      const plain = await start('ssh', false);
      assert.deepEqual([await formatOf(ssh.id), await formatOf(rdp.id), await formatOf(plain.id)], ['asciicast', 'ghrec-rdp', null]);
      for (const s of [ssh, rdp, plain]) await s.end('finished');
      await t.core.sessions.settled();
    });

    it('a session live on another node shows its format, not available here; an older row and an unrecorded one show none', async () => {
      const row = (extra: Partial<SessionsTable>) => sessionRow({ userId: me.id, username: me.username, secretId, launcherId: 'rdp', protocol: 'rdp', targetPort: 3389, door: 'rdp', recordKeystrokes: 0, node: 'node-other', ...extra });
      const [recorded, older, unrecorded] = [row({ recordingFormat: 'ghrec-rdp' }), row({}), row({ recordingFormat: null })];
      await t.core.store.db.insertInto('sessions').values([recorded, older, unrecorded]).execute();
      assert.deepEqual(await view(recorded.id), { available: false, format: 'ghrec-rdp', sha256: null, keystrokes: false });
      assert.deepEqual(await view(older.id), { available: false, format: null, sha256: null, keystrokes: false });
      assert.deepEqual(await view(unrecorded.id), { available: false, format: null, sha256: null, keystrokes: false });
      // Listed the same way.
      const listed = (await t.req('GET', '/api/v1/sessions?status=live&protocol=rdp', { token: t.adminToken })).json().items as { id: string; recording: { format: string | null } }[];
      assert.equal(listed.find((s) => s.id === recorded.id)?.recording.format, 'ghrec-rdp');
      await t.core.store.db.deleteFrom('sessions').where('id', 'in', [recorded.id, older.id, unrecorded.id]).execute();
    });
  });
}
