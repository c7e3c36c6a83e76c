// End to end: `gatehouse retention list|set|delete|sweep` and `gatehouse recording
// hold|release|holds` (the real CLI against a real gateway): policies are set by scope and
// listed, set again changes their days, deleted by scope or id; a session on legal hold is
// kept by a sweep that deletes its neighbour, and deleted by the next sweep once released;
// a recording that cannot be deleted is counted as failed and deleted by the next sweep; a
// deleted recording cannot be held; wrong input says why on one line; a User is refused.
// Audited as through the API.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { LiveSession } from '../../src/core/sessions/live.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { ADMIN_PASSWORD } from '../support/harness.js';
import { cleanEnv, fails, killAll, lines, ok, removeTempDirs, runCli, tempDir } from './support.js';

const T = { timeout: 120_000 };
const DAY = 86_400_000;

after(() => {
  killAll();
  removeTempDirs();
});

describe('gatehouse retention and recording hold|release (CLI)', () => {
  let gw: Gateway;
  let dir: string;
  let folderId: string;
  let old: LiveSession;
  let held: LiveSession;
  const PAT_PW = `Pat-Retention-${randomUUID().slice(0, 8)}`;
  const env = (who: 'admin' | 'pat') => cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, `${who}.json`) });
  const cli = (args: string[], who: 'admin' | 'pat' = 'admin', input?: string) => runCli(args, { env: env(who), input, timeoutMs: 60_000 });
  const api = async (method: string, url: string, body?: unknown, status = 200) => {
    const r = await gw.api(method, url, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });
    assert.equal(r.status, status, `${method} ${url}: ${r.raw}`);
    return r.body;
  };
  /** A recorded SSH session started as the door starts one (the target is never contacted), ended `days` ago. */
  const endedSession = async (secretId: string, days: number): Promise<LiveSession> => {
    const core = gw.running.core;
    const me = await api('GET', '/api/v1/me');
    const s = await core.sessions.start(
      { sessionId: randomUUID(), user: { id: me.id, username: me.username }, protocol: 'ssh', target: { host: 'db1', port: 22 }, credential: await core.secrets.credential(secretId), launcher: await core.launchers.get('ssh') },
      { clientIp: '127.0.0.1', door: 'ssh' },
    );
    s.begin({ cols: 80, rows: 24, term: 'xterm' });
    s.output(Buffer.from('recorded output\r\n'));
    await s.end('finished');
    await core.store.db.updateTable('sessions').set({ endedAt: Date.now() - days * DAY }).where('id', '=', s.id).execute();
    return s;
  };
  const fileOf = (s: LiveSession) => join(gw.running.core.sessions.recordingsDir, s.recordingPath!);

  before(async () => {
    dir = tempDir('gatehouse-retention-cli-');
    gw = await startGateway('sqlite');
    await api('POST', '/api/v1/users', { username: 'pat', password: PAT_PW, roles: ['User'] }, 201);
    folderId = (await api('POST', '/api/v1/folders', { name: 'kept-longer' }, 201)).id;
    const secret = (await api('POST', '/api/v1/secrets', { name: 'retention-cli', template: 'generic', fields: { username: 'u', password: 'pw-retention-cli' } }, 201)).id;
    old = await endedSession(secret, 40);
    held = await endedSession(secret, 40);
    ok(await cli(['login', '--url', gw.running.url, '-u', 'admin', '--password-stdin'], 'admin', ADMIN_PASSWORD), 'admin login');
    ok(await cli(['login', '--url', gw.running.url, '-u', 'pat', '--password-stdin'], 'pat', PAT_PW), 'pat login');
  });
  after(async () => {
    await gw?.close();
  });

  it('set by scope, list, set again, delete by scope or id; wrong input says why', T, async () => {
    const empty = await cli(['retention', 'list']);
    ok(empty, 'retention list');
    assert.equal(empty.stdout, '');
    const global = await cli(['retention', 'set', 'global', '--days', '30']);
    ok(global, 'set global');
    const [, globalId] = /^global\t-\t30 days\t(\S+)$/m.exec(global.stdout) ?? [];
    assert.ok(globalId, global.stdout);
    ok(await cli(['retention', 'set', 'folder', folderId, '--days', '365']), 'set folder');
    ok(await cli(['retention', 'set', 'launcher', 'ssh', '--days', '90']), 'set launcher');
    const again = await cli(['retention', 'set', 'global', '--days', '31']);
    ok(again, 'set global again');
    assert.equal(again.stdout, `global\t-\t31 days\t${globalId}\n`, 'the same policy, its days changed');

    const list = await cli(['retention', 'list']);
    ok(list, 'retention list');
    assert.deepEqual(lines(list.stdout).map((l) => l.split('\t').slice(0, 3)).sort(), [['folder', folderId, '365 days'], ['global', '-', '31 days'], ['launcher', 'ssh', '90 days']]);
    const json = await cli(['retention', 'list', '--json']);
    ok(json, 'retention list --json');
    assert.equal(JSON.parse(json.stdout).items.length, 3);

    fails(await cli(['retention', 'set', 'folder', '--days', '5']), /^gatehouse: a folder policy needs the folder's id/);
    fails(await cli(['retention', 'set', 'weekly', '--days', '5']), /^gatehouse: the scope is one of global, folder, launcher, not "weekly"$/);
    fails(await cli(['retention', 'set', 'global', '--days', '0']), /^gatehouse: --days is a whole number of days from 1 to 36500, not "0"$/);
    fails(await cli(['retention', 'set', 'global', 'x', '--days', '5']), /^gatehouse: the global policy has no scope id$/);

    const byScope = await cli(['retention', 'delete', 'launcher', 'ssh']);
    ok(byScope, 'delete by scope');
    assert.match(byScope.stdout, /^deleted launcher\tssh\t90 days\t\S+$/m);
    const folderPolicy = lines((await cli(['retention', 'list'])).stdout).find((l) => l.startsWith('folder\t'))!.split('\t')[3]!;
    ok(await cli(['retention', 'delete', folderPolicy]), 'delete by id');
    assert.deepEqual(lines((await cli(['retention', 'list'])).stdout), [`global\t-\t31 days\t${globalId}`]);
    fails(await cli(['retention', 'delete', 'launcher', 'ssh']), /^gatehouse: no launcher retention policy for ssh$/);
    fails(await cli(['retention', 'delete', randomUUID()]), /^gatehouse: no retention policy /);

    const audited = async (action: string) => (await api('GET', `/api/v1/audit?action=${action}&limit=100`)).items.length;
    assert.equal(await audited('recording.retention.set'), 4);
    assert.equal(await audited('recording.retention.delete'), 2);
  });

  it('a held recording outlives a sweep; released, the next sweep deletes it', T, async () => {
    const hold = await cli(['recording', 'hold', held.id, '--reason', 'case 2026-17']);
    ok(hold, 'recording hold');
    assert.match(hold.stdout, new RegExp(`^held ${held.id}\\t\\S+\\tadmin\\tcase 2026-17$`, 'm'));
    fails(await cli(['recording', 'hold', held.id, '--reason', 'twice']), /^gatehouse: this session is already on legal hold/);
    const holds = await cli(['recording', 'holds']);
    ok(holds, 'recording holds');
    assert.deepEqual(lines(holds.stdout).map((l) => [l.split('\t')[0], l.split('\t')[3]]), [[held.id, 'case 2026-17']]);

    const sweep = await cli(['retention', 'sweep']);
    ok(sweep, 'retention sweep');
    assert.match(sweep.stdout, new RegExp(`^deleted\\t${old.id}\\t${old.recordingPath!.replace(/[.]/g, '\\.')}\\tkept 31 days$`, 'm'));
    assert.match(sweep.stdout, /^1 deleted, 1 kept by a legal hold$/m);
    assert.equal(existsSync(fileOf(old)), false, 'the old recording is gone');
    assert.equal(existsSync(fileOf(held)), true, 'the held one stays');

    const release = await cli(['recording', 'release', held.id]);
    ok(release, 'recording release');
    assert.equal(release.stdout, `released ${held.id}\n`);
    fails(await cli(['recording', 'release', held.id]), /^gatehouse: /);
    assert.equal((await cli(['recording', 'holds'])).stdout, '');
    const second = await cli(['retention', 'sweep', '--json']);
    ok(second, 'retention sweep --json');
    assert.deepEqual(JSON.parse(second.stdout).deleted.map((d: { sessionId: string }) => d.sessionId), [held.id]);
    assert.equal(existsSync(fileOf(held)), false);
    for (const action of ['recording.hold', 'recording.release', 'recording.delete']) {
      assert.equal((await api('GET', `/api/v1/audit?action=${action}&targetId=${held.id}`)).items.length, 1, action);
    }
  });

  it('a recording that cannot be deleted: the sweep says so and deletes the others; the next sweep deletes it', T, async () => {
    const secret = (await api('POST', '/api/v1/secrets', { name: 'retention-cli-stuck', template: 'generic', fields: { username: 'u', password: 'pw-retention-cli' } }, 201)).id;
    const stuck = await endedSession(secret, 41);
    const next = await endedSession(secret, 40);
    // The gateway's storage refuses to delete the stuck file, as rm does without permission.
    const storage = gw.running.core.sessions.storage;
    const remove = storage.remove.bind(storage);
    storage.remove = async (rel: string) => {
      if (rel === stuck.recordingPath) throw Object.assign(new Error(`EACCES: permission denied, unlink '${rel}'`), { code: 'EACCES' });
      return remove(rel);
    };
    try {
      const sweep = await cli(['retention', 'sweep']);
      ok(sweep, 'retention sweep');
      assert.match(sweep.stdout, new RegExp(`^deleted\\t${next.id}\\t`, 'm'));
      assert.match(sweep.stdout, /, 1 failed \(the server log says why; the next sweep tries again\)$/m);
      assert.equal(existsSync(fileOf(next)), false);
      assert.equal(existsSync(fileOf(stuck)), true);
    } finally {
      delete (storage as { remove?: unknown }).remove;
    }
    const again = await cli(['retention', 'sweep']);
    ok(again, 'retention sweep again');
    assert.doesNotMatch(again.stdout, /failed/);
    assert.equal(existsSync(fileOf(stuck)), false, 'deleted by the next sweep');
  });

  it('a hold on a session whose recording was deleted says so', T, async () => {
    const r = await cli(['recording', 'hold', old.id, '--reason', 'too late']);
    fails(r, /^gatehouse: this session's recording was deleted by retention/);
    assert.equal(lines(r.stderr).length, 1, r.stderr);
    assert.equal((await cli(['recording', 'holds'])).stdout, '');
  });

  it('a User is refused', T, async () => {
    fails(await cli(['retention', 'list'], 'pat'), /^gatehouse: /);
    fails(await cli(['retention', 'set', 'global', '--days', '5'], 'pat'), /^gatehouse: /);
    fails(await cli(['recording', 'hold', held.id, '--reason', 'no'], 'pat'), /^gatehouse: /);
    assert.equal((await api('GET', '/api/v1/recording-retention')).items.length, 1, 'nothing changed');
  });
});
