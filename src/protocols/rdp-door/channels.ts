// Enforces a launcher's redirection policy on the static virtual channels. The .rdp file
// only asks the client not to redirect; a client can ignore it, so the relay passes every
// static channel Send Data through here:
//   clipboard denied          → everything on "cliprdr" is dropped both ways (the client
//                               never hears the server's Monitor Ready: no clipboard);
//   drives and printers denied → everything on "rdpdr" is dropped both ways (this also ends
//                               smart card and port redirection, which share the channel);
//   one of the two denied     → the client's Device List Announces (the first one and any
//                               later additions) lose the denied devices, re-chunked when
//                               they change; the target's Device I/O Requests for a removed
//                               device are dropped (a client such as FreeRDP would serve a
//                               device it announced nowhere if asked by id).
// Other channels pass byte for byte. Channel data the gateway must read but cannot (a
// malformed or compressed chunk sequence) throws RdpProtocolError: the relay drops the
// connection rather than let a device through.
import { RdpProtocolError } from '../rdp/errors.js';
import { buildDeviceListAnnounce, ioRequestDeviceId, isDeviceIoRequest, isDeviceListAnnounce, parseDeviceListAnnounce, RDPDR_DTYP, RDPDR_HEADER_LENGTH, rdpdrHeader } from '../rdp/pdu/rdpdr.js';
import { CHANNEL_FLAG, CHANNEL_PDU_HEADER_LENGTH, chunkMessage, parseChannelChunk } from '../rdp/pdu/vchannel.js';
import type { RedirectionPolicy } from '../../core/broker.js';

/** true = allowed. From the launcher's options (rdpRedirection in core/door-rules.ts, taken through the broker). */
export type { RedirectionPolicy };

export type Redirection = 'clipboard' | 'drives' | 'printers';

/** What the relay notes (handle.note('rdp_channel_denied', denial)). */
export type ChannelDenial =
  | { action: 'channel_dropped'; channel: string; denied: Redirection[]; from: 'client' | 'target' }
  | { action: 'device_removed'; channel: string; denied: Redirection; device: { id: number; type: number; name: string } }
  | { action: 'io_request_dropped'; channel: string; deviceId: number };

/** A Device List Announce is held until complete; more than this is not a device list. */
const MAX_HELD_MESSAGE = 1 << 20;
/** Device removals noted per connection (a client could announce thousands). */
const MAX_DEVICE_NOTES = 32;
/** Removed device ids remembered per connection; no real client comes near it. */
const MAX_REMOVED_DEVICES = 4096;

type Rule = 'pass' | 'drop' | 'devices';
type Mode = 'pass' | 'drop' | 'hold';

/** One direction of one channel: where the current chunked message stands. */
interface Stream {
  open: boolean;
  mode: Mode;
  total: number;
  received: number;
  flags: number;
  held: Buffer[];
}

const newStream = (): Stream => ({ open: false, mode: 'pass', total: 0, received: 0, flags: 0, held: [] });

export class ChannelPolicy {
  private readonly rules: Rule[];
  private readonly names: string[];
  private readonly byId = new Map<number, number>();
  private readonly streams = new Map<string, Stream>();
  private readonly noted = new Set<string>();
  private readonly removedDevices = new Set<number>();
  private deviceNotes = 0;

  /**
   * @param channels the static channels of the Connect Initial as sent to the target
   *   (rewriteConnectInitial's `channels`), in order.
   * @param onDeny called once per channel for a dropped channel, once per removed
   *   device, once per channel for dropped I/O requests.
   */
  constructor(
    readonly policy: RedirectionPolicy,
    channels: readonly { name: string }[],
    private readonly onDeny: (d: ChannelDenial) => void = () => {},
  ) {
    this.names = channels.map((c) => c.name.toLowerCase());
    this.rules = this.names.map((n) => {
      if (n === 'cliprdr') return policy.clipboard ? 'pass' : 'drop';
      if (n === 'rdpdr') return policy.drives && policy.printers ? 'pass' : !policy.drives && !policy.printers ? 'drop' : 'devices';
      return 'pass';
    });
  }

  /** Whether anything is denied on the channels this client asked for (else the relay may skip this class). */
  get enforcing(): boolean {
    return this.rules.some((r) => r !== 'pass');
  }

  /** What this connection enforces, for the session notes: the channels dropped whole and those filtered by device. */
  get summary(): { dropped: string[]; filtered: string[] } {
    const of = (rule: Rule) => [...new Set(this.names.filter((_, i) => this.rules[i] === rule))];
    return { dropped: of('drop'), filtered: of('devices') };
  }

  /** The server's SC_NET channel ids, one per requested channel in the same order. */
  assignIds(channelIds: readonly number[]): void {
    if (channelIds.length !== this.names.length) {
      throw new RdpProtocolError('gcc', 'malformed', `SC_NET assigns ${channelIds.length} channel ids for ${this.names.length} requested channels`);
    }
    this.byId.clear();
    channelIds.forEach((id, i) => {
      // A second channel on the same id gets the stricter rule.
      const prev = this.byId.get(id);
      if (prev === undefined || this.rules[i] !== 'pass') this.byId.set(id, i);
    });
  }

  /** A client Send Data Request's user data on `channelId`: the channel PDUs to forward instead (none = dropped). */
  fromClient(channelId: number, pdu: Buffer): Buffer[] {
    return this.filter(channelId, pdu, 'client');
  }

  /** A target Send Data Indication's user data on `channelId`: the channel PDUs to forward instead. */
  fromTarget(channelId: number, pdu: Buffer): Buffer[] {
    return this.filter(channelId, pdu, 'target');
  }

  private filter(channelId: number, pdu: Buffer, from: 'client' | 'target'): Buffer[] {
    const i = this.byId.get(channelId);
    if (i === undefined) return [pdu];
    const rule = this.rules[i]!;
    const name = this.names[i]!;
    if (rule === 'pass') return [pdu];
    if (rule === 'drop') {
      this.once(`drop:${name}`, () => ({ action: 'channel_dropped', channel: name, denied: name === 'cliprdr' ? ['clipboard'] : ['drives', 'printers'], from }));
      return [];
    }
    const stream = this.stream(`${i}:${from}`);
    return from === 'client'
      ? this.reassemble(stream, pdu, (head, whole) => this.decideClient(head, whole), (msg) => this.filterAnnounce(name, msg))
      : this.reassemble(stream, pdu, (head, whole) => this.decideTarget(name, head, whole), (msg) => (this.decideTarget(name, msg, true) === 'drop' ? null : msg));
  }

  private stream(key: string): Stream {
    let s = this.streams.get(key);
    if (!s) this.streams.set(key, (s = newStream()));
    return s;
  }

  /**
   * Follows one direction's chunk sequence. `decide` sees the first chunk's data (`whole`
   * when that is the entire message) and picks pass, drop or hold; a held message goes
   * to `finish` when complete, which returns it unchanged (the original chunks are
   * forwarded), a replacement (re-chunked) or null (dropped).
   */
  private reassemble(s: Stream, pdu: Buffer, decide: (head: Buffer, whole: boolean) => Mode, finish: (msg: Buffer) => Buffer | null): Buffer[] {
    const c = parseChannelChunk(pdu);
    const first = (c.flags & CHANNEL_FLAG.FIRST) !== 0;
    const last = (c.flags & CHANNEL_FLAG.LAST) !== 0;
    // A bare control PDU (SUSPEND/RESUME) between messages carries nothing to judge.
    if (!first && !last && !s.open && c.data.length === 0) return [pdu];
    if (c.flags & CHANNEL_FLAG.PACKET_COMPRESSED) throw new RdpProtocolError('vchannel', 'unsupported', 'compressed data on a channel the redirection policy must read');
    if (first) {
      if (s.open) throw new RdpProtocolError('vchannel', 'malformed', 'a FIRST chunk inside an unfinished message');
      Object.assign(s, { open: true, total: c.length, received: 0, flags: c.flags, held: [] });
    } else if (!s.open) throw new RdpProtocolError('vchannel', 'malformed', 'a continuation chunk without a FIRST chunk');
    s.received += c.data.length;
    if (s.received > s.total) throw new RdpProtocolError('vchannel', 'malformed', `chunks carry more than the announced ${s.total} bytes`);
    if (last && s.received !== s.total) throw new RdpProtocolError('vchannel', 'malformed', `message of ${s.received} bytes announced as ${s.total}`);
    if (first) {
      s.mode = decide(c.data, last);
      if (s.mode === 'hold' && s.total > MAX_HELD_MESSAGE) throw new RdpProtocolError('vchannel', 'too_large', `a ${s.total}-byte message to inspect`);
    }
    let out: Buffer[];
    if (s.mode === 'pass') out = [pdu];
    else if (s.mode === 'drop') out = [];
    else {
      // Copies: the frame buffers underneath are not ours to keep.
      s.held.push(Buffer.from(pdu));
      out = [];
      if (last) {
        const msg = Buffer.concat(s.held.map((h) => h.subarray(CHANNEL_PDU_HEADER_LENGTH)));
        const result = finish(msg);
        out = result === null ? [] : result === msg ? s.held : chunkMessage(result, s.flags);
      }
    }
    if (last) Object.assign(s, { open: false, held: [] });
    return out;
  }

  private decideClient(head: Buffer, whole: boolean): Mode {
    if (head.length < RDPDR_HEADER_LENGTH) {
      if (whole) rdpdrHeader(head); // throws: too short for any rdpdr message
      return 'hold';
    }
    return isDeviceListAnnounce(rdpdrHeader(head)) ? 'hold' : 'pass';
  }

  private decideTarget(name: string, head: Buffer, whole: boolean): Mode {
    if (head.length < RDPDR_HEADER_LENGTH + 4) {
      if (!whole) return 'hold';
      // A complete message this short: anything but an I/O request passes.
      if (!isDeviceIoRequest(rdpdrHeader(head))) return 'pass';
    }
    const h = rdpdrHeader(head);
    if (!isDeviceIoRequest(h)) return 'pass';
    const deviceId = ioRequestDeviceId(head);
    if (!this.removedDevices.has(deviceId)) return 'pass';
    this.once(`io:${name}`, () => ({ action: 'io_request_dropped', channel: name, deviceId }));
    return 'drop';
  }

  private allowed(type: number): Redirection | null {
    if (type === RDPDR_DTYP.FILESYSTEM && !this.policy.drives) return 'drives';
    if (type === RDPDR_DTYP.PRINT && !this.policy.printers) return 'printers';
    return null;
  }

  /** A complete client rdpdr message: a Device List Announce loses the denied devices. */
  private filterAnnounce(name: string, msg: Buffer): Buffer {
    if (!isDeviceListAnnounce(rdpdrHeader(msg))) return msg;
    const devices = parseDeviceListAnnounce(msg);
    const keep = devices.filter((d) => {
      const denied = this.allowed(d.type);
      if (!denied) {
        this.removedDevices.delete(d.id);
        return true;
      }
      this.removedDevices.add(d.id);
      if (this.removedDevices.size > MAX_REMOVED_DEVICES) throw new RdpProtocolError('rdpdr', 'too_large', `more than ${MAX_REMOVED_DEVICES} denied devices announced`);
      if (this.deviceNotes < MAX_DEVICE_NOTES && !this.noted.has(`dev:${d.id}`)) {
        this.deviceNotes++;
        this.once(`dev:${d.id}`, () => ({ action: 'device_removed', channel: name, denied, device: { id: d.id, type: d.type, name: d.dosName } }));
      }
      return false;
    });
    return keep.length === devices.length ? msg : buildDeviceListAnnounce(keep);
  }

  private once(key: string, make: () => ChannelDenial): void {
    if (this.noted.has(key)) return;
    this.noted.add(key);
    this.onDeny(make());
  }
}
