// The launch check of access request policies, asked at launch, at ticket redeem and when a
// door opens a session for a signed-in user: modes, allowed hours, then a grant whose
// window holds now (pre-approved people need none). One message per refusal, written for
// the person, saying what to do. The caller passes the policy in force (resolved once per
// launch, see launch-policy.ts), so the folders are not walked again for each check.
import type { Store } from '../../store/db.js';
import { AppError } from '../errors.js';
import type { Principal } from '../identity/principal.js';
import type { LiveSession } from '../sessions/live.js';
import type { Protocol } from '../launch/launchers.js';
import { parseJson } from '../util.js';
import { describeHours, inSet, withinHours, type Policy } from './policies.js';
import type { GrantWindows } from './windows.js';

export const REQUEST_ACCESS_MESSAGE = 'Access to this secret needs an approved request: request it in the portal (My access) or with `gatehouse access request <secret>`.';

/** Which of these grants are revoked, and by whom (the sweep of windows.ts). */
export const revokedAmong = (store: Store) => async (ids: string[]) =>
  (await store.db.selectFrom('accessGrants').select(['id', 'revokedBy']).where('id', 'in', ids).where('revokedAt', 'is not', null).execute()).map((r) => ({ id: r.id, by: r.revokedBy ?? 'an administrator' }));

export type GateAnswer =
  | { ok: true; grant: { id: string; endAt: number } | null }
  | { ok: false; code: 'access_request_required' | 'access_mode_not_allowed' | 'access_outside_hours' | 'access_not_yet_open'; message: string };

export class AccessGate {
  constructor(
    private readonly store: Store,
    private readonly windows: GrantWindows,
  ) {}

  /** At launch: a refusal is a 403 whose message says how to get access. */
  async requireLaunch(p: Principal, secretId: string, protocol: Protocol, policy: Policy | null): Promise<void> {
    const a = await this.check(p, secretId, protocol, policy);
    if (!a.ok) throw new AppError(403, a.code, a.message);
  }

  /**
   * Once a session under a policy has started: checked again (a grant revoked between the
   * check and the start ends it at once), then watched so it cannot outlive its grant.
   * `groupIds`: the person's groups as the redeem's own check just read them.
   */
  async bind(session: LiveSession, policy: Policy | null, groupIds: string[]): Promise<LiveSession> {
    const { user, credential, protocol } = session.plan;
    const a = await this.check({ userId: user.id, groupIds }, credential.secretId, protocol, policy);
    if (!a.ok) session.terminate(a.message);
    else if (a.grant) this.windows.watch(a.grant.id, a.grant.endAt, session);
    return session;
  }

  /**
   * `protocol` null: a use of the secret that is no session (a reveal, an explicit checkout):
   * the policy's hours and approval hold for it as for a launch, in any mode.
   */
  async check(user: { userId: string; groupIds: string[] }, secretId: string, protocol: Protocol | null, policy: Policy | null, at = Date.now()): Promise<GateAnswer> {
    if (!policy) return { ok: true, grant: null };
    if (protocol && !policy.allowedModes.includes(protocol)) {
      return { ok: false, code: 'access_mode_not_allowed', message: `This secret's access policy does not allow ${protocol.toUpperCase()} sessions (allowed: ${policy.allowedModes.map((m) => m.toUpperCase()).join(', ')}).` };
    }
    if (!withinHours(policy.allowedHours, at)) {
      return { ok: false, code: 'access_outside_hours', message: `Access to this secret is allowed only ${describeHours(policy.allowedHours!)}.` };
    }
    if (inSet(policy.preApproved, user.userId, user.groupIds)) return { ok: true, grant: null };
    const grants = await this.store.db
      .selectFrom('accessGrants')
      .selectAll()
      .where('userId', '=', user.userId)
      .where('secretId', '=', secretId)
      .where('revokedAt', 'is', null)
      .where('endAt', '>', at)
      .orderBy('endAt', 'desc')
      .execute();
    const forMode = protocol ? grants.filter((g) => parseJson<Protocol[]>(g.modes, []).includes(protocol)) : grants;
    const open = forMode.find((g) => g.startAt <= at);
    if (open) return { ok: true, grant: { id: open.id, endAt: Number(open.endAt) } };
    const next = forMode.sort((a, b) => a.startAt - b.startAt)[0];
    if (next) return { ok: false, code: 'access_not_yet_open', message: `Your approved access to this secret opens at ${new Date(Number(next.startAt)).toISOString()}.` };
    return { ok: false, code: 'access_request_required', message: REQUEST_ACCESS_MESSAGE };
  }
}
