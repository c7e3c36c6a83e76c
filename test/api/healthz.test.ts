// /healthz: 200 {status:'ok'} with a check per dependency; 503 {status:'degraded'} naming the
// failing check when the database cannot be written (read-only, or a write that does not
// finish in time). The recordings-directory side, and SQLite files made immutable, are
// exercised against the real server in test/cli/resilience.test.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { DB_KINDS, pgUrl, startTestApp, type TestApp } from '../support/harness.js';

for (const kind of DB_KINDS) {
  describe(`/healthz on ${kind}`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(async () => t?.close());

    it('answers 200 ok with the database and recordings checks', async () => {
      const r = await t.req('GET', '/healthz');
      assert.equal(r.statusCode, 200, r.body);
      assert.deepEqual(r.json(), { status: 'ok', version: t.core.version, database: kind, checks: { database: { ok: true }, recordings: { ok: true } } });
    });
  });
}

describe('/healthz with a PostgreSQL database that cannot be written', () => {
  let t: TestApp;
  let name: string;
  const admin = async (q: string, params: unknown[] = []) => {
    const c = new pg.Client({ connectionString: pgUrl() });
    await c.connect();
    try {
      return await c.query(q, params);
    } finally {
      await c.end();
    }
  };
  /**
   * New sessions get the database's settings: end the app's pooled ones, and wait until their
   * backends are gone (pg_terminate_backend only signals), so no later query runs on an old one.
   */
  const dropConnections = async () => {
    await admin('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);
    for (let i = 0; i < 400; i++) {
      const left = await admin('select count(*)::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);
      if (left.rows[0].n === 0) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.fail('the app\'s database sessions did not end');
  };
  /**
   * The pool may learn only on its next query that a pooled connection was ended; that one
   * query fails. A node that is writable again answers ok within a few checks.
   */
  const healthOnceWritable = async () => {
    let r = await t.req('GET', '/healthz');
    for (let i = 0; i < 3 && r.statusCode !== 200; i++) r = await t.req('GET', '/healthz');
    return r;
  };

  before(async () => {
    t = await startTestApp('postgres');
    name = new URL(t.config.databaseUrl!).pathname.slice(1);
  });
  after(async () => {
    await admin(`alter database ${name} reset default_transaction_read_only`).catch(() => undefined);
    await t?.close();
  });

  it('a read-only database: 503 degraded, database check failing; ok again once writable', async () => {
    await admin(`alter database ${name} set default_transaction_read_only = on`);
    await dropConnections();
    const r = await t.req('GET', '/healthz');
    assert.equal(r.statusCode, 503, r.body);
    assert.equal(r.json().status, 'degraded');
    assert.deepEqual(r.json().checks.database, { ok: false, error: 'write_failed' });
    assert.deepEqual(r.json().checks.recordings, { ok: true });
    assert.match(t.logs(), /health: the database cannot be written/);
    assert.match(t.logs(), /read-only transaction/);

    await admin(`alter database ${name} reset default_transaction_read_only`);
    await dropConnections();
    const ok = await healthOnceWritable();
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().status, 'ok');
  });

  it('a write that does not finish (a lock held elsewhere): 503 with database timeout, while the node answers', async () => {
    const locker = new pg.Client({ connectionString: t.config.databaseUrl! });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table meta in access exclusive mode');
      const r = await t.req('GET', '/healthz');
      assert.equal(r.statusCode, 503, r.body);
      assert.deepEqual(r.json().checks.database, { ok: false, error: 'timeout' });
      // Later and concurrent checks wait on the one stuck write instead of queueing more behind the lock.
      const [a, b] = await Promise.all([t.req('GET', '/healthz'), t.req('GET', '/healthz')]);
      assert.equal(a.statusCode, 503);
      assert.equal(b.statusCode, 503);
      const waiting = await locker.query(`select count(*)::int as n from pg_locks where not granted and relation = 'meta'::regclass`);
      assert.equal(waiting.rows[0].n, 1, 'one heartbeat write waits on the lock');
    } finally {
      await locker.query('rollback').catch(() => undefined);
      await locker.end();
    }
    const ok = await t.req('GET', '/healthz');
    assert.equal(ok.statusCode, 200, ok.body);
  });
});
