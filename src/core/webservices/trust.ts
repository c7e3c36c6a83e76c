// Delegated trust (seeds 001/002): "a user can grant access to their secrets to an API
// user". The first time an application account asks for a person's secrets a pending
// approval is made and the person is told (the portal's Manage Applications page lists
// it; an e-mail goes out when SMTP is configured); the person approves or denies it, and
// may revoke an approval at any time. One row per application and person.
import type { Store } from '../../store/db.js';
import type { WebserviceTrustsTable } from '../../store/schema.js';
import type { AuditService } from '../audit/service.js';
import type { Notifier } from '../access/notify.js';
import { actorOf, type Principal } from '../identity/principal.js';
import { conflict, notFound } from '../errors.js';
import { newId, now } from '../util.js';

export type TrustStatus = WebserviceTrustsTable['status'];
type Row = WebserviceTrustsTable;

export interface TrustView {
  id: string;
  application: { id: string; name: string };
  status: TrustStatus;
  endpoint: string | null;
  requestedAt: string;
  decidedAt: string | null;
  lastUsedAt: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
const view = (r: Row): TrustView => ({
  id: r.id,
  application: { id: r.applicationId, name: r.applicationName },
  status: r.status,
  endpoint: r.endpoint,
  requestedAt: iso(r.requestedAt)!,
  decidedAt: iso(r.decidedAt),
  lastUsedAt: iso(r.lastUsedAt),
});

export class DelegatedTrust {
  /** Told when a trust stops holding (denied or revoked), so cached tokens go with it. */
  private readonly ended: ((applicationId: string, userId: string) => Promise<void>)[] = [];

  constructor(
    private readonly store: Store,
    private readonly audit: AuditService,
    private readonly notifier: Notifier,
  ) {}

  onEnded(fn: (applicationId: string, userId: string) => Promise<void>): void {
    this.ended.push(fn);
  }

  private async pair(applicationId: string, userId: string): Promise<Row | undefined> {
    return this.store.db.selectFrom('webserviceTrusts').selectAll().where('applicationId', '=', applicationId).where('userId', '=', userId).executeTakeFirst();
  }

  /**
   * Whether `app` may act for `user` now. No row (or a revoked one) → a pending approval is
   * made (or made again) and the person notified. A person acting for themselves needs none.
   */
  async check(app: Principal, user: { id: string; username: string; email?: string | null }, endpoint: string | null): Promise<TrustStatus | 'self'> {
    if (app.userId === user.id) return 'self';
    const row = await this.pair(app.userId, user.id);
    if (row && (row.status === 'approved' || row.status === 'pending' || row.status === 'denied')) {
      if (row.status === 'approved') await this.store.db.updateTable('webserviceTrusts').set({ lastUsedAt: now() }).where('id', '=', row.id).execute();
      return row.status;
    }
    const id = row?.id ?? newId();
    if (row) {
      await this.store.db.updateTable('webserviceTrusts').set({ status: 'pending', endpoint, requestedAt: now(), decidedAt: null, applicationName: app.username }).where('id', '=', id).where('status', '=', 'revoked').execute();
    } else {
      // Two parallel first requests: the unique (application, user) index lets one insert win.
      await this.store.db
        .insertInto('webserviceTrusts')
        .values({ id, applicationId: app.userId, applicationName: app.username, userId: user.id, status: 'pending', endpoint, requestedAt: now(), decidedAt: null, lastUsedAt: null })
        .onConflict((oc) => oc.columns(['applicationId', 'userId']).doNothing())
        .execute();
    }
    const now_ = await this.pair(app.userId, user.id);
    if (now_?.id !== id || now_.status !== 'pending') return now_?.status ?? 'pending';
    await this.audit.record(actorOf(app), { action: 'webservices.trust.request', target: { type: 'user', id: user.id }, details: { application: app.username, user: user.username, endpoint } });
    this.notifier.send({
      to: await this.notifier.addressesOf([user.id]),
      subject: `Gatehouse: ${app.username} asks to use your credentials`,
      text:
        `The application ${app.username} asks to retrieve credentials on your behalf${endpoint ? ` (first for ${endpoint})` : ''} through the credential-provider API.\n\n` +
        'Approve or deny it in the portal under Manage Applications. You can revoke an approval there at any time.\n',
    });
    return 'pending';
  }

  /** The caller's applications (Manage Applications), newest first. */
  async mine(p: Principal): Promise<TrustView[]> {
    const rows = await this.store.db.selectFrom('webserviceTrusts').selectAll().where('userId', '=', p.userId).orderBy('requestedAt', 'desc').execute();
    return rows.map(view);
  }

  private async own(p: Principal, id: string): Promise<Row> {
    const r = await this.store.db.selectFrom('webserviceTrusts').selectAll().where('id', '=', id).executeTakeFirst();
    // Someone else's trust does not exist for the caller.
    if (!r || r.userId !== p.userId) throw notFound('application');
    return r;
  }

  /** The person approves or denies (a denied application may be approved later, and the other way round). */
  async decide(p: Principal, id: string, decision: 'approve' | 'deny', ip: string | null): Promise<TrustView> {
    const r = await this.own(p, id);
    if (r.status === 'revoked') throw conflict('this application was revoked; it asks again the next time it needs your credentials', 'trust_revoked');
    const status: TrustStatus = decision === 'approve' ? 'approved' : 'denied';
    await this.store.db.updateTable('webserviceTrusts').set({ status, decidedAt: now() }).where('id', '=', id).execute();
    await this.audit.record(actorOf(p, ip), { action: `webservices.trust.${decision}`, target: { type: 'user', id: p.userId }, details: { application: r.applicationName, applicationId: r.applicationId } });
    if (status === 'denied') for (const fn of this.ended) await fn(r.applicationId, r.userId);
    return view((await this.own(p, id))!);
  }

  /** The person takes an application's access away; its cached tokens go too. */
  async revoke(p: Principal, id: string, ip: string | null): Promise<void> {
    const r = await this.own(p, id);
    await this.store.db.updateTable('webserviceTrusts').set({ status: 'revoked', decidedAt: now() }).where('id', '=', id).execute();
    await this.audit.record(actorOf(p, ip), { action: 'webservices.trust.revoke', target: { type: 'user', id: p.userId }, details: { application: r.applicationName, applicationId: r.applicationId, was: r.status } });
    for (const fn of this.ended) await fn(r.applicationId, r.userId);
  }

  /** Without side effects, for Test Settings with saved trust only. */
  async peek(applicationId: string, userId: string): Promise<TrustStatus | null> {
    return (await this.pair(applicationId, userId))?.status ?? null;
  }
}
