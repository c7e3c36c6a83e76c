// Just-in-time accounts (issue 12, point 4; seed 003 "Handle JIT account provisioning") and
// access levels given to a stored account for one session (point 5). At redeem, a secret
// with JIT on gets a temporary account on its target through the management secret (the
// groups and sudoers drop-in of the chosen level, a random password), Gatehouse waits the
// secret's PSM_Connection_Delay, and the session logs in as that account instead of the
// stored one. Without JIT, a chosen level's groups go to the stored account. When the
// session ends, the account is disabled or removed (the secret says which) or the groups are
// taken away. Every such change is a row in jit_accounts written *before* the target is
// touched, so a sweeper (at start and on a timer) finishes what a crash left behind.
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import type { Store } from '../../store/db.js';
import { prepare, type SlotOf } from '../../store/prepared.js';
import type { JitAccountsTable, SecretJitTable } from '../../store/schema.js';
import { SYSTEM, type AuditService } from '../audit/service.js';
import { AppError, conflict } from '../errors.js';
import type { Sessions } from '../sessions/service.js';
import { newId, now, parseJson } from '../util.js';
import { periodic, type Periodic } from '../periodic.js';
import { TicketMemo } from '../ticket-memo.js';
import type { Credential } from '../vault/secrets.js';
import type { AccessLevel, AccessLevels } from './access-levels.js';
import { GroupLocks } from './group-locks.js';
import { OperatorError } from './operator.js';
import { generatePassword } from './password-rules.js';
import type { AccountContext, TargetAccounts } from './service.js';
import { DEFAULT_JIT, type JitSettings } from './state.js';

// Read at every redeem and session end (prepared once: store/prepared.ts).
const jitOfSecret = prepare((db, slot: SlotOf<{ secretId: string }>) => db.selectFrom('secretJit').selectAll().where('secretId', '=', slot('secretId')));
const activeJitOfSession = prepare((db, slot: SlotOf<{ sessionId: string }>) => db.selectFrom('jitAccounts').selectAll().where('sessionId', '=', slot('sessionId')).where('state', '=', 'active'));

/** Random part of a JIT name: 8 of [a-z0-9] (~41 bits), so names do not repeat and cannot be guessed ahead. */
const SUFFIX = 'abcdefghijklmnopqrstuvwxyz0123456789';
const SWEEP_MS = 60_000;
/**
 * How long a node holds a row it undoes (a few target commands, each bounded by the operator's
 * timeout), and a row it prepares beyond the secret's connection delay. A node that dies
 * holding a row leaves it to the other nodes' sweepers once this has run out.
 */
const LEASE_MS = 5 * 60_000;

/** The groups some grants hold between them (their rows' target groups). */
const groupsOf = (grants: { targetGroups: string }[]): Set<string> => new Set(grants.flatMap((g) => parseJson<string[]>(g.targetGroups, [])));

/** A grant's sudoers drop-in file tag: its row id's hex digits (unique per grant, [a-z0-9]). */
const grantTag = (rowId: string) => rowId.replace(/-/g, '').slice(0, 32).toLowerCase();

export const jitView = (r: SecretJitTable | undefined): JitSettings =>
  r ? { enabled: !!r.enabled, endAction: r.endAction, connectionDelaySeconds: r.connectionDelaySeconds, namePrefix: r.namePrefix } : { ...DEFAULT_JIT };

const oneLine = (e: unknown) => (e instanceof OperatorError || e instanceof AppError ? e.message : 'internal error').split('\n')[0]!.slice(0, 300);

/** What the launch does with a prepared session: start it, or undo the account when it does not start. */
export interface Prepared {
  credential: Credential;
  started(): void;
  abort(): Promise<void>;
}

export class JitAccounts {
  /** Ticket → the access level chosen at launch (tickets live a minute; a restart forgets both). */
  private readonly choices = new TicketMemo<string>();
  /** Sessions between the account's creation and their start: the sweeper leaves them alone. */
  private readonly preparing = new Set<string>();
  private readonly background = new Set<Promise<unknown>>();
  /** Rows being undone (finish), by id. */
  private readonly finishing = new Map<string, Promise<boolean>>();
  private sweeper: Periodic | null = null;
  /** One grant or undo of a stored account's groups at a time, on all nodes. */
  private readonly locks: GroupLocks;

  constructor(
    private readonly store: Store,
    private readonly accounts: TargetAccounts,
    private readonly levels: AccessLevels,
    private readonly sessions: Sessions,
    private readonly audit: AuditService,
    private readonly log: Logger,
    /** How long a grant or undo waits for an account another node changes (group-locks.ts' default: 90 s). */
    groupLockWaitMs?: number,
  ) {
    this.locks = new GroupLocks(store, sessions.node, groupLockWaitMs);
  }

  async settings(secretId: string): Promise<JitSettings> {
    return jitView(await jitOfSecret.first(this.store.db, { secretId }));
  }

  /** The level a launch chose, remembered for its ticket. */
  remember(ticketId: string, levelId: string, expiresAt: number): void {
    this.choices.set(ticketId, levelId, expiresAt);
  }

  private take(ticketId: string | null): string | null {
    if (!ticketId) return null;
    return this.choices.take(ticketId) ?? null;
  }

  /**
   * At redeem, before the session starts: a JIT account (secret with JIT on) or the chosen
   * level's groups on the stored account. Neither: the credential as it is, after one row read
   * (no target round trip).
   */
  async prepare(sessionId: string, secretId: string, ticketId: string | null, cred: Credential, user: { id: string | null; name: string | null; ip: string | null }): Promise<Prepared> {
    const jit = await this.settings(secretId);
    const levelId = this.take(ticketId);
    const same: Prepared = { credential: cred, started: () => {}, abort: async () => {} };
    if (!jit.enabled && !levelId) return same;
    const level: AccessLevel | null = levelId ? await this.levels.level(levelId) : null;
    const ctx = await this.accounts.context(secretId);
    if (!ctx.management) throw conflict('just-in-time accounts and access levels need a management secret on this secret', 'not_managed');
    this.preparing.add(sessionId);
    const groups = level?.targetGroups ?? [];
    const row: JitAccountsTable = {
      id: newId(),
      purpose: jit.enabled ? 'jit' : 'level',
      secretId,
      sessionId,
      targetKind: ctx.kind,
      accountName: jit.enabled ? `${jit.namePrefix}${Array.from({ length: 8 }, () => SUFFIX[randomInt(SUFFIX.length)]).join('')}` : ctx.account.username,
      levelId: level?.id ?? null,
      // A level's row lists its groups once the grant has looked which ones the account had
      // already (its standing memberships, never taken away): until then a crash leaves a row
      // that takes nothing away.
      targetGroups: JSON.stringify(jit.enabled ? groups : []),
      state: 'active',
      message: null,
      createdAt: now(),
      endedAt: null,
      removedAt: null,
      // Held by this node until the session has started: until then no session row says where
      // it lives, and another node's sweeper would take the account for one never started.
      leaseNode: this.sessions.node,
      leaseUntil: now() + jit.connectionDelaySeconds * 1000 + LEASE_MS,
    };
    // Written before the target changes: a crash from here on leaves a row the sweeper finds.
    await this.store.db.insertInto('jitAccounts').values(row).execute();
    const abort = async () => void (await this.finish(row));
    const started = () => {
      this.preparing.delete(sessionId);
      // Its session row now says it is live here; other nodes leave it alone for that. Only this
      // lease: an end of the session may already have taken the row again to undo it.
      void this.track(this.letGo(row.id, this.sessions.node, row.leaseUntil));
    };
    const details = { secret: ctx.secretName, sessionId, account: row.accountName, level: level?.name ?? null, groups, targetKind: ctx.kind };
    /** A level's operator got past its checks and is about to change the account (it looked at the groups). */
    let touching = false;
    try {
      if (jit.enabled) {
        const password = generatePassword(ctx.template.passwordRules);
        await ctx.operator.createAccount(ctx.management, { name: row.accountName, password, groups, ...(level?.sudoers ? { sudoers: level.sudoers } : {}) });
        await this.audit.record(user, { action: 'jit.account_created', target: { type: 'secret', id: secretId }, details });
        if (jit.connectionDelaySeconds > 0) await new Promise((r) => setTimeout(r, jit.connectionDelaySeconds * 1000));
        const fields: Record<string, string | number> = { ...cred.fields, username: row.accountName, password };
        delete fields.privateKey;
        delete fields.passphrase;
        return { credential: { ...cred, username: row.accountName, fields }, started, abort };
      }
      const management = ctx.management;
      let standing: string[] = [];
      // Under the account's lock (group-locks.ts): no undo is taking a group away between the
      // look at the account's groups and this grant's row saying which it holds.
      await this.locks.with(secretId, row.accountName, () =>
        ctx.operator.addToGroups(management, row.accountName, groups, level?.sudoers ? { body: level.sudoers, tag: grantTag(row.id) } : undefined, async (already) => {
          touching = true;
          // In a group already, with no other grant holding it: the account's own membership.
          const held = groupsOf(await this.otherGrants(row));
          standing = already.filter((g) => !held.has(g));
          row.targetGroups = JSON.stringify(groups.filter((g) => !standing.includes(g)));
          await this.store.db.updateTable('jitAccounts').set({ targetGroups: row.targetGroups }).where('id', '=', row.id).execute();
        }),
      );
      await this.audit.record(user, { action: 'access_level.granted', target: { type: 'secret', id: secretId }, details: { ...details, ...(standing.length ? { alreadyIn: standing } : {}) } });
      return { credential: cred, started, abort };
    } catch (e) {
      this.preparing.delete(sessionId);
      const reason = oneLine(e);
      // Whatever part of the set-up was done goes (groups added before a drop-in visudo refused,
      // an account created before the connection was lost): a row marked failed is never swept.
      // When that fails too, the row stays active for the sweeper (jit.cleanup_failed). A JIT
      // account the operator refused ('invalid': a name taken, a group missing) was not created,
      // or was taken out again by the operator itself; the name may be someone else's.
      // A level whose operator never got past its checks (a group missing, the account busy) changed nothing.
      if (jit.enabled ? !(e instanceof OperatorError && e.failure === 'invalid') : touching) await this.finish(row, reason).catch(() => {});
      else await this.store.db.updateTable('jitAccounts').set({ state: 'failed', message: reason, endedAt: now(), leaseNode: null, leaseUntil: 0 }).where('id', '=', row.id).execute();
      await this.audit.record(user, { action: jit.enabled ? 'jit.account_failed' : 'access_level.grant_failed', outcome: 'failure', target: { type: 'secret', id: secretId }, details: { ...details, reason } });
      // Another node changing the account's groups for too long: said as it is (503 account_busy).
      if (e instanceof AppError && e.code === 'account_busy') throw e;
      // A group that does not exist, a drop-in visudo refuses: the person's choice cannot be met (400); the rest is the target (502).
      throw new AppError(e instanceof OperatorError && e.failure === 'invalid' ? 400 : 502, jit.enabled ? 'jit_failed' : 'access_level_failed', `${jit.enabled ? 'the temporary account could not be created' : "the access level's groups could not be given"}: ${reason}`);
    }
  }

  /** Session end: undo what was done for it. */
  async sessionEnded(sessionId: string): Promise<void> {
    const rows = await activeJitOfSession.all(this.store.db, { sessionId });
    await this.track(Promise.allSettled(rows.map((r) => this.finish(r))));
  }

  /** Work settled() waits for; a failure is logged (the row stays for the sweeper). */
  private track(work: Promise<unknown>, failed = 'a JIT account row could not be updated'): Promise<void> {
    const p = work.then(
      () => undefined,
      (e: unknown) => this.log.error({ err: { message: oneLine(e) } }, failed),
    );
    this.background.add(p);
    return p.finally(() => this.background.delete(p));
  }

  /**
   * Disables or removes a JIT account, or takes a level's groups away; a failure stays 'active'
   * for the sweeper. Once per row at a time in this process: a session's end (also one a
   * recovery ends) and the sweeper may reach the same row together; across the nodes of a
   * cluster, by the row's lease (undo). Whether this process took the row.
   */
  private finish(row: JitAccountsTable, failedSetup?: string): Promise<boolean> {
    const going = this.finishing.get(row.id);
    if (going) return going;
    const p = this.undo(row, failedSetup).finally(() => this.finishing.delete(row.id));
    this.finishing.set(row.id, p);
    return p;
  }

  /** `failedSetup`: the set-up failed part way (why): what it did goes, the account removed whatever the end action, and the row ends 'failed'. */
  private async undo(row: JitAccountsTable, failedSetup?: string): Promise<boolean> {
    this.preparing.delete(row.sessionId);
    // Taken with one conditional update, so one node undoes it. Not taken: another finish of it
    // ended after the row was read (nothing left to undo), or another node prepares or undoes
    // it now. This node's own lease is its own (a session it prepared, or one a crash of this
    // node left): this process's finishes of one row are one already (finish).
    const t = now();
    const me = this.sessions.node;
    const taken = await this.store.db
      .updateTable('jitAccounts')
      .set({ leaseNode: me, leaseUntil: t + LEASE_MS })
      .where('id', '=', row.id)
      .where('state', '=', 'active')
      .where((eb) => eb.or([eb('leaseUntil', '<', t), eb('leaseNode', '=', me)]))
      .executeTakeFirst();
    if (!Number(taken.numUpdatedRows)) return false;
    // A sweep read no live session for it, and the node preparing it may have started the
    // session and let the row go since: then it is that node's to undo at the session's end.
    if (await this.liveElsewhere(row.sessionId)) {
      await this.letGo(row.id, me, t + LEASE_MS);
      return false;
    }
    const details = { sessionId: row.sessionId, account: row.accountName, groups: parseJson<string[]>(row.targetGroups, []) };
    try {
      const ctx = await this.accounts.context(row.secretId);
      if (!ctx.management) throw new OperatorError('invalid', 'the secret no longer names a management secret');
      const jit = await this.settings(row.secretId);
      const management = ctx.management;
      let state: JitAccountsTable['state'] = 'removed';
      const markDone = async () => {
        const done = now();
        await this.store.db
          .updateTable('jitAccounts')
          .set({ state: failedSetup ? 'failed' : state, message: failedSetup ?? null, endedAt: done, removedAt: state === 'removed' ? done : null, leaseNode: null, leaseUntil: 0 })
          .where('id', '=', row.id)
          .execute();
      };
      if (row.purpose === 'jit') {
        if (jit.endAction === 'disable' && !failedSetup) {
          await ctx.operator.disableAccount(management, row.accountName);
          state = 'disabled';
        } else await ctx.operator.removeAccount(management, row.accountName);
        await markDone();
      } else {
        // Under the account's lock: the grants looked at here are all there are until this row
        // says it is undone (a grant being made waits, then sees the group gone or held).
        await this.locks.with(row.secretId, row.accountName, async () => {
          // Another live session on the same stored account keeps the groups its own level gave.
          const kept = groupsOf(await this.otherGrants(row));
          const drop = details.groups.filter((g) => !kept.has(g));
          // The grant's own sudoers drop-in goes in any case (one file per grant: the others keep theirs).
          const tag = row.targetKind === 'linux' ? grantTag(row.id) : undefined;
          if (drop.length || tag) await ctx.operator.removeFromGroups(management, row.accountName, drop, tag);
          await markDone();
        });
      }
      // A failed set-up is audited as such by prepare (jit.account_failed, access_level.grant_failed).
      if (!failedSetup) await this.audit.record(SYSTEM, { action: row.purpose === 'jit' ? `jit.account_${state}` : 'access_level.revoked', target: { type: 'secret', id: row.secretId }, details });
    } catch (e) {
      const reason = oneLine(e);
      // Let go, so the next sweep of any node tries again.
      await this.store.db.updateTable('jitAccounts').set({ message: reason, leaseNode: null, leaseUntil: 0 }).where('id', '=', row.id).execute();
      // Said once per reason: a target gone for good would otherwise add an event every minute.
      if (reason !== row.message) {
        await this.audit.record(SYSTEM, { action: 'jit.cleanup_failed', outcome: 'failure', target: { type: 'secret', id: row.secretId }, details: { ...details, reason } });
        this.log.warn({ secretId: row.secretId, sessionId: row.sessionId, err: { message: reason } }, 'undoing a JIT account or access level failed; the sweeper tries again');
      }
    }
    return true;
  }

  /** Lets the row go, if `node` still holds it under that very lease (not one taken since). */
  private async letGo(id: string, node: string, until: number): Promise<void> {
    await this.store.db.updateTable('jitAccounts').set({ leaseNode: null, leaseUntil: 0 }).where('id', '=', id).where('leaseNode', '=', node).where('leaseUntil', '=', until).execute();
  }

  /** The other grants of a level on the same stored account still active (their sessions keep their groups). */
  private otherGrants(row: JitAccountsTable): Promise<{ targetGroups: string }[]> {
    return this.store.db.selectFrom('jitAccounts').select('targetGroups').where('purpose', '=', 'level').where('state', '=', 'active').where('secretId', '=', row.secretId).where('accountName', '=', row.accountName).where('id', '!=', row.id).execute();
  }

  /** Whether the session is live on another node (which undoes its rows when it ends). */
  private async liveElsewhere(sessionId: string): Promise<boolean> {
    const s = await this.store.db.selectFrom('sessions').select(['status', 'node']).where('id', '=', sessionId).executeTakeFirst();
    return s?.status === 'live' && s.node !== this.sessions.node;
  }

  /**
   * Undoes every active row whose session is over: ended, never started, or left 'live' by a
   * crash of this node (reapStale ends those before the sweeper's first run). Sessions live in
   * this process, being prepared (here, or on another node: its lease), or live on another node
   * are left alone.
   */
  async sweep(): Promise<number> {
    const rows = await this.store.db.selectFrom('jitAccounts').selectAll().where('state', '=', 'active').execute();
    let done = 0;
    for (const r of rows) {
      if (this.preparing.has(r.sessionId) || this.sessions.live.has(r.sessionId) || (await this.liveElsewhere(r.sessionId))) continue;
      if (await this.finish(r)) done++;
    }
    return done;
  }

  /** Sweeps now and every minute (server.ts, after the crash recovery of sessions). */
  startSweeper(): void {
    // track() logs a failure and lets settled() wait for the sweep.
    this.sweeper = periodic(() => this.track(this.sweep(), 'the JIT sweeper failed'), SWEEP_MS, () => {}, { now: true });
  }

  /** No more sweeps; resolves once the one under way has finished. */
  async stopSweeper(): Promise<void> {
    const s = this.sweeper;
    this.sweeper = null;
    await s?.stop();
  }

  async settled(): Promise<void> {
    while (this.background.size) await Promise.allSettled([...this.background]);
  }
}
