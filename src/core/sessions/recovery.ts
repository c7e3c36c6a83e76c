// At start: the sessions this node left 'live' (it was killed, crashed or lost power) are
// ended as "interrupted", each with its recording found, repaired (recording-repair.ts) and
// sealed into the audit chain like a normal end's: same actions, same hash over the final
// file bytes, plus `recovered: true`. The end time is the last recorded event, the last
// moment known to have happened, not the restart.
// In a cluster (core/cluster/registry.ts) the same is done, at start and then every heartbeat,
// for the sessions of nodes that are dead (heartbeat timeout), never for those of live nodes.
// Their recordings are on the dead node's disk unless the recordings directory is shared:
// when none is found the session is ended without one, and the node, once back, seals its
// own recording of it then (sealLateRecordings), as complete as its last flush.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Store } from '../../store/db.js';
import type { SessionsTable } from '../../store/schema.js';
import type { AuditService } from '../audit/service.js';
import { SYSTEM, type AuditEntry } from '../audit/service.js';
import { now } from '../util.js';
import { recordingNames } from './recording-path.js';
import { repairRecording, sha256File, type GhrecTraffic, type RecordingFacts } from './recording-repair.js';

export const INTERRUPTED = 'interrupted';

/** What session-end listeners (Sessions.onSessionEnd) learn: the session, its user, its secret and the account it logged in as (a personal credential's may differ). */
export interface EndedSession {
  id: string;
  userId: string;
  secretId: string;
  username: string | null;
  /** The protocol, the bytes relayed and the sealed recording (relative path), if any. The byte counters of core/metrics take theirs earlier (onLeftLive). */
  protocol: string;
  bytesIn: number;
  bytesOut: number;
  recording: string | null;
  /**
   * When its end was written. For a recovered session that is when recovery ended it, not the
   * "as of" time its row gets (its last recorded event, or its start): it may have been in use
   * until its node died, long after that.
   */
  endWrittenAt: number;
}

export interface RecoveryContext {
  store: Store;
  audit: AuditService;
  log: Logger;
  recordingsDir: string;
  /** This node (node-id.ts): only its sessions, and those from before nodes were named, are recovered. */
  node: string;
  /** Nodes found dead (registry.ts): their sessions are recovered too. */
  deadNodes?: string[];
  /** Only the dead nodes' sessions (while this node runs: its own live ones are live). */
  deadOnly?: boolean;
  /**
   * Told of each session this recovery ended (not of those another node ended first), for its
   * end listeners: what a live end does (a check-in, rotation after use, a JIT account removed,
   * an OpenPSM notice) is done for sessions whose node died too.
   */
  ended?: (s: EndedSession) => Promise<void>;
  /** Per ghrec format, which record types carry which direction (for the byte counts). */
  traffic?: Record<string, GhrecTraffic>;
  /**
   * Object storage (recording-storage-s3.ts): completes a session's unfinished upload and
   * gives a local work file to repair and hash; `commit` stores it back. Unset: the recording
   * is a file in recordingsDir, repaired in place.
   */
  recover?: (sessionId: string, startedAt: number) => Promise<{ rel: string; path: string; commit: () => Promise<void> } | null>;
  /**
   * Whether another node is still dead, asked again before each of its sessions is recovered:
   * a node found dead that comes back (a pause longer than the dead timeout, a network cut
   * healed) while its sessions are being recovered — which takes a while with object storage
   * — keeps the ones not yet ended. Unset: it was dead when named, and stays so.
   */
  stillDead?: (node: string) => Promise<boolean>;
  /**
   * The node is stopping: no further session is taken up, and one whose recording could not be
   * had (the storage closing under it) is left live for the next reaper rather than ended
   * without its recording, which nobody would seal later. Unset: never.
   */
  stopping?: () => boolean;
}

/** Where a session's recording is to be repaired: a file in the recordings directory, or a work copy from object storage. */
async function locate(ctx: RecoveryContext, sessionId: string, startedAt: number): Promise<{ rel: string; path: string; commit?: () => Promise<void> } | null> {
  if (ctx.recover) return ctx.recover(sessionId, startedAt);
  const rel = findRecording(ctx.recordingsDir, sessionId, startedAt);
  return rel ? { rel, path: join(ctx.recordingsDir, rel) } : null;
}

/** The recording of a session in the recordings directory (relative to it), under any name it may have. */
export function findRecording(recordingsDir: string, sessionId: string, startedAt: number): string | null {
  return recordingNames(sessionId, startedAt).find((rel) => existsSync(join(recordingsDir, rel))) ?? null;
}

/** Recovers every interrupted session of this node (and of the dead nodes named); returns how many. */
export async function recoverInterrupted(ctx: RecoveryContext): Promise<number> {
  const nodes = [...(ctx.deadOnly ? [] : [ctx.node]), ...(ctx.deadNodes ?? [])].filter((n) => !ctx.deadOnly || n !== ctx.node);
  if (nodes.length === 0) return 0;
  const rows = await ctx.store.db
    .selectFrom('sessions')
    .selectAll()
    .where('status', '=', 'live')
    .where((eb) => (ctx.deadOnly ? eb('node', 'in', nodes) : eb.or([eb('node', 'in', nodes), eb('node', 'is', null)])))
    .orderBy('startedAt')
    .execute();
  let n = 0;
  for (const r of rows) {
    if (ctx.stopping?.()) break;
    if (await recoverSession(ctx, r)) n++;
  }
  // The crash left the chain's last events unsigned; sign the head, recovered seals included.
  if (n > 0) await ctx.audit.checkpoint();
  return n;
}

async function recoverSession(ctx: RecoveryContext, r: SessionsTable): Promise<boolean> {
  if (ctx.stillDead && r.node !== null && r.node !== ctx.node && !(await ctx.stillDead(r.node))) {
    ctx.log.warn({ sessionId: r.id, node: r.node }, 'not ended: its gateway node, found dead, is sending heartbeats again');
    return false;
  }
  let found: Awaited<ReturnType<typeof locate>> = null;
  let problem: string | null = null;
  try {
    found = await locate(ctx, r.id, r.startedAt);
  } catch (e) {
    problem = `the recording could not be fetched from object storage: ${(e as Error).message}`;
  }
  const rel = found?.rel ?? null;
  let facts: RecordingFacts | null = null;
  let sha: string | null = null;
  if (!found) problem ??= 'no recording file was found';
  else {
    const path = found.path;
    try {
      facts = await repairRecording(path, ctx.traffic);
      sha = await sha256File(path);
      await found.commit?.();
    } catch (e) {
      // Left in place, unsealed and unlinked, for someone to look at.
      facts = null;
      sha = null;
      problem = `the recording ${rel} is unreadable: ${(e as Error).message}`;
    }
  }
  // Object storage only: a recordings directory does not close under the recovery.
  if (problem && ctx.recover && ctx.stopping?.()) {
    ctx.log.warn({ sessionId: r.id, node: r.node, problem }, 'not ended: this node is stopping and its recording could not be had now; left for the next node (or start) to end');
    return false;
  }
  let endedAt: number;
  if (facts) endedAt = (facts.startedAt ?? r.startedAt) + facts.lastEventMs;
  else {
    // No recording to tell: the last line of the text index is the last thing known.
    const last = await ctx.store.db.selectFrom('sessionText').select((eb) => eb.fn.max('at').as('at')).where('sessionId', '=', r.id).executeTakeFirst();
    endedAt = r.startedAt + Math.round(Number(last?.at ?? 0) * 1000);
  }
  endedAt = Math.min(Math.max(endedAt, r.startedAt), now());
  const bytesIn = facts?.bytesIn ?? 0;
  const bytesOut = facts?.bytesOut ?? 0;
  const recording = facts ? rel : null;
  const actor = { id: r.userId, name: r.username, ip: r.clientIp };
  const elsewhere = r.node !== null && r.node !== ctx.node;
  const end: AuditEntry = {
    actor,
    input: {
      action: 'session.end',
      target: { type: 'session', id: r.id },
      details: {
        reason: INTERRUPTED,
        bytesIn,
        bytesOut,
        seconds: Math.round((endedAt - r.startedAt) / 1000),
        recovered: true,
        note: elsewhere
          ? `its gateway node ${r.node} stopped sending heartbeats; ended by node ${ctx.node}, as of ${facts ? 'the last recorded event' : 'the last moment known (text index or start)'}`
          : `the gateway stopped without ending the session; ended at its next start, as of ${facts ? 'the last recorded event' : 'the last moment known (text index or start)'}`,
        ...(elsewhere ? { node: r.node, endedBy: ctx.node } : {}),
        ...(problem ? { recording: elsewhere && !rel ? `no recording file was found on node ${ctx.node}; node ${r.node} seals it when it starts again` : problem } : {}),
      },
    },
  };
  const seal = facts && recording && sha ? sealEntry(r.id, recording, sha, facts, 'recovered after the gateway was interrupted') : null;
  // The ended row, its session.end and its seal in one transaction (as a live end writes
  // them), so a crash between them cannot leave an ended row without its events; and only if
  // still live: another node recovering the same dead node may have been first.
  const ended = await ctx.audit.recordIf(
    async (trx) => {
      const upd = await trx
        .updateTable('sessions')
        .set({ status: 'ended', endedAt, endReason: INTERRUPTED, bytesIn, bytesOut, recording, recordingSha256: sha })
        .where('id', '=', r.id)
        .where('status', '=', 'live')
        .executeTakeFirst();
      return Number(upd.numUpdatedRows) > 0;
    },
    [end, ...(seal ? [seal] : [])],
  );
  if (!ended) {
    // Another node ended it first (two live nodes recover a dead one's sessions at the same
    // time). It may have found no recording: this node completed the upload, or the other's
    // attempt failed on it. Whoever holds the recording seals it.
    if (!facts || !recording || !sha) return false;
    return sealInto(ctx, r, recording, facts, sha, `recovered after the gateway was interrupted; sealed by node ${ctx.node}, which had the recording when another node had ended the session`);
  }
  ctx.log.warn({ sessionId: r.id, recording, tornBytes: facts?.tornBytes ?? 0, problem }, 'interrupted session recovered');
  await ctx.ended?.({ id: r.id, userId: r.userId, secretId: r.secretId, username: r.targetUser, protocol: r.protocol, bytesIn, bytesOut, recording, endWrittenAt: now() });
  return true;
}

/**
 * At start: sessions of this node that another node ended while this one was dead, without a
 * recording (it is on this node's disk): each recording is repaired and sealed now, and the
 * session row takes its facts (end at the last recorded event, bytes, file, hash).
 */
export async function sealLateRecordings(ctx: RecoveryContext): Promise<number> {
  const rows = await unsealedInterrupted(ctx).where('node', '=', ctx.node).execute();
  return sealLate(ctx, rows, 'recovered after the gateway was interrupted; sealed by its node when it started again (another node had ended the session)');
}

/** Sessions ended as interrupted without a recording, oldest first. */
const unsealedInterrupted = (ctx: RecoveryContext) =>
  ctx.store.db.selectFrom('sessions').selectAll().where('status', '=', 'ended').where('endReason', '=', INTERRUPTED).where('recording', 'is', null).orderBy('startedAt');

/**
 * While running, with object storage: sessions of dead nodes that were ended as interrupted
 * without a recording although parts of it are in the store (the store did not answer the node
 * that ended them: an outage, a 503). Their upload is completed from those parts and the
 * recording sealed now; before, nobody tried again unless the dead node itself came back, and
 * the upload's parts stayed in the bucket with no recording. A node that answers again is left
 * to seal its own (sealLateRecordings at its start, or its end of the session).
 */
export async function sealDeadNodesUploads(ctx: RecoveryContext): Promise<number> {
  const rows = await unsealedInterrupted(ctx)
    .where('node', '!=', ctx.node)
    .where('id', 'in', (eb) => eb.selectFrom('recordingUploads').select('sessionId').where('parts', '!=', '[]'))
    .execute();
  // Each one's node looked at just before it is sealed (a batch can take long): one that
  // answers again seals its own, with its spool.
  const stillDead = async (r: SessionsTable) => !!r.node && !!ctx.stillDead && (await ctx.stillDead(r.node));
  return sealLate(ctx, rows, `recovered after the gateway was interrupted; sealed by node ${ctx.node} once object storage answered (the node that ran the session is dead)`, stillDead);
}

async function sealLate(ctx: RecoveryContext, rows: SessionsTable[], note: string, take: (r: SessionsTable) => Promise<boolean> = async () => true): Promise<number> {
  let n = 0;
  for (const r of rows) {
    if (!(await take(r))) continue;
    let found: Awaited<ReturnType<typeof locate>>;
    try {
      found = await locate(ctx, r.id, r.startedAt);
    } catch (e) {
      ctx.log.error({ sessionId: r.id, err: { message: (e as Error).message } }, 'the recording of a session ended by another node could not be fetched from object storage; left unsealed');
      continue;
    }
    if (!found) continue;
    const { rel, path } = found;
    let facts: RecordingFacts;
    let sha: string;
    try {
      facts = await repairRecording(path, ctx.traffic);
      sha = await sha256File(path);
      await found.commit?.();
    } catch (e) {
      ctx.log.error({ sessionId: r.id, recording: rel, err: { message: (e as Error).message } }, 'a recording of a session ended by another node is unreadable; left unsealed');
      continue;
    }
    if (await sealInto(ctx, r, rel, facts, sha, note)) n++;
  }
  if (n > 0) await ctx.audit.checkpoint();
  return n;
}

/**
 * Seals a recovered recording into a session another node ended as interrupted without one:
 * the row takes its facts (end at the last recorded event, bytes, file, hash) and the chain a
 * recording.seal. False when the session has a recording already or was not so ended.
 */
async function sealInto(ctx: RecoveryContext, r: SessionsTable, rel: string, facts: RecordingFacts, sha: string, note: string): Promise<boolean> {
  // The end the other node wrote was its estimate without the recording (the last indexed
  // line, or the start): the recording's last event is later and is what happened.
  const endedAt = Math.min(Math.max((facts.startedAt ?? r.startedAt) + facts.lastEventMs, r.startedAt), now());
  // The row and its recording.seal in one transaction: a crash between them would leave a
  // session that names a recording no seal vouches for (and no later start would seal it).
  const sealed = await ctx.audit.recordIf(async (trx) => {
    const upd = await trx
      .updateTable('sessions')
      .set({ endedAt, bytesIn: facts.bytesIn, bytesOut: facts.bytesOut, recording: rel, recordingSha256: sha })
      .where('id', '=', r.id)
      .where('status', '=', 'ended')
      .where('endReason', '=', INTERRUPTED)
      .where('recording', 'is', null)
      .executeTakeFirst();
    return Number(upd.numUpdatedRows) > 0;
  }, [sealEntry(r.id, rel, sha, facts, note)]);
  if (!sealed) return false;
  ctx.log.warn({ sessionId: r.id, recording: rel, tornBytes: facts.tornBytes }, 'recording of a session ended by another node sealed');
  return true;
}

/** The recording.seal of a recovered recording: its file, hash and format, and what repair cut off. */
function sealEntry(sessionId: string, rel: string, sha: string, facts: RecordingFacts, note: string): AuditEntry {
  return {
    actor: SYSTEM,
    input: {
      action: 'recording.seal',
      target: { type: 'session', id: sessionId },
      details: {
        file: rel,
        sha256: sha,
        format: facts.format,
        recovered: true,
        note: `${note}${facts.tornBytes ? `: a torn last record of ${facts.tornBytes} bytes was cut off` : ''}`,
        bytes: facts.size,
        tornBytes: facts.tornBytes,
      },
    },
  };
}
