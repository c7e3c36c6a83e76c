// The Gatehouse recording container ("ghrec", version 1) for graphical sessions: a small
// header, then timestamped, typed, length-prefixed records appended as they happen. The
// container knows nothing of any protocol: what a record type means is up to the format
// the header names (e.g. "rdp"; see docs/recordings.md). No Node.js APIs here: the browser
// player and the live view read the same bytes with this code.
//
//   magic    8 bytes  "GHREC\r\n\x1a" (CR LF and ^Z catch text-mode and truncating transfers)
//   version  u16le    1
//   hlen     u32le    length of the header JSON
//   header   hlen bytes of UTF-8 JSON: { format, formatVersion, startedAt, … }
//   records  repeated: type u8 | time u32le (ms since startedAt) | len u32le | len bytes
//
// A crash can only cut the last record short; readers stop there and report `truncated`.

export const GHREC_MAGIC = new Uint8Array([0x47, 0x48, 0x52, 0x45, 0x43, 0x0d, 0x0a, 0x1a]);
export const GHREC_VERSION = 1;
export const GHREC_FILE_EXTENSION = '.ghrec';
export const GHREC_CONTENT_TYPE = 'application/vnd.gatehouse.recording';
const PREFIX = 14;
const RECORD_HEAD = 9;
/** Upper bounds a reader enforces, so a hostile file cannot make it allocate gigabytes. */
export const GHREC_MAX_HEADER = 64 * 1024;
export const GHREC_MAX_RECORD = 16 * 1024 * 1024;

/** Record type 0 belongs to the container: a UTF-8 JSON marker {kind, text} (notes, termination). */
export const GHREC_MARKER = 0;

export interface GhrecHeader {
  format: string;
  formatVersion: number;
  /** ISO 8601; record times count from here. */
  startedAt: string;
  [k: string]: unknown;
}

export interface GhrecRecord {
  type: number;
  /** Milliseconds since the header's startedAt. */
  time: number;
  payload: Uint8Array;
}

export class GhrecError extends Error {}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

export function encodeGhrecHeader(header: GhrecHeader): Uint8Array {
  const json = utf8.encode(JSON.stringify(header));
  if (json.length > GHREC_MAX_HEADER) throw new RangeError('recording header too large');
  const out = new Uint8Array(PREFIX + json.length);
  out.set(GHREC_MAGIC, 0);
  const dv = new DataView(out.buffer);
  dv.setUint16(8, GHREC_VERSION, true);
  dv.setUint32(10, json.length, true);
  out.set(json, PREFIX);
  return out;
}

export function encodeGhrecRecord(type: number, time: number, payload: Uint8Array): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 255) throw new RangeError('record type must be 0..255');
  if (payload.length > GHREC_MAX_RECORD) throw new RangeError('record too large');
  const out = new Uint8Array(RECORD_HEAD + payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint8(0, type);
  dv.setUint32(1, Math.max(0, Math.min(0xffffffff, Math.round(time))), true);
  dv.setUint32(5, payload.length, true);
  out.set(payload, RECORD_HEAD);
  return out;
}

export function encodeGhrecMarker(time: number, kind: string, text: string): Uint8Array {
  return encodeGhrecRecord(GHREC_MARKER, time, utf8.encode(JSON.stringify({ kind, text })));
}

export function decodeGhrecMarker(payload: Uint8Array): { kind: string; text: string } {
  try {
    const v = JSON.parse(fromUtf8.decode(payload)) as { kind?: unknown; text?: unknown };
    return { kind: typeof v.kind === 'string' ? v.kind : 'marker', text: typeof v.text === 'string' ? v.text : '' };
  } catch {
    return { kind: 'marker', text: '' };
  }
}

/**
 * Incremental reader: push bytes as they arrive (file chunks, a live stream) and get whole
 * records back. Throws GhrecError on a bad magic, version or header, or an oversized record.
 */
export class GhrecReader {
  header: GhrecHeader | null = null;
  private buf: Uint8Array = new Uint8Array(0);
  private used = 0;

  push(chunk: Uint8Array): GhrecRecord[] {
    this.buf = this.buf.length ? concat(this.buf, chunk) : chunk;
    const out: GhrecRecord[] = [];
    let off = 0;
    if (!this.header) {
      if (this.buf.length < PREFIX) return out;
      for (let i = 0; i < GHREC_MAGIC.length; i++) if (this.buf[i] !== GHREC_MAGIC[i]) throw new GhrecError('not a Gatehouse recording (bad magic)');
      const dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
      const version = dv.getUint16(8, true);
      if (version !== GHREC_VERSION) throw new GhrecError(`unsupported recording container version ${version}`);
      const hlen = dv.getUint32(10, true);
      if (hlen > GHREC_MAX_HEADER) throw new GhrecError('recording header too large');
      if (this.buf.length < PREFIX + hlen) return out;
      let h: unknown;
      try {
        h = JSON.parse(fromUtf8.decode(this.buf.subarray(PREFIX, PREFIX + hlen)));
      } catch {
        throw new GhrecError('recording header is not valid JSON');
      }
      const hh = h as Partial<GhrecHeader> | null;
      if (!hh || typeof hh !== 'object' || typeof hh.format !== 'string' || typeof hh.formatVersion !== 'number' || typeof hh.startedAt !== 'string') {
        throw new GhrecError('recording header lacks format, formatVersion or startedAt');
      }
      this.header = hh as GhrecHeader;
      off = PREFIX + hlen;
    }
    const dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    while (this.buf.length - off >= RECORD_HEAD) {
      const len = dv.getUint32(off + 5, true);
      if (len > GHREC_MAX_RECORD) {
        // What came before is whole: `consumed` says where the good part ends.
        this.keep(off);
        throw new GhrecError(`record at byte ${off} claims ${len} bytes`);
      }
      if (this.buf.length - off - RECORD_HEAD < len) break;
      out.push({ type: dv.getUint8(off), time: dv.getUint32(off + 1, true), payload: this.buf.slice(off + RECORD_HEAD, off + RECORD_HEAD + len) });
      off += RECORD_HEAD + len;
    }
    this.keep(off);
    return out;
  }

  private keep(from: number): void {
    this.used += from;
    this.buf = this.buf.subarray(from);
  }

  /** Bytes of the header and of whole records read so far: where a cut-off file's good part ends. */
  get consumed(): number {
    return this.used;
  }

  /** Bytes of an incomplete record (or header) left at the end: a cut-off file. */
  get pending(): number {
    return this.buf.length;
  }
}

/** Reads a whole recording; a cut-off last record is dropped and reported. */
export function readGhrec(bytes: Uint8Array): { header: GhrecHeader; records: GhrecRecord[]; truncated: boolean } {
  const r = new GhrecReader();
  const records = r.push(bytes);
  if (!r.header) throw new GhrecError('recording is cut off inside its header');
  return { header: r.header, records, truncated: r.pending > 0 };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
