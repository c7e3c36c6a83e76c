// Group commit on its own, with a fake commit: items added together share one commit, in
// the order they were added, each caller gets its own output; a batch is never larger than
// its bound; a failed batch is written again item by item, so only the item that fails
// alone is rejected, and a commit that fails for everyone rejects everyone.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCommit } from '../../src/core/audit/group-commit.js';

function harness(opts: { max?: number; fails?: (items: number[]) => boolean } = {}) {
  let queue: Promise<unknown> = Promise.resolve();
  const serial = (job: () => Promise<void>) => {
    queue = queue.then(job, job).catch(() => undefined);
  };
  const batches: number[][] = [];
  const committed: number[] = [];
  const gc = new GroupCommit<number, string>(
    serial,
    async (items) => {
      batches.push([...items]);
      await new Promise((r) => setImmediate(r));
      if (opts.fails?.(items)) throw new Error(`commit of ${items.join(',')} failed`);
      committed.push(...items);
      return items.map((i) => `out-${i}`);
    },
    opts.max,
  );
  return { gc, batches, committed };
}

describe('group commit', () => {
  it('items added together share one commit, in order, each caller getting its own output', async () => {
    const { gc, batches, committed } = harness();
    const outs = await Promise.all(Array.from({ length: 100 }, (_, i) => gc.add(i)));
    assert.deepEqual(outs, Array.from({ length: 100 }, (_, i) => `out-${i}`));
    assert.equal(batches.length, 1);
    assert.deepEqual(committed, Array.from({ length: 100 }, (_, i) => i));
  });

  it('items arriving while a commit runs go into the next one; a batch never exceeds its bound', async () => {
    const { gc, batches, committed } = harness({ max: 8 });
    const first = gc.add(0);
    // Let the first commit start, then add more while it is in flight.
    await new Promise((r) => setImmediate(r));
    const rest = Array.from({ length: 20 }, (_, i) => gc.add(i + 1));
    await Promise.all([first, ...rest]);
    assert.deepEqual(batches[0], [0]);
    assert.ok(batches.every((b) => b.length <= 8), JSON.stringify(batches));
    assert.equal(batches.length, 1 + Math.ceil(20 / 8));
    assert.deepEqual(committed, Array.from({ length: 21 }, (_, i) => i));
  });

  it('a failed batch is retried item by item: only the failing item is rejected', async () => {
    const { gc, batches, committed } = harness({ fails: (items) => items.includes(3) });
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => gc.add(i)));
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    );
    assert.match(String((results[3] as PromiseRejectedResult).reason), /commit of 3 failed/);
    assert.deepEqual(committed, [0, 1, 2, 4, 5]);
    // One batch of six, then six single retries.
    assert.equal(batches.length, 7);
  });

  it('a commit that fails for every item rejects every caller', async () => {
    const { gc, committed } = harness({ fails: () => true });
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => gc.add(i)));
    assert.ok(results.every((r) => r.status === 'rejected'));
    assert.deepEqual(committed, []);
    // And the next item, once the fault is gone, is written normally.
    const ok = harness();
    assert.equal(await ok.gc.add(7), 'out-7');
  });
});
