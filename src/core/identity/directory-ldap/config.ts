// The LDAP / Active Directory directory's settings: their shape, defaults (OpenLDAP-friendly;
// docs/identity.md gives the Active Directory values) and checks. The bind password is never
// here: `bindSecretId` names a vault secret whose `bindSecretField` holds it.
import { isAbsolute } from 'node:path';
import { badRequest } from '../../errors.js';

export type LdapSecurity = 'ldaps' | 'starttls' | 'none';

export interface GroupMapping {
  /** DN of the directory group (members of it, directly or through nested groups). */
  ldapGroup: string;
  /** Name of the Gatehouse group they are put in. */
  group: string;
}

export interface LdapConfig {
  enabled: boolean;
  /** ldap://host:port or ldaps://host:port. */
  url: string;
  security: LdapSecurity;
  /** PEM file of the CA(s) the server's certificate must chain to; null: the system's. */
  caFile: string | null;
  bindDn: string;
  bindSecretId: string | null;
  bindSecretField: string;
  userBaseDn: string;
  userFilter: string;
  usernameAttribute: string;
  displayNameAttribute: string;
  emailAttribute: string;
  /** Users matching it (and userFilter) are disabled in the directory. */
  disabledFilter: string;
  groupBaseDn: string;
  groupFilter: string;
  memberAttribute: string;
  groupMappings: GroupMapping[];
  timeoutSeconds: number;
}

export const DEFAULT_LDAP_CONFIG: LdapConfig = {
  enabled: false,
  url: '',
  security: 'starttls',
  caFile: null,
  bindDn: '',
  bindSecretId: null,
  bindSecretField: 'password',
  userBaseDn: '',
  userFilter: '(objectClass=inetOrgPerson)',
  usernameAttribute: 'uid',
  displayNameAttribute: 'cn',
  emailAttribute: 'mail',
  disabledFilter: '(pwdAccountLockedTime=*)',
  groupBaseDn: '',
  groupFilter: '(|(objectClass=groupOfNames)(objectClass=group))',
  memberAttribute: 'member',
  groupMappings: [],
  timeoutSeconds: 10,
};

const ATTRIBUTE = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;
const URL_RE = /^(ldaps?):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})(:\d{1,5})?\/?$/;

/** A filter as the directory needs it: in parentheses, with balanced ones (no unescaped NUL). */
function checkFilter(name: string, f: string): void {
  let depth = 0;
  for (const c of f) {
    if (c === '(') depth++;
    else if (c === ')' && --depth < 0) break;
  }
  if (!f.startsWith('(') || !f.endsWith(')') || depth !== 0 || f.includes('\0')) throw badRequest(`${name} must be an LDAP filter in parentheses, e.g. (objectClass=person)`, 'invalid_ldap_config');
}

/** The settings merged over the current ones and checked; throws 400 invalid_ldap_config. */
export function checkConfig(current: LdapConfig, input: Partial<LdapConfig>): LdapConfig {
  const c: LdapConfig = { ...current, ...input };
  const bad = (m: string) => badRequest(m, 'invalid_ldap_config');
  if (c.url !== '') {
    const m = URL_RE.exec(c.url);
    if (!m) throw bad('url must be ldap://host[:port] or ldaps://host[:port]');
    if (c.security === 'ldaps' && m[1] !== 'ldaps') throw bad('security "ldaps" needs an ldaps:// url');
    if (c.security !== 'ldaps' && m[1] === 'ldaps') throw bad('an ldaps:// url needs security "ldaps"');
  }
  if (c.caFile !== null && (!isAbsolute(c.caFile) || c.caFile.includes('\0'))) throw bad('caFile must be an absolute path to a PEM file, or null');
  for (const k of ['usernameAttribute', 'displayNameAttribute', 'emailAttribute', 'memberAttribute'] as const) if (!ATTRIBUTE.test(c[k])) throw bad(`${k} must be an attribute name`);
  for (const k of ['userFilter', 'disabledFilter', 'groupFilter'] as const) checkFilter(k, c[k]);
  const dnKeys = ['bindDn', 'userBaseDn', 'groupBaseDn'] as const;
  for (const k of dnKeys) if (c[k] !== '' && !c[k].includes('=')) throw bad(`${k} must be a DN (e.g. ou=people,dc=example,dc=com)`);
  for (const m of c.groupMappings) if (!m.ldapGroup.includes('=')) throw bad('each groupMappings.ldapGroup must be a group DN');
  if (c.enabled) {
    const missing = (['url', 'bindDn', 'userBaseDn', 'groupBaseDn'] as const).filter((k) => c[k] === '');
    if (!c.bindSecretId) missing.push('bindSecretId' as never);
    if (missing.length) throw bad(`an enabled directory needs ${missing.join(', ')}`);
  }
  return c;
}
