// Exclusive checkout of shared credentials: while a person holds a secret's checkout nobody
// else may launch it; others may queue, and the first in line gets the next turn. A checkout
// is taken explicitly (POST /secrets/:id/checkout), by a grant (access workflows), or
// implicitly by a launch of a secret that requires checkout (then it ends with the session).
//
// Exclusivity lives in the database: a partial unique index allows one open checkout per
// secret (migration 005), so parallel checkouts on any number of nodes, on SQLite or
// PostgreSQL, have exactly one winner without locks held across awaits. Expiry is lazy:
// a checkout past its end no longer counts, and `settle` closes (and audits) it the next
// time anyone looks at or competes for the secret.
import type { Logger } from 'pino';
import { isUniqueViolation, type Store } from '../../store/db.js';
import { prepare, type SlotOf } from '../../store/prepared.js';
import type { CheckoutsTable, CheckoutQueueTable } from '../../store/schema.js';
import { SYSTEM, type Actor, type AuditService } from '../audit/service.js';
import { AppError, conflict, forbidden } from '../errors.js';
import { actorOf, type Principal } from '../identity/principal.js';
import type { Sessions } from '../sessions/service.js';
import { newId, now } from '../util.js';
import { atLeast } from './access.js';
import type { Secrets } from './secrets.js';

// At every launch, redeem and session end (prepared once: store/prepared.ts).
const checkoutOrQueue = prepare((db, slot: SlotOf<{ secretId: string }>) =>
  db.selectNoFrom((eb) => [
    eb.exists(eb.selectFrom('checkouts').select('id').where('secretId', '=', slot('secretId')).where('checkedInAt', 'is', null)).as('open'),
    eb.exists(eb.selectFrom('checkoutQueue').select('userId').where('secretId', '=', slot('secretId'))).as('queued'),
  ]),
);
const bindLaunchCheckout = prepare((db, slot: SlotOf<{ secretId: string; userId: string; sessionId: string; until: number }>) =>
  db
    .updateTable('checkouts')
    .set({ sessionId: slot('sessionId'), expiresAt: slot('until') })
    .where('secretId', '=', slot('secretId'))
    .where('userId', '=', slot('userId'))
    .where('source', '=', 'launch')
    .where('sessionId', 'is', null)
    .where('checkedInAt', 'is', null),
);
const moveCheckoutToSession = prepare((db, slot: SlotOf<{ from: string; to: string }>) => db.updateTable('checkouts').set({ sessionId: slot('to') }).where('sessionId', '=', slot('from')).where('checkedInAt', 'is', null));
const checkoutOfSession = prepare((db, slot: SlotOf<{ sessionId: string }>) => db.selectFrom('checkouts').select('id').where('sessionId', '=', slot('sessionId')).where('checkedInAt', 'is', null));
const checkInWithSession = prepare((db, slot: SlotOf<{ sessionId: string; at: number }>) =>
  db.updateTable('checkouts').set({ checkedInAt: slot('at'), checkinReason: 'session_end' }).where('sessionId', '=', slot('sessionId')).where('checkedInAt', 'is', null).returningAll(),
);

/** Seed 003 (OpenPSM): every shared credential for the target is checked out by someone else. */
export const SHARED_UNAVAILABLE = 'None of the shared credentials are available.';
/** Seed 003: no shared credential is free and the person has no personal one either. */
export const NO_CREDENTIALS = 'No shared or personal credentials are available.';

export const DEFAULT_CHECKOUT_SECONDS = 3600;
export const MAX_CHECKOUT_SECONDS = 7 * 24 * 3600;
/** How long a freed secret is held for the first person in its queue. */
export const QUEUE_HOLD_SECONDS = 300;
/** A launch checkout whose session has no maximum duration lasts at most this long unless the session ends first. */
const LAUNCH_SESSION_CAP_SECONDS = 24 * 3600;

export type CheckoutSource = CheckoutsTable['source'];
type Row = CheckoutsTable;
type QueueRow = CheckoutQueueTable;
type Person = { id: string; name: string };

export interface CheckoutStatus {
  secretId: string;
  checkedOut: boolean;
  holder: Person | null;
  /** The caller holds the checkout. */
  mine: boolean;
  source: CheckoutSource | null;
  reason: string | null;
  since: string | null;
  until: string | null;
  /** Whether launching this secret takes a checkout by itself (a policy says so). */
  required: boolean;
  queue: { user: Person; joinedAt: string; notifiedAt: string | null; reservedUntil: string | null }[];
  /** The caller's place in the queue (1 = next), or null. */
  queuePosition: number | null;
  /** The secret came free and is held for the caller (first in the queue) until reservedUntil. */
  myTurn: boolean;
}

/** Whether a policy makes launching this secret take an exclusive checkout (access policies register one). */
export type CheckoutRequirement = (secretId: string) => Promise<boolean>;
/** Whether the person has a personal credential usable for this secret's target (the personal vault registers one); protocol when the launch names it. */
export type PersonalCredentialLookup = (userId: string, secretId: string, protocol?: string) => Promise<boolean>;

const iso = (ms: number | null) => (ms == null ? null : new Date(ms).toISOString());

export class Checkouts {
  private readonly requirements: CheckoutRequirement[] = [];
  private policyRequirement: CheckoutRequirement | null = null;
  private personal: PersonalCredentialLookup | null = null;
  private readonly checkinListeners: ((secretId: string) => Promise<void>)[] = [];

  constructor(
    private readonly store: Store,
    private readonly secrets: Secrets,
    private readonly sessions: Sessions,
    private readonly audit: AuditService,
    private readonly log: Logger,
  ) {}

  // ---- hooks for the other access workflows

  /** Access policies (checkout required) register here; any source saying yes makes launches take a checkout. */
  addRequirement(fn: CheckoutRequirement): void {
    this.requirements.push(fn);
  }

  /**
   * The access policy's say (checkoutRequired) is registered on its own: a launch has already
   * resolved the policy in force and passes its answer to gate(), so the folder walk is not
   * repeated; other sources (addRequirement) are asked every time.
   */
  setPolicyRequirement(fn: CheckoutRequirement): void {
    this.policyRequirement = fn;
  }

  /** Whether launching this secret takes a checkout; `policySays` is the launch's resolved policy answer (else asked here). */
  async requireCheckoutFor(secretId: string, policySays?: boolean): Promise<boolean> {
    if (policySays ?? (this.policyRequirement ? await this.policyRequirement(secretId) : false)) return true;
    for (const fn of this.requirements) if (await fn(secretId)) return true;
    return false;
  }

  /** Told after every check-in, whatever ended the checkout (rotation after use listens). */
  onCheckin(fn: (secretId: string) => Promise<void>): void {
    this.checkinListeners.push(fn);
  }

  /** Who holds the secret now (a lapsed checkout settled first), or null. */
  async holderOf(secretId: string): Promise<string | null> {
    await this.settle(secretId);
    return (await this.openRow(secretId))?.userId ?? null;
  }

  /** Checks an explicit checkout beyond view access (core wires the access policy's hours and approval): 403 when refused. */
  private checkoutGuard?: (p: Principal, secretId: string) => Promise<void>;
  guardCheckouts(fn: (p: Principal, secretId: string) => Promise<void>): void {
    this.checkoutGuard = fn;
  }

  /** Whether someone holds the secret now. */
  async isCheckedOut(secretId: string): Promise<boolean> {
    return !!(await this.openRow(secretId));
  }

  /** Personal credentials register here, so a refused launch can say whether any credential is left (seed 003's second message). */
  setPersonalCredentialLookup(fn: PersonalCredentialLookup): void {
    this.personal = fn;
  }

  /**
   * The seed's message for a launch that cannot have the shared credential now: with a
   * personal credential for the target left to launch with, "None of the shared credentials
   * are available."; without one, "No shared or personal credentials are available.".
   * (An explicit checkout asks for the shared credential only: it always gets the first.)
   */
  async unavailableMessage(userId: string, secretId: string, protocol?: string): Promise<string> {
    if (this.personal && !(await this.personal(userId, secretId, protocol).catch(() => false))) return NO_CREDENTIALS;
    return SHARED_UNAVAILABLE;
  }

  // ---- reading

  /** The open checkout of a secret (after settling expired and session-ended ones). */
  private async openRow(secretId: string): Promise<Row | undefined> {
    return this.store.db.selectFrom('checkouts').selectAll().where('secretId', '=', secretId).where('checkedInAt', 'is', null).executeTakeFirst();
  }

  /** Whether the secret has an open checkout or anyone in its queue (one statement). */
  private async inUse(secretId: string): Promise<boolean> {
    const r = await checkoutOrQueue.first(this.store.db, { secretId });
    return !!r && (!!Number(r.open) || !!Number(r.queued));
  }

  private async queueRows(secretId: string): Promise<QueueRow[]> {
    return this.store.db.selectFrom('checkoutQueue').selectAll().where('secretId', '=', secretId).orderBy('joinedAt').orderBy('userId').execute();
  }

  /** The queue head the freed secret is held for, if the hold is still on. */
  private reservedFor(queue: QueueRow[], t = now()): QueueRow | undefined {
    const head = queue[0];
    return head?.reservedUntil != null && head.reservedUntil > t ? head : undefined;
  }

  async status(p: Principal, secretId: string): Promise<CheckoutStatus> {
    await this.secrets.require(p, secretId, 'list');
    await this.settle(secretId);
    return this.view(p.userId, secretId);
  }

  /**
   * GET /checkouts: every secret the caller can list that is checked out or held for its
   * queue, plus those the caller queues for; one call for a page of secrets.
   */
  async concerning(p: Principal): Promise<CheckoutStatus[]> {
    const open = await this.store.db.selectFrom('checkouts').select('secretId').where('checkedInAt', 'is', null).execute();
    const queued = await this.store.db.selectFrom('checkoutQueue').select('secretId').execute();
    const ids = [...new Set([...open, ...queued].map((r) => r.secretId))];
    const out: CheckoutStatus[] = [];
    for (const id of ids) {
      if (!(await this.secrets.require(p, id, 'list').then(() => true, () => false))) continue;
      await this.settle(id);
      const v = await this.view(p.userId, id);
      if (v.checkedOut || v.queue.length > 0) out.push(v);
    }
    return out.sort((a, b) => a.secretId.localeCompare(b.secretId));
  }

  private async view(userId: string, secretId: string): Promise<CheckoutStatus> {
    const open = await this.openRow(secretId);
    const queue = await this.queueRows(secretId);
    const pos = queue.findIndex((q) => q.userId === userId);
    const reserved = this.reservedFor(queue);
    return {
      secretId,
      checkedOut: !!open,
      holder: open ? { id: open.userId, name: open.username } : null,
      mine: open?.userId === userId,
      source: open?.source ?? null,
      reason: open?.reason ?? null,
      since: iso(open?.since ?? null),
      until: iso(open?.expiresAt ?? null),
      required: await this.requireCheckoutFor(secretId),
      queue: queue.map((q) => ({ user: { id: q.userId, name: q.username }, joinedAt: iso(q.joinedAt)!, notifiedAt: iso(q.notifiedAt), reservedUntil: iso(q.reservedUntil) })),
      queuePosition: pos >= 0 ? pos + 1 : null,
      myTurn: !open && reserved?.userId === userId,
    };
  }

  // ---- settling: expiry, sessions that ended without telling us, the queue's turn

  /**
   * Closes the secret's checkouts that have run out (or whose session is no longer live,
   * e.g. after a crash), drops queue holds that lapsed, and gives a freed secret to the first
   * in line. Every step is a conditional update, so concurrent settles audit each change once.
   */
  async settle(secretId: string): Promise<void> {
    const t = now();
    const expired = await this.store.db
      .updateTable('checkouts')
      .set((eb) => ({ checkedInAt: eb.ref('expiresAt'), checkinReason: 'expired' }))
      .where('secretId', '=', secretId)
      .where('checkedInAt', 'is', null)
      .where('expiresAt', '<=', t)
      .returningAll()
      .execute();
    const orphaned = await this.store.db
      .updateTable('checkouts')
      .set({ checkedInAt: t, checkinReason: 'session_end' })
      .where('secretId', '=', secretId)
      .where('checkedInAt', 'is', null)
      .where('sessionId', 'in', (eb) => eb.selectFrom('sessions').select('id').where('status', '!=', 'live'))
      .returningAll()
      .execute();
    for (const r of [...expired, ...orphaned]) await this.auditCheckin(SYSTEM, r, r.checkinReason!);
    await this.advanceQueue(secretId);
  }

  /**
   * Settles every secret with a checkout that ran out. Reading a secret settles it anyway;
   * this runs on a timer (server.ts) so a lapsed checkout is checked in, audited and its
   * listeners told (rotation after use, the queue's next person) even when nobody looks.
   */
  async settleDue(): Promise<number> {
    const due = await this.store.db.selectFrom('checkouts').select('secretId').distinct().where('checkedInAt', 'is', null).where('expiresAt', '<=', now()).execute();
    for (const r of due) await this.settle(r.secretId);
    return due.length;
  }

  /** Lapsed holds leave the queue; a free secret is held for the new head, who is told (portal-visible: myTurn). */
  private async advanceQueue(secretId: string): Promise<void> {
    const t = now();
    const lapsed = await this.store.db.deleteFrom('checkoutQueue').where('secretId', '=', secretId).where('reservedUntil', '<=', t).returningAll().execute();
    for (const q of lapsed) await this.audit.record(SYSTEM, { action: 'secret.checkout_queue.lapsed', target: { type: 'secret', id: secretId }, details: { user: q.username, userId: q.userId } });
    if (await this.openRow(secretId)) return;
    const head = (await this.queueRows(secretId))[0];
    if (!head || head.notifiedAt != null) return;
    const until = t + QUEUE_HOLD_SECONDS * 1000;
    const told = await this.store.db
      .updateTable('checkoutQueue')
      .set({ notifiedAt: t, reservedUntil: until })
      .where('secretId', '=', secretId)
      .where('userId', '=', head.userId)
      .where('notifiedAt', 'is', null)
      .executeTakeFirst();
    if (Number(told.numUpdatedRows) === 1) {
      await this.audit.record(SYSTEM, { action: 'secret.checkout_queue.turn', target: { type: 'secret', id: secretId }, details: { user: head.username, userId: head.userId, reservedUntil: iso(until) } });
    }
  }

  private async auditCheckin(actor: Actor, r: Row, reason: string, extra: Record<string, unknown> = {}): Promise<void> {
    await this.audit.record(actor, {
      action: 'secret.checkin',
      target: { type: 'secret', id: r.secretId },
      details: { checkoutId: r.id, holder: r.username, holderId: r.userId, source: r.source, reason, ...(r.sessionId ? { sessionId: r.sessionId } : {}), ...extra },
    });
    for (const fn of this.checkinListeners) await fn(r.secretId).catch((e) => this.log.error({ secretId: r.secretId, err: { message: (e as Error).message } }, 'a check-in listener failed'));
  }

  // ---- taking and giving back

  /**
   * Inserts an open checkout; the partial unique index refuses a second one for the secret.
   * Resolves to the row, or null when someone else got there first.
   */
  private async insert(holder: Person, secretId: string, o: { source: CheckoutSource; sourceId?: string | null; reason?: string | null; until: number }): Promise<Row | null> {
    const row: Row = { id: newId(), secretId, userId: holder.id, username: holder.name, source: o.source, sourceId: o.sourceId ?? null, reason: o.reason ?? null, since: now(), expiresAt: o.until, sessionId: null, checkedInAt: null, checkinReason: null, checkedInBy: null };
    try {
      await this.store.db.insertInto('checkouts').values(row).execute();
    } catch (e) {
      if (isUniqueViolation(e)) return null;
      throw e;
    }
    // Holding it, the person no longer waits for it.
    await this.store.db.deleteFrom('checkoutQueue').where('secretId', '=', secretId).where('userId', '=', holder.id).execute();
    return row;
  }

  /** Why `holder` cannot take the secret now (held or reserved for someone else), or null. */
  private async blocked(holderId: string, secretId: string): Promise<Row | QueueRow | null> {
    const open = await this.openRow(secretId);
    if (open) return open;
    const reserved = this.reservedFor(await this.queueRows(secretId));
    return reserved && reserved.userId !== holderId ? reserved : null;
  }

  /** POST /secrets/:id/checkout: the caller takes the secret for durationSeconds (view access; the route asks for the launch permission). */
  async checkout(p: Principal, secretId: string, input: { reason?: string; durationSeconds?: number }, ip: string | null): Promise<CheckoutStatus> {
    await this.secrets.require(p, secretId, 'view');
    // Holding a secret keeps everyone else from it: as much a use of it as a launch.
    await this.checkoutGuard?.(p, secretId);
    await this.settle(secretId);
    const seconds = Math.min(Math.max(input.durationSeconds ?? DEFAULT_CHECKOUT_SECONDS, 60), MAX_CHECKOUT_SECONDS);
    const me = { id: p.userId, name: p.username };
    const got = await this.take(actorOf(p, ip), me, secretId, { source: 'explicit', reason: input.reason?.trim() || null, until: now() + seconds * 1000 });
    if (!got.ok) throw got.mine ? conflict('you already hold the checkout of this secret; check it in first', 'already_checked_out') : conflict(got.message, 'credential_unavailable');
    return this.view(p.userId, secretId);
  }

  /**
   * Takes the secret for `holder` (explicit checkouts, and grants of the access workflows:
   * source 'grant' with the grant's id and end). Audited as secret.checkout.
   */
  async take(actor: Actor, holder: Person, secretId: string, o: { source: CheckoutSource; sourceId?: string | null; reason?: string | null; until: number }): Promise<{ ok: true; checkoutId: string } | { ok: false; mine: boolean; message: string }> {
    await this.settle(secretId);
    const b = await this.blocked(holder.id, secretId);
    if (b && 'source' in b && b.userId === holder.id) return { ok: false, mine: true, message: 'already checked out' };
    const row = b ? null : await this.insert(holder, secretId, o);
    if (!row) {
      const mine = (await this.openRow(secretId))?.userId === holder.id;
      return { ok: false, mine, message: mine ? 'already checked out' : SHARED_UNAVAILABLE };
    }
    await this.audit.record(actor, {
      action: 'secret.checkout',
      target: { type: 'secret', id: secretId },
      details: { checkoutId: row.id, holder: holder.name, holderId: holder.id, source: o.source, ...(o.sourceId ? { sourceId: o.sourceId } : {}), reason: row.reason, until: iso(row.expiresAt) },
    });
    return { ok: true, checkoutId: row.id };
  }

  /**
   * POST /secrets/:id/checkin: the holder gives the secret back early. Anyone else needs to
   * be an administrator of the secret (manage_secrets and owner, or all_secrets): then it is
   * a forced check-in, audited as such, and the holder's live sessions on the secret end.
   */
  async checkin(p: Principal, secretId: string, ip: string | null): Promise<CheckoutStatus> {
    const { level } = await this.secrets.require(p, secretId, 'list');
    await this.settle(secretId);
    const open = await this.openRow(secretId);
    if (!open) throw conflict('this secret is not checked out', 'not_checked_out');
    const forced = open.userId !== p.userId;
    if (forced && !(p.permissions.has('all_secrets') || (p.permissions.has('manage_secrets') && atLeast(level, 'owner')))) {
      throw forbidden('the secret is checked out by someone else: only they, or an administrator of the secret, can check it in');
    }
    const closed = await this.close(open, forced ? 'forced' : 'holder', p.userId);
    if (!closed) throw conflict('this secret is not checked out', 'not_checked_out');
    await this.auditCheckin(actorOf(p, ip), open, forced ? 'forced' : 'holder', forced ? { forced: true } : {});
    if (forced) await this.endSessionsOf(actorOf(p, ip), open);
    await this.advanceQueue(secretId);
    return this.view(p.userId, secretId);
  }

  private async close(open: Row, reason: string, by: string | null): Promise<boolean> {
    const r = await this.store.db.updateTable('checkouts').set({ checkedInAt: now(), checkinReason: reason, checkedInBy: by }).where('id', '=', open.id).where('checkedInAt', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** A forced check-in takes the credential away: the former holder's live sessions on it end, on every node (terminate forwards). */
  private async endSessionsOf(actor: Actor, open: Row): Promise<void> {
    for (const s of await this.sessions.liveAnywhere({ userId: open.userId, secretId: open.secretId }, { deadNodesToo: true })) {
      // Its node not answering, the terminate waits in the database for that node's upkeep.
      await this.sessions.terminateOrQueue(actor, s.id, 'the checkout of this credential was ended by an administrator').catch((e) => this.log.error({ sessionId: s.id, node: s.node, err: { message: (e as Error).message } }, 'ending a session after a forced check-in failed'));
    }
  }

  /** Ends the checkouts a grant (or another source) holds, e.g. when the grant ends or is revoked. */
  async releaseSource(actor: Actor, source: CheckoutSource, sourceId: string, reason: string): Promise<void> {
    const rows = await this.store.db
      .updateTable('checkouts')
      .set({ checkedInAt: now(), checkinReason: reason, checkedInBy: actor.id })
      .where('source', '=', source)
      .where('sourceId', '=', sourceId)
      .where('checkedInAt', 'is', null)
      .returningAll()
      .execute();
    for (const r of rows) {
      await this.auditCheckin(actor, r, reason);
      await this.advanceQueue(r.secretId);
    }
  }

  // ---- the queue

  /** Join the queue of a secret someone else holds (or that is held for someone else's turn). */
  async joinQueue(p: Principal, secretId: string, ip: string | null): Promise<CheckoutStatus> {
    await this.secrets.require(p, secretId, 'view');
    await this.settle(secretId);
    const b = await this.blocked(p.userId, secretId);
    if (!b) throw conflict('this secret is available: check it out instead of queueing', 'checkout_available');
    if ('source' in b && b.userId === p.userId) throw conflict('you hold the checkout of this secret', 'already_checked_out');
    try {
      await this.store.db.insertInto('checkoutQueue').values({ secretId, userId: p.userId, username: p.username, joinedAt: now(), notifiedAt: null, reservedUntil: null }).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict('you are already in the queue for this secret', 'already_queued');
      throw e;
    }
    await this.audit.record(actorOf(p, ip), { action: 'secret.checkout_queue.join', target: { type: 'secret', id: secretId }, details: {} });
    return this.view(p.userId, secretId);
  }

  async leaveQueue(p: Principal, secretId: string, ip: string | null): Promise<void> {
    await this.secrets.require(p, secretId, 'list');
    const r = await this.store.db.deleteFrom('checkoutQueue').where('secretId', '=', secretId).where('userId', '=', p.userId).executeTakeFirst();
    if (Number(r.numDeletedRows) !== 1) throw new AppError(404, 'not_found', 'you are not in the queue for this secret');
    await this.audit.record(actorOf(p, ip), { action: 'secret.checkout_queue.leave', target: { type: 'secret', id: secretId }, details: {} });
    // Leaving while it was your turn passes the turn on.
    await this.advanceQueue(secretId);
  }

  // ---- the launch path (src/core/launch/service.ts)

  /**
   * Called before a ticket is issued, when one is redeemed, and when a door opens a session
   * directly, for launches with the shared credential (a launch with the person's own
   * personal credential neither needs nor takes the shared one's checkout). Resolves to the
   * seed's refusal message when someone else holds the secret (or it is held for the next in
   * its queue); else null. A secret that requires checkout (`o.required`: the launch's
   * resolved policy) and is free is taken for the person here (source 'launch', until
   * `untilMs`; bindSession makes it last as long as the session).
   */
  async gate(user: Person, secretId: string, untilMs: number, o: { required?: boolean; protocol?: string } = {}): Promise<string | null> {
    // Nearly every launch is of a secret nobody holds or queues for: one read says so, and then
    // settling (nothing open to check in, no queue to advance) and blocked() would find nothing.
    if (await this.inUse(secretId)) {
      await this.settle(secretId);
      const b = await this.blocked(user.id, secretId);
      if (b) return 'source' in b && b.userId === user.id ? null : this.unavailableMessage(user.id, secretId, o.protocol);
    }
    if (!(await this.requireCheckoutFor(secretId, o.required))) return null;
    const got = await this.take({ id: user.id, name: user.name, ip: null }, user, secretId, { source: 'launch', reason: 'launch', until: untilMs });
    return got.ok || got.mine ? null : this.unavailableMessage(user.id, secretId, o.protocol);
  }

  /** A session started: the person's unbound launch checkout of the secret now ends with it. */
  async bindSession(userId: string, secretId: string, sessionId: string, maxDurationSeconds: number): Promise<void> {
    const until = now() + (maxDurationSeconds > 0 ? maxDurationSeconds : LAUNCH_SESSION_CAP_SECONDS) * 1000;
    await bindLaunchCheckout.run(this.store.db, { secretId, userId, sessionId, until });
  }

  /**
   * A session ended: a launch checkout bound to it is checked in, unless the same person
   * still has another live session on the secret, on any node (then that one carries it on).
   */
  async sessionEnded(s: { id: string; userId: string; secretId: string }): Promise<void> {
    // Most sessions carry no checkout: one read says so.
    if (!(await checkoutOfSession.first(this.store.db, { sessionId: s.id }))) return;
    const other = (await this.sessions.liveAnywhere({ userId: s.userId, secretId: s.secretId })).find((x) => x.id !== s.id);
    if (other) {
      const moved = Number((await moveCheckoutToSession.run(this.store.db, { from: s.id, to: other.id })).numAffectedRows ?? 0);
      // The other session may have ended meanwhile (on its node, or here), its own end finding
      // nothing bound to it yet: then the checkout is checked in with it now.
      if (moved === 0 || (await this.sessions.isLiveAnywhere(other.id))) return;
      return this.checkInWith(other.id);
    }
    await this.checkInWith(s.id);
  }

  /** Checks in the open checkout bound to a session that ended (if any), audited, and passes the secret to its queue. */
  private async checkInWith(sessionId: string): Promise<void> {
    const rows = (await checkInWithSession.run(this.store.db, { sessionId, at: now() })).rows;
    for (const r of rows) {
      await this.auditCheckin(SYSTEM, r, 'session_end');
      await this.advanceQueue(r.secretId);
    }
  }
}
