// Consent to recording required by an access request policy (recordingRequired with a
// consent text), the same on every door. Consent is given at launch (portal dialog, CLI
// --consent, API `consent: true`: remembered for that one ticket), at the browser terminal
// (consent=1 when it redeems) or at the SSH door for `user:secret` logins (a
// keyboard-interactive prompt answered "yes"). A ticket without consent is refused at the
// door: a BatchMode ticket login cannot be asked, so the launch is where it is taken.
import type { AuditService } from '../audit/service.js';
import { TicketMemo } from '../ticket-memo.js';
import type { Policies, Policy } from './policies.js';

export interface ConsentNeed {
  policyId: string;
  policyName: string;
  text: string;
}

/** The consent a policy requires, or null (no policy, no recording, or no text). */
export function consentNeedOf(p: Policy | null): ConsentNeed | null {
  const text = p?.consentText?.trim();
  return p && p.recordingRequired && text ? { policyId: p.id, policyName: p.name, text } : null;
}

export const CONSENT_REQUIRED_MESSAGE = 'This session is recorded and needs your consent: launch again and agree to the recording (portal launch dialog, or `gatehouse launch <secret> --consent`).';

/** The start of an RDP launch's consent_required message; the policy's text follows it (the CLI shows only the text when it asks). */
export const CONSENT_AT_LAUNCH_MESSAGE = 'This session is recorded: agree to the recording at launch (portal launch dialog, or `gatehouse launch <secret> --consent`).';
/** A launch that carried `consent: false`: the person said no before any ticket existed. */
export const CONSENT_DECLINED_MESSAGE = 'You did not agree to the recording: no session was started.';

type Actor = { id: string | null; name: string | null; ip: string | null };

export class Consents {
  /**
   * Tickets whose launch carried consent, until they expire. Kept in memory: a ticket lives
   * minutes, and after a restart the person launches again (the door refuses, saying so).
   */
  private readonly given = new TicketMemo<true>();

  constructor(
    private readonly policies: Policies,
    private readonly audit: AuditService,
  ) {}

  /** The consent this secret's policy requires, or null (no policy, no recording, or no text). */
  async needFor(secretId: string): Promise<ConsentNeed | null> {
    return consentNeedOf(await this.policies.effectiveFor(secretId));
  }

  /** Consent given at launch for this ticket (by its id). */
  remember(ticketId: string, expiresAt: number): void {
    this.given.set(ticketId, true, expiresAt);
  }

  /** Whether the launch of this ticket carried consent. */
  has(ticketId: string): boolean {
    return this.given.get(ticketId) === true;
  }

  forget(ticketId: string): void {
    this.given.delete(ticketId);
  }

  /** Audits a decision: `session.consent` (given) or `session.consent_declined`, with the policy. */
  async record(actor: Actor, secretId: string, need: ConsentNeed, given: boolean, details: Record<string, unknown>): Promise<void> {
    await this.audit.record(actor, {
      action: given ? 'session.consent' : 'session.consent_declined',
      ...(given ? {} : { outcome: 'failure' as const }),
      target: { type: 'secret', id: secretId },
      details: { decision: given ? 'given' : 'declined', policyId: need.policyId, policy: need.policyName, ...details },
    });
  }
}
