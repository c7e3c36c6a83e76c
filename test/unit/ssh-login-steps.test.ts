// The SSH door's second login step as a state machine (src/protocols/ssh/login-steps.ts),
// without sockets: code then consent, a wrong code stays at the code, a declined consent
// starts over, and a step belongs to the user name and secret it was reached with.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LoginSteps } from '../../src/protocols/ssh/login-steps.js';

const who = { username: 'alice', secretRef: 'db1', userId: 'u1' };

describe('SSH login steps', () => {
  it('without step-up or consent: done at once', () => {
    const l = new LoginSteps();
    assert.equal(l.authenticated(who, null), 'done');
    assert.deepEqual(l.done, { step: 'done', consented: false, ...who });
  });

  it('key, then code, then consent answered yes: done, consented, with the code time', () => {
    const l = new LoginSteps();
    l.needCode(who);
    assert.equal(l.waiting('alice', 'db1')?.step, 'code');
    assert.equal(l.done, null);
    assert.equal(l.authenticated(who, 'recorded', 42), 'consent');
    assert.equal(l.waiting('alice', 'db1')?.step, 'consent');
    assert.equal(l.answered(' YES '), true);
    assert.deepEqual(l.done, { step: 'done', consented: true, secondFactorAt: 42, ...who });
  });

  it('a declined consent starts over; a step is not found under another user name or secret', () => {
    const l = new LoginSteps();
    l.authenticated(who, 'recorded');
    assert.equal(l.waiting('alice', 'db2'), null);
    assert.equal(l.waiting('bob', 'db1'), null);
    assert.equal(l.answered('no'), false);
    assert.deepEqual(l.state, { step: 'idle' });
    assert.equal(l.done, null);
    assert.equal(l.answered('yes'), false, 'no consent is pending any more');
  });
});
