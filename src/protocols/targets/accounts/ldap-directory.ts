// The LDAP writes for each account operation, per directory flavour (OpenLDAP and the like,
// or Active Directory): which attribute holds the password and how it is encoded, what a
// just-in-time entry looks like, how an account is locked, what a group's member value is.
// Builders only (no connection), so the exact requests are unit-tested.
import { randomBytes } from 'node:crypto';
import { Attribute, Change } from 'ldapts';
import { childDn } from './ldap-names.js';
import { disabledUserAccountControl, encodeUnicodePwd, UAC_NORMAL_ACCOUNT } from './ldap-ad.js';
import type { LdapSettings } from './ldap-settings.js';

/** "Locked by an administrator until unlocked" for the OpenLDAP ppolicy overlay. */
export const PPOLICY_LOCKED_FOREVER = '000001010000Z';

/** The modification that sets a password. `oldPassword` given: the account changes its own
 *  (AD wants the old value deleted and the new added; OpenLDAP takes a replace either way). */
export function passwordChanges(s: LdapSettings, newPassword: string, oldPassword?: string): Change[] {
  if (s.directory === 'ad') {
    const value = (p: string) => new Attribute({ type: 'unicodePwd', values: [encodeUnicodePwd(p)] });
    if (oldPassword !== undefined) {
      return [new Change({ operation: 'delete', modification: value(oldPassword) }), new Change({ operation: 'add', modification: value(newPassword) })];
    }
    return [new Change({ operation: 'replace', modification: value(newPassword) })];
  }
  return [new Change({ operation: 'replace', modification: new Attribute({ type: 'userPassword', values: [newPassword] }) })];
}

/** The DN of a just-in-time account (always directly under the JIT OU, the name escaped). */
export function jitDn(s: LdapSettings & { jitOu: string }, name: string): string {
  return childDn(s.rdnAttribute, name, s.jitOu);
}

/** The attributes of a new just-in-time entry. */
export function jitAttributes(s: LdapSettings, name: string, password: string): Attribute[] {
  const a = (type: string, ...values: string[]) => new Attribute({ type, values });
  const description = a('description', 'Gatehouse just-in-time account');
  if (s.directory === 'ad') {
    return [
      a('objectClass', 'top', 'person', 'organizationalPerson', 'user'),
      a('cn', name),
      a('sAMAccountName', name),
      description,
      new Attribute({ type: 'unicodePwd', values: [encodeUnicodePwd(password)] }),
      a('userAccountControl', String(UAC_NORMAL_ACCOUNT)),
    ];
  }
  const attrs = [a('objectClass', 'inetOrgPerson'), a('cn', name), a('sn', name), description, a('userPassword', password)];
  if (s.rdnAttribute.toLowerCase() !== 'cn') attrs.push(a(s.rdnAttribute, name));
  if (s.userAttribute.toLowerCase() !== s.rdnAttribute.toLowerCase() && s.userAttribute.toLowerCase() !== 'cn') attrs.push(a(s.userAttribute, name));
  return attrs;
}

/** The modification that disables an account. AD: `currentUac` is its userAccountControl now. */
export function disableChanges(s: LdapSettings, currentUac?: number): Change[] {
  if (s.directory === 'ad') {
    const uac = disabledUserAccountControl(currentUac ?? UAC_NORMAL_ACCOUNT);
    return [new Change({ operation: 'replace', modification: new Attribute({ type: 'userAccountControl', values: [String(uac)] }) })];
  }
  if (s.disableMode === 'scramble') {
    // No ppolicy overlay: a random password nobody knows (hashed by the server if it hashes).
    return [new Change({ operation: 'replace', modification: new Attribute({ type: 'userPassword', values: [randomBytes(32).toString('base64url')] }) })];
  }
  return [new Change({ operation: 'replace', modification: new Attribute({ type: 'pwdAccountLockedTime', values: [PPOLICY_LOCKED_FOREVER] }) })];
}

/** The value a group holds for a member: its DN, or its name for posixGroup's memberUid. */
export function memberValue(s: LdapSettings, account: { dn: string; name: string }): string {
  return s.memberAttribute === 'memberUid' ? account.name : account.dn;
}

export function memberChange(s: LdapSettings, operation: 'add' | 'delete', value: string): Change {
  return new Change({ operation, modification: new Attribute({ type: s.memberAttribute, values: [value] }) });
}
