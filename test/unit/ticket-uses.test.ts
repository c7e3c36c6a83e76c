// The single-use update of concurrent redeems, shared in one transaction (core/launch/tickets.ts
// with group-commit.ts), on SQLite and PostgreSQL: every distinct ticket redeemed together is
// taken once and answered with its time of use; a ticket redeemed twice in one batch is taken
// by one and refused to the other as used; an expired or wrong-address ticket is refused
// without being used; and the batch is one transaction (one commit) on SQLite.
// (The 20 concurrent redeems of one ticket through the whole broker: test/protocols/ssh-tickets.test.ts.)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TicketRefused } from '../../src/core/broker.js';
import { Tickets } from '../../src/core/launch/tickets.js';
import type { Store } from '../../src/store/db.js';
import { openTestStore } from '../support/store.js';

const input = (i: number, ttlSeconds = 60, clientIp: string | null = null) => ({ userId: `u${i}`, secretId: 's', launcherId: 'ssh', clientIp, ttlSeconds });

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`ticket uses in one transaction (${kind})`, () => {
    let store: Store;
    let close: () => Promise<void>;
    let tickets: Tickets;

    before(async () => {
      ({ store, close } = await openTestStore(kind));
      tickets = new Tickets(store);
    });
    after(() => close());

    it('takes each of many tickets redeemed together once', async () => {
      const issued = await Promise.all(Array.from({ length: 40 }, (_, i) => tickets.issue(input(i))));
      const before = Date.now();
      const used = await Promise.all(issued.map((t, i) => tickets.redeem(t.ticket, '127.0.0.1', `session-${i}`)));
      used.forEach((row, i) => {
        assert.equal(row.id, issued[i]!.id);
        assert.equal(row.sessionId, `session-${i}`);
        assert.ok(row.usedAt! >= before);
      });
      const rows = await store.db.selectFrom('tickets').select(['id', 'usedAt', 'sessionId']).where('id', 'in', issued.map((t) => t.id)).execute();
      assert.equal(rows.length, 40);
      for (const r of rows) assert.equal(r.sessionId, `session-${issued.findIndex((t) => t.id === r.id)}`);
      // Each answer's time of use is the stored one.
      for (const row of used) assert.equal(rows.find((r) => r.id === row.id)!.usedAt, row.usedAt);
    });

    it('gives a ticket redeemed twice in one batch to one of the two only', async () => {
      const t = await tickets.issue(input(100));
      const other = await tickets.issue(input(101));
      // Which of the two reaches the batch first is the order their look-ups come back in (on
      // PostgreSQL, round trips): exactly one wins, the other is refused as used.
      const results = await Promise.allSettled([tickets.redeem(t.ticket, '127.0.0.1', 'first'), tickets.redeem(t.ticket, '127.0.0.1', 'second'), tickets.redeem(other.ticket, '127.0.0.1', 'other')]);
      const same = results.slice(0, 2);
      const won = same.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<Tickets['redeem']>>> => r.status === 'fulfilled');
      const lost = same.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(won.length, 1);
      assert.equal(lost.length, 1);
      assert.ok(lost[0]!.reason instanceof TicketRefused);
      assert.equal((lost[0]!.reason as TicketRefused).reason, 'used');
      assert.equal(results[2]!.status, 'fulfilled');
      const row = await store.db.selectFrom('tickets').select('sessionId').where('id', '=', t.id).executeTakeFirstOrThrow();
      assert.equal(row.sessionId, won[0]!.value.sessionId);
      // Used once: later redeems are refused too.
      await assert.rejects(tickets.redeem(t.ticket, '127.0.0.1', 'third'), (e: unknown) => e instanceof TicketRefused && e.reason === 'used');
    });

    it('refuses an expired ticket and a wrong address without using them', async () => {
      const expired = await tickets.issue(input(200, -1));
      const bound = await tickets.issue(input(201, 60, '10.9.9.9'));
      await assert.rejects(tickets.redeem(expired.ticket, '127.0.0.1', 'x'), (e: unknown) => e instanceof TicketRefused && e.reason === 'expired');
      await assert.rejects(tickets.redeem(bound.ticket, '127.0.0.1', 'y'), (e: unknown) => e instanceof TicketRefused && e.reason === 'ip_mismatch');
      const rows = await store.db.selectFrom('tickets').select(['usedAt']).where('id', 'in', [expired.id, bound.id]).execute();
      assert.deepEqual(rows.map((r) => r.usedAt), [null, null]);
      // The right address still redeems the bound one.
      assert.equal((await tickets.redeem(bound.ticket, '10.9.9.9', 'z')).sessionId, 'z');
    });

    if (kind === 'sqlite') {
      it('commits a batch of redeems once', async () => {
        const issued = await Promise.all(Array.from({ length: 10 }, (_, i) => tickets.issue(input(300 + i))));
        // Count the transactions through Kysely's own transaction() on this store.
        const db = store.db as unknown as { transaction: () => unknown };
        const original = db.transaction.bind(store.db);
        let transactions = 0;
        db.transaction = () => (transactions++, original());
        try {
          await Promise.all(issued.map((t, i) => tickets.redeem(t.ticket, '127.0.0.1', `batch-${i}`)));
        } finally {
          db.transaction = original;
        }
        assert.equal(transactions, 1, `transactions: ${transactions}`);
      });
    }
  });
}
