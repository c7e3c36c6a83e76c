// core/periodic.ts: the timer every sweeper and the cluster's loops use. A run still going when
// the next is due is not doubled; a failure goes to the caller; stop() waits for the run under
// way and no run starts after it. (Before, the checkout, logon-ticket and retention sweepers
// were bare setIntervals: a slow sweep had the next one start beside it.)
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { periodic, stopAll } from '../../src/core/periodic.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('periodic work', () => {
  it('a run slower than the interval is not doubled; stop waits for it and nothing runs after', async () => {
    let inside = 0;
    let most = 0;
    let runs = 0;
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const p = periodic(
      async () => {
        runs++;
        inside++;
        most = Math.max(most, inside);
        if (runs === 1) await slow;
        inside--;
      },
      10,
      () => assert.fail('no failure'),
      { now: true },
    );
    await tick(100); // ten intervals while the first run holds
    assert.equal(runs, 1, 'the ticks during the first run were skipped');
    let stopped = false;
    const stopping = p.stop().then(() => (stopped = true));
    await tick(20);
    assert.equal(stopped, false, 'stop waits for the run under way');
    release();
    await stopping;
    const after = runs;
    await tick(50);
    assert.equal(runs, after, 'no run after stop');
    assert.equal(most, 1);
  });

  it('a failure is handed to the caller and the next tick runs again; run() starts one at once', async () => {
    const errors: string[] = [];
    let runs = 0;
    const p = periodic(
      async () => {
        runs++;
        throw new Error(`boom ${runs}`);
      },
      10,
      (e) => errors.push((e as Error).message),
    );
    p.run();
    // Until the timer ran it again (counted, not timed: a busy machine may take longer).
    for (let i = 0; i < 1000 && runs < 2; i++) await tick(10);
    await p.stop();
    assert.ok(runs >= 2, `runs: ${runs}`);
    assert.deepEqual(errors.slice(0, 2), ['boom 1', 'boom 2']);
  });
});

describe('stopping every sweeper at shutdown', () => {
  it('waits for a run under way', async () => {
    let releaseQuick!: () => void;
    const quickHeld = new Promise<void>((r) => (releaseQuick = r));
    let quickDone = false;
    const quick = periodic(
      async () => {
        await quickHeld;
        quickDone = true;
      },
      60_000,
      () => assert.fail('no failure'),
      { now: true },
    );
    const idle = periodic(async () => undefined, 60_000, () => assert.fail('no failure'));
    // Before: the shutdown did not wait at all; the database closed under the sweep.
    const stopping = stopAll({ quick, idle }, 600_000);
    releaseQuick();
    assert.deepEqual(await stopping, []);
    assert.ok(quickDone, 'the sweep under way was waited for');
  });

  it('no longer than the bound for one that does not finish: it is named, and the stop goes on', async () => {
    const stuck = periodic(() => new Promise(() => {}), 60_000, () => assert.fail('no failure'), { now: true });
    const idle = periodic(async () => undefined, 60_000, () => assert.fail('no failure'));
    assert.deepEqual(await stopAll({ stuck, idle }, 100), ['stuck']);
  });

  it('returns nothing when none was running', async () => {
    const p = periodic(async () => undefined, 60_000, () => assert.fail('no failure'));
    assert.deepEqual(await stopAll({ p }, 60_000), []);
  });
});
