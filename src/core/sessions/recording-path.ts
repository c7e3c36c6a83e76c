// Where a session's recording lives under the recordings directory. One place, because the
// writer (live.ts) names the file and crash recovery (recovery.ts) has to find it again.
import { join } from 'node:path';

/** YYYY/MM/DD/<session><ext>, the date (UTC) being the session's start. */
export function recordingRelPath(sessionId: string, startedAt: number, ext: string): string {
  const d = new Date(startedAt);
  return join(String(d.getUTCFullYear()), String(d.getUTCMonth() + 1).padStart(2, '0'), String(d.getUTCDate()).padStart(2, '0'), `${sessionId}${ext}`);
}
