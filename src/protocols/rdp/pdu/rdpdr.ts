// The parts of device redirection (MS-RDPEFS, the "rdpdr" static channel) the gateway
// reads to enforce a launcher's drive and printer policy: the client's Device List
// Announce (which devices the server may use) and the server's Device I/O Requests (which
// device each request is for). Everything else on the channel passes unread.
import { RdpProtocolError } from '../errors.js';
import { ByteReader } from '../encoding/reader.js';

export const RDPDR_CTYP = { CORE: 0x4472, PRN: 0x5052 } as const;

export const PAKID = {
  CORE_SERVER_ANNOUNCE: 0x496e,
  CORE_CLIENTID_CONFIRM: 0x4343,
  CORE_CLIENT_NAME: 0x434e,
  CORE_DEVICELIST_ANNOUNCE: 0x4441,
  CORE_DEVICE_REPLY: 0x6472,
  CORE_DEVICE_IOREQUEST: 0x4952,
  CORE_DEVICE_IOCOMPLETION: 0x4943,
  CORE_SERVER_CAPABILITY: 0x5350,
  CORE_CLIENT_CAPABILITY: 0x4350,
  CORE_DEVICELIST_REMOVE: 0x444d,
  CORE_USER_LOGGEDON: 0x554c,
} as const;

export const RDPDR_DTYP = { SERIAL: 0x01, PARALLEL: 0x02, PRINT: 0x04, FILESYSTEM: 0x08, SMARTCARD: 0x20 } as const;

export const RDPDR_HEADER_LENGTH = 4;
/** DeviceType, DeviceId, PreferredDosName[8], DeviceDataLength. */
const DEVICE_ANNOUNCE_FIXED = 20;

export interface RdpdrHeader {
  component: number;
  packetId: number;
}

/** The RDPDR_HEADER at the start of a message (or of its first chunk). */
export function rdpdrHeader(msg: Buffer): RdpdrHeader {
  if (msg.length < RDPDR_HEADER_LENGTH) throw new RdpProtocolError('rdpdr', 'truncated', `${msg.length}-byte rdpdr message`);
  return { component: msg.readUInt16LE(0), packetId: msg.readUInt16LE(2) };
}

export const isDeviceListAnnounce = (h: RdpdrHeader): boolean => h.component === RDPDR_CTYP.CORE && h.packetId === PAKID.CORE_DEVICELIST_ANNOUNCE;
export const isDeviceIoRequest = (h: RdpdrHeader): boolean => h.component === RDPDR_CTYP.CORE && h.packetId === PAKID.CORE_DEVICE_IOREQUEST;

export interface AnnouncedDevice {
  type: number;
  id: number;
  /** PreferredDosName: up to 8 ASCII characters ("C", "PRN1" …), for the notes. */
  dosName: string;
  /** The whole DEVICE_ANNOUNCE entry, as sent. */
  raw: Buffer;
}

/** The devices of a Device List Announce (the whole, reassembled message). */
export function parseDeviceListAnnounce(msg: Buffer): AnnouncedDevice[] {
  const r = new ByteReader(msg, 'rdpdr');
  const h = { component: r.u16le('Component'), packetId: r.u16le('PacketId') };
  if (!isDeviceListAnnounce(h)) throw new RdpProtocolError('rdpdr', 'unexpected', `not a Device List Announce (0x${h.component.toString(16)}/0x${h.packetId.toString(16)})`);
  const count = r.u32le('DeviceCount');
  // Each entry has a 20-byte fixed part: a count the message cannot hold is a lie.
  if (count * DEVICE_ANNOUNCE_FIXED > r.remaining) throw new RdpProtocolError('rdpdr', 'truncated', `DeviceCount ${count} in ${r.remaining} bytes`);
  const devices: AnnouncedDevice[] = [];
  for (let i = 0; i < count; i++) {
    const start = r.offset;
    const type = r.u32le('DeviceType');
    const id = r.u32le('DeviceId');
    const name = r.bytes(8, 'PreferredDosName');
    r.skip(r.u32le('DeviceDataLength'), 'DeviceData');
    devices.push({ type, id, dosName: dosName(name), raw: msg.subarray(start, r.offset) });
  }
  if (r.remaining) throw new RdpProtocolError('rdpdr', 'malformed', `${r.remaining} bytes after ${count} announced devices`);
  return devices;
}

/** Builds a Device List Announce from DEVICE_ANNOUNCE entries (as parsed). */
export function buildDeviceListAnnounce(devices: { raw: Buffer }[]): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16LE(RDPDR_CTYP.CORE, 0);
  head.writeUInt16LE(PAKID.CORE_DEVICELIST_ANNOUNCE, 2);
  head.writeUInt32LE(devices.length, 4);
  return Buffer.concat([head, ...devices.map((d) => d.raw)]);
}

/** One DEVICE_ANNOUNCE entry (tests and tools). */
export function encodeDeviceAnnounce(d: { type: number; id: number; dosName: string; data?: Buffer }): Buffer {
  if (!/^[\x20-\x7e]{0,8}$/.test(d.dosName)) throw new RangeError(`PreferredDosName ${JSON.stringify(d.dosName)}`);
  const data = d.data ?? Buffer.alloc(0);
  const b = Buffer.alloc(DEVICE_ANNOUNCE_FIXED + data.length);
  b.writeUInt32LE(d.type >>> 0, 0);
  b.writeUInt32LE(d.id >>> 0, 4);
  b.write(d.dosName, 8, 'latin1');
  b.writeUInt32LE(data.length, 16);
  data.copy(b, DEVICE_ANNOUNCE_FIXED);
  return b;
}

/** The DeviceId of a Device I/O Request, from its first bytes. */
export function ioRequestDeviceId(msg: Buffer): number {
  if (msg.length < RDPDR_HEADER_LENGTH + 4) throw new RdpProtocolError('rdpdr', 'truncated', `${msg.length}-byte Device I/O Request`);
  return msg.readUInt32LE(RDPDR_HEADER_LENGTH);
}

/** Printable ASCII up to the first NUL; anything else becomes "?" (the name ends up in notes). */
function dosName(b: Buffer): string {
  const nul = b.indexOf(0);
  return Array.from(b.subarray(0, nul < 0 ? b.length : nul), (c) => (c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?')).join('');
}
