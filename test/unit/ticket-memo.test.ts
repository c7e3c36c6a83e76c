// What a launch remembers per ticket (core/ticket-memo.ts; the policy it decided under in
// core/access/launch-policy.ts, consent and the access level use the same memo): what it
// remembers and how it forgets. Expired entries go from the front at each launch, so a launch
// does not walk every outstanding ticket (it did: quadratic under thousands of launches).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LaunchPolicies } from '../../src/core/access/launch-policy.js';
import { TicketMemo } from '../../src/core/ticket-memo.js';
import type { Policies, Policy } from '../../src/core/access/policies.js';

const policy = (id: string) => ({ id, name: id }) as unknown as Policy;
const fresh = () => new LaunchPolicies({} as Policies);
const sizeOf = (lp: LaunchPolicies) => (lp as unknown as { decided: TicketMemo<unknown> }).decided.size;

describe('LaunchPolicies', () => {
  it('tells a changed policy from the one the launch decided under', () => {
    const lp = fresh();
    const later = Date.now() + 60_000;
    lp.remember('t1', policy('a'), later);
    lp.remember('t2', null, later);
    assert.equal(lp.changedSince('t1', policy('a')), false);
    assert.equal(lp.changedSince('t1', policy('b')), true);
    assert.equal(lp.changedSince('t1', null), true);
    assert.equal(lp.changedSince('t2', null), false);
    assert.equal(lp.changedSince('t2', policy('a')), true);
    // Nothing remembered (another node's ticket, or issued before a restart): decided at redeem.
    assert.equal(lp.changedSince('unknown', policy('a')), false);
    lp.forget('t1');
    assert.equal(lp.changedSince('t1', policy('b')), false);
  });

  it('drops expired entries from the front as new tickets are remembered', () => {
    const lp = fresh();
    const past = Date.now() - 1;
    for (let i = 0; i < 1000; i++) lp.remember(`old${i}`, policy('a'), past);
    // Each remember dropped the expired ones before it: only the newest expired entry is left.
    assert.equal(sizeOf(lp), 1);
    lp.remember('live', policy('a'), Date.now() + 60_000);
    assert.equal(sizeOf(lp), 1);
    assert.equal(lp.changedSince('old0', policy('b')), false, 'an expired entry no longer decides');
    assert.equal(lp.changedSince('live', policy('b')), true);
  });

  it('keeps unexpired entries, and drops an expired one once the longer-lived ones before it are gone', () => {
    const lp = fresh();
    const now = Date.now();
    lp.remember('long', policy('a'), now + 60_000);
    lp.remember('short', policy('a'), now - 1);
    lp.remember('next', policy('a'), now + 60_000);
    // 'short' waits behind 'long' (at most one ticket lifetime) ...
    assert.equal(sizeOf(lp), 3);
    // ... and goes once 'long' is redeemed and the next launch sweeps the front.
    lp.forget('long');
    lp.remember('another', policy('a'), now + 60_000);
    assert.equal(sizeOf(lp), 2);
    assert.equal(lp.changedSince('next', policy('b')), true);
    assert.equal(lp.changedSince('another', policy('b')), true);
  });

  it('never returns an expired entry, and take() forgets', () => {
    const memo = new TicketMemo<string>();
    memo.set('gone', 'x', Date.now() - 1);
    assert.equal(memo.get('gone'), undefined);
    memo.set('t', 'level-1', Date.now() + 60_000);
    assert.equal(memo.get('t'), 'level-1');
    assert.equal(memo.take('t'), 'level-1');
    assert.equal(memo.take('t'), undefined);
    assert.equal(memo.size, 0, 'the expired entry went at the next set(), the taken one at take()');
  });
});
