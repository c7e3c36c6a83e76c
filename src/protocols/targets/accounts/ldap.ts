// The account operator for LDAP directories (issue 12): OpenLDAP and the like, and Active
// Directory through the same LDAP operations (fields.directory = 'ad'). Verifies a password by
// binding as the account; changes it with the management bind (or the account's own bind);
// creates just-in-time entries under the configured JIT OU, puts accounts in and out of groups,
// locks and removes JIT entries, lists them for the sweeper. Names only reach a DN or a filter
// escaped (ldap-names.ts); a JIT account can only be made, locked or removed directly under
// the JIT OU, so Gatehouse never deletes or locks a directory account it did not create.
// Handed to the core by server.ts as `ldapAccountOperator`.
import type { Client, Entry } from 'ldapts';
import {
  OperatorError,
  type AccountOperator,
  type JitAccountSpec,
  type OperatorCredential,
} from '../../../core/broker.js';
import { AD_SAM_MAX } from './ldap-ad.js';
import { operatorError, resultCode, withBind } from './ldap-connection.js';
import { disableChanges, jitAttributes, jitDn, memberChange, memberValue, passwordChanges } from './ldap-directory.js';
import { childDn, escapeFilterValue, isDn, isDnUnder, jitNameProblem, lookupNameProblem } from './ldap-names.js';
import { ldapSettings, type LdapSettings } from './ldap-settings.js';

const invalid = (message: string) => new OperatorError('invalid', message);

/** The DN an account binds with: fields.bindDn, a username that is a DN, an AD UPN or
 *  DOMAIN\name as is, or `<userAttribute>=<name>,<baseDn>`. */
export function bindName(s: LdapSettings, account: OperatorCredential): string {
  if (s.bindDn) return s.bindDn;
  const name = account.username;
  const problem = lookupNameProblem(name);
  if (problem) throw invalid(`account name: ${problem}`);
  if (name.includes('=') && isDn(name)) return name;
  if (s.directory === 'ad' && /^[^\s@\\]+@[^\s@\\]+$|^[^\s@\\]+\\[^\s@\\]+$/.test(name)) return name;
  if (!s.baseDn) throw invalid('LDAP settings: the account name is not a DN and there is no baseDn');
  return childDn(s.userAttribute, name, s.baseDn);
}

function requireEncrypted(s: LdapSettings, what: string): void {
  if (s.directory === 'ad' && s.secure === 'none') {
    throw invalid(`${what}: Active Directory takes passwords over an encrypted connection only (ldaps:// or startTls), not plain ldap://`);
  }
}

function requireJitOu(s: LdapSettings): LdapSettings & { jitOu: string } {
  if (!s.jitOu) throw invalid('LDAP settings: no jitOu for just-in-time accounts');
  return s as LdapSettings & { jitOu: string };
}

function checkJitName(s: LdapSettings, name: string): void {
  const problem = jitNameProblem(name, s.directory === 'ad' ? AD_SAM_MAX : 64);
  if (problem) throw invalid(`account name: ${problem}`);
}

/** Group DNs as given: well-formed and, when groupsDn (else baseDn) is set, under it. */
function checkGroups(s: LdapSettings, groups: string[]): void {
  if (!Array.isArray(groups)) throw invalid('groups: a list of group DNs is expected');
  const base = s.groupsDn ?? s.baseDn;
  for (const g of groups) {
    if (typeof g !== 'string' || !g.includes('=') || !isDn(g)) throw invalid('groups: not a DN');
    if (base && !isDnUnder(g, base)) throw invalid('groups: a group lies outside the configured groupsDn');
  }
}

const firstValue = (e: Entry, attr: string): string | undefined => {
  const key = Object.keys(e).find((k) => k.toLowerCase() === attr.toLowerCase());
  const v = key ? e[key] : undefined;
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
};

/** An existing account by name (escaped into an equality filter) or by DN (under baseDn or jitOu). */
async function findAccount(client: Client, s: LdapSettings, name: string): Promise<{ dn: string; name: string }> {
  const problem = lookupNameProblem(name);
  if (problem) throw invalid(`account name: ${problem}`);
  const bases = [s.baseDn, s.jitOu].filter((b): b is string => !!b);
  if (bases.length === 0) throw invalid('LDAP settings: no baseDn to look accounts up in');
  if (name.includes('=') && isDn(name)) {
    if (!bases.some((b) => isDnUnder(name, b))) throw invalid('account: the DN lies outside the configured baseDn and jitOu');
    const found = await search(client, name, 'base', '(objectClass=*)', [s.userAttribute], 'look up account');
    if (found.length !== 1) throw invalid('account: no such entry');
    return { dn: found[0]!.dn, name: firstValue(found[0]!, s.userAttribute) ?? name };
  }
  const filter = `(${s.userAttribute}=${escapeFilterValue(name)})`;
  const seen = new Map<string, Entry>();
  for (const base of bases) {
    for (const e of await search(client, base, 'sub', filter, [s.userAttribute], 'look up account')) seen.set(e.dn.toLowerCase(), e);
  }
  if (seen.size === 0) throw invalid('account: no such entry');
  if (seen.size > 1) throw invalid('account: the name matches more than one entry');
  const e = [...seen.values()][0]!;
  return { dn: e.dn, name: firstValue(e, s.userAttribute) ?? name };
}

async function search(client: Client, base: string, scope: 'base' | 'one' | 'sub', filter: string, attributes: string[], what: string): Promise<Entry[]> {
  try {
    const r = await client.search(base, { scope, filter, attributes, sizeLimit: 1000 });
    return r.searchEntries;
  } catch (e) {
    if (resultCode(e) === 32) return [];
    throw operatorError(e, what);
  }
}

/** Every group must exist before any membership changes (all or nothing for bad input). */
async function checkGroupsExist(client: Client, groups: string[]): Promise<void> {
  for (const g of groups) {
    const found = await search(client, g, 'base', '(objectClass=*)', ['1.1'], 'look up group');
    if (found.length !== 1) throw invalid('groups: a group does not exist');
  }
}

/** Which of the groups list the account as a member already (a base search per group with an equality filter: no member list is read). */
async function memberOf(client: Client, s: LdapSettings, account: { dn: string; name: string }, groups: string[]): Promise<string[]> {
  const filter = `(${s.memberAttribute}=${escapeFilterValue(memberValue(s, account))})`;
  const already: string[] = [];
  for (const g of groups) if ((await search(client, g, 'base', filter, ['1.1'], 'look up group')).length) already.push(g);
  return already;
}

async function changeMembership(client: Client, s: LdapSettings, account: { dn: string; name: string }, groups: string[], op: 'add' | 'delete'): Promise<void> {
  const value = memberValue(s, account);
  for (const g of groups) {
    try {
      await client.modify(g, memberChange(s, op, value));
    } catch (e) {
      const code = resultCode(e);
      // Already a member (add) / not a member (delete): idempotent.
      if (op === 'add' && code === 20) continue;
      if (op === 'delete' && code === 16) continue;
      if (code === 32) throw invalid('groups: a group does not exist');
      throw operatorError(e, op === 'add' ? 'add to group' : 'remove from group');
    }
  }
}

/** Management-side work: bind with the management secret against its directory settings. */
function asManagement<T>(management: OperatorCredential, fn: (client: Client, s: LdapSettings) => Promise<T>): Promise<T> {
  const s = ldapSettings(management);
  return withBind(s, bindName(s, management), management.password ?? '', 'management', (client) => fn(client, s));
}

export class LdapAccountOperator implements AccountOperator {
  readonly kind = 'ldap' as const;

  async verify(account: OperatorCredential, password: string): Promise<'ok' | 'refused'> {
    const s = ldapSettings(account);
    const dn = bindName(s, account);
    if (!password) return 'refused';
    try {
      await withBind(s, dn, password, 'verify', async () => undefined);
      return 'ok';
    } catch (e) {
      if (e instanceof OperatorError && e.failure === 'refused') return 'refused';
      throw operatorError(e, 'verify');
    }
  }

  async changePassword(account: OperatorCredential, management: OperatorCredential | null, newPassword: string): Promise<void> {
    if (!newPassword) throw invalid('change password: the new password is empty');
    const own = ldapSettings(account);
    const dn = bindName(own, account);
    if (management) {
      const s = ldapSettings(management);
      requireEncrypted(s, 'change password');
      await withBind(s, bindName(s, management), management.password ?? '', 'management', async (client) => {
        try {
          await client.modify(dn, passwordChanges(s, newPassword));
        } catch (e) {
          throw operatorError(e, 'change password');
        }
      });
      return;
    }
    requireEncrypted(own, 'change password');
    const old = account.password ?? '';
    await withBind(own, dn, old, 'account', async (client) => {
      try {
        await client.modify(dn, passwordChanges(own, newPassword, old));
      } catch (e) {
        throw operatorError(e, 'change password');
      }
    });
  }

  async createAccount(management: OperatorCredential, spec: JitAccountSpec): Promise<void> {
    const s = requireJitOu(ldapSettings(management));
    checkJitName(s, spec.name);
    if (!spec.password) throw invalid('create account: the password is empty');
    checkGroups(s, spec.groups);
    requireEncrypted(s, 'create account');
    await asManagement(management, async (client) => {
      await checkGroupsExist(client, spec.groups);
      const dn = jitDn(s, spec.name);
      try {
        await client.add(dn, jitAttributes(s, spec.name, spec.password));
      } catch (e) {
        if (resultCode(e) === 68) throw invalid('create account: an account of that name exists already');
        throw operatorError(e, 'create account');
      }
      try {
        await changeMembership(client, s, { dn, name: spec.name }, spec.groups, 'add');
      } catch (e) {
        // Leave nothing half made behind: the entry goes if its groups cannot be set.
        await client.del(dn).catch(() => undefined);
        throw e;
      }
    });
  }

  async disableAccount(management: OperatorCredential, name: string): Promise<void> {
    const s = requireJitOu(ldapSettings(management));
    checkJitName(s, name);
    await asManagement(management, async (client) => {
      const dn = jitDn(s, name);
      let uac: number | undefined;
      if (s.directory === 'ad') {
        const found = await search(client, dn, 'base', '(objectClass=*)', ['userAccountControl'], 'disable account');
        if (found.length !== 1) throw invalid('disable account: no such entry');
        uac = Number(firstValue(found[0]!, 'userAccountControl') ?? NaN);
        if (!Number.isInteger(uac)) uac = undefined;
      }
      try {
        await client.modify(dn, disableChanges(s, uac));
      } catch (e) {
        if (resultCode(e) === 17) throw invalid('disable account: the directory does not know pwdAccountLockedTime (load the ppolicy overlay, or set disableMode to scramble)');
        throw operatorError(e, 'disable account');
      }
    });
  }

  async removeAccount(management: OperatorCredential, name: string): Promise<void> {
    const s = requireJitOu(ldapSettings(management));
    checkJitName(s, name);
    await asManagement(management, async (client) => {
      const dn = jitDn(s, name);
      const exists = await search(client, dn, 'base', '(objectClass=*)', ['1.1'], 'remove account');
      if (exists.length === 0) return;
      // Directories without referential integrity keep a deleted member's DN in its groups:
      // take it out first (best effort: a group it is the last member of keeps it).
      const value = memberValue(s, { dn, name });
      const groupBase = s.groupsDn ?? s.baseDn;
      if (groupBase) {
        const filter = `(${s.memberAttribute}=${escapeFilterValue(value)})`;
        for (const g of await search(client, groupBase, 'sub', filter, ['1.1'], 'remove account')) {
          await client.modify(g.dn, memberChange(s, 'delete', value)).catch(() => undefined);
        }
      }
      try {
        await client.del(dn);
      } catch (e) {
        if (resultCode(e) === 32) return;
        throw operatorError(e, 'remove account');
      }
    });
  }

  async addToGroups(management: OperatorCredential, name: string, groups: string[], _sudoers?: unknown, before?: (alreadyIn: string[]) => Promise<void>): Promise<void> {
    const s = ldapSettings(management);
    checkGroups(s, groups);
    await asManagement(management, async (client) => {
      await checkGroupsExist(client, groups);
      const account = await findAccount(client, s, name);
      if (before) await before(await memberOf(client, s, account, groups));
      await changeMembership(client, s, account, groups, 'add');
    });
  }

  async removeFromGroups(management: OperatorCredential, name: string, groups: string[]): Promise<void> {
    const s = ldapSettings(management);
    checkGroups(s, groups);
    await asManagement(management, async (client) => {
      await checkGroupsExist(client, groups);
      await changeMembership(client, s, await findAccount(client, s, name), groups, 'delete');
    });
  }

  async listAccounts(management: OperatorCredential, prefix: string): Promise<string[]> {
    const s = requireJitOu(ldapSettings(management));
    checkJitName(s, prefix);
    return asManagement(management, async (client) => {
      const filter = `(${s.userAttribute}=${escapeFilterValue(prefix)}*)`;
      const names = (await search(client, s.jitOu, 'one', filter, [s.userAttribute], 'list accounts'))
        .map((e) => firstValue(e, s.userAttribute))
        .filter((n): n is string => typeof n === 'string' && n.startsWith(prefix));
      return [...new Set(names)].sort();
    });
  }
}

/** The operator server.ts hands to the core for targets of kind 'ldap'. */
export const ldapAccountOperator: AccountOperator = new LdapAccountOperator();
