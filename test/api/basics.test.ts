import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';

for (const kind of DB_KINDS) {
  describe(`API basics on ${kind}`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(async () => t?.close());

    it('reports health with the database kind', async () => {
      const r = await t.req('GET', '/healthz');
      assert.equal(r.statusCode, 200);
      assert.equal(r.json().database, kind);
    });

    it('creates, lists and reveals a secret; metadata never carries the password', async () => {
      const c = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name: 'web1', template: 'unix-account', fields: { machine: '127.0.0.1', username: 'root', password: 'Tr0ub4dor&3-basics' } } });
      assert.equal(c.statusCode, 201, c.body);
      assert.deepEqual(c.json().secretFields, ['password']);
      assert.ok(!c.body.includes('Tr0ub4dor'));
      const l = await t.req('GET', '/api/v1/secrets', { token: t.adminToken });
      assert.equal(l.json().total, 1);
      assert.ok(!l.body.includes('Tr0ub4dor'));
      const r = await t.req('POST', `/api/v1/secrets/${c.json().id}/reveal`, { token: t.adminToken });
      assert.equal(r.statusCode, 200);
      assert.equal(r.json().fields.password, 'Tr0ub4dor&3-basics');
    });

    it('renders errors as {error: {code, message}} without stack traces', async () => {
      const r = await t.req('POST', '/api/v1/users', { token: t.adminToken, body: { username: 5 } });
      assert.equal(r.statusCode, 400);
      assert.equal(r.json().error.code, 'invalid_request');
      assert.ok(!r.body.includes('at '));
    });
  });
}
