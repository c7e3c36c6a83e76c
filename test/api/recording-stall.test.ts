// A stalled recordings disk (a real one: an ext4 image on a loop device, frozen with
// fsfreeze so every write to it blocks in the kernel) must not stall other sessions: the
// busy session whose recording can no longer be written fills its bounded queue and is
// ended (fail closed, audited as recording.failed with code queue_full), while a quiet
// session on the same disk goes on relaying and recording (its chunks wait in its queue)
// and the API answers. Once the disk is back, both recordings are closed and sealed and
// check against their seals. Needs root (mount, fsfreeze); skipped otherwise.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECORDING_LOST, type LiveSession } from '../../src/core/sessions/live.js';
import { startTestApp, type TestApp } from '../support/harness.js';

const root = process.getuid?.() === 0;

describe('a stalled recordings disk', { skip: root ? false : 'needs root (loop mount and fsfreeze)' }, () => {
  let t: TestApp;
  const base = mkdtempSync(join(tmpdir(), 'gh-stall-'));
  const image = join(base, 'disk.img');
  const mnt = join(base, 'mnt');
  let mounted = false;
  let frozen = false;
  const thaw = () => {
    if (frozen) execFileSync('fsfreeze', ['-u', mnt]);
    frozen = false;
  };

  before(async () => {
    execFileSync('truncate', ['-s', '64M', image]);
    execFileSync('mkfs.ext4', ['-q', '-F', image]);
    mkdirSync(mnt);
    execFileSync('mount', ['-o', 'loop', image, mnt]);
    mounted = true;
    t = await startTestApp('sqlite', { GATEHOUSE_RECORDINGS_DIR: join(mnt, 'recordings'), GATEHOUSE_RECORDING_QUEUE_MIB: '1' });
  });
  after(async () => {
    thaw();
    await t?.close();
    if (mounted) execFileSync('umount', [mnt]);
    rmSync(base, { recursive: true, force: true });
  });

  const api = async (method: string, url: string, body?: unknown) => {
    const r = await t.req(method, url, { token: t.adminToken, ...(body !== undefined ? { body } : {}) });
    assert.ok(r.statusCode < 300, `${method} ${url}: ${r.statusCode} ${r.body}`);
    return r.json();
  };
  const session = async (secretId: string): Promise<LiveSession> => {
    const me = await api('GET', '/api/v1/me');
    const plan = {
      sessionId: randomUUID(),
      user: { id: me.id, username: me.username },
      protocol: 'ssh' as const,
      target: { host: 'db1', port: 22 },
      credential: await t.core.secrets.credential(secretId),
      launcher: await t.core.launchers.get('ssh'),
    };
    const s = await t.core.sessions.start(plan, { clientIp: '127.0.0.1', door: 'ssh' });
    assert.equal(s.begin({ cols: 80, rows: 24, term: 'xterm' }), true);
    return s;
  };
  const turn = () => new Promise((r) => setImmediate(r));

  it('fails the busy session closed, keeps the quiet one relaying and recording, and seals both once the disk is back', async () => {
    const secretId = (await api('POST', '/api/v1/secrets', { name: 'stall', template: 'generic', fields: { username: 'u', password: 'pw-stall' } })).id as string;
    const busy = await session(secretId);
    const quiet = await session(secretId);
    busy.output(Buffer.from('before the stall\r\n'));
    quiet.output(Buffer.from('quiet before\r\n'));
    await Promise.all([busy.recordingWritten(), quiet.recordingWritten()]);

    execFileSync('fsfreeze', ['-f', mnt]);
    frozen = true;
    // The busy session produces far more than its 1 MiB queue; every chunk is handed over at once.
    const chunk = Buffer.from(('x'.repeat(1023) + '\n').repeat(64));
    for (let i = 0; i < 64 && !busy.terminated; i++) {
      busy.output(chunk);
      busy.flushRecording();
      await turn();
    }
    assert.equal(busy.terminated, RECORDING_LOST, 'the busy session is ended: its recording cannot keep up');
    // Audited as the session fails (the audit trail is in the database, not on the frozen disk).
    let failed: { details: { code: string } }[] = [];
    for (let i = 0; i < 100 && failed.length === 0; i++) {
      failed = (await api('GET', `/api/v1/audit?action=recording.failed&targetId=${busy.id}`)).items;
      if (!failed.length) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.details.code, 'queue_full');
    // Meanwhile the quiet session goes on, its output recorded (waiting in its queue), and the API answers.
    for (let i = 0; i < 20; i++) {
      quiet.input(Buffer.from(`cmd ${i}\r`));
      quiet.output(Buffer.from(`quiet during the stall ${i}\r\n`));
      quiet.flushRecording();
      await turn();
    }
    assert.equal(quiet.terminated, null, 'the quiet session is not ended');
    const live = await api('GET', '/api/v1/sessions?status=live');
    assert.ok(live.items.some((s: { id: string }) => s.id === quiet.id));
    const feed = t.core.sessions.feed(quiet.id)!.open({ warn: () => undefined }, () => undefined);
    feed.unsubscribe();
    assert.ok(feed.backlog.some((l) => l.includes('quiet during the stall 19')), 'the live view shows what waits for the disk');

    // The busy session's end waits for its file to be closed, which waits for the disk.
    const busyEnded = busy.end('finished');
    thaw();
    await busyEnded;
    await quiet.end('finished');
    const seal = (await api('GET', `/api/v1/audit?action=recording.seal&targetId=${busy.id}`)).items[0];
    assert.equal(seal.details.incomplete, 'queue_full');
    const v = await api('POST', '/api/v1/recordings/verify', { sessions: [busy.id, quiet.id] });
    assert.deepEqual(v.items.map((i: { status: string }) => i.status), ['ok', 'ok'], JSON.stringify(v.items));
    const rec = await t.req('GET', `/api/v1/recordings/${quiet.id}`, { token: t.adminToken });
    assert.ok(rec.body.includes('quiet during the stall 19'), 'everything the quiet session recorded during the stall reached the disk');
    const busyRec = await t.req('GET', `/api/v1/recordings/${busy.id}`, { token: t.adminToken });
    assert.ok(busyRec.body.includes('before the stall'));
  });
});
