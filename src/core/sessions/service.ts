// Session registry (live sessions in this process) and history (database): start,
// end with a sealed recording, terminate, list, and search over the typed-text index.
import { sql } from 'kysely';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Store } from '../../store/db.js';
import { prepare, prepareInsert, type SlotOf } from '../../store/prepared.js';
import type { SessionsTable } from '../../store/schema.js';
import type { Actor, AuditInput, AuditService } from '../audit/service.js';
import { SYSTEM } from '../audit/service.js';
import type { ConnectPlan } from '../broker.js';
import { AppError, notFound } from '../errors.js';
import { now } from '../util.js';
import { GHREC_FILE_EXTENSION } from './ghrec.js';
import { Keyframes } from './keyframes.js';
import { LiveFeed } from './live-feed.js';
import { LiveSession } from './live.js';
import type { GhrecTraffic } from './recording-repair.js';
import { LocalRecordingStorage, plainName, type RecordingStorage } from './recording-storage.js';
import { SessionSharing, type UserLookup } from './sharing.js';
import { recoverInterrupted, sealDeadNodesUploads, sealLateRecordings, type EndedSession, type RecoveryContext } from './recovery.js';

/** meta rows `terminate-queued:<session id>`: a terminate another node could not forward (terminateOrQueue). */
const QUEUED_TERMINATION = 'terminate-queued:';

/** A queued terminate's actor and reason, or null when the row does not hold them. */
function queuedTermination(value: string): { actor: Actor; reason: string } | null {
  try {
    const v = JSON.parse(value) as { actor?: { id?: unknown; name?: unknown; ip?: unknown }; reason?: unknown };
    const a = v?.actor;
    if (!a || typeof v.reason !== 'string' || (a.id !== null && typeof a.id !== 'string') || (a.name !== null && typeof a.name !== 'string')) return null;
    return { actor: { id: a.id as string | null, name: a.name as string | null, ip: typeof a.ip === 'string' ? a.ip : null }, reason: v.reason };
  } catch {
    return null;
  }
}

export type { EndedSession } from './recovery.js';

// At every session start and end (prepared once: store/prepared.ts).
const insertSession = prepareInsert('sessions');
/** How often a session end the database did not take is tried again. */
const END_RETRY_MS = 2_000;
const endSessionRow = prepare((db, slot: SlotOf<{ id: string; endedAt: number; endReason: string; bytesIn: number; bytesOut: number; recording: string | null; recordingSha256: string | null }>) =>
  db
    .updateTable('sessions')
    .set({ status: 'ended', endedAt: slot('endedAt'), endReason: slot('endReason'), bytesIn: slot('bytesIn'), bytesOut: slot('bytesOut'), recording: slot('recording'), recordingSha256: slot('recordingSha256') })
    .where('id', '=', slot('id'))
    // Only while live: another node may have ended it (it took this node for dead), and that end stands.
    .where('status', '=', 'live'),
);

// The sessions live anywhere in the cluster of a person, on a secret, or both (their rows;
// at every session end that carried a checkout, and before a rotation after use).
const liveOfUserOnSecret = prepare((db, slot: SlotOf<{ userId: string; secretId: string }>) =>
  db.selectFrom('sessions').select(['id', 'node']).where('status', '=', 'live').where('userId', '=', slot('userId')).where('secretId', '=', slot('secretId')),
);
const liveOnSecret = prepare((db, slot: SlotOf<{ secretId: string }>) => db.selectFrom('sessions').select(['id', 'node']).where('status', '=', 'live').where('secretId', '=', slot('secretId')));
const liveOfUser = prepare((db, slot: SlotOf<{ userId: string }>) => db.selectFrom('sessions').select(['id', 'node']).where('status', '=', 'live').where('userId', '=', slot('userId')));
const sessionState = prepare((db, slot: SlotOf<{ id: string }>) => db.selectFrom('sessions').select(['status', 'node']).where('id', '=', slot('id')));

/** A node's state in the cluster registry (core/cluster/registry.ts); null: a node never registered (not known to be dead). */
export type NodeState = (node: string) => Promise<'up' | 'stopped' | 'dead' | null>;

/** A session live somewhere in the cluster (Sessions.liveAnywhere). */
export interface LiveRow {
  id: string;
  /** The node it runs on (this one: `here`). */
  node: string | null;
  /** Live in this process. */
  here: boolean;
}

export interface SessionView {
  id: string;
  user: { id: string; username: string };
  secret: { id: string; name: string };
  launcher: string;
  protocol: string;
  target: { host: string; port: number; username: string | null };
  clientIp: string | null;
  door: string;
  status: 'live' | 'ended';
  startedAt: string;
  endedAt: string | null;
  endReason: string | null;
  bytesIn: number;
  bytesOut: number;
  /** format: asciicast (terminal sessions, plays in asciinema) or ghrec-rdp (graphical, see docs/recordings.md). */
  recording: { available: boolean; sha256: string | null; keystrokes: boolean; format: RecordingFormat | null };
}

export interface RecordingFailure {
  /** errno code, e.g. EPERM, EMFILE, ENOSPC. */
  code: string;
  stage: 'open' | 'write';
  at: string;
}

export type RecordingFormat = 'asciicast' | 'ghrec-rdp';

export const recordingFormatOf = (file: string | null | undefined): RecordingFormat | null => (!file ? null : plainName(file).endsWith(GHREC_FILE_EXTENSION) ? 'ghrec-rdp' : 'asciicast');
/** The format a recorded session of this protocol is written in: graphical sessions as ghrec (live.ts beginGraphics), terminals as asciicast. */
export const recordingFormatFor = (protocol: string): RecordingFormat => (protocol === 'rdp' ? 'ghrec-rdp' : 'asciicast');
const RECORDING_FORMATS: readonly string[] = ['asciicast', 'ghrec-rdp'] satisfies RecordingFormat[];

/** Sessions live on other gateway nodes (core/cluster/forwarding.ts), for terminate from any node. */
export interface RemoteSessions {
  /** 'terminated' by its node; 'ended' there already; 'dead': its node is dead (its sessions are to be reaped). */
  terminate(node: string, actor: Actor, id: string, reason: string): Promise<'terminated' | 'ended' | 'dead'>;
}

export interface SessionQuery {
  status?: 'live' | 'ended';
  userId?: string;
  secretId?: string;
  protocol?: string;
  limit: number;
  offset: number;
}

export class Sessions {
  readonly live = new Map<string, LiveSession>();
  /** Live-view keyframes of graphical sessions; their format's provider is registered by the server (keyframes.provide). */
  readonly keyframes = new Keyframes((id) => this.live.has(id));
  private textSeq = new Map<string, number>();
  private textQueue: Promise<unknown> = Promise.resolve();
  /** The latest recording that could not be created or written (for /healthz). */
  lastRecordingFailure: RecordingFailure | null = null;
  /** Told after a session has ended and its row is written (e.g. checkouts that end with their session). */
  private readonly endListeners: ((s: EndedSession) => Promise<void>)[] = [];
  /** Told synchronously as a session leaves `live` (onLeftLive). */
  private readonly leftLiveListeners: ((s: LiveSession) => void)[] = [];
  /** Shared control of live sessions (sharing.ts): join requests, invites, joiners, kicks. */
  readonly sharing: SessionSharing;
  /** Where recordings are kept (recording-storage.ts): the local disk unless a backend is given. */
  readonly storage: RecordingStorage;
  /** Which ghrec record types carry which direction (given at start, for recovering dead nodes' sessions later). */
  private traffic?: Record<string, GhrecTraffic>;
  /** Terminates a session live on another node (core/cluster); unset: a single node. */
  private remote?: RemoteSessions;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditService,
    private readonly log: Logger,
    readonly recordingsDir: string,
    /** This gateway node (node-id.ts); its sessions carry it. */
    readonly node: string,
    /** Finds the person an owner invites (by id or user name); without it nobody can be invited. */
    findUser: UserLookup = async () => null,
    storage?: RecordingStorage,
    /** Whether another node is alive (the cluster registry); unset: every node that has live rows counts as alive. */
    private readonly nodeState?: NodeState,
  ) {
    this.sharing = new SessionSharing((id) => this.live.get(id), audit, findUser);
    this.storage = storage ?? new LocalRecordingStorage(recordingsDir);
  }

  /**
   * Starts a session (its row and session.start, then the live session). Once endAll has begun
   * (shutdown) none starts: a redeem that passed the drain check before SIGTERM and was still
   * busy (its checkout gate, a JIT account on the target) would otherwise start one after the
   * shutdown's endAll, which nobody would end or seal, and the door would keep the process up.
   */
  async start(plan: ConnectPlan, ctx: { clientIp: string; door: string }): Promise<LiveSession> {
    if (this.closing) throw new AppError(503, 'draining', 'this gateway node is shutting down: no new sessions', { retryAfterSeconds: 1 });
    const starting = this.startNow(plan, ctx);
    this.starting.add(starting);
    try {
      return await starting;
    } finally {
      this.starting.delete(starting);
    }
  }

  /** endAll has begun (shutdown): no session starts any more. */
  private closing = false;
  /** Starts under way: endAll waits for them, so that what they start is ended with the rest. */
  private readonly starting = new Set<Promise<LiveSession>>();

  private async startNow(plan: ConnectPlan, ctx: { clientIp: string; door: string }): Promise<LiveSession> {
    const row = {
      id: plan.sessionId,
      userId: plan.user.id,
      username: plan.user.username,
      secretId: plan.credential.secretId,
      secretName: plan.credential.secretName,
      launcherId: plan.launcher.id,
      protocol: plan.protocol,
      targetHost: plan.target.host,
      targetPort: plan.target.port,
      targetUser: plan.credential.username,
      clientIp: ctx.clientIp,
      door: ctx.door,
      status: 'live',
      startedAt: now(),
      endedAt: null,
      endReason: null,
      bytesIn: 0,
      bytesOut: 0,
      recording: null,
      recordingSha256: null,
      recordKeystrokes: plan.launcher.recordKeystrokes ? 1 : 0,
      node: this.node,
      // Known to every node of a cluster while the session is live (only this one has its file).
      recordingFormat: plan.launcher.record ? recordingFormatFor(plan.protocol) : null,
    } as const;
    // The session's row is written in the transaction of its session.start event: no session
    // without its start in the audit trail, and one commit for both (shared with concurrent ones).
    await this.audit.record(
      { id: plan.user.id, name: plan.user.username, ip: ctx.clientIp },
      {
        action: 'session.start',
        target: { type: 'session', id: plan.sessionId },
        details: { secretId: plan.credential.secretId, secret: plan.credential.secretName, launcher: plan.launcher.name, protocol: plan.protocol, target: `${plan.target.host}:${plan.target.port}`, door: ctx.door, recorded: plan.launcher.record },
      },
      { alongside: (trx) => insertSession(trx, row) },
    );
    const s = new LiveSession(plan, ctx.clientIp, {
      storage: this.storage,
      onTextLines: (id, lines) => this.index(id, lines),
      onEnd: (sess, reason) => this.track(this.finish(sess, reason)),
      onRecordingFailed: (sess, stage, err) => this.recordingFailed(sess, stage, err),
      // Object storage: the keyframe follower reads a graphical recording before its parts leave the spool.
      beforeRecordingRelease: (sess) => this.keyframes.warm(sess, this.log),
      verifyHostKey: (sess, keyType, fp) => this.verifyHostKey(sess, keyType, fp),
      answerJoin: (sess, requestId, accept) =>
        this.sharing.answer({ userId: sess.plan.user.id, username: sess.plan.user.username, ip: sess.clientIp }, sess.id, requestId, accept).then(
          () => true,
          () => false,
        ),
    });
    this.live.set(s.id, s);
    this.log.info({ sessionId: s.id, user: plan.user.username, secret: plan.credential.secretName, protocol: plan.protocol, clientIp: ctx.clientIp, door: ctx.door, ...(plan.launchRequestId ? { reqId: plan.launchRequestId } : {}) }, 'session started');
    return s;
  }

  private index(sessionId: string, lines: { at: number; kind: 'command' | 'event'; text: string; by?: string | null }[]): void {
    const run = async () => {
      let seq = this.textSeq.get(sessionId) ?? 0;
      const rows = lines.map((l) => ({ sessionId, seq: ++seq, at: l.at, kind: l.kind, text: l.text.slice(0, 4096), typedBy: l.by ?? null }));
      this.textSeq.set(sessionId, seq);
      await this.store.db.insertInto('sessionText').values(rows).execute();
    };
    this.textQueue = this.textQueue.then(run).catch((err) => this.log.error({ err: { message: (err as Error).message }, sessionId }, 'text index write failed'));
  }

  /** A recording failed (the session fails closed by itself): logged with the exact error, audited, remembered for /healthz. */
  private recordingFailed(s: LiveSession, stage: 'open' | 'write', err: Error): void {
    const code = s.recordingError ?? 'EIO';
    this.lastRecordingFailure = { code, stage, at: new Date().toISOString() };
    this.log.error({ sessionId: s.id, stage, code, err: { message: err.message } }, `recording ${stage === 'open' ? 'could not be created' : 'write failed'}: session ${stage === 'open' ? 'refused' : 'ended'}`);
    const actor = { id: s.plan.user.id, name: s.plan.user.username, ip: s.clientIp };
    void this.audit
      .record(actor, { action: 'recording.failed', outcome: 'failure', target: { type: 'session', id: s.id }, details: { stage, code, protocol: s.plan.protocol, secret: s.plan.credential.secretName } })
      .catch((e) => this.log.error({ sessionId: s.id, err: { message: (e as Error).message } }, 'audit of a recording failure failed'));
  }

  /**
   * Ends being written: a session leaves `live` as its end begins, and its row, session.end and
   * recording.seal are written after. Shutdown waits for these (settled()), or a drain that
   * saw no live session left would close the database under a seal still being written.
   */
  private readonly finishing = new Set<Promise<void>>();

  private track(p: Promise<void>): Promise<void> {
    this.finishing.add(p);
    const done = () => void this.finishing.delete(p);
    p.then(done, done);
    return p;
  }

  /** Resolves once every session that has ended has its end and seal written (shutdown). */
  async settled(): Promise<void> {
    while (this.finishing.size) await Promise.allSettled([...this.finishing]);
  }

  private async finish(s: LiveSession, reason: string): Promise<void> {
    this.live.delete(s.id);
    this.leftLive(s);
    this.sharing.ended(s.id);
    await this.textQueue;
    this.textSeq.delete(s.id);
    let sha: string | null = null;
    // The hash is best effort: a file that cannot be read now (EMFILE…) still gets its session ended.
    if (s.recordingPath) sha = await this.storage.sha256(s.recordingPath).catch((e) => (this.log.error({ sessionId: s.id, err: { message: (e as Error).message } }, 'recording hash failed'), null));
    const actor = { id: s.plan.user.id, name: s.plan.user.username, ip: s.clientIp };
    const seal = s.recordingPath
      ? { action: 'recording.seal', target: { type: 'session', id: s.id }, details: { file: s.recordingPath, sha256: sha, format: s.ghrec ? `ghrec-${s.ghrec.header.format}` : 'asciicast-v2', ...(s.recordingPath.endsWith('.gz') ? { stored: 'gzip' } : {}), ...(s.recordingError ? { incomplete: s.recordingError } : {}) } }
      : null;
    // The ended row is written in the transaction of its session.end event (as the row of a
    // start is with session.start), with the seal right after the end: one commit for the three
    // (shared with concurrent ones). All of it only while the session is still live.
    const row = { id: s.id, endedAt: now(), endReason: reason, bytesIn: s.bytesIn, bytesOut: s.bytesOut, recording: s.recordingPath, recordingSha256: sha };
    const seconds = Math.round((Date.now() - s.startedAt) / 1000);
    const write = async () => {
      const ended = await this.audit.recordIf(async (trx) => Number((await endSessionRow.run(trx, row)).numAffectedRows ?? 0) > 0, [
        { actor, input: { action: 'session.end', target: { type: 'session', id: s.id }, details: { reason, bytesIn: s.bytesIn, bytesOut: s.bytesOut, seconds } } },
        ...(seal ? [{ actor: SYSTEM, input: seal }] : []),
      ]);
      // Ended elsewhere: the node that ended it (recovery.ts) told the end listeners then. Unless
      // it is this end, written by an earlier try whose commit the database did not confirm.
      if (!ended && !(await this.isThisEnd(row))) return this.endedElsewhere(s, reason, sha, seal);
      this.log.info({ sessionId: s.id, reason, ...(s.plan.launchRequestId ? { reqId: s.plan.launchRequestId } : {}) }, 'session ended');
      await this.tellEnded({ id: s.id, userId: s.plan.user.id, secretId: s.plan.credential.secretId, username: s.plan.credential.username, protocol: s.plan.protocol, bytesIn: s.bytesIn, bytesOut: s.bytesOut, recording: s.recordingPath, endWrittenAt: row.endedAt });
    };
    try {
      await write();
    } catch (e) {
      // The database did not take the end (lost for a moment, or this node cut off from it and
      // closing its sessions, fail closed): tried again until it does, or a session would stay
      // 'live' with no end nor seal in the audit trail while this process runs. The caller still
      // learns that the end is not written yet.
      this.log.error({ sessionId: s.id, err: { message: (e as Error).message } }, `the end of this session could not be written to the database: tried again every ${END_RETRY_MS / 1000} s until it is (if this process stops first, its next start ends the session as interrupted)`);
      this.unwrittenEnds.set(s.id, write);
      this.retryEndsLater();
      throw e;
    }
  }

  /** Ends (row, session.end, seal, end listeners) the database did not take yet, oldest first. */
  private readonly unwrittenEnds = new Map<string, () => Promise<void>>();
  private endRetry: NodeJS.Timeout | null = null;

  private retryEndsLater(): void {
    if (this.endRetry || this.closing) return;
    this.endRetry = setTimeout(() => {
      this.endRetry = null;
      void this.track(this.retryEnds());
    }, END_RETRY_MS);
    this.endRetry.unref();
  }

  private async retryEnds(): Promise<void> {
    for (const [id, write] of this.unwrittenEnds) {
      try {
        await write();
      } catch {
        break; // the database still does not answer: all of them later, in order
      }
      this.unwrittenEnds.delete(id);
      this.log.warn({ sessionId: id }, 'the end of this session was written now that the database answers again');
    }
    if (this.unwrittenEnds.size) this.retryEndsLater();
  }

  /**
   * A session that ended here after another node had ended it: that node took this one for
   * dead (a pause longer than the dead timeout) and ended it as interrupted. Its end stands,
   * and nothing of this end is written; but when it found no recording (a recording on this
   * node's disk), the one this node holds is sealed into that session now, with the bytes
   * counted here, rather than at this node's next start.
   */
  private async endedElsewhere(s: LiveSession, reason: string, sha: string | null, seal: AuditInput | null): Promise<void> {
    const log = this.log.child({ sessionId: s.id });
    if (!seal || !sha) return void log.warn({ reason }, 'session ended here after another node had ended it (this node missed its heartbeats); its end stands');
    const sealed = await this.audit.recordIf(
      async (trx) => {
        const r = await trx
          .updateTable('sessions')
          .set({ recording: s.recordingPath, recordingSha256: sha, bytesIn: s.bytesIn, bytesOut: s.bytesOut })
          .where('id', '=', s.id)
          .where('status', '=', 'ended')
          .where('recording', 'is', null)
          .executeTakeFirst();
        return Number(r.numUpdatedRows) > 0;
      },
      [{ actor: SYSTEM, input: { ...seal, details: { ...seal.details, note: `sealed by node ${this.node}, where the session ran, after another node had ended it (this node had missed its heartbeats)` } } }],
    );
    log.warn({ reason, recording: s.recordingPath }, sealed ? 'session ended here after another node had ended it (this node missed its heartbeats); its end stands, and its recording is sealed into it' : 'session ended here after another node had ended it and sealed its recording (this node missed its heartbeats)');
  }

  /** Whether a session's row holds this very end (its reason and time): an earlier try of it was committed. */
  private async isThisEnd(row: { id: string; endedAt: number; endReason: string }): Promise<boolean> {
    const r = await this.store.db.selectFrom('sessions').select(['endedAt', 'endReason']).where('id', '=', row.id).executeTakeFirst();
    return Number(r?.endedAt) === row.endedAt && r?.endReason === row.endReason;
  }

  onSessionEnd(fn: (s: EndedSession) => Promise<void>): void {
    this.endListeners.push(fn);
  }

  /** Runs the end listeners for a session ended here, live or recovered; a failing one is logged, the others still run. */
  private async tellEnded(s: EndedSession): Promise<void> {
    for (const fn of this.endListeners) {
      await fn(s).catch((e) => this.log.error({ sessionId: s.id, err: { message: (e as Error).message } }, 'a session-end listener failed'));
    }
  }

  /**
   * Tells `fn` synchronously as a session leaves `live`, before anything of its end is awaited
   * (its hash, the database write and its retries, the end listeners): what sums the live
   * sessions (the byte counters of core/metrics) moves the session to its ended totals here, so
   * that no moment counts it in neither sum, nor in both.
   */
  onLeftLive(fn: (s: LiveSession) => void): void {
    this.leftLiveListeners.push(fn);
  }

  private leftLive(s: LiveSession): void {
    for (const fn of this.leftLiveListeners) {
      try {
        fn(s);
      } catch (e) {
        this.log.error({ sessionId: s.id, err: { message: (e as Error).message } }, 'a listener of sessions leaving live failed');
      }
    }
  }

  private async verifyHostKey(s: LiveSession, keyType: string, fingerprint: string): Promise<'pinned' | 'match' | 'mismatch'> {
    const actor = { id: s.plan.user.id, name: s.plan.user.username, ip: s.clientIp };
    return this.checkHostKey(actor, s.plan.credential.secretId, s.plan.target.host, s.plan.target.port, keyType, fingerprint, s.id);
  }

  /**
   * A target's host key against the key pinned for a secret: pinned on first use, refused
   * when different (audited either way). Sessions and target account operations both ask.
   */
  async checkHostKey(actor: Actor, secretId: string, host: string, port: number, keyType: string, fingerprint: string, sessionId?: string): Promise<'pinned' | 'match' | 'mismatch'> {
    const pin = await this.store.db.selectFrom('hostKeys').selectAll().where('secretId', '=', secretId).executeTakeFirst();
    const where = sessionId ? { sessionId } : {};
    if (!pin) {
      await this.store.db.insertInto('hostKeys').values({ secretId, host, port, keyType, fingerprint, firstSeen: now() }).onConflict((oc) => oc.doNothing()).execute();
      await this.audit.record(actor, { action: 'hostkey.pin', target: { type: 'secret', id: secretId }, details: { host, port, keyType, fingerprint, ...where } });
      return 'pinned';
    }
    if (pin.fingerprint === fingerprint) return 'match';
    this.log.warn({ ...where, secretId, expected: pin.fingerprint, got: fingerprint, host, port }, sessionId ? 'target host key mismatch: session refused' : 'target host key mismatch: account operation refused');
    await this.audit.record(actor, {
      action: 'hostkey.mismatch',
      outcome: 'failure',
      target: { type: 'secret', id: secretId },
      details: { host, port, expected: pin.fingerprint, got: fingerprint, keyType, ...where },
    });
    return 'mismatch';
  }

  /** Forgets a secret's pinned host key (after a legitimate key change). */
  async resetHostKey(actor: Actor, secretId: string): Promise<boolean> {
    const r = await this.store.db.deleteFrom('hostKeys').where('secretId', '=', secretId).executeTakeFirst();
    await this.audit.record(actor, { action: 'hostkey.reset', target: { type: 'secret', id: secretId } });
    return Number(r.numDeletedRows) > 0;
  }

  async hostKey(secretId: string) {
    return this.store.db.selectFrom('hostKeys').selectAll().where('secretId', '=', secretId).executeTakeFirst();
  }

  /** Where sessions of other nodes are terminated (server.ts, in a cluster). */
  forwardTo(remote: RemoteSessions | null): void {
    this.remote = remote ?? undefined;
  }

  /**
   * Terminates a live session: here when it runs here, else through its node (`local`: never
   * forwarded, a peer's call). A session of a node that looks dead is reaped with the rest of
   * that node's sessions before the answer, unless `deadIsUnreachable` (terminateOrQueue): then
   * it is answered as a node that does not answer, and the reaping loop ends it.
   */
  async terminate(actor: Actor, id: string, reason: string, opts: { local?: boolean; deadIsUnreachable?: boolean } = {}): Promise<void> {
    const s = this.live.get(id);
    if (!s) {
      const row = await this.store.db.selectFrom('sessions').select(['status', 'node']).where('id', '=', id).executeTakeFirst();
      if (!row) throw notFound('session');
      if (row.status === 'live' && row.node && row.node !== this.node && !opts.local) {
        // A node without a cluster port of its own calls no other node: not "already ended".
        if (!this.remote) throw new AppError(409, 'node_not_reachable', `the session runs on gateway node ${row.node}, and this node takes part in no node-to-node calls (no cluster port); terminate it on that node`);
        const r = await this.remote.terminate(row.node, actor, id, reason);
        if (r === 'terminated') return;
        if (r === 'dead') {
          if (opts.deadIsUnreachable) throw new AppError(503, 'node_unreachable', `the gateway node running this session (${row.node}) looks dead: its sessions are being ended as interrupted`);
          await this.reapDeadNodes([row.node]);
          // Its node beat again before the reaping reached this session (the reaping keeps the
          // sessions of a node found alive): still live there, so not "already ended".
          const after = await this.store.db.selectFrom('sessions').select('status').where('id', '=', id).executeTakeFirst();
          if (after?.status === 'live') throw new AppError(503, 'node_unreachable', `the gateway node running this session (${row.node}) looked dead and is beating again: try again`, { retryAfterSeconds: 1 });
        }
      }
      throw Object.assign(notFound('live session'), { message: 'session has already ended' });
    }
    await this.audit.record(actor, { action: 'session.terminate', target: { type: 'session', id }, details: { reason } });
    s.terminate(`terminated by ${actor.name ?? 'an administrator'}${reason ? `: ${reason}` : ''}`);
  }

  /**
   * terminate(), for a session that must end whether or not its node answers now (a forced
   * check-in takes the credential away; a user disabled by the directory): when its node
   * cannot be reached (not answering, or taking no calls from other nodes), a note in the
   * database that node acts on at its next upkeep (applyQueuedTerminations, every heartbeat
   * interval; a node silent past the dead timeout has its sessions ended as interrupted
   * anyway). Answers what became of it.
   */
  async terminateOrQueue(actor: Actor, id: string, reason: string): Promise<'terminated' | 'queued' | 'ended'> {
    try {
      // A node that looks dead is not reaped here: with object storage that is minutes of
      // recordings, inside a forced check-in's request or an LDAP sync. Queued instead, the
      // terminate is dropped once the reaping loop has ended the session, and acted on by the
      // node if it beats again before (a pause past the dead timeout).
      await this.terminate(actor, id, reason, { deadIsUnreachable: true });
      return 'terminated';
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      if (e.status === 404) return 'ended';
      if (e.code !== 'node_unreachable' && e.code !== 'node_not_reachable') throw e;
      const value = JSON.stringify({ actor: { id: actor.id, name: actor.name, ip: actor.ip ?? null }, reason });
      await this.store.db
        .insertInto('meta')
        .values({ key: `${QUEUED_TERMINATION}${id}`, value })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
        .execute();
      this.log.warn({ sessionId: id, err: { message: e.message } }, 'the node running this session did not take its terminate: left in the database for that node to end it at its next upkeep');
      return 'queued';
    }
  }

  /**
   * Ends the sessions of this process that another node queued a terminate for (its call did
   * not get through: terminateOrQueue), audited as that node's caller asked; drops the notes of
   * sessions no longer live anywhere. Run by the cluster upkeep.
   */
  async applyQueuedTerminations(): Promise<number> {
    const notes = await this.store.db.selectFrom('meta').select(['key', 'value']).where('key', 'like', `${QUEUED_TERMINATION}%`).execute();
    let n = 0;
    for (const note of notes) {
      const id = note.key.slice(QUEUED_TERMINATION.length);
      const s = this.live.get(id);
      const q = queuedTermination(note.value);
      if (s && q && !s.terminated && !s.isEnded) {
        await this.terminate(q.actor, id, q.reason, { local: true }).catch((e: Error) => this.log.error({ sessionId: id, err: { message: e.message } }, 'a terminate queued by another node failed; tried again at the next upkeep'));
        if (s.terminated === null) continue;
        n++;
      } else if (s && q) {
        // Ending already (on its own, or terminated since): nothing to do but wait for its row.
        continue;
      } else if (!q) {
        this.log.error({ key: note.key }, 'a queued terminate that cannot be read was dropped');
      } else {
        const row = await this.store.db.selectFrom('sessions').select('status').where('id', '=', id).executeTakeFirst();
        // Live on another node still: that node's to act on.
        if (row?.status === 'live') continue;
      }
      await this.store.db.deleteFrom('meta').where('key', '=', note.key).execute();
    }
    return n;
  }

  /**
   * The sessions live anywhere in the cluster of a person (`userId`), on a secret (`secretId`),
   * or both, from their rows: what decides for every node, not only this process (LDAP disable,
   * a forced check-in, whether a checkout or a credential is still in use). A row of this node
   * counts while its session is live in this process (not once its end has begun: as the live
   * map says); a row of another node unless the registry says that node is dead or stopped (its
   * sessions are the recovery's to end, core/cluster). Terminate them through terminate(), which
   * forwards to their node. `deadNodesToo`: those of dead or stopped nodes as well, for a caller
   * that must end them (terminateOrQueue, which queues theirs): a node that only looked dead (a
   * VM paused past the dead timeout) keeps the sessions the reaping had not reached when it beat
   * again, and a terminate skipped for them would be lost (an LDAP disable is acted on once).
   */
  async liveAnywhere(of: { userId?: string; secretId?: string }, opts: { deadNodesToo?: boolean } = {}): Promise<LiveRow[]> {
    const db = this.store.db;
    const rows =
      of.userId !== undefined && of.secretId !== undefined
        ? await liveOfUserOnSecret.all(db, { userId: of.userId, secretId: of.secretId })
        : of.secretId !== undefined
          ? await liveOnSecret.all(db, { secretId: of.secretId })
          : of.userId !== undefined
            ? await liveOfUser.all(db, { userId: of.userId })
            : [];
    const states = new Map<string, Promise<Awaited<ReturnType<NodeState>>>>();
    const out: LiveRow[] = [];
    for (const r of rows) {
      if (r.node === null || r.node === this.node) {
        // Rows without a node are from before nodes were named: the start-up recovery's.
        const s = this.live.get(r.id);
        if (s && !s.isEnded) out.push({ id: r.id, node: this.node, here: true });
        continue;
      }
      if (!states.has(r.node)) states.set(r.node, this.nodeState ? this.nodeState(r.node) : Promise.resolve(null));
      const state = await states.get(r.node)!;
      if ((state === 'dead' || state === 'stopped') && !opts.deadNodesToo) continue;
      out.push({ id: r.id, node: r.node, here: false });
    }
    return out;
  }

  /** Whether a session is live now: in this process, or on another node (its row); a row of this node not live here is ending. */
  async isLiveAnywhere(id: string): Promise<boolean> {
    const s = this.live.get(id);
    if (s) return !s.isEnded;
    const r = await sessionState.first(this.store.db, { id });
    return !!r && r.status === 'live' && r.node !== null && r.node !== this.node;
  }

  /** The live view of a session running in this process (live-feed.ts); null when it is not live here. */
  feed(id: string): LiveFeed | null {
    const s = this.live.get(id);
    return s ? new LiveFeed(s, this.keyframes) : null;
  }

  /** Ends every live session (shutdown). */
  async endAll(reason: string): Promise<void> {
    this.closing = true;
    if (this.endRetry) clearTimeout(this.endRetry);
    this.endRetry = null;
    // Ends still unwritten are left to the next start, which ends those sessions as interrupted.
    if (this.unwrittenEnds.size) this.log.error({ sessions: [...this.unwrittenEnds.keys()] }, 'shutting down with session ends the database did not take: the next start ends these sessions as interrupted');
    // A start already past its check goes live in a moment: ended below with the others (its
    // door finds it terminated when it asks, onTerminate calling back at once).
    await Promise.allSettled([...this.starting]);
    const ending = [...this.live.values()];
    for (const s of ending) s.terminate(reason);
    // Each end on its own: one the database refuses is left to the next start (unwrittenEnds),
    // and must not cut the others' ends, nor the rest of the shutdown, short.
    const results = await Promise.allSettled(ending.map((s) => s.end(reason)));
    const failed = ending.filter((_, i) => results[i]!.status === 'rejected').map((s) => s.id);
    if (failed.length) this.log.error({ sessions: failed }, 'shutting down with session ends that could not be written: the next start ends these sessions as interrupted');
  }

  /**
   * Ends the sessions this node left 'live' when it crashed (and those of the dead nodes named),
   * recovering and sealing their recordings (recovery.ts); then seals the recordings of its own
   * sessions another node ended while this one was dead.
   */
  async reapStale(traffic?: Record<string, GhrecTraffic>, deadNodes: string[] = []): Promise<number> {
    this.traffic = traffic;
    // Their end listeners wait for the node to have started (tellRecoveredEnds).
    const n = await recoverInterrupted(this.recovery({ deadNodes }, async (s) => void this.heldEnds.push(s)));
    await sealLateRecordings({ store: this.store, audit: this.audit, log: this.log, recordingsDir: this.recordingsDir, node: this.node, traffic, ...this.recoverFrom() });
    // Object storage: uploads of ended sessions that a crash or an unreachable store left unfinished.
    await this.storage.resumeUploads?.().catch((e) => this.log.error({ err: { message: (e as Error).message } }, 'resuming unfinished recording uploads failed'));
    return n;
  }

  /**
   * While running, with object storage: the recordings of dead nodes' sessions that were ended
   * without one because the store did not answer then (recovery.ts sealDeadNodesUploads).
   */
  async sealDeadNodesRecordings(): Promise<number> {
    if (!this.storage.recover) return 0;
    return sealDeadNodesUploads(this.recovery({ deadNodes: [] }, async () => undefined));
  }

  /** While running: ends the live sessions of nodes found dead (core/cluster), as interrupted. */
  async reapDeadNodes(deadNodes: string[]): Promise<number> {
    return recoverInterrupted(this.recovery({ deadNodes, deadOnly: true }, async (s) => this.tellLater(s)));
  }

  /**
   * What the recovery needs: the store, the audit, the recordings (through the storage, with
   * object storage), whether a node is still dead, and what to do with each session it ends
   * (`ended`): its end listeners are told as they are of a live end (the session's own node,
   * dead, tells them nothing).
   */
  private recovery(which: { deadNodes: string[]; deadOnly?: boolean }, ended: (s: EndedSession) => Promise<void>): RecoveryContext {
    return { store: this.store, audit: this.audit, log: this.log, recordingsDir: this.recordingsDir, node: this.node, ...which, traffic: this.traffic, ended, ...this.recoverFrom(), ...this.deadCheck(), stopping: () => this.closing };
  }

  /** Sessions the start-up recovery ended, whose end listeners wait for the node to have started. */
  private heldEnds: EndedSession[] = [];
  /** The end listeners of recovered sessions, one session after another, off the recovery's path. */
  private recoveredEnds: Promise<void> = Promise.resolve();

  /**
   * Tells the end listeners of a recovered session in the background, after those queued before:
   * what they do may reach targets (a JIT account removed over SSH or LDAP, a rotation), which
   * must hold up neither the recovery of the next session nor the upkeep that runs it.
   */
  private tellLater(s: EndedSession): void {
    this.recoveredEnds = this.track(this.recoveredEnds.then(() => this.tellEnded(s)));
  }

  /**
   * The end listeners of the sessions the start-up recovery ended (a check-in, rotation after
   * use, a JIT account taken back, an OpenPSM notice), once the node has started (server.ts):
   * not while it starts, whose failure ends the process under whatever they had begun.
   */
  tellRecoveredEnds(): void {
    const held = this.heldEnds;
    this.heldEnds = [];
    for (const s of held) this.tellLater(s);
  }

  /** With the cluster registry: another node's sessions are recovered only while it is still dead (or stopped). */
  private deadCheck(): { stillDead?: RecoveryContext['stillDead'] } {
    const state = this.nodeState;
    return state ? { stillDead: async (node) => ['dead', 'stopped'].includes((await state(node)) ?? '') } : {};
  }

  /** Object storage recovers recordings through the storage (a work copy); the local disk in place. */
  private recoverFrom(): { recover?: RecoveryContext['recover'] } {
    const storage = this.storage;
    return storage.recover ? { recover: (id, startedAt) => storage.recover!(id, startedAt) } : {};
  }

  /**
   * Sessions live in this process whose rows another node ended (it took this node for dead:
   * a pause longer than the dead timeout) are ended here too: their rows, audit and recordings
   * are settled already, the connections must not go on unseen.
   */
  async dropReaped(): Promise<number> {
    const ids = [...this.live.keys()];
    if (ids.length === 0) return 0;
    const rows = await this.store.db.selectFrom('sessions').select('id').where('id', 'in', ids).where('status', '=', 'ended').execute();
    for (const r of rows) {
      const s = this.live.get(r.id);
      if (!s) continue;
      this.log.warn({ sessionId: r.id }, 'another node ended this session as interrupted (this node missed its heartbeats); closing it');
      s.terminate('ended by another gateway node while this node was unreachable');
    }
    return rows.length;
  }

  /**
   * Closes every session live in this process (not already being closed): this node has not
   * reached the database for longer than the dead timeout, so the other nodes take it for dead
   * and end its sessions as interrupted, and it can write neither their audit nor their text
   * index. Fail closed rather than relay sessions nobody else can watch or terminate. Their
   * ends are written once the database answers (finish() tries them again); a node that reaped
   * this one meanwhile has written them (interrupted), and then only the recording this node
   * holds is sealed into them.
   */
  closeAllUnaudited(reason: string): number {
    let n = 0;
    for (const s of this.live.values()) {
      if (s.terminated || s.isEnded) continue;
      this.log.error({ sessionId: s.id }, `closing this session: ${reason}`);
      s.terminate(reason);
      n++;
    }
    return n;
  }

  private view(r: SessionsTable): SessionView {
    const live = this.live.get(r.id);
    return {
      id: r.id,
      user: { id: r.userId, username: r.username },
      secret: { id: r.secretId, name: r.secretName },
      launcher: r.launcherId,
      protocol: r.protocol,
      target: { host: r.targetHost, port: r.targetPort, username: r.targetUser },
      clientIp: r.clientIp,
      door: r.door,
      status: r.status,
      startedAt: new Date(r.startedAt).toISOString(),
      endedAt: r.endedAt ? new Date(r.endedAt).toISOString() : null,
      endReason: r.endReason,
      bytesIn: live?.bytesIn ?? r.bytesIn,
      bytesOut: live?.bytesOut ?? r.bytesOut,
      recording: this.recordingView(r, live?.recordingPath ?? null),
    };
  }

  /**
   * What a session's view says of its recording. Ended: its sealed file. Live here: the file
   * being written, available when the storage reads it while it is written (a local file; not
   * object storage). Live on another node of a cluster: the format written at its start (the
   * file is that node's), not available here.
   */
  private recordingView(r: SessionsTable, livePath: string | null): SessionView['recording'] {
    const file = r.recording ?? livePath;
    const elsewhere = !file && r.status === 'live' && r.node !== this.node && RECORDING_FORMATS.includes(r.recordingFormat ?? '');
    return {
      available: !!r.recording || (!!livePath && this.storage.readsLive),
      sha256: r.recordingSha256,
      keystrokes: !!r.recordKeystrokes,
      format: recordingFormatOf(file) ?? (elsewhere ? (r.recordingFormat as RecordingFormat) : null),
    };
  }

  async list(q: SessionQuery): Promise<{ items: SessionView[]; total: number }> {
    let base = this.store.db.selectFrom('sessions');
    if (q.status) base = base.where('status', '=', q.status);
    if (q.userId) base = base.where('userId', '=', q.userId);
    if (q.secretId) base = base.where('secretId', '=', q.secretId);
    if (q.protocol) base = base.where('protocol', '=', q.protocol);
    const { n } = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await base.selectAll().orderBy('startedAt', 'desc').limit(q.limit).offset(q.offset).execute();
    return { items: rows.map((r) => this.view(r)), total: Number(n) };
  }

  async get(id: string): Promise<SessionView> {
    const r = await this.store.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw notFound('session');
    return this.view(r);
  }

  /** A session's recording (plain, inflated when stored compressed), written up to now when the session is live. */
  async recording(id: string): Promise<{ stream: Readable; format: RecordingFormat }> {
    const live = this.live.get(id);
    await live?.recordingWritten();
    const r = await this.store.db.selectFrom('sessions').select('recording').where('id', '=', id).executeTakeFirst();
    if (!r) throw notFound('session');
    const rel = r.recording ?? live?.recordingPath;
    if (!r.recording && rel && !this.storage.readsLive) throw new AppError(409, 'recording_live', 'this session is still live and its recording goes to object storage: it can be downloaded once the session has ended (watch it live meanwhile)');
    if (!rel || !(await this.storage.exists(rel))) throw notFound('recording');
    return { stream: await this.storage.read(rel), format: recordingFormatOf(rel)! };
  }

  async search(q: { q: string; limit: number; offset: number }): Promise<{ items: (SessionView & { matches: { at: number; kind: string; text: string; by: string | null }[] })[]; total: number }> {
    const pattern = `%${q.q.replace(/[\\%_]/g, (c) => '\\' + c)}%`;
    // Explicit ESCAPE: SQLite's LIKE has no default escape character, PostgreSQL's is the backslash.
    const op = sql.raw(this.store.kind === 'postgres' ? 'ilike' : 'like');
    const hit = (col: string) => sql<boolean>`${sql.ref(col)} ${op} ${pattern} escape '\\'`;
    const ids = await this.store.db
      .selectFrom('sessionText')
      .innerJoin('sessions', 'sessions.id', 'sessionText.sessionId')
      .select(['sessionText.sessionId', 'sessions.startedAt'])
      .where(hit('sessionText.text'))
      .groupBy(['sessionText.sessionId', 'sessions.startedAt'])
      .orderBy('sessions.startedAt', 'desc')
      .execute();
    const page = ids.slice(q.offset, q.offset + q.limit);
    const items = [];
    for (const { sessionId } of page) {
      const matches = await this.store.db
        .selectFrom('sessionText')
        .select(['at', 'kind', 'text', 'typedBy as by'])
        .where('sessionId', '=', sessionId)
        .where(hit('text'))
        .orderBy('seq')
        .limit(20)
        .execute();
      items.push({ ...(await this.get(sessionId)), matches });
    }
    return { items, total: ids.length };
  }

  async text(id: string, page: { limit: number; offset: number }): Promise<{ items: { at: number; kind: string; text: string; by: string | null }[]; total: number }> {
    await this.get(id);
    const base = this.store.db.selectFrom('sessionText').where('sessionId', '=', id);
    const [{ total }] = (await base.select((eb) => eb.fn.countAll<number>().as('total')).execute()) as [{ total: number }];
    const items = await base.select(['at', 'kind', 'text', 'typedBy as by']).orderBy('seq').limit(page.limit).offset(page.offset).execute();
    return { items, total: Number(total) };
  }
}
