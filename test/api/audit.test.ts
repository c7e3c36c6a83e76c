// The audit trail: every change, login, reveal and token creation leaves an event; the
// hash chain verifies; and direct tampering in the database (edit, delete, reorder,
// truncation after a signed checkpoint, forged checkpoint signature) is detected and
// named, on both databases. Concurrent appends keep a single, gap-free chain.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { AuditService } from '../../src/core/audit/service.js';
import { AuditSigner, checkpointMessage, keyIdOf } from '../../src/core/audit/signer.js';
import { GENESIS, eventHash } from '../../src/core/audit/chain.js';
import { openStore } from '../../src/store/db.js';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';

interface Ev {
  seq: number;
  ts: string;
  actorId: string | null;
  actorName: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  outcome: 'success' | 'failure';
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

async function exportEvents(t: TestApp): Promise<Ev[]> {
  const r = await t.req('GET', '/api/v1/audit/export', { token: t.adminToken });
  assert.equal(r.statusCode, 200, r.body);
  assert.match(String(r.headers['content-type']), /application\/x-ndjson/);
  return r.body
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Ev);
}

async function verify(t: TestApp): Promise<{ ok: boolean; count: number; brokenAt?: number; reason?: string; message?: string; checkpoints: number; lastCheckpointSeq?: number }> {
  const r = await t.req('GET', '/api/v1/audit/verify', { token: t.adminToken });
  assert.equal(r.statusCode, 200, r.body);
  return r.json();
}

function assertLinked(events: Ev[]): void {
  assert.ok(events.length > 0);
  events.forEach((e, i) => {
    assert.equal(e.seq, i + 1, `seq ${e.seq} at position ${i}`);
    assert.equal(e.prevHash, i === 0 ? GENESIS : events[i - 1]!.hash, `prevHash of event ${e.seq}`);
    assert.match(e.hash, /^[0-9a-f]{64}$/);
  });
}

/** A handful of ordinary events (secrets created and revealed) so tampering has a middle. */
async function someEvents(t: TestApp, n = 4): Promise<void> {
  for (let i = 0; i < n; i++) {
    const c = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name: `s${i}-${randomBytes(3).toString('hex')}`, template: 'generic', fields: { password: `pw-${i}-xxxxxxxx` } } });
    assert.equal(c.statusCode, 201, c.body);
    const r = await t.req('POST', `/api/v1/secrets/${c.json().id}/reveal`, { token: t.adminToken });
    assert.equal(r.statusCode, 200);
  }
}

for (const kind of DB_KINDS) {
  describe(`audit trail on ${kind}`, () => {
    describe('events for logins, changes, sharing, reveals and tokens', () => {
      let t: TestApp;
      before(async () => {
        t = await startTestApp(kind);
      });
      after(async () => t?.close());

      it('records every kind of change, and the chain verifies', async () => {
        const admin = t.adminToken;
        const ok = async (method: string, url: string, body?: unknown, status = method === 'POST' ? 201 : method === 'DELETE' ? 204 : 200) => {
          const r = await t.req(method, url, { token: admin, ...(body !== undefined ? { body } : {}) });
          assert.equal(r.statusCode, status, `${method} ${url}: ${r.body}`);
          return r.statusCode === 204 ? null : r.json();
        };
        const bad = await t.req('POST', '/api/v1/auth/login', { body: { username: 'admin', password: 'definitely-not-it' } });
        assert.equal(bad.statusCode, 401);
        const unknown = await t.req('POST', '/api/v1/auth/login', { body: { username: 'ghost', password: 'definitely-not-it' } });
        assert.equal(unknown.statusCode, 401);

        const expected: { action: string; targetId?: string | null; outcome?: string }[] = [];
        const user = await ok('POST', '/api/v1/users', { username: 'carol', password: 'carol-password-123' });
        expected.push({ action: 'user.create', targetId: user.id });
        await ok('PATCH', `/api/v1/users/${user.id}`, { displayName: 'Carol C' });
        expected.push({ action: 'user.update', targetId: user.id });
        const victim = await ok('POST', '/api/v1/users', { username: 'dave', password: 'dave-password-123' });
        await ok('DELETE', `/api/v1/users/${victim.id}`);
        expected.push({ action: 'user.delete', targetId: victim.id });

        const group = await ok('POST', '/api/v1/groups', { name: 'ops', members: ['carol'] });
        expected.push({ action: 'group.create', targetId: group.id });
        await ok('PATCH', `/api/v1/groups/${group.id}`, { description: 'operations' });
        expected.push({ action: 'group.update', targetId: group.id });
        const group2 = await ok('POST', '/api/v1/groups', { name: 'tmp' });
        await ok('DELETE', `/api/v1/groups/${group2.id}`);
        expected.push({ action: 'group.delete', targetId: group2.id });

        const role = await ok('POST', '/api/v1/roles', { name: 'Launcher', permissions: ['launch'] });
        expected.push({ action: 'role.create', targetId: role.id });
        await ok('PATCH', `/api/v1/roles/${role.id}`, { permissions: ['launch', 'view_recordings'] });
        expected.push({ action: 'role.update', targetId: role.id });
        await ok('DELETE', `/api/v1/roles/${role.id}`);
        expected.push({ action: 'role.delete', targetId: role.id });

        const folder = await ok('POST', '/api/v1/folders', { name: 'Prod' });
        expected.push({ action: 'folder.create', targetId: folder.id });
        await ok('PATCH', `/api/v1/folders/${folder.id}`, { name: 'Production' });
        expected.push({ action: 'folder.update', targetId: folder.id });
        await ok('PUT', `/api/v1/folders/${folder.id}/permissions`, { entries: [{ principalType: 'group', principal: 'ops', level: 'view' }] }, 200);
        expected.push({ action: 'folder.share', targetId: folder.id });
        const folder2 = await ok('POST', '/api/v1/folders', { name: 'Empty' });
        await ok('DELETE', `/api/v1/folders/${folder2.id}`);
        expected.push({ action: 'folder.delete', targetId: folder2.id });

        const tpl = await ok('POST', '/api/v1/templates', { name: 'Router', fields: [{ name: 'host', label: 'Host', type: 'text' }, { name: 'enable', label: 'Enable secret', type: 'password' }], machineField: 'host' });
        expected.push({ action: 'template.create', targetId: tpl.id });
        await ok('PATCH', `/api/v1/templates/${tpl.id}`, { name: 'Router (IOS)' });
        expected.push({ action: 'template.update', targetId: tpl.id });
        await ok('DELETE', `/api/v1/templates/${tpl.id}`);
        expected.push({ action: 'template.delete', targetId: tpl.id });

        const secret = await ok('POST', '/api/v1/secrets', { name: 'db', template: 'unix-account', folderId: folder.id, fields: { machine: 'db1', username: 'root', password: 'audit-pw-1234' } });
        expected.push({ action: 'secret.create', targetId: secret.id });
        await ok('PATCH', `/api/v1/secrets/${secret.id}`, { fields: { password: 'audit-pw-5678' } });
        expected.push({ action: 'secret.update', targetId: secret.id });
        await ok('PUT', `/api/v1/secrets/${secret.id}/permissions`, { entries: [{ principalType: 'user', principal: 'carol', level: 'view' }] }, 200);
        expected.push({ action: 'secret.share', targetId: secret.id });
        await ok('POST', `/api/v1/secrets/${secret.id}/reveal`, undefined, 200);
        expected.push({ action: 'secret.reveal', targetId: secret.id, outcome: 'success' });
        const gone = await ok('POST', '/api/v1/secrets', { name: 'gone', template: 'generic', fields: {} });
        await ok('DELETE', `/api/v1/secrets/${gone.id}`);
        expected.push({ action: 'secret.delete', targetId: gone.id });

        // A refused reveal is audited as a failure.
        const dave = await t.user('erin', ['user']);
        const denied = await t.req('POST', `/api/v1/secrets/${gone.id}/reveal`, { token: dave.token });
        assert.equal(denied.statusCode, 404);
        expected.push({ action: 'secret.reveal', targetId: gone.id, outcome: 'failure' });

        await ok('PATCH', '/api/v1/settings', { lockoutThreshold: 7 }, 200);
        expected.push({ action: 'settings.update' });
        const tok = await ok('POST', '/api/v1/tokens', { name: 'ci', scopes: ['read'] });
        expected.push({ action: 'token.create', targetId: tok.id });

        const events = await exportEvents(t);
        for (const e of expected) {
          const hit = events.find((x) => x.action === e.action && (e.targetId === undefined || x.targetId === e.targetId) && (e.outcome === undefined || x.outcome === e.outcome));
          assert.ok(hit, `no ${e.action} event${e.targetId ? ` for ${e.targetId}` : ''}`);
          if (e.action !== 'secret.reveal' || e.outcome !== 'failure') assert.equal(hit.actorName, 'admin', `${e.action} actor`);
        }
        const settings = events.find((x) => x.action === 'settings.update')!;
        assert.deepEqual(settings.details, { lockoutThreshold: 7 });

        const logins = events.filter((x) => x.action === 'auth.login');
        assert.ok(logins.some((x) => x.outcome === 'success' && x.actorName === 'admin'), 'successful login');
        assert.ok(logins.some((x) => x.outcome === 'failure' && x.actorName === 'admin' && x.details.reason === 'wrong password'), 'failed login of a known user');
        assert.ok(logins.some((x) => x.outcome === 'failure' && x.actorName === 'ghost' && x.actorId === null), 'failed login of an unknown user');

        const v = await verify(t);
        assert.equal(v.ok, true, JSON.stringify(v));
        assert.equal(v.count, events.length);
      });

      it('the list endpoint filters by action (with a trailing wildcard) and pages newest first', async () => {
        const r = await t.req('GET', '/api/v1/audit?action=secret.*&limit=2', { token: t.adminToken });
        assert.equal(r.statusCode, 200, r.body);
        const body = r.json();
        assert.equal(body.items.length, 2);
        assert.ok(body.total >= 5);
        assert.ok(body.items.every((e: Ev) => e.action.startsWith('secret.')));
        assert.ok(body.items[0].seq > body.items[1].seq);
      });

      it('export returns JSON lines in chain order whose prevHash links hold', async () => {
        const events = await exportEvents(t);
        assertLinked(events);
        const v = await verify(t);
        assert.equal(v.count, events.length);
      });
    });

    describe('tampering is detected', () => {
      let t: TestApp | undefined;
      const fresh = async () => {
        t = await startTestApp(kind);
        await someEvents(t);
        const v = await verify(t);
        assert.equal(v.ok, true, JSON.stringify(v));
        assert.ok(v.count >= 8, `only ${v.count} events`);
        return t;
      };
      const cleanup = async () => {
        await t?.close();
        t = undefined;
      };

      it('(a) an edited event is reported as edited at its seq', async () => {
        try {
          const t = await fresh();
          const res = await t.core.store.db.updateTable('auditEvents').set({ details: '{"name":"something else"}' }).where('seq', '=', 5).executeTakeFirst();
          assert.equal(Number(res.numUpdatedRows), 1);
          const v = await verify(t);
          assert.equal(v.ok, false);
          assert.equal(v.brokenAt, 5);
          assert.equal(v.reason, 'edited');
          assert.match(v.message!, /event 5/);
        } finally {
          await cleanup();
        }
      });

      it('(a2) an edited outcome, actor or hash is reported as edited too', async () => {
        try {
          const t = await fresh();
          await t.core.store.db.updateTable('auditEvents').set({ outcome: 'failure' }).where('seq', '=', 3).execute();
          let v = await verify(t);
          assert.deepEqual([v.ok, v.brokenAt, v.reason], [false, 3, 'edited']);
          await t.core.store.db.updateTable('auditEvents').set({ outcome: 'success' }).where('seq', '=', 3).execute();
          assert.equal((await verify(t)).ok, true);
          // A rewritten stored hash no longer matches the event's content.
          await t.core.store.db.updateTable('auditEvents').set({ hash: 'f'.repeat(64) }).where('seq', '=', 4).execute();
          v = await verify(t);
          assert.equal(v.ok, false);
          assert.equal(v.brokenAt, 4);
          assert.equal(v.reason, 'edited');
        } finally {
          await cleanup();
        }
      });

      it('(b) a deleted middle event is reported as deleted at its seq', async () => {
        try {
          const t = await fresh();
          const res = await t.core.store.db.deleteFrom('auditEvents').where('seq', '=', 5).executeTakeFirst();
          assert.equal(Number(res.numDeletedRows), 1);
          const v = await verify(t);
          assert.equal(v.ok, false);
          assert.equal(v.brokenAt, 5);
          assert.equal(v.reason, 'deleted');
        } finally {
          await cleanup();
        }
      });

      it('(b2) deleting an event and renumbering the rest to close the gap is still caught', async () => {
        try {
          const t = await fresh();
          const db = t.core.store.db;
          const max = (await db.selectFrom('auditEvents').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow()).seq;
          await db.deleteFrom('auditEvents').where('seq', '=', 4).execute();
          for (let s = 5; s <= max; s++) await db.updateTable('auditEvents').set({ seq: s - 1 }).where('seq', '=', s).execute();
          const v = await verify(t);
          assert.equal(v.ok, false);
          assert.equal(v.brokenAt, 4);
          assert.equal(v.reason, 'deleted');
        } finally {
          await cleanup();
        }
      });

      it('(c) two swapped events are reported as reordered at the first swapped seq', async () => {
        try {
          const t = await fresh();
          const db = t.core.store.db;
          await db.updateTable('auditEvents').set({ seq: -1 }).where('seq', '=', 5).execute();
          await db.updateTable('auditEvents').set({ seq: 5 }).where('seq', '=', 6).execute();
          await db.updateTable('auditEvents').set({ seq: 6 }).where('seq', '=', -1).execute();
          const v = await verify(t);
          assert.equal(v.ok, false);
          assert.equal(v.brokenAt, 5);
          assert.equal(v.reason, 'reordered');
          assert.match(v.message!, /reordered/);
        } finally {
          await cleanup();
        }
      });

      it('(d) deleting the newest events after a signed checkpoint is reported as truncated', async () => {
        try {
          const t = await fresh();
          const cp = await t.req('POST', '/api/v1/audit/checkpoint', { token: t.adminToken, body: {} });
          assert.equal(cp.statusCode, 200, cp.body);
          const signed = cp.json().checkpoint;
          assert.ok(signed && signed.seq > 2, cp.body);
          // Signing an already signed head is a no-op.
          const again = await t.req('POST', '/api/v1/audit/checkpoint', { token: t.adminToken, body: {} });
          assert.equal(again.json().checkpoint, null);
          await someEvents(t, 2);
          let v = await verify(t);
          assert.equal(v.ok, true, JSON.stringify(v));
          assert.equal(v.checkpoints, 1);
          assert.equal(v.lastCheckpointSeq, signed.seq);
          // Remove the tail back to two events before the signed head.
          const cut = signed.seq - 2;
          await t.core.store.db.deleteFrom('auditEvents').where('seq', '>=', cut).execute();
          v = await verify(t);
          assert.equal(v.ok, false);
          assert.equal(v.reason, 'truncated');
          assert.equal(v.brokenAt, cut);
          assert.equal(v.count, cut - 1);
        } finally {
          await cleanup();
        }
      });

      it('(e) a forged checkpoint signature is reported as bad_signature at its seq', async () => {
        try {
          const t = await fresh();
          const cp = await t.req('POST', '/api/v1/audit/checkpoint', { token: t.adminToken, body: {} });
          const signed = cp.json().checkpoint;
          assert.ok(signed);
          const db = t.core.store.db;
          // (1) garbage of the right shape
          await db.updateTable('auditCheckpoints').set({ signature: randomBytes(64).toString('base64') }).where('seq', '=', signed.seq).execute();
          let v = await verify(t);
          assert.deepEqual([v.ok, v.brokenAt, v.reason], [false, signed.seq, 'bad_signature']);
          // (2) a real signature over the right message, by a key the gateway does not know
          const { privateKey, publicKey } = generateKeyPairSync('ed25519');
          const forger = keyIdOf(publicKey.export({ type: 'spki', format: 'pem' }).toString());
          const sig = sign(null, Buffer.from(checkpointMessage(signed.seq, signed.hash)), privateKey).toString('base64');
          await db.updateTable('auditCheckpoints').set({ signature: sig, keyId: forger }).where('seq', '=', signed.seq).execute();
          v = await verify(t);
          assert.deepEqual([v.ok, v.brokenAt, v.reason], [false, signed.seq, 'bad_signature']);
          // (3) the real key id with the forger's signature
          await db.updateTable('auditCheckpoints').set({ keyId: signed.keyId }).where('seq', '=', signed.seq).execute();
          v = await verify(t);
          assert.deepEqual([v.ok, v.brokenAt, v.reason], [false, signed.seq, 'bad_signature']);
          // Restoring the genuine signature heals it (the check is not stuck).
          await db.updateTable('auditCheckpoints').set({ signature: signed.signature }).where('seq', '=', signed.seq).execute();
          assert.equal((await verify(t)).ok, true);
        } finally {
          await cleanup();
        }
      });
      it('(f) an edit with every later hash recomputed is caught by the signed checkpoint', async () => {
        try {
          const t = await fresh();
          const cp = await t.req('POST', '/api/v1/audit/checkpoint', { token: t.adminToken, body: {} });
          const signed = cp.json().checkpoint;
          assert.ok(signed);
          const db = t.core.store.db;
          const rows = await db.selectFrom('auditEvents').selectAll().orderBy('seq').execute();
          let prev = GENESIS;
          for (const r of rows) {
            const row = { ...r, prevHash: prev, details: r.seq === 3 ? '{"rewritten":true}' : r.details };
            const hash = eventHash(row);
            await db.updateTable('auditEvents').set({ details: row.details, prevHash: prev, hash }).where('seq', '=', r.seq).execute();
            prev = hash;
          }
          const v = await verify(t);
          assert.equal(v.ok, false);
          assert.equal(v.reason, 'edited');
          assert.equal(v.brokenAt, signed.seq);
        } finally {
          await cleanup();
        }
      });
    });

    describe('concurrent appends', () => {
      let t: TestApp;
      before(async () => {
        t = await startTestApp(kind);
      });
      after(async () => t?.close());

      it('50 parallel secret creations give a verifying chain with consecutive seqs', async () => {
        const rs = await Promise.all(
          Array.from({ length: 50 }, (_, i) => t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name: `par-${i}`, template: 'generic', fields: { password: `par-pw-${i}-xxxx` } } })),
        );
        for (const r of rs) assert.equal(r.statusCode, 201, r.body);
        const events = await exportEvents(t);
        assertLinked(events);
        const creates = events.filter((e) => e.action === 'secret.create');
        assert.equal(creates.length, 50);
        assert.equal(new Set(creates.map((e) => e.targetId)).size, 50);
        const v = await verify(t);
        assert.equal(v.ok, true, JSON.stringify(v));
        assert.equal(v.count, events.length);
      });

      if (kind === 'postgres') {
        it('two gateway nodes appending at once on one database keep one chain (advisory lock)', async () => {
          const other = openStore({ dataDir: t.dataDir, databaseUrl: t.config.databaseUrl! });
          try {
            const node2 = new AuditService(other, AuditSigner.load(t.dataDir));
            await node2.init();
            const before = (await exportEvents(t)).length;
            await Promise.all([
              ...Array.from({ length: 40 }, (_, i) => t.core.audit.record({ id: null, name: 'node1' }, { action: 'test.node1', details: { i } })),
              ...Array.from({ length: 40 }, (_, i) => node2.record({ id: null, name: 'node2' }, { action: 'test.node2', details: { i } })),
            ]);
            const events = await exportEvents(t);
            assertLinked(events);
            assert.equal(events.length, before + 80);
            const v = await verify(t);
            assert.equal(v.ok, true, JSON.stringify(v));
          } finally {
            await other.close();
          }
        });
      }
    });
  });
}
