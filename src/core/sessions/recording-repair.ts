// A recording file as a crash left it: find where its last whole event or record ends, cut
// off what follows (a write torn by the crash), and learn what the seal and the session row
// need (the last event's time, the bytes it holds of each direction). Also the seal's hash.
//
// Both writers append whole events or records (appender.ts), so a crash can only leave one
// record cut short at the end; everything before it is kept as it is.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat, truncate } from 'node:fs/promises';
import { GHREC_FILE_EXTENSION, GhrecError, GhrecReader } from './ghrec.js';

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
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
    if (!Array.isArray(v) || v.length !== 3 || typeof v[0] !== 'number' || !Number.isFinite(v[0]) || v[0] < 0 || typeof v[1] !== 'string' || typeof v[2] !== 'string') return;
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
  const total = (await stat(path)).size;
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

/** Scans a recording by its kind (file extension) and cuts off a torn end; the file is then whole. */
export async function repairRecording(path: string, traffic?: Record<string, GhrecTraffic>): Promise<RecordingFacts> {
  const f = path.endsWith(GHREC_FILE_EXTENSION) ? await scanGhrec(path, traffic) : await scanAsciicast(path);
  if (f.tornBytes > 0) await truncate(path, f.size);
  return f;
}
