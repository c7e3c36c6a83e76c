// Shared control of a live session (issue 14 point 6): a person with `join_sessions` asks to
// join and the owner accepts or declines; or the owner invites someone, who then joins. A
// joiner sees the output and types; the session records their input under their name
// (live.ts). The launcher's options allowJoinRequests / allowJoinInvites (seed 003 names)
// gate the two ways in; the session's door must take joiners' input (SessionHandle
// onJoinInput) or nobody can join. Leaving, kicking and every refusal are audited. Joins
// live in this process's memory, like the live sessions they belong to: they end with them.
import { randomUUID } from 'node:crypto';
import type { Actor, AuditService } from '../audit/service.js';
import type { InputAuthor, JoinEvent } from '../broker.js';
import { AppError, badRequest, forbidden, notFound } from '../errors.js';
import { recordingBacklog } from './live-feed.js';
import type { JoinedView, LiveSession } from './live.js';

export type JoinVia = 'request' | 'invite';
export type JoinStatus = 'pending' | 'accepted' | 'declined' | 'joined' | 'left' | 'kicked' | 'ended';

/** One person's way into one session. */
export interface JoinView {
  id: string;
  sessionId: string;
  user: InputAuthor;
  owner: InputAuthor;
  secret: string;
  protocol: string;
  via: JoinVia;
  status: JoinStatus;
  createdAt: string;
}

/** Who asks (a signed-in person): enough to decide and to audit. */
export interface Asker {
  userId: string;
  username: string;
  ip: string;
  permissions: ReadonlySet<string>;
}

interface Join extends Omit<JoinView, 'createdAt'> {
  createdAt: number;
  /** Told when the status changes (a joiner's page waiting for the answer). */
  waiters: ((j: Join) => void)[];
  /** The joiner's connection, while attached: how to end it. */
  detach: ((reason: string) => void) | null;
}

/** The joiner's side of an attached join. */
export interface Participant {
  join: JoinView;
  /** Terminal size when attached. */
  size: { cols: number; rows: number };
  /** The output recorded so far (the last 4 MiB of a recorded session; empty when it is not recorded), so the joiner's screen is not blank. */
  backlog: Buffer;
  /** Keystrokes or a paste; a promise when the joiner must not be read until it resolves (the target or the recording is behind). */
  input(data: Buffer): Promise<void> | undefined;
  /** The joiner went away (closed the page or the connection). */
  leave(): void;
}

export type UserLookup = (ref: string) => Promise<{ id: string; username: string; isApplication: boolean; disabled: boolean } | null>;

/** The launcher options that gate shared control (seed 003 names); absent = the seed's defaults. */
export const sharingOptions = (options: Record<string, unknown>) => ({
  allowLiveSnooping: options.allowLiveSnooping !== false,
  allowJoinRequests: options.allowJoinRequests === true,
  allowJoinInvites: options.allowJoinInvites === true,
});

const actorOf = (a: Asker): Actor => ({ id: a.userId, name: a.username, ip: a.ip });
const view = (j: Join): JoinView => ({ id: j.id, sessionId: j.sessionId, user: j.user, owner: j.owner, secret: j.secret, protocol: j.protocol, via: j.via, status: j.status, createdAt: new Date(j.createdAt).toISOString() });
/** The output events of the recording so far, as terminal bytes. */
function outputSoFar(s: LiveSession): Buffer {
  const parts: string[] = [];
  for (const line of recordingBacklog(s)) {
    try {
      const [, type, data] = JSON.parse(line) as [number, string, string];
      if (type === 'o' && typeof data === 'string') parts.push(data);
    } catch {
      /* a line cut by the window */
    }
  }
  return Buffer.from(parts.join(''), 'utf8');
}

/** Protocols whose joiners see a screen (live-feed.ts), drawn from the session's recording. */
const GRAPHICAL: ReadonlySet<string> = new Set(['rdp']);

const OPEN: ReadonlySet<JoinStatus> = new Set(['pending', 'accepted', 'joined']);

export class SessionSharing {
  private readonly joins = new Map<string, Join>();

  constructor(
    private readonly live: (id: string) => LiveSession | undefined,
    private readonly audit: AuditService,
    private readonly findUser: UserLookup,
  ) {}

  /** A refusal: audited with its exact reason, answered with a clear error. */
  private async refuse(actor: Actor, sessionId: string, reason: string, err: AppError): Promise<never> {
    await this.audit.record(actor, { action: 'session.join_refused', outcome: 'failure', target: { type: 'session', id: sessionId }, details: { reason } });
    throw err;
  }

  /** The live, shareable session, or an audited refusal. */
  private async shareable(actor: Actor, sessionId: string): Promise<LiveSession> {
    const s = this.live(sessionId);
    if (!s) return this.refuse(actor, sessionId, 'not_live', new AppError(409, 'not_live', 'the session is not live here'));
    if (!s.shareable) {
      // A graphical session's joiner sees the screen through its recording (the live view's feed): none without one.
      const why = GRAPHICAL.has(s.plan.protocol) && !s.plan.launcher.record ? `its launcher "${s.plan.launcher.name}" does not record it, and a joiner sees the remote desktop only through the recording` : 'its door does not take shared input';
      return this.refuse(actor, sessionId, 'not_shareable', new AppError(409, 'not_shareable', `this session cannot be shared: ${why}`));
    }
    return s;
  }

  private make(s: LiveSession, user: InputAuthor, via: JoinVia, status: JoinStatus): Join {
    const j: Join = { id: randomUUID(), sessionId: s.id, user, owner: { id: s.plan.user.id, username: s.plan.user.username }, secret: s.plan.credential.secretName, protocol: s.plan.protocol, via, status, createdAt: Date.now(), waiters: [], detach: null };
    this.joins.set(j.id, j);
    return j;
  }

  private setStatus(j: Join, status: JoinStatus): void {
    j.status = status;
    for (const w of j.waiters.splice(0)) w(j);
  }

  private ownJoin(sessionId: string, joinId: string): Join {
    const j = this.joins.get(joinId);
    if (!j || j.sessionId !== sessionId) throw notFound('join');
    return j;
  }

  /** A person with join_sessions asks to join someone's live session; the owner's door shows the request. */
  async request(a: Asker, sessionId: string): Promise<JoinView> {
    const actor = actorOf(a);
    if (!a.permissions.has('join_sessions')) return this.refuse(actor, sessionId, 'no_permission', forbidden('joining sessions needs the join_sessions permission'));
    const s = await this.shareable(actor, sessionId);
    if (s.plan.user.id === a.userId) return this.refuse(actor, sessionId, 'own_session', badRequest('this is your own session'));
    if (!sharingOptions(s.plan.launcher.options).allowJoinRequests) return this.refuse(actor, sessionId, 'requests_disallowed', new AppError(403, 'join_disallowed', `the launcher "${s.plan.launcher.name}" does not allow join requests`));
    const open = [...this.joins.values()].find((j) => j.sessionId === sessionId && j.user.id === a.userId && OPEN.has(j.status));
    if (open) return view(open);
    const j = this.make(s, { id: a.userId, username: a.username }, 'request', 'pending');
    await this.audit.record(actor, { action: 'session.join_request', target: { type: 'session', id: sessionId }, details: { join: j.id, owner: j.owner.username } });
    s.joinEvent({ type: 'request', requestId: j.id, user: j.user, text: `${a.username} asks to join this session (shared control)` });
    return view(j);
  }

  /** The owner accepts or declines a pending request (at the door or in the portal). */
  async answer(a: Pick<Asker, 'userId' | 'username' | 'ip'>, sessionId: string, joinId: string, accept: boolean): Promise<JoinView> {
    const actor = { id: a.userId, name: a.username, ip: a.ip };
    const j = this.ownJoin(sessionId, joinId);
    if (j.owner.id !== a.userId) throw forbidden('only the session owner answers join requests');
    if (j.status !== 'pending') throw new AppError(409, 'not_pending', `the request is ${j.status}`);
    const s = this.live(sessionId);
    if (!s) throw new AppError(409, 'not_live', 'the session is not live here');
    await this.audit.record(actor, { action: accept ? 'session.join_accept' : 'session.join_decline', target: { type: 'session', id: sessionId }, details: { join: j.id, user: j.user.username } });
    this.setStatus(j, accept ? 'accepted' : 'declined');
    if (!accept) s.joinEvent({ type: 'declined', requestId: j.id, user: j.user, text: `you declined ${j.user.username}'s request to join` });
    return view(j);
  }

  /** The owner invites another person, who may then join (no further answer needed). */
  async invite(a: Asker, sessionId: string, userRef: string): Promise<JoinView> {
    const actor = actorOf(a);
    const s = await this.shareable(actor, sessionId);
    if (s.plan.user.id !== a.userId) return this.refuse(actor, sessionId, 'not_owner', forbidden('only the session owner invites'));
    if (!sharingOptions(s.plan.launcher.options).allowJoinInvites) return this.refuse(actor, sessionId, 'invites_disallowed', new AppError(403, 'join_disallowed', `the launcher "${s.plan.launcher.name}" does not allow join invites`));
    const u = await this.findUser(userRef);
    if (!u || u.disabled || u.isApplication) throw badRequest('no such person to invite');
    if (u.id === a.userId) throw badRequest('you are already in your session');
    const open = [...this.joins.values()].find((j) => j.sessionId === sessionId && j.user.id === u.id && OPEN.has(j.status));
    if (open) return view(open);
    const j = this.make(s, { id: u.id, username: u.username }, 'invite', 'accepted');
    await this.audit.record(actor, { action: 'session.invite', target: { type: 'session', id: sessionId }, details: { join: j.id, user: u.username } });
    return view(j);
  }

  /** The joins of one session (its owner, or anyone who watches live sessions). */
  list(a: Pick<Asker, 'userId' | 'permissions'>, sessionId: string): JoinView[] {
    const s = this.live(sessionId);
    if (!s) throw new AppError(409, 'not_live', 'the session is not live here');
    if (s.plan.user.id !== a.userId && !a.permissions.has('manage_sessions')) throw forbidden('only the session owner or a session manager sees its joins');
    return [...this.joins.values()].filter((j) => j.sessionId === sessionId).map(view);
  }

  /** The caller's own open joins (invitations to take up, requests waiting, joins in progress). */
  mine(userId: string): JoinView[] {
    return [...this.joins.values()].filter((j) => j.user.id === userId && OPEN.has(j.status)).map(view);
  }

  /** Requests waiting for this person's answer, on their own sessions. */
  toAnswer(ownerId: string): JoinView[] {
    return [...this.joins.values()].filter((j) => j.owner.id === ownerId && j.status === 'pending').map(view);
  }

  /**
   * The joiner's connection. Waits while the request is pending (`onPending` tells the page),
   * then attaches to the session's output and input; refused (and audited) when declined,
   * kicked, left or not theirs. `end` closes the joiner's connection with a reason.
   */
  async attach(a: Asker, sessionId: string, joinId: string, out: JoinedView & { end(reason: string): void; onPending(): void }): Promise<Participant> {
    const actor = actorOf(a);
    const j = this.joins.get(joinId);
    if (!j || j.sessionId !== sessionId || j.user.id !== a.userId) return this.refuse(actor, sessionId, 'no_such_join', notFound('join'));
    if (j.status === 'pending') {
      out.onPending();
      await new Promise<void>((resolve) => j.waiters.push(() => resolve()));
    }
    if (j.status !== 'accepted') return this.refuse(actor, sessionId, j.status === 'declined' ? 'declined' : `join_${j.status}`, new AppError(403, 'join_refused', j.status === 'declined' ? 'the owner declined your request' : `this join is ${j.status}`));
    const s = this.live(sessionId);
    if (!s || !s.shareable) {
      this.setStatus(j, 'ended');
      return this.refuse(actor, sessionId, 'not_live', new AppError(409, 'not_live', 'the session is not live here'));
    }
    // Reading what was recorded and attaching happen in one synchronous step: no output falls between.
    const backlog = outputSoFar(s);
    const detachView = s.attachJoined(out);
    let gone = false;
    const drop = () => {
      if (gone) return false;
      gone = true;
      detachView();
      j.detach = null;
      return true;
    };
    j.detach = (reason) => {
      if (drop()) out.end(reason);
    };
    this.setStatus(j, 'joined');
    await this.audit.record(actor, { action: 'session.join', target: { type: 'session', id: sessionId }, details: { join: j.id, via: j.via, owner: j.owner.username } });
    s.note('session.join', { user: j.user.username, via: j.via });
    s.joinEvent({ type: 'joined', requestId: j.id, user: j.user, text: `${j.user.username} joined this session` });
    // Whatever happens to the session later ends the joiner's connection too.
    s.onTerminate((reason) => j.detach?.(reason));
    return {
      join: view(j),
      size: { cols: s.size.cols, rows: s.size.rows },
      backlog,
      input: (data) => (!gone && j.status === 'joined' ? s.joinedInput(data, j.user) : undefined),
      leave: () => {
        if (!drop() || j.status !== 'joined') return;
        this.setStatus(j, 'left');
        s.note('session.leave', { user: j.user.username });
        s.joinEvent({ type: 'left', requestId: j.id, user: j.user, text: `${j.user.username} left this session` });
        void this.audit.record(actor, { action: 'session.leave', target: { type: 'session', id: sessionId }, details: { join: j.id } }).catch(() => undefined);
      },
    };
  }

  /** The owner (or a session manager) removes a joiner, or withdraws an invitation or a request not yet used. */
  async kick(a: Pick<Asker, 'userId' | 'username' | 'ip' | 'permissions'>, sessionId: string, joinId: string): Promise<JoinView> {
    const j = this.ownJoin(sessionId, joinId);
    if (j.owner.id !== a.userId && !a.permissions.has('manage_sessions')) throw forbidden('only the session owner or a session manager removes a joiner');
    if (!OPEN.has(j.status)) throw new AppError(409, 'not_open', `the join is ${j.status}`);
    const was = j.status;
    this.setStatus(j, 'kicked');
    await this.audit.record({ id: a.userId, name: a.username, ip: a.ip }, { action: 'session.kick', target: { type: 'session', id: sessionId }, details: { join: j.id, user: j.user.username, was } });
    const s = this.live(sessionId);
    if (was === 'joined') s?.note('session.kick', { user: j.user.username, by: a.username });
    j.detach?.(`removed from the session by ${a.username}`);
    s?.joinEvent({ type: was === 'joined' ? 'kicked' : 'withdrawn', requestId: j.id, user: j.user, text: was === 'joined' ? `${j.user.username} was removed from this session` : `the join of ${j.user.username} was withdrawn` });
    return view(j);
  }

  /** The session ended: its joins end, their connections close. */
  ended(sessionId: string): void {
    for (const j of [...this.joins.values()]) {
      if (j.sessionId !== sessionId) continue;
      if (OPEN.has(j.status)) this.setStatus(j, 'ended');
      j.detach?.('the session ended');
      this.joins.delete(j.id);
    }
  }
}
