// Client data blocks carried in the GCC Conference Create Request (MS-RDPBCGR 2.2.1.3):
// each is a TS_UD_HEADER (type u16, length u16 including the header) and a body.
// Decoders are tolerant of the optional tail of CS_CORE; encoders exist for rewriting
// CS_NET and for tests.
import { RdpProtocolError, type RdpLayer } from '../errors.js';
import { asciiz, ByteReader, utf16z } from '../encoding/reader.js';

export const CS = {
  CORE: 0xc001,
  SECURITY: 0xc002,
  NET: 0xc003,
  CLUSTER: 0xc004,
  MONITOR: 0xc005,
  MCS_MSGCHANNEL: 0xc006,
  MONITOR_EX: 0xc008,
  MULTITRANSPORT: 0xc00a,
} as const;

export interface DataBlock {
  type: number;
  /** Offset of the block header in the buffer it was found in. */
  offset: number;
  /** Whole block, header included. */
  length: number;
}

/** Splits [start, end) into data blocks; every byte must belong to a well-formed block. */
export function splitDataBlocks(buf: Buffer, start: number, end: number, layer: RdpLayer = 'gcc'): DataBlock[] {
  const blocks: DataBlock[] = [];
  const r = new ByteReader(buf, layer, start, end);
  while (r.remaining > 0) {
    const offset = r.offset;
    const type = r.u16le('block type');
    const length = r.u16le('block length');
    if (length < 4) throw new RdpProtocolError(layer, 'malformed', `block 0x${type.toString(16)} has length ${length}`);
    r.skip(length - 4, `block 0x${type.toString(16)}`);
    blocks.push({ type, offset, length });
  }
  return blocks;
}

export function blockHeader(type: number, bodyLength: number): Buffer {
  const h = Buffer.alloc(4);
  if (bodyLength + 4 > 0xffff) throw new RangeError('data block too long');
  h.writeUInt16LE(type, 0);
  h.writeUInt16LE(bodyLength + 4, 2);
  return h;
}

// ---- CS_CORE (TS_UD_CS_CORE, 2.2.1.3.2) ----

/** Offset of serverSelectedProtocol from the start of the CS_CORE block (header included). */
export const CORE_SERVER_SELECTED_PROTOCOL_OFFSET = 212;
/** Offsets of desktopWidth and desktopHeight from the start of the CS_CORE block (header included). */
export const CORE_DESKTOP_WIDTH_OFFSET = 8;
export const CORE_DESKTOP_HEIGHT_OFFSET = 10;
/** Offset of keyboardLayout from the start of the CS_CORE block (header included). */
export const CORE_KEYBOARD_LAYOUT_OFFSET = 16;
/** Offset of clientBuild from the start of the CS_CORE block (header included). */
export const CORE_CLIENT_BUILD_OFFSET = 20;
/** Offsets of the display fields after serverSelectedProtocol (header included), and where they end. */
export const CORE_PHYSICAL_WIDTH_OFFSET = 216;
export const CORE_PHYSICAL_HEIGHT_OFFSET = 220;
export const CORE_DESKTOP_SCALE_FACTOR_OFFSET = 226;
export const CORE_DEVICE_SCALE_FACTOR_OFFSET = 230;
export const CORE_DISPLAY_FIELDS_END = 234;
/** Offset of earlyCapabilityFlags from the start of the CS_CORE block (header included). */
export const CORE_EARLY_CAPABILITY_FLAGS_OFFSET = 144;
/** CS_CORE earlyCapabilityFlags (2.2.1.3.2). */
export const RNS_UD_CS = {
  SUPPORT_ERRINFO_PDU: 0x0001,
  WANT_32BPP_SESSION: 0x0002,
  SUPPORT_STATUSINFO_PDU: 0x0004,
  STRONG_ASYMMETRIC_KEYS: 0x0008,
  VALID_CONNECTION_TYPE: 0x0020,
  SUPPORT_MONITOR_LAYOUT_PDU: 0x0040,
  SUPPORT_NETCHAR_AUTODETECT: 0x0080,
  SUPPORT_DYNVC_GFX_PROTOCOL: 0x0100,
  SUPPORT_DYNAMIC_TIME_ZONE: 0x0200,
  SUPPORT_HEARTBEAT_PDU: 0x0400,
  SUPPORT_SKIP_CHANNELJOIN: 0x0800,
} as const;
/** Bytes of CS_CORE up to and including imeFileName: everything after is optional. */
const CORE_MANDATORY_LENGTH = 132;

export interface ClientCoreData {
  version: number;
  desktopWidth: number;
  desktopHeight: number;
  colorDepth: number;
  sasSequence: number;
  keyboardLayout: number;
  clientBuild: number;
  clientName: string;
  keyboardType: number;
  keyboardSubType: number;
  keyboardFunctionKey: number;
  imeFileName: string;
  // Optional, each present only when all before it are.
  postBeta2ColorDepth?: number;
  clientProductId?: number;
  serialNumber?: number;
  highColorDepth?: number;
  supportedColorDepths?: number;
  earlyCapabilityFlags?: number;
  clientDigProductId?: string;
  connectionType?: number;
  serverSelectedProtocol?: number;
  desktopPhysicalWidth?: number;
  desktopPhysicalHeight?: number;
  desktopOrientation?: number;
  desktopScaleFactor?: number;
  deviceScaleFactor?: number;
}

type OptionalCoreField = {
  key: keyof ClientCoreData;
  size: 1 | 2 | 4 | 64;
  /** connectionType is followed by one pad byte that belongs to no field. */
  padAfter?: number;
};

const OPTIONAL_CORE: OptionalCoreField[] = [
  { key: 'postBeta2ColorDepth', size: 2 },
  { key: 'clientProductId', size: 2 },
  { key: 'serialNumber', size: 4 },
  { key: 'highColorDepth', size: 2 },
  { key: 'supportedColorDepths', size: 2 },
  { key: 'earlyCapabilityFlags', size: 2 },
  { key: 'clientDigProductId', size: 64 },
  { key: 'connectionType', size: 1, padAfter: 1 },
  { key: 'serverSelectedProtocol', size: 4 },
  { key: 'desktopPhysicalWidth', size: 4 },
  { key: 'desktopPhysicalHeight', size: 4 },
  { key: 'desktopOrientation', size: 2 },
  { key: 'desktopScaleFactor', size: 4 },
  { key: 'deviceScaleFactor', size: 4 },
];

/** Decodes a CS_CORE block (header included). */
export function decodeClientCore(block: Buffer, layer: RdpLayer = 'gcc'): ClientCoreData {
  if (block.length < CORE_MANDATORY_LENGTH) throw new RdpProtocolError(layer, 'truncated', `CS_CORE of ${block.length} bytes`);
  const r = new ByteReader(block, layer, 4);
  const core: ClientCoreData = {
    version: r.u32le(),
    desktopWidth: r.u16le(),
    desktopHeight: r.u16le(),
    colorDepth: r.u16le(),
    sasSequence: r.u16le(),
    keyboardLayout: r.u32le(),
    clientBuild: r.u32le(),
    clientName: utf16z(r.bytes(32)),
    keyboardType: r.u32le(),
    keyboardSubType: r.u32le(),
    keyboardFunctionKey: r.u32le(),
    imeFileName: utf16z(r.bytes(64)),
  };
  const out = core as unknown as Record<string, number | string>;
  for (const f of OPTIONAL_CORE) {
    if (r.remaining < f.size) break;
    if (f.size === 64) out[f.key] = utf16z(r.bytes(64));
    else out[f.key] = f.size === 1 ? r.u8() : f.size === 2 ? r.u16le() : r.u32le();
    if (f.padAfter) {
      if (r.remaining < f.padAfter) break;
      r.skip(f.padAfter);
    }
  }
  return core;
}

function fixedUtf16(s: string, bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  // Leave room for the terminating NUL.
  b.write(s.slice(0, bytes / 2 - 1), 'utf16le');
  return b;
}

/** Encodes CS_CORE with optional fields up to the last one given (earlier gaps become 0). */
export function encodeClientCore(core: ClientCoreData): Buffer {
  const parts: Buffer[] = [];
  const fixed = Buffer.alloc(CORE_MANDATORY_LENGTH - 4);
  let o = 0;
  o = fixed.writeUInt32LE(core.version, o);
  o = fixed.writeUInt16LE(core.desktopWidth, o);
  o = fixed.writeUInt16LE(core.desktopHeight, o);
  o = fixed.writeUInt16LE(core.colorDepth, o);
  o = fixed.writeUInt16LE(core.sasSequence, o);
  o = fixed.writeUInt32LE(core.keyboardLayout, o);
  o = fixed.writeUInt32LE(core.clientBuild, o);
  o += fixedUtf16(core.clientName, 32).copy(fixed, o);
  o = fixed.writeUInt32LE(core.keyboardType, o);
  o = fixed.writeUInt32LE(core.keyboardSubType, o);
  o = fixed.writeUInt32LE(core.keyboardFunctionKey, o);
  fixedUtf16(core.imeFileName, 64).copy(fixed, o);
  parts.push(fixed);
  const values = core as unknown as Record<string, number | string | undefined>;
  let last = -1;
  OPTIONAL_CORE.forEach((f, i) => {
    if (values[f.key] !== undefined) last = i;
  });
  for (let i = 0; i <= last; i++) {
    const f = OPTIONAL_CORE[i]!;
    const v = values[f.key];
    const b = Buffer.alloc(f.size + (f.padAfter ?? 0));
    if (f.size === 64) fixedUtf16(typeof v === 'string' ? v : '', 64).copy(b);
    else {
      const n = typeof v === 'number' ? v : 0;
      if (f.size === 1) b.writeUInt8(n, 0);
      else if (f.size === 2) b.writeUInt16LE(n, 0);
      else b.writeUInt32LE(n, 0);
    }
    parts.push(b);
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([blockHeader(CS.CORE, body.length), body]);
}

// ---- CS_SECURITY, CS_CLUSTER, CS_MCS_MSGCHANNEL, CS_MULTITRANSPORT ----

export interface ClientSecurityData {
  encryptionMethods: number;
  extEncryptionMethods: number;
}

export function decodeClientSecurity(block: Buffer, layer: RdpLayer = 'gcc'): ClientSecurityData {
  const r = new ByteReader(block, layer, 4);
  return { encryptionMethods: r.u32le('encryptionMethods'), extEncryptionMethods: r.u32le('extEncryptionMethods') };
}

export function encodeClientSecurity(s: ClientSecurityData): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(s.encryptionMethods, 0);
  b.writeUInt32LE(s.extEncryptionMethods, 4);
  return Buffer.concat([blockHeader(CS.SECURITY, 8), b]);
}

export const CLUSTER_FLAGS = {
  REDIRECTION_SUPPORTED: 0x01,
  REDIRECTED_SESSIONID_FIELD_VALID: 0x02,
  REDIRECTED_SMARTCARD: 0x40,
} as const;

export interface ClientClusterData {
  flags: number;
  redirectedSessionId: number;
}

export function decodeClientCluster(block: Buffer, layer: RdpLayer = 'gcc'): ClientClusterData {
  const r = new ByteReader(block, layer, 4);
  return { flags: r.u32le('cluster flags'), redirectedSessionId: r.u32le('redirectedSessionID') };
}

export function encodeClientCluster(c: ClientClusterData): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(c.flags, 0);
  b.writeUInt32LE(c.redirectedSessionId, 4);
  return Buffer.concat([blockHeader(CS.CLUSTER, 8), b]);
}

/** CS_MCS_MSGCHANNEL and CS_MULTITRANSPORT both carry a single u32 of flags. */
export function decodeFlagsBlock(block: Buffer, layer: RdpLayer = 'gcc'): number {
  return new ByteReader(block, layer, 4).u32le('flags');
}

// ---- CS_MONITOR (TS_UD_CS_MONITOR, 2.2.1.3.6) ----

/** Monitors a client may announce (2.2.1.3.6: monitorCount at most 16). */
export const MAX_MONITORS = 16;

/** TS_MONITOR_DEF: virtual desktop coordinates, right and bottom inclusive. */
export interface MonitorDef {
  left: number;
  top: number;
  right: number;
  bottom: number;
  flags: number;
}

export function decodeClientMonitors(block: Buffer, layer: RdpLayer = 'gcc'): MonitorDef[] {
  const r = new ByteReader(block, layer, 4);
  r.u32le('flags');
  const count = r.u32le('monitorCount');
  if (count > MAX_MONITORS) throw new RdpProtocolError(layer, 'malformed', `CS_MONITOR announces ${count} monitors`);
  const monitors: MonitorDef[] = [];
  const i32 = (what: string) => r.u32le(what) | 0;
  for (let i = 0; i < count; i++) monitors.push({ left: i32('left'), top: i32('top'), right: i32('right'), bottom: i32('bottom'), flags: r.u32le('monitor flags') });
  return monitors;
}

export function encodeClientMonitors(monitors: MonitorDef[]): Buffer {
  const body = Buffer.alloc(8 + 20 * monitors.length);
  body.writeUInt32LE(monitors.length, 4);
  monitors.forEach((m, i) => {
    const o = 8 + 20 * i;
    body.writeInt32LE(m.left, o);
    body.writeInt32LE(m.top, o + 4);
    body.writeInt32LE(m.right, o + 8);
    body.writeInt32LE(m.bottom, o + 12);
    body.writeUInt32LE(m.flags >>> 0, o + 16);
  });
  return Buffer.concat([blockHeader(CS.MONITOR, body.length), body]);
}

// ---- CS_NET (TS_UD_CS_NET, 2.2.1.3.4) ----

/** Static virtual channels per connection (CHANNEL_MAX_COUNT). */
export const MAX_STATIC_CHANNELS = 31;

export interface ChannelDef {
  /** Up to 7 ANSI characters ("rdpdr", "cliprdr", "rdpsnd", "drdynvc" …). */
  name: string;
  options: number;
}

export function decodeClientNetwork(block: Buffer, layer: RdpLayer = 'gcc'): ChannelDef[] {
  const r = new ByteReader(block, layer, 4);
  const count = r.u32le('channelCount');
  if (count > MAX_STATIC_CHANNELS) throw new RdpProtocolError(layer, 'malformed', `CS_NET announces ${count} channels`);
  const channels: ChannelDef[] = [];
  for (let i = 0; i < count; i++) {
    channels.push({ name: asciiz(r.bytes(8, 'channel name')), options: r.u32le('channel options') });
  }
  return channels;
}

export function encodeClientNetwork(channels: ChannelDef[]): Buffer {
  if (channels.length > MAX_STATIC_CHANNELS) throw new RangeError(`${channels.length} static channels`);
  const body = Buffer.alloc(4 + 12 * channels.length);
  body.writeUInt32LE(channels.length, 0);
  channels.forEach((c, i) => {
    if (!/^[\x21-\x7e]{1,7}$/.test(c.name)) throw new RangeError(`channel name ${JSON.stringify(c.name)}`);
    body.write(c.name, 4 + 12 * i, 'latin1');
    body.writeUInt32LE(c.options >>> 0, 4 + 12 * i + 8);
  });
  return Buffer.concat([blockHeader(CS.NET, body.length), body]);
}

/**
 * A CS_NET block keeping only the entries at the given indices, their bytes copied as
 * received (so a name the encoder would refuse still passes through unchanged).
 */
export function filterClientNetworkBlock(block: Buffer, keep: number[]): Buffer {
  const body = Buffer.alloc(4 + 12 * keep.length);
  body.writeUInt32LE(keep.length, 0);
  keep.forEach((idx, i) => {
    if (8 + 12 * (idx + 1) > block.length) throw new RangeError(`no channel ${idx} in CS_NET`);
    block.copy(body, 4 + 12 * i, 8 + 12 * idx, 8 + 12 * (idx + 1));
  });
  return Buffer.concat([blockHeader(CS.NET, body.length), body]);
}
