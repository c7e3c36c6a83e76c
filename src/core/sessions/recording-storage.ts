// Where recordings live: the storage seam. The session writer, the download route, the
// seals check, crash recovery and retention reach recordings only through this interface,
// so a later backend (S3-compatible object storage, issue 16 point 2) implements it without
// touching them. Local disk (LocalRecordingStorage) is the one implementation today.
//
// Names are relative (`YYYY/MM/DD/<session><ext>[.gz]`): what sessions rows and
// `recording.seal` events hold. Whatever a backend stores, reading gives the plain
// recording (asciicast or ghrec), and the hash sealed into the audit chain is the plain
// recording's, so a downloaded copy checks against the seal like the stored file does.
import { existsSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import type { AppenderOptions } from './appender.js';
import { GHREC_FILE_EXTENSION } from './ghrec.js';
import { contentStream, GZIP_SUFFIX, isGzipPath } from './recording-gzip.js';
import { sha256File } from './recording-repair.js';
import { recordingRelPath } from './recording-path.js';
import type { RecordingWriter } from './recording-writer.js';

export type RecordingCompression = 'gzip' | 'none';

/** The recording formats' file extensions (before a compression suffix). */
export const RECORDING_EXTENSIONS = ['.cast', GHREC_FILE_EXTENSION] as const;

/** A recording name without its compression suffix: what says its format. */
export const plainName = (rel: string): string => (rel.endsWith(GZIP_SUFFIX) ? rel.slice(0, -GZIP_SUFFIX.length) : rel);

/** The session id and format extension a recording's name carries, or null when it is no recording's. */
export function parseRecordingName(rel: string): { sessionId: string; ext: string } | null {
  const name = basename(plainName(rel));
  const ext = RECORDING_EXTENSIONS.find((e) => name.endsWith(e));
  return ext && name.length > ext.length ? { sessionId: name.slice(0, -ext.length), ext } : null;
}

export interface RecordingStorage {
  /** 'local' (this file) or 's3' (recording-storage-s3.ts). */
  readonly kind: string;
  /** How new recordings are stored. */
  readonly compression: RecordingCompression;
  /** Whether a live session's recording can be read (downloaded) before it ends: a local file yes; object storage no (its parts become an object when completed). */
  readonly readsLive: boolean;
  /** The name a new recording of this session gets. */
  nameFor(sessionId: string, startedAt: number, ext: string): string;
  /** Where the writer puts a live recording, and how (local: its final place). */
  writeTarget(rel: string): { path: string; options: AppenderOptions };
  /** The recording of a session started at `startedAt`, found by its name (crash recovery). */
  find(sessionId: string, startedAt: number): Promise<string | null>;
  exists(rel: string): Promise<boolean>;
  /** The plain recording, decompressed. */
  read(rel: string): Promise<Readable>;
  /** SHA-256 of the plain recording (what `recording.seal` holds). */
  sha256(rel: string): Promise<string>;
  /** Deletes a recording; false when it was not there. */
  remove(rel: string): Promise<boolean>;
  /** Every recording stored, with the session its name carries. */
  list(): Promise<{ rel: string; sessionId: string }[]>;
  /** The file on this node's disk holding it (repaired in place by recovery), or null. */
  localPath(rel: string): string | null;
  /** Lets go of what the backend holds (the writer thread) once every recording is closed. */
  stop?(): Promise<void>;
  /** Object storage: crash recovery's work copy of a session's recording (recovery.ts `recover`). */
  recover?(sessionId: string, startedAt: number): Promise<{ rel: string; path: string; commit: () => Promise<void> } | null>;
  /** Object storage: completes this node's unfinished uploads of ended sessions (at start). */
  resumeUploads?(): Promise<number>;
}

const DAY = 86_400_000;

export class LocalRecordingStorage implements RecordingStorage {
  readonly kind = 'local';
  readonly readsLive = true;
  readonly root: string;

  constructor(
    dir: string,
    readonly compression: RecordingCompression = 'none',
    /** The writer thread; without it writes are synchronous (tools, tests). */
    private readonly writer?: RecordingWriter,
  ) {
    this.root = resolve(dir);
  }

  nameFor(sessionId: string, startedAt: number, ext: string): string {
    return recordingRelPath(sessionId, startedAt, ext) + (this.compression === 'gzip' ? GZIP_SUFFIX : '');
  }

  writeTarget(rel: string): { path: string; options: AppenderOptions } {
    return { path: this.pathOf(rel), options: { gzip: isGzipPath(rel), ...(this.writer ? { writer: this.writer } : {}) } };
  }

  /** The writer names the file by its own start, taken a moment after the row's: look on the row's day and the next. */
  async find(sessionId: string, startedAt: number): Promise<string | null> {
    for (const day of [startedAt, startedAt + DAY]) {
      for (const ext of RECORDING_EXTENSIONS) {
        for (const suffix of ['', GZIP_SUFFIX]) {
          const rel = recordingRelPath(sessionId, day, ext) + suffix;
          if (existsSync(join(this.root, rel))) return rel;
        }
      }
    }
    return null;
  }

  async exists(rel: string): Promise<boolean> {
    const p = this.inside(rel);
    return !!p && (await stat(p).then((s) => s.isFile(), () => false));
  }

  async read(rel: string): Promise<Readable> {
    const p = this.pathOf(rel);
    await stat(p);
    return isGzipPath(p) ? contentStream(p) : createReadStream(p);
  }

  async sha256(rel: string): Promise<string> {
    const p = this.pathOf(rel);
    await stat(p);
    // The seal's own hash (strict where reading is lenient: nothing may follow a compressed file's last member).
    return sha256File(p);
  }

  async remove(rel: string): Promise<boolean> {
    const p = this.inside(rel);
    if (!p || !(await this.exists(rel))) return false;
    await rm(p);
    return true;
  }

  async list(): Promise<{ rel: string; sessionId: string }[]> {
    if (!existsSync(this.root)) return [];
    const out: { rel: string; sessionId: string }[] = [];
    for (const e of await readdir(this.root, { recursive: true, withFileTypes: true })) {
      if (!e.isFile()) continue;
      const dir = e.parentPath ?? (e as unknown as { path: string }).path;
      const rel = relative(this.root, join(dir, e.name));
      const named = parseRecordingName(rel);
      if (named) out.push({ rel, sessionId: named.sessionId });
    }
    return out;
  }

  localPath(rel: string): string | null {
    return this.inside(rel);
  }

  async stop(): Promise<void> {
    await this.writer?.stop();
  }

  private pathOf(rel: string): string {
    const p = this.inside(rel);
    if (!p) throw new Error(`a recording name outside the recordings directory: ${rel}`);
    return p;
  }

  /** The absolute path of a name, or null when it would leave the directory. */
  private inside(rel: string): string | null {
    const p = resolve(this.root, rel);
    return p !== this.root && p.startsWith(this.root + sep) ? p : null;
  }
}
