// Recording retention: policies that keep recordings N days after their session ended
// (for every session, a folder's secrets — subfolders included — or a launcher), legal holds
// that keep one session's recording whatever the policies say, and the sweep that deletes
// what no policy keeps any longer. Every change and every deletion is audited; a deleted
// recording's `recording.delete` event names the file and its sealed hash, so
// `recording verify` reports it as deleted, not missing.
//
// Where several policies apply to a session the longest wins (deleting needs every
// applicable policy to agree); a session no policy applies to is kept for ever.
//
// A deletion is committed first — the session row cleared and its `recording.delete` event
// written in one transaction — and the file or object removed after: a failure before the
// commit leaves everything as it was, one after it leaves a file no session offers, which a
// note written in the same transaction (a `meta` row) names until it is removed; every sweep
// first removes those.
import type { Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { Store } from '../../store/db.js';
import type { Database, RecordingRetentionTable } from '../../store/schema.js';
import type { Actor, AuditService } from '../audit/service.js';
import { SYSTEM } from '../audit/service.js';
import { badRequest, conflict, notFound, type AppError } from '../errors.js';
import { newId, now } from '../util.js';
import type { RecordingStorage } from './recording-storage.js';

export type RetentionScope = 'global' | 'folder' | 'launcher';

export interface RetentionPolicy {
  id: string;
  scope: RetentionScope;
  /** The folder's or launcher's id; null for global. */
  scopeId: string | null;
  keepDays: number;
  createdAt: string;
  updatedAt: string;
}

export interface LegalHold {
  sessionId: string;
  reason: string;
  by: { id: string; username: string };
  createdAt: string;
}

export interface SweepResult {
  deleted: { sessionId: string; file: string; keepDays: number }[];
  /** Recordings past every policy that a legal hold kept. */
  held: number;
  /** Recordings whose deletion failed (logged): the next sweep tries them again. */
  failed: number;
}

/** Prefix of the `meta` rows naming a deleted recording whose file is still to be removed (the file after it; the session as value). */
const LEFT_BEHIND = 'recording-removal:';

/** A session past the shortest policy, as the sweep reads it. */
interface SweepRow {
  id: string;
  /** The node that recorded the session (null: rows from before nodes were recorded). */
  node: string | null;
  recording: string | null;
  recordingSha256: string | null;
  endedAt: number | null;
}

const DAY = 86_400_000;

/**
 * Whether retention deleted a session's recording. Only the sweep clears the recording of an
 * ended session: a live one's row names none until it ends, and an ended one may name none
 * yet (its node seals it when it starts again) or never (not recorded). So: ended, no file,
 * and a sealed hash or a recording.delete event left (an unsealed recording has no hash).
 */
async function recordingDeleted(trx: Transaction<Database>, sessionId: string, s: { status: string; recording: string | null; recordingSha256: string | null }): Promise<boolean> {
  if (s.status !== 'ended' || s.recording !== null) return false;
  if (s.recordingSha256 !== null) return true;
  return !!(await trx.selectFrom('auditEvents').select('seq').where('action', '=', 'recording.delete').where('targetId', '=', sessionId).limit(1).executeTakeFirst());
}
/** Folder nesting followed upwards (as access policies do). */
const MAX_DEPTH = 64;

const view = (r: RecordingRetentionTable): RetentionPolicy => ({
  id: r.id,
  scope: r.scope,
  scopeId: r.scope === 'global' ? null : r.scopeId,
  keepDays: r.keepDays,
  createdAt: new Date(r.createdAt).toISOString(),
  updatedAt: new Date(r.updatedAt).toISOString(),
});

export class RecordingRetention {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditService,
    private readonly storage: RecordingStorage,
    private readonly log: Logger,
    /**
     * The data dir's node id (without a worker's `-w<index>`): on local storage, a file not here
     * that another machine's node recorded is that node's to delete; this machine's workers
     * share its recordings directory.
     */
    private readonly node: string,
  ) {}

  async list(): Promise<RetentionPolicy[]> {
    const rows = await this.store.db.selectFrom('recordingRetention').selectAll().orderBy('scope').orderBy('scopeId').execute();
    return rows.map(view);
  }

  /** Sets the policy of a scope (creates it or changes its days). */
  async set(actor: Actor, p: { scope: RetentionScope; scopeId?: string | null; keepDays: number }): Promise<RetentionPolicy> {
    const scopeId = p.scope === 'global' ? '' : (p.scopeId ?? '');
    if (p.scope !== 'global' && !scopeId) throw badRequest(`a ${p.scope} policy needs scopeId`);
    if (p.scope === 'global' && p.scopeId) throw badRequest('a global policy has no scopeId');
    if (p.scope === 'folder' && !(await this.store.db.selectFrom('folders').select('id').where('id', '=', scopeId).executeTakeFirst())) throw notFound('folder');
    if (p.scope === 'launcher' && !(await this.store.db.selectFrom('launchers').select('id').where('id', '=', scopeId).executeTakeFirst())) throw notFound('launcher');
    const t = now();
    const existing = await this.store.db.selectFrom('recordingRetention').selectAll().where('scope', '=', p.scope).where('scopeId', '=', scopeId).executeTakeFirst();
    const id = existing?.id ?? newId();
    // The change and its event in one transaction (here and in remove and release): a policy
    // changed without its event, or with an event and no change, would misreport what the
    // sweep deletes.
    await this.audit.record(
      actor,
      { action: 'recording.retention.set', target: { type: 'retention', id }, details: { scope: p.scope, scopeId: scopeId || null, keepDays: p.keepDays, ...(existing ? { was: existing.keepDays } : {}) } },
      {
        alongside: async (trx) => {
          if (existing) await trx.updateTable('recordingRetention').set({ keepDays: p.keepDays, updatedAt: t }).where('id', '=', id).execute();
          else await trx.insertInto('recordingRetention').values({ id, scope: p.scope, scopeId, keepDays: p.keepDays, createdAt: t, updatedAt: t }).execute();
        },
      },
    );
    return view(await this.store.db.selectFrom('recordingRetention').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
  }

  async remove(actor: Actor, id: string): Promise<void> {
    const row = await this.store.db.selectFrom('recordingRetention').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound('retention policy');
    const written = await this.audit.recordIf(
      async (trx) => Number((await trx.deleteFrom('recordingRetention').where('id', '=', id).executeTakeFirst()).numDeletedRows) > 0,
      [{ actor, input: { action: 'recording.retention.delete', target: { type: 'retention', id }, details: { scope: row.scope, scopeId: row.scopeId || null, keepDays: row.keepDays } } }],
    );
    if (!written) throw notFound('retention policy');
  }

  async holds(): Promise<LegalHold[]> {
    const rows = await this.store.db.selectFrom('recordingHolds').selectAll().orderBy('createdAt').execute();
    return rows.map((r) => ({ sessionId: r.sessionId, reason: r.reason, by: { id: r.userId, username: r.username }, createdAt: new Date(r.createdAt).toISOString() }));
  }

  async hold(actor: Actor, sessionId: string, reason: string): Promise<LegalHold> {
    const t = now();
    const by = { id: actor.id ?? '', username: actor.name ?? '' };
    const refused: { error?: AppError } = {};
    // Placed in an audit transaction, as the sweep deletes in one: on every database those
    // run one at a time, so a deletion either committed before (and is refused here) or
    // finds this hold and keeps the recording.
    const written = await this.audit.recordIf(
      async (trx) => {
        refused.error = (await this.holdRefusal(trx, sessionId)) ?? undefined;
        if (refused.error) return false;
        await trx.insertInto('recordingHolds').values({ sessionId, reason, userId: by.id, username: by.username, createdAt: t }).execute();
        return true;
      },
      [{ actor, input: { action: 'recording.hold', target: { type: 'session', id: sessionId }, details: { reason } } }],
    );
    if (!written) throw refused.error!;
    return { sessionId, reason, by, createdAt: new Date(t).toISOString() };
  }

  /** Why a session cannot be put on legal hold, or null when it can. */
  private async holdRefusal(trx: Transaction<Database>, sessionId: string): Promise<AppError | null> {
    const s = await trx.selectFrom('sessions').select(['status', 'recording', 'recordingSha256']).where('id', '=', sessionId).executeTakeFirst();
    if (!s) return notFound('session');
    if (await trx.selectFrom('recordingHolds').select('sessionId').where('sessionId', '=', sessionId).executeTakeFirst()) return conflict('this session is already on legal hold', 'already_held');
    if (await recordingDeleted(trx, sessionId, s)) return conflict("this session's recording was deleted by retention: there is nothing left to hold", 'recording_deleted');
    return null;
  }

  async release(actor: Actor, sessionId: string): Promise<void> {
    // With its event, in one transaction: a hold gone without a recording.release event would
    // let the sweep delete the recording while the trail shows it held.
    const written = await this.audit.recordIf(
      async (trx) => Number((await trx.deleteFrom('recordingHolds').where('sessionId', '=', sessionId).executeTakeFirst()).numDeletedRows) > 0,
      [{ actor, input: { action: 'recording.release', target: { type: 'session', id: sessionId } } }],
    );
    if (!written) throw notFound('legal hold');
  }

  /**
   * Days a session's recording is kept: the longest policy that applies, null when none does.
   * The folder is the one its secret is in at the sweep (a moved secret's recordings follow
   * it); a deleted secret's folder is unknown, so every folder policy counts for them.
   */
  private async keepDaysFor(policies: RecordingRetentionTable[], s: { launcherId: string; secretId: string }): Promise<number | null> {
    const by = (scope: RetentionScope, id: string) => policies.find((p) => p.scope === scope && p.scopeId === id)?.keepDays;
    const applicable: number[] = [];
    const g = by('global', '');
    if (g !== undefined) applicable.push(g);
    const l = by('launcher', s.launcherId);
    if (l !== undefined) applicable.push(l);
    const folderPolicies = policies.filter((p) => p.scope === 'folder');
    if (folderPolicies.length) {
      const secret = await this.store.db.selectFrom('secrets').select('folderId').where('id', '=', s.secretId).executeTakeFirst();
      // Secrets are deleted for good, and with them the only record of the folder they were
      // in: any folder policy may have applied, so the longest one counts (kept too long
      // rather than deleted before a policy allowed it).
      if (!secret) applicable.push(...folderPolicies.map((p) => p.keepDays));
      let folder = secret?.folderId ?? null;
      for (let depth = 0; folder && depth < MAX_DEPTH; depth++) {
        const f = by('folder', folder);
        if (f !== undefined) applicable.push(f);
        folder = (await this.store.db.selectFrom('folders').select('parentId').where('id', '=', folder).executeTakeFirst())?.parentId ?? null;
      }
    }
    return applicable.length ? Math.max(...applicable) : null;
  }

  /** Deletes every recording no policy keeps any longer and no legal hold keeps (audited one by one). */
  async sweep(actor: Actor = SYSTEM, at = now()): Promise<SweepResult> {
    const out: SweepResult = { deleted: [], held: 0, failed: 0 };
    // Files of earlier deletions first: whatever the policies are now, those are deleted.
    out.failed += await this.removeLeftBehind();
    const policies = await this.store.db.selectFrom('recordingRetention').selectAll().execute();
    if (!policies.length) return out;
    const shortest = Math.min(...policies.map((p) => p.keepDays));
    const rows = await this.store.db
      .selectFrom('sessions')
      .leftJoin('recordingHolds', 'recordingHolds.sessionId', 'sessions.id')
      .select(['sessions.id', 'sessions.node', 'sessions.launcherId', 'sessions.secretId', 'sessions.recording', 'sessions.recordingSha256', 'sessions.endedAt', 'recordingHolds.sessionId as heldId'])
      .where('sessions.status', '=', 'ended')
      .where('sessions.recording', 'is not', null)
      .where('sessions.endedAt', '<=', at - shortest * DAY)
      .orderBy('sessions.endedAt')
      .execute();
    let elsewhere = 0;
    for (const r of rows) {
      const keepDays = await this.keepDaysFor(policies, r);
      if (keepDays === null || (r.endedAt ?? at) > at - keepDays * DAY) continue;
      if (r.heldId) {
        out.held++;
        continue;
      }
      // One recording that cannot be deleted (a file rm may not delete, object storage
      // refusing) must not stop the sweep: the rows come oldest first, so it would stop every
      // sweep at the same place and nothing after it would ever be deleted.
      try {
        const done = await this.deleteOne(actor, r, keepDays, at);
        if (done === 'held') out.held++;
        if (done === 'elsewhere') elsewhere++;
        if (done !== 'deleted') continue;
        out.deleted.push({ sessionId: r.id, file: r.recording!, keepDays });
        if (!(await this.removeFile(r.recording!, r.id))) out.failed++;
      } catch (e) {
        out.failed++;
        this.log.error({ sessionId: r.id, recording: r.recording, err: { message: (e as Error).message } }, 'a recording past its retention could not be deleted; the next sweep tries again');
      }
    }
    if (elsewhere) this.log.info({ recordings: elsewhere }, 'recordings past their retention are on other nodes\' disks (local storage) or still being uploaded: left to the node that has them');
    return out;
  }

  /**
   * Commits the deletion of one session's recording: clears the row, deletes its text index,
   * notes its file as left behind and writes `recording.delete`, in one transaction. Unless a
   * hold placed since the list was read keeps it ('held') or another node's sweep got there
   * first ('gone'). The file itself is removed by the caller, once this has committed.
   */
  private async deleteOne(actor: Actor, r: SweepRow, keepDays: number, at: number): Promise<'deleted' | 'held' | 'gone' | 'elsewhere'> {
    const file = r.recording!;
    // Asked before the commit, as the file goes only after it: the event says so when it was gone already.
    const present = await this.storage.exists(file);
    // On local storage each machine of a cluster has its own recordings directory (its workers
    // share one): a file that is not here but was recorded by another node is on that node's
    // disk. Deleting the row here would audit a deletion that never happens (the file stays,
    // and an interrupted session's is sealed again at that node's next start).
    if (!present && this.storage.kind === 'local' && !this.mine(r.node)) return 'elsewhere';
    let refused: 'held' | 'gone' | 'elsewhere' = 'gone';
    const written = await this.audit.recordIf(
      async (trx) => {
        // The list was read once, and each deletion takes its time (several round trips to
        // object storage): a hold placed since then must still keep the recording. Holds are
        // placed in audit transactions too, so none can come between this look and the commit.
        if (await trx.selectFrom('recordingHolds').select('sessionId').where('sessionId', '=', r.id).executeTakeFirst()) {
          refused = 'held';
          return false;
        }
        // An upload still open (its node could not complete it yet; it does at its next start)
        // is a recording not in the bucket yet: deleted now, it would be put back then.
        if (await trx.selectFrom('recordingUploads').select('rel').where('sessionId', '=', r.id).executeTakeFirst()) {
          refused = 'elsewhere';
          return false;
        }
        // Only while the row still names this file: another node's sweep that got there first
        // has cleared it and audited the deletion, which is not audited twice.
        const cleared = await trx.updateTable('sessions').set({ recording: null }).where('id', '=', r.id).where('recording', '=', file).executeTakeFirst();
        if (Number(cleared.numUpdatedRows) === 0) {
          refused = 'gone';
          return false;
        }
        // The typed-text index is part of the recording.
        await trx.deleteFrom('sessionText').where('sessionId', '=', r.id).execute();
        await trx.insertInto('meta').values({ key: `${LEFT_BEHIND}${file}`, value: r.id }).onConflict((oc) => oc.column('key').doNothing()).execute();
        return true;
      },
      [
        {
          actor,
          input: {
            action: 'recording.delete',
            target: { type: 'session', id: r.id },
            details: { file, sha256: r.recordingSha256, keepDays, endedAt: new Date(r.endedAt ?? at).toISOString(), reason: 'retention', ...(present ? {} : { note: 'the file was already gone' }) },
          },
        },
      ],
    );
    return written ? 'deleted' : refused;
  }

  /**
   * Removes the file (or object) of a committed deletion, then its left-behind note. False
   * when it could not (logged): the note stays and the next sweep tries again.
   */
  private async removeFile(file: string, sessionId: string): Promise<boolean> {
    try {
      await this.storage.remove(file);
      await this.store.db.deleteFrom('meta').where('key', '=', `${LEFT_BEHIND}${file}`).execute();
      return true;
    } catch (e) {
      this.log.error({ sessionId, recording: file, err: { message: (e as Error).message } }, 'a deleted recording (audited) could not be removed from storage; the next sweep tries again');
      return false;
    }
  }

  /** Removes the files earlier deletions left behind; answers how many still could not be. */
  private async removeLeftBehind(): Promise<number> {
    const notes = await this.store.db.selectFrom('meta').select(['key', 'value']).where('key', 'like', `${LEFT_BEHIND}%`).execute();
    let failed = 0;
    for (const n of notes) {
      const file = n.key.slice(LEFT_BEHIND.length);
      // Another machine's file (local storage): its note is for that node's sweep to act on.
      if (this.storage.kind === 'local' && !(await this.storage.exists(file))) {
        const s = await this.store.db.selectFrom('sessions').select('node').where('id', '=', n.value).executeTakeFirst();
        if (s && !this.mine(s.node)) continue;
      }
      if (!(await this.removeFile(file, n.value))) failed++;
    }
    return failed;
  }

  /** Whether a session recorded by `node` wrote its recording here (this machine's node or workers; rows from before nodes were kept count as here). */
  private mine(node: string | null): boolean {
    return node === null || node === this.node || (node.startsWith(`${this.node}-w`) && /^\d+$/.test(node.slice(this.node.length + 2)));
  }
}
