// Shared control of an RDP session: what a joiner's page sends (key, pointer and wheel
// events as JSON text, carried to the door by the core as the joiner's input), checked and
// turned into RDP input events the interceptor injects toward the target. Socket-free.
//
// The page sends one JSON array per frame (at most MAX_EVENTS events):
//   {"t":"key","sc":30,"ext":false,"up":false}       a key by its scancode (set 1), extended (E0) or not
//   {"t":"move","x":10,"y":20}                         pointer moved
//   {"t":"button","b":1,"down":true,"x":10,"y":20}     button 1 left, 2 right, 3 middle
//   {"t":"wheel","d":1,"x":10,"y":20}                  wheel notches: positive away from the person (up); "h":true horizontal
// Anything else (unknown types, out-of-range values) is dropped, event by event.
import type { FastPathInputEvent } from '../rdp/pdu/fastpath.js';
import { FASTPATH_KBDFLAGS } from '../rdp/pdu/fastpath.js';
import { PTRFLAGS } from '../rdp/pdu/fastpath-input.js';
import type { SlowPathInputEvent } from '../rdp/pdu/input.js';

export type JoinerEvent =
  | { t: 'key'; sc: number; ext: boolean; up: boolean }
  | { t: 'move'; x: number; y: number }
  | { t: 'button'; b: 1 | 2 | 3; down: boolean; x: number; y: number }
  | { t: 'wheel'; d: number; x: number; y: number; h: boolean };

export const MAX_EVENTS = 64;
/** One wheel "notch" in rotation units (WHEEL_DELTA). */
const NOTCH = 120;

const coord = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff ? v : null);

/** The joiner's frame (UTF-8 JSON) as checked events; malformed frames give none. */
export function parseJoinerEvents(data: Buffer | string): JoinerEvent[] {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch {
    return [];
  }
  if (!Array.isArray(raw)) return [];
  const out: JoinerEvent[] = [];
  for (const e of raw.slice(0, MAX_EVENTS) as unknown[]) {
    if (!e || typeof e !== 'object') continue;
    const o = e as Record<string, unknown>;
    if (o.t === 'key') {
      if (typeof o.sc === 'number' && Number.isInteger(o.sc) && o.sc > 0 && o.sc <= 0x7f) out.push({ t: 'key', sc: o.sc, ext: o.ext === true, up: o.up === true });
      continue;
    }
    const x = coord(o.x);
    const y = coord(o.y);
    if (x === null || y === null) continue;
    if (o.t === 'move') out.push({ t: 'move', x, y });
    else if (o.t === 'button' && (o.b === 1 || o.b === 2 || o.b === 3)) out.push({ t: 'button', b: o.b, down: o.down === true, x, y });
    else if (o.t === 'wheel' && typeof o.d === 'number' && Number.isInteger(o.d) && o.d !== 0 && Math.abs(o.d) <= 2) out.push({ t: 'wheel', d: o.d, x, y, h: o.h === true });
  }
  return out;
}

const BUTTON = { 1: PTRFLAGS.BUTTON1, 2: PTRFLAGS.BUTTON2, 3: PTRFLAGS.BUTTON3 } as const;

/** Pointer flags of a mouse event (the same in fast-path and slow-path). */
function pointerFlags(e: Exclude<JoinerEvent, { t: 'key' }>): number {
  switch (e.t) {
    case 'move':
      return PTRFLAGS.MOVE;
    case 'button':
      return BUTTON[e.b] | (e.down ? PTRFLAGS.DOWN : 0);
    case 'wheel':
      // Rotation units in 9-bit two's complement: the sign bit is WHEEL_NEGATIVE (0x100).
      return (e.h ? PTRFLAGS.HWHEEL : PTRFLAGS.WHEEL) | ((e.d * NOTCH) & 0x1ff);
  }
}

/** Fast-path form of the events (what the interceptor sends when the session uses fast-path input). */
export function toFastPath(events: JoinerEvent[]): FastPathInputEvent[] {
  return events.map((e) => {
    if (e.t === 'key') return { type: 'scancode', flags: (e.up ? FASTPATH_KBDFLAGS.RELEASE : 0) | (e.ext ? FASTPATH_KBDFLAGS.EXTENDED : 0), keyCode: e.sc };
    return { type: 'mouse', flags: 0, pointerFlags: pointerFlags(e), x: e.x, y: e.y };
  });
}

/** Slow-path KBDFLAGS (a press carries neither: KBDFLAGS_DOWN would mean a repeat). */
const KBD = { EXTENDED: 0x0100, RELEASE: 0x8000 } as const;

/** Slow-path form of the events (a session whose client never used fast-path input). */
export function toSlowPath(events: JoinerEvent[]): SlowPathInputEvent[] {
  return events.map((e) => {
    if (e.t === 'key') return { type: 'scancode', keyboardFlags: (e.up ? KBD.RELEASE : 0) | (e.ext ? KBD.EXTENDED : 0), keyCode: e.sc };
    return { type: 'mouse', pointerFlags: pointerFlags(e), x: e.x, y: e.y };
  });
}
