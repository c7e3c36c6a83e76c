// The LDAP / Active Directory directory (issue 15 point 2) against a real OpenLDAP slapd on
// loopback (test/support/slapd.ts: people, nested groups, a locked user): settings with the
// bind password as a vault reference, a sync that creates users, maps nested groups and
// disables the locked one, bind sign-in at the API and at the SSH door (`user:secret`), a
// user disabled in the directory losing access at the next sync (and at sign-in), LDAP
// injection in user names, StartTLS and LDAPS with a CA file, the directory down (a clear
// error; the local administrator still signs in), and no password in answers, logs or the
// database in plaintext. On SQLite and PostgreSQL.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Attribute, Change, Client } from 'ldapts';
import { sshPasswordLogin } from '../support/ssh-client.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { ADMIN_PASSWORD, DB_KINDS } from '../support/harness.js';
import { freePort } from '../support/sshd.js';
import { leaks, pgDump, sqliteFiles } from '../support/scan.js';

const PASSWORDS = { alice: 'Alice-Ldap-Pw-4411', bob: 'Bob-Ldap-Pw-5522', dave: 'Dave-Ldap-Pw-7744', carol: 'Carol-Ldap-Pw-6633' };

/** Locks (or unlocks) an entry the way the ppolicy overlay does. */
async function setLocked(slapd: Slapd, uid: string, locked: boolean): Promise<void> {
  const c = new Client({ url: slapd.url });
  try {
    await c.bind(slapd.adminDn, slapd.adminPassword);
    await c.modify(slapd.userDn(uid), [new Change({ operation: locked ? 'replace' : 'delete', modification: new Attribute({ type: 'pwdAccountLockedTime', values: locked ? ['000001010000Z'] : [] }) })]);
  } finally {
    await c.unbind();
  }
}

async function asAdmin(slapd: Slapd, fn: (c: Client) => Promise<void>): Promise<void> {
  const c = new Client({ url: slapd.url });
  try {
    await c.bind(slapd.adminDn, slapd.adminPassword);
    await fn(c);
  } finally {
    await c.unbind();
  }
}
const addEntry = (slapd: Slapd, uid: string, password: string) =>
  asAdmin(slapd, (c) => c.add(`uid=${uid},${slapd.peopleOu}`, { objectClass: ['inetOrgPerson'], uid, cn: uid, sn: uid, userPassword: password }));
const removeEntry = (slapd: Slapd, uid: string) => asAdmin(slapd, (c) => c.del(`uid=${uid},${slapd.peopleOu}`));


let slapd: Slapd;
before(async () => {
  slapd = await startSlapd();
});
after(async () => {
  await slapd?.stop();
});

for (const kind of DB_KINDS) {
  describe(`LDAP directory (real slapd) on ${kind}`, () => {
    let gw: Gateway;
    const answers: string[] = [];
    const api = async (method: string, url: string, body?: unknown, token = gw.adminToken) => {
      const r = await gw.api(method, url, { token, ...(body !== undefined ? { body } : {}) });
      answers.push(r.raw);
      return r;
    };
    const login = (username: string, password: string) => api('POST', '/api/v1/auth/login', { username, password }, undefined as unknown as string);
    let bindSecretId = '';
    const base = () => ({
      enabled: true,
      url: slapd.url,
      security: 'starttls',
      caFile: slapd.caFile,
      bindDn: slapd.serviceDn,
      bindSecretId,
      userBaseDn: slapd.peopleOu,
      groupBaseDn: slapd.groupsOu,
      groupMappings: [
        { ldapGroup: slapd.groupDn('admins'), group: 'ldap-admins' },
        { ldapGroup: slapd.groupDn('staff'), group: 'ldap-staff' },
      ],
    });

    before(async () => {
      gw = await startGateway(kind);
      // Many refused sign-ins on purpose from one address: no per-source limit in the way.
      assert.equal((await api('PATCH', '/api/v1/settings', { loginRateLimit: 0 })).status, 200);
      const s = await api('POST', '/api/v1/secrets', { name: 'ldap service bind', template: 'generic', fields: { username: slapd.serviceDn, password: slapd.servicePassword } });
      assert.equal(s.status, 201, s.raw);
      bindSecretId = s.body.id;
      assert.equal((await api('POST', '/api/v1/groups', { name: 'ldap-admins', roles: ['Administrator'] })).status, 201);
      assert.equal((await api('POST', '/api/v1/groups', { name: 'ldap-staff', roles: ['User'] })).status, 201);
      assert.equal((await api('POST', '/api/v1/secrets', { name: 'box', template: 'generic', fields: { machine: '127.0.0.1', port: 1, username: 'root', password: 'Box-Target-Pw-1' } })).status, 201);
    });
    after(async () => {
      await setLocked(slapd, 'bob', false).catch(() => undefined);
      await gw?.close();
    });

    /** A live recorded session of `username`, started the way a door starts one (no target contacted). */
    const liveSessionOf = async (username: string) => {
      const core = gw.running.core;
      const user = (await core.dir.userByName(username))!;
      const box = (await core.secrets.list(await core.dir.doorPrincipal(await core.dir.userRow((await core.dir.userByName('admin'))!.id), '127.0.0.1'), { search: 'box', limit: 5, offset: 0 })).items[0]!;
      const s = await core.sessions.start(
        { sessionId: randomUUID(), user: { id: user.id, username }, protocol: 'ssh', target: { host: '127.0.0.1', port: 22 }, credential: await core.secrets.credential(box.id), launcher: await core.launchers.get('ssh') },
        { clientIp: '127.0.0.1', door: 'ssh' },
      );
      s.begin({ cols: 80, rows: 24, term: 'xterm' });
      return s;
    };

    it('keeps the bind password in the vault: the settings name the secret, never the value', async () => {
      const r = await api('PUT', '/api/v1/directory/ldap', base());
      assert.equal(r.status, 200, r.raw);
      assert.equal(r.body.config.bindSecretId, bindSecretId);
      assert.equal(r.body.config.security, 'starttls');
      assert.ok(!r.raw.includes(slapd.servicePassword));
      const t = await api('POST', '/api/v1/directory/ldap/test');
      assert.equal(t.status, 200, t.raw);
      assert.deepEqual({ ok: t.body.ok, users: t.body.users, groups: t.body.groups }, { ok: true, users: 4, groups: 4 }, t.raw);
    });

    it('a bind field the secret does not have, even one every object answers to (toString): "no such field", not a bind with a function\'s text', async () => {
      for (const field of ['nosuchfield', 'toString', 'constructor']) {
        const r = await api('PUT', '/api/v1/directory/ldap', { ...base(), bindSecretField: field });
        assert.equal(r.status, 200, r.raw);
        const t = await api('POST', '/api/v1/directory/ldap/test');
        assert.equal(t.body.ok, false, t.raw);
        assert.match(t.body.message, new RegExp(`has no "${field}" field`), t.raw);
      }
      assert.equal((await api('PUT', '/api/v1/directory/ldap', { ...base(), bindSecretField: 'password' })).status, 200);
    });

    it('a User who cannot see the bind secret cannot point the directory at it (and the User is refused anyway)', async () => {
      await api('POST', '/api/v1/users', { username: 'plain-user', password: 'Plain-User-Pw-123', roles: ['User'] });
      const tok = await gw.userToken('plain-user', 'Plain-User-Pw-123');
      const r = await api('PUT', '/api/v1/directory/ldap', { url: 'ldap://127.0.0.1:1' }, tok);
      assert.equal(r.status, 403, r.raw);
    });

    it('syncs users and nested groups; the locked user is created disabled; another OU is left out', async () => {
      const r = await api('POST', '/api/v1/directory/ldap/sync');
      assert.equal(r.status, 200, r.raw);
      assert.equal(r.body.ok, true, r.raw);
      assert.deepEqual([...r.body.created].sort(), ['alice', 'bob', 'carol', 'dave']);
      assert.deepEqual(r.body.conflicts, []);
      const users = (await api('GET', '/api/v1/users?limit=100')).body.items as { username: string; enabled: boolean; groups: { name: string }[]; email: string | null; displayName: string }[];
      const by = (n: string) => users.find((u) => u.username === n)!;
      assert.equal(by('carol').enabled, false);
      assert.equal(by('alice').enabled, true);
      assert.equal(by('alice').displayName, 'Alice Admin');
      assert.equal(by('alice').email, 'alice@gatehouse.test');
      assert.equal(users.find((u) => u.username === 'eve'), undefined);
      assert.deepEqual(by('alice').groups.map((g) => g.name), ['ldap-admins']);
      // bob is in staff through the nested group operators; dave directly.
      assert.deepEqual(by('bob').groups.map((g) => g.name), ['ldap-staff']);
      assert.deepEqual(by('dave').groups.map((g) => g.name), ['ldap-staff']);
      // A second sync changes nothing.
      const again = await api('POST', '/api/v1/directory/ldap/sync');
      assert.deepEqual({ created: again.body.created, disabled: again.body.disabled, groupChanges: again.body.groupChanges }, { created: [], disabled: [], groupChanges: 0 });
      const status = await api('GET', '/api/v1/directory/ldap');
      assert.equal(status.body.lastSync.ok, true);
      assert.ok(status.body.lastSyncAt);
    });

    it('signs directory users in by binding as them: roles come from the mapped groups', async () => {
      const r = await login('alice', PASSWORDS.alice);
      assert.equal(r.status, 200, r.raw);
      const me = await api('GET', '/api/v1/me', undefined, r.body.token);
      assert.ok(me.body.permissions.includes('administer'), me.raw);
      assert.equal((await login('alice', 'Not-Alices-Password-1')).status, 401);
      // The name in another case is not the account (nor a second one).
      assert.equal((await login('ALICE', PASSWORDS.alice)).status, 401);
      assert.equal((await login('dave', PASSWORDS.dave)).status, 200);
      // The locked one: the directory refuses the bind.
      assert.equal((await login('carol', PASSWORDS.carol)).status, 401);
      // Local accounts sign in as before.
      assert.equal((await login('admin', ADMIN_PASSWORD)).status, 200);
    });

    it('the SSH door takes a directory password for `user:secret`', async () => {
      assert.equal(await sshPasswordLogin(gw.sshPort, 'alice:box', PASSWORDS.alice), true);
      assert.equal(await sshPasswordLogin(gw.sshPort, 'alice:box', 'Wrong-Password-123'), false);
    });

    it('escapes LDAP filter syntax in user names: no wildcard or injected clause signs anyone in', async () => {
      for (const name of ['*', 'al*', 'alice)(uid=*', '*)(|(uid=*', 'alice\\2a', '(uid=alice)', '*)(objectClass=*']) {
        const r = await login(name, PASSWORDS.alice);
        assert.equal(r.status, 401, `${JSON.stringify(name)}: ${r.raw}`);
      }
      const users = (await api('GET', '/api/v1/users?limit=100')).body.items as { username: string }[];
      assert.ok(users.every((u) => /^[a-z-]+$/.test(u.username)), JSON.stringify(users.map((u) => u.username)));
    });

    it('a user disabled in the directory is disabled at the next sync: live session terminated, token dead, sign-in refused; re-enabled by a later sync', async () => {
      const r = await login('bob', PASSWORDS.bob);
      assert.equal(r.status, 200, r.raw);
      const token = r.body.token as string;
      const live = await liveSessionOf('bob');
      await setLocked(slapd, 'bob', true);
      const s = await api('POST', '/api/v1/directory/ldap/sync');
      assert.equal(s.status, 200, s.raw);
      assert.deepEqual(s.body.disabled, ['bob'], s.raw);
      // ldapTerminateSessionsOnDisable (default on): the running session is ended.
      assert.equal(s.body.terminatedSessions, 1, s.raw);
      // (the door that would close the connection on it is not part of this test: it ends it here)
      assert.match(live.terminated ?? '', /disabled in the directory/);
      await live.end('closed by the door');
      assert.equal((await login('bob', PASSWORDS.bob)).status, 401);
      const users = (await api('GET', '/api/v1/users?limit=100')).body.items as { username: string; enabled: boolean }[];
      assert.equal(users.find((u) => u.username === 'bob')!.enabled, false);
      assert.equal((await api('GET', '/api/v1/me', undefined, token)).status, 401);
      assert.equal(await sshPasswordLogin(gw.sshPort, 'bob:box', PASSWORDS.bob), false);
      await setLocked(slapd, 'bob', false);
      const back = await api('POST', '/api/v1/directory/ldap/sync');
      assert.deepEqual(back.body.enabled, ['bob'], back.raw);
      assert.equal((await login('bob', PASSWORDS.bob)).status, 200);
    });

    it('an account disabled by an administrator stays disabled through syncs', async () => {
      const users = (await api('GET', '/api/v1/users?limit=100')).body.items as { id: string; username: string }[];
      const dave = users.find((u) => u.username === 'dave')!;
      assert.equal((await api('PATCH', `/api/v1/users/${dave.id}`, { enabled: false })).status, 200);
      await api('POST', '/api/v1/directory/ldap/sync');
      assert.equal((await api('GET', `/api/v1/users/${dave.id}`)).body.enabled, false);
      assert.equal((await login('dave', PASSWORDS.dave)).status, 403);
      assert.equal((await api('PATCH', `/api/v1/users/${dave.id}`, { enabled: true })).status, 200);
    });

    it('a user the sync once disabled, then disabled by an administrator, stays disabled when the directory enables them', async () => {
      await setLocked(slapd, 'bob', true);
      try {
        const off = await api('POST', '/api/v1/directory/ldap/sync');
        assert.deepEqual(off.body.disabled, ['bob'], off.raw);
        // The administrator enables and disables the account by hand (it is theirs now).
        const bob = ((await api('GET', '/api/v1/users?limit=100')).body.items as { id: string; username: string }[]).find((u) => u.username === 'bob')!;
        assert.equal((await api('PATCH', `/api/v1/users/${bob.id}`, { enabled: true })).status, 200);
        assert.equal((await api('PATCH', `/api/v1/users/${bob.id}`, { enabled: false })).status, 200);
        await setLocked(slapd, 'bob', false);
        const on = await api('POST', '/api/v1/directory/ldap/sync');
        // Before: the sync's mark from its own disable was left, and this sync enabled bob again.
        assert.deepEqual(on.body.enabled, [], on.raw);
        assert.equal((await api('GET', `/api/v1/users/${bob.id}`)).body.enabled, false);
        assert.equal((await api('PATCH', `/api/v1/users/${bob.id}`, { enabled: true })).status, 200);
      } finally {
        await setLocked(slapd, 'bob', false).catch(() => undefined);
      }
    });

    it('a local account is never taken over by a directory entry of the same name', async () => {
      const local = await api('POST', '/api/v1/users', { username: 'twin', password: 'Local-Twin-Pw-123' });
      assert.equal(local.status, 201);
      await addEntry(slapd, 'twin', 'Ldap-Twin-Pw-456');
      try {
        const s = await api('POST', '/api/v1/directory/ldap/sync');
        assert.deepEqual(s.body.conflicts, ['twin'], s.raw);
        assert.equal((await login('twin', 'Ldap-Twin-Pw-456')).status, 401);
        assert.equal((await login('twin', 'Local-Twin-Pw-123')).status, 200);
      } finally {
        await removeEntry(slapd, 'twin');
      }
    });

    it('LDAPS with the CA file works; without the CA the certificate is refused with a clear message', async () => {
      let r = await api('PUT', '/api/v1/directory/ldap', { url: slapd.ldapsUrl, security: 'ldaps', caFile: slapd.caFile });
      assert.equal(r.status, 200, r.raw);
      assert.equal((await api('POST', '/api/v1/directory/ldap/test')).body.ok, true);
      assert.equal((await login('alice', PASSWORDS.alice)).status, 200);
      r = await api('PUT', '/api/v1/directory/ldap', { caFile: null });
      const t = await api('POST', '/api/v1/directory/ldap/test');
      assert.equal(t.body.ok, false);
      assert.match(t.body.message, /TLS certificate was not accepted/);
      r = await api('PUT', '/api/v1/directory/ldap', { url: slapd.url, security: 'starttls', caFile: null });
      const st = await api('POST', '/api/v1/directory/ldap/test');
      assert.equal(st.body.ok, false);
      assert.match(st.body.message, /StartTLS failed: the server's TLS certificate was not accepted/);
      // A directory user then gets a clear 503, not "wrong password".
      const a = await login('alice', PASSWORDS.alice);
      assert.equal(a.status, 503, a.raw);
      assert.equal(a.body.error.code, 'directory_unavailable');
      assert.equal((await api('PUT', '/api/v1/directory/ldap', { caFile: slapd.caFile })).status, 200);
    });

    it('the directory down: a clear error for directory users, the local administrator still signs in, a sync says why it failed', async () => {
      const port = await freePort();
      assert.equal((await api('PUT', '/api/v1/directory/ldap', { url: `ldap://127.0.0.1:${port}`, security: 'starttls' })).status, 200);
      const a = await login('alice', PASSWORDS.alice);
      assert.equal(a.status, 503, a.raw);
      assert.equal(a.body.error.code, 'directory_unavailable');
      assert.match(a.body.error.message, /cannot connect \(ECONNREFUSED\); local accounts can still sign in/);
      assert.equal((await login('admin', ADMIN_PASSWORD)).status, 200);
      const s = await api('POST', '/api/v1/directory/ldap/sync');
      assert.equal(s.body.ok, false);
      assert.match(s.body.error, /ECONNREFUSED/);
      // Nobody was disabled by a sync that could not read the directory.
      const users = (await api('GET', '/api/v1/users?limit=100')).body.items as { username: string; enabled: boolean }[];
      assert.equal(users.find((u) => u.username === 'alice')!.enabled, true);
      assert.equal((await api('PUT', '/api/v1/directory/ldap', { url: slapd.url })).status, 200);
      assert.equal((await login('alice', PASSWORDS.alice)).status, 200);
    });

    it('no LDAP password in any answer, the log or the database in plaintext', async () => {
      const secrets = { service: slapd.servicePassword, alice: PASSWORDS.alice, bob: PASSWORDS.bob, dave: PASSWORDS.dave };
      const blobs = [{ name: 'answers', data: Buffer.from(answers.join('\n')) }, { name: 'log', data: Buffer.from(gw.logs()) }];
      assert.deepEqual(leaks(blobs, secrets), []);
      const db = kind === 'sqlite' ? sqliteFiles(gw.dataDir) : [await pgDump(gw.running.core.config.databaseUrl!)];
      assert.deepEqual(leaks(db, secrets), []);
    });
  });
}
