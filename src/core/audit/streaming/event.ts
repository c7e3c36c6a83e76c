// An audit event as it is streamed to a SIEM: the stored row exactly as it was hashed (time in
// epoch ms, `details` as the JSON text that was hashed), so a receiver can check its copy:
// hash = SHA-256(canonical JSON of {v: 1, and every field but seq and hash}), and each event's
// prevHash is the hash of the event before it (docs/operations.md#audit-streaming).
import type { AuditEventRow } from '../../../store/schema.js';
import { eventHash } from '../chain.js';
import type { ExportedCheckpoint } from '../pinning.js';

/** A signed checkpoint as streamed: the export format `gatehouse audit checkpoint export` writes (an anchor for `audit verify`). */
export type StreamedCheckpoint = ExportedCheckpoint;

export interface StreamedEvent {
  seq: number;
  ts: number;
  actorId: string | null;
  actorName: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  outcome: AuditEventRow['outcome'];
  details: string;
  prevHash: string;
  hash: string;
}

export function streamedEvent(r: AuditEventRow): StreamedEvent {
  return {
    seq: Number(r.seq),
    ts: Number(r.ts),
    actorId: r.actorId,
    actorName: r.actorName,
    action: r.action,
    targetType: r.targetType,
    targetId: r.targetId,
    ip: r.ip,
    outcome: r.outcome,
    details: r.details,
    prevHash: r.prevHash,
    hash: r.hash,
  };
}

/** Whether a received copy hashes to the hash it carries (what a SIEM checks; the chain link is prevHash). */
export function streamedHashOk(e: StreamedEvent): boolean {
  const { seq: _seq, hash, ...fields } = e;
  return eventHash(fields) === hash;
}
