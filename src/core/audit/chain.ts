// The hash chain: hash_n = SHA-256(canonical(event_n without its own hash)), and every
// event names hash_{n-1} as prevHash. The sequence number is deliberately outside the
// hashed content so that a renumbered (reordered) event is told apart from an edited one.
// Signed checkpoints fix the chain up to a point; they are required (events older than the
// checkpoint interval must be covered by one), and anchors — checkpoints kept outside the
// database — must still be found in it.
import { canonicalJson } from './canonical.js';
import { sha256hex } from '../util.js';
import type { AuditEventRow } from '../../store/schema.js';
import type { Anchor, Checkpoint } from './pinning.js';

export type { Checkpoint } from './pinning.js';

export const GENESIS = '0'.repeat(64);

export type ChainFields = Omit<AuditEventRow, 'seq' | 'hash'>;

export function eventHash(e: ChainFields): string {
  return sha256hex(
    canonicalJson({
      v: 1,
      ts: e.ts,
      actorId: e.actorId,
      actorName: e.actorName,
      action: e.action,
      targetType: e.targetType,
      targetId: e.targetId,
      ip: e.ip,
      outcome: e.outcome,
      details: e.details,
      prevHash: e.prevHash,
    }),
  );
}

export type BreakReason = 'edited' | 'deleted' | 'reordered' | 'bad_signature' | 'truncated' | 'missing_checkpoint' | 'bad_anchor' | 'no_pinned_key';

export interface VerifyResult {
  ok: boolean;
  count: number;
  brokenAt?: number;
  reason?: BreakReason;
  message?: string;
  checkpoints: number;
  lastCheckpointSeq?: number;
  /** Events after the last checkpoint whose checkpoint is not due yet. */
  unsigned: number;
  /** Anchors (checkpoints kept outside the database) that were checked. */
  anchors: number;
  /** 'pinned': only keys kept outside the database; 'database': keys recorded in it were trusted too. */
  trust: 'pinned' | 'database';
  /** Where the pinned keys came from. */
  keySource: string | null;
}

const messages: Record<BreakReason, string> = {
  edited: 'event content does not match its hash (edited)',
  deleted: 'an event is missing before this position (deleted)',
  reordered: 'event is out of order: it follows a different predecessor (reordered)',
  bad_signature: 'signed checkpoint does not verify',
  truncated: 'events after this position were removed (a signed checkpoint names them)',
  missing_checkpoint: 'no signed checkpoint covers this event',
  bad_anchor: 'an anchor checkpoint does not verify',
  no_pinned_key: 'no pinned signing key to verify against',
};

export type KeyCheck = (cp: Checkpoint) => 'ok' | 'bad' | 'unpinned';

export interface ChainCheck {
  /** Verifies a checkpoint's signature against the trusted keys. */
  checkSignature: KeyCheck;
  /** Checkpoints kept outside the database. */
  anchors: Anchor[];
  /** Now, in epoch ms, and how old an event may be before a checkpoint must cover it. */
  now: number;
  dueMs: number;
  trust: VerifyResult['trust'];
  keySource: string | null;
}

/** Verifies a whole chain held in memory (rows ordered by seq) against its signed checkpoints and anchors. */
export function verifyChain(rows: AuditEventRow[], checkpoints: Checkpoint[], c: ChainCheck): VerifyResult {
  const base = { count: rows.length, checkpoints: checkpoints.length, anchors: c.anchors.length, trust: c.trust, keySource: c.keySource, unsigned: 0 };
  const fail = (at: number, reason: BreakReason, detail?: string): VerifyResult => ({
    ok: false,
    ...base,
    brokenAt: at,
    reason,
    message: `audit chain broken at event ${at}: ${detail ?? messages[reason]}`,
  });
  const known = new Set(rows.map((r) => r.hash));
  let prevHash = GENESIS;
  let expected = 1;
  const bySeq = new Map<number, AuditEventRow>();
  for (const r of rows) {
    if (r.seq !== expected) return fail(expected, 'deleted');
    if (eventHash(r) !== r.hash) return fail(r.seq, 'edited');
    if (r.prevHash !== prevHash) return fail(r.seq, known.has(r.prevHash) ? 'reordered' : 'deleted');
    bySeq.set(r.seq, r);
    prevHash = r.hash;
    expected++;
  }
  const badKey = (cp: Checkpoint, what: string): string | null => {
    const k = c.checkSignature(cp);
    if (k === 'ok') return null;
    return k === 'unpinned' ? `${what} is signed by key ${cp.keyId}, which is not pinned (see audit-signing.pub)` : `${what} has a signature that does not verify`;
  };
  let last: number | undefined;
  const cpBySeq = new Map<number, Checkpoint>();
  for (const cp of checkpoints) {
    const row = bySeq.get(cp.seq);
    if (!row) return fail(rows.length + 1, 'truncated');
    if (row.hash !== cp.hash) return fail(cp.seq, 'edited');
    const bad = badKey(cp, 'the signed checkpoint');
    if (bad) return fail(cp.seq, 'bad_signature', bad);
    cpBySeq.set(cp.seq, cp);
    last = cp.seq;
  }
  // Anchors: the database must still hold what they name — the event with that hash (else
  // it was removed or rewritten) and the checkpoint itself (else checkpoints were deleted).
  let covered = last ?? 0;
  for (const a of c.anchors) {
    const bad = badKey(a, `the checkpoint kept in ${a.source}`);
    if (bad) return fail(a.seq, 'bad_anchor', bad);
    const row = bySeq.get(a.seq);
    if (!row) return fail(rows.length + 1, 'truncated', `events were removed: the signed checkpoint kept in ${a.source} names event ${a.seq}, the chain ends at ${rows.length} (truncated)`);
    if (row.hash !== a.hash) return fail(a.seq, 'edited', `the chain up to here was rewritten: the signed checkpoint kept in ${a.source} names another hash (edited)`);
    if (cpBySeq.get(a.seq)?.hash !== a.hash) return fail(a.seq, 'missing_checkpoint', `the signed checkpoint kept in ${a.source} is missing from the database (checkpoints deleted)`);
    covered = Math.max(covered, a.seq);
  }
  // Checkpoints are required: an event older than the interval (plus grace) must be covered.
  for (let s = covered + 1; s <= rows.length; s++) {
    const r = bySeq.get(s)!;
    if (r.ts < c.now - c.dueMs) {
      const secs = Math.round(c.dueMs / 1000);
      return fail(s, 'missing_checkpoint', `no signed checkpoint covers this event of ${new Date(r.ts).toISOString()}, though one is due within ${secs} s (checkpoints deleted, or the gateway stopped without signing)`);
    }
  }
  return { ok: true, ...base, unsigned: rows.length - covered, ...(last !== undefined ? { lastCheckpointSeq: last } : {}) };
}
