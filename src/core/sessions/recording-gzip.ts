// Compressed recordings at rest: the recording's own bytes (asciicast or ghrec, unchanged)
// stored as a series of gzip members, one per flush. A series of members is one valid gzip
// file (RFC 1952 §2.2), so `zcat`, `gunzip` and every gzip library give back the plain
// recording; the formats' readers then read it as before.
//
// Why members per flush: each flush is written whole by one write, so a crash can only cut
// the last member short — the members before it inflate on their own (crash-safe), and
// recovery cuts the torn one off. Each member carries, in a gzip "extra" subfield `GH`, its
// own length and the length of what it holds, so a reader finds the member holding any
// offset of the recording by hopping from header to header, without inflating (seekable):
// the live view reads the tail of a long recording this way.
//
// Member layout: ID1 ID2 CM=8 FLG=FEXTRA MTIME=0 XFL=0 OS=255, XLEN=12, then the subfield
// 'G' 'H' LEN=8: u32 LE member length (all its bytes), u32 LE content length; then the
// deflate stream, CRC32 and ISIZE as in any gzip member.
import { createReadStream, closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync, createGunzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { Writable, type Readable } from 'node:stream';

/** Suffix of a compressed recording's file name: `<session>.cast.gz`, `<session>.ghrec.gz`. */
export const GZIP_SUFFIX = '.gz';
export const GZIP_MEMBER_HEAD = 24;

export const isGzipPath = (path: string): boolean => path.endsWith(GZIP_SUFFIX);

/** One gzip member holding `data`, with the GH subfield (see above). */
export function gzipMember(data: Uint8Array, level = 6): Buffer {
  // Node's gzip writes a 10-byte header without flags; keep its deflate stream, CRC and size.
  const body = gzipSync(data, { level }).subarray(10);
  const head = Buffer.alloc(GZIP_MEMBER_HEAD);
  head[0] = 0x1f;
  head[1] = 0x8b;
  head[2] = 8;
  head[3] = 4; // FEXTRA
  head[9] = 255;
  head.writeUInt16LE(12, 10);
  head[12] = 0x47; // 'G'
  head[13] = 0x48; // 'H'
  head.writeUInt16LE(8, 14);
  head.writeUInt32LE(GZIP_MEMBER_HEAD + body.length, 16);
  head.writeUInt32LE(data.length, 20);
  return Buffer.concat([head, body]);
}

/** A member's place in the file and in the recording. */
export interface GzipMember {
  offset: number;
  length: number;
  contentOffset: number;
  contentLength: number;
}

/** The member lengths a GH header states, or null when `head` is not one. */
export function parseMemberHead(head: Uint8Array): { length: number; contentLength: number } | null {
  if (head.length < GZIP_MEMBER_HEAD) return null;
  if (head[0] !== 0x1f || head[1] !== 0x8b || head[2] !== 8 || head[3] !== 4) return null;
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (b.readUInt16LE(10) !== 12 || head[12] !== 0x47 || head[13] !== 0x48 || b.readUInt16LE(14) !== 8) return null;
  const length = b.readUInt32LE(16);
  if (length <= GZIP_MEMBER_HEAD + 8) return null;
  return { length, contentLength: b.readUInt32LE(20) };
}

/**
 * The whole members of a file up to `limit` bytes (default: its size), read header by header.
 * `end` is where the last whole member ends: anything after it is torn (or not ours).
 */
export function memberIndex(path: string, limit?: number, known?: GzipMember[]): { members: GzipMember[]; end: number; size: number } {
  const fd = openSync(path, 'r');
  try {
    const size = limit ?? fstatSync(fd).size;
    // Members already indexed (a live recording's reader keeps its index) are not read again.
    const members: GzipMember[] = known ?? [];
    const last = members.at(-1);
    const head = Buffer.alloc(GZIP_MEMBER_HEAD);
    let offset = last ? last.offset + last.length : 0;
    let contentOffset = last ? last.contentOffset + last.contentLength : 0;
    while (offset + GZIP_MEMBER_HEAD <= size) {
      if (readSync(fd, head, 0, GZIP_MEMBER_HEAD, offset) < GZIP_MEMBER_HEAD) break;
      const m = parseMemberHead(head);
      if (!m || offset + m.length > size) break;
      members.push({ offset, length: m.length, contentOffset, contentLength: m.contentLength });
      offset += m.length;
      contentOffset += m.contentLength;
    }
    return { members, end: offset, size };
  } finally {
    closeSync(fd);
  }
}

/**
 * The recording's bytes [from, to) (content offsets), inflating only the members that hold
 * them, from the first `fileLimit` bytes of the file (what is known to be written).
 */
export function readContentSync(path: string, from: number, to = Infinity, fileLimit?: number, known?: GzipMember[]): Buffer {
  const { members } = memberIndex(path, fileLimit, known);
  const parts: Buffer[] = [];
  const fd = openSync(path, 'r');
  try {
    // Binary search for the first member that ends after `from`.
    let lo = 0;
    let hi = members.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (members[mid]!.contentOffset + members[mid]!.contentLength <= from) lo = mid + 1;
      else hi = mid;
    }
    for (const m of members.slice(lo)) {
      const mEnd = m.contentOffset + m.contentLength;
      if (m.contentOffset >= to) break;
      if (mEnd <= from) continue;
      const raw = Buffer.alloc(m.length);
      readSync(fd, raw, 0, m.length, m.offset);
      const content = gunzipSync(raw);
      parts.push(content.subarray(Math.max(0, from - m.contentOffset), Math.min(content.length, to - m.contentOffset)));
    }
  } finally {
    closeSync(fd);
  }
  return Buffer.concat(parts);
}

/** The recording's bytes as a stream (inflated; a multi-member gzip file reads as one). */
export function contentStream(path: string): Readable {
  const gunzip = createGunzip();
  const file = createReadStream(path);
  file.on('error', (e) => gunzip.destroy(e));
  return file.pipe(gunzip);
}

/**
 * SHA-256 of a compressed recording's content, refusing bytes after its last gzip member: zlib
 * stops quietly at a NUL byte where the next member's header should be, so a sealed file with
 * anything from a NUL on appended would otherwise still match its seal.
 */
export function sha256Content(path: string): Promise<string> {
  return sha256Gunzipped(createReadStream(path));
}

/** As sha256Content, for the stored (compressed) bytes of a recording as a stream (object storage). */
export async function sha256Gunzipped(stored: Readable): Promise<string> {
  const gunzip = createGunzip();
  let read = 0;
  stored.on('data', (c: Buffer) => void (read += c.length));
  stored.on('error', (e) => gunzip.destroy(e));
  const hash = await sha256Stream(stored.pipe(gunzip));
  const after = read - gunzip.bytesWritten;
  if (after !== 0) throw Object.assign(new Error(`${after} byte(s) after the last gzip member`), { code: 'Z_DATA_ERROR' });
  return hash;
}

/** SHA-256 of what a stream gives. */
export async function sha256Stream(stream: Readable): Promise<string> {
  const h = createHash('sha256');
  await pipeline(
    stream,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        h.update(chunk);
        cb();
      },
    }),
  );
  return h.digest('hex');
}
