// Audit appends committed together (src/core/audit/group-commit.ts), on both databases:
// many concurrent appends give one gap-free chain that verifies, each caller getting its own
// event; rows written alongside an event stand or fall with it (a failing one rejects only its
// own caller, and leaves neither its rows nor its event); and a launch whose audit event cannot
// be written is refused, with no ticket left behind.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GENESIS } from '../../src/core/audit/chain.js';
import { whileAuditRefused } from '../support/audit-refused.js';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';

for (const kind of DB_KINDS) {
  describe(`audit group commit on ${kind}`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(async () => t?.close());

    const chainOk = async () => {
      const rows = await t.core.store.db.selectFrom('auditEvents').select(['seq', 'prevHash', 'hash']).orderBy('seq').execute();
      rows.forEach((r, i) => {
        assert.equal(r.seq, i + 1);
        assert.equal(r.prevHash, i === 0 ? GENESIS : rows[i - 1]!.hash);
      });
      const v = await t.req('GET', '/api/v1/audit/verify', { token: t.adminToken });
      assert.equal(v.json().ok, true, v.body);
      return rows.length;
    };

    it('200 concurrent appends: each caller gets its own event, the chain is gap-free and verifies', async () => {
      const before = await chainOk();
      const events = await Promise.all(Array.from({ length: 200 }, (_, i) => t.core.audit.record({ id: null, name: 'test' }, { action: 'test.append', details: { i } })));
      events.forEach((e, i) => assert.deepEqual(e.details, { i }));
      assert.equal(new Set(events.map((e) => e.seq)).size, 200);
      // Committed in the order they were asked for.
      assert.deepEqual(
        events.map((e) => e.seq),
        events.map((_, i) => events[0]!.seq + i),
      );
      assert.equal(await chainOk(), before + 200);
    });

    it('rows written alongside an event stand or fall with it; a failing one rejects only its caller', async () => {
      const before = await chainOk();
      const tag = `gc-${kind}-${Date.now()}`;
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          t.core.audit.record(
            { id: null, name: 'test' },
            { action: 'test.alongside', details: { i, tag } },
            {
              alongside: async (trx) => {
                await trx.insertInto('meta').values({ key: `${tag}:${i}`, value: String(i) }).execute();
                if (i === 7) throw new Error('alongside write failed');
              },
            },
          ),
        ),
      );
      assert.deepEqual(
        results.map((r) => r.status),
        results.map((_, i) => (i === 7 ? 'rejected' : 'fulfilled')),
      );
      const keys = (await t.core.store.db.selectFrom('meta').select('key').where('key', 'like', `${tag}:%`).execute()).map((r) => r.key);
      assert.equal(keys.length, 19);
      assert.ok(!keys.includes(`${tag}:7`));
      const evs = await t.core.store.db.selectFrom('auditEvents').select('details').where('action', '=', 'test.alongside').execute();
      assert.equal(evs.filter((e) => e.details.includes(tag)).length, 19);
      assert.equal(await chainOk(), before + 19);
    });

    it('recordIf: events that stand together are written next to each other only when their condition holds, in a batch with others', async () => {
      const before = await chainOk();
      const tag = `if-${kind}-${Date.now()}`;
      const actor = { id: null, name: 'test' };
      // One batch: a plain append, a pair whose condition holds, a pair whose condition fails
      // (it wrote nothing), and another plain append.
      const [first, pair, skipped, last] = await Promise.all([
        t.core.audit.record(actor, { action: 'test.if', details: { n: 1, tag } }),
        t.core.audit.recordIf(async (trx) => {
          await trx.insertInto('meta').values({ key: `${tag}:pair`, value: '1' }).execute();
          return true;
        }, [
          { actor, input: { action: 'test.if', details: { n: 2, tag } } },
          { actor: { id: null, name: 'system' }, input: { action: 'test.if', details: { n: 3, tag } } },
        ]),
        t.core.audit.recordIf(async () => false, [
          { actor, input: { action: 'test.if', details: { n: 98, tag } } },
          { actor, input: { action: 'test.if', details: { n: 99, tag } } },
        ]),
        t.core.audit.record(actor, { action: 'test.if', details: { n: 4, tag } }),
      ]);
      assert.equal(skipped, null, 'nothing written when the condition fails');
      assert.deepEqual(pair!.map((e) => e.details.n), [2, 3]);
      assert.equal(pair![1]!.actorName, 'system');
      assert.deepEqual([first.seq, pair![0]!.seq, pair![1]!.seq, last.seq], [first.seq, first.seq + 1, first.seq + 2, first.seq + 3], 'the pair sits between the others, next to each other');
      const stored = await t.core.store.db.selectFrom('auditEvents').select('details').where('action', '=', 'test.if').execute();
      const mine = stored.map((r) => JSON.parse(r.details) as { n?: number; tag?: string }).filter((d) => d.tag === tag);
      assert.deepEqual(mine.map((d) => d.n).sort(), [1, 2, 3, 4], 'the skipped pair left no event');
      assert.equal((await t.core.store.db.selectFrom('meta').select('value').where('key', '=', `${tag}:pair`).execute()).length, 1);
      // A batch where every condition fails writes nothing and leaves the chain as it was.
      assert.deepEqual(await Promise.all([1, 2].map(() => t.core.audit.recordIf(async () => false, [{ actor, input: { action: 'test.if', details: { tag } } }]))), [null, null]);
      assert.equal(await chainOk(), before + 4);
    });

    it('a launch whose audit event cannot be written is refused and leaves no ticket', async () => {
      const s = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name: `gc-target-${kind}`, template: 'unix-account', fields: { machine: '127.0.0.1', port: 22, username: 'u', password: 'target-Password-1' } } });
      assert.equal(s.statusCode, 201, s.body);
      const launch = () => t.req('POST', `/api/v1/secrets/${s.json().id}/launch`, { token: t.adminToken, body: { launcher: 'ssh' } });
      const tickets = async () => Number((await t.core.store.db.selectFrom('tickets').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
      const n0 = await tickets();
      // The audit table refuses new rows (a full disk, a lost database): every launch fails closed.
      await whileAuditRefused(t.core.store, 'audit store refused', async () => {
        const rs = await Promise.all(Array.from({ length: 5 }, launch));
        for (const r of rs) {
          assert.equal(r.statusCode, 500, r.body);
          assert.ok(!('ticket' in r.json()));
        }
        assert.equal(await tickets(), n0);
      });
      const ok = await launch();
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(await tickets(), n0 + 1);
      await chainOk();
    });
  });
}
