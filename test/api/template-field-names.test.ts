// Template field names that an ordinary JavaScript object already answers to (`constructor`,
// `toString`, `valueOf`, `hasOwnProperty`) are refused for new fields; and a template that has
// one already (made before they were refused) still reads an unset field as unset. Before, an
// unset `constructor` read as the function `Object`: a required field was never enforced, a
// default never applied, and a secret's user name, given by that field, was
// "function Object() { [native code] }", the text a launch would log in with.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newId, now } from '../../src/core/util.js';
import { startTestApp, type TestApp } from '../support/harness.js';

describe('template field names an object already has', () => {
  let t: TestApp;
  const api = async (method: string, url: string, body?: unknown) => t.req(method as 'GET', url, { token: t.adminToken, ...(body !== undefined ? { body } : {}) });
  before(async () => {
    t = await startTestApp('sqlite');
  });
  after(async () => t?.close());

  it('a new field named constructor, toString, valueOf or hasOwnProperty: 400, on create and on update', async () => {
    for (const name of ['constructor', 'toString', 'valueOf', 'hasOwnProperty']) {
      const r = await api('POST', '/api/v1/templates', { name: `t-${name}`, fields: [{ name: 'host', label: 'Host', type: 'text' }, { name, label: 'Owner', type: 'text' }], machineField: 'host' });
      assert.equal(r.statusCode, 400, r.body);
      assert.match(r.json().error.message, new RegExp(`field name "${name}" is reserved`));
    }
    const ok = await api('POST', '/api/v1/templates', { name: 't-plain', fields: [{ name: 'host', label: 'Host', type: 'text' }], machineField: 'host' });
    assert.equal(ok.statusCode, 201, ok.body);
    const up = await api('PATCH', `/api/v1/templates/${ok.json().id}`, { fields: [{ name: 'host', label: 'Host', type: 'text' }, { name: 'toString', label: 'x', type: 'text' }] });
    assert.equal(up.statusCode, 400, up.body);
  });

  it('a template that has such fields already: unset reads as unset (required enforced, default applied, no function text)', async () => {
    // As a template made before such names were refused.
    const id = newId();
    const definition = {
      fields: [
        { name: 'host', label: 'Host', type: 'text', secret: false, required: true },
        { name: 'constructor', label: 'User', type: 'text', secret: false, required: false },
        { name: 'toString', label: 'Domain', type: 'text', secret: false, required: false, default: 'CORP' },
        { name: 'valueOf', label: 'Password', type: 'password', secret: true, required: false },
      ],
      machineField: 'host',
      domainField: null,
      usernameField: 'constructor',
      launchers: [],
      targetKind: null,
    };
    await t.core.store.db.insertInto('templates').values({ id, name: 'old-style', builtin: 0, definition: JSON.stringify(definition), createdAt: now(), updatedAt: now() }).execute();
    const s = await api('POST', '/api/v1/secrets', { name: 'old-style-1', template: 'old-style', fields: { host: 'h1' } });
    assert.equal(s.statusCode, 201, s.body);
    assert.equal(s.json().username, null, s.body);
    assert.equal(s.json().fields.toString, 'CORP', 'the default applied');
    assert.doesNotMatch(s.body, /native code/);
    const got = await api('GET', `/api/v1/secrets/${s.json().id}`);
    assert.equal(got.json().username, null, got.body);
    const cred = await t.core.secrets.credential(s.json().id);
    assert.equal(cred.username, null);
    assert.ok(!Object.hasOwn(cred.fields, 'valueOf'), 'an unset secret field is not among the credential fields');

    const required = { ...definition, fields: definition.fields.map((f) => (f.name === 'constructor' ? { ...f, required: true } : f)) };
    await t.core.store.db.insertInto('templates').values({ id: newId(), name: 'old-style-required', builtin: 0, definition: JSON.stringify(required), createdAt: now(), updatedAt: now() }).execute();
    const missing = await api('POST', '/api/v1/secrets', { name: 'old-style-2', template: 'old-style-required', fields: { host: 'h2' } });
    assert.equal(missing.statusCode, 400, missing.body);
    assert.match(missing.json().error.message, /field "constructor" is required/);
    const given = await api('POST', '/api/v1/secrets', { name: 'old-style-3', template: 'old-style-required', fields: { host: 'h3', constructor: 'bob' } });
    assert.equal(given.statusCode, 201, given.body);
    assert.equal(given.json().username, 'bob');
    const cleared = await api('PATCH', `/api/v1/secrets/${given.json().id}`, { fields: { constructor: null } });
    assert.equal(cleared.statusCode, 400, cleared.body);
  });
});
