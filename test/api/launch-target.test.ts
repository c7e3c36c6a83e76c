// The target a launch checks before any ticket exists (the secret's machine and port) comes from
// the secret's public fields without opening its credential; a template that keeps the machine
// or the port among the encrypted fields still launches (they are decrypted then), and a secret
// with no machine is refused with 400 no_target either way (src/core/vault/secrets.ts target()).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';

for (const kind of DB_KINDS) {
  describe(`launch target on ${kind}`, () => {
    let t: TestApp;
    /** How many times a data key opened something since the last reset (the credential's fields). */
    let decrypts = 0;
    before(async () => {
      t = await startTestApp(kind);
      const dk = t.core.dataKeys;
      const original = dk.decrypt.bind(dk);
      dk.decrypt = ((...args: Parameters<typeof dk.decrypt>) => {
        decrypts++;
        return original(...args);
      }) as typeof dk.decrypt;
    });
    after(async () => t?.close());

    const ok = async (method: string, url: string, body: unknown, status = 201) => {
      const r = await t.req(method, url, { token: t.adminToken, body });
      assert.equal(r.statusCode, status, r.body);
      return r.json();
    };
    const launch = (secret: string) => t.req('POST', `/api/v1/secrets/${secret}/launch`, { token: t.adminToken, body: { launcher: 'ssh' } });

    it('a public machine and port: the launch opens no credential; the ticket points at the gateway', async () => {
      const s = await ok('POST', '/api/v1/secrets', { name: 'public-host', template: 'unix-account', fields: { machine: '127.0.0.1', port: 2222, username: 'u', password: 'Target-Test-Pw-1' } });
      decrypts = 0;
      const l = await launch(s.id);
      assert.equal(l.statusCode, 200, l.body);
      assert.equal(decrypts, 0, 'the launch decrypted the credential to learn its public machine');
      assert.ok(l.json().ticket);
    });

    it('a machine and port kept encrypted: the launch decrypts them and succeeds', async () => {
      const tpl = await ok('POST', '/api/v1/templates', {
        name: 'Hidden host',
        fields: [
          { name: 'host', label: 'Host', type: 'text', secret: true },
          { name: 'port', label: 'Port', type: 'number', secret: true },
          { name: 'username', label: 'User', type: 'text' },
          { name: 'password', label: 'Password', type: 'password' },
        ],
        machineField: 'host',
        usernameField: 'username',
        launchers: ['ssh'],
      });
      const s = await ok('POST', '/api/v1/secrets', { name: 'hidden-host', template: tpl.id, fields: { host: '127.0.0.1', port: 2222, username: 'u', password: 'Target-Test-Pw-2' } });
      const view = await ok('GET', `/api/v1/secrets/${s.id}`, undefined, 200);
      assert.equal(view.fields.host, undefined, 'the host is an encrypted field here');
      decrypts = 0;
      const l = await launch(s.id);
      assert.equal(l.statusCode, 200, l.body);
      assert.ok(decrypts >= 1);
    });

    it('no machine, public or encrypted: 400 no_target', async () => {
      for (const secret of [false, true]) {
        const tpl = await ok('POST', '/api/v1/templates', {
          name: `Optional host ${secret ? 'encrypted' : 'public'}`,
          fields: [
            { name: 'host', label: 'Host', type: 'text', secret, required: false },
            { name: 'username', label: 'User', type: 'text' },
            { name: 'password', label: 'Password', type: 'password' },
          ],
          machineField: 'host',
          usernameField: 'username',
          launchers: ['ssh'],
        });
        const s = await ok('POST', '/api/v1/secrets', { name: `no-host-${secret}`, template: tpl.id, fields: { username: 'u', password: 'Target-Test-Pw-3' } });
        const l = await launch(s.id);
        assert.equal(l.statusCode, 400, l.body);
        assert.equal(l.json().error.code, 'no_target');
      }
    });
  });
}
