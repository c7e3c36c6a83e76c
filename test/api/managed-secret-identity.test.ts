// A secret whose account another secret manages (rotation, heartbeat and JIT act with the
// management secret's credential): changing who the account is needs view on the management
// secret, as linking it does. Before, anyone with edit on the secret could point it at another
// account the management credential can reset (root, a domain administrator), rotate it and
// reveal that account's new password. Its own password or key stays an editor's to change.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, type TestApp } from '../support/harness.js';

describe('editing a managed secret: who its account is needs view on the management secret', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp('sqlite');
  });
  after(async () => t?.close());

  it('an editor without the management secret changes the password, not the user name or machine; the administrator can', async () => {
    const make = async (name: string, username: string) => {
      const r = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name, template: 'unix-account', fields: { machine: 'db1', port: 22, username, password: `Pw-${name}-long-enough` } } });
      assert.equal(r.statusCode, 201, r.body);
      return r.json().id as string;
    };
    const managed = await make('app on db1', 'appuser');
    const management = await make('root on db1', 'root');
    const link = await t.req('PATCH', `/api/v1/secrets/${managed}`, { token: t.adminToken, body: { account: { managementSecretId: management } } });
    assert.equal(link.statusCode, 200, link.body);
    const bob = await t.user('bob-editor', ['User']);
    const share = await t.req('PUT', `/api/v1/secrets/${managed}/permissions`, { token: t.adminToken, body: { entries: [{ principalType: 'user', principal: bob.id, level: 'edit' }] } });
    assert.equal(share.statusCode, 200, share.body);

    for (const fields of [{ username: 'deploy' }, { machine: 'db2' }, { username: 'root', password: 'Bob-knows-this-one' }]) {
      const r = await t.req('PATCH', `/api/v1/secrets/${managed}`, { token: bob.token, body: { fields } });
      assert.equal(r.statusCode, 403, `${JSON.stringify(fields)}: ${r.body}`);
      assert.equal(r.json().error.code, 'management_secret_required');
      assert.match(r.json().error.message, /managed by another secret: changing (username|machine)/);
    }
    const fields = (await t.req('GET', `/api/v1/secrets/${managed}`, { token: t.adminToken })).json().fields;
    assert.deepEqual([fields.username, fields.machine], ['appuser', 'db1'], 'nothing changed');

    const pw = await t.req('PATCH', `/api/v1/secrets/${managed}`, { token: bob.token, body: { fields: { password: 'A-new-password-by-bob' } } });
    assert.equal(pw.statusCode, 200, pw.body);
    const admin = await t.req('PATCH', `/api/v1/secrets/${managed}`, { token: t.adminToken, body: { fields: { username: 'appuser2' } } });
    assert.equal(admin.statusCode, 200, admin.body);

    // Without a management secret, an editor edits every field as before.
    const own = await make('unmanaged', 'someone');
    await t.req('PUT', `/api/v1/secrets/${own}/permissions`, { token: t.adminToken, body: { entries: [{ principalType: 'user', principal: bob.id, level: 'edit' }] } });
    const free = await t.req('PATCH', `/api/v1/secrets/${own}`, { token: bob.token, body: { fields: { username: 'other' } } });
    assert.equal(free.statusCode, 200, free.body);
  });
});
