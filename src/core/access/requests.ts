// Access requests, approvals and grants. A person with view on a secret under a policy asks
// for a window (start/end, the seed's CheckOutStartDate/CheckOutEndDate, or the policy's
// default length) with a reason; approvers decide — N of M approvals open a grant, one
// denial closes the request, nobody decides on their own request — and pre-approved people
// get their grant at once. A grant can be revoked early, which ends the sessions under it.
import type { Store } from '../../store/db.js';
import type { AccessRequestsTable } from '../../store/schema.js';
import type { AuditService } from '../audit/service.js';
import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import { actorOf, type Principal } from '../identity/principal.js';
import type { Protocol } from '../launch/launchers.js';
import { newId, now, parseJson } from '../util.js';
import type { Secrets } from '../vault/secrets.js';
import type { Notifier } from './notify.js';
import { inSet, type Policies, type Policy } from './policies.js';
import { revokedReason, type GrantWindows } from './windows.js';

export type RequestStatus = 'pending' | 'approved' | 'denied' | 'cancelled' | 'revoked' | 'expired';

export interface RequestView {
  id: string;
  secret: { id: string; name: string };
  requester: { id: string; name: string };
  policy: { id: string; name: string };
  reason: string;
  ticketRef: string | null;
  modes: Protocol[];
  start: string;
  end: string;
  approvalsRequired: number;
  decisions: { approverId: string; approverName: string; decision: 'approve' | 'deny'; comment: string; at: string }[];
  status: RequestStatus;
  grant: { id: string; start: string; end: string; revokedAt: string | null; revokedBy: string | null } | null;
  /** Whether the caller may approve or deny it now. */
  canDecide: boolean;
  /** The access level (issue 12) the request asks for; null: none. */
  accessLevel: { id: string; name: string } | null;
  createdAt: string;
  decidedAt: string | null;
}

export interface RequestInput {
  secretId: string;
  reason?: string;
  ticketRef?: string;
  start?: string;
  end?: string;
  modes?: Protocol[];
  /** An access level (id or name) of the secret that the approval lets the requester use (issue 12). */
  accessLevel?: string;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
/** A start this far in the past still means "now" (clocks and typing differ a little). */
const PAST_SLACK_MS = 5 * 60_000;

export class AccessRequests {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditService,
    private readonly secrets: Secrets,
    private readonly policies: Policies,
    private readonly windows: GrantWindows,
    private readonly notifier: Notifier,
  ) {}

  private async row(id: string): Promise<AccessRequestsTable> {
    const r = await this.store.db.selectFrom('accessRequests').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw notFound('access request');
    return r;
  }

  private async mayDecide(p: Principal, r: AccessRequestsTable, policy: Policy | null): Promise<boolean> {
    if (!policy || r.status !== 'pending' || r.requesterId === p.userId) return false;
    if (!inSet(policy.approvers, p.userId, p.groupIds)) return false;
    const mine = await this.store.db.selectFrom('accessApprovals').select('decision').where('requestId', '=', r.id).where('approverId', '=', p.userId).executeTakeFirst();
    return !mine;
  }

  private async view(p: Principal, r: AccessRequestsTable): Promise<RequestView> {
    const policy = await this.policies.row(r.policyId).catch(() => null);
    const decisions = await this.store.db.selectFrom('accessApprovals').selectAll().where('requestId', '=', r.id).orderBy('at').execute();
    const g = await this.store.db.selectFrom('accessGrants').selectAll().where('requestId', '=', r.id).executeTakeFirst();
    let status: RequestStatus = r.status;
    if (g?.revokedAt) status = 'revoked';
    else if (g && Number(g.endAt) <= now()) status = 'expired';
    else if (r.status === 'pending' && Number(r.endAt) <= now()) status = 'expired';
    return {
      id: r.id,
      secret: { id: r.secretId, name: r.secretName },
      requester: { id: r.requesterId, name: r.requesterName },
      policy: { id: r.policyId, name: policy?.name ?? '(deleted)' },
      reason: r.reason,
      ticketRef: r.ticketRef,
      modes: parseJson<Protocol[]>(r.modes, []),
      start: iso(r.startAt)!,
      end: iso(r.endAt)!,
      approvalsRequired: r.approvalsRequired,
      decisions: decisions.map((d) => ({ approverId: d.approverId, approverName: d.approverName, decision: d.decision, comment: d.comment, at: iso(d.at)! })),
      status,
      grant: g ? { id: g.id, start: iso(g.startAt)!, end: iso(g.endAt)!, revokedAt: iso(g.revokedAt), revokedBy: g.revokedBy } : null,
      canDecide: status === 'pending' && (await this.mayDecide(p, r, policy)),
      accessLevel: r.accessLevelId ? { id: r.accessLevelId, name: (await this.store.db.selectFrom('accessLevels').select('name').where('id', '=', r.accessLevelId).executeTakeFirst())?.name ?? '(deleted)' } : null,
      createdAt: iso(r.createdAt)!,
      decidedAt: iso(r.decidedAt),
    };
  }

  /**
   * mine: the caller's requests; approve: pending requests the caller may decide; all:
   * everyone's (administrators).
   */
  async list(p: Principal, q: { scope: 'mine' | 'approve' | 'all'; limit: number; offset: number }): Promise<{ items: RequestView[]; total: number }> {
    let rows: AccessRequestsTable[];
    if (q.scope === 'mine') rows = await this.store.db.selectFrom('accessRequests').selectAll().where('requesterId', '=', p.userId).orderBy('createdAt', 'desc').execute();
    else if (q.scope === 'all') {
      if (!p.permissions.has('administer')) throw forbidden('you need the administer permission to see everyone\'s access requests');
      rows = await this.store.db.selectFrom('accessRequests').selectAll().orderBy('createdAt', 'desc').execute();
    } else {
      const pending = await this.store.db.selectFrom('accessRequests').selectAll().where('status', '=', 'pending').where('endAt', '>', now()).orderBy('createdAt').execute();
      rows = [];
      for (const r of pending) if (await this.mayDecide(p, r, await this.policies.row(r.policyId).catch(() => null))) rows.push(r);
    }
    const items: RequestView[] = [];
    for (const r of rows.slice(q.offset, q.offset + q.limit)) items.push(await this.view(p, r));
    return { items, total: rows.length };
  }

  /** The requester, an approver of its policy, or an administrator may read a request. */
  async get(p: Principal, id: string): Promise<RequestView> {
    const r = await this.row(id);
    const policy = await this.policies.row(r.policyId).catch(() => null);
    if (r.requesterId !== p.userId && !p.permissions.has('administer') && !(policy && inSet(policy.approvers, p.userId, p.groupIds))) throw notFound('access request');
    return this.view(p, r);
  }

  /** The access levels of a secret (core/accounts/access-levels.ts, handed in by core.ts: access knows no accounts). */
  private levelsOf: (secretId: string) => Promise<{ id: string; name: string; needsApproval: boolean }[]> = async () => [];
  setAccessLevels(fn: (secretId: string) => Promise<{ id: string; name: string; needsApproval: boolean }[]>): void {
    this.levelsOf = fn;
  }
  private async levelOf(secretId: string, ref: string): Promise<{ id: string; name: string; needsApproval: boolean } | null> {
    return (await this.levelsOf(secretId)).find((l) => l.id === ref || l.name === ref) ?? null;
  }

  async create(p: Principal, input: RequestInput): Promise<RequestView> {
    if (!p.permissions.has('launch')) throw forbidden('you need the launch permission to request access');
    const { secret } = await this.secrets.require(p, input.secretId, 'view');
    const policy = await this.policies.effectiveFor(secret.id);
    if (!policy) throw badRequest('this secret has no access request policy: launch it directly', 'no_policy');
    const reason = (input.reason ?? '').trim();
    if (policy.reasonRequired && !reason) throw badRequest('a reason is required for access to this secret', 'reason_required');
    const ticketRef = input.ticketRef?.trim() || null;
    if (policy.ticketReference === 'required' && !ticketRef) throw badRequest('a ticket-system reference (ticketRef) is required for access to this secret', 'ticket_ref_required');
    const modes = input.modes?.length ? [...new Set(input.modes)] : policy.allowedModes;
    const notAllowed = modes.filter((m) => !policy.allowedModes.includes(m));
    if (notAllowed.length) throw badRequest(`mode ${notAllowed.join(', ')} is not allowed by the policy (allowed: ${policy.allowedModes.join(', ')})`, 'mode_not_allowed');
    const t = now();
    const parse = (v: string, what: string) => {
      const ms = Date.parse(v);
      if (Number.isNaN(ms)) throw badRequest(`${what} is not a date and time (ISO 8601)`, 'invalid_window');
      return ms;
    };
    let start = input.start ? parse(input.start, 'start') : t;
    if (start < t - PAST_SLACK_MS) throw badRequest('start lies in the past', 'invalid_window');
    start = Math.max(start, t);
    const end = input.end ? parse(input.end, 'end') : start + policy.defaultWindowMinutes * 60_000;
    if (end <= start) throw badRequest('end must come after start', 'invalid_window');
    if (end - start > policy.maxWindowMinutes * 60_000) throw badRequest(`the window may last at most ${policy.maxWindowMinutes} minutes`, 'window_too_long');
    // A level the approval will let the requester use: it must apply to this secret.
    const level = input.accessLevel ? await this.levelOf(secret.id, input.accessLevel) : null;
    if (input.accessLevel && !level) throw badRequest(`access level "${input.accessLevel.slice(0, 128)}" does not apply to this secret`, 'unknown_access_level');
    // The policy's pre-approval is for the secret: a level that needs approval is approved by
    // the policy's approvers (its own pre-approved are its members, who need no request).
    const preApproved = inSet(policy.preApproved, p.userId, p.groupIds) && !level?.needsApproval;
    const id = newId();
    await this.store.db
      .insertInto('accessRequests')
      .values({
        id,
        secretId: secret.id,
        secretName: secret.name,
        requesterId: p.userId,
        requesterName: p.username,
        policyId: policy.id,
        reason,
        ticketRef,
        modes: JSON.stringify(modes),
        startAt: start,
        endAt: end,
        approvalsRequired: preApproved ? 0 : policy.approvalsRequired,
        status: 'pending',
        decidedAt: null,
        createdAt: t,
        accessLevelId: level?.id ?? null,
      })
      .execute();
    await this.audit.record(actorOf(p), {
      action: 'access.request',
      target: { type: 'secret', id: secret.id },
      details: { requestId: id, secret: secret.name, policy: policy.name, reason, ticketRef, modes, start: iso(start), end: iso(end), preApproved, ...(level ? { accessLevel: level.name } : {}) },
    });
    if (preApproved) await this.open(p, await this.row(id), 'pre-approved');
    else {
      const approverIds = await this.approverIds(policy, p.userId);
      this.notifier.send({
        to: await this.notifier.addressesOf(approverIds),
        subject: `Access request: ${p.username} for ${secret.name}`,
        text: `${p.username} requests access to ${secret.name} from ${iso(start)} to ${iso(end)} (${modes.join(', ')}).\nReason: ${reason || '(none)'}${ticketRef ? `\nTicket: ${ticketRef}` : ''}\n\nApprove or deny it in the portal (Access requests) or with \`gatehouse access approve ${id}\` / \`gatehouse access deny ${id}\`.\n`,
      });
    }
    return this.view(p, await this.row(id));
  }

  private async approverIds(policy: Policy, except: string): Promise<string[]> {
    const ids = new Set(policy.approvers.users);
    if (policy.approvers.groups.length) for (const r of await this.store.db.selectFrom('groupMembers').select('userId').where('groupId', 'in', policy.approvers.groups).execute()) ids.add(r.userId);
    ids.delete(except);
    return [...ids];
  }

  /** Turns a pending request into a grant, once (a conditional update decides races between approvers). */
  private async open(p: Principal, r: AccessRequestsTable, via: 'approvals' | 'pre-approved'): Promise<boolean> {
    const t = now();
    const res = await this.store.db.updateTable('accessRequests').set({ status: 'approved', decidedAt: t }).where('id', '=', r.id).where('status', '=', 'pending').executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) return false;
    const grantId = newId();
    await this.store.db.insertInto('accessGrants').values({ id: grantId, requestId: r.id, userId: r.requesterId, secretId: r.secretId, modes: r.modes, startAt: r.startAt, endAt: r.endAt, revokedAt: null, revokedBy: null, createdAt: t }).execute();
    await this.audit.record(actorOf(p), {
      action: 'access.grant',
      target: { type: 'secret', id: r.secretId },
      details: { requestId: r.id, grantId, user: r.requesterName, start: iso(r.startAt), end: iso(r.endAt), modes: parseJson(r.modes, []), via },
    });
    if (via === 'approvals') {
      this.notifier.send({
        to: await this.notifier.addressesOf([r.requesterId]),
        subject: `Access approved: ${r.secretName}`,
        text: `Your request for access to ${r.secretName} was approved.\nYou may launch it from ${iso(r.startAt)} until ${iso(r.endAt)}.\n`,
      });
    }
    return true;
  }

  async decide(p: Principal, id: string, decision: 'approve' | 'deny', comment: string): Promise<RequestView> {
    const r = await this.row(id);
    const policy = await this.policies.row(r.policyId).catch(() => null);
    if (r.requesterId === p.userId) throw forbidden('you cannot approve or deny your own request');
    if (!policy || !inSet(policy.approvers, p.userId, p.groupIds)) throw forbidden('you are not an approver of this request');
    if (r.status !== 'pending') throw conflict(`this request is ${r.status}; it can no longer be decided`, 'not_pending');
    if (Number(r.endAt) <= now()) throw conflict('this request\'s window has passed; it can no longer be decided', 'not_pending');
    try {
      await this.store.db.insertInto('accessApprovals').values({ requestId: r.id, approverId: p.userId, approverName: p.username, decision, comment, at: now() }).execute();
    } catch {
      throw conflict('you have already decided on this request', 'already_decided');
    }
    await this.audit.record(actorOf(p), { action: decision === 'approve' ? 'access.approve' : 'access.deny', target: { type: 'secret', id: r.secretId }, details: { requestId: r.id, user: r.requesterName, comment } });
    if (decision === 'deny') {
      const res = await this.store.db.updateTable('accessRequests').set({ status: 'denied', decidedAt: now() }).where('id', '=', r.id).where('status', '=', 'pending').executeTakeFirst();
      if (Number(res.numUpdatedRows) === 1) {
        this.notifier.send({
          to: await this.notifier.addressesOf([r.requesterId]),
          subject: `Access denied: ${r.secretName}`,
          text: `Your request for access to ${r.secretName} was denied by ${p.username}.${comment ? `\nComment: ${comment}` : ''}\n`,
        });
      }
    } else {
      const { n } = await this.store.db
        .selectFrom('accessApprovals')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('requestId', '=', r.id)
        .where('decision', '=', 'approve')
        .executeTakeFirstOrThrow();
      if (Number(n) >= r.approvalsRequired) await this.open(p, r, 'approvals');
    }
    return this.view(p, await this.row(id));
  }

  /**
   * Revokes a grant early (ending its live sessions) or withdraws a pending request. The
   * requester may give up their own; approvers of the policy and administrators may revoke.
   */
  async revoke(p: Principal, id: string, comment: string): Promise<RequestView> {
    const r = await this.row(id);
    const policy = await this.policies.row(r.policyId).catch(() => null);
    const own = r.requesterId === p.userId;
    if (!own && !p.permissions.has('administer') && !(policy && inSet(policy.approvers, p.userId, p.groupIds))) throw notFound('access request');
    if (r.status === 'pending') {
      if (!own && !p.permissions.has('administer')) throw conflict('this request is pending: deny it instead', 'not_granted');
      await this.store.db.updateTable('accessRequests').set({ status: 'cancelled', decidedAt: now() }).where('id', '=', r.id).where('status', '=', 'pending').execute();
      await this.audit.record(actorOf(p), { action: 'access.cancel', target: { type: 'secret', id: r.secretId }, details: { requestId: r.id, user: r.requesterName, comment } });
      return this.view(p, await this.row(id));
    }
    const g = await this.store.db.selectFrom('accessGrants').selectAll().where('requestId', '=', r.id).executeTakeFirst();
    if (!g) throw conflict(`this request is ${r.status}; there is no grant to revoke`, 'not_granted');
    if (g.revokedAt) throw conflict('this grant was already revoked', 'already_revoked');
    if (Number(g.endAt) <= now()) throw conflict('this grant has already ended', 'grant_ended');
    const res = await this.store.db.updateTable('accessGrants').set({ revokedAt: now(), revokedBy: p.username }).where('id', '=', g.id).where('revokedAt', 'is', null).executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) throw conflict('this grant was already revoked', 'already_revoked');
    const ended = this.windows.end(g.id, revokedReason(p.username));
    await this.audit.record(actorOf(p), { action: 'access.revoke', target: { type: 'secret', id: r.secretId }, details: { requestId: r.id, grantId: g.id, user: r.requesterName, comment, sessionsEnded: ended } });
    if (!own) {
      this.notifier.send({
        to: await this.notifier.addressesOf([r.requesterId]),
        subject: `Access revoked: ${r.secretName}`,
        text: `Your access to ${r.secretName} was revoked by ${p.username}; sessions under it have been closed.${comment ? `\nComment: ${comment}` : ''}\n`,
      });
    }
    return this.view(p, await this.row(id));
  }
}
