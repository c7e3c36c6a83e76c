// One change of an account's groups at a time (core/accounts/group-locks.ts), on both
// databases: in one process the changes of an account run one after another; two nodes on
// one database take turns; a row left by a dead node is taken once its lease has run out, and
// one left by a crash of this very node at once; a wait that does not end is a clear 503; a
// change slower than the lease renews it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GroupLocks } from '../../src/core/accounts/group-locks.js';
import { AppError } from '../../src/core/errors.js';
import type { Store } from '../../src/store/db.js';
import { openTestStore } from '../support/store.js';
import { DB_KINDS } from '../support/harness.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const kind of DB_KINDS) {
  describe(`account group locks (${kind})`, () => {
    let store: Store;
    let close: () => Promise<void>;
    before(async () => {
      ({ store, close } = await openTestStore(kind));
    });
    after(async () => close?.());

    /** Runs a change that records when it is inside, holding for `ms`. */
    const change = (locks: GroupLocks, trace: string[], name: string, account = 'acct', ms = 30) =>
      locks.with('s1', account, async () => {
        trace.push(`${name}+`);
        await tick(ms);
        trace.push(`${name}-`);
        return name;
      });
    const inside = (trace: string[]) => {
      let n = 0;
      for (const t of trace) {
        n += t.endsWith('+') ? 1 : -1;
        assert.ok(n <= 1, `two changes inside at once: ${trace.join(' ')}`);
      }
    };

    it('changes of one account run one at a time, in one process and across two nodes; other accounts do not wait', async () => {
      const a = new GroupLocks(store, 'node-a');
      const b = new GroupLocks(store, 'node-b');
      const trace: string[] = [];
      const got = await Promise.all([change(a, trace, 'a1'), change(b, trace, 'b1'), change(a, trace, 'a2'), change(b, trace, 'b2'), change(a, trace, 'a3')]);
      assert.deepEqual(got, ['a1', 'b1', 'a2', 'b2', 'a3']);
      assert.equal(trace.length, 10);
      inside(trace);
      // Another account is its own: it runs while the first is held.
      const other: string[] = [];
      let release!: () => void;
      const held = a.with('s1', 'acct', () => new Promise<void>((r) => (release = r)));
      await tick(20);
      await change(b, other, 'x', 'another-account');
      assert.deepEqual(other, ['x+', 'x-']);
      release();
      await held;
      assert.equal((await store.db.selectFrom('accountGroupLocks').selectAll().execute()).length, 0, 'every row let go');
    });

    it('a change that throws lets the account go; the next one runs', async () => {
      const a = new GroupLocks(store, 'node-a');
      await assert.rejects(a.with('s1', 'acct', async () => { throw new Error('target gone'); }), /target gone/);
      assert.equal(await a.with('s1', 'acct', async () => 'next'), 'next');
      assert.equal(await new GroupLocks(store, 'node-b').with('s1', 'acct', async () => 'other node'), 'other node');
    });

    it("a dead node's row is taken once its lease has run out; a crash of this node's own previous process, at once; a live one held too long is a 503", async () => {
      const now = Date.now();
      await store.db.insertInto('accountGroupLocks').values({ secretId: 's1', accountName: 'dead', leaseNode: 'node-dead', leaseUntil: now - 1 }).execute();
      assert.equal(await new GroupLocks(store, 'node-a').with('s1', 'dead', async () => 'taken'), 'taken');
      await store.db.insertInto('accountGroupLocks').values({ secretId: 's1', accountName: 'mine', leaseNode: 'node-a', leaseUntil: now + 600_000 }).execute();
      assert.equal(await new GroupLocks(store, 'node-a').with('s1', 'mine', async () => 'mine again'), 'mine again');
      await store.db.insertInto('accountGroupLocks').values({ secretId: 's1', accountName: 'busy', leaseNode: 'node-live', leaseUntil: now + 600_000 }).execute();
      const e = await new GroupLocks(store, 'node-a', 300).with('s1', 'busy', async () => 'never').catch((x: unknown) => x);
      assert.ok(e instanceof AppError, String(e));
      assert.equal(e.status, 503);
      assert.equal(e.code, 'account_busy');
      assert.match(e.message, /another change of the groups of account busy/);
    });

    it("a renewal that committed but whose answer was lost does not cost the holder its row: it is still let go at the end", async () => {
      // Simulated by moving the lease's end behind the holder's back while it holds the row.
      // Before: the final delete matched the lease end the holder knew, missed, and the row
      // stayed until its lease ran out, every other node's change of the account waiting.
      const a = new GroupLocks(store, 'node-a');
      await a.with('s1', 'lost-answer', async () => {
        await store.db.updateTable('accountGroupLocks').set({ leaseUntil: Date.now() + 123_456 }).where('accountName', '=', 'lost-answer').execute();
      });
      assert.equal((await store.db.selectFrom('accountGroupLocks').selectAll().where('accountName', '=', 'lost-answer').execute()).length, 0, 'the row let go');
    });

    it('a change that outlasts its lease keeps it (renewed): another node waits instead of running beside it', async () => {
      // Before: the lease was set once; after it ran out node B took the row while A still ran.
      const leaseMs = 2000; // renewed every ~667 ms: room for a loaded machine's event-loop stalls
      const a = new GroupLocks(store, 'node-a', 90_000, leaseMs);
      const b = new GroupLocks(store, 'node-b', 90_000, leaseMs);
      const trace: string[] = [];
      const slow = change(a, trace, 'a', 'slow', 3 * leaseMs);
      await tick(50);
      const other = change(b, trace, 'b', 'slow', 10);
      assert.deepEqual(await Promise.all([slow, other]), ['a', 'b']);
      assert.deepEqual(trace, ['a+', 'a-', 'b+', 'b-'], 'B ran after A, not beside it');
      assert.equal((await store.db.selectFrom('accountGroupLocks').selectAll().where('accountName', '=', 'slow').execute()).length, 0, 'the row let go');
    });
  });
}
