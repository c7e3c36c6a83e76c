// Capability exchange (MS-RDPBCGR 2.2.1.13): the target's Demand Active PDU and the
// client's Confirm Active PDU, both Share Control PDUs on the I/O channel. The gateway
// reads the target's bitmap capability set (the desktop size and colour depth the
// recording starts from) and rewrites the client's capability sets so the target only
// sends what the recording decoder replays: bitmap updates (uncompressed, interleaved RLE,
// planar), palettes and pointers. No drawing orders, no caches that only orders use, no
// bitmap codecs (RemoteFX, NSCodec …), no surface commands, no large pointers.
import { RdpProtocolError } from '../errors.js';
import { ByteReader } from '../encoding/reader.js';
import { PDUTYPE } from './share.js';

/** Capability set types (2.2.1.13.1.1.1). */
export const CAPSTYPE = {
  GENERAL: 0x0001,
  BITMAP: 0x0002,
  ORDER: 0x0003,
  BITMAPCACHE: 0x0004,
  CONTROL: 0x0005,
  ACTIVATION: 0x0007,
  POINTER: 0x0008,
  SHARE: 0x0009,
  COLORCACHE: 0x000a,
  SOUND: 0x000c,
  INPUT: 0x000d,
  FONT: 0x000e,
  BRUSH: 0x000f,
  GLYPHCACHE: 0x0010,
  OFFSCREENCACHE: 0x0011,
  BITMAPCACHE_HOSTSUPPORT: 0x0012,
  BITMAPCACHE_REV2: 0x0013,
  VIRTUALCHANNEL: 0x0014,
  DRAWNINEGRIDCACHE: 0x0015,
  DRAWGDIPLUS: 0x0016,
  RAIL: 0x0017,
  WINDOW: 0x0018,
  COMPDESK: 0x0019,
  MULTIFRAGMENTUPDATE: 0x001a,
  LARGE_POINTER: 0x001b,
  SURFACE_COMMANDS: 0x001c,
  BITMAP_CODECS: 0x001d,
  FRAME_ACKNOWLEDGE: 0x001e,
} as const;

/** TS_BITMAP_CAPABILITYSET drawingFlags (2.2.7.1.2). */
export const DRAW_ALLOW = { DYNAMIC_COLOR_FIDELITY: 0x02, COLOR_SUBSAMPLING: 0x04, SKIP_ALPHA: 0x08 } as const;

/** The Share Control PDU source of a Confirm Active is always the server channel id (2.2.1.13.2.1). */
export const ORIGINATOR_ID = 0x03ea;

export interface CapabilitySet {
  type: number;
  /** The body, without the 4-byte type/length header. */
  body: Buffer;
}

interface ActiveHead {
  /** The Share Control Header's pduType field as sent (type and protocol version bits). */
  pduTypeField: number;
  pduSource: number;
  shareId: number;
  sourceDescriptor: Buffer;
  capabilities: CapabilitySet[];
}

export interface ConfirmActive extends ActiveHead {
  originatorId: number;
  /** Bytes after the capability sets, kept as sent (none in a well-formed PDU). */
  trailer: Buffer;
}

export interface DemandActive extends ActiveHead {
  /** The sessionId after the capability sets (absent in some old servers). */
  sessionId?: number;
}

/** Share Control pduType of an I/O channel payload (Flow PDUs and short payloads give undefined). */
function sharePduType(data: Buffer): number | undefined {
  if (data.length < 6) return undefined;
  const totalLength = data.readUInt16LE(0);
  if (totalLength === 0x8000 || totalLength < 6 || totalLength > data.length) return undefined;
  return data.readUInt16LE(2) & 0xf;
}

export const isConfirmActive = (data: Buffer): boolean => sharePduType(data) === PDUTYPE.CONFIRMACTIVE;
export const isDemandActive = (data: Buffer): boolean => sharePduType(data) === PDUTYPE.DEMANDACTIVE;

function readCapabilities(r: ByteReader, length: number): CapabilitySet[] {
  const caps = r.sub(length, 'combinedCapabilities');
  const count = caps.u16le('numberCapabilities');
  caps.skip(2, 'pad2Octets');
  const out: CapabilitySet[] = [];
  for (let i = 0; i < count; i++) {
    const type = caps.u16le('capabilitySetType');
    const len = caps.u16le('lengthCapability');
    if (len < 4) throw new RdpProtocolError('mcs', 'malformed', `capability set 0x${type.toString(16)} of length ${len}`);
    out.push({ type, body: caps.bytes(len - 4, `capability set 0x${type.toString(16)}`) });
  }
  if (caps.remaining) throw new RdpProtocolError('mcs', 'malformed', `${caps.remaining} bytes after ${count} capability sets`);
  return out;
}

function shareControl(r: ByteReader, want: number, what: string): { pduTypeField: number; pduSource: number } {
  const totalLength = r.u16le('totalLength');
  if (totalLength !== r.end) throw new RdpProtocolError('mcs', 'malformed', `${what}: totalLength ${totalLength}, ${r.end} bytes present`);
  const pduTypeField = r.u16le('pduType');
  if ((pduTypeField & 0xf) !== want) throw new RdpProtocolError('mcs', 'unexpected', `${what}: pduType ${pduTypeField & 0xf}`);
  return { pduTypeField, pduSource: r.u16le('pduSource') };
}

/** Parses a Confirm Active PDU (the whole I/O channel payload, Share Control Header first). */
export function parseConfirmActive(data: Buffer): ConfirmActive {
  const r = new ByteReader(data, 'mcs');
  const sc = shareControl(r, PDUTYPE.CONFIRMACTIVE, 'Confirm Active');
  const shareId = r.u32le('shareId');
  const originatorId = r.u16le('originatorId');
  const lengthSourceDescriptor = r.u16le('lengthSourceDescriptor');
  const lengthCombinedCapabilities = r.u16le('lengthCombinedCapabilities');
  const sourceDescriptor = r.bytes(lengthSourceDescriptor, 'sourceDescriptor');
  const capabilities = readCapabilities(r, lengthCombinedCapabilities);
  return { ...sc, shareId, originatorId, sourceDescriptor, capabilities, trailer: r.rest() };
}

/** Parses a Demand Active PDU (the whole I/O channel payload, Share Control Header first). */
export function parseDemandActive(data: Buffer): DemandActive {
  const r = new ByteReader(data, 'mcs');
  const sc = shareControl(r, PDUTYPE.DEMANDACTIVE, 'Demand Active');
  const shareId = r.u32le('shareId');
  const lengthSourceDescriptor = r.u16le('lengthSourceDescriptor');
  const lengthCombinedCapabilities = r.u16le('lengthCombinedCapabilities');
  const sourceDescriptor = r.bytes(lengthSourceDescriptor, 'sourceDescriptor');
  const capabilities = readCapabilities(r, lengthCombinedCapabilities);
  const d: DemandActive = { ...sc, shareId, sourceDescriptor, capabilities };
  if (r.remaining >= 4) d.sessionId = r.u32le('sessionId');
  return d;
}

function encodeCapabilities(caps: CapabilitySet[]): Buffer {
  const parts: Buffer[] = [Buffer.alloc(4)];
  parts[0]!.writeUInt16LE(caps.length, 0);
  for (const c of caps) {
    const h = Buffer.alloc(4);
    if (c.body.length + 4 > 0xffff) throw new RangeError(`capability set 0x${c.type.toString(16)} too long`);
    h.writeUInt16LE(c.type, 0);
    h.writeUInt16LE(c.body.length + 4, 2);
    parts.push(h, c.body);
  }
  return Buffer.concat(parts);
}

/** Encodes a Confirm Active PDU; every length (totalLength, lengthSourceDescriptor, lengthCombinedCapabilities, numberCapabilities) is computed. */
export function encodeConfirmActive(ca: ConfirmActive): Buffer {
  const combined = encodeCapabilities(ca.capabilities);
  const head = Buffer.alloc(6 + 4 + 2 + 2 + 2);
  const total = head.length + ca.sourceDescriptor.length + combined.length + ca.trailer.length;
  if (total > 0xffff || combined.length > 0xffff || ca.sourceDescriptor.length > 0xffff) throw new RangeError('Confirm Active PDU too long');
  head.writeUInt16LE(total, 0);
  head.writeUInt16LE(ca.pduTypeField, 2);
  head.writeUInt16LE(ca.pduSource, 4);
  head.writeUInt32LE(ca.shareId >>> 0, 6);
  head.writeUInt16LE(ca.originatorId, 10);
  head.writeUInt16LE(ca.sourceDescriptor.length, 12);
  head.writeUInt16LE(combined.length, 14);
  return Buffer.concat([head, ca.sourceDescriptor, combined, ca.trailer]);
}

/** Encodes a Demand Active PDU (tests, and the shape the gateway reads). */
export function encodeDemandActive(d: DemandActive): Buffer {
  const combined = encodeCapabilities(d.capabilities);
  const head = Buffer.alloc(6 + 4 + 2 + 2);
  const tail = Buffer.alloc(d.sessionId === undefined ? 0 : 4);
  if (d.sessionId !== undefined) tail.writeUInt32LE(d.sessionId >>> 0, 0);
  head.writeUInt16LE(head.length + d.sourceDescriptor.length + combined.length + tail.length, 0);
  head.writeUInt16LE(d.pduTypeField, 2);
  head.writeUInt16LE(d.pduSource, 4);
  head.writeUInt32LE(d.shareId >>> 0, 6);
  head.writeUInt16LE(d.sourceDescriptor.length, 10);
  head.writeUInt16LE(combined.length, 12);
  return Buffer.concat([head, d.sourceDescriptor, combined, tail]);
}

export interface BitmapCapability {
  preferredBitsPerPixel: number;
  desktopWidth: number;
  desktopHeight: number;
  desktopResizeFlag: number;
  bitmapCompressionFlag: number;
  drawingFlags: number;
}

/** The bitmap capability set (2.2.7.1.2), if the list has one. */
export function bitmapCapability(caps: CapabilitySet[]): BitmapCapability | undefined {
  const c = caps.find((x) => x.type === CAPSTYPE.BITMAP);
  if (!c) return undefined;
  const r = new ByteReader(c.body, 'mcs');
  const preferredBitsPerPixel = r.u16le('preferredBitsPerPixel');
  r.skip(6, 'receive1/4/8BitPerPixel');
  const desktopWidth = r.u16le('desktopWidth');
  const desktopHeight = r.u16le('desktopHeight');
  r.skip(2, 'pad2octets');
  const desktopResizeFlag = r.u16le('desktopResizeFlag');
  const bitmapCompressionFlag = r.u16le('bitmapCompressionFlag');
  r.skip(1, 'highColorFlags');
  const drawingFlags = r.u8('drawingFlags');
  return { preferredBitsPerPixel, desktopWidth, desktopHeight, desktopResizeFlag, bitmapCompressionFlag, drawingFlags };
}

/** Zeroes [at, at+n) of a copy of body when the body is long enough; reports whether anything was non-zero. */
function zero(body: Buffer, at: number, n: number): { body: Buffer; changed: boolean } {
  if (body.length < at + n) return { body, changed: false };
  const slice = body.subarray(at, at + n);
  if (slice.every((b) => b === 0)) return { body, changed: false };
  const out = Buffer.from(body);
  out.fill(0, at, at + n);
  return { body: out, changed: true };
}

/** Zeroes several ranges of one body. */
function zeroAll(body: Buffer, ranges: [number, number][]): { body: Buffer; changed: boolean } {
  let changed = false;
  for (const [at, n] of ranges) {
    const z = zero(body, at, n);
    body = z.body;
    changed ||= z.changed;
  }
  return { body, changed };
}

/**
 * What each client capability set becomes. Offsets are into the body (after the 4-byte
 * header); a set too short to hold a field is left alone (the target reads it as absent).
 */
const RESTRICT: Record<number, { name: string; apply(body: Buffer): { body: Buffer | null; changed: boolean } }> = {
  [CAPSTYPE.GENERAL]: {
    // generalCompressionTypes and generalCompressionLevel must be 0 anyway (2.2.7.1.1).
    name: 'general compression',
    apply: (b) => zeroAll(b, [[8, 2], [16, 2]]),
  },
  [CAPSTYPE.BITMAP]: {
    // Planar without colour loss or chroma subsampling: the lossless forms the decoder replays.
    name: 'bitmap lossy planar',
    apply: (b) => {
      if (b.length < 20 || !(b[19]! & (DRAW_ALLOW.DYNAMIC_COLOR_FIDELITY | DRAW_ALLOW.COLOR_SUBSAMPLING))) return { body: b, changed: false };
      const out = Buffer.from(b);
      out[19] = out[19]! & ~(DRAW_ALLOW.DYNAMIC_COLOR_FIDELITY | DRAW_ALLOW.COLOR_SUBSAMPLING);
      return { body: out, changed: true };
    },
  },
  [CAPSTYPE.ORDER]: {
    // orderSupport[32] (primary drawing orders) and orderSupportExFlags (cache bitmap rev3, frame markers).
    name: 'drawing orders',
    apply: (b) => zeroAll(b, [[32, 32], [66, 2]]),
  },
  [CAPSTYPE.BITMAPCACHE]: {
    // Three caches (entries, cell size) after 24 bytes of padding: only MemBlt orders use them.
    name: 'bitmap cache',
    apply: (b) => zeroAll(b, [[24, 12]]),
  },
  [CAPSTYPE.BITMAPCACHE_REV2]: {
    // CacheFlags, NumCellCaches and the five cell infos.
    name: 'bitmap cache rev2',
    apply: (b) => zeroAll(b, [[0, 2], [3, 1], [4, 20]]),
  },
  [CAPSTYPE.BRUSH]: { name: 'brush cache', apply: (b) => zeroAll(b, [[0, 4]]) },
  [CAPSTYPE.GLYPHCACHE]: {
    // GlyphSupportLevel = GLYPH_SUPPORT_NONE (glyphs are drawn with orders).
    name: 'glyph cache',
    apply: (b) => zeroAll(b, [[44, 2]]),
  },
  [CAPSTYPE.OFFSCREENCACHE]: { name: 'offscreen cache', apply: (b) => zeroAll(b, [[0, 8]]) },
  [CAPSTYPE.DRAWNINEGRIDCACHE]: { name: 'draw nine grid', apply: (b) => zeroAll(b, [[0, 8]]) },
  // drawGDIPlusSupportLevel and drawGdiplusCacheLevel (GdipVersion between them stays).
  [CAPSTYPE.DRAWGDIPLUS]: { name: 'GDI+ orders', apply: (b) => zeroAll(b, [[0, 4], [8, 4]]) },
  // RemoteApp window orders and the rail level: the recording shows desktops, not RAIL windows.
  [CAPSTYPE.RAIL]: { name: 'RAIL', apply: (b) => zeroAll(b, [[0, 4]]) },
  [CAPSTYPE.WINDOW]: { name: 'window orders', apply: (b) => zeroAll(b, [[0, 4]]) },
  // TS_FP_LARGEPOINTERATTRIBUTE is a pointer form the decoder does not read.
  [CAPSTYPE.LARGE_POINTER]: { name: 'large pointer', apply: (b) => zeroAll(b, [[0, 2]]) },
  [CAPSTYPE.SURFACE_COMMANDS]: { name: 'surface commands', apply: (b) => zeroAll(b, [[0, 4]]) },
  [CAPSTYPE.BITMAP_CODECS]: {
    // bitmapCodecCount = 0: no RemoteFX, NSCodec, JPEG, image RemoteFX.
    name: 'bitmap codecs',
    apply: (b) => (b.length === 1 && b[0] === 0 ? { body: b, changed: false } : { body: Buffer.from([0]), changed: true }),
  },
  // Frame acknowledgement only goes with surface frame markers: the set is left out.
  [CAPSTYPE.FRAME_ACKNOWLEDGE]: { name: 'frame acknowledge', apply: () => ({ body: null, changed: true }) },
};

/** The client's capability sets restricted to what the recorder replays; `removed` names what changed. */
export function restrictClientCapabilities(caps: CapabilitySet[]): { capabilities: CapabilitySet[]; removed: string[] } {
  const out: CapabilitySet[] = [];
  const removed: string[] = [];
  for (const c of caps) {
    const rule = RESTRICT[c.type];
    if (!rule) {
      out.push(c);
      continue;
    }
    const r = rule.apply(c.body);
    if (r.changed && !removed.includes(rule.name)) removed.push(rule.name);
    if (r.body) out.push({ type: c.type, body: r.body });
  }
  return { capabilities: out, removed };
}

/**
 * Rewrites a client's Confirm Active PDU (the I/O channel payload) with restricted
 * capabilities. Returns the new payload and what was taken away (for the session notes).
 */
export function restrictConfirmActive(data: Buffer): { data: Buffer; removed: string[] } {
  const ca = parseConfirmActive(data);
  const { capabilities, removed } = restrictClientCapabilities(ca.capabilities);
  if (removed.length === 0) return { data, removed };
  try {
    return { data: encodeConfirmActive({ ...ca, capabilities }), removed };
  } catch (e) {
    if (e instanceof RangeError) throw new RdpProtocolError('mcs', 'too_large', e.message);
    throw e;
  }
}
