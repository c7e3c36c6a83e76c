// Reaching a session's recording on disk whichever way it is stored: plain
// (`<session>.cast`, `<session>.ghrec`) or compressed (`.gz`, gzip members, the default;
// src/core/sessions/recording-gzip.ts). Tests that look at, tear or tamper with the file
// itself go through these, so what they assert holds for both forms: reads give the plain
// recording, writes add what the writer itself would have written.
import { appendFileSync, closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipMember, isGzipPath, readContentSync } from '../../src/core/sessions/recording-gzip.js';

const FORMATS = ['.cast', '.ghrec'];

/** Whether a name is `<id>` plus a recording extension, compressed or not. */
const isRecordingOf = (name: string, id: string): boolean => FORMATS.some((ext) => name === `${id}${ext}` || name === `${id}${ext}.gz`);

/** The file holding a session's recording under a recordings directory (any depth), or null. */
export function findRecording(root: string, sessionId: string): string | null {
  if (!existsSync(root)) return null;
  for (const e of readdirSync(root, { withFileTypes: true })) {
    const p = join(root, e.name);
    if (e.isDirectory()) {
      const f = findRecording(p, sessionId);
      if (f) return f;
    } else if (isRecordingOf(e.name, sessionId)) return p;
  }
  return null;
}

/** Every recording file under a directory (any depth). */
export function recordingFiles(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true }).flatMap((e) => {
    const p = join(root, e.name);
    return e.isDirectory() ? recordingFiles(p) : [p];
  });
}

/** Whether a file is compressed: by its name, or (a copy that lost it) by its first bytes. */
function compressed(path: string): boolean {
  if (isGzipPath(path)) return true;
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(2);
    return readSync(fd, b, 0, 2, 0) === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/**
 * The plain recording a file holds. A compressed one is read member by member, whole
 * members only: what a live writer has finished writing, as a crash would leave it.
 */
export function readRecording(path: string): Buffer {
  return compressed(path) ? readContentSync(path, 0) : readFileSync(path);
}

/** Appends bytes to the recording as its writer would: plain as they are, compressed as one more gzip member. */
export function appendToRecording(path: string, bytes: Uint8Array | string): void {
  const b = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  appendFileSync(path, compressed(path) ? gzipMember(b) : b);
}

/** Replaces the recording a file holds (compressed again when the file was). */
export function writeRecording(path: string, bytes: Uint8Array): void {
  writeFileSync(path, compressed(path) ? gzipMember(bytes) : bytes);
}
