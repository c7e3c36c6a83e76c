// Master key rotation: every data key is rewrapped while the gateway keeps serving
// (concurrent reveals and creations all succeed), the key file ends up holding only
// the new key (0600), and a restarted core reads everything. With GATEHOUSE_MASTER_KEY
// the new key must be passed in, and restarting with the old key refuses to start.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../src/config.js';
import { createCore } from '../../src/core/core.js';
import { kekIdOf } from '../../src/core/keyring.js';
import { createLogger } from '../../src/log.js';
import { openStore } from '../../src/store/db.js';
import { buildApp } from '../../src/web/app.js';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';

const N = 200;

async function createSecrets(t: TestApp, n: number, prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < n; i += 25) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(25, n - i) }, async (_, j) => {
        const password = `${prefix}-pw-${i + j}-${randomBytes(6).toString('hex')}`;
        const r = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name: `${prefix}-${i + j}`, template: 'generic', fields: { username: 'u', password } } });
        assert.equal(r.statusCode, 201, r.body);
        return [r.json().id as string, password] as const;
      }),
    );
    for (const [id, pw] of batch) out.set(id, pw);
  }
  return out;
}

type Inject = (method: string, url: string, opts?: { token?: string; body?: unknown }) => Promise<{ statusCode: number; body: string; json(): any }>;

async function revealAll(req: Inject, token: string, secrets: Map<string, string>): Promise<void> {
  const ids = [...secrets.keys()];
  for (let i = 0; i < ids.length; i += 50) {
    await Promise.all(
      ids.slice(i, i + 50).map(async (id) => {
        const r = await req('POST', `/api/v1/secrets/${id}/reveal`, { token });
        assert.equal(r.statusCode, 200, `reveal ${id}: ${r.body}`);
        assert.equal(r.json().fields.password, secrets.get(id));
      }),
    );
  }
}

/** A second core + app on the same data dir and database, as after a restart. */
async function restart(t: TestApp, overrides: { masterKey?: string } = {}) {
  const config = { ...t.config, ...overrides };
  const store = openStore(config);
  try {
    const core = await createCore(config, store, createLogger({ level: 'silent' }));
    const app = await buildApp(core);
    await app.ready();
    const req: Inject = async (method, url, opts = {}) =>
      (await app.inject({
        method: method as 'POST',
        url,
        headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(opts.body !== undefined ? { payload: JSON.stringify(opts.body) } : {}),
      })) as any;
    return {
      core,
      req,
      close: async () => {
        await app.close();
        await store.close();
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}

for (const kind of DB_KINDS) {
  describe(`master key rotation on ${kind}`, () => {
    describe('with the key file in the data dir', () => {
      let t: TestApp;
      let secrets: Map<string, string>;
      let newKeyId: string;
      before(async () => {
        t = await startTestApp(kind);
        secrets = await createSecrets(t, N, 'rot');
      });
      after(async () => t?.close());

      it('rewraps every data key while reveals and creations keep succeeding', async () => {
        const before = t.core.keyring.currentId;
        let stop = false;
        const failures: string[] = [];
        let reveals = 0;
        let revealsDuring = 0;
        let rotating = false;
        const ids = [...secrets.keys()];
        const revealer = async (w: number) => {
          for (let i = w; !stop; i++) {
            // Yield to the event loop: on SQLite everything else is microtasks and would starve the timers.
            await new Promise((r) => setImmediate(r));
            const id = ids[(i * 7919) % ids.length]!;
            const r = await t.req('POST', `/api/v1/secrets/${id}/reveal`, { token: t.adminToken });
            reveals++;
            if (rotating) revealsDuring++;
            if (r.statusCode !== 200) failures.push(`reveal ${id}: ${r.statusCode} ${r.body}`);
            else if (r.json().fields.password !== secrets.get(id)) failures.push(`reveal ${id}: wrong value`);
          }
        };
        const created = new Map<string, string>();
        const creator = async (w: number) => {
          for (let i = 0; !stop; i++) {
            await new Promise((r) => setImmediate(r));
            const password = `during-${w}-${i}-${randomBytes(4).toString('hex')}`;
            const r = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name: `during-${w}-${i}`, template: 'generic', fields: { password } } });
            if (r.statusCode !== 201) failures.push(`create: ${r.statusCode} ${r.body}`);
            else created.set(r.json().id, password);
          }
        };
        const workers = [...[0, 1, 2, 3].map(revealer), ...[0, 1].map(creator)];
        // Let the load get going (counted, not timed: machines differ in speed), rotate under
        // it, and keep the load on until enough reveals ran in all.
        const untilReveals = async (n: number) => {
          while (reveals < n && !failures.length) await new Promise((r) => setTimeout(r, 5));
        };
        await untilReveals(8);
        rotating = true;
        const rot = await t.req('POST', '/api/v1/admin/rotate-master-key', { token: t.adminToken, body: {} });
        rotating = false;
        await untilReveals(reveals + 8);
        await untilReveals(21);
        while (!created.size && !failures.length) await new Promise((r) => setTimeout(r, 5));
        stop = true;
        await Promise.all(workers);

        assert.equal(rot.statusCode, 200, rot.body);
        const res = rot.json();
        assert.equal(res.previousKeyId, before);
        assert.notEqual(res.keyId, before);
        assert.equal(res.keySource, 'file');
        assert.ok(res.rewrapped >= N, `rewrapped ${res.rewrapped}`);
        newKeyId = res.keyId;
        assert.deepEqual(failures, []);
        assert.ok(reveals > 20, `only ${reveals} reveals ran`);
        assert.ok(revealsDuring > 0, 'no reveal overlapped the rotation');
        assert.ok(created.size > 0);
        for (const [id, pw] of created) secrets.set(id, pw);
      });

      it('afterwards every secret reveals and every data key carries the new key id', async () => {
        await revealAll(t.req, t.adminToken, secrets);
        const rows = await t.core.store.db.selectFrom('dataKeys').select(['id', 'kekId']).execute();
        assert.ok(rows.length >= N);
        assert.deepEqual(
          rows.filter((r) => r.kekId !== newKeyId),
          [],
        );
        const ev = await t.req('GET', '/api/v1/audit?action=vault.rotate_master_key', { token: t.adminToken });
        assert.equal(ev.json().total, 1);
        assert.equal(ev.json().items[0].details.to, newKeyId);
      });

      it('master.key holds only the new key, as one base64 line, mode 0600', () => {
        const file = join(t.dataDir, 'master.key');
        const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
        assert.equal(lines.length, 1);
        assert.match(lines[0]!, /^[A-Za-z0-9+/]{43}=$/);
        const key = Buffer.from(lines[0]!, 'base64');
        assert.equal(key.length, 32);
        assert.equal(kekIdOf(key), newKeyId);
        assert.equal(statSync(file).mode & 0o777, 0o600);
        assert.ok(!existsSync(`${file}.tmp`));
      });

      it('a restarted core on the same data dir and database reveals everything', async () => {
        const r = await restart(t);
        try {
          assert.equal(r.core.keyring.currentId, newKeyId);
          await revealAll(r.req, t.adminToken, secrets);
        } finally {
          await r.close();
        }
      });

      it('rotating again works and needs no restart', async () => {
        const rot = await t.req('POST', '/api/v1/admin/rotate-master-key', { token: t.adminToken, body: {} });
        assert.equal(rot.statusCode, 200, rot.body);
        assert.equal(rot.json().previousKeyId, newKeyId);
        const sample = new Map([...secrets].slice(0, 20));
        await revealAll(t.req, t.adminToken, sample);
        const r = await restart(t);
        try {
          await revealAll(r.req, t.adminToken, sample);
        } finally {
          await r.close();
        }
      });
    });

    describe('racing data key creation (small vault, so a rotation can end inside a creation)', () => {
      let t: TestApp;
      before(async () => {
        t = await startTestApp(kind);
      });
      after(async () => t?.close());

      it('secrets created while a rotation finishes are rewrapped too (none is left under a dropped key)', async () => {
        const made = new Map<string, string>();
        for (let round = 0; round < 20; round++) {
          const creates = Array.from({ length: 8 }, async (_, i) => {
            const password = `race-${round}-${i}-${randomBytes(4).toString('hex')}`;
            const r = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name: `race-${round}-${i}`, template: 'generic', fields: { password } } });
            assert.equal(r.statusCode, 201, r.body);
            made.set(r.json().id, password);
          });
          // Sweep the start of the rotation across the creations' lifetime.
          for (let k = 0; k < round % 8; k++) await new Promise((r) => setImmediate(r));
          const rot = t.req('POST', '/api/v1/admin/rotate-master-key', { token: t.adminToken, body: {} });
          await Promise.all(creates);
          assert.equal((await rot).statusCode, 200);
          const stale = await t.core.store.db.selectFrom('dataKeys').select('id').where('kekId', '!=', t.core.keyring.currentId).execute();
          assert.deepEqual(stale, [], `round ${round}: data keys still wrapped by a dropped master key`);
        }
        await revealAll(t.req, t.adminToken, made);
        const r = await restart(t);
        try {
          await revealAll(r.req, t.adminToken, made);
        } finally {
          await r.close();
        }
      });

      it('a data key wrapped under the old key whose transaction commits after the rotation ran is rewrapped, not orphaned', async () => {
        const core = t.core;
        let rotation: Promise<{ rewrapped: number; kekId: string }> | undefined;
        const sealed = await core.store.db.transaction().execute(async (trx) => {
          const before = core.keyring.currentId;
          const r = await core.dataKeys.encrypt('wrapped-before-rotation', 'test:race', trx);
          const row = await trx.selectFrom('dataKeys').select('kekId').where('id', '=', r.dataKeyId).executeTakeFirstOrThrow();
          assert.equal(row.kekId, before);
          // The rotation starts while this transaction (and its old-key wrap) is still open.
          rotation = core.dataKeys.rotate(randomBytes(32));
          await new Promise((res) => setTimeout(res, 200));
          return r;
        });
        const done = await rotation!;
        const row = await core.store.db.selectFrom('dataKeys').select('kekId').where('id', '=', sealed.dataKeyId).executeTakeFirstOrThrow();
        assert.equal(row.kekId, done.kekId, 'the data key is still wrapped by the dropped master key');
        assert.equal(await core.dataKeys.decrypt(sealed.dataKeyId, sealed.sealed, 'test:race'), 'wrapped-before-rotation');
        const r = await restart(t);
        try {
          assert.equal(await r.core.dataKeys.decrypt(sealed.dataKeyId, sealed.sealed, 'test:race'), 'wrapped-before-rotation');
        } finally {
          await r.close();
        }
      });
    });

    describe('with GATEHOUSE_MASTER_KEY', () => {
      const oldKey = randomBytes(32).toString('base64');
      const newKey = randomBytes(32).toString('hex');
      let t: TestApp;
      let secrets: Map<string, string>;
      before(async () => {
        t = await startTestApp(kind, { GATEHOUSE_MASTER_KEY: oldKey });
        secrets = await createSecrets(t, 20, 'env');
        // TOTP seeds are wrapped by the master key as well.
        const en = await t.req('POST', '/api/v1/me/totp', { token: t.adminToken });
        assert.equal(en.statusCode, 200, en.body);
      });
      after(async () => t?.close());

      it('rotation without newKey → 400 new_key_required; an invalid newKey → 400', async () => {
        assert.equal(t.core.keyring.source, 'env');
        assert.ok(!existsSync(join(t.dataDir, 'master.key')), 'no key file when the key comes from the environment');
        const r = await t.req('POST', '/api/v1/admin/rotate-master-key', { token: t.adminToken, body: {} });
        assert.equal(r.statusCode, 400, r.body);
        assert.equal(r.json().error.code, 'new_key_required');
        const bad = await t.req('POST', '/api/v1/admin/rotate-master-key', { token: t.adminToken, body: { newKey: 'too-short' } });
        assert.equal(bad.statusCode, 400);
        assert.equal(bad.json().error.code, 'invalid_request');
        assert.equal(t.core.keyring.currentId, kekIdOf(Buffer.from(oldKey, 'base64')));
      });

      it('rotation with newKey rewraps everything under it', async () => {
        const r = await t.req('POST', '/api/v1/admin/rotate-master-key', { token: t.adminToken, body: { newKey } });
        assert.equal(r.statusCode, 200, r.body);
        const id = kekIdOf(Buffer.from(newKey, 'hex'));
        assert.equal(r.json().keyId, id);
        assert.equal(r.json().keySource, 'env');
        assert.ok(r.json().rewrapped >= 21);
        const rows = await t.core.store.db.selectFrom('dataKeys').select('kekId').execute();
        assert.ok(rows.every((x) => x.kekId === id));
        assert.ok(!existsSync(join(t.dataDir, 'master.key')), 'an env-sourced key is never written to disk');
        await revealAll(t.req, t.adminToken, secrets);
      });

      it('a restart with the old key fails with a ConfigError naming GATEHOUSE_MASTER_KEY', async () => {
        await assert.rejects(restart(t, { masterKey: oldKey }), (e: unknown) => {
          assert.ok(e instanceof ConfigError, String(e));
          assert.equal(e.setting, 'GATEHOUSE_MASTER_KEY');
          assert.match(e.message, /GATEHOUSE_MASTER_KEY/);
          assert.ok(!e.message.includes(oldKey) && !e.message.includes(newKey), 'the error message must not carry key material');
          return true;
        });
      });

      it('a restart with the new key reads everything', async () => {
        const r = await restart(t, { masterKey: newKey });
        try {
          await revealAll(r.req, t.adminToken, secrets);
        } finally {
          await r.close();
        }
      });
    });
  });
}
