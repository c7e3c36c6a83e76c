// Attaching an access request policy in the same PATCH as other changes of a secret or a
// folder is one transaction, on both databases: a failing attach (an unknown policy, a caller
// who may not administer policies) leaves the other changes unsaved, a failing change (a
// required field emptied, a folder moved into itself) leaves the policy unattached, and when
// both succeed both are saved and audited.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { accessKit } from '../support/access.js';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';

for (const kind of DB_KINDS) {
  describe(`policy attach with a PATCH on ${kind}`, () => {
    let t: TestApp;
    let policyId: string;
    let editor: { id: string; token: string };
    const { admin, req, audit } = accessKit(() => t);
    const secretRow = (id: string) => t.core.store.db.selectFrom('secrets').select(['name', 'policyId', 'publicFields']).where('id', '=', id).executeTakeFirstOrThrow();
    const folderRow = (id: string) => t.core.store.db.selectFrom('folders').select(['name', 'policyId', 'parentId']).where('id', '=', id).executeTakeFirstOrThrow();
    const attaches = async (id: string) => (await audit('access_policy.attach')).filter((e) => e.targetId === id).length;

    before(async () => {
      t = await startTestApp(kind);
      editor = await t.user('editor', ['User']);
      policyId = (await admin('POST', '/api/v1/access-policies', { name: 'patch-policy', approvers: [{ principalType: 'user', principal: 'admin' }], approvalsRequired: 1 }, 201)).id;
    });
    after(async () => t?.close());

    it('secret: a failing attach leaves the rename unsaved, a failing change leaves the policy unattached', async () => {
      const id = (await admin('POST', '/api/v1/secrets', { name: 'patch-secret', template: 'unix-account', fields: { machine: '127.0.0.1', username: 'root', password: 'pw' } }, 201)).id;
      const unknown = await req(t.adminToken, 'PATCH', `/api/v1/secrets/${id}`, { name: 'renamed', policyId: 'no-such-policy' });
      assert.equal(unknown.statusCode, 404, unknown.body);
      assert.deepEqual({ ...(await secretRow(id)), publicFields: undefined }, { name: 'patch-secret', policyId: null, publicFields: undefined });

      const emptied = await req(t.adminToken, 'PATCH', `/api/v1/secrets/${id}`, { name: 'renamed', policyId, fields: { machine: '' } });
      assert.equal(emptied.statusCode, 400, emptied.body);
      const row = await secretRow(id);
      assert.equal(row.name, 'patch-secret');
      // The attach was written first in the transaction and is rolled back with the failed field check.
      assert.equal(row.policyId, null, 'the attach was rolled back with the failed change');
      assert.match(row.publicFields, /127\.0\.0\.1/);
      assert.equal(await attaches(id), 0);

      // An editor of the secret who may not administer policies: nothing is saved either.
      await admin('PUT', `/api/v1/secrets/${id}/permissions`, { entries: [{ principalType: 'user', principal: editor.id, level: 'edit' }] });
      const notAdmin = await req(editor.token, 'PATCH', `/api/v1/secrets/${id}`, { name: 'by-editor', policyId });
      assert.equal(notAdmin.statusCode, 403, notAdmin.body);
      assert.equal((await secretRow(id)).name, 'patch-secret');
      assert.equal((await req(editor.token, 'PATCH', `/api/v1/secrets/${id}`, { name: 'by-editor' })).statusCode, 200, 'the rename alone is theirs to make');

      const both = await admin('PATCH', `/api/v1/secrets/${id}`, { name: 'renamed', policyId });
      assert.equal(both.name, 'renamed');
      assert.equal(both.policyId, policyId);
      assert.deepEqual(await secretRow(id).then((r) => [r.name, r.policyId]), ['renamed', policyId]);
      assert.equal(await attaches(id), 1);
      assert.ok((await audit('secret.update')).some((e) => e.targetId === id && e.details.name === 'renamed'));
    });

    it('folder: a failing attach leaves the rename unsaved, a failing move leaves the policy unattached', async () => {
      const id = (await admin('POST', '/api/v1/folders', { name: 'patch-folder' }, 201)).id;
      const unknown = await req(t.adminToken, 'PATCH', `/api/v1/folders/${id}`, { name: 'renamed-folder', policyId: 'no-such-policy' });
      assert.equal(unknown.statusCode, 404, unknown.body);
      assert.deepEqual(await folderRow(id), { name: 'patch-folder', policyId: null, parentId: null });

      const intoItself = await req(t.adminToken, 'PATCH', `/api/v1/folders/${id}`, { name: 'renamed-folder', parentId: id, policyId });
      assert.equal(intoItself.statusCode, 400, intoItself.body);
      assert.deepEqual(await folderRow(id), { name: 'patch-folder', policyId: null, parentId: null });
      assert.equal(await attaches(id), 0);

      const both = await admin('PATCH', `/api/v1/folders/${id}`, { name: 'renamed-folder', policyId });
      assert.equal(both.name, 'renamed-folder');
      assert.equal(both.policyId, policyId);
      assert.deepEqual(await folderRow(id), { name: 'renamed-folder', policyId, parentId: null });
      assert.equal(await attaches(id), 1);
    });
  });
}
