// Access control lists on secrets and folders. A secret's effective level for a user is
// the highest of its own entries for the user or the user's groups and, while it inherits,
// its folder's effective level (folders inherit from their parents the same way).
import type { Store } from '../../store/db.js';
import type { AccessLevel, ObjectType, PrincipalType } from '../../store/schema.js';
import type { Principal } from '../identity/principal.js';
import { forbidden } from '../errors.js';
import { flag } from '../util.js';

export const LEVELS: AccessLevel[] = ['list', 'view', 'edit', 'owner'];
export const rank = (l: AccessLevel | null): number => (l ? LEVELS.indexOf(l) + 1 : 0);
export const atLeast = (have: AccessLevel | null, need: AccessLevel) => rank(have) >= rank(need);
const max = (a: AccessLevel | null, b: AccessLevel | null) => (rank(a) >= rank(b) ? a : b);

export interface AclEntry {
  principalType: PrincipalType;
  principalId: string;
  level: AccessLevel;
}

export interface AclEntryView extends AclEntry {
  /** Username or group name, for people editing the sharing. */
  principalName: string | null;
}

/** Turning inheritance on or off (`wanted` against the stored flag) changes who reaches the object: an ACL change, the owner's (as `PUT …/permissions`). */
export function requireOwnerForInheritance(level: AccessLevel, what: 'secret' | 'folder', stored: number, wanted: boolean | undefined): void {
  if (wanted === undefined || flag(wanted) === stored) return;
  if (!atLeast(level, 'owner')) throw forbidden(`turning inheritPermissions on or off changes who has access to this ${what}: you need owner access to it`);
}

interface FolderNode {
  id: string;
  parentId: string | null;
  inheritPermissions: number;
}

export class Access {
  constructor(private readonly store: Store) {}

  private principalFilter(p: Principal) {
    return (eb: any) =>
      eb.or([
        eb.and([eb('principalType', '=', 'user'), eb('principalId', '=', p.userId)]),
        ...(p.groupIds.length ? [eb.and([eb('principalType', '=', 'group'), eb('principalId', 'in', p.groupIds)])] : []),
      ]);
  }

  /** Levels the principal holds directly on objects of a type: objectId -> level. */
  private async direct(p: Principal, type: ObjectType, ids?: string[]): Promise<Map<string, AccessLevel>> {
    let q = this.store.db.selectFrom('permissions').select(['objectId', 'level']).where('objectType', '=', type).where(this.principalFilter(p));
    if (ids) {
      if (ids.length === 0) return new Map();
      q = q.where('objectId', 'in', ids);
    }
    const out = new Map<string, AccessLevel>();
    for (const r of await q.execute()) out.set(r.objectId, max(out.get(r.objectId) ?? null, r.level)!);
    return out;
  }

  /** Effective level on every folder (only those with some access are present). */
  async folderLevels(p: Principal): Promise<Map<string, AccessLevel>> {
    const folders: FolderNode[] = await this.store.db.selectFrom('folders').select(['id', 'parentId', 'inheritPermissions']).execute();
    if (p.permissions.has('all_secrets')) return new Map(folders.map((f) => [f.id, 'owner' as AccessLevel]));
    const direct = await this.direct(p, 'folder');
    const byId = new Map(folders.map((f) => [f.id, f]));
    const memo = new Map<string, AccessLevel | null>();
    const level = (id: string, depth = 0): AccessLevel | null => {
      if (memo.has(id)) return memo.get(id)!;
      const f = byId.get(id);
      if (!f || depth > 64) return null;
      let l = direct.get(id) ?? null;
      if (f.inheritPermissions && f.parentId) l = max(l, level(f.parentId, depth + 1));
      memo.set(id, l);
      return l;
    };
    const out = new Map<string, AccessLevel>();
    for (const f of folders) {
      const l = level(f.id);
      if (l) out.set(f.id, l);
    }
    return out;
  }

  async folderLevel(p: Principal, folderId: string): Promise<AccessLevel | null> {
    return (await this.folderLevels(p)).get(folderId) ?? null;
  }

  async secretLevel(p: Principal, secret: { id: string; folderId: string | null; inheritPermissions: number }): Promise<AccessLevel | null> {
    if (p.permissions.has('all_secrets')) return 'owner';
    let l = (await this.direct(p, 'secret', [secret.id])).get(secret.id) ?? null;
    if (secret.inheritPermissions && secret.folderId) l = max(l, await this.folderLevel(p, secret.folderId));
    return l;
  }

  /** The level a folder would have under another parent (`to` is never one of its subfolders: moves refuse cycles). */
  async folderLevelUnder(p: Principal, folder: { id: string; inheritPermissions: number }, to: string | null): Promise<AccessLevel | null> {
    if (p.permissions.has('all_secrets')) return 'owner';
    const l = (await this.direct(p, 'folder', [folder.id])).get(folder.id) ?? null;
    return folder.inheritPermissions && to ? max(l, await this.folderLevel(p, to)) : l;
  }

  /**
   * A move of a secret or folder by someone with `edit` on it: `edit` on the folder it leaves
   * and on the one it enters (its access through either changes), and no rise of the mover's
   * own level, so `edit` never turns into `owner` (a folder of one's own made to move into).
   */
  async checkMove(p: Principal, what: 'secret' | 'folder', move: { from: string | null; to: string | null; now: AccessLevel; after: AccessLevel | null }): Promise<void> {
    const levels = await this.folderLevels(p);
    for (const [folder, verb] of [[move.from, 'out of'], [move.to, 'into']] as const) {
      if (folder && !atLeast(levels.get(folder) ?? null, 'edit')) throw forbidden(`moving a ${what} ${verb} a folder needs edit access to that folder`);
    }
    if (rank(move.after) > rank(move.now)) {
      throw forbidden(`this move would raise your access to the ${what} from ${move.now} to ${move.after}; ask an owner of it to move or share it`, 'move_raises_access');
    }
  }

  /**
   * Keeps the acting owner an owner in an ACL they replace, unless they own the object through
   * its folder or hold all_secrets: nobody locks themselves out by accident, and nobody hands
   * a folder of their own to another account so that moving things into it (at their own
   * level of edit, which checkMove allows) would give that account owner.
   */
  keepActingOwner(p: Principal, entries: AclEntry[], inherited: AccessLevel | null): void {
    if (p.permissions.has('all_secrets') || inherited === 'owner') return;
    if (!entries.some((e) => e.principalType === 'user' && e.principalId === p.userId && e.level === 'owner')) entries.push({ principalType: 'user', principalId: p.userId, level: 'owner' });
  }

  /** Which secrets a principal can at least list: ids granted directly, plus folders whose secrets inherit. */
  async listableScope(p: Principal): Promise<{ all: true } | { all: false; secretIds: string[]; folderIds: string[]; levels: Map<string, AccessLevel>; folderLevels: Map<string, AccessLevel> }> {
    if (p.permissions.has('all_secrets')) return { all: true };
    const levels = await this.direct(p, 'secret');
    const folderLevels = await this.folderLevels(p);
    return { all: false, secretIds: [...levels.keys()], folderIds: [...folderLevels.keys()], levels, folderLevels };
  }

  async entries(type: ObjectType, id: string): Promise<AclEntryView[]> {
    const rows = await this.store.db.selectFrom('permissions').select(['principalType', 'principalId', 'level']).where('objectType', '=', type).where('objectId', '=', id).orderBy('principalType').execute();
    const ids = (t: PrincipalType) => rows.filter((r) => r.principalType === t).map((r) => r.principalId);
    const users = ids('user').length ? await this.store.db.selectFrom('users').select(['id', 'username as name']).where('id', 'in', ids('user')).execute() : [];
    const groups = ids('group').length ? await this.store.db.selectFrom('groups').select(['id', 'name']).where('id', 'in', ids('group')).execute() : [];
    const names = new Map([...users, ...groups].map((r) => [r.id, r.name]));
    return rows.map((r) => ({ ...r, principalName: names.get(r.principalId) ?? null }));
  }

  async replace(type: ObjectType, id: string, entries: AclEntry[]): Promise<void> {
    await this.store.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('permissions').where('objectType', '=', type).where('objectId', '=', id).execute();
      for (const e of entries) await trx.insertInto('permissions').values({ objectType: type, objectId: id, ...e }).execute();
    });
  }

  async grant(type: ObjectType, id: string, e: AclEntry): Promise<void> {
    await this.store.db
      .insertInto('permissions')
      .values({ objectType: type, objectId: id, ...e })
      .onConflict((oc) => oc.columns(['objectType', 'objectId', 'principalType', 'principalId']).doUpdateSet({ level: e.level }))
      .execute();
  }

  async removeAll(type: ObjectType, id: string): Promise<void> {
    await this.store.db.deleteFrom('permissions').where('objectType', '=', type).where('objectId', '=', id).execute();
  }
}
