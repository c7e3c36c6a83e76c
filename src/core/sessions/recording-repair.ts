// A recording file as a crash left it: find where its last whole event or record ends, cut
// off what follows (a write torn by the crash), and learn what the seal and the session row
// need (the last event's time, the bytes it holds of each direction). Also the seal's hash.
//
// Both writers append whole events or records (appender.ts), so a crash can only leave one
// record cut short at the end; everything before it is kept as it is. A compressed
// recording (recording-gzip.ts) is repaired in two steps: a torn last gzip member is cut
// off, then the recording it holds is scanned like a plain one.
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { appendFile, open, stat, truncate } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { GHREC_FILE_EXTENSION, GhrecError, GhrecReader } from './ghrec.js';
import { contentStream, gzipMember, isGzipPath, memberIndex, readContentSync, sha256Content, sha256Stream } from './recording-gzip.js';

/**
 * SHA-256 of a recording as its format defines it: a compressed file (`.gz`) is hashed inflated
 * (with nothing after its last member). `sniff`: a file of any name that begins as gzip counts as
 * compressed (a copy handed to `recording verify <file>` may have lost its name); a stored
 * recording is what its name says, so a `.cast` replaced by a gzip of itself does not match.
 */
export async function sha256File(path: string, opts: { sniff?: boolean } = {}): Promise<string> {
  return isGzipPath(path) || (opts.sniff && (await startsWithGzipMagic(path))) ? sha256Content(path) : sha256Stream(createReadStream(path));
}

/** A copy of a compressed recording may have lost its name: its first bytes tell. */
async function startsWithGzipMagic(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await fh.read(b, 0, 2, 0);
    return bytesRead === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** Which record types of a ghrec format carry traffic of each direction (the format's own knowledge, wired in by the server). */
export interface GhrecTraffic {
  in: readonly number[];
  out: readonly number[];
}

export interface RecordingFacts {
  /** As in recording.seal: 'asciicast-v2' or 'ghrec-<format>'. */
  format: string;
  /** Bytes of the good part: the header and every whole event or record. */
  size: number;
  /** Bytes after the good part (a torn last record), cut off by repairRecording. */
  tornBytes: number;
  /** Events or records in the good part. */
  events: number;
  /** The last event's time, in ms after the recording's start (0 without events). */
  lastEventMs: number;
  /** The start the file names, in ms since the epoch, when it names one to the millisecond (ghrec). */
  startedAt: number | null;
  /** Session traffic as far as the recording holds it (a lower bound of what passed). */
  bytesIn: number;
  bytesOut: number;
}

/** The file has no usable header (empty, cut off inside it, or not a recording of its kind). */
export class UnreadableRecording extends Error {}

const CHUNK = 1 << 20;
/** Longer than any line the asciicast writer makes (a 64 KiB chunk, JSON-escaped): not a line. */
const MAX_CAST_LINE = 16 << 20;

async function* chunks(path: string, limit = Infinity): AsyncGenerator<Buffer> {
  if (isGzipPath(path)) {
    // The recording a compressed file holds (its whole members: repair cut a torn one off first).
    let pos = 0;
    for await (const c of contentStream(path)) {
      if (pos >= limit) return;
      const b = c as Buffer;
      yield b.subarray(0, Math.min(b.length, limit - pos));
      pos += b.length;
    }
    return;
  }
  const fh = await open(path, 'r');
  try {
    let pos = 0;
    while (pos < limit) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, limit - pos));
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

const BINARY_NOTE = /^binary output: (\d+) bytes$/;

/**
 * asciicast v2: a header line, then one JSON array per line. The good part ends after the
 * last line that is a whole event; what follows (a line without its newline, or lines that
 * are not events, as a torn write leaves them) is torn.
 */
export async function scanAsciicast(path: string): Promise<RecordingFacts> {
  const f: RecordingFacts = { format: 'asciicast-v2', size: 0, tornBytes: 0, events: 0, lastEventMs: 0, startedAt: null, bytesIn: 0, bytesOut: 0 };
  let header = false;
  let base = 0;
  let carry: Buffer = Buffer.alloc(0);
  let total = 0;
  let longLine = false;
  const line = (text: string, end: number) => {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      v = undefined;
    }
    if (!header) {
      const h = v as { version?: unknown } | undefined;
      if (!h || typeof h !== 'object' || Array.isArray(h) || h.version !== 2) throw new UnreadableRecording('the first line is not an asciicast v2 header');
      header = true;
      f.size = end;
      return;
    }
    // Three elements, or four: a shared session's input names its sender (asciicast.ts `event`).
    if (!Array.isArray(v) || (v.length !== 3 && !(v.length === 4 && typeof v[3] === 'string')) || typeof v[0] !== 'number' || !Number.isFinite(v[0]) || v[0] < 0 || typeof v[1] !== 'string' || typeof v[2] !== 'string') return;
    const [t, type, data] = v as [number, string, string];
    f.size = end;
    f.events++;
    f.lastEventMs = Math.max(f.lastEventMs, Math.round(t * 1000));
    if (type === 'o') f.bytesOut += Buffer.byteLength(data);
    else if (type === 'i') f.bytesIn += Buffer.byteLength(data);
    else if (type === 'm') f.bytesOut += Number(BINARY_NOTE.exec(data)?.[1] ?? 0);
  };
  for await (const chunk of chunks(path)) {
    total += chunk.length;
    if (longLine) continue;
    const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    let i = 0;
    for (let nl = buf.indexOf(10, i); nl >= 0; nl = buf.indexOf(10, i)) {
      line(buf.toString('utf8', i, nl), base + nl + 1);
      i = nl + 1;
    }
    base += i;
    carry = Buffer.from(buf.subarray(i));
    // No newline for this long: whatever it is, it is no event; the good part ended before it.
    if (carry.length > MAX_CAST_LINE) longLine = true;
  }
  if (!header) throw new UnreadableRecording(total === 0 ? 'the file is empty' : 'the file is cut off inside its header');
  f.tornBytes = total - f.size;
  return f;
}

/**
 * ghrec: read with the container's own reader; the good part ends after the last whole
 * record (`consumed`). A record claiming more than the container allows ends it too.
 */
export async function scanGhrec(path: string, traffic?: Record<string, GhrecTraffic>): Promise<RecordingFacts> {
  const total = isGzipPath(path) ? contentSize(path) : (await stat(path)).size;
  const pass = async (limit: number) => {
    const reader = new GhrecReader();
    const f: RecordingFacts = { format: '', size: 0, tornBytes: 0, events: 0, lastEventMs: 0, startedAt: null, bytesIn: 0, bytesOut: 0 };
    let broken = false;
    for await (const chunk of chunks(path, limit)) {
      let records;
      try {
        records = reader.push(chunk);
      } catch (e) {
        if (!(e instanceof GhrecError)) throw e;
        if (!reader.header) throw new UnreadableRecording(e.message);
        broken = true;
        break;
      }
      const dir = reader.header ? traffic?.[reader.header.format] : undefined;
      for (const r of records) {
        f.events++;
        f.lastEventMs = Math.max(f.lastEventMs, r.time);
        if (dir?.in.includes(r.type)) f.bytesIn += r.payload.length;
        else if (dir?.out.includes(r.type)) f.bytesOut += r.payload.length;
      }
    }
    return { reader, f, broken };
  };
  let { reader, f, broken } = await pass(total);
  if (!reader.header) throw new UnreadableRecording(total === 0 ? 'the file is empty' : 'the file is cut off inside its header');
  // The reader gave up on a bad record, dropping the records it had read of that chunk: they
  // are whole, so read up to the bad record again.
  if (broken) ({ reader, f } = await pass(reader.consumed));
  const header = reader.header!;
  const start = Date.parse(header.startedAt);
  return { ...f, format: `ghrec-${header.format}`, size: reader.consumed, tornBytes: total - reader.consumed, startedAt: Number.isFinite(start) ? start : null };
}

function contentSize(path: string): number {
  return memberIndex(path).members.reduce((n, m) => n + m.contentLength, 0);
}

/**
 * Compressed: cuts the file after its last gzip member that is whole and inflates (CRC and
 * length checked); returns the bytes cut off. Nothing is cut when the first member (the
 * recording's header) is damaged: the scan then reports the file unreadable.
 */
function cutTornMembers(path: string): number {
  const { members, size } = memberIndex(path);
  let end = 0;
  // Member by member, never the whole file in memory: a long graphical session's recording
  // can be gigabytes (Node reads no file above 2 GiB whole), and recovery runs at a start.
  const fd = openSync(path, 'r');
  try {
    for (const m of members) {
      const member = Buffer.allocUnsafe(m.length);
      if (readSync(fd, member, 0, m.length, m.offset) < m.length) break;
      try {
        gunzipSync(member);
      } catch {
        break;
      }
      end = m.offset + m.length;
    }
  } finally {
    closeSync(fd);
  }
  return end === 0 ? 0 : size - end;
}

/**
 * Compressed, with a cut event inside a member that inflates: the members before that one are
 * kept as they are, and the whole events of that member go back as a new last member. Only
 * that member is in memory, never the recording.
 */
async function cutInsideMember(path: string, contentSize: number): Promise<void> {
  const m = memberIndex(path).members.find((x) => x.contentOffset + x.contentLength > contentSize);
  if (!m) return;
  const good = readContentSync(path, m.contentOffset, contentSize);
  await truncate(path, m.offset);
  if (good.length) await appendFile(path, gzipMember(good));
}

/** Scans a recording by its kind (file extension) and cuts off a torn end; the file is then whole. */
export async function repairRecording(path: string, traffic?: Record<string, GhrecTraffic>): Promise<RecordingFacts> {
  const gz = isGzipPath(path);
  const tornMembers = gz ? cutTornMembers(path) : 0;
  if (gz && tornMembers > 0) await truncate(path, (await stat(path)).size - tornMembers);
  const scan = (p: string) => (p.endsWith(GHREC_FILE_EXTENSION + '.gz') || p.endsWith(GHREC_FILE_EXTENSION) ? scanGhrec(p, traffic) : scanAsciicast(p));
  const f = await scan(path);
  if (f.tornBytes > 0) {
    // Members hold whole events, so a cut event in a compressed file is in a member that inflates.
    if (!gz) await truncate(path, f.size);
    else await cutInsideMember(path, f.size);
  }
  return { ...f, tornBytes: f.tornBytes + tornMembers };
}
