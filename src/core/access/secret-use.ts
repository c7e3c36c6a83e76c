// Uses of a secret that are no session: a reveal of its values and an explicit checkout. They
// are access to the secret as a launch is, so the access policy in force holds for them too:
// its allowed hours and its approval (an open grant, in any mode, unless pre-approved). Else a
// person with view access could read the password an approval stands before, or hold the
// secret away from everyone without one. A secret that requires checkout shows its values to
// the checkout's holder only. Wired into Secrets and Checkouts by core.ts.
import { AppError, conflict } from '../errors.js';
import type { Principal } from '../identity/principal.js';
import type { Checkouts } from '../vault/checkout.js';
import type { AccessGate } from './gate.js';
import type { LaunchPolicies } from './launch-policy.js';
import type { Policy } from './policies.js';

export const CHECKOUT_REQUIRED_MESSAGE = 'this secret requires checkout: check it out first (POST /api/v1/secrets/:id/checkout, or Check out in the portal); its values are shown to the holder only';

export function secretUseGuards(d: { launchPolicies: LaunchPolicies; accessGate: AccessGate; checkouts: Checkouts }) {
  /** The policy's hours and approval; answers the policy in force. 403 with the launch's codes and messages. */
  const allowed = async (p: Principal, secretId: string): Promise<Policy | null> => {
    const policy = await d.launchPolicies.resolve(secretId);
    const a = await d.accessGate.check(p, secretId, null, policy);
    if (!a.ok) throw new AppError(403, a.code, a.message);
    return policy;
  };
  return {
    async reveal(p: Principal, secretId: string): Promise<void> {
      const policy = await allowed(p, secretId);
      if ((await d.checkouts.requireCheckoutFor(secretId, policy?.checkoutRequired ?? false)) && (await d.checkouts.holderOf(secretId)) !== p.userId) throw conflict(CHECKOUT_REQUIRED_MESSAGE, 'checkout_required');
    },
    async checkout(p: Principal, secretId: string): Promise<void> {
      await allowed(p, secretId);
    },
  };
}
