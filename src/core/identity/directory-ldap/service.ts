// The LDAP / Active Directory directory as a source of Gatehouse users (issue 15 point 2):
// its settings, a connection test, password checks by binding as the user (the sign-in paths
// call in through Auth's PasswordSource), first sign-in provisioning, and the sync of users and
// groups — on demand and on a schedule (startLdapSync). Rules kept here:
// - a directory user is a Gatehouse user with an ldap_users row; a local account of the same
//   name is never taken over (reported as a conflict);
// - a user disabled in the directory (disabledFilter) or gone from it is disabled at the next
//   sync, and their live sessions are terminated when ldapTerminateSessionsOnDisable is on; a
//   sync re-enables only the users it disabled itself;
// - membership of the mapped Gatehouse groups follows the directory groups, nested ones
//   included, for directory users only (local members of those groups are left alone);
// - the service account's password comes from the vault at each use and is never stored,
//   logged or answered.
import type { Client, Entry } from 'ldapts';
import type { Store } from '../../../store/db.js';
import type { User } from '../../../store/schema.js';
import { SYSTEM, type Actor, type AuditService } from '../../audit/service.js';
import { AppError, badRequest } from '../../errors.js';
import type { SettingsService } from '../../settings.js';
import { now, parseJson } from '../../util.js';
import type { Directory } from '../directory.js';
import type { Principal } from '../principal.js';
import type { PasswordCheck, PasswordSource } from '../auth.js';
import { checkConfig, DEFAULT_LDAP_CONFIG, type LdapConfig } from './config.js';
import { canBind, close, searchAll, serviceClient, values } from './connection.js';
import { escapeFilterValue, normalDn } from './names.js';

const ROW = 'default';
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export interface SyncResult {
  at: string;
  ok: boolean;
  error: string | null;
  users: number;
  created: string[];
  disabled: string[];
  enabled: string[];
  /** Names the directory has that belong to local accounts (left alone). */
  conflicts: string[];
  /** Names Gatehouse cannot take as user names (left out). */
  skipped: string[];
  groupChanges: number;
  terminatedSessions: number;
  /** Mappings to a Gatehouse group that does not exist. */
  unknownGroups: string[];
}

export interface TestResult {
  ok: boolean;
  message: string;
  users: number | null;
  groups: number | null;
}

export interface LdapStatus {
  config: LdapConfig;
  lastSyncAt: string | null;
  lastSync: SyncResult | null;
}

/** What the directory needs of the rest of the core (wired in core.ts). */
export interface LdapDeps {
  store: Store;
  dir: Directory;
  audit: AuditService;
  settings: SettingsService;
  /** The value of a vault secret's field, for the service bind. */
  secretField(secretId: string, field: string): Promise<string | null>;
  /** Checks the caller may view a vault secret (throws otherwise). */
  canViewSecret(p: Principal, secretId: string): Promise<void>;
  /** Terminates a user's live sessions; answers how many. */
  terminateSessionsOf(userId: string, reason: string): Promise<number>;
}

interface DirEntry {
  dn: string;
  username: string;
  displayName: string;
  email: string | null;
  disabled: boolean;
}

export class LdapDirectory implements PasswordSource {
  constructor(private readonly d: LdapDeps) {}
  private syncing: Promise<SyncResult> | null = null;

  private get db() {
    return this.d.store.db;
  }

  async config(): Promise<LdapConfig> {
    const row = await this.db.selectFrom('ldapDirectory').select('config').where('id', '=', ROW).executeTakeFirst();
    return { ...DEFAULT_LDAP_CONFIG, ...parseJson<Partial<LdapConfig>>(row?.config ?? null, {}) };
  }

  async status(): Promise<LdapStatus> {
    const row = await this.db.selectFrom('ldapDirectory').selectAll().where('id', '=', ROW).executeTakeFirst();
    return { config: await this.config(), lastSyncAt: row?.lastSyncAt ? new Date(row.lastSyncAt).toISOString() : null, lastSync: parseJson<SyncResult | null>(row?.lastSyncResult ?? null, null) };
  }

  async save(p: Principal, input: Partial<LdapConfig>): Promise<LdapStatus> {
    const before = await this.config();
    const c = checkConfig(before, input);
    await this.checkMappedGroups(input);
    // Naming a secret sends its value to the configured server: the caller must be able to see it.
    // (also when only the server changes: the password would go to the new one).
    if (c.bindSecretId && (c.bindSecretId !== before.bindSecretId || c.url !== before.url || c.security !== before.security)) await this.d.canViewSecret(p, c.bindSecretId);
    const json = JSON.stringify(c);
    const t = now();
    const have = await this.db.selectFrom('ldapDirectory').select('id').where('id', '=', ROW).executeTakeFirst();
    if (have) await this.db.updateTable('ldapDirectory').set({ config: json, updatedAt: t }).where('id', '=', ROW).execute();
    else await this.db.insertInto('ldapDirectory').values({ id: ROW, config: json, updatedAt: t, lastSyncAt: null, lastSyncResult: null }).execute();
    const changed = (Object.keys(c) as (keyof LdapConfig)[]).filter((k) => JSON.stringify(c[k]) !== JSON.stringify(before[k]));
    await this.d.audit.record({ id: p.userId, name: p.username, ip: p.ip }, { action: 'ldap.configure', target: { type: 'directory', id: 'ldap' }, details: { changed, enabled: c.enabled, url: c.url, security: c.security } });
    return this.status();
  }

  /** A service-bound client on the configured directory. */
  private async bound(c: LdapConfig): Promise<Client> {
    if (!c.bindSecretId) throw new AppError(409, 'directory_not_configured', 'the LDAP directory has no bind credential (bindSecretId)');
    const password = await this.d.secretField(c.bindSecretId, c.bindSecretField);
    if (!password) throw new AppError(409, 'directory_not_configured', `the vault secret named by bindSecretId has no "${c.bindSecretField}" field`);
    return serviceClient(c, password);
  }

  /** Connects, binds as the service account and counts users and groups; never throws for the directory's faults. */
  async test(actor: Actor): Promise<TestResult> {
    const c = await this.config();
    let result: TestResult;
    try {
      if (!c.url) throw new AppError(409, 'directory_not_configured', 'the LDAP directory has no url');
      const client = await this.bound(c);
      try {
        const users = await searchAll(client, c.userBaseDn, c.userFilter, ['dn']);
        const groups = await searchAll(client, c.groupBaseDn, c.groupFilter, ['dn']);
        result = { ok: true, message: `connected (${c.security}) and bound as the service account`, users: users.length, groups: groups.length };
      } finally {
        await close(client);
      }
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      result = { ok: false, message: e.message, users: null, groups: null };
    }
    await this.d.audit.record(actor, { action: 'ldap.test', outcome: result.ok ? 'success' : 'failure', target: { type: 'directory', id: 'ldap' }, details: { message: result.message } });
    return result;
  }

  private entryOf(c: LdapConfig, e: Entry, disabled: Set<string>): DirEntry | null {
    const username = values(e, c.usernameAttribute)[0];
    if (!username) return null;
    return { dn: e.dn, username, displayName: values(e, c.displayNameAttribute)[0] ?? username, email: values(e, c.emailAttribute)[0] ?? null, disabled: disabled.has(normalDn(e.dn)) };
  }

  private attrs(c: LdapConfig): string[] {
    return [c.usernameAttribute, c.displayNameAttribute, c.emailAttribute];
  }

  /** The one directory entry with this user name (escaped into the filter), or null. */
  private async findUser(client: Client, c: LdapConfig, username: string): Promise<DirEntry | null> {
    const eq = `(${c.usernameAttribute}=${escapeFilterValue(username)})`;
    const found = await searchAll(client, c.userBaseDn, `(&${c.userFilter}${eq})`, this.attrs(c));
    // Not exactly one (none, or an ambiguous name): nobody signs in as it.
    if (found.length !== 1) return null;
    const off = await searchAll(client, c.userBaseDn, `(&${c.userFilter}${eq}${c.disabledFilter})`, ['dn']);
    const e = this.entryOf(c, found[0]!, new Set(off.map((x) => normalDn(x.dn))));
    // The attribute matched case-insensitively; the Gatehouse name is the one asked for only when equal.
    return e && e.username.toLowerCase() === username.toLowerCase() ? e : null;
  }

  // ---- PasswordSource (Auth)

  async enabled(): Promise<boolean> {
    return (await this.config()).enabled;
  }

  async owns(user: User): Promise<boolean> {
    return !!(await this.db.selectFrom('ldapUsers').select('userId').where('userId', '=', user.id).executeTakeFirst());
  }

  async check(user: User, password: string): Promise<PasswordCheck> {
    const c = await this.config();
    // A directory user while the directory is off: no password works (there is no local one).
    if (!c.enabled) return 'wrong';
    const client = await this.bound(c);
    let entry: DirEntry | null;
    try {
      entry = await this.findUser(client, c, user.username);
    } finally {
      await close(client);
    }
    if (!entry) return 'wrong';
    // Disabled in the directory: disabled here at once (no need to wait for the sync). Whether
    // the answer says so depends on the password, as for a local account.
    if (entry.disabled) await this.disable(user.id, user.username, 'disabled in the directory (seen at sign-in)', c);
    if (!(await canBind(c, entry.dn, password))) return 'wrong';
    return entry.disabled ? 'disabled' : 'ok';
  }

  /** First sign-in of a directory user Gatehouse does not know yet: bind, then create them (with their mapped groups). */
  async provision(username: string, password: string, ip: string | null): Promise<User | 'wrong' | null> {
    const c = await this.config();
    if (!c.enabled) return null;
    const client = await this.bound(c);
    try {
      const entry = await this.findUser(client, c, username);
      if (!entry) return null;
      if (entry.disabled || !(await canBind(c, entry.dn, password))) return 'wrong';
      // Not a name Gatehouse takes, or the name typed in another case than an existing user's.
      if (!USERNAME.test(entry.username) || (await this.d.dir.userByName(entry.username))) return 'wrong';
      const groups = await this.groupGraph(client, c);
      const user = await this.create(entry, ip);
      await this.applyMappings(c, groups, new Map([[user.id, normalDn(entry.dn)]]), false);
      return this.d.dir.userRow(user.id);
    } finally {
      await close(client);
    }
  }

  private async create(e: DirEntry, ip: string | null = null): Promise<User> {
    // No role of its own: what a directory user may do comes from the mapped groups' roles.
    const view = await this.d.dir.createUser({ ...SYSTEM, ip }, { username: e.username, displayName: e.displayName.slice(0, 128), email: e.email, roles: [], enabled: !e.disabled });
    await this.db.insertInto('ldapUsers').values({ userId: view.id, dn: e.dn, disabledBySync: e.disabled ? 1 : 0, lastSeenAt: now() }).execute();
    await this.d.audit.record({ ...SYSTEM, ip }, { action: 'ldap.user_provisioned', target: { type: 'user', id: view.id }, details: { username: e.username, dn: e.dn } });
    return this.d.dir.userRow(view.id);
  }

  // ---- sync

  /** Runs a sync (one at a time: a second call while one runs gets the same result). */
  sync(actor: Actor = SYSTEM): Promise<SyncResult> {
    if (!this.syncing) this.syncing = this.runSync(actor).finally(() => (this.syncing = null));
    return this.syncing;
  }

  private async runSync(actor: Actor): Promise<SyncResult> {
    const c = await this.config();
    const r: SyncResult = { at: new Date().toISOString(), ok: true, error: null, users: 0, created: [], disabled: [], enabled: [], conflicts: [], skipped: [], groupChanges: 0, terminatedSessions: 0, unknownGroups: [] };
    try {
      if (!c.enabled) throw new AppError(409, 'directory_disabled', 'the LDAP directory is not enabled');
      const client = await this.bound(c);
      let entries: DirEntry[];
      let groups: Map<string, Set<string>>;
      try {
        const off = new Set((await searchAll(client, c.userBaseDn, `(&${c.userFilter}${c.disabledFilter})`, ['dn'])).map((x) => normalDn(x.dn)));
        entries = (await searchAll(client, c.userBaseDn, c.userFilter, this.attrs(c))).map((e) => this.entryOf(c, e, off)).filter((e): e is DirEntry => e !== null);
        groups = await this.groupGraph(client, c);
      } finally {
        await close(client);
      }
      r.users = entries.length;
      const linked = new Map((await this.db.selectFrom('ldapUsers').innerJoin('users', 'users.id', 'ldapUsers.userId').select(['ldapUsers.userId', 'ldapUsers.disabledBySync', 'users.username', 'users.enabled']).execute()).map((x) => [x.username.toLowerCase(), x]));
      const seen = new Map<string, string>();
      for (const e of entries) {
        if (!USERNAME.test(e.username)) {
          r.skipped.push(e.username.slice(0, 64));
          continue;
        }
        const have = linked.get(e.username.toLowerCase());
        if (!have) {
          if (await this.d.dir.userByName(e.username)) {
            r.conflicts.push(e.username);
            continue;
          }
          const u = await this.create(e);
          seen.set(u.id, normalDn(e.dn));
          r.created.push(e.username);
          continue;
        }
        seen.set(have.userId, normalDn(e.dn));
        await this.db.updateTable('ldapUsers').set({ dn: e.dn, lastSeenAt: now() }).where('userId', '=', have.userId).execute();
        await this.db.updateTable('users').set({ displayName: e.displayName.slice(0, 128), email: e.email, updatedAt: now() }).where('id', '=', have.userId).execute();
        if (e.disabled && have.enabled) {
          r.terminatedSessions += await this.disable(have.userId, have.username, 'disabled in the directory', c);
          r.disabled.push(have.username);
        } else if (!e.disabled && !have.enabled && have.disabledBySync) {
          await this.db.updateTable('users').set({ enabled: 1, updatedAt: now() }).where('id', '=', have.userId).execute();
          await this.db.updateTable('ldapUsers').set({ disabledBySync: 0 }).where('userId', '=', have.userId).execute();
          await this.d.audit.record(SYSTEM, { action: 'ldap.user_enabled', target: { type: 'user', id: have.userId }, details: { username: have.username } });
          r.enabled.push(have.username);
        }
      }
      // Directory users no longer in the directory (or no longer matching userFilter).
      for (const have of linked.values()) {
        if (seen.has(have.userId) || !have.enabled) continue;
        r.terminatedSessions += await this.disable(have.userId, have.username, 'no longer in the directory', c);
        r.disabled.push(have.username);
      }
      const mapped = await this.applyMappings(c, groups, seen, true);
      r.groupChanges = mapped.changes;
      r.unknownGroups = mapped.unknown;
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      r.ok = false;
      r.error = e.message;
    }
    await this.db.updateTable('ldapDirectory').set({ lastSyncAt: now(), lastSyncResult: JSON.stringify(r) }).where('id', '=', ROW).execute();
    const { at: _at, ...details } = r;
    await this.d.audit.record(actor, { action: 'ldap.sync', outcome: r.ok ? 'success' : 'failure', target: { type: 'directory', id: 'ldap' }, details });
    return r;
  }

  /** Disables a directory user (marked as the sync's doing); answers how many live sessions were terminated. */
  private async disable(userId: string, username: string, reason: string, _c: LdapConfig): Promise<number> {
    const u = await this.db.selectFrom('users').select('enabled').where('id', '=', userId).executeTakeFirst();
    if (!u) return 0;
    if (u.enabled) {
      await this.db.updateTable('users').set({ enabled: 0, updatedAt: now() }).where('id', '=', userId).execute();
      await this.db.updateTable('ldapUsers').set({ disabledBySync: 1 }).where('userId', '=', userId).execute();
      await this.d.audit.record(SYSTEM, { action: 'ldap.user_disabled', target: { type: 'user', id: userId }, details: { username, reason } });
    }
    if (!(await this.d.settings.get('ldapTerminateSessionsOnDisable'))) return 0;
    return this.d.terminateSessionsOf(userId, `the account was ${reason}`);
  }

  /** Directory group DN → the DNs of its direct members (users and groups), normalised. */
  private async groupGraph(client: Client, c: LdapConfig): Promise<Map<string, Set<string>>> {
    const rows = await searchAll(client, c.groupBaseDn, c.groupFilter, [c.memberAttribute]);
    return new Map(rows.map((g) => [normalDn(g.dn), new Set(values(g, c.memberAttribute).map(normalDn))]));
  }

  /** Whether `member` is in `group`, directly or through nested groups (cycles tolerated). */
  private static within(graph: Map<string, Set<string>>, group: string, member: string): boolean {
    const seen = new Set<string>();
    const todo = [group];
    while (todo.length) {
      const g = todo.pop()!;
      if (seen.has(g)) continue;
      seen.add(g);
      const members = graph.get(g);
      if (!members) continue;
      if (members.has(member)) return true;
      for (const m of members) if (graph.has(m)) todo.push(m);
    }
    return false;
  }

  /**
   * Puts the directory users of `users` (id → DN) into the mapped Gatehouse groups they belong
   * to; with `full` (a sync, where `users` are all directory users) also takes out the
   * directory users who no longer belong.
   */
  private async applyMappings(c: LdapConfig, graph: Map<string, Set<string>>, users: Map<string, string>, full: boolean): Promise<{ changes: number; unknown: string[] }> {
    const byGroup = new Map<string, string[]>();
    for (const m of c.groupMappings) byGroup.set(m.group, [...(byGroup.get(m.group) ?? []), normalDn(m.ldapGroup)]);
    const directoryUsers = new Set((await this.db.selectFrom('ldapUsers').select('userId').execute()).map((x) => x.userId));
    let changes = 0;
    const unknown: string[] = [];
    for (const [name, ldapGroups] of byGroup) {
      const g = await this.db.selectFrom('groups').select(['id', 'name']).where('name', '=', name).executeTakeFirst();
      if (!g) {
        unknown.push(name);
        continue;
      }
      const current = new Set((await this.db.selectFrom('groupMembers').select('userId').where('groupId', '=', g.id).execute()).map((x) => x.userId));
      const added: string[] = [];
      const removed: string[] = [];
      for (const [userId, dn] of users) {
        const want = ldapGroups.some((lg) => LdapDirectory.within(graph, lg, dn));
        if (want && !current.has(userId)) {
          await this.db.insertInto('groupMembers').values({ groupId: g.id, userId }).execute();
          added.push(userId);
        } else if (!want && full && current.has(userId)) {
          await this.db.deleteFrom('groupMembers').where('groupId', '=', g.id).where('userId', '=', userId).execute();
          removed.push(userId);
        }
      }
      // Directory users of this group the sync did not see (gone from the directory) leave it too.
      if (full) {
        for (const userId of current) {
          if (directoryUsers.has(userId) && !users.has(userId)) {
            await this.db.deleteFrom('groupMembers').where('groupId', '=', g.id).where('userId', '=', userId).execute();
            removed.push(userId);
          }
        }
      }
      if (added.length || removed.length) {
        changes += added.length + removed.length;
        await this.d.audit.record(SYSTEM, { action: 'ldap.group_membership', target: { type: 'group', id: g.id }, details: { group: g.name, added, removed } });
      }
    }
    return { changes, unknown };
  }

  /** Refuses to save a mapping to a group that does not exist (a sync reports them too). */
  async checkMappedGroups(input: Partial<LdapConfig>): Promise<void> {
    for (const m of input.groupMappings ?? []) {
      const g = await this.db.selectFrom('groups').select('id').where('name', '=', m.group).executeTakeFirst();
      if (!g) throw badRequest(`unknown Gatehouse group "${m.group}" in groupMappings`, 'invalid_ldap_config');
    }
  }
}

/** Runs a sync every ldapSyncMinutes (checked each minute) while the directory is enabled. */
export function startLdapSync(ldap: LdapDirectory, settings: SettingsService, store: Store, onError: (e: Error) => void): { stop(): void } {
  const tick = async () => {
    const minutes = await settings.get('ldapSyncMinutes');
    if (minutes <= 0 || !(await ldap.enabled())) return;
    const row = await store.db.selectFrom('ldapDirectory').select('lastSyncAt').where('id', '=', ROW).executeTakeFirst();
    if (row?.lastSyncAt && now() - row.lastSyncAt < minutes * 60_000) return;
    await ldap.sync(SYSTEM);
  };
  const timer = setInterval(() => void tick().catch((e) => onError(e as Error)), 60_000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
