// The SQLite statement cache: the same SQL text gives the same compiled statement, bound
// afresh at each run; the cache keeps at most its bound (least recently used dropped); a
// statement whose iterator is still open is not handed out again; and a schema change under
// a kept statement is picked up (SQLite re-prepares it).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import SQLite from 'better-sqlite3';
import { withStatementCache } from '../../src/store/sqlite-statements.js';

describe('SQLite statement cache', () => {
  it('reuses statements by SQL text, binding parameters at each run, within its bound', () => {
    const raw = new SQLite(':memory:');
    let prepared = 0;
    const counting = { prepare: (sql: string) => (prepared++, raw.prepare(sql)), close: () => raw.close() };
    const db = withStatementCache(counting, 2);
    db.prepare('create table t (a integer, b text)').run([]);
    const ins = db.prepare('insert into t (a, b) values (?, ?)');
    for (let i = 0; i < 5; i++) assert.equal(db.prepare('insert into t (a, b) values (?, ?)'), ins);
    for (let i = 0; i < 5; i++) ins.run([i, `v${i}`]);
    const sel = 'select b from t where a = ?';
    assert.deepEqual(db.prepare(sel).all([3]), [{ b: 'v3' }]);
    assert.deepEqual(db.prepare(sel).all([1]), [{ b: 'v1' }]);
    assert.equal(prepared, 3);
    // Bound 2: a third text drops the least recently used (the insert), which is prepared again.
    db.prepare('select count(*) as n from t').all([]);
    db.prepare('insert into t (a, b) values (?, ?)');
    assert.equal(prepared, 5);
    db.close();
  });

  it('does not hand out a statement that is still iterating', () => {
    const raw = new SQLite(':memory:');
    const db = withStatementCache(raw);
    db.prepare('create table t (a integer)').run([]);
    for (let i = 0; i < 3; i++) db.prepare('insert into t (a) values (?)').run([i]);
    const sql = 'select a from t order by a';
    const it1 = db.prepare(sql).iterate([]);
    assert.deepEqual(it1.next().value, { a: 0 });
    // Same text while the first iterator is open: a fresh statement, not the busy one.
    assert.deepEqual(db.prepare(sql).all([]), [{ a: 0 }, { a: 1 }, { a: 2 }]);
    assert.deepEqual([...it1], [{ a: 1 }, { a: 2 }]);
    db.close();
  });

  it('a kept statement follows a schema change', () => {
    const raw = new SQLite(':memory:');
    const db = withStatementCache(raw);
    db.prepare('create table t (a integer)').run([]);
    db.prepare('insert into t (a) values (?)').run([1]);
    const sql = 'select * from t';
    assert.deepEqual(db.prepare(sql).all([]), [{ a: 1 }]);
    db.prepare('alter table t add column b text default \'x\'').run([]);
    assert.deepEqual(db.prepare(sql).all([]), [{ a: 1, b: 'x' }]);
    db.close();
  });
});
