// The recording writer thread: appends (and compresses) flushed recording chunks with
// synchronous writes, one after another, so that the event loop that relays every session
// never waits for a disk. A disk that stalls stalls this thread only; the main side
// (recording-writer.ts) bounds what waits for it and fails the sessions that exceed it.
//
// Work is taken one item per turn of this thread's event loop, so messages that arrived
// while a write was blocked (a session dropping what it still had queued) are seen before
// the next write.
import { closeSync, ftruncateSync, writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { gzipMember } from './recording-gzip.js';

export type ToWriter =
  | { t: 'open'; id: number; fd: number; gzip: boolean; level: number; fileBytes: number }
  | { t: 'write'; id: number; seq: number; data: Uint8Array }
  | { t: 'close'; id: number; seq: number }
  /** Drop what is still queued for this file (its session failed), then close it. */
  | { t: 'drop'; id: number; seq: number };

export type FromWriter =
  | { t: 'done'; id: number; seq: number; fileBytes: number }
  | { t: 'error'; id: number; seq: number; code: string; message: string }
  | { t: 'closed'; id: number; seq: number };

interface File {
  fd: number;
  gzip: boolean;
  level: number;
  fileBytes: number;
  failed: boolean;
  dropped: boolean;
}

const files = new Map<number, File>();
const queue: ToWriter[] = [];
let scheduled = false;
const port = parentPort!;

port.on('message', (m: ToWriter) => {
  if (m.t === 'drop') {
    const f = files.get(m.id);
    if (f) f.dropped = true;
    // What was queued for it goes; its close (or a close standing in for it) stays.
    for (let i = queue.length - 1; i >= 0; i--) if (queue[i]!.id === m.id && queue[i]!.t === 'write') queue.splice(i, 1);
    if (!queue.some((q) => q.id === m.id && q.t === 'close')) queue.push({ t: 'close', id: m.id, seq: m.seq });
  } else queue.push(m);
  schedule();
});

function schedule(): void {
  if (scheduled || queue.length === 0) return;
  scheduled = true;
  setImmediate(() => {
    scheduled = false;
    const m = queue.shift();
    if (m) run(m);
    schedule();
  });
}

function send(m: FromWriter): void {
  port.postMessage(m);
}

function run(m: ToWriter): void {
  if (m.t === 'open') {
    files.set(m.id, { fd: m.fd, gzip: m.gzip, level: m.level, fileBytes: m.fileBytes, failed: false, dropped: false });
    return;
  }
  const f = files.get(m.id);
  if (!f) return;
  if (m.t === 'write') {
    if (f.failed || f.dropped) return;
    try {
      const out = f.gzip ? gzipMember(m.data, f.level) : m.data;
      let off = 0;
      // writeSync may write less than asked (a full disk, a signal): loop until all is written.
      while (off < out.length) off += writeSync(f.fd, out, off, out.length - off);
      f.fileBytes += out.length;
      send({ t: 'done', id: m.id, seq: m.seq, fileBytes: f.fileBytes });
    } catch (e) {
      f.failed = true;
      cutToWhole(f);
      const err = e as NodeJS.ErrnoException;
      send({ t: 'error', id: m.id, seq: m.seq, code: err.code ?? 'EIO', message: err.message });
    }
    return;
  }
  files.delete(m.id);
  try {
    closeSync(f.fd);
    send({ t: 'closed', id: m.id, seq: m.seq });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (f.failed) send({ t: 'closed', id: m.id, seq: m.seq });
    else send({ t: 'error', id: m.id, seq: m.seq, code: err.code ?? 'EIO', message: err.message });
  }
}

/**
 * After a failed write: the file back to the whole chunks written. A write can put part of a
 * chunk on disk before the next pass fails (ENOSPC, EIO); the file is sealed as it is left,
 * and a torn gzip member would make it uninflatable (no hash in the seal, downloads cut
 * short), a torn asciicast line unplayable. Every chunk is whole events or records, so
 * `fileBytes` is a clean end for plain files too. If even this fails the disk is beyond
 * help: the write's error is what gets reported.
 */
function cutToWhole(f: File): void {
  try {
    ftruncateSync(f.fd, f.fileBytes);
  } catch {
    /* the torn tail stays (a compressed file's seal then has no hash; verify says it cannot be read) */
  }
}
