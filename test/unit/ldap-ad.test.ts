// Active Directory's password and account-control encodings, checked byte for byte, and the
// LDAP writes the operator builds from them (issue 12): unicodePwd is the UTF-16LE of the
// password in double quotes, replaced by an administrator, deleted-then-added by the user.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Attribute } from 'ldapts';
import { disabledUserAccountControl, encodeUnicodePwd, UAC_ACCOUNTDISABLE, UAC_NORMAL_ACCOUNT } from '../../src/protocols/targets/accounts/ldap-ad.js';
import { disableChanges, jitAttributes, passwordChanges, PPOLICY_LOCKED_FOREVER } from '../../src/protocols/targets/accounts/ldap-directory.js';
import { ldapSettings } from '../../src/protocols/targets/accounts/ldap-settings.js';

const cred = (fields: Record<string, string | number>) => ({ secretId: 's', host: '127.0.0.1', port: 636, username: 'x', fields });
const ad = ldapSettings(cred({ directory: 'ad', url: 'ldaps://127.0.0.1:636', jitOu: 'OU=JIT,DC=corp,DC=test' }));
const openldap = ldapSettings(cred({ url: 'ldap://127.0.0.1:389' }));
const byType = (attrs: Attribute[], type: string) => attrs.find((a) => a.type === type)?.values;

describe('Active Directory unicodePwd', () => {
  it('is the password in double quotes as UTF-16LE, no byte-order mark', () => {
    assert.deepEqual([...encodeUnicodePwd('ab')], [0x22, 0x00, 0x61, 0x00, 0x62, 0x00, 0x22, 0x00]);
    assert.equal(encodeUnicodePwd('').toString('hex'), '22002200');
    // Non-ASCII: é (U+00E9) and € (U+20AC) as their UTF-16LE code units; 😀 (U+1F600) as a surrogate pair.
    assert.equal(encodeUnicodePwd('é€').toString('hex'), '2200e900ac202200');
    assert.equal(encodeUnicodePwd('😀').toString('hex'), '22003dd800de2200');
    // A quote inside the password is just a character (AD strips only the outer pair).
    assert.equal(encodeUnicodePwd('a"b').toString('hex'), '22006100220062002200');
    const pw = 'Rotated-Pw-42!';
    assert.equal(encodeUnicodePwd(pw).length, (pw.length + 2) * 2);
  });

  it('an administrator reset replaces unicodePwd; a self change deletes the old value and adds the new', () => {
    const reset = passwordChanges(ad, 'New-Pw-1');
    assert.equal(reset.length, 1);
    assert.equal(reset[0]!.operation, 'replace');
    assert.equal(reset[0]!.modification.type, 'unicodePwd');
    assert.deepEqual(reset[0]!.modification.values, [encodeUnicodePwd('New-Pw-1')]);
    const self = passwordChanges(ad, 'New-Pw-1', 'Old-Pw-0');
    assert.deepEqual(self.map((c) => c.operation), ['delete', 'add']);
    assert.deepEqual(self[0]!.modification.values, [encodeUnicodePwd('Old-Pw-0')]);
    assert.deepEqual(self[1]!.modification.values, [encodeUnicodePwd('New-Pw-1')]);
  });

  it('OpenLDAP gets a userPassword replace with the UTF-8 text', () => {
    const c = passwordChanges(openldap, 'Nouveau-mot-de-passe-é');
    assert.equal(c[0]!.operation, 'replace');
    assert.equal(c[0]!.modification.type, 'userPassword');
    assert.deepEqual(c[0]!.modification.values, ['Nouveau-mot-de-passe-é']);
  });
});

describe('Active Directory userAccountControl', () => {
  it('disabling sets ACCOUNTDISABLE (2) and keeps every other bit', () => {
    assert.equal(UAC_ACCOUNTDISABLE, 2);
    assert.equal(disabledUserAccountControl(512), 514);
    assert.equal(disabledUserAccountControl(514), 514);
    assert.equal(disabledUserAccountControl(0x10200), 0x10202); // DONT_EXPIRE_PASSWORD kept
    const c = disableChanges(ad, 66048);
    assert.equal(c[0]!.modification.type, 'userAccountControl');
    assert.deepEqual(c[0]!.modification.values, ['66050']);
  });

  it('OpenLDAP locks through ppolicy, or scrambles the password when configured so', () => {
    const lock = disableChanges(openldap);
    assert.equal(lock[0]!.modification.type, 'pwdAccountLockedTime');
    assert.deepEqual(lock[0]!.modification.values, [PPOLICY_LOCKED_FOREVER]);
    const scramble = disableChanges(ldapSettings(cred({ url: 'ldap://127.0.0.1', disableMode: 'scramble' })));
    assert.equal(scramble[0]!.modification.type, 'userPassword');
    assert.match(String(scramble[0]!.modification.values[0]), /^[A-Za-z0-9_-]{43}$/);
  });

  it('a JIT entry in AD is a user with sAMAccountName, an encoded password and a normal, enabled account', () => {
    const attrs = jitAttributes(ad, 'ghjit-ab12', 'Jit-Pw-1');
    assert.deepEqual(byType(attrs, 'objectClass'), ['top', 'person', 'organizationalPerson', 'user']);
    assert.deepEqual(byType(attrs, 'sAMAccountName'), ['ghjit-ab12']);
    assert.deepEqual(byType(attrs, 'unicodePwd'), [encodeUnicodePwd('Jit-Pw-1')]);
    assert.deepEqual(byType(attrs, 'userAccountControl'), [String(UAC_NORMAL_ACCOUNT)]);
    assert.equal(byType(attrs, 'userPassword'), undefined);
    const ol = jitAttributes(openldap, 'ghjit-ab12', 'Jit-Pw-1');
    assert.deepEqual(byType(ol, 'objectClass'), ['inetOrgPerson']);
    assert.deepEqual(byType(ol, 'uid'), ['ghjit-ab12']);
    assert.deepEqual(byType(ol, 'userPassword'), ['Jit-Pw-1']);
  });
});
