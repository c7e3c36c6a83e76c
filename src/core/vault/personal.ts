// Personal credentials: a person's own accounts for targets, readable only with their
// master password (separate from the sign-in password). Setting, unlocking, locking,
// changing and resetting the master password; the owner's CRUD of their credentials (secret
// values are never answered); and the two hooks the launch service calls: open a personal
// credential for a launch while the vault is unlocked, and hand it to the door that redeems
// the ticket. Everything is audited, never with a secret value.
import type { Store } from '../../store/db.js';
import { prepare, type SlotOf } from '../../store/prepared.js';
import type { LauncherType, PersonalCredentialsTable } from '../../store/schema.js';
import type { AuditService } from '../audit/service.js';
import { TicketRefused } from '../broker.js';
import { AppError, badRequest, conflict, notFound } from '../errors.js';
import type { Directory } from '../identity/directory.js';
import { checkPasswordPolicy, verifyPassword } from '../identity/passwords.js';
import { actorOf, type Principal } from '../identity/principal.js';
import type { SettingsService } from '../settings.js';
import { newId, now, parseJson } from '../util.js';
import {
  DEFAULT_KDF,
  deriveKek,
  launchRef,
  newKey,
  newSalt,
  openCredential,
  openForTicket,
  sealCredential,
  sealForTicket,
  unwrapVaultKey,
  verifierMatches,
  verifierOf,
  wrapVaultKey,
  type KdfParams,
} from './personal-keys.js';
import { UnlockedVaults } from './personal-unlock.js';
import type { Credential, Secrets } from './secrets.js';

// Looked for at every redeem (prepared once: store/prepared.ts).
const personalLaunchByRef = prepare((db, slot: SlotOf<{ ref: string }>) => db.selectFrom('personalLaunches').selectAll().where('ref', '=', slot('ref')));

/** What the reset must be sent with: forgetting the master password loses the personal credentials. */
export const RESET_CONFIRMATION = 'delete my personal credentials';
/** Seed 003 (OpenPSM): using a personal credential that is not yours. */
export const NOT_YOURS = "Invalid Credential. You cannot use someone else's personal credential.";
export const SECRET_FIELDS = ['password', 'privateKey', 'passphrase'] as const;
type SecretField = (typeof SECRET_FIELDS)[number];
type Protocol = Exclude<LauncherType, 'session-connector'>;
const PROTOCOLS: readonly Protocol[] = ['ssh', 'telnet', 'rdp'];

/** Wrong master password guesses in a row before unlocking pauses for a minute (per person, this process). */
const MAX_GUESSES = 5;
const GUESS_PAUSE_MS = 60_000;

export interface PersonalTarget {
  secretId: string | null;
  machine: string | null;
  port: number | null;
  protocol: Protocol | null;
}

export interface PersonalCredentialView {
  id: string;
  name: string;
  target: PersonalTarget;
  username: string;
  domain: string | null;
  /** Names of the secret fields that hold a value; the values are never answered. */
  secretFields: string[];
  createdAt: string;
  updatedAt: string;
}

export interface PersonalCredentialInput {
  name?: string;
  target?: { secretId?: string | null; machine?: string | null; port?: number | null; protocol?: Protocol | null };
  username?: string;
  domain?: string | null;
  password?: string | null;
  privateKey?: string | null;
  passphrase?: string | null;
}

export interface VaultStatus {
  set: boolean;
  unlocked: boolean;
  idleTimeoutSeconds: number;
}

/** What a launch of a secret with a personal credential connects to (checked against the credential's target). */
export interface LaunchTarget {
  secretId: string;
  machine: string | null;
  port: number;
  protocol: string;
}

const invalidMaster = () => new AppError(401, 'invalid_master_password', 'Invalid Master Password. Enter your master password again.');
const locked = () =>
  new AppError(423, 'personal_vault_locked', 'Your personal credentials are locked: unlock them with your master password first (portal: Unlock; CLI: gatehouse personal unlock; API: POST /api/v1/me/master-password/unlock).');
const noMaster = () => new AppError(409, 'no_master_password', 'You have no master password yet: set one first (PUT /api/v1/me/master-password, or gatehouse personal set-master).');

export class PersonalVault {
  readonly unlocked: UnlockedVaults;
  private readonly guesses = new Map<string, { count: number; until: number }>();

  constructor(
    private readonly store: Store,
    private readonly audit: AuditService,
    private readonly dir: Directory,
    private readonly settings: SettingsService,
    private readonly secrets: Secrets,
  ) {
    this.unlocked = new UnlockedVaults(
      () => this.settings.get('personalUnlockIdleSeconds'),
      async (ids) => new Set((await this.store.db.selectFrom('apiTokens').select('id').where('id', 'in', ids).where('expiresAt', '>', now()).execute()).map((r) => r.id)),
    );
  }

  private vaultRow(userId: string) {
    return this.store.db.selectFrom('personalVaults').selectAll().where('userId', '=', userId).executeTakeFirst();
  }

  async status(p: Principal): Promise<VaultStatus> {
    return { set: !!(await this.vaultRow(p.userId)), unlocked: await this.unlocked.isUnlocked(p.tokenId, p.userId), idleTimeoutSeconds: await this.settings.get('personalUnlockIdleSeconds') };
  }

  private async checkMasterPolicy(p: Principal, masterPassword: string): Promise<void> {
    try {
      checkPasswordPolicy(masterPassword);
    } catch (e) {
      throw new AppError(400, (e as AppError).code, (e as AppError).message.replace(/^password/, 'the master password'));
    }
    const user = await this.dir.userRow(p.userId);
    if (await verifyPassword(user.passwordHash, masterPassword)) throw badRequest('your master password must differ from your sign-in password', 'master_equals_login');
  }

  /** The vault key, when `masterPassword` is right; counts wrong guesses (audited by the caller). */
  private async open(userId: string, masterPassword: string): Promise<Buffer> {
    const row = await this.vaultRow(userId);
    if (!row) throw noMaster();
    const g = this.guesses.get(userId);
    if (g && g.count >= MAX_GUESSES && g.until > now()) {
      throw new AppError(429, 'too_many_attempts', 'too many wrong master passwords: wait a minute and try again', { retryAfterSeconds: Math.ceil((g.until - now()) / 1000) });
    }
    const kek = await deriveKek(masterPassword, Buffer.from(row.salt, 'base64'), parseJson<KdfParams>(row.kdf, DEFAULT_KDF));
    try {
      if (!verifierMatches(kek, userId, row.verifier)) {
        const count = (g && g.until > now() ? g.count : 0) + 1;
        this.guesses.set(userId, { count, until: now() + GUESS_PAUSE_MS });
        throw invalidMaster();
      }
      this.guesses.delete(userId);
      return unwrapVaultKey(kek, row.wrappedKey, userId);
    } finally {
      kek.fill(0);
    }
  }

  /**
   * The person's vault key for a master password entered outside their own sign-in session
   * (OpenPSM getcredential, src/core/openpsm/iam.ts); wrong guesses count as for unlock.
   */
  async openWithMaster(userId: string, masterPassword: string): Promise<Buffer> {
    return this.open(userId, masterPassword);
  }

  /** One of the person's personal credentials opened with their vault key (username, domain and secret values). */
  async openOwn(userId: string, vaultKey: Buffer, credentialId: string): Promise<{ values: Record<string, string>; machine: string | null; port: number | null; protocol: string | null } | null> {
    const row = await this.store.db.selectFrom('personalCredentials').selectAll().where('id', '=', credentialId).executeTakeFirst();
    if (!row || row.userId !== userId) return null;
    return { values: { ...openCredential(vaultKey, userId, row.id, row), username: row.username, ...(row.domain ? { domain: row.domain } : {}) }, machine: row.machine, port: row.port, protocol: row.protocol };
  }

  private async wrapUnder(userId: string, masterPassword: string, vaultKey: Buffer): Promise<{ kdf: string; salt: string; verifier: string; wrappedKey: string }> {
    const salt = newSalt();
    const kek = await deriveKek(masterPassword, salt, DEFAULT_KDF);
    try {
      return { kdf: JSON.stringify(DEFAULT_KDF), salt: salt.toString('base64'), verifier: verifierOf(kek, userId), wrappedKey: wrapVaultKey(kek, vaultKey, userId) };
    } finally {
      kek.fill(0);
    }
  }

  /**
   * Sets the master password (first time), or changes it: the current one is then required,
   * and only the vault key is re-wrapped (under a new salt), so the credentials stay as they
   * are. Either way this session ends up unlocked.
   */
  async setMaster(p: Principal, input: { masterPassword: string; currentMasterPassword?: string }): Promise<VaultStatus> {
    const existing = await this.vaultRow(p.userId);
    if (existing) {
      if (input.currentMasterPassword === undefined) throw conflict('you already have a master password: send currentMasterPassword to change it (or reset it if forgotten)', 'master_password_set');
      let vaultKey: Buffer;
      try {
        vaultKey = await this.open(p.userId, input.currentMasterPassword);
      } catch (e) {
        await this.audit.record(actorOf(p), { action: 'personal.master_change', outcome: 'failure', target: { type: 'user', id: p.userId }, details: { reason: (e as AppError).code ?? 'error' } });
        throw e;
      }
      try {
        await this.checkMasterPolicy(p, input.masterPassword);
        const w = await this.wrapUnder(p.userId, input.masterPassword, vaultKey);
        await this.store.db.updateTable('personalVaults').set({ ...w, updatedAt: now() }).where('userId', '=', p.userId).execute();
        this.unlocked.put(p.tokenId, p.userId, Buffer.from(vaultKey));
      } finally {
        vaultKey.fill(0);
      }
      await this.audit.record(actorOf(p), { action: 'personal.master_change', target: { type: 'user', id: p.userId }, details: { kdf: DEFAULT_KDF.alg } });
      return this.status(p);
    }
    if (input.currentMasterPassword !== undefined) throw noMaster();
    await this.checkMasterPolicy(p, input.masterPassword);
    const vaultKey = newKey();
    const w = await this.wrapUnder(p.userId, input.masterPassword, vaultKey);
    const t = now();
    try {
      await this.store.db.insertInto('personalVaults').values({ userId: p.userId, ...w, createdAt: t, updatedAt: t }).execute();
    } catch {
      vaultKey.fill(0);
      // Two first settings at once: the other one won.
      throw conflict('you already have a master password', 'master_password_set');
    }
    this.unlocked.put(p.tokenId, p.userId, vaultKey);
    await this.audit.record(actorOf(p), { action: 'personal.master_set', target: { type: 'user', id: p.userId }, details: { kdf: DEFAULT_KDF.alg } });
    return this.status(p);
  }

  /** Unlocks this sign-in session; a wrong master password is 401 (enter it again). */
  async unlock(p: Principal, masterPassword: string): Promise<VaultStatus> {
    if (!p.tokenId) throw badRequest('only a signed-in session can be unlocked');
    try {
      this.unlocked.put(p.tokenId, p.userId, await this.open(p.userId, masterPassword));
    } catch (e) {
      await this.audit.record(actorOf(p), { action: 'personal.unlock', outcome: 'failure', target: { type: 'user', id: p.userId }, details: { reason: (e as AppError).code ?? 'error' } });
      throw e;
    }
    await this.audit.record(actorOf(p), { action: 'personal.unlock', target: { type: 'user', id: p.userId }, details: { session: p.tokenKind } });
    return this.status(p);
  }

  async lock(p: Principal): Promise<VaultStatus> {
    const was = this.unlocked.drop(p.tokenId);
    await this.audit.record(actorOf(p), { action: 'personal.lock', target: { type: 'user', id: p.userId }, details: { wasUnlocked: was } });
    return this.status(p);
  }

  /**
   * A forgotten master password: nothing can open the credentials any more, so they are
   * deleted with the vault (after the explicit confirmation) and a new master password can be set.
   */
  async reset(p: Principal, confirm: string): Promise<{ deleted: number }> {
    if (confirm !== RESET_CONFIRMATION) throw badRequest(`resetting deletes your personal credentials for good: send confirm "${RESET_CONFIRMATION}"`, 'confirmation_required');
    const deleted = await this.store.db.transaction().execute(async (trx) => {
      const r = await trx.deleteFrom('personalCredentials').where('userId', '=', p.userId).executeTakeFirst();
      // Launches not yet redeemed keep a row, emptied, so their door refuses instead of using the shared credential.
      await trx.updateTable('personalLaunches').set({ sealed: '' }).where('userId', '=', p.userId).execute();
      await trx.deleteFrom('personalVaults').where('userId', '=', p.userId).execute();
      return Number(r.numDeletedRows);
    });
    this.unlocked.dropUser(p.userId);
    this.guesses.delete(p.userId);
    await this.audit.record(actorOf(p), { action: 'personal.reset', target: { type: 'user', id: p.userId }, details: { deletedCredentials: deleted } });
    return { deleted };
  }

  // ---- the owner's personal credentials

  private view(r: PersonalCredentialsTable): PersonalCredentialView {
    return {
      id: r.id,
      name: r.name,
      target: { secretId: r.targetSecretId, machine: r.machine, port: r.port, protocol: r.protocol as Protocol | null },
      username: r.username,
      domain: r.domain,
      secretFields: parseJson<string[]>(r.secretFields, []),
      createdAt: new Date(r.createdAt).toISOString(),
      updatedAt: new Date(r.updatedAt).toISOString(),
    };
  }

  /** One of the caller's own credentials; someone else's does not exist for them. */
  private async own(p: Principal, id: string): Promise<PersonalCredentialsTable> {
    const r = await this.store.db.selectFrom('personalCredentials').selectAll().where('id', '=', id).where('userId', '=', p.userId).executeTakeFirst();
    if (!r) throw notFound('personal credential');
    return r;
  }

  private async requireKey(p: Principal): Promise<Buffer> {
    const key = await this.unlocked.get(p.tokenId, p.userId);
    if (key) return key;
    if (!(await this.vaultRow(p.userId))) throw noMaster();
    throw locked();
  }

  async list(p: Principal, q: { limit: number; offset: number }): Promise<{ items: PersonalCredentialView[]; total: number }> {
    const base = this.store.db.selectFrom('personalCredentials').where('userId', '=', p.userId);
    const { n } = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await base.selectAll().orderBy('name').orderBy('id').limit(q.limit).offset(q.offset).execute();
    return { items: rows.map((r) => this.view(r)), total: Number(n) };
  }

  async get(p: Principal, id: string): Promise<PersonalCredentialView> {
    return this.view(await this.own(p, id));
  }

  private async checkTarget(p: Principal, t: PersonalTarget): Promise<void> {
    if (!t.secretId && !t.machine) throw badRequest('a personal credential needs a target: target.secretId or target.machine', 'no_target');
    if (t.protocol !== null && !PROTOCOLS.includes(t.protocol)) throw badRequest(`target.protocol must be one of ${PROTOCOLS.join(', ')}`);
    // Only a secret the person can see (a secret they cannot list does not exist for them).
    if (t.secretId) await this.secrets.require(p, t.secretId, 'list');
  }

  private static secretValues(input: PersonalCredentialInput, old: Record<string, string> = {}): Record<string, string> {
    const out = { ...old };
    for (const f of SECRET_FIELDS) {
      const v = input[f];
      if (v === null || v === '') delete out[f];
      else if (v !== undefined) out[f] = v;
    }
    return out;
  }

  async create(p: Principal, input: PersonalCredentialInput & { name: string; username: string; target: NonNullable<PersonalCredentialInput['target']> }): Promise<PersonalCredentialView> {
    const target: PersonalTarget = { secretId: input.target.secretId ?? null, machine: input.target.machine ?? null, port: input.target.port ?? null, protocol: input.target.protocol ?? null };
    await this.checkTarget(p, target);
    const values = PersonalVault.secretValues(input);
    if (!values.password && !values.privateKey) throw badRequest('a personal credential needs a password or a privateKey', 'no_secret');
    const key = await this.requireKey(p);
    const id = newId();
    const t = now();
    await this.store.db
      .insertInto('personalCredentials')
      .values({
        id,
        userId: p.userId,
        name: input.name,
        targetSecretId: target.secretId,
        machine: target.machine,
        port: target.port,
        protocol: target.protocol,
        username: input.username,
        domain: input.domain ?? null,
        secretFields: JSON.stringify(Object.keys(values).sort()),
        ...sealCredential(key, p.userId, id, values),
        createdAt: t,
        updatedAt: t,
      })
      .execute();
    await this.audit.record(actorOf(p), { action: 'personal.credential.create', target: { type: 'personal_credential', id }, details: { name: input.name, target, username: input.username, fields: Object.keys(values).sort() } });
    return this.get(p, id);
  }

  async update(p: Principal, id: string, input: PersonalCredentialInput): Promise<PersonalCredentialView> {
    const row = await this.own(p, id);
    const set: Partial<PersonalCredentialsTable> = { updatedAt: now() };
    if (input.name !== undefined) set.name = input.name;
    if (input.username !== undefined) set.username = input.username;
    if (input.domain !== undefined) set.domain = input.domain;
    if (input.target) {
      const t = input.target;
      const target: PersonalTarget = {
        secretId: t.secretId !== undefined ? t.secretId : row.targetSecretId,
        machine: t.machine !== undefined ? t.machine : row.machine,
        port: t.port !== undefined ? t.port : row.port,
        protocol: t.protocol !== undefined ? t.protocol : (row.protocol as Protocol | null),
      };
      await this.checkTarget(p, target);
      Object.assign(set, { targetSecretId: target.secretId, machine: target.machine, port: target.port, protocol: target.protocol });
    }
    const changesSecret = SECRET_FIELDS.some((f) => input[f] !== undefined);
    if (changesSecret) {
      // New secret values are sealed under a fresh data key: that needs the unlocked vault.
      const key = await this.requireKey(p);
      const values = PersonalVault.secretValues(input, openCredential(key, p.userId, id, row));
      if (!values.password && !values.privateKey) throw badRequest('a personal credential needs a password or a privateKey', 'no_secret');
      Object.assign(set, { secretFields: JSON.stringify(Object.keys(values).sort()), ...sealCredential(key, p.userId, id, values) });
    }
    await this.store.db.updateTable('personalCredentials').set(set).where('id', '=', id).where('userId', '=', p.userId).execute();
    await this.audit.record(actorOf(p), {
      action: 'personal.credential.update',
      target: { type: 'personal_credential', id },
      details: { name: set.name ?? row.name, changed: Object.keys(input).filter((k) => (input as Record<string, unknown>)[k] !== undefined).sort() },
    });
    return this.get(p, id);
  }

  async remove(p: Principal, id: string): Promise<void> {
    const row = await this.own(p, id);
    await this.store.db.transaction().execute(async (trx) => {
      await trx.updateTable('personalLaunches').set({ sealed: '' }).where('credentialId', '=', id).execute();
      await trx.deleteFrom('personalCredentials').where('id', '=', id).where('userId', '=', p.userId).execute();
    });
    await this.audit.record(actorOf(p), { action: 'personal.credential.delete', target: { type: 'personal_credential', id }, details: { name: row.name } });
  }

  // ---- launching with a personal credential (called by the launch service)

  /**
   * Before a launch ticket is issued: checks that the credential is the caller's, their vault
   * is unlocked in this session and the credential is for the launched target, and opens it.
   * The answer's bind() stores it for the door under the issued ticket. Null when the launch
   * names no personal credential (a launch as before).
   */
  async prepareLaunch(p: Principal, credentialId: string | undefined, target: LaunchTarget): Promise<{ bind(ticket: string, expiresAt: number): Promise<void> } | null> {
    if (credentialId === undefined) return null;
    const row = await this.store.db.selectFrom('personalCredentials').selectAll().where('id', '=', credentialId).executeTakeFirst();
    const fail = async (reason: string, e: AppError): Promise<never> => {
      await this.audit.record(actorOf(p), { action: 'personal.credential.use', outcome: 'failure', target: { type: 'personal_credential', id: credentialId }, details: { reason, secretId: target.secretId } });
      throw e;
    };
    if (!row) return fail('not_found', notFound('personal credential'));
    if (row.userId !== p.userId) return fail('not_your_credential', new AppError(403, 'not_your_credential', NOT_YOURS));
    const key = await this.unlocked.get(p.tokenId, p.userId);
    if (!key) return fail('locked', locked());
    const matches =
      (row.targetSecretId ? row.targetSecretId === target.secretId : !!target.machine && row.machine?.toLowerCase() === target.machine.toLowerCase()) &&
      (row.port === null || row.port === target.port) &&
      (row.protocol === null || row.protocol === target.protocol);
    if (!matches) return fail('other_target', badRequest(`personal credential "${row.name}" is for another target than this launch`, 'personal_credential_mismatch'));
    const values = { ...openCredential(key, p.userId, row.id, row), username: row.username, ...(row.domain ? { domain: row.domain } : {}) };
    return {
      bind: async (ticket, expiresAt) => {
        const ref = launchRef(ticket);
        await this.store.db.deleteFrom('personalLaunches').where('expiresAt', '<=', now()).execute();
        await this.store.db.insertInto('personalLaunches').values({ ref, userId: p.userId, credentialId: row.id, sealed: sealForTicket(ticket, ref, values), expiresAt }).execute();
        await this.audit.record(actorOf(p), {
          action: 'personal.credential.use',
          target: { type: 'personal_credential', id: row.id },
          details: { name: row.name, username: row.username, secretId: target.secretId, protocol: target.protocol, ticketExpiresAt: new Date(expiresAt).toISOString() },
        });
      },
    };
  }

  /**
   * Whether the person keeps a personal credential for this secret's target: one bound to
   * the secret, or to its machine (and the launch's protocol, when it names one). Asked by
   * the checkout when the shared credential is taken, for the seed's message; nothing is
   * decrypted but the secret's machine, and only when a machine-bound credential exists.
   */
  async hasFor(userId: string, secretId: string, protocol?: string): Promise<boolean> {
    const rows = await this.store.db.selectFrom('personalCredentials').select(['targetSecretId', 'machine', 'protocol']).where('userId', '=', userId).execute();
    const usable = rows.filter((r) => protocol === undefined || r.protocol === null || r.protocol === protocol);
    if (usable.some((r) => r.targetSecretId === secretId)) return true;
    const byMachine = usable.filter((r) => !r.targetSecretId && r.machine);
    if (!byMachine.length) return false;
    const machine = (await this.secrets.credential(secretId).catch(() => null))?.machine?.toLowerCase();
    return !!machine && byMachine.some((r) => r.machine!.toLowerCase() === machine);
  }

  /**
   * When a ticket is redeemed: the shared credential of the secret, or, for a launch made with
   * a personal credential, that credential in its place (its secret values replace the
   * secret's; the launch record is used up with the ticket).
   */
  async credentialFor(ticket: string, userId: string, shared: Credential): Promise<{ credential: Credential; personal: boolean }> {
    const ref = launchRef(ticket);
    const row = await personalLaunchByRef.first(this.store.db, { ref });
    if (!row) return { credential: shared, personal: false };
    await this.store.db.deleteFrom('personalLaunches').where('ref', '=', ref).execute();
    if (row.userId !== userId) throw new TicketRefused('permission_withdrawn', 'the personal credential belongs to another user');
    const still = await this.store.db.selectFrom('personalCredentials').select('id').where('id', '=', row.credentialId).where('userId', '=', userId).executeTakeFirst();
    if (!still || !row.sealed) throw new TicketRefused('permission_withdrawn', 'the personal credential was deleted after the launch');
    let values: Record<string, string>;
    try {
      values = openForTicket(ticket, ref, row.sealed);
    } catch {
      throw new TicketRefused('permission_withdrawn', 'the personal credential of the launch cannot be opened');
    }
    const fields: Record<string, string | number> = { ...shared.fields };
    for (const f of SECRET_FIELDS) delete fields[f];
    for (const f of SECRET_FIELDS as readonly SecretField[]) if (values[f] !== undefined) fields[f] = values[f]!;
    // The person's own account: its username and domain, never the shared ones.
    fields.username = values.username!;
    delete fields.domain;
    if (values.domain) fields.domain = values.domain;
    return { credential: { ...shared, username: values.username ?? null, domain: values.domain ?? null, fields }, personal: true };
  }
}
