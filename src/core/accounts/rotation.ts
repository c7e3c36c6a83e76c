// Password rotation (issue 12, point 2): generate a password per the template's rules,
// change it on the target through the operator, verify it by logging in, and only then
// store it as the secret's new value (the old one kept as a version). A failure leaves the
// old password on the target and in the vault: when the change happened but the new
// password does not verify, the old one is set back. "Rotate after use" runs this when a
// session on the secret ends and when a checkout of it is checked in.
//
// The new password is written (sealed) to secret_rotations before the target is changed, and
// the row goes once the outcome is stored: a crash between the change and the store, or an
// outcome nobody could tell (the target stopped answering), leaves the row, and the sweeper
// (at start and every minute, on any node) logs in to find which password the target holds and
// stores that one. The row is also the lock across the nodes of a cluster.
import type { Logger } from 'pino';
import { SYSTEM, type Actor } from '../audit/service.js';
import { AppError, conflict } from '../errors.js';
import { now } from '../util.js';
import { periodic, type Periodic } from '../periodic.js';
import { OperatorError, type OperatorCredential } from './operator.js';
import type { PendingRotation, PendingRotations } from './pending-rotations.js';
import { generatePassword } from './password-rules.js';
import type { AccountContext, TargetAccounts } from './service.js';

export type RotationTrigger = 'manual' | 'session_end' | 'checkin' | 'retrieve';

/** A rotation that did not happen: the one-line reason is audited, recorded and answered (502). */
export class RotationFailed extends AppError {
  /** 400 when the secret itself cannot be rotated (e.g. a name that is no valid login), 502 when the target failed. */
  constructor(reason: string, invalid = false) {
    super(invalid ? 400 : 502, 'rotation_failed', `rotation failed, the old password stays in force: ${reason}`);
  }
}

const SWEEP_MS = 60_000;
const STORE_FAILED = 'the new password could not be stored';

const oneLine = (e: unknown) => (e instanceof OperatorError || e instanceof AppError ? e.message : 'internal error').split('\n')[0]!.slice(0, 300);

export class Rotation {
  /** One rotation per secret at a time; a second ask joins the first. */
  private readonly running = new Map<string, Promise<{ version: number; at: number }>>();
  /** Rows of earlier rotations this process's sweep is settling now. */
  private readonly settling = new Map<string, Promise<boolean>>();
  /** Background rotations (after use), so shutdown and tests can wait for them. */
  private readonly background = new Set<Promise<unknown>>();

  constructor(
    private readonly accounts: TargetAccounts,
    private readonly isInUse: (secretId: string) => Promise<boolean>,
    private readonly log: Logger,
    /** Whether the access policy in force on the secret asks for rotation after use. */
    private readonly policyWants: (secretId: string) => Promise<boolean>,
    private readonly pending: PendingRotations,
  ) {}

  /** POST /secrets/:id/rotate and the after-use triggers. */
  rotate(actor: Actor, secretId: string, trigger: RotationTrigger): Promise<{ version: number; at: number }> {
    const cur = this.running.get(secretId);
    if (cur) return cur;
    // A sweep settling an earlier rotation of it here goes first (then this one finds no row).
    const settling = this.settling.get(secretId);
    const p = (settling ? settling.then(() => this.run(actor, secretId, trigger)) : this.run(actor, secretId, trigger)).finally(() => this.running.delete(secretId));
    this.running.set(secretId, p);
    return p;
  }

  private async run(actor: Actor, secretId: string, trigger: RotationTrigger): Promise<{ version: number; at: number }> {
    let ctx: AccountContext;
    try {
      ctx = await this.accounts.context(secretId);
    } catch (e) {
      // Not a managed account (or no operator): nothing was tried, so nothing to record on the secret.
      if (trigger !== 'manual') await this.fail(actor, secretId, trigger, oneLine(e), null);
      throw e;
    }
    const { account, management } = ctx;
    if (!management && !account.password) return this.unmanaged(actor, trigger, ctx);
    const next = generatePassword(ctx.template.passwordRules);
    const row = await this.claim(secretId, trigger, next);
    // Renewed while the target is worked on: a slow target must not let another node take the row.
    const lease = this.pending.keep(row);
    try {
      // Read again under the row: another node's rotation of this secret may have finished
      // between the read above and the claim, and what it stored is what the target holds now
      // (the account changes its own password with it; an undo must set that one back).
      // As at the first read, and nothing was tried on the target: the row goes.
      let held: AccountContext;
      try {
        held = await this.accounts.context(secretId);
      } catch (e) {
        await this.pending.done(row);
        if (trigger !== 'manual') await this.fail(actor, secretId, trigger, oneLine(e), null);
        throw e;
      }
      if (!held.management && !held.account.password) {
        await this.pending.done(row);
        return await this.unmanaged(actor, trigger, held);
      }
      return await this.change(actor, row, held, next);
    } finally {
      await lease.stop();
    }
  }

  /** Refuses an account that nothing can change the password of (recorded as the rotation's outcome). */
  private async unmanaged(actor: Actor, trigger: RotationTrigger, ctx: AccountContext): Promise<never> {
    const reason = 'the account has no stored password and no management secret to change it with';
    await this.fail(actor, ctx.secretId, trigger, reason, ctx);
    throw conflict(`rotation needs a management secret or a stored password: ${reason}`, 'not_managed');
  }

  /** Changes the password on the target under the claimed row, checks it, and stores it (or gives up, keeping the row when the outcome is unclear). */
  private async change(actor: Actor, row: PendingRotation, ctx: AccountContext, next: string): Promise<{ version: number; at: number }> {
    const { operator, account, management, secretId } = ctx;
    const trigger = row.trigger as RotationTrigger;
    const old = account.password;
    /** A fresh login with the new password: 'error' when the target gave no answer. */
    const check = () => operator.verify(account, next).catch(() => 'error' as const);
    /** Gives up: the old password is in force (or nothing better is known); the row goes unless the outcome is unclear. */
    const giveUp = async (reason: string, unclear: boolean, invalid = false): Promise<never> => {
      if (unclear) await this.pending.unsettled(row, reason);
      else await this.pending.done(row);
      await this.fail(actor, secretId, trigger, unclear ? `${reason}; the sweeper tries the new password again` : reason, ctx);
      throw new RotationFailed(reason, invalid);
    };
    let verified: 'ok' | 'refused' | 'error' | undefined;
    try {
      await operator.changePassword(account, management, next);
    } catch (e) {
      // No answer in time, or the connection lost: the change may have been applied all the
      // same (the command read its line before it was cut). Then the target holds `next`, and
      // dropping it would lock everyone out; it is kept if it logs in.
      // Not 'ok' now is no proof: the command may finish a moment later (a replica may catch up),
      // so the row stays and the sweeper tries the new password again.
      const unreachable = e instanceof OperatorError && e.failure === 'unreachable';
      if (!(unreachable && (verified = await check()) === 'ok')) return giveUp(oneLine(e), unreachable, e instanceof OperatorError && e.failure === 'invalid');
      this.log.warn({ secretId, err: { message: oneLine(e) } }, 'the password change did not answer in time but the new password logs in: it is kept');
    }
    verified ??= await check();
    if (verified !== 'ok') {
      const restored = await this.restore(ctx, next, old);
      // The old one could not be set back and the new one does log in (the first check had no
      // answer): the new one is what the target holds, so it is stored rather than lost.
      const again = restored.ok ? 'refused' : await check();
      if (again === 'ok') this.log.warn({ secretId }, 'a rotation whose check had no answer and whose undo failed: the new password logs in, so it is kept');
      else return giveUp(`the new password did not work at login (${verified === 'refused' ? 'refused' : 'no answer'}); ${restored.text}`, again === 'error');
    }
    return this.store(actor, row, ctx, next, { via: management ? 'management' : 'self' });
  }

  /**
   * Writes the row before the target changes. Another rotation's row: one this process runs is
   * joined by rotate() already; one a crash left is settled first; one a live node holds is a 409.
   */
  private async claim(secretId: string, trigger: RotationTrigger, next: string): Promise<PendingRotation> {
    for (let tries = 0; tries < 2; tries++) {
      const row = await this.pending.claim(secretId, trigger, next);
      if (row) return row;
      const held = await this.pending.get(secretId);
      // A lease run out, or this node's own (the running map holds this rotation, so only a crash's row is left here).
      const orphan = held && (held.leaseUntil < now() || held.leaseNode === this.pending.node);
      if (!orphan || !(await this.settle(held))) break;
    }
    // Not recorded as this secret's last rotation: the other one records its own outcome.
    const held = await this.pending.get(secretId);
    throw conflict(
      held?.message ? `an earlier rotation's outcome is not settled yet (${held.message}): the sweeper tries again every minute` : 'another rotation of this secret is running (on another node of the cluster)',
      'rotation_running',
    );
  }

  /** The new password works on the target: stored as the secret's value, the row goes, audited. */
  private async store(actor: Actor, row: PendingRotation, ctx: AccountContext, next: string, details: Record<string, unknown>): Promise<{ version: number; at: number }> {
    const { secretId } = ctx;
    let version: number;
    try {
      version = await this.accounts.storeRotated(secretId, next, actor);
    } catch (e) {
      // Changed on the target but not stored: the row keeps the new password for the sweeper,
      // which stores it once the database takes it (setting the old one back could fail too).
      const again = row.message === STORE_FAILED;
      await this.pending.unsettled(row, STORE_FAILED).catch(() => {});
      // Said once, not at every sweep while the database refuses it.
      if (!again) {
        this.log.error({ secretId, err: { message: (e as Error).message } }, 'storing a rotated password failed; the sweeper stores it later');
        await this.fail(actor, secretId, row.trigger as RotationTrigger, `${STORE_FAILED}; the sweeper stores it later`, ctx).catch(() => {});
      }
      throw new RotationFailed(`${STORE_FAILED}; the sweeper stores it later`);
    }
    // Stored: a row left behind (this delete failing) is found stored already by the sweeper.
    await this.pending.done(row).catch((e) => this.log.warn({ secretId, err: { message: (e as Error).message } }, 'a rotation was stored but its pending row stays; the sweeper removes it'));
    const at = now();
    await this.accounts.record(secretId, { rotationStatus: 'ok', rotationMessage: null, rotationAt: at });
    await this.accounts.auditAs(actor, {
      action: 'secret.rotated',
      target: { type: 'secret', id: secretId },
      details: { name: ctx.secretName, trigger: row.trigger, targetKind: ctx.kind, ...details, previousVersion: version },
    });
    return { version, at };
  }

  /**
   * A row nobody works on (a crash, or an outcome no one could tell): takes it, logs in with the
   * new password, and stores it if it works; if the target refuses it, the old one stays in
   * force and the row goes. No answer: the row stays for the next sweep. Whether it is settled.
   */
  private async settle(orphan: PendingRotation): Promise<boolean> {
    const row = await this.pending.take(orphan);
    if (!row) return false;
    const lease = this.pending.keep(row);
    try {
      return await this.settleHeld(row);
    } finally {
      await lease.stop();
    }
  }

  private async settleHeld(row: PendingRotation): Promise<boolean> {
    const { secretId } = row;
    const trigger = row.trigger as RotationTrigger;
    try {
      const next = await this.pending.pending(row);
      const ctx = await this.accounts.context(secretId);
      // Stored already (the crash came after the store, before the row went).
      if (ctx.account.password === next) {
        await this.pending.done(row);
        return true;
      }
      const verified = await ctx.operator.verify(ctx.account, next).catch(() => 'error' as const);
      if (verified === 'ok') {
        this.log.warn({ secretId }, 'an interrupted rotation: the target holds the new password, which is now stored');
        await this.store(SYSTEM, row, ctx, next, { recovered: true });
        return true;
      }
      if (verified === 'refused') {
        await this.pending.done(row);
        await this.fail(SYSTEM, secretId, trigger, 'an interrupted rotation: the target refused the new password, so the old one stays in force', ctx);
        return true;
      }
      const first = row.message === null;
      await this.pending.unsettled(row, 'an interrupted rotation: the target gave no answer to a login with the new password');
      // Said once, not at every sweep while the target stays away.
      if (first) await this.fail(SYSTEM, secretId, trigger, 'an interrupted rotation: the target gave no answer to a login with the new password; the sweeper tries again', ctx);
      return false;
    } catch (e) {
      const reason = oneLine(e);
      await this.pending.unsettled(row, reason).catch(() => {});
      // Once per reason (a secret no longer managed would say it every minute).
      if (reason !== row.message) this.log.warn({ secretId, err: { message: reason } }, 'settling an interrupted rotation failed; the sweeper tries again');
      return false;
    }
  }

  /** Settles what crashes (of this node or a dead one) and unanswered targets left; at start and every minute. */
  async sweep(): Promise<number> {
    let settled = 0;
    const mine = (id: string) => this.running.has(id) || this.settling.has(id);
    for (const r of await this.pending.orphans(mine)) {
      // A rotation of it this process runs now settles its row itself (claim).
      if (mine(r.secretId)) continue;
      const p = this.settle(r);
      this.settling.set(r.secretId, p);
      try {
        if (await p) settled++;
      } finally {
        this.settling.delete(r.secretId);
      }
    }
    return settled;
  }

  private sweeper: Periodic | null = null;
  startSweeper(): void {
    this.sweeper = periodic(() => this.sweep(), SWEEP_MS, (e) => this.log.warn({ err: { message: oneLine(e) } }, 'the sweep of interrupted rotations failed'), { now: true });
  }
  /** No more sweeps; resolves once the one under way has finished. */
  async stopSweeper(): Promise<void> {
    const s = this.sweeper;
    this.sweeper = null;
    await s?.stop();
  }

  /**
   * Before a secret's values are revealed or edited: a rotation running in this process is
   * waited for; one another node runs is a 409 (its new password replaces the value a moment
   * later). With `waitMs` (a launch), that one is waited for too, that long at most.
   */
  async settledFor(secretId: string, waitMs = 0): Promise<void> {
    const cur = this.running.get(secretId) ?? this.settling.get(secretId);
    if (cur) {
      await cur.catch(() => {});
      return;
    }
    const until = Date.now() + waitMs;
    for (;;) {
      const row = await this.pending.get(secretId);
      if (!row || row.leaseUntil < now()) return;
      if (Date.now() >= until) {
        // A launch goes on with the stored value rather than fail (its login may still work).
        if (waitMs) return;
        throw conflict('the password of this secret is being rotated: try again in a moment', 'rotation_running');
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Sets the old password back after a change that did not verify; says how that went (one line, no secret). */
  private async restore(ctx: AccountContext, changedTo: string, old: string | undefined): Promise<{ ok: boolean; text: string }> {
    if (!old) return { ok: false, text: 'there is no old password to set back' };
    const asNow: OperatorCredential = { ...ctx.account, password: changedTo };
    try {
      await ctx.operator.changePassword(asNow, ctx.management, old);
      return { ok: true, text: 'the old password was set back' };
    } catch (e) {
      this.log.error({ secretId: ctx.secretId, err: { message: oneLine(e) } }, 'setting the old password back after a failed rotation failed');
      return { ok: false, text: `setting the old password back failed too (${oneLine(e)})` };
    }
  }

  private async fail(actor: Actor, secretId: string, trigger: RotationTrigger, reason: string, ctx: AccountContext | null): Promise<void> {
    if (ctx) await this.accounts.record(secretId, { rotationStatus: 'failed', rotationMessage: reason, rotationAt: now() });
    await this.accounts.auditAs(actor, {
      action: 'secret.rotation_failed',
      outcome: 'failure',
      target: { type: 'secret', id: secretId },
      details: { ...(ctx ? { name: ctx.secretName, targetKind: ctx.kind } : {}), trigger, reason },
    });
  }

  /**
   * After use: a session on the secret ended or its checkout was checked in. Rotates in the
   * background when the secret says so and nobody is still using it. Reads one row: a secret
   * without rotation costs no target round trip. `usedUntil`: when the use was over for sure
   * (a session's end written); a rotation that succeeded since has replaced the password it
   * used already, so the sessions of a dead node, ended together by its recovery and told one
   * after another, rotate once, not once each. (Times of two nodes' clocks: keep them in step.)
   */
  async afterUse(secretId: string, trigger: Exclude<RotationTrigger, 'manual'>, usedAccount?: string | null, usedUntil?: number): Promise<void> {
    const row = await this.accounts.row(secretId);
    if (usedUntil !== undefined && row?.rotationStatus === 'ok' && (row.rotationAt ?? 0) >= usedUntil) return;
    // The secret's own setting, else its policy's; a policy's asks only managed accounts (no failure noise for the rest).
    if (!row?.rotateAfterUse && !((await this.policyWants(secretId)) && (await this.accounts.canRotate(secretId)))) return;
    if (await this.isInUse(secretId)) return;
    // A session with someone's personal credential did not use the shared account.
    if (usedAccount !== undefined && usedAccount !== (await this.accounts.username(secretId))) return;
    const p = this.rotate(SYSTEM, secretId, trigger).catch((e) => this.log.warn({ secretId, trigger, err: { message: oneLine(e) } }, 'rotation after use failed'));
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  /** Resolves when the background rotations started so far are done (shutdown, tests). */
  async settled(): Promise<void> {
    while (this.background.size || this.running.size || this.settling.size) await Promise.allSettled([...this.background, ...this.running.values(), ...this.settling.values()]);
  }
}
