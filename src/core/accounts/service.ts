// Target accounts in the core (issue 12): the registry of account operators (handed in by
// server.ts, as the RDP keyframe provider is), a secret's account settings (management link,
// target kind, rotation and heartbeat), and the credentials operators get, decrypted
// server-side only. Rotation (rotation.ts) and heartbeat (heartbeat.ts) build on it.
import type { Store } from '../../store/db.js';
import type { Actor, AuditService } from '../audit/service.js';
import { badRequest, conflict } from '../errors.js';
import { actorOf, type Principal } from '../identity/principal.js';
import type { Sessions } from '../sessions/service.js';
import { flag } from '../util.js';
import type { Secrets, SecretView } from '../vault/secrets.js';
import type { Templates, TemplateView } from '../vault/templates.js';
import type { AccountOperator, OperatorCredential, TargetKind } from './operator.js';
import { accountRow, effectiveKind, JIT_PREFIX, jitRow, upsertAccount, upsertJit, type AccountRow, type JitSettings } from './state.js';

export interface AccountSettingsInput {
  managementSecretId?: string | null;
  targetKind?: TargetKind | null;
  rotateAfterUse?: boolean;
  heartbeat?: boolean;
  heartbeatIntervalHours?: number | null;
  jit?: Partial<JitSettings>;
}

/** Everything an operation on one secret's account needs, decrypted: never leaves the server. */
export interface AccountContext {
  secretId: string;
  secretName: string;
  kind: TargetKind;
  operator: AccountOperator;
  account: OperatorCredential;
  management: OperatorCredential | null;
  template: TemplateView;
  row: AccountRow | undefined;
}

/** Default SSH port of a Linux target, LDAP port of a directory, RDP port of a Windows target. */
const DEFAULT_PORT: Record<TargetKind, number> = { linux: 22, ldap: 389, windows: 3389 };
/** How far a management chain is followed looking for a cycle. */
const MAX_CHAIN = 32;

export class TargetAccounts {
  private readonly operators = new Map<TargetKind, AccountOperator>();

  constructor(
    private readonly store: Store,
    private readonly secrets: Secrets,
    private readonly templates: Templates,
    private readonly sessions: Sessions,
    private readonly audit: AuditService,
  ) {}

  /** server.ts registers one operator per target kind (protocols/targets/accounts/). */
  provide(op: AccountOperator): void {
    this.operators.set(op.kind, op);
  }

  operator(kind: TargetKind): AccountOperator | undefined {
    return this.operators.get(kind);
  }

  /** For operators: a target's host key against the key pinned for the secret (as sessions pin). */
  checkHostKey(secretId: string, host: string, port: number, keyType: string, fingerprint: string): Promise<'pinned' | 'match' | 'mismatch'> {
    return this.sessions.checkHostKey({ id: null, name: 'gatehouse', ip: null }, secretId, host, port, keyType, fingerprint);
  }

  /** PATCH /secrets/:id `account` (needs edit on the secret; a management secret also needs view). */
  async configure(p: Principal, id: string, input: AccountSettingsInput): Promise<SecretView> {
    const { secret } = await this.secrets.require(p, id, 'edit');
    const set: Partial<AccountRow> = {};
    if (input.managementSecretId !== undefined) {
      const m = input.managementSecretId;
      if (m !== null) {
        if (m === id) throw badRequest('a secret cannot be its own management secret', 'management_cycle');
        // The caller must be able to use it (view: what a launch needs); a secret they cannot see "does not exist".
        await this.secrets.require(p, m, 'view');
        await this.refuseCycle(id, m);
      }
      set.managementSecretId = m;
    }
    if (input.targetKind !== undefined) set.targetKind = input.targetKind;
    await this.refuseHeartbeatOnly(id, secret.templateId, input);
    if (input.rotateAfterUse !== undefined) set.rotateAfterUse = flag(input.rotateAfterUse);
    if (input.heartbeat !== undefined) set.heartbeat = flag(input.heartbeat);
    if (input.heartbeatIntervalHours !== undefined) set.heartbeatIntervalHours = input.heartbeatIntervalHours;
    await upsertAccount(this.store.db, id, set);
    if (input.jit) {
      const j = input.jit;
      if (j.namePrefix !== undefined && !JIT_PREFIX.test(j.namePrefix)) throw badRequest('a JIT name prefix must start with a lower-case letter or "_" and hold only lower-case letters, digits, "_" or "-" (at most 20)', 'invalid_jit');
      if (j.enabled && !(await accountRow(this.store.db, id))?.managementSecretId) throw badRequest('just-in-time accounts need a management secret on this secret (account.managementSecretId)', 'invalid_jit');
      await upsertJit(this.store.db, id, {
        ...(j.enabled !== undefined ? { enabled: flag(j.enabled) } : {}),
        ...(j.endAction !== undefined ? { endAction: j.endAction } : {}),
        ...(j.connectionDelaySeconds !== undefined ? { connectionDelaySeconds: j.connectionDelaySeconds } : {}),
        ...(j.namePrefix !== undefined ? { namePrefix: j.namePrefix } : {}),
      });
    }
    await this.audit.record(actorOf(p), { action: 'secret.account.update', target: { type: 'secret', id }, details: { name: secret.name, ...input } });
    return this.secrets.get(p, id);
  }

  /** Rotation after use and JIT on a kind whose operator only checks passwords (windows) would fail at every use: refused up front. */
  private async refuseHeartbeatOnly(id: string, templateId: string, input: AccountSettingsInput): Promise<void> {
    if (input.targetKind === undefined && !input.rotateAfterUse && !input.jit?.enabled) return;
    const row = await accountRow(this.store.db, id);
    const kind = input.targetKind !== undefined ? input.targetKind ?? (await this.templates.get(templateId)).targetKind : effectiveKind(row, (await this.templates.get(templateId)).targetKind);
    if (!kind || !this.operators.get(kind)?.heartbeatOnly) return;
    const rotate = input.rotateAfterUse ?? !!row?.rotateAfterUse;
    const jit = input.jit?.enabled ?? !!(await jitRow(this.store.db, id))?.enabled;
    if (rotate || jit) throw badRequest(`"${kind}" targets support the heartbeat only: ${rotate ? 'rotation after use' : 'just-in-time accounts'} cannot be turned on`, 'heartbeat_only');
  }

  /** A management chain that comes back to the secret would make each the other's keeper. */
  private async refuseCycle(id: string, management: string): Promise<void> {
    let cur: string | null = management;
    for (let i = 0; cur && i < MAX_CHAIN; i++) {
      const row: AccountRow | undefined = await accountRow(this.store.db, cur);
      cur = row?.managementSecretId ?? null;
      if (cur === id) throw badRequest('that management secret is (through its own management link) managed by this secret: a cycle', 'management_cycle');
    }
  }

  private async credentialOf(secretId: string, kind: TargetKind): Promise<OperatorCredential> {
    const c = await this.secrets.credential(secretId);
    const s = (k: string) => (typeof c.fields[k] === 'string' ? (c.fields[k] as string) : undefined);
    const port = typeof c.fields.port === 'number' ? c.fields.port : Number(c.fields.port ?? DEFAULT_PORT[kind]) || DEFAULT_PORT[kind];
    if (!c.machine) throw conflict(`secret "${c.secretName}" names no machine to manage the account on`, 'not_managed');
    if (!c.username) throw conflict(`secret "${c.secretName}" names no account`, 'not_managed');
    return { secretId, host: c.machine, port, username: c.username, ...(c.domain ? { domain: c.domain } : {}), password: s('password'), privateKey: s('privateKey'), passphrase: s('passphrase'), fields: c.fields };
  }

  /** The decrypted context of an operation on a secret's account; 409 when the secret is not a managed account. */
  async context(secretId: string): Promise<AccountContext> {
    const row = await accountRow(this.store.db, secretId);
    const cred = await this.secrets.credential(secretId);
    const template = await this.templates.get(cred.templateId);
    const kind = effectiveKind(row, template.targetKind);
    if (!kind) throw conflict('this secret is not a managed target account: its template has no target kind and none is set', 'not_managed');
    const operator = this.operators.get(kind);
    if (!operator) throw conflict(`no account operator for "${kind}" targets is available in this server`, 'not_managed');
    const account = await this.credentialOf(secretId, kind);
    const management = row?.managementSecretId ? await this.credentialOf(row.managementSecretId, kind) : null;
    return { secretId, secretName: cred.secretName, kind, operator, account, management, template, row };
  }

  /** Whether Gatehouse can rotate the secret's account (a target kind in force with an operator
   *  that does more than the heartbeat); reads no secret value. */
  async canRotate(secretId: string): Promise<boolean> {
    const s = await this.store.db.selectFrom('secrets').select('templateId').where('id', '=', secretId).executeTakeFirst();
    if (!s) return false;
    const kind = effectiveKind(await accountRow(this.store.db, secretId), (await this.templates.get(s.templateId)).targetKind);
    const op = kind ? this.operators.get(kind) : undefined;
    return !!op && !op.heartbeatOnly;
  }

  /** Secrets whose heartbeat is on (for the schedule). */
  async heartbeatSecrets(): Promise<AccountRow[]> {
    return this.store.db.selectFrom('secretAccounts').selectAll().where('heartbeat', '=', 1).execute();
  }

  /** Stores a verified new password as the secret's value (the old one kept as a version); answers the kept version. */
  storeRotated(secretId: string, password: string, actor: Actor): Promise<number> {
    return this.secrets.storeRotated(secretId, { password }, actor.id ? { id: actor.id, name: actor.name ?? '' } : null);
  }

  /** The account name a secret holds (public metadata). */
  async username(secretId: string): Promise<string | null> {
    return (await this.secrets.credential(secretId)).username;
  }

  async row(secretId: string): Promise<AccountRow | undefined> {
    return accountRow(this.store.db, secretId);
  }

  async record(secretId: string, set: Partial<Omit<AccountRow, 'secretId' | 'updatedAt'>>): Promise<void> {
    await upsertAccount(this.store.db, secretId, set);
  }

  /** Audits as the system when no person asked. */
  async auditAs(actor: Actor, event: Parameters<AuditService['record']>[1]): Promise<void> {
    await this.audit.record(actor, event);
  }
}
