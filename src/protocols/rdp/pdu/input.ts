// Slow-path input (MS-RDPBCGR 2.2.8.1.1.3): a Data PDU with pduType2 INPUT on the I/O
// channel carrying TS_INPUT_PDU_DATA — numEvents, padding, then 12-byte events (eventTime,
// messageType, six bytes of event data). Clients that negotiate fast-path input rarely
// send it, but it is valid at any time, so the recorder reads both forms.
import { RdpProtocolError } from '../errors.js';
import { ByteReader } from '../encoding/reader.js';
import { PDUTYPE, PDUTYPE2 } from './share.js';

export const INPUT_EVENT = {
  SYNC: 0x0000,
  UNUSED: 0x0002,
  SCANCODE: 0x0004,
  UNICODE: 0x0005,
  MOUSE: 0x8001,
  MOUSEX: 0x8002,
  MOUSEREL: 0x8004,
} as const;

export type SlowPathInputEvent =
  | { type: 'sync'; toggleFlags: number }
  | { type: 'scancode'; keyboardFlags: number; keyCode: number }
  | { type: 'unicode'; keyboardFlags: number; unicodeCode: number }
  | { type: 'mouse' | 'mousex'; pointerFlags: number; x: number; y: number }
  | { type: 'relative-mouse'; pointerFlags: number; dx: number; dy: number }
  | { type: 'unused' };

/** Share Control (6) + Share Data (12) headers before a Data PDU's body. */
const DATA_BODY = 18;

/** The pduType2 of a Data PDU (an I/O channel payload), or undefined for any other PDU. */
export function dataPduType2(data: Buffer): number | undefined {
  if (data.length < DATA_BODY) return undefined;
  const totalLength = data.readUInt16LE(0);
  if (totalLength === 0x8000 || totalLength < DATA_BODY || totalLength > data.length) return undefined;
  if ((data.readUInt16LE(2) & 0xf) !== PDUTYPE.DATA) return undefined;
  return data.readUInt8(14);
}

/** Parses the events of a slow-path Input Event PDU (the whole I/O channel payload). */
export function parseSlowPathInput(data: Buffer): SlowPathInputEvent[] {
  if (dataPduType2(data) !== PDUTYPE2.INPUT) throw new RdpProtocolError('mcs', 'unexpected', 'not an Input Event PDU');
  if (data.readUInt8(15) !== 0) throw new RdpProtocolError('mcs', 'unsupported', 'compressed Input Event PDU');
  const r = new ByteReader(data, 'mcs', DATA_BODY, data.readUInt16LE(0));
  const n = r.u16le('numEvents');
  r.skip(2, 'pad2Octets');
  const events: SlowPathInputEvent[] = [];
  for (let i = 0; i < n; i++) {
    r.skip(4, 'eventTime');
    const messageType = r.u16le('messageType');
    const e = r.sub(6, 'slowPathInputData');
    switch (messageType) {
      case INPUT_EVENT.SYNC:
        e.skip(2, 'pad2Octets');
        events.push({ type: 'sync', toggleFlags: e.u32le('toggleFlags') });
        break;
      case INPUT_EVENT.SCANCODE:
        events.push({ type: 'scancode', keyboardFlags: e.u16le('keyboardFlags'), keyCode: e.u16le('keyCode') });
        break;
      case INPUT_EVENT.UNICODE:
        events.push({ type: 'unicode', keyboardFlags: e.u16le('keyboardFlags'), unicodeCode: e.u16le('unicodeCode') });
        break;
      case INPUT_EVENT.MOUSE:
      case INPUT_EVENT.MOUSEX:
        events.push({ type: messageType === INPUT_EVENT.MOUSE ? 'mouse' : 'mousex', pointerFlags: e.u16le('pointerFlags'), x: e.u16le('xPos'), y: e.u16le('yPos') });
        break;
      case INPUT_EVENT.MOUSEREL: {
        const pointerFlags = e.u16le('pointerFlags');
        events.push({ type: 'relative-mouse', pointerFlags, dx: e.bytes(2, 'xDelta').readInt16LE(0), dy: e.bytes(2, 'yDelta').readInt16LE(0) });
        break;
      }
      case INPUT_EVENT.UNUSED:
        events.push({ type: 'unused' });
        break;
      default:
        throw new RdpProtocolError('mcs', 'malformed', `input messageType 0x${messageType.toString(16)}`);
    }
  }
  return events;
}

/** Builds a slow-path Input Event PDU (tests). */
export function buildSlowPathInput(o: { shareId: number; pduSource: number; events: SlowPathInputEvent[] }): Buffer {
  const b = Buffer.alloc(DATA_BODY + 4 + 12 * o.events.length);
  b.writeUInt16LE(b.length, 0);
  b.writeUInt16LE(0x10 | PDUTYPE.DATA, 2);
  b.writeUInt16LE(o.pduSource, 4);
  b.writeUInt32LE(o.shareId >>> 0, 6);
  b.writeUInt8(1, 11); // STREAM_LOW
  b.writeUInt16LE(b.length - 14, 12);
  b.writeUInt8(PDUTYPE2.INPUT, 14);
  b.writeUInt16LE(o.events.length, DATA_BODY);
  o.events.forEach((e, i) => {
    const at = DATA_BODY + 4 + 12 * i;
    const d = at + 6;
    switch (e.type) {
      case 'sync':
        b.writeUInt16LE(INPUT_EVENT.SYNC, at + 4);
        b.writeUInt32LE(e.toggleFlags >>> 0, d + 2);
        break;
      case 'scancode':
      case 'unicode':
        b.writeUInt16LE(e.type === 'scancode' ? INPUT_EVENT.SCANCODE : INPUT_EVENT.UNICODE, at + 4);
        b.writeUInt16LE(e.keyboardFlags, d);
        b.writeUInt16LE(e.type === 'scancode' ? e.keyCode : e.unicodeCode, d + 2);
        break;
      case 'mouse':
      case 'mousex':
        b.writeUInt16LE(e.type === 'mouse' ? INPUT_EVENT.MOUSE : INPUT_EVENT.MOUSEX, at + 4);
        b.writeUInt16LE(e.pointerFlags, d);
        b.writeUInt16LE(e.x, d + 2);
        b.writeUInt16LE(e.y, d + 4);
        break;
      case 'relative-mouse':
        b.writeUInt16LE(INPUT_EVENT.MOUSEREL, at + 4);
        b.writeUInt16LE(e.pointerFlags, d);
        b.writeInt16LE(e.dx, d + 2);
        b.writeInt16LE(e.dy, d + 4);
        break;
      case 'unused':
        b.writeUInt16LE(INPUT_EVENT.UNUSED, at + 4);
        break;
    }
  });
  return b;
}
