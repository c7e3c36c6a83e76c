// Access levels (issue 12, point 5; seed 003 "Set Access Levels"): a named set of target
// groups (Linux groups or LDAP group DNs, and on Linux an optional sudoers drop-in) that a
// session's account gets for the session and loses afterwards. A level is attached to
// secrets and folders (a secret gets the levels of its own links and of every folder above
// it, as policies are inherited) and is usable by pre-approved users and groups, or, when it
// says "needs approval", with an approved access request (issue 11) that names it.
import type { Store } from '../../store/db.js';
import type { AccessLevelsTable } from '../../store/schema.js';
import type { AuditService } from '../audit/service.js';
import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import type { Directory } from '../identity/directory.js';
import { actorOf, type Principal } from '../identity/principal.js';
import { newId, now, parseJson } from '../util.js';

export type PrincipalType = 'user' | 'group';

export interface AccessLevel {
  id: string;
  name: string;
  description: string;
  targetGroups: string[];
  sudoers: string | null;
  needsApproval: boolean;
}

export interface AccessLevelView extends AccessLevel {
  secretIds: string[];
  folderIds: string[];
  preApproved: { principalType: PrincipalType; principalId: string; principalName: string | null }[];
  createdAt: string;
  updatedAt: string;
}

export interface AccessLevelInput {
  name?: string;
  description?: string;
  targetGroups?: string[];
  sudoers?: string | null;
  needsApproval?: boolean;
  preApproved?: { principalType: PrincipalType; principal: string }[];
  secretIds?: string[];
  folderIds?: string[];
}

/** A Linux group name, or an LDAP DN (attr=value,...): nothing a shell or a list separator could read. */
const LINUX_GROUP = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const LDAP_DN = /^[A-Za-z][A-Za-z0-9-]*=[^\0\r\n]{1,1000}$/;

export function checkTargetGroup(g: string): void {
  if (!LINUX_GROUP.test(g) && !LDAP_DN.test(g)) {
    throw badRequest(`"${g.slice(0, 60).replace(/[^\x20-\x7e]/g, '?')}" is neither a Linux group name (letters, digits, ".", "_", "-"; at most 32) nor an LDAP DN`, 'invalid_access_level');
  }
}

const fromRow = (r: AccessLevelsTable): AccessLevel => ({
  id: r.id,
  name: r.name,
  description: r.description,
  targetGroups: parseJson<string[]>(r.targetGroups, []),
  sudoers: r.sudoers,
  needsApproval: !!r.needsApproval,
});

export class AccessLevels {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditService,
    private readonly dir: Directory,
  ) {}

  private async rowByRef(ref: string): Promise<AccessLevelsTable | undefined> {
    return (
      (await this.store.db.selectFrom('accessLevels').selectAll().where('id', '=', ref).executeTakeFirst()) ??
      (await this.store.db.selectFrom('accessLevels').selectAll().where('name', '=', ref).executeTakeFirst())
    );
  }

  async level(ref: string): Promise<AccessLevel> {
    const r = await this.rowByRef(ref);
    if (!r) throw notFound('access level');
    return fromRow(r);
  }

  private async view(r: AccessLevelsTable): Promise<AccessLevelView> {
    const links = await this.store.db.selectFrom('accessLevelLinks').selectAll().where('levelId', '=', r.id).execute();
    const members = await this.store.db.selectFrom('accessLevelMembers').selectAll().where('levelId', '=', r.id).execute();
    const preApproved = [];
    for (const m of members) {
      const name =
        m.principalType === 'user'
          ? (await this.store.db.selectFrom('users').select('username').where('id', '=', m.principalId).executeTakeFirst())?.username
          : (await this.store.db.selectFrom('groups').select('name').where('id', '=', m.principalId).executeTakeFirst())?.name;
      preApproved.push({ principalType: m.principalType, principalId: m.principalId, principalName: name ?? null });
    }
    return {
      ...fromRow(r),
      secretIds: links.flatMap((l) => (l.secretId ? [l.secretId] : [])),
      folderIds: links.flatMap((l) => (l.folderId ? [l.folderId] : [])),
      preApproved,
      createdAt: new Date(Number(r.createdAt)).toISOString(),
      updatedAt: new Date(Number(r.updatedAt)).toISOString(),
    };
  }

  async list(q: { limit: number; offset: number }): Promise<{ items: AccessLevelView[]; total: number }> {
    const rows = await this.store.db.selectFrom('accessLevels').selectAll().orderBy('name').execute();
    const items = [];
    for (const r of rows.slice(q.offset, q.offset + q.limit)) items.push(await this.view(r));
    return { items, total: rows.length };
  }

  async get(ref: string): Promise<AccessLevelView> {
    const r = await this.rowByRef(ref);
    if (!r) throw notFound('access level');
    return this.view(r);
  }

  private async validate(input: AccessLevelInput, except: string | null): Promise<void> {
    if (input.name !== undefined) {
      if (!input.name.trim()) throw badRequest('an access level needs a name', 'invalid_access_level');
      const r = await this.store.db.selectFrom('accessLevels').select('id').where('name', '=', input.name).executeTakeFirst();
      if (r && r.id !== except) throw conflict(`an access level named "${input.name}" exists`, 'name_taken');
    }
    for (const g of input.targetGroups ?? []) checkTargetGroup(g);
    if (input.sudoers != null && (/\0/.test(input.sudoers) || !input.sudoers.trim())) throw badRequest('a sudoers drop-in must be non-empty text without NUL', 'invalid_access_level');
    for (const id of input.secretIds ?? []) {
      if (!(await this.store.db.selectFrom('secrets').select('id').where('id', '=', id).executeTakeFirst())) throw badRequest(`no secret "${id}"`, 'invalid_access_level');
    }
    for (const id of input.folderIds ?? []) {
      if (!(await this.store.db.selectFrom('folders').select('id').where('id', '=', id).executeTakeFirst())) throw badRequest(`no folder "${id}"`, 'invalid_access_level');
    }
  }

  private async writeSets(id: string, input: AccessLevelInput): Promise<void> {
    const db = this.store.db;
    if (input.preApproved) {
      const resolved: { principalType: PrincipalType; principalId: string }[] = [];
      for (const e of input.preApproved) resolved.push({ principalType: e.principalType, principalId: await this.dir.resolvePrincipal(e.principalType, e.principal) });
      await db.deleteFrom('accessLevelMembers').where('levelId', '=', id).execute();
      const uniq = [...new Map(resolved.map((m) => [`${m.principalType}:${m.principalId}`, m])).values()];
      if (uniq.length) await db.insertInto('accessLevelMembers').values(uniq.map((m) => ({ levelId: id, ...m }))).execute();
    }
    if (input.secretIds || input.folderIds) {
      const cur = await db.selectFrom('accessLevelLinks').selectAll().where('levelId', '=', id).execute();
      const secretIds = input.secretIds ?? cur.flatMap((l) => (l.secretId ? [l.secretId] : []));
      const folderIds = input.folderIds ?? cur.flatMap((l) => (l.folderId ? [l.folderId] : []));
      await db.deleteFrom('accessLevelLinks').where('levelId', '=', id).execute();
      const rows: { levelId: string; secretId: string | null; folderId: string | null }[] = [
        ...[...new Set(secretIds)].map((s) => ({ levelId: id, secretId: s, folderId: null })),
        ...[...new Set(folderIds)].map((f) => ({ levelId: id, secretId: null, folderId: f })),
      ];
      if (rows.length) await db.insertInto('accessLevelLinks').values(rows).execute();
    }
  }

  async create(p: Principal, input: AccessLevelInput & { name: string }): Promise<AccessLevelView> {
    await this.validate(input, null);
    const id = newId();
    const t = now();
    await this.store.db
      .insertInto('accessLevels')
      .values({ id, name: input.name, description: input.description ?? '', targetGroups: JSON.stringify(input.targetGroups ?? []), sudoers: input.sudoers ?? null, needsApproval: input.needsApproval ? 1 : 0, createdAt: t, updatedAt: t })
      .execute();
    await this.writeSets(id, input);
    await this.audit.record(actorOf(p), { action: 'access_level.create', target: { type: 'access_level', id }, details: { name: input.name, targetGroups: input.targetGroups ?? [], sudoers: input.sudoers != null } });
    return this.get(id);
  }

  async update(p: Principal, ref: string, input: AccessLevelInput): Promise<AccessLevelView> {
    const cur = await this.rowByRef(ref);
    if (!cur) throw notFound('access level');
    await this.validate(input, cur.id);
    await this.store.db
      .updateTable('accessLevels')
      .set({
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
        ...(input.targetGroups !== undefined ? { targetGroups: JSON.stringify(input.targetGroups) } : {}),
        ...(input.sudoers !== undefined ? { sudoers: input.sudoers } : {}),
        ...(input.needsApproval !== undefined ? { needsApproval: input.needsApproval ? 1 : 0 } : {}),
        updatedAt: now(),
      })
      .where('id', '=', cur.id)
      .execute();
    await this.writeSets(cur.id, input);
    await this.audit.record(actorOf(p), { action: 'access_level.update', target: { type: 'access_level', id: cur.id }, details: { name: input.name ?? cur.name, changed: Object.keys(input) } });
    return this.get(cur.id);
  }

  async remove(p: Principal, ref: string): Promise<void> {
    const cur = await this.rowByRef(ref);
    if (!cur) throw notFound('access level');
    await this.store.db.deleteFrom('accessLevelLinks').where('levelId', '=', cur.id).execute();
    await this.store.db.deleteFrom('accessLevelMembers').where('levelId', '=', cur.id).execute();
    await this.store.db.deleteFrom('accessLevels').where('id', '=', cur.id).execute();
    await this.audit.record(actorOf(p), { action: 'access_level.delete', target: { type: 'access_level', id: cur.id }, details: { name: cur.name } });
  }

  /** The levels that apply to a secret: its own links and those of every folder above it. */
  async forSecret(secretId: string): Promise<AccessLevel[]> {
    const db = this.store.db;
    const s = await db.selectFrom('secrets').select(['folderId']).where('id', '=', secretId).executeTakeFirst();
    if (!s) return [];
    const folders: string[] = [];
    let f = s.folderId;
    for (let depth = 0; f && depth < 64; depth++) {
      folders.push(f);
      f = (await db.selectFrom('folders').select('parentId').where('id', '=', f).executeTakeFirst())?.parentId ?? null;
    }
    let q = db.selectFrom('accessLevelLinks').select('levelId').where('secretId', '=', secretId);
    if (folders.length) q = db.selectFrom('accessLevelLinks').select('levelId').where((eb) => eb.or([eb('secretId', '=', secretId), eb('folderId', 'in', folders)]));
    const ids = [...new Set((await q.execute()).map((r) => r.levelId))];
    if (!ids.length) return [];
    return (await db.selectFrom('accessLevels').selectAll().where('id', 'in', ids).orderBy('name').execute()).map(fromRow);
  }

  /** Whether the person may use the level now: pre-approved, or an approved request naming it that is open now. */
  async mayUse(userId: string, groupIds: string[], secretId: string, level: AccessLevel): Promise<boolean> {
    const members = await this.store.db.selectFrom('accessLevelMembers').selectAll().where('levelId', '=', level.id).execute();
    if (members.some((m) => (m.principalType === 'user' && m.principalId === userId) || (m.principalType === 'group' && groupIds.includes(m.principalId)))) return true;
    if (!level.needsApproval) return false;
    const t = now();
    // Through the request's grant, not its status alone: a revoked grant leaves its request
    // 'approved', and must take the level away with it.
    const r = await this.store.db
      .selectFrom('accessRequests')
      .innerJoin('accessGrants', 'accessGrants.requestId', 'accessRequests.id')
      .select('accessRequests.id')
      .where('accessRequests.requesterId', '=', userId)
      .where('accessRequests.secretId', '=', secretId)
      .where('accessRequests.accessLevelId', '=', level.id)
      .where('accessRequests.status', '=', 'approved')
      .where('accessGrants.revokedAt', 'is', null)
      .where('accessGrants.startAt', '<=', t)
      .where('accessGrants.endAt', '>', t)
      .executeTakeFirst();
    return !!r;
  }

  /** The levels of a secret the person may use (portal select, CLI list). */
  async usable(p: Principal, secretId: string): Promise<AccessLevel[]> {
    const out = [];
    for (const l of await this.forSecret(secretId)) if (await this.mayUse(p.userId, p.groupIds, secretId, l)) out.push(l);
    return out;
  }

  /** The level a launch asked for: 400 when it does not apply to the secret, 403 when the person may not use it. */
  async choose(userId: string, groupIds: string[], secretId: string, ref: string): Promise<AccessLevel> {
    const levels = await this.forSecret(secretId);
    const level = levels.find((l) => l.id === ref || l.name === ref);
    if (!level) throw badRequest(`access level "${ref.slice(0, 128)}" does not apply to this secret${levels.length ? `; levels here: ${levels.map((l) => l.name).join(', ')}` : ' (it has none)'}`, 'unknown_access_level');
    if (!(await this.mayUse(userId, groupIds, secretId, level))) {
      throw forbidden(`you are not approved for the access level "${level.name}"${level.needsApproval ? ': request access naming this level and wait for approval' : ''}`, 'access_level_not_approved');
    }
    return level;
  }
}
