// Users, groups and roles: the directory half of identity (authentication lives in auth.ts).
import type { Store, Db } from '../../store/db.js';
import { prepare, type SlotOf } from '../../store/prepared.js';
import type { PrincipalType, User } from '../../store/schema.js';
import type { Actor, AuditService } from '../audit/service.js';
import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import { flag, newId, now, parseJson } from '../util.js';
import { checkPasswordPolicy, hashPassword } from './passwords.js';
import { BUILTIN_ROLES, isPermission, type Permission } from './permissions.js';
import type { Principal } from './principal.js';

export interface UserView {
  id: string;
  username: string;
  displayName: string;
  email: string | null;
  isApplication: boolean;
  enabled: boolean;
  locked: boolean;
  totpEnabled: boolean;
  roles: { id: string; name: string }[];
  groups: { id: string; name: string }[];
  createdAt: string;
  lastLoginAt: string | null;
}

export interface UserInput {
  username?: string;
  displayName?: string;
  email?: string | null;
  password?: string;
  isApplication?: boolean;
  enabled?: boolean;
  roles?: string[];
  groups?: string[];
}

export interface GroupView {
  id: string;
  name: string;
  description: string;
  members: { id: string; username: string }[];
  roles: { id: string; name: string }[];
}

export interface RoleView {
  id: string;
  name: string;
  description: string;
  permissions: Permission[];
  builtin: boolean;
}

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const iso = (ms: number | null) => (ms == null ? null : new Date(ms).toISOString());

// Read at every API request and launch (prepared once: store/prepared.ts).
const userById = prepare((db, slot: SlotOf<{ id: string }>) => db.selectFrom('users').selectAll().where('id', '=', slot('id')));
const groupIdsOfUser = prepare((db, slot: SlotOf<{ userId: string }>) => db.selectFrom('groupMembers').select('groupId').where('userId', '=', slot('userId')));
const rolePermissionsOf = prepare((db, slot: SlotOf<{ userId: string }>) =>
  db
    .selectFrom('roleAssignments')
    .innerJoin('roles', 'roles.id', 'roleAssignments.roleId')
    .select('roles.permissions')
    .where((eb) =>
      eb.or([
        eb.and([eb('principalType', '=', 'user'), eb('principalId', '=', slot('userId'))]),
        eb.and([eb('principalType', '=', 'group'), eb('principalId', 'in', eb.selectFrom('groupMembers').select('groupId').where('userId', '=', slot('userId')))]),
      ]),
    ),
);

// What `GET /api/v1/me` (polled by the portal) and every user view show.
const rolesOfUser = prepare((db, slot: SlotOf<{ userId: string }>) =>
  db.selectFrom('roleAssignments').innerJoin('roles', 'roles.id', 'roleAssignments.roleId').select(['roles.id', 'roles.name']).where('principalType', '=', 'user').where('principalId', '=', slot('userId')).orderBy('roles.name'),
);
const groupsOfUser = prepare((db, slot: SlotOf<{ userId: string }>) =>
  db.selectFrom('groupMembers').innerJoin('groups', 'groups.id', 'groupMembers.groupId').select(['groups.id', 'groups.name']).where('userId', '=', slot('userId')).orderBy('groups.name'),
);

export class Directory {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditService,
  ) {}

  private get db(): Db {
    return this.store.db;
  }

  async seedBuiltinRoles(): Promise<void> {
    for (const r of BUILTIN_ROLES) {
      const have = await this.db.selectFrom('roles').select('id').where('id', '=', r.id).executeTakeFirst();
      const permissions = JSON.stringify(r.permissions);
      if (have) await this.db.updateTable('roles').set({ permissions, description: r.description }).where('id', '=', r.id).execute();
      else await this.db.insertInto('roles').values({ id: r.id, name: r.name, description: r.description, permissions, builtin: 1, createdAt: now() }).execute();
    }
  }

  // ---- users

  async userRow(id: string): Promise<User> {
    const u = await userById.first(this.db, { id });
    if (!u) throw notFound('user');
    return u;
  }

  async userByName(username: string): Promise<User | undefined> {
    return this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
  }

  async countUsers(): Promise<number> {
    const r = await this.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async viewUser(u: User): Promise<UserView> {
    const [roles, groups] = await Promise.all([rolesOfUser.all(this.db, { userId: u.id }), groupsOfUser.all(this.db, { userId: u.id })]);
    return {
      id: u.id,
      username: u.username,
      displayName: u.displayName,
      email: u.email,
      isApplication: !!u.isApplication,
      enabled: !!u.enabled,
      locked: u.lockedUntil != null && u.lockedUntil > now(),
      totpEnabled: !!u.totpEnabled,
      roles,
      groups,
      createdAt: iso(u.createdAt)!,
      lastLoginAt: iso(u.lastLoginAt),
    };
  }

  async listUsers(q: { search?: string; limit: number; offset: number }): Promise<{ items: UserView[]; total: number }> {
    let base = this.db.selectFrom('users');
    if (q.search) base = base.where((eb) => eb.or([eb('username', 'like', `%${q.search}%`), eb('displayName', 'like', `%${q.search}%`)]));
    const { n } = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await base.selectAll().orderBy('username').limit(q.limit).offset(q.offset).execute();
    return { items: await Promise.all(rows.map((r) => this.viewUser(r))), total: Number(n) };
  }

  async createUser(actor: Actor, input: UserInput & { username: string }): Promise<UserView> {
    if (!USERNAME.test(input.username)) throw badRequest('username must be 1-64 characters: letters, digits, . _ @ - (starting with a letter or digit)');
    if (await this.userByName(input.username)) throw conflict(`user "${input.username}" already exists`);
    if (input.password !== undefined) checkPasswordPolicy(input.password);
    const roleIds = await this.resolveRoles(input.roles ?? (input.isApplication ? ['application'] : ['user']));
    const groupIds = await this.resolveGroups(input.groups ?? []);
    const id = newId();
    const t = now();
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('users')
        .values({
          id,
          username: input.username,
          displayName: input.displayName ?? input.username,
          email: input.email ?? null,
          passwordHash: input.password ? await hashPassword(input.password) : null,
          isApplication: flag(input.isApplication),
          enabled: flag(input.enabled ?? true),
          failedLogins: 0,
          lockedUntil: null,
          totpDataKeyId: null,
          totpEnc: null,
          totpEnabled: 0,
          recoveryCodes: null,
          createdAt: t,
          updatedAt: t,
          lastLoginAt: null,
        })
        .execute();
      await setUserRoles(trx, id, roleIds);
      for (const g of groupIds) await trx.insertInto('groupMembers').values({ groupId: g, userId: id }).execute();
    });
    const view = await this.viewUser(await this.userRow(id));
    await this.audit.record(actor, {
      action: 'user.create',
      target: { type: 'user', id },
      details: { username: view.username, isApplication: view.isApplication, roles: view.roles.map((r) => r.name), groups: view.groups.map((g) => g.name) },
    });
    return view;
  }

  async updateUser(actor: Actor, id: string, input: UserInput): Promise<UserView> {
    const u = await this.userRow(id);
    const changes: Record<string, unknown> = {};
    const set: Partial<User> = { updatedAt: now() };
    if (input.username !== undefined && input.username !== u.username) {
      if (!USERNAME.test(input.username)) throw badRequest('username must be 1-64 characters: letters, digits, . _ @ - (starting with a letter or digit)');
      if (await this.userByName(input.username)) throw conflict(`user "${input.username}" already exists`);
      set.username = changes.username = input.username;
    }
    if (input.displayName !== undefined) set.displayName = changes.displayName = input.displayName;
    if (input.email !== undefined) set.email = changes.email = input.email;
    if (input.enabled !== undefined) {
      if (!input.enabled && actor.id === id) throw forbidden('you cannot disable your own account');
      set.enabled = flag(input.enabled);
      changes.enabled = input.enabled;
    }
    if (input.isApplication !== undefined) set.isApplication = flag(input.isApplication);
    if (input.isApplication !== undefined) changes.isApplication = input.isApplication;
    if (input.password !== undefined) {
      checkPasswordPolicy(input.password);
      set.passwordHash = await hashPassword(input.password);
      changes.password = '(changed)';
    }
    const roleIds = input.roles ? await this.resolveRoles(input.roles) : undefined;
    const groupIds = input.groups ? await this.resolveGroups(input.groups) : undefined;
    if (roleIds && actor.id === id && !roleIds.includes('administrator')) {
      const isAdmin = await this.db.selectFrom('roleAssignments').select('roleId').where('principalType', '=', 'user').where('principalId', '=', id).where('roleId', '=', 'administrator').executeTakeFirst();
      if (isAdmin) throw forbidden('you cannot remove the Administrator role from your own account');
    }
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('users').set(set).where('id', '=', id).execute();
      if (roleIds) {
        await setUserRoles(trx, id, roleIds);
        changes.roles = input.roles;
      }
      if (groupIds) {
        await trx.deleteFrom('groupMembers').where('userId', '=', id).execute();
        for (const g of groupIds) await trx.insertInto('groupMembers').values({ groupId: g, userId: id }).execute();
        changes.groups = input.groups;
      }
      if (input.enabled === false || input.password !== undefined) await trx.deleteFrom('apiTokens').where('userId', '=', id).where('kind', '=', 'session').execute();
      // An administrator's enable or disable is theirs: the LDAP sync re-enables only users it
      // disabled itself, so its mark goes (a user it once disabled, disabled again by hand, stays so).
      if (input.enabled !== undefined) await trx.updateTable('ldapUsers').set({ disabledBySync: 0 }).where('userId', '=', id).execute();
    });
    await this.audit.record(actor, { action: 'user.update', target: { type: 'user', id }, details: { username: u.username, changes } });
    return this.viewUser(await this.userRow(id));
  }

  async deleteUser(actor: Actor, id: string): Promise<void> {
    const u = await this.userRow(id);
    if (actor.id === id) throw forbidden('you cannot delete your own account');
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('roleAssignments').where('principalType', '=', 'user').where('principalId', '=', id).execute();
      await trx.deleteFrom('permissions').where('principalType', '=', 'user').where('principalId', '=', id).execute();
      // A sign-in provider's subject linked to this account is nobody's now: a new account of the same name starts unlinked.
      await trx.deleteFrom('oidcLinks').where('userId', '=', id).execute();
      await trx.deleteFrom('users').where('id', '=', id).execute();
      if (u.totpDataKeyId) await trx.deleteFrom('dataKeys').where('id', '=', u.totpDataKeyId).execute();
    });
    await this.audit.record(actor, { action: 'user.delete', target: { type: 'user', id }, details: { username: u.username } });
  }

  async unlockUser(actor: Actor, id: string): Promise<UserView> {
    const u = await this.userRow(id);
    await this.db.updateTable('users').set({ failedLogins: 0, lockedUntil: null, updatedAt: now() }).where('id', '=', id).execute();
    await this.audit.record(actor, { action: 'user.unlock', target: { type: 'user', id }, details: { username: u.username } });
    return this.viewUser(await this.userRow(id));
  }

  // ---- effective rights

  /**
   * The principal a front door acts for (a ticket's owner, a user signed in at the SSH
   * door): the user's groups and permissions now, no token, no scope restriction. Token
   * authentication starts from it and adds the token's scopes.
   */
  async doorPrincipal(user: Pick<User, 'id' | 'username' | 'isApplication'>, ip: string | null = null): Promise<Principal> {
    const groupIds = await this.groupIdsOf(user.id);
    return { userId: user.id, username: user.username, isApplication: !!user.isApplication, groupIds, permissions: await this.permissionsOf(user.id), scopes: null, tokenId: '', tokenKind: 'session', ip };
  }

  async groupIdsOf(userId: string): Promise<string[]> {
    const rows = await groupIdsOfUser.all(this.db, { userId });
    return rows.map((r) => r.groupId);
  }

  /** What the person may do: the roles assigned to them and to every group they are in. */
  async permissionsOf(userId: string): Promise<Set<Permission>> {
    const rows = await rolePermissionsOf.all(this.db, { userId });
    const out = new Set<Permission>();
    for (const r of rows) for (const p of parseJson<string[]>(r.permissions, [])) if (isPermission(p)) out.add(p);
    return out;
  }

  // ---- groups

  async viewGroup(id: string): Promise<GroupView> {
    const g = await this.db.selectFrom('groups').selectAll().where('id', '=', id).executeTakeFirst();
    if (!g) throw notFound('group');
    const members = await this.db.selectFrom('groupMembers').innerJoin('users', 'users.id', 'groupMembers.userId').select(['users.id', 'users.username']).where('groupId', '=', id).orderBy('users.username').execute();
    const roles = await this.db
      .selectFrom('roleAssignments')
      .innerJoin('roles', 'roles.id', 'roleAssignments.roleId')
      .select(['roles.id', 'roles.name'])
      .where('principalType', '=', 'group')
      .where('principalId', '=', id)
      .orderBy('roles.name')
      .execute();
    return { id: g.id, name: g.name, description: g.description, members, roles };
  }

  async listGroups(q: { limit: number; offset: number }): Promise<{ items: GroupView[]; total: number }> {
    const { n } = await this.db.selectFrom('groups').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await this.db.selectFrom('groups').select('id').orderBy('name').limit(q.limit).offset(q.offset).execute();
    return { items: await Promise.all(rows.map((r) => this.viewGroup(r.id))), total: Number(n) };
  }

  async saveGroup(actor: Actor, id: string | null, input: { name?: string; description?: string; members?: string[]; roles?: string[] }): Promise<GroupView> {
    if (input.name !== undefined) {
      const clash = await this.db.selectFrom('groups').select('id').where('name', '=', input.name).executeTakeFirst();
      if (clash && clash.id !== id) throw conflict(`group "${input.name}" already exists`);
    }
    const memberIds = input.members ? await this.resolveUsers(input.members) : undefined;
    const roleIds = input.roles ? await this.resolveRoles(input.roles) : undefined;
    const gid = id ?? newId();
    await this.db.transaction().execute(async (trx) => {
      if (id) {
        const g = await trx.selectFrom('groups').select('id').where('id', '=', id).executeTakeFirst();
        if (!g) throw notFound('group');
        const set: { name?: string; description?: string } = {};
        if (input.name !== undefined) set.name = input.name;
        if (input.description !== undefined) set.description = input.description;
        if (Object.keys(set).length) await trx.updateTable('groups').set(set).where('id', '=', id).execute();
      } else {
        await trx.insertInto('groups').values({ id: gid, name: input.name!, description: input.description ?? '', createdAt: now() }).execute();
      }
      if (memberIds) {
        await trx.deleteFrom('groupMembers').where('groupId', '=', gid).execute();
        for (const u of memberIds) await trx.insertInto('groupMembers').values({ groupId: gid, userId: u }).execute();
      }
      if (roleIds) {
        await trx.deleteFrom('roleAssignments').where('principalType', '=', 'group').where('principalId', '=', gid).execute();
        for (const r of roleIds) await trx.insertInto('roleAssignments').values({ roleId: r, principalType: 'group', principalId: gid }).execute();
      }
    });
    const view = await this.viewGroup(gid);
    await this.audit.record(actor, { action: id ? 'group.update' : 'group.create', target: { type: 'group', id: gid }, details: { name: view.name, ...input } });
    return view;
  }

  async deleteGroup(actor: Actor, id: string): Promise<void> {
    const g = await this.viewGroup(id);
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('roleAssignments').where('principalType', '=', 'group').where('principalId', '=', id).execute();
      await trx.deleteFrom('permissions').where('principalType', '=', 'group').where('principalId', '=', id).execute();
      await trx.deleteFrom('groupMembers').where('groupId', '=', id).execute();
      await trx.deleteFrom('groups').where('id', '=', id).execute();
    });
    await this.audit.record(actor, { action: 'group.delete', target: { type: 'group', id }, details: { name: g.name } });
  }

  // ---- roles

  async viewRole(id: string): Promise<RoleView> {
    const r = await this.db.selectFrom('roles').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw notFound('role');
    return { id: r.id, name: r.name, description: r.description, permissions: parseJson<Permission[]>(r.permissions, []), builtin: !!r.builtin };
  }

  async listRoles(q: { limit: number; offset: number }): Promise<{ items: RoleView[]; total: number }> {
    const { n } = await this.db.selectFrom('roles').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await this.db.selectFrom('roles').select('id').orderBy('builtin', 'desc').orderBy('name').limit(q.limit).offset(q.offset).execute();
    return { items: await Promise.all(rows.map((r) => this.viewRole(r.id))), total: Number(n) };
  }

  async saveRole(actor: Actor, id: string | null, input: { name?: string; description?: string; permissions?: string[] }): Promise<RoleView> {
    if (input.permissions) {
      const bad = input.permissions.filter((p) => !isPermission(p));
      if (bad.length) throw badRequest(`unknown permission(s): ${bad.join(', ')}`);
    }
    if (input.name !== undefined) {
      const clash = await this.db.selectFrom('roles').select('id').where('name', '=', input.name).executeTakeFirst();
      if (clash && clash.id !== id) throw conflict(`role "${input.name}" already exists`);
    }
    const rid = id ?? newId();
    if (id) {
      const r = await this.viewRole(id);
      if (r.builtin) throw forbidden('built-in roles cannot be changed; create a custom role instead', 'builtin_role');
      const set: { name?: string; description?: string; permissions?: string } = {};
      if (input.name !== undefined) set.name = input.name;
      if (input.description !== undefined) set.description = input.description;
      if (input.permissions) set.permissions = JSON.stringify([...new Set(input.permissions)]);
      if (Object.keys(set).length) await this.db.updateTable('roles').set(set).where('id', '=', id).execute();
    } else {
      await this.db
        .insertInto('roles')
        .values({ id: rid, name: input.name!, description: input.description ?? '', permissions: JSON.stringify([...new Set(input.permissions ?? [])]), builtin: 0, createdAt: now() })
        .execute();
    }
    const view = await this.viewRole(rid);
    await this.audit.record(actor, { action: id ? 'role.update' : 'role.create', target: { type: 'role', id: rid }, details: { name: view.name, permissions: view.permissions } });
    return view;
  }

  async deleteRole(actor: Actor, id: string): Promise<void> {
    const r = await this.viewRole(id);
    if (r.builtin) throw forbidden('built-in roles cannot be deleted', 'builtin_role');
    await this.db.deleteFrom('roleAssignments').where('roleId', '=', id).execute();
    await this.db.deleteFrom('roles').where('id', '=', id).execute();
    await this.audit.record(actor, { action: 'role.delete', target: { type: 'role', id }, details: { name: r.name } });
  }

  // ---- name/id resolution for inputs

  private async resolve(table: 'roles' | 'groups', refs: string[], what: string): Promise<string[]> {
    const out: string[] = [];
    for (const ref of new Set(refs)) {
      const row = await this.db.selectFrom(table).select('id').where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)])).executeTakeFirst();
      if (!row) throw badRequest(`unknown ${what} "${ref}"`);
      out.push(row.id);
    }
    return [...new Set(out)];
  }

  resolveRoles(refs: string[]): Promise<string[]> {
    return this.resolve('roles', refs.map((r) => BUILTIN_ROLES.find((b) => b.name.toLowerCase() === r.toLowerCase())?.id ?? r), 'role');
  }

  resolveGroups(refs: string[]): Promise<string[]> {
    return this.resolve('groups', refs, 'group');
  }

  async resolveUsers(refs: string[]): Promise<string[]> {
    const out: string[] = [];
    for (const ref of new Set(refs)) {
      const row = await this.db.selectFrom('users').select('id').where((eb) => eb.or([eb('id', '=', ref), eb('username', '=', ref)])).executeTakeFirst();
      if (!row) throw badRequest(`unknown user "${ref}"`);
      out.push(row.id);
    }
    return [...new Set(out)];
  }

  async resolvePrincipal(type: PrincipalType, ref: string): Promise<string> {
    return type === 'user' ? (await this.resolveUsers([ref]))[0]! : (await this.resolveGroups([ref]))[0]!;
  }
}

async function setUserRoles(trx: Db, userId: string, roleIds: string[]): Promise<void> {
  await trx.deleteFrom('roleAssignments').where('principalType', '=', 'user').where('principalId', '=', userId).execute();
  for (const r of roleIds) await trx.insertInto('roleAssignments').values({ roleId: r, principalType: 'user', principalId: userId }).execute();
}
