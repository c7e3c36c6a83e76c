// Names in an LDAP directory (issue 12): RFC 4514 DN value escaping, RFC 4515 filter value
// escaping, DN parsing and containment, and the names the LDAP operator accepts, so that a name
// like `x)(uid=*` or `a,ou=admins` can neither widen a search nor move a target DN.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { OperatorCredential } from '../../src/core/accounts/operator.js';
import { OperatorError } from '../../src/core/accounts/operator.js';
import { bindName } from '../../src/protocols/targets/accounts/ldap.js';
import { jitDn } from '../../src/protocols/targets/accounts/ldap-directory.js';
import { childDn, escapeDnValue, escapeFilterValue, isDn, isDnUnder, jitNameProblem, lookupNameProblem, parseDn, sameDn } from '../../src/protocols/targets/accounts/ldap-names.js';
import { ldapSettings } from '../../src/protocols/targets/accounts/ldap-settings.js';

const cred = (username: string, fields: OperatorCredential['fields']): OperatorCredential => ({ secretId: 's', host: '127.0.0.1', port: 389, username, fields });

describe('RFC 4514 DN value escaping', () => {
  it('escapes the special characters, a leading space or #, a trailing space, and control characters', () => {
    assert.equal(escapeDnValue('a,ou=admins'), 'a\\,ou\\=admins');
    assert.equal(escapeDnValue('x)(uid=*'), 'x)(uid\\=*');
    assert.equal(escapeDnValue('a+cn=b'), 'a\\+cn\\=b');
    assert.equal(escapeDnValue('"q";<x>\\'), '\\"q\\"\\;\\<x\\>\\\\');
    assert.equal(escapeDnValue(' lead'), '\\ lead');
    assert.equal(escapeDnValue('#hash'), '\\#hash');
    assert.equal(escapeDnValue('mid # and space'), 'mid # and space');
    assert.equal(escapeDnValue('trail '), 'trail\\ ');
    assert.equal(escapeDnValue('nul\0line\nend'), 'nul\\00line\\0aend');
    assert.equal(escapeDnValue('Zoë'), 'Zoë');
  });

  it('an escaped value parses back to itself, as one RDN, whatever it holds', () => {
    for (const v of ['a,ou=admins', 'x)(uid=*', ' both ', '#x', 'a+b=c', 'back\\slash', 'q"uote', 'tab\there', 'Zoë 😀']) {
      const dn = childDn('uid', v, 'ou=jit,dc=gatehouse,dc=test');
      const rdns = parseDn(dn);
      assert.equal(rdns.length, 4, dn);
      assert.deepEqual(rdns[0], [{ type: 'uid', value: v }], dn);
      assert.ok(isDnUnder(dn, 'ou=jit,dc=gatehouse,dc=test'), dn);
    }
  });

  it('a JIT DN stays directly under the JIT OU', () => {
    const s = ldapSettings(cred('x', { url: 'ldap://127.0.0.1', jitOu: 'ou=jit,dc=gatehouse,dc=test' }));
    const dn = jitDn({ ...s, jitOu: s.jitOu! }, 'a,ou=admins');
    assert.equal(dn, 'uid=a\\,ou\\=admins,ou=jit,dc=gatehouse,dc=test');
    assert.equal(parseDn(dn).length, 4);
    assert.ok(!isDnUnder(dn, 'ou=admins,dc=gatehouse,dc=test'));
  });
});

describe('RFC 4515 filter value escaping', () => {
  it('escapes *, (, ), \\ and NUL as \\XX', () => {
    assert.equal(escapeFilterValue('x)(uid=*'), 'x\\29\\28uid=\\2a');
    assert.equal(escapeFilterValue('*'), '\\2a');
    assert.equal(escapeFilterValue('a\\b'), 'a\\5cb');
    assert.equal(escapeFilterValue('nul\0'), 'nul\\00');
    assert.equal(escapeFilterValue('*)(objectClass=*'), '\\2a\\29\\28objectClass=\\2a');
    assert.equal(escapeFilterValue('plain-name_1.x'), 'plain-name_1.x');
    assert.equal(escapeFilterValue('Zoë'), 'Zoë');
  });

  it('an escaped value leaves a filter with exactly its own parentheses', () => {
    for (const v of ['x)(uid=*', ')(|(objectClass=*', '((((', '\\29']) {
      const f = `(uid=${escapeFilterValue(v)})`;
      assert.equal(f.split('(').length - 1, 1, f);
      assert.equal(f.split(')').length - 1, 1, f);
      assert.ok(!/[^\\]\*/.test(f.slice(1, -1)), f);
    }
  });
});

describe('DN parsing', () => {
  it('reads RDNs, escapes, hex escapes and multi-valued RDNs', () => {
    assert.deepEqual(parseDn('uid=a\\2cb,ou=people,dc=x'), [[{ type: 'uid', value: 'a,b' }], [{ type: 'ou', value: 'people' }], [{ type: 'dc', value: 'x' }]]);
    assert.deepEqual(parseDn('cn=Zo\\C3\\AB+sn=X, ou=p'), [[{ type: 'cn', value: 'Zoë' }, { type: 'sn', value: 'X' }], [{ type: 'ou', value: 'p' }]]);
    assert.deepEqual(parseDn('1.2.3=#0401,dc=x')[0], [{ type: '1.2.3', value: '#0401' }]);
    assert.deepEqual(parseDn(''), []);
  });

  it('refuses what is not a DN', () => {
    for (const bad of ['a,ou=admins', 'x)(uid=*', 'uid=', 'uid=a,', '=a', 'uid=a;dc=x', 'uid=a<b', 'uid=a\\', 'uid=a\\zz', 'cn=admins\n,ou=groups', 'uid=a\u0000', 'not a dn']) {
      assert.equal(isDn(bad), false, JSON.stringify(bad));
    }
  });

  it('compares and contains case-insensitively, RDN by RDN', () => {
    assert.ok(sameDn('UID=Alice,OU=People,DC=X', 'uid=alice,ou=people,dc=x'));
    assert.ok(isDnUnder('cn=g,ou=groups,dc=x', 'OU=Groups,DC=x'));
    assert.ok(isDnUnder('ou=groups,dc=x', 'ou=groups,dc=x'));
    assert.ok(!isDnUnder('cn=g,ou=groups2,dc=x', 'ou=groups,dc=x'));
    assert.ok(!isDnUnder('dc=x', 'ou=groups,dc=x'));
    // An escaped comma is part of a value, not a level.
    assert.ok(!isDnUnder('cn=a\\,ou=groups,dc=y', 'ou=groups,dc=y'));
  });
});

describe('LDAP account names', () => {
  it('a JIT name (or prefix) is letters, digits, . _ - and starts with a letter or digit', () => {
    assert.equal(jitNameProblem('ghjit-a1b2c3'), null);
    assert.equal(jitNameProblem('gh_jit.x'), null);
    for (const bad of ['', 'a,ou=admins', 'x)(uid=*', '*', ' a', '-a', '.a', 'a b', 'a\nb', 'a;b', 'ä', 'a/b', 'a$(id)']) {
      assert.notEqual(jitNameProblem(bad), null, JSON.stringify(bad));
    }
    assert.notEqual(jitNameProblem('a'.repeat(65)), null);
    assert.notEqual(jitNameProblem('a'.repeat(21), 20), null, 'sAMAccountName length');
  });

  it('a lookup name may hold anything printable (it is escaped) but no control character', () => {
    assert.equal(lookupNameProblem('x)(uid=*'), null);
    assert.equal(lookupNameProblem('Zoë Doe'), null);
    assert.notEqual(lookupNameProblem(''), null);
    assert.notEqual(lookupNameProblem('a\nb'), null);
    assert.notEqual(lookupNameProblem('a'.repeat(257)), null);
  });

  it('the bind name: a DN as is, an AD UPN as is, else <userAttribute>=<escaped>,<baseDn>', () => {
    const base = { url: 'ldap://127.0.0.1', baseDn: 'ou=people,dc=x' };
    assert.equal(bindName(ldapSettings(cred('uid=a,ou=people,dc=x', base)), cred('uid=a,ou=people,dc=x', base)), 'uid=a,ou=people,dc=x');
    assert.equal(bindName(ldapSettings(cred('a', base)), cred('a', base)), 'uid=a,ou=people,dc=x');
    assert.equal(bindName(ldapSettings(cred('a,ou=admins', base)), cred('a,ou=admins', base)), 'uid=a\\,ou\\=admins,ou=people,dc=x');
    const ad = { ...base, directory: 'ad', url: 'ldaps://dc1' };
    assert.equal(bindName(ldapSettings(cred('jdoe@corp.test', ad)), cred('jdoe@corp.test', ad)), 'jdoe@corp.test');
    assert.equal(bindName(ldapSettings(cred('CORP\\jdoe', ad)), cred('CORP\\jdoe', ad)), 'CORP\\jdoe');
    assert.equal(bindName(ldapSettings(cred('jdoe', ad)), cred('jdoe', ad)), 'sAMAccountName=jdoe,ou=people,dc=x');
    assert.throws(() => bindName(ldapSettings(cred('a', { url: 'ldap://h' })), cred('a', { url: 'ldap://h' })), (e: unknown) => e instanceof OperatorError && e.failure === 'invalid');
  });
});

describe('LDAP settings from a secret\'s fields', () => {
  it('reads the URL, TLS mode, flavour and bases; refuses what would be unsafe or ambiguous', () => {
    const s = ldapSettings(cred('x', { url: 'ldaps://127.0.0.1:1636', baseDn: 'dc=x', directory: 'AD' }));
    assert.equal(s.url, 'ldaps://127.0.0.1:1636');
    assert.equal(s.secure, 'ldaps');
    assert.equal(s.directory, 'ad');
    assert.equal(s.userAttribute, 'sAMAccountName');
    assert.equal(ldapSettings(cred('x', { url: 'ldap://127.0.0.1', startTls: 'true' })).secure, 'starttls');
    assert.equal(ldapSettings(cred('x', { url: 'ldap://127.0.0.1' })).url, 'ldap://127.0.0.1:389');
    assert.equal(ldapSettings({ ...cred('x', {}), port: 636 }).secure, 'ldaps');
    const refused = (fields: OperatorCredential['fields']) =>
      assert.throws(() => ldapSettings(cred('x', fields)), (e: unknown) => e instanceof OperatorError && e.failure === 'invalid', JSON.stringify(fields));
    refused({ url: 'http://127.0.0.1' });
    refused({ url: 'ldap://127.0.0.1/dc=x??sub?(uid=*)' });
    refused({ url: 'ldaps://127.0.0.1', startTls: 'true' });
    refused({ url: 'ldap://127.0.0.1', startTls: 'maybe' });
    refused({ url: 'ldap://127.0.0.1', baseDn: 'not a dn' });
    refused({ url: 'ldap://127.0.0.1', directory: 'novell' });
    refused({ url: 'ldap://127.0.0.1', userAttribute: 'uid)(x=*' });
    refused({ url: 'ldap://127.0.0.1', memberAttribute: 'owner' });
    refused({ url: 'ldap://127.0.0.1', timeoutMs: 'soon' });
    refused({ url: 'ldap://127.0.0.1', caFile: '/nonexistent/ca.pem' });
  });
});
