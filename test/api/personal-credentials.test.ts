// Personal credentials under a master password, on both databases: an administrator with
// the database and master.key in hand cannot read one (the vault's data-key machinery fails
// on every row, and no plaintext is in the database files in UTF-8, UTF-16LE or base64);
// a wrong master password is 401 (enter it again); changing it re-wraps (old fails, new
// works, credentials intact); a reset deletes them only with the confirmation; an idle
// session locks (driven by the setting, never by asserting wall-clock time); someone
// else's credential is refused with the seed's message; answers and audit carry no secret.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Keyring, unseal } from '../../src/core/keyring.js';
import { accessKit } from '../support/access.js';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';
import { pgClusterFiles, pgDump, sqliteFiles, wireForms, type Blob } from '../support/scan.js';

const rnd = () => randomBytes(9).toString('base64url');
const NOT_YOURS = "Invalid Credential. You cannot use someone else's personal credential.";

for (const kind of DB_KINDS) {
  describe(`personal credentials on ${kind}`, () => {
    let t: TestApp;
    let alice: { id: string; token: string; password: string };
    let bob: { id: string; token: string; password: string };
    let secretId: string;
    const master = `Alice-Master-${rnd()}`;
    const personalPassword = `PersonalPw-${rnd()}-ü€`;
    const personalKey = `-----BEGIN OPENSSH PRIVATE KEY-----\nPersonalKey${rnd()}${rnd()}\n-----END OPENSSH PRIVATE KEY-----\n`;
    let credId: string;
    /** The master password as the tests have left it (the change test changes it). */
    let masterNow = master;

    const { req, expectError } = accessKit(() => t);

    before(async () => {
      t = await startTestApp(kind);
      alice = await t.user('alice', ['User']);
      bob = await t.user('bob', ['User']);
      const s = await req(t.adminToken, 'POST', '/api/v1/secrets', { name: 'db-server', template: 'unix-account', fields: { machine: 'db1.example', username: 'shared', password: `Shared-${rnd()}` } });
      assert.equal(s.statusCode, 201, s.body);
      secretId = s.json().id;
      const share = await req(t.adminToken, 'PUT', `/api/v1/secrets/${secretId}/permissions`, {
        entries: [
          { principalType: 'user', principal: alice.id, level: 'view' },
          { principalType: 'user', principal: bob.id, level: 'view' },
        ],
      });
      assert.equal(share.statusCode, 200, share.body);
    });
    after(async () => t?.close());

    it('a new person has no master password; storing a credential asks for one first', async () => {
      assert.deepEqual((await req(alice.token, 'GET', '/api/v1/me/master-password')).json(), { set: false, unlocked: false, idleTimeoutSeconds: 900 });
      expectError(await req(alice.token, 'POST', '/api/v1/me/master-password/unlock', { masterPassword: master }), 409, 'no_master_password');
      expectError(await req(alice.token, 'POST', '/api/v1/me/personal-credentials', { name: 'x', target: { secretId }, username: 'me', password: 'p' }), 409, 'no_master_password');
    });

    it('the master password is separate from the sign-in password and follows the password policy', async () => {
      expectError(await req(alice.token, 'PUT', '/api/v1/me/master-password', { masterPassword: alice.password }), 400, 'master_equals_login');
      expectError(await req(alice.token, 'PUT', '/api/v1/me/master-password', { masterPassword: 'short' }), 400, 'weak_password');
      const r = await req(alice.token, 'PUT', '/api/v1/me/master-password', { masterPassword: master });
      assert.equal(r.statusCode, 200, r.body);
      assert.deepEqual(r.json(), { set: true, unlocked: true, idleTimeoutSeconds: 900 });
      // Setting again without the current one is a change that lacks its proof.
      expectError(await req(alice.token, 'PUT', '/api/v1/me/master-password', { masterPassword: `Other-${master}` }), 409, 'master_password_set');
    });

    it('stores a credential while unlocked; answers never carry its secret values', async () => {
      const r = await req(alice.token, 'POST', '/api/v1/me/personal-credentials', { name: 'my db account', target: { secretId }, username: 'alice-dba', password: personalPassword, privateKey: personalKey });
      assert.equal(r.statusCode, 201, r.body);
      credId = r.json().id;
      assert.deepEqual(r.json().secretFields, ['password', 'privateKey']);
      assert.deepEqual(r.json().target, { secretId, machine: null, port: null, protocol: null });
      const list = await req(alice.token, 'GET', '/api/v1/me/personal-credentials');
      assert.equal(list.statusCode, 200, list.body);
      assert.equal(list.json().total, 1);
      for (const body of [r.body, list.body, (await req(alice.token, 'GET', `/api/v1/me/personal-credentials/${credId}`)).body]) {
        assert.ok(!body.includes(personalPassword) && !body.includes('PersonalKey'), body);
      }
      // Another person's list does not show it; their look-up finds nothing.
      assert.equal((await req(bob.token, 'GET', '/api/v1/me/personal-credentials')).json().total, 0);
      expectError(await req(bob.token, 'GET', `/api/v1/me/personal-credentials/${credId}`), 404, 'not_found');
      expectError(await req(bob.token, 'PATCH', `/api/v1/me/personal-credentials/${credId}`, { name: 'stolen' }), 404, 'not_found');
      expectError(await req(bob.token, 'DELETE', `/api/v1/me/personal-credentials/${credId}`), 404, 'not_found');
      // Needs a target and a secret value; a target secret the person cannot see does not exist.
      expectError(await req(alice.token, 'POST', '/api/v1/me/personal-credentials', { name: 'x', target: {}, username: 'me', password: 'p' }), 400, 'no_target');
      expectError(await req(alice.token, 'POST', '/api/v1/me/personal-credentials', { name: 'x', target: { machine: 'h' }, username: 'me' }), 400, 'no_secret');
      const hidden = (await req(t.adminToken, 'POST', '/api/v1/secrets', { name: 'hidden', template: 'unix-account', fields: { machine: 'h2', username: 'r', password: 'x' } })).json().id;
      expectError(await req(alice.token, 'POST', '/api/v1/me/personal-credentials', { name: 'x', target: { secretId: hidden }, username: 'me', password: 'p' }), 404, 'not_found');
    });

    it('a wrong master password is 401 "Invalid Master Password" (re-prompt), and the right one unlocks', async () => {
      const session = await t.login('alice', alice.password);
      assert.equal((await req(session, 'GET', '/api/v1/me/master-password')).json().unlocked, false, 'another sign-in session is not unlocked');
      expectError(await req(session, 'POST', '/api/v1/me/personal-credentials', { name: 'y', target: { machine: 'h' }, username: 'me', password: 'p' }), 423, 'personal_vault_locked');
      const wrong = await req(session, 'POST', '/api/v1/me/master-password/unlock', { masterPassword: `${master}-wrong` });
      expectError(wrong, 401, 'invalid_master_password');
      assert.match(wrong.json().error.message, /Invalid Master Password/);
      // The wrong guess does not sign the person out: the session still works, and may try again.
      assert.equal((await req(session, 'GET', '/api/v1/me')).statusCode, 200);
      const right = await req(session, 'POST', '/api/v1/me/master-password/unlock', { masterPassword: master });
      assert.equal(right.statusCode, 200, right.body);
      assert.equal(right.json().unlocked, true);
      const locked = await req(session, 'POST', '/api/v1/me/master-password/lock');
      assert.equal(locked.json().unlocked, false);
      const fails = (await req(t.adminToken, 'GET', '/api/v1/audit?action=personal.unlock&limit=50')).json().items;
      assert.ok(fails.some((e: any) => e.outcome === 'failure' && e.details.reason === 'invalid_master_password'));
    });

    it('an administrator holding the database and master.key cannot read a personal credential', async () => {
      const db = t.core.store.db;
      const row = await db.selectFrom('personalCredentials').selectAll().where('id', '=', credId).executeTakeFirstOrThrow();
      const vault = await db.selectFrom('personalVaults').selectAll().where('userId', '=', alice.id).executeTakeFirstOrThrow();
      // The master key as an administrator finds it: the key file in the data directory.
      const { keyring } = Keyring.load(t.dataDir);
      const masterKey = Buffer.from((await import('node:fs')).readFileSync(`${t.dataDir}/master.key`, 'utf8').split('\n')[0]!, 'base64');
      assert.equal(masterKey.length, 32);
      // Nothing about a personal credential is in the data-key table the master key wraps.
      assert.equal(await db.selectFrom('dataKeys').select('id').where('id', 'in', [row.id, alice.id]).executeTakeFirst(), undefined);
      await assert.rejects(t.core.dataKeys.decrypt(row.id, row.dataEnc, `secret:${row.id}`));
      // Treating any of the wrapped values as master-key wraps or seals fails.
      for (const [what, sealed] of Object.entries({ 'credential data key': row.wrappedKey, 'credential data': row.dataEnc, 'vault key': vault.wrappedKey })) {
        for (const aad of [`dk:${row.id}`, `dk:${alice.id}`, `personal-dk:${alice.id}:${row.id}`, `personal:${alice.id}:${row.id}`, `personal-vault-key:${alice.id}`, `secret:${row.id}`]) {
          assert.throws(() => keyring.unwrap(keyring.currentId, sealed, aad.replace(/^dk:/, '')), `${what} opened by the keyring`);
          assert.throws(() => unseal(masterKey, sealed, aad), `${what} opened by the master key (aad ${aad})`);
        }
      }
      // Every data key the master key does unwrap opens none of them either.
      for (const dk of await db.selectFrom('dataKeys').select('id').execute()) {
        const key = await t.core.dataKeys.get(dk.id);
        for (const sealed of [row.wrappedKey, row.dataEnc, vault.wrappedKey]) {
          for (const aad of [`personal-dk:${alice.id}:${row.id}`, `personal:${alice.id}:${row.id}`, `personal-vault-key:${alice.id}`]) assert.throws(() => unseal(key, sealed, aad));
        }
      }
      // And the plaintext is nowhere in the database's bytes.
      const blobs: Blob[] = kind === 'sqlite' ? sqliteFiles(t.dataDir) : [await pgDump(t.config.databaseUrl!), ...(await pgClusterFiles(t.config.databaseUrl!))];
      assert.ok(blobs.length > 0);
      const found: string[] = [];
      for (const [label, value] of Object.entries({ personalPassword, personalKeyMarker: personalKey.split('\n')[1]!, master })) {
        for (const f of wireForms(value)) for (const b of blobs) if (b.data.indexOf(f.bytes) >= 0) found.push(`${label} in ${b.name} (${f.enc})`);
      }
      assert.deepEqual(found, []);
      // Control: the scan sees the data (the credential's public name is there).
      assert.ok(blobs.some((b) => b.data.indexOf(Buffer.from('my db account')) >= 0), 'the scan does not see the rows');
    });

    it("launching with someone else's personal credential: 403 with the seed's message", async () => {
      const r = await req(bob.token, 'POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'ssh', personalCredentialId: credId });
      expectError(r, 403, 'not_your_credential');
      assert.equal(r.json().error.message, NOT_YOURS);
      const ev = (await req(t.adminToken, 'GET', '/api/v1/audit?action=personal.credential.use&limit=50')).json().items;
      assert.ok(ev.some((e: any) => e.outcome === 'failure' && e.actorName === 'bob' && e.details.reason === 'not_your_credential'));
    });

    it('launching with a personal credential needs the unlocked vault and the matching target', async () => {
      const session = await t.login('alice', alice.password);
      const locked = await req(session, 'POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'ssh', personalCredentialId: credId });
      expectError(locked, 423, 'personal_vault_locked');
      assert.match(locked.json().error.message, /unlock/);
      assert.equal((await req(session, 'POST', '/api/v1/me/master-password/unlock', { masterPassword: master })).statusCode, 200);
      const ok = await req(session, 'POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'ssh', personalCredentialId: credId });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.ok(!ok.body.includes(personalPassword));
      // The door gets the personal account in place of the shared one.
      const h = await t.core.launching.redeem(ok.json().ticket, { clientIp: '127.0.0.1', door: 'ssh' });
      try {
        assert.equal(h.plan.credential.username, 'alice-dba');
        assert.equal(h.plan.credential.fields.password, personalPassword);
        assert.equal(h.plan.credential.fields.privateKey, personalKey);
      } finally {
        await h.end('test');
      }
      // A credential for another machine does not fit this secret.
      const other = await req(session, 'POST', '/api/v1/me/personal-credentials', { name: 'elsewhere', target: { machine: 'other.example', protocol: 'ssh' }, username: 'me', password: 'p' });
      assert.equal(other.statusCode, 201, other.body);
      expectError(await req(session, 'POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'ssh', personalCredentialId: other.json().id }), 400, 'personal_credential_mismatch');
      // One for the secret's machine does.
      const byMachine = await req(session, 'POST', '/api/v1/me/personal-credentials', { name: 'by machine', target: { machine: 'DB1.example', port: 22 }, username: 'me2', password: 'p2' });
      assert.equal((await req(session, 'POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'ssh', personalCredentialId: byMachine.json().id })).statusCode, 200);
      for (const id of [other.json().id, byMachine.json().id]) assert.equal((await req(session, 'DELETE', `/api/v1/me/personal-credentials/${id}`)).statusCode, 204);
    });

    it('changing the master password re-wraps: the old one fails, the new one opens the same credentials', async () => {
      const before = await t.core.store.db.selectFrom('personalVaults').selectAll().where('userId', '=', alice.id).executeTakeFirstOrThrow();
      const credBefore = await t.core.store.db.selectFrom('personalCredentials').selectAll().where('id', '=', credId).executeTakeFirstOrThrow();
      const newMaster = `Alice-New-Master-${rnd()}`;
      expectError(await req(alice.token, 'PUT', '/api/v1/me/master-password', { masterPassword: newMaster, currentMasterPassword: `${master}-wrong` }), 401, 'invalid_master_password');
      const r = await req(alice.token, 'PUT', '/api/v1/me/master-password', { masterPassword: newMaster, currentMasterPassword: master });
      assert.equal(r.statusCode, 200, r.body);
      masterNow = newMaster;
      const afterRow = await t.core.store.db.selectFrom('personalVaults').selectAll().where('userId', '=', alice.id).executeTakeFirstOrThrow();
      assert.notEqual(afterRow.wrappedKey, before.wrappedKey);
      assert.notEqual(afterRow.salt, before.salt);
      const credAfter = await t.core.store.db.selectFrom('personalCredentials').selectAll().where('id', '=', credId).executeTakeFirstOrThrow();
      assert.equal(credAfter.wrappedKey, credBefore.wrappedKey, 'the credentials themselves are not re-encrypted');
      const session = await t.login('alice', alice.password);
      expectError(await req(session, 'POST', '/api/v1/me/master-password/unlock', { masterPassword: master }), 401, 'invalid_master_password');
      assert.equal((await req(session, 'POST', '/api/v1/me/master-password/unlock', { masterPassword: newMaster })).statusCode, 200);
      const l = await req(session, 'POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'ssh', personalCredentialId: credId });
      assert.equal(l.statusCode, 200, l.body);
      const h = await t.core.launching.redeem(l.json().ticket, { clientIp: '127.0.0.1', door: 'ssh' });
      assert.equal(h.plan.credential.fields.password, personalPassword);
      await h.end('test');
      // A new secret value needs the unlocked vault; a rename does not.
      const locked = await t.login('alice', alice.password);
      expectError(await req(locked, 'PATCH', `/api/v1/me/personal-credentials/${credId}`, { password: 'new-one' }), 423, 'personal_vault_locked');
      assert.equal((await req(locked, 'PATCH', `/api/v1/me/personal-credentials/${credId}`, { name: 'my db account' })).statusCode, 200);
    });

    it('an unlocked session locks once idle longer than personalUnlockIdleSeconds', async () => {
      const session = await t.login('alice', alice.password);
      assert.equal((await req(t.adminToken, 'PATCH', '/api/v1/settings', { personalUnlockIdleSeconds: 1 })).statusCode, 200);
      try {
        assert.equal((await req(session, 'POST', '/api/v1/me/master-password/unlock', { masterPassword: masterNow })).statusCode, 200);
        // Idle for longer than the setting (what is asserted is the state, not the time).
        await sleep(1100);
        assert.deepEqual((await req(session, 'GET', '/api/v1/me/master-password')).json(), { set: true, unlocked: false, idleTimeoutSeconds: 1 });
        expectError(await req(session, 'POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'ssh', personalCredentialId: credId }), 423, 'personal_vault_locked');
      } finally {
        assert.equal((await req(t.adminToken, 'PATCH', '/api/v1/settings', { personalUnlockIdleSeconds: 900 })).statusCode, 200);
      }
    });

    it('signing out locks that session at once (its key is forgotten)', async () => {
      const session = await t.login('alice', alice.password);
      const { tokenId } = (await t.core.auth.resolveToken(session, null))!;
      assert.equal((await req(session, 'POST', '/api/v1/me/master-password/unlock', { masterPassword: masterNow })).statusCode, 200);
      assert.equal(await t.core.personal.unlocked.isUnlocked(tokenId, alice.id), true);
      assert.equal((await req(session, 'POST', '/api/v1/auth/logout')).statusCode, 204);
      assert.equal(await t.core.personal.unlocked.isUnlocked(tokenId, alice.id), false);
    });

    it('a reset deletes the personal credentials, only with the confirmation, and is audited', async () => {
      expectError(await req(alice.token, 'POST', '/api/v1/me/master-password/reset', { confirm: 'yes' }), 400, 'confirmation_required');
      assert.equal((await req(alice.token, 'GET', '/api/v1/me/personal-credentials')).json().total, 1);
      const r = await req(alice.token, 'POST', '/api/v1/me/master-password/reset', { confirm: 'delete my personal credentials' });
      assert.equal(r.statusCode, 200, r.body);
      assert.deepEqual(r.json(), { deleted: 1 });
      assert.equal((await req(alice.token, 'GET', '/api/v1/me/personal-credentials')).json().total, 0);
      assert.deepEqual((await req(alice.token, 'GET', '/api/v1/me/master-password')).json(), { set: false, unlocked: false, idleTimeoutSeconds: 900 });
      assert.equal(await t.core.store.db.selectFrom('personalCredentials').select('id').where('userId', '=', alice.id).executeTakeFirst(), undefined);
      const ev = (await req(t.adminToken, 'GET', '/api/v1/audit?action=personal.reset&limit=5')).json().items;
      assert.equal(ev[0].details.deletedCredentials, 1);
      // A new master password can be set afterwards.
      assert.equal((await req(alice.token, 'PUT', '/api/v1/me/master-password', { masterPassword: `Fresh-${master}` })).statusCode, 200);
    });

    it('the audit trail names what happened and holds no secret value', async () => {
      const all = (await req(t.adminToken, 'GET', '/api/v1/audit?limit=500')).json().items as any[];
      const actions = new Set(all.map((e) => e.action));
      for (const a of ['personal.master_set', 'personal.master_change', 'personal.unlock', 'personal.lock', 'personal.reset', 'personal.credential.create', 'personal.credential.update', 'personal.credential.delete', 'personal.credential.use']) {
        assert.ok(actions.has(a), `audited: ${a}`);
      }
      const text = JSON.stringify(all);
      for (const v of [personalPassword, 'PersonalKey', master]) assert.ok(!text.includes(v), `audit holds ${v.slice(0, 12)}…`);
      assert.ok(!t.logs().includes(personalPassword) && !t.logs().includes(master));
    });
  });
}
