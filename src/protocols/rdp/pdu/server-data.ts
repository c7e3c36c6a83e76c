// Server data blocks carried in the GCC Conference Create Response (MS-RDPBCGR 2.2.1.4).
// The gateway reads them to learn the channel ids the target assigned, and rewrites
// SC_CORE/SC_NET so the client sees answers consistent with what it asked the gateway.
import { RdpProtocolError, type RdpLayer } from '../errors.js';
import { ByteReader } from '../encoding/reader.js';
import { blockHeader } from './client-data.js';

export const SC = {
  CORE: 0x0c01,
  SECURITY: 0x0c02,
  NET: 0x0c03,
  MCS_MSGCHANNEL: 0x0c04,
  MULTITRANSPORT: 0x0c08,
} as const;

export interface ServerCoreData {
  version: number;
  /** Echo of the client's requestedProtocols; clients check it against what they sent. */
  clientRequestedProtocols?: number;
  earlyCapabilityFlags?: number;
}

export function decodeServerCore(block: Buffer, layer: RdpLayer = 'gcc'): ServerCoreData {
  const r = new ByteReader(block, layer, 4);
  const core: ServerCoreData = { version: r.u32le('SC_CORE version') };
  if (r.remaining >= 4) core.clientRequestedProtocols = r.u32le();
  if (r.remaining >= 4) core.earlyCapabilityFlags = r.u32le();
  return core;
}

export function encodeServerCore(core: ServerCoreData): Buffer {
  const fields = [core.version];
  if (core.clientRequestedProtocols !== undefined || core.earlyCapabilityFlags !== undefined) fields.push(core.clientRequestedProtocols ?? 0);
  if (core.earlyCapabilityFlags !== undefined) fields.push(core.earlyCapabilityFlags);
  const body = Buffer.alloc(4 * fields.length);
  fields.forEach((v, i) => body.writeUInt32LE(v >>> 0, 4 * i));
  return Buffer.concat([blockHeader(SC.CORE, body.length), body]);
}

export interface ServerNetworkData {
  /** The I/O channel. */
  mcsChannelId: number;
  /** One id per CS_NET channel, in the client's order. */
  channelIds: number[];
}

export function decodeServerNetwork(block: Buffer, layer: RdpLayer = 'gcc'): ServerNetworkData {
  const r = new ByteReader(block, layer, 4);
  const mcsChannelId = r.u16le('MCSChannelId');
  const count = r.u16le('channelCount');
  if (count * 2 > r.remaining) throw new RdpProtocolError(layer, 'truncated', `SC_NET announces ${count} channels in ${r.remaining} bytes`);
  const channelIds: number[] = [];
  for (let i = 0; i < count; i++) channelIds.push(r.u16le('channel id'));
  return { mcsChannelId, channelIds };
}

export function encodeServerNetwork(net: ServerNetworkData): Buffer {
  const n = net.channelIds.length;
  // An odd count is followed by two pad bytes, keeping the block a multiple of four.
  const body = Buffer.alloc(4 + 2 * n + (n % 2 ? 2 : 0));
  body.writeUInt16LE(net.mcsChannelId, 0);
  body.writeUInt16LE(n, 2);
  net.channelIds.forEach((id, i) => body.writeUInt16LE(id, 4 + 2 * i));
  return Buffer.concat([blockHeader(SC.NET, body.length), body]);
}

export interface ServerSecurityData {
  encryptionMethod: number;
  encryptionLevel: number;
  /** Only with Standard RDP Security (both fields above non-zero). */
  serverRandom?: Buffer;
  serverCertificate?: Buffer;
}

export function decodeServerSecurity(block: Buffer, layer: RdpLayer = 'gcc'): ServerSecurityData {
  const r = new ByteReader(block, layer, 4);
  const s: ServerSecurityData = { encryptionMethod: r.u32le('encryptionMethod'), encryptionLevel: r.u32le('encryptionLevel') };
  if (r.remaining >= 8) {
    const randomLen = r.u32le('serverRandomLen');
    const certLen = r.u32le('serverCertLen');
    s.serverRandom = r.bytes(randomLen, 'serverRandom');
    s.serverCertificate = r.bytes(certLen, 'serverCertificate');
  }
  return s;
}

export function encodeServerSecurity(s: ServerSecurityData): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(s.encryptionMethod, 0);
  head.writeUInt32LE(s.encryptionLevel, 4);
  const parts: Buffer[] = [head];
  if (s.serverRandom || s.serverCertificate) {
    const lens = Buffer.alloc(8);
    lens.writeUInt32LE(s.serverRandom?.length ?? 0, 0);
    lens.writeUInt32LE(s.serverCertificate?.length ?? 0, 4);
    parts.push(lens, s.serverRandom ?? Buffer.alloc(0), s.serverCertificate ?? Buffer.alloc(0));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([blockHeader(SC.SECURITY, body.length), body]);
}

export function decodeServerMessageChannel(block: Buffer, layer: RdpLayer = 'gcc'): number {
  return new ByteReader(block, layer, 4).u16le('MCSChannelID');
}
