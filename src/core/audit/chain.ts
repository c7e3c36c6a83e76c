// The hash chain: hash_n = SHA-256(canonical(event_n without its own hash)), and every
// event names hash_{n-1} as prevHash. The sequence number is deliberately outside the
// hashed content so that a renumbered (reordered) event is told apart from an edited one.
import { canonicalJson } from './canonical.js';
import { sha256hex } from '../util.js';
import type { AuditEventRow } from '../../store/schema.js';

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

export type BreakReason = 'edited' | 'deleted' | 'reordered' | 'bad_signature' | 'truncated';

export interface VerifyResult {
  ok: boolean;
  count: number;
  brokenAt?: number;
  reason?: BreakReason;
  message?: string;
  checkpoints: number;
  lastCheckpointSeq?: number;
}

export interface Checkpoint {
  seq: number;
  hash: string;
  signature: string;
  keyId: string;
}

const messages: Record<BreakReason, string> = {
  edited: 'event content does not match its hash (edited)',
  deleted: 'an event is missing before this position (deleted)',
  reordered: 'event is out of order: it follows a different predecessor (reordered)',
  bad_signature: 'signed checkpoint does not verify',
  truncated: 'events after this position were removed (a signed checkpoint names them)',
};

/** Verifies a whole chain held in memory (rows ordered by seq) against its signed checkpoints. */
export function verifyChain(
  rows: AuditEventRow[],
  checkpoints: Checkpoint[],
  checkSignature: (cp: Checkpoint) => boolean,
): VerifyResult {
  const fail = (at: number, reason: BreakReason): VerifyResult => ({
    ok: false,
    count: rows.length,
    brokenAt: at,
    reason,
    message: `audit chain broken at event ${at}: ${messages[reason]}`,
    checkpoints: checkpoints.length,
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
  let last: number | undefined;
  for (const cp of checkpoints) {
    const row = bySeq.get(cp.seq);
    if (!row) return fail(rows.length + 1, 'truncated');
    if (row.hash !== cp.hash) return fail(cp.seq, 'edited');
    if (!checkSignature(cp)) return fail(cp.seq, 'bad_signature');
    last = cp.seq;
  }
  return { ok: true, count: rows.length, checkpoints: checkpoints.length, ...(last !== undefined ? { lastCheckpointSeq: last } : {}) };
}
