// Where a session's recording lives under the recordings directory. One place, because the
// writer (live.ts) names the file and crash recovery (recovery.ts) has to find it again.
import { join } from 'node:path';
import { GHREC_FILE_EXTENSION } from './ghrec.js';
import { GZIP_SUFFIX } from './recording-gzip.js';

/** YYYY/MM/DD/<session><ext>, the date (UTC) being the session's start. */
export function recordingRelPath(sessionId: string, startedAt: number, ext: string): string {
  const d = new Date(startedAt);
  return join(String(d.getUTCFullYear()), String(d.getUTCMonth() + 1).padStart(2, '0'), String(d.getUTCDate()).padStart(2, '0'), `${sessionId}${ext}`);
}

const DAY = 86_400_000;

/**
 * The names a session's recording may have: the writer names it by its own start, taken a
 * moment after the row's (the row's day, or the next), as a terminal or a graphical recording,
 * compressed or not. For crash recovery, on disk and in object storage.
 */
export function recordingNames(sessionId: string, startedAt: number): string[] {
  return [startedAt, startedAt + DAY].flatMap((day) => ['.cast', GHREC_FILE_EXTENSION].flatMap((ext) => ['', GZIP_SUFFIX].map((suffix) => recordingRelPath(sessionId, day, ext) + suffix)));
}
