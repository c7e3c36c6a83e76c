// Building fast-path input PDUs (MS-RDPBCGR 2.2.8.1.2): the gateway's own input toward the
// target, for shared control (a joiner's keys, mouse and wheel injected into the session).
// Under TLS security there is no fast-path encryption: header byte (action 0, event count,
// no flags), a 1- or 2-byte length, then the events. The parser in fastpath.ts reads these
// back (the unit tests round-trip through it).
import { FASTPATH_INPUT_EVENT, type FastPathInputEvent } from './fastpath.js';

/** Pointer flags (2.2.8.1.1.3.1.1.3), the same in fast-path and slow-path mouse events. */
export const PTRFLAGS = {
  HWHEEL: 0x0400,
  WHEEL: 0x0200,
  WHEEL_NEGATIVE: 0x0100,
  MOVE: 0x0800,
  DOWN: 0x8000,
  BUTTON1: 0x1000,
  BUTTON2: 0x2000,
  BUTTON3: 0x4000,
} as const;

/** Up to 15 events fit in the header's count; more would take the extra count byte (not needed here). */
export const FASTPATH_MAX_EVENTS_IN_HEADER = 15;

function eventBytes(e: FastPathInputEvent): Buffer {
  const head = (code: number) => ((code & 0x7) << 5) | (e.flags & 0x1f);
  switch (e.type) {
    case 'scancode':
      return Buffer.from([head(FASTPATH_INPUT_EVENT.SCANCODE), e.keyCode & 0xff]);
    case 'unicode': {
      const b = Buffer.alloc(3);
      b.writeUInt8(head(FASTPATH_INPUT_EVENT.UNICODE), 0);
      b.writeUInt16LE(e.unicodeCode & 0xffff, 1);
      return b;
    }
    case 'mouse':
    case 'mousex': {
      const b = Buffer.alloc(7);
      b.writeUInt8(head(e.type === 'mouse' ? FASTPATH_INPUT_EVENT.MOUSE : FASTPATH_INPUT_EVENT.MOUSEX), 0);
      b.writeUInt16LE(e.pointerFlags & 0xffff, 1);
      b.writeUInt16LE(e.x & 0xffff, 3);
      b.writeUInt16LE(e.y & 0xffff, 5);
      return b;
    }
    case 'sync':
      return Buffer.from([head(FASTPATH_INPUT_EVENT.SYNC)]);
    case 'relative-mouse': {
      const b = Buffer.alloc(7);
      b.writeUInt8(head(FASTPATH_INPUT_EVENT.RELMOUSE), 0);
      b.writeUInt16LE(e.pointerFlags & 0xffff, 1);
      b.writeInt16LE(e.dx, 3);
      b.writeInt16LE(e.dy, 5);
      return b;
    }
    case 'qoe-timestamp': {
      const b = Buffer.alloc(5);
      b.writeUInt8(head(FASTPATH_INPUT_EVENT.QOE_TIMESTAMP), 0);
      b.writeUInt32LE(e.timestamp >>> 0, 1);
      return b;
    }
  }
}

/** One fast-path input PDU carrying 1..15 events (unencrypted, as under TLS). */
export function buildFastPathInput(events: FastPathInputEvent[]): Buffer {
  if (events.length < 1 || events.length > FASTPATH_MAX_EVENTS_IN_HEADER) throw new RangeError(`a fast-path input PDU built here holds 1..${FASTPATH_MAX_EVENTS_IN_HEADER} events`);
  const body = Buffer.concat(events.map(eventBytes));
  // One length byte up to 0x7f in all, else two (high bit set).
  const short = body.length + 2 <= 0x7f;
  const length = body.length + (short ? 2 : 3);
  const head = Buffer.alloc(short ? 2 : 3);
  head.writeUInt8((events.length & 0xf) << 2, 0); // action FASTPATH (0), no flags
  if (short) head.writeUInt8(length, 1);
  else head.writeUInt16BE(0x8000 | length, 1);
  return Buffer.concat([head, body]);
}
