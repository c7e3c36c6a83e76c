// MCS Connect-Initial / Connect-Response (T.125, BER) wrapping a GCC Conference Create
// Request / Response (T.124, PER) whose user data are the RDP data blocks
// (MS-RDPBCGR 2.2.1.3, 2.2.1.4). The gateway parses the client's Connect-Initial, rewrites
// serverSelectedProtocol and the static channel list, and re-encodes with every length
// recomputed; on the way back it reads (and may rewrite) the server's blocks.
//
// Input and output here are the MCS PDU alone: the X.224 Data TPDU and TPKT around it
// are x224.ts's business.
import { RdpProtocolError } from '../errors.js';
import { berBoolean, berEnumerated, berOctetString, berSequence, expectTlv, TAG, tlv, type Tlv } from '../encoding/ber.js';
import { perLength, readPerLength, T124_OID } from '../encoding/per.js';
import { ByteReader } from '../encoding/reader.js';
import {
  CORE_DESKTOP_HEIGHT_OFFSET,
  CORE_DESKTOP_WIDTH_OFFSET,
  CORE_DISPLAY_FIELDS_END,
  CORE_EARLY_CAPABILITY_FLAGS_OFFSET,
  CORE_CLIENT_BUILD_OFFSET,
  CORE_KEYBOARD_LAYOUT_OFFSET,
  CORE_PHYSICAL_WIDTH_OFFSET,
  CORE_PHYSICAL_HEIGHT_OFFSET,
  CORE_DESKTOP_SCALE_FACTOR_OFFSET,
  CORE_DEVICE_SCALE_FACTOR_OFFSET,
  CORE_SERVER_SELECTED_PROTOCOL_OFFSET,
  CS,
  decodeClientCluster,
  decodeClientCore,
  decodeClientNetwork,
  decodeClientSecurity,
  decodeFlagsBlock,
  filterClientNetworkBlock,
  splitDataBlocks,
  type ChannelDef,
  type ClientClusterData,
  type ClientCoreData,
  type ClientSecurityData,
  type DataBlock,
} from './client-data.js';
import {
  decodeServerCore,
  decodeServerMessageChannel,
  decodeServerNetwork,
  decodeServerSecurity,
  encodeServerNetwork,
  SC,
  type ServerCoreData,
  type ServerNetworkData,
  type ServerSecurityData,
} from './server-data.js';

export const MCS_CONNECT_INITIAL = 0x7f65;
export const MCS_CONNECT_RESPONSE = 0x7f66;

/** H.221 non-standard keys that mark RDP's GCC user data. */
const H221_CLIENT_KEY = Buffer.from('Duca', 'latin1');
const H221_SERVER_KEY = Buffer.from('McDn', 'latin1');

/**
 * The PER bytes between the connectPDU length and the user data length, as every RDP
 * client and server writes them. Request: choice conferenceCreateRequest, userData
 * present, conferenceName "1", padding, one set, h221NonStandard "Duca". Response: choice
 * conferenceCreateResponse, nodeID 0x79f3, tag 1, result success, one set, "McDn".
 */
const CREATE_REQUEST_HEAD = Buffer.concat([Buffer.from([0x00, 0x08, 0x00, 0x10, 0x00, 0x01, 0xc0, 0x00]), H221_CLIENT_KEY]);
const CREATE_RESPONSE_HEAD = Buffer.concat([Buffer.from([0x14, 0x76, 0x0a, 0x01, 0x01, 0x00, 0x01, 0xc0, 0x00]), H221_SERVER_KEY]);

export interface DomainParameters {
  maxChannelIds: number;
  maxUserIds: number;
  maxTokenIds: number;
  numPriorities: number;
  minThroughput: number;
  maxHeight: number;
  maxMcsPduSize: number;
  protocolVersion: number;
}

const DOMAIN_FIELDS: (keyof DomainParameters)[] = ['maxChannelIds', 'maxUserIds', 'maxTokenIds', 'numPriorities', 'minThroughput', 'maxHeight', 'maxMcsPduSize', 'protocolVersion'];

/** What mstsc sends (MS-RDPBCGR 4.1.3). */
export const DEFAULT_DOMAIN_PARAMETERS = {
  target: { maxChannelIds: 34, maxUserIds: 2, maxTokenIds: 0, numPriorities: 1, minThroughput: 0, maxHeight: 1, maxMcsPduSize: 0xffff, protocolVersion: 2 },
  minimum: { maxChannelIds: 1, maxUserIds: 1, maxTokenIds: 1, numPriorities: 1, minThroughput: 0, maxHeight: 1, maxMcsPduSize: 0x420, protocolVersion: 2 },
  maximum: { maxChannelIds: 0xffff, maxUserIds: 0xfc17, maxTokenIds: 0xffff, numPriorities: 1, minThroughput: 0, maxHeight: 1, maxMcsPduSize: 0xffff, protocolVersion: 2 },
} satisfies Record<string, DomainParameters>;

// MCS integers are non-negative, and mstsc encodes 65535 as `02 02 ff ff`: read and write
// them as unsigned big-endian rather than strict two's complement.
function readMcsUint(r: ByteReader, what: string, tag: number = TAG.INTEGER): number {
  const t = expectTlv(r, tag, what);
  if (t.value.length < 1 || t.value.length > 4) throw new RdpProtocolError('mcs', 'malformed', `${what}: ${t.value.length}-byte integer`);
  return t.value.readUIntBE(0, t.value.length);
}

function mcsUint(n: number, tag: number = TAG.INTEGER): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`MCS integer ${n}`);
  const len = n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x1000000 ? 3 : 4;
  const b = Buffer.alloc(len);
  b.writeUIntBE(n, 0, len);
  return tlv(tag, b);
}

function readDomainParameters(r: ByteReader, what: string): DomainParameters {
  const seq = expectTlv(r, TAG.SEQUENCE, what);
  const sr = inner(r.buf, seq);
  const p = {} as DomainParameters;
  for (const f of DOMAIN_FIELDS) p[f] = readMcsUint(sr, `${what}.${f}`);
  return p;
}

export function encodeDomainParameters(p: DomainParameters): Buffer {
  return berSequence(...DOMAIN_FIELDS.map((f) => mcsUint(p[f])));
}

/** A reader over the value of an element read from buf. */
function inner(buf: Buffer, t: Tlv, layer: 'mcs' | 'gcc' = 'mcs'): ByteReader {
  return new ByteReader(buf, layer, t.end - t.value.length, t.end);
}

// ---- the GCC envelope, shared by request and response ----

interface GccLayout {
  /** PER bytes between the connectPDU length and the user data length. */
  mid: Buffer;
  dataStart: number;
  dataEnd: number;
}

function parseGcc(buf: Buffer, ud: Tlv, kind: 'request' | 'response'): GccLayout {
  const r = inner(buf, ud, 'gcc');
  if (r.u8('ConnectData key choice') !== 0) throw new RdpProtocolError('gcc', 'malformed', 'ConnectData key is not an object identifier');
  const oid = r.bytes(r.u8('key length'), 'key');
  if (!oid.equals(T124_OID)) throw new RdpProtocolError('gcc', 'unsupported', `ConnectData key ${oid.toString('hex')} is not T.124`);
  // Not trusted: Windows servers are known to send a stale connectPDU length.
  readPerLength(r, 'connectPDU length');
  const midStart = r.offset;
  if (kind === 'request') skipCreateRequestHead(r);
  else skipCreateResponseHead(r);
  const mid = buf.subarray(midStart, r.offset);
  const len = readPerLength(r, 'user data length');
  const dataStart = r.offset;
  r.skip(len, 'user data blocks');
  if (r.remaining) throw new RdpProtocolError('gcc', 'malformed', `${r.remaining} bytes after the user data`);
  return { mid, dataStart, dataEnd: r.offset };
}

function expectKey(r: ByteReader, key: Buffer): void {
  if (r.u8('user data sets') < 1) throw new RdpProtocolError('gcc', 'malformed', 'no user data set');
  if (r.u8('user data choice') !== 0xc0) throw new RdpProtocolError('gcc', 'unsupported', 'user data is not h221NonStandard with a value');
  const k = r.bytes(r.u8('h221 key length') + 4, 'h221 key');
  if (!k.equals(key)) throw new RdpProtocolError('gcc', 'unsupported', `h221 key ${JSON.stringify(k.toString('latin1'))}, expected ${key.toString('latin1')}`);
}

function skipCreateRequestHead(r: ByteReader): void {
  if (r.u8('ConnectGCCPDU choice') !== 0) throw new RdpProtocolError('gcc', 'unexpected', 'not a Conference Create Request');
  const present = r.u8('optional fields');
  if (present !== 0x08) throw new RdpProtocolError('gcc', 'unsupported', `Conference Create Request optional fields 0x${present.toString(16)}`);
  const digits = readPerLength(r, 'conferenceName length') + 1;
  r.skip(Math.ceil(digits / 2), 'conferenceName');
  r.skip(1, 'padding');
  expectKey(r, H221_CLIENT_KEY);
}

function skipCreateResponseHead(r: ByteReader): void {
  if (r.u8('ConnectGCCPDU choice') !== 0x14) throw new RdpProtocolError('gcc', 'unexpected', 'not a Conference Create Response');
  r.skip(2, 'nodeID');
  r.skip(readPerLength(r, 'tag length'), 'tag');
  r.skip(1, 'result');
  expectKey(r, H221_SERVER_KEY);
}

function gccEnvelope(mid: Buffer, data: Buffer): Buffer {
  // PER lengths stop at 16 KiB without fragmentation, which no RDP peer uses here.
  if (mid.length + 2 + data.length >= 0x4000) throw new RdpProtocolError('gcc', 'too_large', `${data.length} bytes of data blocks`);
  const connectPdu = Buffer.concat([mid, perLength(data.length), data]);
  return Buffer.concat([Buffer.from([0x00, T124_OID.length]), T124_OID, perLength(connectPdu.length), connectPdu]);
}

function blockSlices(buf: Buffer, blocks: DataBlock[]): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  for (const b of blocks) {
    if (m.has(b.type)) throw new RdpProtocolError('gcc', 'malformed', `data block 0x${b.type.toString(16)} appears twice`);
    m.set(b.type, buf.subarray(b.offset, b.offset + b.length));
  }
  return m;
}

// ---- Connect-Initial ----

export interface ConnectInitial {
  callingDomainSelector: Buffer;
  calledDomainSelector: Buffer;
  upwardFlag: boolean;
  targetParameters: DomainParameters;
  minimumParameters: DomainParameters;
  maximumParameters: DomainParameters;
  /** The client data blocks, offsets relative to the PDU that was parsed. */
  blocks: DataBlock[];
  core: ClientCoreData;
  /** Offset of CS_CORE's serverSelectedProtocol in the PDU, when the client sent that field. */
  serverSelectedProtocolOffset?: number;
  security?: ClientSecurityData;
  /** CS_NET's static channels in order (server channel ids follow this order). */
  channels: ChannelDef[];
  cluster?: ClientClusterData;
  messageChannelFlags?: number;
  multitransportFlags?: number;
}

export interface ConnectInitialLayout {
  head: Buffer;
  gcc: GccLayout;
}

function parseConnectInitialLayout(pdu: Buffer): { ci: ConnectInitial; layout: ConnectInitialLayout } {
  const r = new ByteReader(pdu, 'mcs');
  const outer = expectTlv(r, MCS_CONNECT_INITIAL, 'Connect-Initial');
  if (r.remaining) throw new RdpProtocolError('mcs', 'malformed', `${r.remaining} bytes after Connect-Initial`);
  const ir = inner(pdu, outer);
  const headStart = ir.offset;
  const calling = expectTlv(ir, TAG.OCTET_STRING, 'callingDomainSelector').value;
  const called = expectTlv(ir, TAG.OCTET_STRING, 'calledDomainSelector').value;
  const upward = expectTlv(ir, TAG.BOOLEAN, 'upwardFlag').value;
  if (upward.length !== 1) throw new RdpProtocolError('mcs', 'malformed', 'upwardFlag is not one byte');
  const targetParameters = readDomainParameters(ir, 'targetParameters');
  const minimumParameters = readDomainParameters(ir, 'minimumParameters');
  const maximumParameters = readDomainParameters(ir, 'maximumParameters');
  const head = pdu.subarray(headStart, ir.offset);
  const ud = expectTlv(ir, TAG.OCTET_STRING, 'userData');
  if (ir.remaining) throw new RdpProtocolError('mcs', 'malformed', `${ir.remaining} bytes after userData`);
  const gcc = parseGcc(pdu, ud, 'request');
  const blocks = splitDataBlocks(pdu, gcc.dataStart, gcc.dataEnd, 'gcc');
  const byType = blockSlices(pdu, blocks);
  const coreBlock = byType.get(CS.CORE);
  if (!coreBlock) throw new RdpProtocolError('gcc', 'malformed', 'no CS_CORE block');
  const core = decodeClientCore(coreBlock);
  const ci: ConnectInitial = {
    callingDomainSelector: calling,
    calledDomainSelector: called,
    upwardFlag: upward.readUInt8(0) !== 0,
    targetParameters,
    minimumParameters,
    maximumParameters,
    blocks,
    core,
    channels: [],
  };
  if (core.serverSelectedProtocol !== undefined) {
    ci.serverSelectedProtocolOffset = blocks.find((b) => b.type === CS.CORE)!.offset + CORE_SERVER_SELECTED_PROTOCOL_OFFSET;
  }
  const sec = byType.get(CS.SECURITY);
  if (sec) ci.security = decodeClientSecurity(sec);
  const net = byType.get(CS.NET);
  if (net) ci.channels = decodeClientNetwork(net);
  const cluster = byType.get(CS.CLUSTER);
  if (cluster) ci.cluster = decodeClientCluster(cluster);
  const msg = byType.get(CS.MCS_MSGCHANNEL);
  if (msg) ci.messageChannelFlags = decodeFlagsBlock(msg);
  const mt = byType.get(CS.MULTITRANSPORT);
  if (mt) ci.multitransportFlags = decodeFlagsBlock(mt);
  return { ci, layout: { head, gcc } };
}

/** Parses an MCS Connect-Initial (the payload of the client's first X.224 Data TPDU). */
export function parseConnectInitial(pdu: Buffer): ConnectInitial {
  return parseConnectInitialLayout(pdu).ci;
}

/**
 * One parse of a Connect-Initial that every reader shares (the desktop limit, the rewrite,
 * the recorder): the PDU, what it says, and the layout a rewrite re-encodes from.
 */
export interface ParsedConnectInitial {
  readonly pdu: Buffer;
  readonly ci: ConnectInitial;
  readonly layout: ConnectInitialLayout;
}

export function readConnectInitial(pdu: Buffer): ParsedConnectInitial {
  const { ci, layout } = parseConnectInitialLayout(pdu);
  return { pdu, ci, layout };
}

/** A client data block's bytes (header included) in the parsed PDU, if the client sent one of that type. */
export function connectInitialBlock(p: ParsedConnectInitial, type: number): Buffer | undefined {
  const b = p.ci.blocks.find((x) => x.type === type);
  return b ? p.pdu.subarray(b.offset, b.offset + b.length) : undefined;
}

export interface ConnectInitialRewrite {
  /** The protocol the gateway negotiated with the target; the target checks CS_CORE against it. */
  serverSelectedProtocol?: number;
  /** Static channels to keep (by default all). A CS_NET left empty is dropped, as clients do. */
  keepChannel?: (channel: ChannelDef, index: number) => boolean;
  /** Whole client data blocks to leave out (e.g. CS.MULTITRANSPORT: UDP cannot be relayed). */
  dropBlockTypes?: number[];
  /** Changes CS_CORE's earlyCapabilityFlags (when the client sent the field). */
  earlyCapabilityFlags?: (flags: number) => number;
  /** Replaces CS_CORE's desktopWidth and desktopHeight. */
  desktopSize?: { width: number; height: number };
  /** Replaces CS_CORE's keyboardLayout (a Windows KLID such as 0x0407). */
  keyboardLayout?: number;
  /** Replaces CS_CORE's clientBuild. */
  clientBuild?: number;
  /**
   * Sets CS_CORE's desktopPhysicalWidth/Height (millimetres), desktopScaleFactor (percent)
   * and deviceScaleFactor (100, 140 or 180). A CS_CORE that ends before them is extended
   * (desktopOrientation 0, landscape) when it reaches serverSelectedProtocol; a shorter
   * one is left alone (`scaleApplied` false), since the fields in between would change meaning.
   */
  scale?: { physicalWidth: number; physicalHeight: number; desktopScaleFactor: number; deviceScaleFactor: number };
}

export interface RewrittenConnectInitial {
  pdu: Buffer;
  /** CS_CORE as the target gets it (decoded from the rewritten block: no second parse of the PDU). */
  core: ClientCoreData;
  /** Whether `scale` was written (false when CS_CORE was too short to carry it, or none was asked). */
  scaleApplied: boolean;
  /** The channels the target will see, in order: its SC_NET ids map to these. */
  channels: ChannelDef[];
  removedChannels: ChannelDef[];
}

/** Re-encodes a Connect-Initial with the requested changes; all lengths are recomputed. */
export function rewriteConnectInitial(input: Buffer | ParsedConnectInitial, change: ConnectInitialRewrite): RewrittenConnectInitial {
  const { pdu, ci, layout } = Buffer.isBuffer(input) ? readConnectInitial(input) : input;
  const drop = new Set(change.dropBlockTypes ?? []);
  if (drop.has(CS.CORE)) throw new RangeError('CS_CORE cannot be dropped');
  const keep = ci.channels.map((c, i) => (change.keepChannel ? change.keepChannel(c, i) : true));
  const channels = ci.channels.filter((_, i) => keep[i]);
  const removedChannels = ci.channels.filter((_, i) => !keep[i]);
  const parts: Buffer[] = [];
  let core: Buffer | undefined;
  let scaleApplied = false;
  for (const b of ci.blocks) {
    if (drop.has(b.type)) continue;
    let bytes = Buffer.from(pdu.subarray(b.offset, b.offset + b.length));
    if (b.type === CS.CORE && change.scale && bytes.length >= CORE_PHYSICAL_WIDTH_OFFSET) {
      if (bytes.length < CORE_DISPLAY_FIELDS_END) {
        bytes = Buffer.concat([bytes, Buffer.alloc(CORE_DISPLAY_FIELDS_END - bytes.length)]);
        bytes.writeUInt16LE(bytes.length, 2);
      }
      bytes.writeUInt32LE(change.scale.physicalWidth >>> 0, CORE_PHYSICAL_WIDTH_OFFSET);
      bytes.writeUInt32LE(change.scale.physicalHeight >>> 0, CORE_PHYSICAL_HEIGHT_OFFSET);
      bytes.writeUInt32LE(change.scale.desktopScaleFactor >>> 0, CORE_DESKTOP_SCALE_FACTOR_OFFSET);
      bytes.writeUInt32LE(change.scale.deviceScaleFactor >>> 0, CORE_DEVICE_SCALE_FACTOR_OFFSET);
      scaleApplied = true;
    }
    if (b.type === CS.CORE && change.keyboardLayout !== undefined) bytes.writeUInt32LE(change.keyboardLayout >>> 0, CORE_KEYBOARD_LAYOUT_OFFSET);
    if (b.type === CS.CORE && change.clientBuild !== undefined) bytes.writeUInt32LE(change.clientBuild >>> 0, CORE_CLIENT_BUILD_OFFSET);
    if (b.type === CS.CORE && change.serverSelectedProtocol !== undefined) {
      if (ci.serverSelectedProtocolOffset === undefined) throw new RdpProtocolError('gcc', 'unsupported', 'CS_CORE has no serverSelectedProtocol field to rewrite');
      bytes.writeUInt32LE(change.serverSelectedProtocol >>> 0, CORE_SERVER_SELECTED_PROTOCOL_OFFSET);
    }
    if (b.type === CS.CORE && change.earlyCapabilityFlags && ci.core.earlyCapabilityFlags !== undefined) {
      bytes.writeUInt16LE(change.earlyCapabilityFlags(ci.core.earlyCapabilityFlags) & 0xffff, CORE_EARLY_CAPABILITY_FLAGS_OFFSET);
    }
    if (b.type === CS.CORE && change.desktopSize) {
      bytes.writeUInt16LE(change.desktopSize.width, CORE_DESKTOP_WIDTH_OFFSET);
      bytes.writeUInt16LE(change.desktopSize.height, CORE_DESKTOP_HEIGHT_OFFSET);
    }
    if (b.type === CS.NET && change.keepChannel) {
      const indices = keep.flatMap((k, i) => (k ? [i] : []));
      if (indices.length) parts.push(filterClientNetworkBlock(bytes, indices));
      continue;
    }
    if (b.type === CS.CORE) core = bytes;
    parts.push(bytes);
  }
  const out = tlv(MCS_CONNECT_INITIAL, layout.head, berOctetString(gccEnvelope(layout.gcc.mid, Buffer.concat(parts))));
  return { pdu: out, core: decodeClientCore(core!), scaleApplied, channels, removedChannels };
}

export interface BuildConnectInitial {
  /** Encoded client data blocks (client-data.ts encoders), in order. */
  blocks: Buffer[];
  targetParameters?: DomainParameters;
  minimumParameters?: DomainParameters;
  maximumParameters?: DomainParameters;
}

export function buildConnectInitial(o: BuildConnectInitial): Buffer {
  const head = Buffer.concat([
    berOctetString(Buffer.from([0x01])),
    berOctetString(Buffer.from([0x01])),
    berBoolean(true),
    encodeDomainParameters(o.targetParameters ?? DEFAULT_DOMAIN_PARAMETERS.target),
    encodeDomainParameters(o.minimumParameters ?? DEFAULT_DOMAIN_PARAMETERS.minimum),
    encodeDomainParameters(o.maximumParameters ?? DEFAULT_DOMAIN_PARAMETERS.maximum),
  ]);
  return tlv(MCS_CONNECT_INITIAL, head, berOctetString(gccEnvelope(CREATE_REQUEST_HEAD, Buffer.concat(o.blocks))));
}

// ---- Connect-Response ----

export interface ConnectResponse {
  /** MCS Result; 0 is rt-successful. */
  result: number;
  calledConnectId: number;
  domainParameters: DomainParameters;
  blocks: DataBlock[];
  core?: ServerCoreData;
  security?: ServerSecurityData;
  network?: ServerNetworkData;
  messageChannelId?: number;
  multitransportFlags?: number;
}

interface ConnectResponseLayout {
  head: Buffer;
  gcc?: GccLayout;
}

function parseConnectResponseLayout(pdu: Buffer): { cr: ConnectResponse; layout: ConnectResponseLayout } {
  const r = new ByteReader(pdu, 'mcs');
  const outer = expectTlv(r, MCS_CONNECT_RESPONSE, 'Connect-Response');
  if (r.remaining) throw new RdpProtocolError('mcs', 'malformed', `${r.remaining} bytes after Connect-Response`);
  const ir = inner(pdu, outer);
  const headStart = ir.offset;
  const result = readMcsUint(ir, 'result', TAG.ENUMERATED);
  const calledConnectId = readMcsUint(ir, 'calledConnectId');
  const domainParameters = readDomainParameters(ir, 'domainParameters');
  const head = pdu.subarray(headStart, ir.offset);
  const ud = expectTlv(ir, TAG.OCTET_STRING, 'userData');
  if (ir.remaining) throw new RdpProtocolError('mcs', 'malformed', `${ir.remaining} bytes after userData`);
  const cr: ConnectResponse = { result, calledConnectId, domainParameters, blocks: [] };
  // A refusing server may send no GCC payload at all.
  if (result !== 0 && ud.value.length === 0) return { cr, layout: { head } };
  const gcc = parseGcc(pdu, ud, 'response');
  cr.blocks = splitDataBlocks(pdu, gcc.dataStart, gcc.dataEnd, 'gcc');
  const byType = blockSlices(pdu, cr.blocks);
  const core = byType.get(SC.CORE);
  if (core) cr.core = decodeServerCore(core);
  const sec = byType.get(SC.SECURITY);
  if (sec) cr.security = decodeServerSecurity(sec);
  const net = byType.get(SC.NET);
  if (net) cr.network = decodeServerNetwork(net);
  const msg = byType.get(SC.MCS_MSGCHANNEL);
  if (msg) cr.messageChannelId = decodeServerMessageChannel(msg);
  const mt = byType.get(SC.MULTITRANSPORT);
  if (mt) cr.multitransportFlags = decodeFlagsBlock(mt);
  return { cr, layout: { head, gcc } };
}

/** Parses an MCS Connect-Response (the payload of the server's first X.224 Data TPDU). */
export function parseConnectResponse(pdu: Buffer): ConnectResponse {
  return parseConnectResponseLayout(pdu).cr;
}

export interface ConnectResponseRewrite {
  /** What the client asked the gateway for: clients compare SC_CORE's echo with it. */
  clientRequestedProtocols?: number;
  /** Replaces SC_NET's channel id list (one per channel the client requested). */
  channelIds?: number[];
  dropBlockTypes?: number[];
}

export function rewriteConnectResponse(pdu: Buffer, change: ConnectResponseRewrite): Buffer {
  const { cr, layout } = parseConnectResponseLayout(pdu);
  if (!layout.gcc) throw new RdpProtocolError('mcs', 'unexpected', 'a refused Connect-Response has no data blocks to rewrite');
  const drop = new Set(change.dropBlockTypes ?? []);
  const parts: Buffer[] = [];
  for (const b of cr.blocks) {
    if (drop.has(b.type)) continue;
    const bytes = Buffer.from(pdu.subarray(b.offset, b.offset + b.length));
    if (b.type === SC.CORE && change.clientRequestedProtocols !== undefined && bytes.length >= 12) {
      bytes.writeUInt32LE(change.clientRequestedProtocols >>> 0, 8);
    }
    if (b.type === SC.NET && change.channelIds) {
      parts.push(encodeServerNetwork({ mcsChannelId: cr.network!.mcsChannelId, channelIds: change.channelIds }));
      continue;
    }
    parts.push(bytes);
  }
  return tlv(MCS_CONNECT_RESPONSE, layout.head, berOctetString(gccEnvelope(layout.gcc.mid, Buffer.concat(parts))));
}

export interface BuildConnectResponse {
  blocks: Buffer[];
  result?: number;
  calledConnectId?: number;
  domainParameters?: DomainParameters;
}

export function buildConnectResponse(o: BuildConnectResponse): Buffer {
  const head = Buffer.concat([
    berEnumerated(o.result ?? 0),
    mcsUint(o.calledConnectId ?? 0),
    encodeDomainParameters(o.domainParameters ?? { ...DEFAULT_DOMAIN_PARAMETERS.target, maxUserIds: 3, maxMcsPduSize: 0xfff8 }),
  ]);
  return tlv(MCS_CONNECT_RESPONSE, head, berOctetString(gccEnvelope(CREATE_RESPONSE_HEAD, Buffer.concat(o.blocks))));
}
