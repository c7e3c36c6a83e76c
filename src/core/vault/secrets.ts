// Secrets: metadata is readable to anyone with list access; secret field values are only
// decrypted by reveal (view access, audited) or, server-side, for a connector.
import type { Db, Store } from '../../store/db.js';
import { prepare, type SlotOf } from '../../store/prepared.js';
import type { AccessLevel, Secret } from '../../store/schema.js';
import type { AuditService } from '../audit/service.js';
import { AppError, badRequest, forbidden, notFound } from '../errors.js';
import type { Directory } from '../identity/directory.js';
import { actorOf, type Principal } from '../identity/principal.js';
import { flag, newId, now, own, parseJson } from '../util.js';
import { Access, atLeast, rank, requireOwnerForInheritance, type AclEntry, type AclEntryView } from './access.js';
import type { DataKeys } from './datakeys.js';
import { resolveEntries, type AclInput, type Folders } from './folders.js';
import { splitFields, type Templates, type TemplateView } from './templates.js';
import type { JoinedChange } from './joined-change.js';
import { SecretVersions, type VersionMeta } from './versions.js';
import { accountRow, accountView, jitRow, type AccountView } from '../accounts/state.js';

// Read at every launch and redeem (prepared once: store/prepared.ts).
const secretById = prepare((db, slot: SlotOf<{ id: string }>) => db.selectFrom('secrets').selectAll().where('id', '=', slot('id')));

export interface SecretView {
  id: string;
  name: string;
  template: { id: string; name: string };
  folderId: string | null;
  /** Non-secret field values (machine, port, username, domain, notes …). */
  fields: Record<string, string | number>;
  /** Names of secret fields that hold a value; the values need reveal. */
  secretFields: string[];
  machine: string | null;
  domain: string | null;
  username: string | null;
  inheritPermissions: boolean;
  access: AccessLevel;
  /** The access request policy attached to the secret itself (core/access). */
  policyId: string | null;
  /** How Gatehouse manages the account on its target (issue 12, core/accounts). */
  account: AccountView;
  createdAt: string;
  updatedAt: string;
}

export interface SecretInput {
  name?: string;
  template?: string;
  folderId?: string | null;
  fields?: Record<string, unknown>;
  inheritPermissions?: boolean;
}

/** What a connector needs to open a target: never leaves the server. */
export interface Credential {
  secretId: string;
  secretName: string;
  templateId: string;
  machine: string | null;
  domain: string | null;
  username: string | null;
  fields: Record<string, string | number>;
}

const aad = (id: string) => `secret:${id}`;

/**
 * A secret's row read in a transaction that rewrites its values, locked until commit on
 * PostgreSQL (FOR UPDATE): two such changes (an edit and a rotation's store) go one after the
 * other, each on the other's result. SQLite runs one writing transaction at a time already.
 */
async function lockedRow(trx: Db, kind: Store['kind'], id: string): Promise<Secret> {
  const q = trx.selectFrom('secrets').selectAll().where('id', '=', id);
  const s = await (kind === 'postgres' ? q.forUpdate() : q).executeTakeFirst();
  if (!s) throw notFound('secret');
  return s;
}

/** How long a launch waits for a rotation of its secret on another node before it goes on with the stored password. */
export const LAUNCH_ROTATION_WAIT_MS = 30_000;

export class Secrets {
  /** Earlier values of each secret (kept on every change of its fields). */
  readonly versions: SecretVersions;

  constructor(
    private readonly store: Store,
    private readonly access: Access,
    private readonly dataKeys: DataKeys,
    private readonly templates: Templates,
    private readonly folders: Folders,
    private readonly audit: AuditService,
    private readonly dir: Directory,
  ) {
    this.versions = new SecretVersions(store, dataKeys);
  }

  private async row(id: string): Promise<Secret> {
    const s = await secretById.first(this.store.db, { id });
    if (!s) throw notFound('secret');
    return s;
  }

  /** Loads a secret the principal holds `need` on; a secret they cannot even list does not exist for them. */
  async require(p: Principal, id: string, need: AccessLevel): Promise<{ secret: Secret; level: AccessLevel }> {
    const secret = await this.row(id).catch(() => null);
    if (!secret) throw notFound('secret');
    const level = await this.access.secretLevel(p, secret);
    if (!level) throw notFound('secret');
    if (!atLeast(level, need)) throw forbidden(`you need ${need} access to this secret`);
    return { secret, level };
  }

  private async view(s: Secret, level: AccessLevel, t?: TemplateView): Promise<SecretView> {
    const tpl = t ?? (await this.templates.get(s.templateId));
    const pub = parseJson<Record<string, string | number>>(s.publicFields, {});
    const secretFields = (pub.__set ?? {}) as unknown as Record<string, 1>;
    delete pub.__set;
    const pick = (k: string | null) => (k && own(pub, k) !== undefined ? String(pub[k]) : null);
    return {
      id: s.id,
      name: s.name,
      template: { id: tpl.id, name: tpl.name },
      folderId: s.folderId,
      fields: pub,
      secretFields: Object.keys(secretFields),
      machine: pick(tpl.machineField),
      domain: pick(tpl.domainField),
      username: pick(tpl.usernameField),
      inheritPermissions: !!s.inheritPermissions,
      access: level,
      policyId: s.policyId ?? null,
      account: accountView(await accountRow(this.store.db, s.id), tpl.targetKind, await this.versions.count(s.id), await jitRow(this.store.db, s.id)),
      createdAt: new Date(s.createdAt).toISOString(),
      updatedAt: new Date(s.updatedAt).toISOString(),
    };
  }

  async list(p: Principal, q: { search?: string; folderId?: string; template?: string; limit: number; offset: number }): Promise<{ items: SecretView[]; total: number }> {
    const scope = await this.access.listableScope(p);
    let base = this.store.db.selectFrom('secrets');
    if (!scope.all) {
      if (scope.secretIds.length === 0 && scope.folderIds.length === 0) return { items: [], total: 0 };
      base = base.where((eb) =>
        eb.or([
          ...(scope.secretIds.length ? [eb('id', 'in', scope.secretIds)] : []),
          ...(scope.folderIds.length ? [eb.and([eb('folderId', 'in', scope.folderIds), eb('inheritPermissions', '=', 1)])] : []),
        ]),
      );
    }
    if (q.search) base = base.where('name', 'like', `%${q.search}%`);
    if (q.folderId) base = q.folderId === 'root' ? base.where('folderId', 'is', null) : base.where('folderId', '=', q.folderId);
    if (q.template) base = base.where('templateId', '=', (await this.templates.get(q.template)).id);
    const { n } = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await base.selectAll().orderBy('name').limit(q.limit).offset(q.offset).execute();
    const items: SecretView[] = [];
    for (const r of rows) {
      let level: AccessLevel = 'owner';
      if (!scope.all) {
        const direct = scope.levels.get(r.id) ?? null;
        const inherited = r.inheritPermissions && r.folderId ? (scope.folderLevels.get(r.folderId) ?? null) : null;
        level = (rank(direct) >= rank(inherited) ? direct : inherited)!;
      }
      items.push(await this.view(r, level));
    }
    return { items, total: Number(n) };
  }

  async get(p: Principal, id: string): Promise<SecretView> {
    const { secret, level } = await this.require(p, id, 'list');
    return this.view(secret, level);
  }

  async create(p: Principal, input: SecretInput & { name: string; template: string; fields: Record<string, unknown> }): Promise<SecretView> {
    if (!p.permissions.has('manage_secrets')) throw forbidden('you need the manage_secrets permission to create secrets');
    if (input.folderId != null) await this.folders.require(p, input.folderId, 'edit');
    const tpl = await this.templates.get(input.template);
    const { pub, sec } = splitFields(tpl, input.fields);
    const id = newId();
    const t = now();
    await this.store.db.transaction().execute(async (trx) => {
      const { dataKeyId, sealed } = await this.dataKeys.encrypt(JSON.stringify(sec), aad(id), trx);
      await trx
        .insertInto('secrets')
        .values({
          id,
          name: input.name,
          templateId: tpl.id,
          folderId: input.folderId ?? null,
          publicFields: JSON.stringify({ ...pub, __set: Object.fromEntries(Object.keys(sec).map((k) => [k, 1])) }),
          dataKeyId,
          fieldsEnc: sealed,
          inheritPermissions: flag(input.inheritPermissions ?? true),
          createdBy: p.userId,
          createdAt: t,
          updatedAt: t,
        })
        .execute();
      await trx.insertInto('permissions').values({ objectType: 'secret', objectId: id, principalType: 'user', principalId: p.userId, level: 'owner' }).execute();
    });
    await this.audit.record(actorOf(p), {
      action: 'secret.create',
      target: { type: 'secret', id },
      details: { name: input.name, template: tpl.id, folderId: input.folderId ?? null, fields: Object.keys(input.fields) },
    });
    return this.get(p, id);
  }

  /**
   * Waits, or refuses (409), while the secret's password is being changed on its target
   * (core wires Rotation.settledFor): a value revealed or edited then would be replaced a
   * moment later by the rotation's.
   */
  private valueGuard?: (id: string, waitMs: number) => Promise<void>;
  guardValues(fn: (id: string, waitMs: number) => Promise<void>): void {
    this.valueGuard = fn;
  }
  /**
   * Checks a reveal beyond the secret's ACL (core wires the access policy in force: its hours
   * and approval, and the checkout a secret that requires one needs): 403/409 when refused.
   */
  private revealGuard?: (p: Principal, id: string) => Promise<void>;
  guardReveals(fn: (p: Principal, id: string) => Promise<void>): void {
    this.revealGuard = fn;
  }

  /**
   * Before a secret's values go to a person or an appliance (reveal, the credential-provider
   * API): 409 while another node rotates it. `waitMs` (a launch, OpenPSM): wait for that one
   * instead, that long at most, then go on with the stored value.
   */
  async valuesReady(id: string, waitMs = 0): Promise<void> {
    await this.valueGuard?.(id, waitMs);
  }

  /** Seals a value that belongs with the secret (a rotation's pending password) under its own data key; `purpose` binds it (AAD). */
  async sealFor(id: string, purpose: string, plaintext: string): Promise<string> {
    return this.dataKeys.reseal((await this.row(id)).dataKeyId, plaintext, `${purpose}:${id}`);
  }
  async openFor(id: string, purpose: string, sealed: string): Promise<string> {
    return this.dataKeys.decrypt((await this.row(id)).dataKeyId, sealed, `${purpose}:${id}`);
  }

  /** Checks a move to another folder (the access policy in force: core wires Policies.checkMove). */
  private moveGuard?: (p: Principal, id: string, to: string | null) => Promise<void>;
  guardMoves(fn: (p: Principal, id: string, to: string | null) => Promise<void>): void {
    this.moveGuard = fn;
  }

  /** `joined`: another change saved in the same transaction (a policy attached with the same PATCH). */
  async update(p: Principal, id: string, input: SecretInput, joined?: JoinedChange): Promise<SecretView> {
    const { secret, level } = await this.require(p, id, 'edit');
    const tpl = await this.templates.get(secret.templateId);
    if (input.fields) {
      await this.requireManagementFor(p, id, tpl, Object.keys(input.fields));
      await this.valuesReady(id);
    }
    requireOwnerForInheritance(level, 'secret', secret.inheritPermissions, input.inheritPermissions);
    if (input.folderId != null) await this.folders.require(p, input.folderId, 'edit');
    if (input.folderId !== undefined && input.folderId !== secret.folderId) {
      const after = await this.access.secretLevel(p, { id, folderId: input.folderId, inheritPermissions: input.inheritPermissions === undefined ? secret.inheritPermissions : flag(input.inheritPermissions) });
      await this.access.checkMove(p, 'secret', { from: secret.folderId, to: input.folderId, now: level, after });
      await this.moveGuard?.(p, id, input.folderId);
    }
    const set: Partial<Secret> = { updatedAt: now() };
    if (input.name !== undefined) set.name = input.name;
    if (input.folderId !== undefined) set.folderId = input.folderId;
    if (input.inheritPermissions !== undefined) set.inheritPermissions = flag(input.inheritPermissions);
    await this.store.db.transaction().execute(async (trx) => {
      // The joined change first: a field check below that fails takes it back with the rest.
      await joined?.apply(trx);
      if (input.fields) {
        // The values as they are now (after the wait above), held until commit: a rotation storing
        // its password meanwhile (storeRotated) is not overwritten by what this change read before it.
        const cur = await lockedRow(trx, this.store.kind, id);
        const cleared = Object.entries(input.fields).filter(([, v]) => v === null || v === '').map(([k]) => k);
        const { pub, sec } = splitFields(tpl, input.fields, true);
        const oldPub = parseJson<Record<string, unknown>>(cur.publicFields, {});
        const oldSec = JSON.parse(await this.dataKeys.decrypt(cur.dataKeyId, cur.fieldsEnc, aad(id), trx)) as Record<string, string>;
        delete oldPub.__set;
        const newPub: Record<string, unknown> = { ...oldPub, ...pub };
        const newSec: Record<string, string> = { ...oldSec, ...sec };
        for (const k of cleared) {
          delete newPub[k];
          delete newSec[k];
        }
        for (const fd of tpl.fields) if (fd.required && own(newPub, fd.name) === undefined && own(newSec, fd.name) === undefined) throw badRequest(`field "${fd.name}" is required for template "${tpl.name}"`);
        set.publicFields = JSON.stringify({ ...newPub, __set: Object.fromEntries(Object.keys(newSec).map((k) => [k, 1])) });
        await this.versions.keep(trx, cur, 'update', { id: p.userId, name: p.username });
        set.fieldsEnc = await this.dataKeys.reseal(cur.dataKeyId, JSON.stringify(newSec), aad(id), trx);
      }
      await trx.updateTable('secrets').set(set).where('id', '=', id).execute();
    });
    await joined?.audit();
    await this.audit.record(actorOf(p), {
      action: 'secret.update',
      target: { type: 'secret', id },
      details: { name: input.name ?? secret.name, changedFields: Object.keys(input.fields ?? {}), folderId: input.folderId, inheritPermissions: input.inheritPermissions },
    });
    return this.get(p, id);
  }

  /**
   * A secret whose account another secret manages (rotation, heartbeat and JIT act with that
   * one's credential): changing who the account is (any field but its password or key) needs
   * view on the management secret, as linking it does. Otherwise anyone who may edit the secret
   * could point it at another account the management credential can reset (root, a domain
   * administrator), rotate it, and reveal that account's new password.
   */
  private async requireManagementFor(p: Principal, id: string, tpl: TemplateView, fields: string[]): Promise<void> {
    const m = (await accountRow(this.store.db, id))?.managementSecretId;
    if (!m) return;
    const credential = new Set(tpl.fields.filter((f) => f.type === 'password' || f.type === 'key').map((f) => f.name));
    const identity = fields.filter((k) => !credential.has(k));
    if (!identity.length) return;
    const mayUse = await this.require(p, m, 'view').then(
      () => true,
      (e: unknown) => {
        if (e instanceof AppError && (e.status === 403 || e.status === 404)) return false;
        throw e;
      },
    );
    if (!mayUse) throw forbidden(`this secret's account is managed by another secret: changing ${identity.join(', ')} needs view on the management secret, as linking it does`, 'management_secret_required');
  }

  async remove(p: Principal, id: string): Promise<void> {
    const { secret } = await this.require(p, id, 'owner');
    await this.store.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('permissions').where('objectType', '=', 'secret').where('objectId', '=', id).execute();
      // Its versions and account row go with it; secrets it managed lose the link.
      await trx.deleteFrom('secretVersions').where('secretId', '=', id).execute();
      await trx.deleteFrom('secretAccounts').where('secretId', '=', id).execute();
      await trx.updateTable('secretAccounts').set({ managementSecretId: null }).where('managementSecretId', '=', id).execute();
      await trx.deleteFrom('secrets').where('id', '=', id).execute();
      await trx.deleteFrom('dataKeys').where('id', '=', secret.dataKeyId).execute();
    });
    await this.audit.record(actorOf(p), { action: 'secret.delete', target: { type: 'secret', id }, details: { name: secret.name } });
  }

  /** A reveal's checks (the level, then the access policy: revealGuard); a refusal is audited as a failed `action`. */
  private async requireToReveal(p: Principal, id: string, need: AccessLevel, action: string, details: Record<string, unknown> = {}): Promise<Secret> {
    try {
      const { secret } = await this.require(p, id, need);
      await this.revealGuard?.(p, id);
      return secret;
    } catch (e) {
      await this.audit.record(actorOf(p), { action, outcome: 'failure', target: { type: 'secret', id }, details: { ...details, reason: (e as Error).message } });
      throw e;
    }
  }

  async reveal(p: Principal, id: string): Promise<{ id: string; name: string; template: string; fields: Record<string, string | number> }> {
    const secret = await this.requireToReveal(p, id, 'view', 'secret.reveal');
    await this.valuesReady(id);
    // Read again after the wait: a rotation that ran meanwhile replaced the value.
    const fields = await this.decryptAll(await this.row(id));
    await this.audit.record(actorOf(p), { action: 'secret.reveal', target: { type: 'secret', id }, details: { name: secret.name, fields: Object.keys(fields) } });
    return { id, name: secret.name, template: secret.templateId, fields };
  }

  private async decryptAll(secret: Secret): Promise<Record<string, string | number>> {
    const pub = parseJson<Record<string, string | number>>(secret.publicFields, {});
    delete pub.__set;
    const sec = JSON.parse(await this.dataKeys.decrypt(secret.dataKeyId, secret.fieldsEnc, aad(secret.id))) as Record<string, string>;
    return { ...pub, ...sec };
  }

  /**
   * After a verified rotation (core/accounts/rotation.ts): the new secret values replace the
   * current ones, which are kept as a version first. Answers the number of the kept version.
   * Audited by the caller (secret.rotated), which knows why.
   */
  async storeRotated(id: string, changed: Record<string, string>, by: { id: string; name: string } | null): Promise<number> {
    return this.store.db.transaction().execute(async (trx) => {
      const secret = await lockedRow(trx, this.store.kind, id);
      const cur = JSON.parse(await this.dataKeys.decrypt(secret.dataKeyId, secret.fieldsEnc, aad(id), trx)) as Record<string, string>;
      const kept = await this.versions.keep(trx, secret, 'rotation', by);
      const next = { ...cur, ...changed };
      const pub = parseJson<Record<string, unknown>>(secret.publicFields, {});
      pub.__set = Object.fromEntries(Object.keys(next).map((k) => [k, 1]));
      const fieldsEnc = await this.dataKeys.reseal(secret.dataKeyId, JSON.stringify(next), aad(id), trx);
      await trx.updateTable('secrets').set({ fieldsEnc, publicFields: JSON.stringify(pub), updatedAt: now() }).where('id', '=', id).execute();
      return kept;
    });
  }

  /** GET /secrets/:id/versions: metadata of earlier values (needs view). */
  async listVersions(p: Principal, id: string, q: { limit: number; offset: number }): Promise<{ items: VersionMeta[]; total: number }> {
    await this.require(p, id, 'view');
    return this.versions.list(id, q.limit, q.offset);
  }

  /** POST /secrets/:id/versions/:version/reveal: an earlier version's values, for recovery by an owner (audited). */
  async revealVersion(p: Principal, id: string, version: number): Promise<{ id: string; version: number; fields: Record<string, string | number> }> {
    // As a reveal: an earlier version may hold the password in force (a version is kept at every
    // change of the fields, a note's too), so the access policy and a required checkout hold here as well.
    const secret = await this.requireToReveal(p, id, 'owner', 'secret.version.reveal', { version });
    const fields = await this.versions.values(secret, version);
    await this.audit.record(actorOf(p), { action: 'secret.version.reveal', target: { type: 'secret', id }, details: { name: secret.name, version, fields: Object.keys(fields) } });
    return { id, version, fields };
  }

  /** For connectors only, after a ticket was redeemed: the credential stays on the server. */
  /**
   * Where a secret connects to (machine, port field), without opening the credential when its
   * public fields say it: a launch checks the target before any ticket exists, and needs no
   * password for that. A machine or port kept among the secret fields is decrypted as before.
   */
  async target(secret: Secret, template: TemplateView): Promise<{ machine: string | null; port: string | number | undefined }> {
    const pub = parseJson<Record<string, unknown>>(secret.publicFields, {});
    // __set names the fields kept encrypted; a row without it says nothing, so it is opened.
    const encrypted = pub.__set as Record<string, unknown> | undefined;
    const inPublic = (k: string | null) => !k || (!!encrypted && !Object.hasOwn(encrypted, k));
    if (!encrypted || !inPublic(template.machineField) || !inPublic('port')) {
      const c = await this.credential(secret.id, { secret, template });
      return { machine: c.machine, port: c.fields.port };
    }
    // Read as credential() reads them from its merged fields (pick, fields.port).
    const k = template.machineField;
    return { machine: k && own(pub, k) !== undefined ? String(pub[k]) : null, port: own(pub, 'port') as string | number | undefined };
  }

  /** `known`: the secret's row and template when the caller read them a moment ago (a launch), so they are not read again. */
  async credential(id: string, known: { secret?: Secret; template?: TemplateView } = {}): Promise<Credential> {
    const secret = known.secret?.id === id ? known.secret : await this.row(id);
    const tpl = known.template?.id === secret.templateId ? known.template : await this.templates.get(secret.templateId);
    const fields = await this.decryptAll(secret);
    const pick = (k: string | null) => (k && own(fields, k) !== undefined ? String(fields[k]) : null);
    return { secretId: id, secretName: secret.name, templateId: tpl.id, machine: pick(tpl.machineField), domain: pick(tpl.domainField), username: pick(tpl.usernameField), fields };
  }

  async permissions(p: Principal, id: string): Promise<{ inheritPermissions: boolean; entries: AclEntryView[] }> {
    const { secret } = await this.require(p, id, 'view');
    return { inheritPermissions: !!secret.inheritPermissions, entries: await this.access.entries('secret', id) };
  }

  async setPermissions(p: Principal, id: string, input: AclInput): Promise<{ inheritPermissions: boolean; entries: AclEntryView[] }> {
    const { secret } = await this.require(p, id, 'owner');
    const entries = await resolveEntries(this.dir, input);
    const inherits = input.inheritPermissions ?? !!secret.inheritPermissions;
    this.access.keepActingOwner(p, entries, inherits && secret.folderId ? await this.access.folderLevel(p, secret.folderId) : null);
    await this.access.replace('secret', id, entries);
    if (input.inheritPermissions !== undefined) await this.store.db.updateTable('secrets').set({ inheritPermissions: flag(input.inheritPermissions) }).where('id', '=', id).execute();
    await this.audit.record(actorOf(p), { action: 'secret.share', target: { type: 'secret', id }, details: { name: secret.name, entries, inheritPermissions: input.inheritPermissions } });
    return this.permissions(p, id);
  }
}
