// The access policy a launch decides under: resolved once per launch (one walk up the
// folders) and handed to every check of that launch — the access gate, MFA step-up, consent
// to recording and the checkout requirement — instead of each resolving it on its own.
//
// Which policy wins between launch and redeem: the one in force at redeem, failing closed.
// The launch remembers, per ticket, which policy (id and version) it decided under; when the
// policy in force at redeem differs (another policy, an edited one, one attached or detached
// since), the ticket is refused and the person launches again, so a step-up or a consent
// taken under the old policy never opens a session under the new one. A ticket this node
// has nothing remembered for (issued before a restart, or by another node) is compared by the
// stamp its row carries (migration 027); only a ticket without one (older) is checked under the
// policy in force at redeem alone.
import { createHash } from 'node:crypto';
import { TicketMemo } from '../ticket-memo.js';
import type { Policies, Policy } from './policies.js';

export const POLICY_CHANGED_MESSAGE = "This secret's access policy changed after your launch: launch again.";

/** What identifies the policy a decision was made under: all of it (two edits in one millisecond still differ); null: no policy. */
const versionOf = (p: Policy | null): string | null => (p ? JSON.stringify(p) : null);

/** The same, short enough for a ticket's row: a SHA-256 of it, or `none`. */
const stampOf = (p: Policy | null): string => {
  const v = versionOf(p);
  return v === null ? 'none' : createHash('sha256').update(v).digest('hex');
};

export class LaunchPolicies {
  /** ticket id → the policy version its launch decided under, until the ticket expires. */
  private readonly decided = new TicketMemo<string | null>();

  constructor(private readonly policies: Policies) {}

  /** The policy in force for a secret (its own, else the nearest folder's), once per launch. */
  resolve(secretId: string): Promise<Policy | null> {
    return this.policies.effectiveFor(secretId);
  }

  /** The launch issued this ticket under this policy. */
  remember(ticketId: string, policy: Policy | null, expiresAt: number): void {
    this.decided.set(ticketId, versionOf(policy), expiresAt);
  }

  /** What a launch's ticket row carries of the policy it decided under (compared at redeem on any node). */
  stamp(policy: Policy | null): string {
    return stampOf(policy);
  }

  /**
   * Whether the policy in force now is not the one this ticket's launch decided under: by this
   * node's memory of the launch, else by the stamp on the ticket's row (`stamped`); false when
   * neither is known (a ticket from before stamps).
   */
  changedSince(ticketId: string, now: Policy | null, stamped: string | null = null): boolean {
    const version = this.decided.get(ticketId);
    if (version !== undefined) return version !== versionOf(now);
    return stamped !== null && stamped !== stampOf(now);
  }

  forget(ticketId: string): void {
    this.decided.delete(ticketId);
  }
}
