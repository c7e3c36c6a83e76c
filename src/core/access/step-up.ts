// MFA step-up per launch: when a secret's access policy asks for a second factor (always,
// or when the client address is outside the policy's trusted networks), a launch needs a
// second-factor verification (a TOTP or recovery code, or a security key / passkey) within the
// policy's mfaMaxAgeMinutes, even for a signed-in person.
// A verification is remembered in memory per token (the browser session or API token that
// made it), per gateway node: a restart asks again, which errs on the safe side. The launch
// checks take the policy its caller resolved once (launch-policy.ts).
import { BlockList, isIP } from 'node:net';
import { AppError } from '../errors.js';
import { MFA_NOT_ENROLLED_MESSAGE, type Auth, type KeyAssertion } from '../identity/auth.js';
import type { Policies, Policy } from './policies.js';

export const MFA_REQUIRED_MESSAGE = (minutes: number) =>
  `This secret's access policy needs a fresh second-factor check: verify a TOTP code or a security key (portal: enter the code or use the key when asked; CLI: --totp <code>; API: POST /api/v1/auth/step-up {code}, or "totp" in the launch body, or a key through /api/v1/auth/step-up/webauthn), then launch again. A check holds for ${minutes} minute${minutes === 1 ? '' : 's'}.`;

/** An address as BlockList reads it: IPv4-mapped IPv6 as plain IPv4. */
function normalise(ip: string): { addr: string; family: 'ipv4' | 'ipv6' } | null {
  const bare = ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '').split('%')[0]!;
  const v = isIP(bare);
  return v === 4 ? { addr: bare, family: 'ipv4' } : v === 6 ? { addr: bare, family: 'ipv6' } : null;
}

/** Whether an address lies in one of these CIDRs (or bare addresses). */
export function inNetworks(ip: string | null, networks: string[]): boolean {
  const a = ip ? normalise(ip) : null;
  if (!a || networks.length === 0) return false;
  const list = new BlockList();
  for (const n of networks) {
    const [addr, bits] = n.split('/') as [string, string | undefined];
    const na = normalise(addr);
    if (!na) continue;
    const prefix = bits === undefined ? (na.family === 'ipv4' ? 32 : 128) : Number(bits);
    list.addSubnet(na.addr, prefix, na.family);
  }
  return list.check(a.addr, a.family);
}

/** Whether this policy asks for a second factor from this address. */
export function stepUpNeeded(policy: Policy | null, clientIp: string | null): boolean {
  if (!policy || policy.mfa === 'never') return false;
  return policy.mfa === 'always' || !inNetworks(clientIp, policy.trustedNetworks);
}

export class StepUp {
  /** token id (or a door's own key) → when its holder last verified a code. */
  private readonly verified = new Map<string, number>();
  /** The clock: tests move it instead of waiting. */
  now: () => number = Date.now;

  constructor(
    private readonly auth: Auth,
    private readonly policies: Policies,
  ) {}

  /** Checks the caller's code or security key answer (rate-limited, audited) and records the time on their token. */
  async verify(who: { userId: string; key: string }, code: string | KeyAssertion, ip: string | null, via: string): Promise<{ verifiedAt: number }> {
    await this.auth.checkStepUpCode(who.userId, code, ip, via);
    const at = this.now();
    if (this.verified.size > 50_000) this.verified.clear();
    this.verified.set(who.key, at);
    return { verifiedAt: at };
  }

  /** The policy in force when it asks this address for a second factor, else null (a door asks before it knows more). */
  async requirement(secretId: string, clientIp: string | null): Promise<Policy | null> {
    const policy = await this.policies.effectiveFor(secretId);
    return stepUpNeeded(policy, clientIp) ? policy : null;
  }

  fresh(key: string, maxAgeMinutes: number): boolean {
    const at = this.verified.get(key);
    return at !== undefined && this.now() - at <= maxAgeMinutes * 60_000;
  }

  /** A code asked by a door (after a key login): true when it is right; nothing is remembered. */
  async verifyAtDoor(userId: string, code: string, ip: string): Promise<boolean> {
    try {
      await this.auth.checkStepUpCode(userId, code, ip, 'ssh');
      return true;
    } catch (e) {
      if (e instanceof AppError) return false;
      throw e;
    }
  }

  /** For a door login (`ssh user:secret`): why it may not open a session, when the policy asks for a second factor the door did not verify in time. */
  async doorProblem(userId: string, policy: Policy | null, clientIp: string, secondFactorAt: number | undefined): Promise<string | null> {
    if (!stepUpNeeded(policy, clientIp) || !policy) return null;
    if (secondFactorAt !== undefined && this.now() - secondFactorAt <= policy.mfaMaxAgeMinutes * 60_000) return null;
    return (await this.auth.hasSecondFactor(userId)) ? 'the access policy needs a second factor: answer the verification code prompt (keyboard-interactive)' : MFA_NOT_ENROLLED_MESSAGE;
  }

  /** At launch: passes, verifies the `totp` shortcut, or refuses with mfa_required. */
  async requireLaunch(who: { userId: string; key: string }, policy: Policy | null, clientIp: string | null, totp?: string): Promise<void> {
    if (!stepUpNeeded(policy, clientIp) || !policy) return;
    if (totp !== undefined) await this.verify(who, totp, clientIp, 'launch');
    if (!this.fresh(who.key, policy.mfaMaxAgeMinutes)) {
      if (!(await this.auth.hasSecondFactor(who.userId))) throw new AppError(403, 'mfa_not_enrolled', MFA_NOT_ENROLLED_MESSAGE);
      // 403, not 401: the caller is signed in (the portal reads any 401 as an expired session).
      throw new AppError(403, 'mfa_required', MFA_REQUIRED_MESSAGE(policy.mfaMaxAgeMinutes));
    }
  }
}
