// Access request policies: CRUD, attaching one to a secret or a folder, and the policy in
// force for a secret (its own, else its folder's, else the nearest parent folder's). A
// secret with no policy in force launches as before: view access is enough.
import { isIP } from 'node:net';
import type { Store } from '../../store/db.js';
import { prepare, type SlotOf } from '../../store/prepared.js';
import type { AccessPoliciesTable, PrincipalType } from '../../store/schema.js';
import type { AuditService } from '../audit/service.js';
import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import type { Directory } from '../identity/directory.js';
import { actorOf, type Principal } from '../identity/principal.js';
import type { Protocol } from '../launch/launchers.js';
import { flag, newId, now, parseJson } from '../util.js';
import type { Folders } from '../vault/folders.js';
import type { JoinedChange } from '../vault/joined-change.js';
import type { Secrets } from '../vault/secrets.js';

// The walk up to the policy in force, at every launch, redeem and session end (prepared once: store/prepared.ts).
const secretPlacement = prepare((db, slot: SlotOf<{ id: string }>) => db.selectFrom('secrets').select(['policyId', 'folderId']).where('id', '=', slot('id')));
const folderPlacement = prepare((db, slot: SlotOf<{ id: string }>) => db.selectFrom('folders').select(['policyId', 'parentId']).where('id', '=', slot('id')));

export const MODES: readonly Protocol[] = ['ssh', 'telnet', 'rdp'];
export const MFA_MODES = ['never', 'always', 'untrusted'] as const;
export const TICKET_REFERENCE = ['none', 'optional', 'required'] as const;

export interface PrincipalSet {
  users: string[];
  groups: string[];
}
export interface AllowedHours {
  /** 0 = Sunday … 6 = Saturday. */
  days: number[];
  /** "HH:MM", inclusive start. */
  from: string;
  /** "HH:MM", exclusive end; before `from` means the window runs past midnight. */
  to: string;
  /** IANA time zone the hours are read in. */
  timeZone: string;
}
export interface PrincipalRef {
  principalType: PrincipalType;
  principalId: string;
  principalName: string | null;
}

export interface Policy {
  id: string;
  name: string;
  description: string;
  approvers: PrincipalSet;
  approvalsRequired: number;
  preApproved: PrincipalSet;
  defaultWindowMinutes: number;
  maxWindowMinutes: number;
  allowedHours: AllowedHours | null;
  allowedModes: Protocol[];
  mfa: (typeof MFA_MODES)[number];
  trustedNetworks: string[];
  mfaMaxAgeMinutes: number;
  recordingRequired: boolean;
  consentText: string;
  checkoutRequired: boolean;
  /** Rotate the password of the policy's managed secrets after each use (issue 12). */
  rotateAfterUse: boolean;
  reasonRequired: boolean;
  ticketReference: (typeof TICKET_REFERENCE)[number];
  createdAt: number;
  updatedAt: number;
}

export interface PolicyView extends Omit<Policy, 'approvers' | 'preApproved' | 'createdAt' | 'updatedAt'> {
  approvers: PrincipalRef[];
  preApproved: PrincipalRef[];
  createdAt: string;
  updatedAt: string;
}

export interface PolicyInput {
  name?: string;
  description?: string;
  approvers?: { principalType: PrincipalType; principal: string }[];
  approvalsRequired?: number;
  preApproved?: { principalType: PrincipalType; principal: string }[];
  defaultWindowMinutes?: number;
  maxWindowMinutes?: number;
  allowedHours?: AllowedHours | null;
  allowedModes?: Protocol[];
  mfa?: Policy['mfa'];
  trustedNetworks?: string[];
  mfaMaxAgeMinutes?: number;
  recordingRequired?: boolean;
  consentText?: string;
  checkoutRequired?: boolean;
  rotateAfterUse?: boolean;
  reasonRequired?: boolean;
  ticketReference?: Policy['ticketReference'];
}

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;

export function fromRow(r: AccessPoliciesTable): Policy {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    approvers: parseJson<PrincipalSet>(r.approvers, { users: [], groups: [] }),
    approvalsRequired: r.approvalsRequired,
    preApproved: parseJson<PrincipalSet>(r.preApproved, { users: [], groups: [] }),
    defaultWindowMinutes: r.defaultWindowMinutes,
    maxWindowMinutes: r.maxWindowMinutes,
    allowedHours: parseJson<AllowedHours | null>(r.allowedHours, null),
    allowedModes: parseJson<Protocol[]>(r.allowedModes, [...MODES]),
    mfa: r.mfa,
    trustedNetworks: parseJson<string[]>(r.trustedNetworks, []),
    mfaMaxAgeMinutes: r.mfaMaxAgeMinutes,
    recordingRequired: !!r.recordingRequired,
    consentText: r.consentText,
    checkoutRequired: !!r.checkoutRequired,
    rotateAfterUse: !!r.rotateAfterUse,
    reasonRequired: !!r.reasonRequired,
    ticketReference: r.ticketReference,
    createdAt: Number(r.createdAt),
    updatedAt: Number(r.updatedAt),
  };
}

/** Whether the user (or one of their groups) is in the set. */
export const inSet = (s: PrincipalSet, userId: string, groupIds: string[]) => s.users.includes(userId) || s.groups.some((g) => groupIds.includes(g));

function validCidr(c: string): boolean {
  const [addr, bits, ...rest] = c.split('/');
  if (rest.length || !addr) return false;
  const v = isIP(addr);
  if (!v) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d{1,3}$/.test(bits) && n >= 0 && n <= (v === 4 ? 32 : 128);
}

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export class Policies {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditService,
    private readonly dir: Directory,
    private readonly secrets: Secrets,
    private readonly folders: Folders,
  ) {}

  private requireAdmin(p: Principal): void {
    if (!p.permissions.has('administer')) throw forbidden('you need the administer permission to manage access request policies');
  }

  async row(ref: string): Promise<Policy> {
    const r = await this.store.db.selectFrom('accessPolicies').selectAll().where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)])).executeTakeFirst();
    if (!r) throw notFound('access request policy');
    return fromRow(r);
  }

  private async refs(set: PrincipalSet): Promise<PrincipalRef[]> {
    const out: PrincipalRef[] = [];
    for (const id of set.users) {
      const u = await this.store.db.selectFrom('users').select('username').where('id', '=', id).executeTakeFirst();
      out.push({ principalType: 'user', principalId: id, principalName: u?.username ?? null });
    }
    for (const id of set.groups) {
      const g = await this.store.db.selectFrom('groups').select('name').where('id', '=', id).executeTakeFirst();
      out.push({ principalType: 'group', principalId: id, principalName: g?.name ?? null });
    }
    return out;
  }

  async view(pol: Policy): Promise<PolicyView> {
    return { ...pol, approvers: await this.refs(pol.approvers), preApproved: await this.refs(pol.preApproved), createdAt: new Date(pol.createdAt).toISOString(), updatedAt: new Date(pol.updatedAt).toISOString() };
  }

  async list(p: Principal, q: { limit: number; offset: number }): Promise<{ items: PolicyView[]; total: number }> {
    this.requireAdmin(p);
    const { n } = await this.store.db.selectFrom('accessPolicies').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await this.store.db.selectFrom('accessPolicies').selectAll().orderBy('name').limit(q.limit).offset(q.offset).execute();
    const items: PolicyView[] = [];
    for (const r of rows) items.push(await this.view(fromRow(r)));
    return { items, total: Number(n) };
  }

  async get(p: Principal, ref: string): Promise<PolicyView> {
    this.requireAdmin(p);
    return this.view(await this.row(ref));
  }

  private async resolveSet(list: { principalType: PrincipalType; principal: string }[]): Promise<PrincipalSet> {
    const out: PrincipalSet = { users: [], groups: [] };
    for (const e of list) {
      const id = await this.dir.resolvePrincipal(e.principalType, e.principal);
      const into = e.principalType === 'user' ? out.users : out.groups;
      if (!into.includes(id)) into.push(id);
    }
    return out;
  }

  /** How many distinct people may approve (M of "N of M"), counting group members today. */
  private async approverCount(s: PrincipalSet): Promise<number> {
    const ids = new Set(s.users);
    if (s.groups.length) for (const r of await this.store.db.selectFrom('groupMembers').select('userId').where('groupId', 'in', s.groups).execute()) ids.add(r.userId);
    return ids.size;
  }

  private async merge(base: Policy | null, input: PolicyInput): Promise<Omit<Policy, 'id' | 'createdAt' | 'updatedAt'>> {
    const approvers = input.approvers ? await this.resolveSet(input.approvers) : (base?.approvers ?? { users: [], groups: [] });
    const preApproved = input.preApproved ? await this.resolveSet(input.preApproved) : (base?.preApproved ?? { users: [], groups: [] });
    const next = {
      name: input.name ?? base?.name ?? '',
      description: input.description ?? base?.description ?? '',
      approvers,
      approvalsRequired: input.approvalsRequired ?? base?.approvalsRequired ?? 1,
      preApproved,
      defaultWindowMinutes: input.defaultWindowMinutes ?? base?.defaultWindowMinutes ?? 60,
      maxWindowMinutes: input.maxWindowMinutes ?? base?.maxWindowMinutes ?? 480,
      allowedHours: input.allowedHours !== undefined ? input.allowedHours : (base?.allowedHours ?? null),
      allowedModes: input.allowedModes ? [...new Set(input.allowedModes)] : (base?.allowedModes ?? [...MODES]),
      mfa: input.mfa ?? base?.mfa ?? 'never',
      trustedNetworks: input.trustedNetworks ?? base?.trustedNetworks ?? [],
      mfaMaxAgeMinutes: input.mfaMaxAgeMinutes ?? base?.mfaMaxAgeMinutes ?? 5,
      recordingRequired: input.recordingRequired ?? base?.recordingRequired ?? false,
      consentText: input.consentText ?? base?.consentText ?? '',
      checkoutRequired: input.checkoutRequired ?? base?.checkoutRequired ?? false,
      rotateAfterUse: input.rotateAfterUse ?? base?.rotateAfterUse ?? false,
      reasonRequired: input.reasonRequired ?? base?.reasonRequired ?? true,
      ticketReference: input.ticketReference ?? base?.ticketReference ?? 'none',
    };
    if (next.defaultWindowMinutes > next.maxWindowMinutes) throw badRequest('defaultWindowMinutes may not exceed maxWindowMinutes', 'invalid_policy');
    if (next.allowedModes.length === 0) throw badRequest('allowedModes needs at least one mode', 'invalid_policy');
    const m = await this.approverCount(next.approvers);
    if (m === 0 && next.preApproved.users.length === 0 && next.preApproved.groups.length === 0) throw badRequest('a policy needs approvers or pre-approved users/groups', 'invalid_policy');
    if (next.approvalsRequired > m && m > 0) throw badRequest(`approvalsRequired (${next.approvalsRequired}) exceeds the number of approvers (${m})`, 'invalid_policy');
    if (next.allowedHours) {
      const h = next.allowedHours;
      if (!HHMM.test(h.from) || !HHMM.test(h.to) || h.from === h.to) throw badRequest('allowedHours: from and to are different HH:MM times', 'invalid_policy');
      if (!validTimeZone(h.timeZone)) throw badRequest(`allowedHours: unknown time zone "${h.timeZone}"`, 'invalid_policy');
      next.allowedHours = { days: [...new Set(h.days)].sort(), from: h.from, to: h.to, timeZone: h.timeZone };
    }
    const bad = next.trustedNetworks.find((c) => !validCidr(c));
    if (bad !== undefined) throw badRequest(`trustedNetworks: "${bad}" is not an address or CIDR`, 'invalid_policy');
    return next;
  }

  private toRow(v: Omit<Policy, 'id' | 'createdAt' | 'updatedAt'>) {
    return {
      name: v.name,
      description: v.description,
      approvers: JSON.stringify(v.approvers),
      approvalsRequired: v.approvalsRequired,
      preApproved: JSON.stringify(v.preApproved),
      defaultWindowMinutes: v.defaultWindowMinutes,
      maxWindowMinutes: v.maxWindowMinutes,
      allowedHours: v.allowedHours ? JSON.stringify(v.allowedHours) : null,
      allowedModes: JSON.stringify(v.allowedModes),
      mfa: v.mfa,
      trustedNetworks: JSON.stringify(v.trustedNetworks),
      mfaMaxAgeMinutes: v.mfaMaxAgeMinutes,
      recordingRequired: flag(v.recordingRequired),
      consentText: v.consentText,
      checkoutRequired: flag(v.checkoutRequired),
      rotateAfterUse: flag(v.rotateAfterUse),
      reasonRequired: flag(v.reasonRequired),
      ticketReference: v.ticketReference,
    };
  }

  private async nameFree(name: string, except?: string): Promise<void> {
    const r = await this.store.db.selectFrom('accessPolicies').select('id').where('name', '=', name).executeTakeFirst();
    if (r && r.id !== except) throw conflict(`an access request policy named "${name}" exists`, 'name_taken');
  }

  async create(p: Principal, input: PolicyInput & { name: string }): Promise<PolicyView> {
    this.requireAdmin(p);
    await this.nameFree(input.name);
    const v = await this.merge(null, input);
    const id = newId();
    const t = now();
    await this.store.db.insertInto('accessPolicies').values({ id, ...this.toRow(v), createdAt: t, updatedAt: t }).execute();
    await this.audit.record(actorOf(p), { action: 'access_policy.create', target: { type: 'access_policy', id }, details: { ...v } });
    return this.view(await this.row(id));
  }

  async update(p: Principal, ref: string, input: PolicyInput): Promise<PolicyView> {
    this.requireAdmin(p);
    const cur = await this.row(ref);
    if (input.name !== undefined) await this.nameFree(input.name, cur.id);
    const v = await this.merge(cur, input);
    await this.store.db.updateTable('accessPolicies').set({ ...this.toRow(v), updatedAt: now() }).where('id', '=', cur.id).execute();
    await this.audit.record(actorOf(p), { action: 'access_policy.update', target: { type: 'access_policy', id: cur.id }, details: { ...input } });
    return this.view(await this.row(cur.id));
  }

  async remove(p: Principal, ref: string): Promise<void> {
    this.requireAdmin(p);
    const cur = await this.row(ref);
    const s = await this.store.db.selectFrom('secrets').select('id').where('policyId', '=', cur.id).limit(1).executeTakeFirst();
    const f = await this.store.db.selectFrom('folders').select('id').where('policyId', '=', cur.id).limit(1).executeTakeFirst();
    if (s || f) throw conflict('this policy is attached to secrets or folders; detach it first (policyId null)', 'policy_in_use');
    await this.store.db.deleteFrom('accessPolicies').where('id', '=', cur.id).execute();
    await this.audit.record(actorOf(p), { action: 'access_policy.delete', target: { type: 'access_policy', id: cur.id }, details: { name: cur.name } });
  }

  /**
   * Attaches (or with null detaches) a policy on a secret or folder. Needs administer and
   * edit on the object: a secret's editors alone may not lift the approvals it is under.
   */
  async attach(p: Principal, type: 'secret' | 'folder', objectId: string, policyRef: string | null): Promise<void> {
    const change = await this.prepareAttach(p, type, objectId, policyRef);
    await this.store.db.transaction().execute((trx) => change.apply(trx));
    await change.audit();
  }

  /**
   * The same, checked now and saved later inside the transaction of the secret's or folder's
   * other changes (one PATCH: all of it is saved, or none of it).
   */
  async prepareAttach(p: Principal, type: 'secret' | 'folder', objectId: string, policyRef: string | null): Promise<JoinedChange> {
    if (type === 'secret') await this.secrets.require(p, objectId, 'edit');
    else await this.folders.require(p, objectId, 'edit');
    this.requireAdmin(p);
    const policyId = policyRef === null ? null : (await this.row(policyRef)).id;
    return {
      apply: async (trx) => {
        if (type === 'secret') await trx.updateTable('secrets').set({ policyId }).where('id', '=', objectId).execute();
        else await trx.updateTable('folders').set({ policyId }).where('id', '=', objectId).execute();
      },
      audit: async () => {
        await this.audit.record(actorOf(p), { action: policyId ? 'access_policy.attach' : 'access_policy.detach', target: { type, id: objectId }, details: { policyId } });
      },
    };
  }

  /** The id of the nearest policy up a folder chain (the folder's own first); null: none. */
  private async inheritedFrom(folderId: string | null): Promise<string | null> {
    let folder = folderId;
    for (let depth = 0; folder && depth < 64; depth++) {
      const f = await folderPlacement.first(this.store.db, { id: folder });
      if (!f) return null;
      if (f.policyId) return f.policyId;
      folder = f.parentId;
    }
    return null;
  }

  /**
   * Refuses, without administer, moving a secret or folder (`to`: its new folder or parent, null
   * the top) where another policy would be in force for it, or none: the move would lift or
   * swap the approvals, hours, MFA and checkout it is under, which only administrators may do
   * (as attaching a policy needs administer). A secret or folder with a policy of its own keeps it.
   */
  async checkMove(p: Principal, what: { type: 'secret' | 'folder'; id: string }, to: string | null): Promise<void> {
    if (p.permissions.has('administer')) return;
    const row = what.type === 'secret' ? await secretPlacement.first(this.store.db, { id: what.id }).then((r) => r && { policyId: r.policyId, from: r.folderId }) : await folderPlacement.first(this.store.db, { id: what.id }).then((r) => r && { policyId: r.policyId, from: r.parentId });
    if (!row || row.policyId) return;
    const before = await this.inheritedFrom(row.from);
    const after = await this.inheritedFrom(to);
    if (before === after) return;
    const name = async (id: string | null) => (id ? `"${(await this.row(id).catch(() => null))?.name ?? id}"` : 'none');
    throw forbidden(`moving this ${what.type} would change the access request policy it is under (from ${await name(before)} to ${await name(after)}): that needs the administer permission, as attaching a policy does`, 'policy_change_needs_administer');
  }

  /** The policy in force for a secret: its own, else the nearest folder's up the tree; null: none. */
  async effectiveFor(secretId: string): Promise<Policy | null> {
    const s = await secretPlacement.first(this.store.db, { id: secretId });
    if (!s) return null;
    const id = s.policyId || (await this.inheritedFrom(s.folderId));
    return id ? this.row(id).catch(() => null) : null;
  }
}

/** Whether `at` falls in the policy's allowed hours (always, without them). */
export function withinHours(h: AllowedHours | null, at: number): boolean {
  if (!h) return true;
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: h.timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(at));
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(get('weekday'));
  const hm = `${get('hour')}:${get('minute')}`;
  const dayOk = h.days.length === 0 || h.days.includes(day);
  if (h.from < h.to) return dayOk && hm >= h.from && hm < h.to;
  // Past midnight: the part after midnight belongs to the previous day's window.
  if (hm >= h.from) return dayOk;
  return hm < h.to && (h.days.length === 0 || h.days.includes((day + 6) % 7));
}

export const describeHours = (h: AllowedHours) =>
  `${h.days.length ? h.days.map((d) => ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d]).join(',') + ' ' : ''}${h.from}–${h.to} (${h.timeZone})`;
