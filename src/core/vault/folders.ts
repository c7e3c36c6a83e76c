import type { Store } from '../../store/db.js';
import type { AccessLevel } from '../../store/schema.js';
import type { AuditService } from '../audit/service.js';
import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import type { Directory } from '../identity/directory.js';
import { actorOf, type Principal } from '../identity/principal.js';
import { flag, newId, now } from '../util.js';
import { Access, atLeast, requireOwnerForInheritance, type AclEntry, type AclEntryView } from './access.js';
import type { JoinedChange } from './joined-change.js';

export interface FolderView {
  id: string;
  name: string;
  parentId: string | null;
  inheritPermissions: boolean;
  access: AccessLevel;
  policyId: string | null;
  createdAt: string;
}

export interface AclInput {
  inheritPermissions?: boolean;
  entries: { principalType: 'user' | 'group'; principal: string; level: AccessLevel }[];
}

export class Folders {
  constructor(
    private readonly store: Store,
    private readonly access: Access,
    private readonly audit: AuditService,
    private readonly dir: Directory,
  ) {}

  private async row(id: string) {
    const f = await this.store.db.selectFrom('folders').selectAll().where('id', '=', id).executeTakeFirst();
    if (!f) throw notFound('folder');
    return f;
  }

  /** Loads a folder the principal may see at `need` or better; hides existence from those who may not list it. */
  async require(p: Principal, id: string, need: AccessLevel) {
    const f = await this.row(id);
    const level = await this.access.folderLevel(p, id);
    if (!level) throw notFound('folder');
    if (!atLeast(level, need)) throw forbidden(`you need ${need} access to this folder`);
    return { folder: f, level };
  }

  async list(p: Principal, q: { parentId?: string; limit: number; offset: number }): Promise<{ items: FolderView[]; total: number }> {
    const levels = await this.access.folderLevels(p);
    const ids = [...levels.keys()];
    if (ids.length === 0) return { items: [], total: 0 };
    let base = this.store.db.selectFrom('folders').where('id', 'in', ids);
    if (q.parentId !== undefined) base = q.parentId === 'root' ? base.where('parentId', 'is', null) : base.where('parentId', '=', q.parentId);
    const { n } = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await base.selectAll().orderBy('name').limit(q.limit).offset(q.offset).execute();
    return { items: rows.map((f) => view(f, levels.get(f.id)!)), total: Number(n) };
  }

  async get(p: Principal, id: string): Promise<FolderView> {
    const { folder, level } = await this.require(p, id, 'list');
    return view(folder, level);
  }

  async create(p: Principal, input: { name: string; parentId?: string | null; inheritPermissions?: boolean }): Promise<FolderView> {
    if (!p.permissions.has('manage_secrets')) throw forbidden('you need the manage_secrets permission to create folders');
    if (input.parentId != null) await this.require(p, input.parentId, 'edit');
    const id = newId();
    const t = now();
    await this.store.db
      .insertInto('folders')
      .values({ id, name: input.name, parentId: input.parentId ?? null, inheritPermissions: flag(input.inheritPermissions ?? true), createdAt: t, updatedAt: t })
      .execute();
    await this.access.grant('folder', id, { principalType: 'user', principalId: p.userId, level: 'owner' });
    await this.audit.record(actorOf(p), { action: 'folder.create', target: { type: 'folder', id }, details: { name: input.name, parentId: input.parentId ?? null } });
    return this.get(p, id);
  }

  /** Checks a move under another parent (the access policy in force: core wires Policies.checkMove). */
  private moveGuard?: (p: Principal, id: string, to: string | null) => Promise<void>;
  guardMoves(fn: (p: Principal, id: string, to: string | null) => Promise<void>): void {
    this.moveGuard = fn;
  }

  /** `joined`: another change saved in the same transaction (a policy attached with the same PATCH). */
  async update(p: Principal, id: string, input: { name?: string; parentId?: string | null; inheritPermissions?: boolean }, joined?: JoinedChange): Promise<FolderView> {
    const { folder, level } = await this.require(p, id, 'edit');
    requireOwnerForInheritance(level, 'folder', folder.inheritPermissions, input.inheritPermissions);
    if (input.parentId != null) {
      await this.require(p, input.parentId, 'edit');
      // Refuse cycles: the new parent may not be this folder or one of its descendants.
      let cur: string | null = input.parentId;
      for (let i = 0; cur && i < 64; i++) {
        if (cur === id) throw badRequest('a folder cannot be moved into itself or one of its subfolders');
        cur = (await this.row(cur)).parentId;
      }
    }
    if (input.parentId !== undefined && input.parentId !== folder.parentId) {
      const inherits = input.inheritPermissions === undefined ? folder.inheritPermissions : flag(input.inheritPermissions);
      const after = await this.access.folderLevelUnder(p, { id, inheritPermissions: inherits }, input.parentId);
      await this.access.checkMove(p, 'folder', { from: folder.parentId, to: input.parentId, now: level, after });
      await this.moveGuard?.(p, id, input.parentId);
    }
    const set: { name?: string; parentId?: string | null; inheritPermissions?: 0 | 1; updatedAt: number } = { updatedAt: now() };
    if (input.name !== undefined) set.name = input.name;
    if (input.parentId !== undefined) set.parentId = input.parentId;
    if (input.inheritPermissions !== undefined) set.inheritPermissions = flag(input.inheritPermissions);
    await this.store.db.transaction().execute(async (trx) => {
      await trx.updateTable('folders').set(set).where('id', '=', id).execute();
      await joined?.apply(trx);
    });
    await joined?.audit();
    await this.audit.record(actorOf(p), { action: 'folder.update', target: { type: 'folder', id }, details: { ...input } });
    return this.get(p, id);
  }

  async remove(p: Principal, id: string): Promise<void> {
    const { folder } = await this.require(p, id, 'owner');
    const child = await this.store.db.selectFrom('folders').select('id').where('parentId', '=', id).limit(1).executeTakeFirst();
    const secret = await this.store.db.selectFrom('secrets').select('id').where('folderId', '=', id).limit(1).executeTakeFirst();
    if (child || secret) throw conflict('folder is not empty; move or delete its secrets and subfolders first', 'folder_not_empty');
    await this.access.removeAll('folder', id);
    await this.store.db.deleteFrom('folders').where('id', '=', id).execute();
    await this.audit.record(actorOf(p), { action: 'folder.delete', target: { type: 'folder', id }, details: { name: folder.name } });
  }

  async permissions(p: Principal, id: string): Promise<{ inheritPermissions: boolean; entries: AclEntryView[] }> {
    const { folder } = await this.require(p, id, 'view');
    return { inheritPermissions: !!folder.inheritPermissions, entries: await this.access.entries('folder', id) };
  }

  async setPermissions(p: Principal, id: string, input: AclInput): Promise<{ inheritPermissions: boolean; entries: AclEntryView[] }> {
    const { folder } = await this.require(p, id, 'owner');
    const entries = await resolveEntries(this.dir, input);
    const inherits = input.inheritPermissions ?? !!folder.inheritPermissions;
    this.access.keepActingOwner(p, entries, inherits && folder.parentId ? await this.access.folderLevel(p, folder.parentId) : null);
    await this.access.replace('folder', id, entries);
    if (input.inheritPermissions !== undefined) await this.store.db.updateTable('folders').set({ inheritPermissions: flag(input.inheritPermissions) }).where('id', '=', id).execute();
    await this.audit.record(actorOf(p), { action: 'folder.share', target: { type: 'folder', id }, details: { entries, inheritPermissions: input.inheritPermissions } });
    return this.permissions(p, id);
  }
}

export async function resolveEntries(dir: Directory, input: AclInput): Promise<AclEntry[]> {
  const seen = new Map<string, AclEntry>();
  for (const e of input.entries) {
    const principalId = await dir.resolvePrincipal(e.principalType, e.principal);
    seen.set(`${e.principalType}:${principalId}`, { principalType: e.principalType, principalId, level: e.level });
  }
  return [...seen.values()];
}

function view(f: { id: string; name: string; parentId: string | null; inheritPermissions: number; policyId?: string | null; createdAt: number }, level: AccessLevel): FolderView {
  return { id: f.id, name: f.name, parentId: f.parentId, inheritPermissions: !!f.inheritPermissions, access: level, policyId: f.policyId ?? null, createdAt: new Date(f.createdAt).toISOString() };
}
