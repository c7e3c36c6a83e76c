// The LDAP account operator against a real OpenLDAP slapd on loopback (test/support/slapd.ts):
// verify by bind (ok, refused, locked, unreachable), password change through the management
// bind and by the account itself (old bind fails, new works, stored hashed), Active Directory
// mode refused over plain ldap://, StartTLS and LDAPS with the test CA (and refused without
// it), a just-in-time entry created in its groups, locked, removed and gone, listing by prefix,
// group membership add/remove, injection attempts through names, groups and prefixes that must
// neither widen a search nor move a DN. No error message carries a password.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'ldapts';
import { OperatorError, type OperatorCredential, type OperatorFailure } from '../../src/core/accounts/operator.js';
import { LdapAccountOperator } from '../../src/protocols/targets/accounts/ldap.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { freePort } from '../support/sshd.js';

const op = new LdapAccountOperator();
let slapd: Slapd;

/** Every password a test uses: none may show in an error message. */
const secrets = new Set<string>();
const errors: string[] = [];

function management(fields: OperatorCredential['fields'] = {}, password?: string): OperatorCredential {
  const pw = password ?? slapd.servicePassword;
  if (pw) secrets.add(pw);
  return {
    secretId: 'ldap-mgmt',
    host: '127.0.0.1',
    port: slapd.port,
    username: slapd.serviceDn,
    password: pw,
    fields: { url: slapd.url, baseDn: slapd.peopleOu, jitOu: slapd.jitOu, groupsDn: slapd.groupsOu, ...fields },
  };
}

function account(username: string, password: string, fields: OperatorCredential['fields'] = {}): OperatorCredential {
  if (password) secrets.add(password);
  return { secretId: `ldap-${username}`, host: '127.0.0.1', port: slapd.port, username, password, fields: { url: slapd.url, ...fields } };
}

/** The seeded password of a user. */
const pw = (uid: string) => slapd.seed.users.find((u) => u.uid === uid)!.password;

async function fails(p: Promise<unknown>, failure: OperatorFailure, message?: RegExp): Promise<OperatorError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof OperatorError, `an OperatorError, not ${String(e)}`);
    errors.push(e.message);
    assert.equal(e.failure, failure, e.message);
    if (message) assert.match(e.message, message);
    return e;
  }
  assert.fail(`expected an OperatorError(${failure})`);
}

/** Reads the directory as its root DN (the test's view, not the operator's). */
async function asAdmin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ url: slapd.url });
  try {
    await c.bind(slapd.adminDn, slapd.adminPassword);
    return await fn(c);
  } finally {
    await c.unbind();
  }
}

async function members(group: string): Promise<string[]> {
  return asAdmin(async (c) => {
    const r = await c.search(slapd.groupDn(group), { scope: 'base', attributes: ['member'] });
    const m = r.searchEntries[0]?.member;
    return (Array.isArray(m) ? m : m === undefined ? [] : [m]).map(String).map((s) => s.toLowerCase());
  });
}

async function entryExists(dn: string): Promise<boolean> {
  return asAdmin(async (c) => {
    try {
      return (await c.search(dn, { scope: 'base', attributes: ['1.1'] })).searchEntries.length === 1;
    } catch {
      return false;
    }
  });
}

async function subtreeCount(base: string): Promise<number> {
  return asAdmin(async (c) => (await c.search(base, { scope: 'sub', attributes: ['1.1'] })).searchEntries.length);
}

describe('LDAP account operator against a real slapd', () => {
  before(async () => {
    slapd = await startSlapd();
    for (const u of slapd.seed.users) secrets.add(u.password);
    secrets.add(slapd.servicePassword);
    secrets.add(slapd.adminPassword);
  });
  after(async () => {
    await slapd?.stop();
    // Checked last, over every error message any test collected.
    assert.ok(errors.length > 10, 'the tests collected error messages');
    for (const m of errors) for (const s of secrets) assert.ok(!m.includes(s), `error message carries a password: ${m}`);
  });

  it('verify: a right password binds, a wrong one and a locked account are refused, a dead port is unreachable', async () => {
    assert.equal(await op.verify(account(slapd.userDn('alice'), pw('alice')), pw('alice')), 'ok');
    assert.equal(await op.verify(account(slapd.userDn('alice'), pw('alice')), 'Not-Alices-Password-1'), 'refused');
    // carol's entry carries pwdAccountLockedTime: ppolicy refuses her right password.
    assert.equal(await op.verify(account(slapd.userDn('carol'), pw('carol')), pw('carol')), 'refused');
    // An empty password would be an anonymous bind, which succeeds: never treated as ok.
    assert.equal(await op.verify(account(slapd.userDn('alice'), ''), ''), 'refused');
    // A plain name is looked for under baseDn.
    assert.equal(await op.verify(account('alice', pw('alice'), { baseDn: slapd.peopleOu }), pw('alice')), 'ok');
    const dead = await freePort();
    await fails(op.verify(account(slapd.userDn('alice'), pw('alice'), { url: `ldap://127.0.0.1:${dead}` }), pw('alice')), 'unreachable', /cannot connect|connection failed/);
  });

  it('change password through the management bind: the old bind fails, the new works, the directory stores a hash', async () => {
    const bob = account(slapd.userDn('bob'), pw('bob'));
    const next = 'Bob-Rotated-Pw-0001';
    secrets.add(next);
    await op.changePassword(bob, management(), next);
    assert.equal(await op.verify(bob, pw('bob')), 'refused');
    assert.equal(await op.verify(bob, next), 'ok');
    const stored = await asAdmin(async (c) => (await c.search(slapd.userDn('bob'), { scope: 'base', attributes: ['userPassword'] })).searchEntries[0]!.userPassword);
    assert.match(String(stored), /^\{SSHA\}/, 'ppolicy hashed the cleartext write');
    assert.ok(!String(stored).includes(next));
  });

  it('change password by the account itself (no management secret)', async () => {
    const dave = account(slapd.userDn('dave'), pw('dave'));
    const next = 'Dave-Self-Rotated-Pw-0002';
    secrets.add(next);
    await op.changePassword(dave, null, next);
    assert.equal(await op.verify(dave, pw('dave')), 'refused');
    assert.equal(await op.verify(dave, next), 'ok');
    // Put it back for the other tests (the account now knows `next`).
    await op.changePassword({ ...dave, password: next }, null, pw('dave'));
    assert.equal(await op.verify(dave, pw('dave')), 'ok');
  });

  it('a failed change (wrong management password, unreachable directory, wrong own password) leaves the old password working', async () => {
    const alice = account(slapd.userDn('alice'), pw('alice'));
    const next = 'Alice-Never-Set-Pw-0003';
    secrets.add(next);
    await fails(op.changePassword(alice, management({}, 'Wrong-Mgmt-Pw-0004'), next), 'refused', /^management bind/);
    const dead = await freePort();
    await fails(op.changePassword(alice, management({ url: `ldap://127.0.0.1:${dead}` }), next), 'unreachable');
    await fails(op.changePassword({ ...alice, password: 'Wrong-Own-Pw-0005' }, null, next), 'refused', /^account bind/);
    // A plain user may not set another's password (the ACL says so).
    const daveAsManager: OperatorCredential = { ...management(), username: slapd.userDn('dave'), password: pw('dave') };
    await fails(op.changePassword(alice, daveAsManager, next), 'denied', /insufficient access/);
    await fails(op.changePassword(alice, management(), ''), 'invalid');
    assert.equal(await op.verify(alice, pw('alice')), 'ok');
    assert.equal(await op.verify(alice, next), 'refused');
  });

  it('Active Directory mode is refused over plain ldap:// before anything is sent, and goes through over LDAPS', async () => {
    const alice = account(slapd.userDn('alice'), pw('alice'));
    const next = 'Alice-Ad-Mode-Pw-0006';
    secrets.add(next);
    await fails(op.changePassword(alice, management({ directory: 'ad' }), next), 'invalid', /encrypted connection only/);
    await fails(op.changePassword({ ...alice, fields: { ...alice.fields, directory: 'ad' } }, null, next), 'invalid', /encrypted connection only/);
    await fails(op.createAccount(management({ directory: 'ad' }), { name: 'ghad-1', password: next, groups: [] }), 'invalid', /encrypted connection only/);
    // Over LDAPS the request reaches the server; OpenLDAP has no unicodePwd, so it says so.
    await fails(op.changePassword(alice, management({ directory: 'ad', url: slapd.ldapsUrl, caFile: slapd.caFile }), next), 'invalid', /undefined attribute type/);
    assert.equal(await op.verify(alice, pw('alice')), 'ok');
  });

  it('StartTLS and LDAPS with the CA; without the CA the certificate is not accepted', async () => {
    const dn = slapd.userDn('alice');
    assert.equal(await op.verify(account(dn, pw('alice'), { startTls: 'true', caFile: slapd.caFile }), pw('alice')), 'ok');
    assert.equal(await op.verify(account(dn, pw('alice'), { url: slapd.ldapsUrl, caFile: slapd.caFile }), pw('alice')), 'ok');
    assert.equal(await op.verify(account(dn, pw('alice'), { url: slapd.ldapsUrl, caFile: slapd.caFile }), 'Wrong-Over-Tls-1'), 'refused');
    await fails(op.verify(account(dn, pw('alice'), { url: slapd.ldapsUrl }), pw('alice')), 'unreachable', /TLS certificate not accepted/);
    await fails(op.verify(account(dn, pw('alice'), { startTls: 1 }), pw('alice')), 'unreachable', /StartTLS: TLS certificate not accepted/);
    await fails(op.verify(account(dn, pw('alice'), { url: slapd.ldapsUrl, startTls: 'yes' }), pw('alice')), 'invalid', /startTls/);
    await fails(op.verify(account(dn, pw('alice'), { caFile: '/nonexistent/ca.pem', startTls: '1' }), pw('alice')), 'invalid', /caFile/);
    // A management operation over LDAPS.
    const bob = account(slapd.userDn('bob'), 'unused');
    const next = 'Bob-Over-Ldaps-Pw-0007';
    secrets.add(next);
    await op.changePassword(bob, management({ url: slapd.ldapsUrl, caFile: slapd.caFile }), next);
    assert.equal(await op.verify(bob, next), 'ok');
  });

  it('just-in-time account: created in its groups, usable, listed, locked, removed and gone', async () => {
    const name = 'ghjit-k3x9q2';
    const password = 'Jit-Session-Pw-0008';
    secrets.add(password);
    const groups = [slapd.groupDn('operators'), slapd.groupDn('dbadmins')];
    await op.createAccount(management(), { name, password, groups });
    const dn = `uid=${name},${slapd.jitOu}`;
    assert.ok(await entryExists(dn));
    assert.ok((await members('operators')).includes(dn.toLowerCase()));
    assert.ok((await members('dbadmins')).includes(dn.toLowerCase()));
    assert.equal(await op.verify(account(dn, password), password), 'ok');
    // By plain name too: addToGroups finds it in the JIT OU.
    await op.addToGroups(management(), name, [slapd.groupDn('staff')]);
    assert.ok((await members('staff')).includes(dn.toLowerCase()));

    await op.createAccount(management(), { name: 'ghjit-second', password, groups: [] });
    await op.createAccount(management(), { name: 'other-prefix', password, groups: [] });
    assert.deepEqual(await op.listAccounts(management(), 'ghjit-'), ['ghjit-k3x9q2', 'ghjit-second']);
    await fails(op.createAccount(management(), { name, password, groups: [] }), 'invalid', /exists already/);

    await op.disableAccount(management(), name);
    assert.equal(await op.verify(account(dn, password), password), 'refused');

    await op.removeAccount(management(), name);
    assert.equal(await entryExists(dn), false);
    for (const g of ['operators', 'dbadmins', 'staff']) assert.ok(!(await members(g)).includes(dn.toLowerCase()), `${g} lost the member`);
    await op.removeAccount(management(), name); // idempotent
    await op.removeAccount(management(), 'ghjit-second');
    await op.removeAccount(management(), 'other-prefix');
    assert.deepEqual(await op.listAccounts(management(), 'ghjit-'), []);
    assert.equal(await subtreeCount(slapd.jitOu), 1, 'only the OU itself is left');
    // The groups kept their own members.
    assert.deepEqual(await members('operators'), [slapd.userDn('bob').toLowerCase()]);
  });

  it('a JIT account with an unknown group, or a group outside groupsDn, is not created at all', async () => {
    const password = 'Jit-Bad-Group-Pw-0009';
    secrets.add(password);
    await fails(op.createAccount(management(), { name: 'ghjit-badgrp', password, groups: [slapd.groupDn('operators'), slapd.groupDn('no-such-group')] }), 'invalid', /does not exist/);
    await fails(op.createAccount(management(), { name: 'ghjit-badgrp', password, groups: [`cn=admins,${slapd.peopleOu}`, slapd.groupDn('operators')] }), 'invalid', /outside/);
    await fails(op.createAccount(management(), { name: 'ghjit-badgrp', password, groups: ['not a dn'] }), 'invalid', /not a DN/);
    await fails(op.createAccount(management({ jitOu: '' }), { name: 'ghjit-badgrp', password, groups: [] }), 'invalid', /jitOu/);
    assert.equal(await entryExists(`uid=ghjit-badgrp,${slapd.jitOu}`), false);
    assert.ok(!(await members('operators')).some((m) => m.includes('ghjit-badgrp')));
  });

  it('group membership of an existing account: add, add again, remove, remove again; unknown groups refused', async () => {
    const dave = slapd.userDn('dave').toLowerCase();
    // `before` is told which groups the account is in already (the second time: its own membership, no grant takes it away).
    const told: string[][] = [];
    const tell = async (already: string[]) => void told.push(already);
    await op.addToGroups(management(), 'dave', [slapd.groupDn('admins')], undefined, tell);
    await op.addToGroups(management(), 'dave', [slapd.groupDn('admins'), slapd.groupDn('operators')], undefined, tell);
    assert.deepEqual(told, [[], [slapd.groupDn('admins')]]);
    await op.removeFromGroups(management(), 'dave', [slapd.groupDn('operators')]);
    // A `before` that throws changes nothing.
    await assert.rejects(op.addToGroups(management(), 'dave', [slapd.groupDn('operators')], undefined, async () => { throw new Error('stop here'); }), /stop here/);
    assert.ok(!(await members('operators')).includes(dave));
    assert.deepEqual((await members('admins')).sort(), [slapd.userDn('alice').toLowerCase(), dave].sort());
    await op.removeFromGroups(management(), slapd.userDn('dave'), [slapd.groupDn('admins')]);
    await op.removeFromGroups(management(), 'dave', [slapd.groupDn('admins')]);
    assert.deepEqual(await members('admins'), [slapd.userDn('alice').toLowerCase()]);
    await fails(op.addToGroups(management(), 'dave', [slapd.groupDn('ghosts')]), 'invalid', /does not exist/);
    await fails(op.addToGroups(management(), 'nobody-here', [slapd.groupDn('admins')]), 'invalid', /no such entry/);
    // eve lives in ou=admins, outside baseDn (ou=people) and jitOu: out of reach by name and by DN.
    await fails(op.addToGroups(management(), 'eve', [slapd.groupDn('admins')]), 'invalid', /no such entry/);
    await fails(op.addToGroups(management(), slapd.userDn('eve'), [slapd.groupDn('admins')]), 'invalid', /outside/);
    assert.deepEqual(await members('admins'), [slapd.userDn('alice').toLowerCase()]);
  });

  it('injection through names, prefixes and group DNs neither widens a search nor changes a target DN', async () => {
    const before = await members('admins');
    const password = 'Jit-Injection-Pw-0010';
    secrets.add(password);
    const admins = [slapd.groupDn('admins')];
    // Filter injection on a lookup: the value is escaped, so these match nothing (and not everybody).
    for (const name of ['x)(uid=*', '*', 'al*', 'alice)(|(uid=*', '*)(objectClass=*']) {
      await fails(op.addToGroups(management(), name, admins), 'invalid', /no such entry/);
      await fails(op.removeFromGroups(management(), name, admins), 'invalid', /no such entry/);
    }
    // DN injection: a name is a value, never a path; a JIT name with DN or filter syntax is refused.
    for (const name of ['a,ou=admins', 'x)(uid=*', 'alice,ou=people', 'ghjit-a+cn=x', ' ghjit', 'ghjit\nx', '../x', '']) {
      await fails(op.createAccount(management(), { name, password, groups: [] }), 'invalid', /account name/);
      await fails(op.disableAccount(management(), name), 'invalid', /account name/);
      await fails(op.removeAccount(management(), name), 'invalid', /account name/);
    }
    for (const prefix of ['x)(uid=*', '*', '', 'a)(objectClass=*']) {
      await fails(op.listAccounts(management(), prefix), 'invalid', /account name/);
    }
    // 'a,ou=admins' as the name of an existing account: a plain value in the filter, found nowhere.
    await fails(op.addToGroups(management(), 'a,ou=admins', admins), 'invalid', /no such entry/);
    // A group "DN" with filter syntax or a second DN smuggled in.
    await fails(op.addToGroups(management(), 'dave', [`${slapd.groupDn('admins')})(x`]), 'invalid', /groups/);
    await fails(op.addToGroups(management(), 'dave', [`cn=admins\n,${slapd.groupsOu}`]), 'invalid', /groups/);
    // Settings cannot carry filter syntax either.
    await fails(op.listAccounts(management({ userAttribute: 'uid)(objectClass=*' }), 'ghjit-'), 'invalid', /attribute name/);
    assert.deepEqual(await members('admins'), before);
    assert.ok(await entryExists(slapd.userDn('alice')));
    assert.ok(await entryExists(slapd.userDn('eve')));
    assert.equal(await subtreeCount(slapd.jitOu), 1);
    assert.equal(await subtreeCount(`ou=admins,${slapd.suffix}`), 2, 'ou=admins holds eve only');
  });
});
