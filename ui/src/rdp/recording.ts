// An RDP recording (ghrec container, "rdp" format) read whole for the player: the decoder's
// view of it (records, length, first desktop) plus the typed lines (KEYS records) and the
// markers, each with its time. No DOM here, so the model can be tested in Node.
import { decodeGhrecMarker, GHREC_MARKER } from '../../../src/core/sessions/ghrec.js';
import { TypedLines } from '../../../src/core/sessions/typed-text.js';
import { decodeAuthor, RDPREC } from '../../../src/protocols/rdp/recording/records.js';
import { openRdpRecording, type RdpRecording } from './decoder.js';

export interface KeyLine {
  /** Seconds: when the first character of the line was typed, and when Enter ended it. */
  start: number;
  at: number;
  text: string;
  /** Shared control: who typed the line (from AUTHOR records); absent in a session nobody else typed in. */
  by?: string;
}

export interface Marker {
  at: number;
  kind: string;
  text: string;
}

export interface Recording extends RdpRecording {
  keyLines: KeyLine[];
  markers: Marker[];
}

const utf8 = new TextDecoder('utf-8');

/** Throws RdpRecordingError (one plain sentence) for anything but an RDP recording. */
export function parseRecording(bytes: Uint8Array): Recording {
  const rec = openRdpRecording(bytes);
  const keyLines: KeyLine[] = [];
  const markers: Marker[] = [];
  // One line buffer per person typing (shared control: AUTHOR records say who sends what follows).
  const people = new Map<string, { typed: TypedLines; lineStart: number | null }>();
  let author = '';
  let shared = false;
  const person = () => {
    let p = people.get(author);
    if (!p) people.set(author, (p = { typed: new TypedLines(), lineStart: null }));
    return p;
  };
  const by = (name: string) => (shared && name ? { by: name } : {});
  for (const r of rec.records) {
    const at = r.time / 1000;
    if (r.type === GHREC_MARKER) {
      const m = decodeGhrecMarker(r.payload);
      markers.push({ at, kind: m.kind, text: markerText(m.text) });
    } else if (r.type === RDPREC.AUTHOR) {
      const a = decodeAuthor(r.payload);
      if (a) {
        // The owner's lines begun before anyone joined (no AUTHOR yet) continue under their name.
        const early = people.get('');
        if (a.owner && early && !people.has(a.username)) {
          people.delete('');
          people.set(a.username, early);
        }
        author = a.username;
        shared = true;
      }
    } else if (r.type === RDPREC.KEYS) {
      const text = utf8.decode(r.payload);
      const p = person();
      p.lineStart ??= at;
      for (const line of p.typed.feed(text)) keyLines.push({ start: p.lineStart, at, text: line, ...by(author) });
      // Enter in this record: the next line starts here if more was typed after it.
      if (/[\r\n]/.test(text)) p.lineStart = /[\r\n]$/.test(text) ? null : at;
    }
  }
  for (const [name, p] of people) for (const text of p.typed.rest()) keyLines.push({ start: p.lineStart ?? rec.duration, at: rec.duration, text, ...by(name) });
  keyLines.sort((a, b) => a.start - b.start);
  return { ...rec, keyLines, markers };
}

/** Session notes carry JSON details: shown as "key: value · …" rather than raw JSON. */
export function markerText(text: string): string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return text;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return text;
  const show = (x: unknown): string => (Array.isArray(x) ? x.map(show).join(', ') : x && typeof x === 'object' ? JSON.stringify(x) : String(x));
  return Object.entries(v)
    .filter(([, x]) => x !== '' && x !== null && x !== undefined)
    .map(([k, x]) => `${k}: ${show(x)}`)
    .join(' · ');
}

/** Index of the first record later than `ms` (records are in time order). */
export function recordIndexAfter(rec: RdpRecording, ms: number): number {
  const records = rec.records;
  let lo = 0;
  let hi = records.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (records[mid]!.time <= ms) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
