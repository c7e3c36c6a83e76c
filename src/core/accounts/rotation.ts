// Password rotation (issue 12, point 2): generate a password per the template's rules,
// change it on the target through the operator, verify it by logging in, and only then
// store it as the secret's new value (the old one kept as a version). A failure leaves the
// old password on the target and in the vault: when the change happened but the new
// password does not verify, the old one is set back. "Rotate after use" runs this when a
// session on the secret ends and when a checkout of it is checked in.
import type { Logger } from 'pino';
import { SYSTEM, type Actor } from '../audit/service.js';
import { AppError, conflict } from '../errors.js';
import { now } from '../util.js';
import { OperatorError, type OperatorCredential } from './operator.js';
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

const oneLine = (e: unknown) => (e instanceof OperatorError || e instanceof AppError ? e.message : 'internal error').split('\n')[0]!.slice(0, 300);

export class Rotation {
  /** One rotation per secret at a time; a second ask joins the first. */
  private readonly running = new Map<string, Promise<{ version: number; at: number }>>();
  /** Background rotations (after use), so shutdown and tests can wait for them. */
  private readonly background = new Set<Promise<unknown>>();

  constructor(
    private readonly accounts: TargetAccounts,
    private readonly isInUse: (secretId: string) => Promise<boolean>,
    private readonly log: Logger,
    /** Whether the access policy in force on the secret asks for rotation after use. */
    private readonly policyWants: (secretId: string) => Promise<boolean> = async () => false,
  ) {}

  /** POST /secrets/:id/rotate and the after-use triggers. */
  rotate(actor: Actor, secretId: string, trigger: RotationTrigger): Promise<{ version: number; at: number }> {
    const cur = this.running.get(secretId);
    if (cur) return cur;
    const p = this.run(actor, secretId, trigger).finally(() => this.running.delete(secretId));
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
    const { operator, account, management } = ctx;
    const old = account.password;
    if (!management && !old) {
      const reason = 'the account has no stored password and no management secret to change it with';
      await this.fail(actor, secretId, trigger, reason, ctx);
      throw conflict(`rotation needs a management secret or a stored password: ${reason}`, 'not_managed');
    }
    const next = generatePassword(ctx.template.passwordRules);
    /** A fresh login with the new password: 'error' when the target gave no answer. */
    const check = () => operator.verify(account, next).catch(() => 'error' as const);
    let verified: 'ok' | 'refused' | 'error' | undefined;
    try {
      await operator.changePassword(account, management, next);
    } catch (e) {
      // No answer in time, or the connection lost: the change may have been applied all the
      // same (the command read its line before it was cut). Then the target holds `next`, and
      // dropping it would lock everyone out; it is kept if it logs in.
      if (!(e instanceof OperatorError && e.failure === 'unreachable' && (verified = await check()) === 'ok')) {
        const reason = oneLine(e);
        await this.fail(actor, secretId, trigger, reason, ctx);
        throw new RotationFailed(reason, e instanceof OperatorError && e.failure === 'invalid');
      }
      this.log.warn({ secretId, err: { message: oneLine(e) } }, 'the password change did not answer in time but the new password logs in: it is kept');
    }
    verified ??= await check();
    if (verified !== 'ok') {
      const restored = await this.restore(ctx, next, old);
      // The old one could not be set back and the new one does log in (the first check had no
      // answer): the new one is what the target holds, so it is stored rather than lost.
      if (!restored.ok && (await check()) === 'ok') this.log.warn({ secretId }, 'a rotation whose check had no answer and whose undo failed: the new password logs in, so it is kept');
      else {
        const reason = `the new password did not work at login (${verified === 'refused' ? 'refused' : 'no answer'}); ${restored.text}`;
        await this.fail(actor, secretId, trigger, reason, ctx);
        throw new RotationFailed(reason);
      }
    }
    let version: number;
    try {
      version = await this.accounts.storeRotated(secretId, next, actor);
    } catch (e) {
      // Changed on the target but not stored: put the old one back rather than lose the account.
      const restored = await this.restore(ctx, next, old);
      const reason = `the new password could not be stored; ${restored.text}`;
      this.log.error({ secretId, err: { message: (e as Error).message } }, 'storing a rotated password failed');
      await this.fail(actor, secretId, trigger, reason, ctx);
      throw new RotationFailed(reason);
    }
    const at = now();
    await this.accounts.record(secretId, { rotationStatus: 'ok', rotationMessage: null, rotationAt: at });
    await this.accounts.auditAs(actor, {
      action: 'secret.rotated',
      target: { type: 'secret', id: secretId },
      details: { name: ctx.secretName, trigger, targetKind: ctx.kind, via: management ? 'management' : 'self', previousVersion: version },
    });
    return { version, at };
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
    while (this.background.size || this.running.size) await Promise.allSettled([...this.background, ...this.running.values()]);
  }
}
