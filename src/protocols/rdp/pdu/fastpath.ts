// Fast-path PDUs (MS-RDPBCGR 2.2.8.1.2 input, 2.2.9.1.2 output): a one-byte header whose
// low two bits are the action (0 = fast-path; 3 would be a TPKT), then a 1- or 2-byte
// length covering the whole PDU. With TLS there is no fast-path encryption, but the
// optional signature fields are still skipped correctly when present.
import { RdpProtocolError } from '../errors.js';
import { ByteReader } from '../encoding/reader.js';

export const FASTPATH_ACTION_FASTPATH = 0;
export const FASTPATH_ACTION_X224 = 3;

/** Header flags (the top two bits), the same values for input and output. */
export const FASTPATH_FLAGS = { SECURE_CHECKSUM: 0x1, ENCRYPTED: 0x2 } as const;

/** Largest value the 15-bit length can hold. */
export const FASTPATH_MAX_LENGTH = 0x7fff;

/**
 * The PDU length from its first bytes, or undefined until enough bytes are there to know.
 * Throws when the announced length cannot even hold the header.
 */
export function fastPathLength(head: Buffer): { length: number; headerLength: number } | undefined {
  if (head.length < 2) return undefined;
  const b1 = head.readUInt8(1);
  if (!(b1 & 0x80)) {
    if (b1 < 2) throw new RdpProtocolError('fastpath', 'malformed', `length ${b1} shorter than the header`);
    return { length: b1, headerLength: 2 };
  }
  if (head.length < 3) return undefined;
  const length = ((b1 & 0x7f) << 8) | head.readUInt8(2);
  if (length < 3) throw new RdpProtocolError('fastpath', 'malformed', `length ${length} shorter than the header`);
  return { length, headerLength: 3 };
}

export interface FastPathHeader {
  action: number;
  flags: number;
  length: number;
  /** Bytes of header byte + length field. */
  headerLength: number;
  fipsInformation?: Buffer;
  dataSignature?: Buffer;
  /** Where the events (input) or updates (output) start. */
  bodyOffset: number;
}

export interface FastPathInputHeader extends FastPathHeader {
  numEvents: number;
}

interface HeaderOptions {
  /** FIPS encryption adds a 4-byte fipsInformation before the signature (Standard RDP Security only). */
  fips?: boolean;
}

function parseCommon(frame: Buffer, opts: HeaderOptions): { h: FastPathHeader; r: ByteReader; b0: number } {
  if (frame.length === 0) throw new RdpProtocolError('fastpath', 'truncated', 'empty PDU');
  const b0 = frame.readUInt8(0);
  const action = b0 & 0x3;
  if (action === FASTPATH_ACTION_X224) throw new RdpProtocolError('fastpath', 'unexpected', 'a TPKT, not a fast-path PDU');
  const len = fastPathLength(frame);
  if (!len) throw new RdpProtocolError('fastpath', 'truncated', 'length field incomplete');
  if (len.length > frame.length) throw new RdpProtocolError('fastpath', 'truncated', `length ${len.length}, ${frame.length} bytes present`);
  if (len.length < frame.length) throw new RdpProtocolError('fastpath', 'malformed', `length ${len.length}, but ${frame.length} bytes given`);
  const flags = b0 >> 6;
  const r = new ByteReader(frame, 'fastpath', len.headerLength);
  const h: FastPathHeader = { action, flags, length: len.length, headerLength: len.headerLength, bodyOffset: 0 };
  if (flags & FASTPATH_FLAGS.ENCRYPTED) {
    if (opts.fips) h.fipsInformation = r.bytes(4, 'fipsInformation');
    h.dataSignature = r.bytes(8, 'dataSignature');
  }
  return { h, r, b0 };
}

/** Parses the header of one whole fast-path input PDU (client → server). */
export function parseFastPathInputHeader(frame: Buffer, opts: HeaderOptions = {}): FastPathInputHeader {
  const { h, r, b0 } = parseCommon(frame, opts);
  let numEvents = (b0 >> 2) & 0xf;
  // Zero in the header means the count (up to 255) follows in its own byte.
  if (numEvents === 0) numEvents = r.u8('numEvents');
  return { ...h, numEvents, bodyOffset: r.offset };
}

/** Parses the header of one whole fast-path output PDU (server → client). */
export function parseFastPathOutputHeader(frame: Buffer, opts: HeaderOptions = {}): FastPathHeader {
  const { h, r } = parseCommon(frame, opts);
  return { ...h, bodyOffset: r.offset };
}

// ---- input events (2.2.8.1.2.2) ----

export const FASTPATH_INPUT_EVENT = {
  SCANCODE: 0,
  MOUSE: 1,
  MOUSEX: 2,
  SYNC: 3,
  UNICODE: 4,
  RELMOUSE: 5,
  QOE_TIMESTAMP: 6,
} as const;

export const FASTPATH_KBDFLAGS = { RELEASE: 0x01, EXTENDED: 0x02, EXTENDED1: 0x04 } as const;

export type FastPathInputEvent =
  | { type: 'scancode'; flags: number; keyCode: number }
  | { type: 'mouse' | 'mousex'; flags: number; pointerFlags: number; x: number; y: number }
  | { type: 'sync'; flags: number }
  | { type: 'unicode'; flags: number; unicodeCode: number }
  | { type: 'relative-mouse'; flags: number; pointerFlags: number; dx: number; dy: number }
  | { type: 'qoe-timestamp'; flags: number; timestamp: number };

export function parseFastPathInputEvents(frame: Buffer, header: FastPathInputHeader): FastPathInputEvent[] {
  if (header.flags & FASTPATH_FLAGS.ENCRYPTED) throw new RdpProtocolError('fastpath', 'unsupported', 'encrypted fast-path input');
  const r = new ByteReader(frame, 'fastpath', header.bodyOffset);
  const events: FastPathInputEvent[] = [];
  for (let i = 0; i < header.numEvents; i++) {
    const eh = r.u8('eventHeader');
    const flags = eh & 0x1f;
    switch (eh >> 5) {
      case FASTPATH_INPUT_EVENT.SCANCODE:
        events.push({ type: 'scancode', flags, keyCode: r.u8('keyCode') });
        break;
      case FASTPATH_INPUT_EVENT.MOUSE:
      case FASTPATH_INPUT_EVENT.MOUSEX:
        events.push({ type: eh >> 5 === FASTPATH_INPUT_EVENT.MOUSE ? 'mouse' : 'mousex', flags, pointerFlags: r.u16le('pointerFlags'), x: r.u16le('xPos'), y: r.u16le('yPos') });
        break;
      case FASTPATH_INPUT_EVENT.SYNC:
        events.push({ type: 'sync', flags });
        break;
      case FASTPATH_INPUT_EVENT.UNICODE:
        events.push({ type: 'unicode', flags, unicodeCode: r.u16le('unicodeCode') });
        break;
      case FASTPATH_INPUT_EVENT.RELMOUSE: {
        const pointerFlags = r.u16le('pointerFlags');
        const dx = r.bytes(2, 'xDelta').readInt16LE(0);
        const dy = r.bytes(2, 'yDelta').readInt16LE(0);
        events.push({ type: 'relative-mouse', flags, pointerFlags, dx, dy });
        break;
      }
      case FASTPATH_INPUT_EVENT.QOE_TIMESTAMP:
        events.push({ type: 'qoe-timestamp', flags, timestamp: r.u32le('timestamp') });
        break;
      default:
        throw new RdpProtocolError('fastpath', 'malformed', `input event code ${eh >> 5}`);
    }
  }
  if (r.remaining) throw new RdpProtocolError('fastpath', 'malformed', `${r.remaining} bytes after ${header.numEvents} events`);
  return events;
}

// ---- output updates (2.2.9.1.2.1) ----

import { FASTPATH_FRAGMENT, FASTPATH_UPDATE } from './fastpath-codes.js';
export { FASTPATH_FRAGMENT, FASTPATH_UPDATE };
const COMPRESSION_USED = 0x2;

export interface FastPathUpdate {
  updateCode: number;
  fragmentation: number;
  compression: number;
  compressionFlags?: number;
  data: Buffer;
}

export function parseFastPathUpdates(frame: Buffer, header: FastPathHeader): FastPathUpdate[] {
  if (header.flags & FASTPATH_FLAGS.ENCRYPTED) throw new RdpProtocolError('fastpath', 'unsupported', 'encrypted fast-path output');
  const r = new ByteReader(frame, 'fastpath', header.bodyOffset);
  const updates: FastPathUpdate[] = [];
  while (r.remaining > 0) {
    const uh = r.u8('updateHeader');
    const u: FastPathUpdate = { updateCode: uh & 0xf, fragmentation: (uh >> 4) & 0x3, compression: (uh >> 6) & 0x3, data: Buffer.alloc(0) };
    if (u.compression & COMPRESSION_USED) u.compressionFlags = r.u8('compressionFlags');
    u.data = r.bytes(r.u16le('size'), 'updateData');
    updates.push(u);
  }
  return updates;
}
