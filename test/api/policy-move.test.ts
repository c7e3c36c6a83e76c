// Moving a secret or folder where another access request policy would be in force (or none)
// needs administer, as attaching one does: before, anyone who could edit a secret (and the
// folder it went to) could move it out from under its folder's policy (approvals, hours, MFA,
// checkout) — to the top, or into a folder of their own — and every viewer's launches then
// passed with view alone; likewise a sub-folder out from under its parent. Moves that keep the
// policy in force, and secrets or folders with a policy of their own, stay editors' to make.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { apiAs, startTestApp, type TestApp } from '../support/harness.js';

describe('moves and the access policy in force', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp('sqlite');
  });
  after(async () => t?.close());

  const api = apiAs(() => t);
  const folder = async (name: string, parentId?: string) => {
    const r = await api('POST', '/api/v1/folders', { name, ...(parentId ? { parentId } : {}) });
    assert.equal(r.status, 201, r.raw);
    return r.body.id as string;
  };

  it('an editor cannot move a secret or a folder out from under its policy, nor under another; an administrator can', async () => {
    const prod = await folder('prod');
    const prodSub = await folder('prod sub', prod);
    const dev = await folder('dev');
    const dev2 = await folder('dev two');
    const pol = await api('POST', '/api/v1/access-policies', { name: 'prod approvals', approvers: [{ principalType: 'user', principal: 'admin' }], reasonRequired: false });
    assert.equal(pol.status, 201, pol.raw);
    assert.equal((await api('PATCH', `/api/v1/folders/${prod}`, { policyId: pol.body.id })).status, 200);
    const s = await api('POST', '/api/v1/secrets', { name: 'db root', template: 'unix-account', folderId: prod, fields: { machine: 'db1', port: 22, username: 'root', password: 'Root-pw-long-enough' } });
    assert.equal(s.status, 201, s.raw);
    const lead = await t.user('team-lead', ['User']);
    // edit on prod too: a move out of a folder needs edit on it (authz-matrix), so what is left to refuse here is the policy.
    for (const [type, id] of [['secrets', s.body.id], ['folders', prod], ['folders', prodSub], ['folders', dev], ['folders', dev2]] as const) {
      assert.equal((await api('PUT', `/api/v1/${type}/${id}/permissions`, { entries: [{ principalType: 'user', principal: lead.id, level: 'edit' }] })).status, 200);
    }

    for (const [url, body] of [
      [`/api/v1/secrets/${s.body.id}`, { folderId: null }],
      [`/api/v1/secrets/${s.body.id}`, { folderId: dev }],
      [`/api/v1/folders/${prodSub}`, { parentId: null }],
      [`/api/v1/folders/${dev}`, { parentId: prodSub }],
    ] as const) {
      const r = await api('PATCH', url, body, lead.token);
      assert.equal(r.status, 403, `${url} ${JSON.stringify(body)}: ${r.raw}`);
      assert.equal(r.body.error.code, 'policy_change_needs_administer');
      assert.match(r.body.error.message, /would change the access request policy it is under \(from ("prod approvals"|none) to ("prod approvals"|none)\)/);
    }
    assert.equal((await api('GET', `/api/v1/secrets/${s.body.id}`)).body.folderId, prod, 'not moved');

    // A move that keeps the policy in force (or none) is an editor's to make.
    assert.equal((await api('PATCH', `/api/v1/folders/${dev2}`, { parentId: dev }, lead.token)).status, 200);
    // An administrator may.
    assert.equal((await api('PATCH', `/api/v1/secrets/${s.body.id}`, { folderId: null })).status, 200);
  });
});
