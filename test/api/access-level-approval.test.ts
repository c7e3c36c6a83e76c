// An access level that needs approval (its groups may be sudo ALL) is used only under an
// approval of the level itself, while its grant holds:
// - the policy's pre-approved people are pre-approved for the secret, not for the level: a
//   request of theirs naming it waits for the policy's approvers (before: approved at once, so
//   anyone pre-approved for the plain account could give themselves the level);
// - a revoked grant takes the level away (before: its request stayed 'approved' and the level
//   stayed usable while the person held any other grant on the secret).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { apiAs, startTestApp, type TestApp } from '../support/harness.js';

describe('access levels that need approval', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp('sqlite');
  });
  after(async () => t?.close());

  const api = apiAs(() => t);

  it('are not pre-approved by the policy, and go with a revoked grant', async () => {
    const s = await api('POST', '/api/v1/secrets', { name: 'app on db1', template: 'unix-account', fields: { machine: 'db1', port: 22, username: 'app', password: 'App-pw-long-enough-1' } });
    assert.equal(s.status, 201, s.raw);
    const id = s.body.id as string;
    const alice = await t.user('alice-ops', ['User']);
    assert.equal((await api('PUT', `/api/v1/secrets/${id}/permissions`, { entries: [{ principalType: 'user', principal: alice.id, level: 'view' }] })).status, 200);
    const level = await api('POST', '/api/v1/access-levels', { name: 'root level', targetGroups: ['adm'], needsApproval: true, secretIds: [id] });
    assert.equal(level.status, 201, level.raw);
    const pol = await api('POST', '/api/v1/access-policies', { name: 'ops pre-approved', approvers: [{ principalType: 'user', principal: 'admin' }], preApproved: [{ principalType: 'user', principal: 'alice-ops' }], reasonRequired: false });
    assert.equal(pol.status, 201, pol.raw);
    assert.equal((await api('PATCH', `/api/v1/secrets/${id}`, { policyId: pol.body.id })).status, 200);
    const levels = async () => ((await api('GET', `/api/v1/secrets/${id}/access-levels`, undefined, alice.token)).body.items as { name: string }[]).map((l) => l.name);

    // The plain account: pre-approved, open at once.
    const plain = await api('POST', '/api/v1/access-requests', { secretId: id }, alice.token);
    assert.equal(plain.status, 201, plain.raw);
    assert.equal(plain.body.status, 'approved');
    // The level: waits for an approver.
    const asked = await api('POST', '/api/v1/access-requests', { secretId: id, accessLevel: 'root level' }, alice.token);
    assert.equal(asked.status, 201, asked.raw);
    assert.equal(asked.body.status, 'pending', 'not approved by the policy\'s pre-approval');
    assert.deepEqual(await levels(), []);
    assert.equal((await api('POST', `/api/v1/access-requests/${asked.body.id}/approve`, { comment: 'ok' })).status, 200);
    assert.deepEqual(await levels(), ['root level']);

    // Revoked: the level goes, though the plain grant still holds.
    assert.equal((await api('POST', `/api/v1/access-requests/${asked.body.id}/revoke`, { comment: 'no more' })).status, 200);
    assert.deepEqual(await levels(), [], 'the level went with its grant');
  });
});
