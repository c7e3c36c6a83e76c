// The redirection policy on static virtual channels: whole channels dropped, Device List
// Announces rewritten (chunked and not), I/O requests for removed devices dropped, and
// malformed chunk sequences refused with a typed error. PDUs are built per MS-RDPBCGR
// 2.2.6.1 (CHANNEL_PDU_HEADER), MS-RDPECLIP 2.2 (cliprdr) and MS-RDPEFS 2.2 (rdpdr).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelPolicy, type ChannelDenial, type RedirectionPolicy } from '../../../src/protocols/rdp-door/channels.js';
import { RdpProtocolError } from '../../../src/protocols/rdp/errors.js';
import { buildDeviceListAnnounce, encodeDeviceAnnounce, PAKID, parseDeviceListAnnounce, RDPDR_CTYP, RDPDR_DTYP } from '../../../src/protocols/rdp/pdu/rdpdr.js';
import { CHANNEL_CHUNK_LENGTH, CHANNEL_FLAG, chunkMessage, parseChannelChunk } from '../../../src/protocols/rdp/pdu/vchannel.js';
import { fuzz } from './fixtures.js';

const { FIRST, LAST, SHOW_PROTOCOL } = CHANNEL_FLAG;
// Channel ids as xrdp and Windows hand them out: 1003 is the I/O channel, then one per channel.
const CHANNELS = [{ name: 'rdpdr' }, { name: 'rdpsnd' }, { name: 'cliprdr' }, { name: 'drdynvc' }];
const IDS = { rdpdr: 1004, rdpsnd: 1005, cliprdr: 1006, drdynvc: 1007 };
const ALLOW: RedirectionPolicy = { clipboard: true, drives: true, printers: true };

function make(policy: Partial<RedirectionPolicy>) {
  const notes: ChannelDenial[] = [];
  const p = new ChannelPolicy({ ...ALLOW, ...policy }, CHANNELS, (d) => notes.push(d));
  p.assignIds([IDS.rdpdr, IDS.rdpsnd, IDS.cliprdr, IDS.drdynvc]);
  return { p, notes };
}

/** One unchunked channel PDU: header (length, FIRST|LAST) + message. */
const whole = (msg: Buffer, extra = 0) => chunkMessage(msg, extra, 1 << 20)[0]!;

/** The message the chunks carry, checking the chunk sequence on the way. */
function reassemble(pdus: Buffer[], chunk = CHANNEL_CHUNK_LENGTH): Buffer {
  const parts = pdus.map(parseChannelChunk);
  parts.forEach((c, i) => {
    assert.equal(!!(c.flags & FIRST), i === 0, `FIRST on chunk ${i}`);
    assert.equal(!!(c.flags & LAST), i === parts.length - 1, `LAST on chunk ${i}`);
    assert.ok(c.data.length <= chunk, `chunk ${i} of ${c.data.length} bytes`);
  });
  const msg = Buffer.concat(parts.map((c) => c.data));
  for (const c of parts) assert.equal(c.length, msg.length, 'every chunk announces the total length');
  return msg;
}

// ---- cliprdr (MS-RDPECLIP 2.2.1 CLIPRDR_HEADER: msgType, msgFlags, dataLen) ----
function cliprdr(msgType: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(msgType, 0);
  h.writeUInt16LE(0, 2);
  h.writeUInt32LE(body.length, 4);
  return Buffer.concat([h, body]);
}
const CB_MONITOR_READY = 0x0001;
const CB_FORMAT_LIST = 0x0002;
const CB_CLIP_CAPS = 0x0007;
// General capability set: type 1, length 12, version 2, flags CB_USE_LONG_FORMAT_NAMES.
const clipCaps = () => cliprdr(CB_CLIP_CAPS, Buffer.from('0100000001000c000200000002000000', 'hex'));

// ---- rdpdr ----
const drive = (id: number, name: string, full = `/home/person/${name}`) => encodeDeviceAnnounce({ type: RDPDR_DTYP.FILESYSTEM, id, dosName: name, data: Buffer.from(`${full}\0`, 'utf8') });
function printer(id: number, name: string, driver = 'MS Publisher Imagesetter'): Buffer {
  // DR_PRN_DEVICE_ANNOUNCE DeviceData: Flags, CodePage, PnPNameLen, DriverNameLen, PrintNameLen, CachedFieldsLen, then the UTF-16 strings.
  const u16 = (s: string) => Buffer.from(`${s}\0`, 'utf16le');
  const drv = u16(driver);
  const prn = u16(name);
  const f = Buffer.alloc(24);
  f.writeUInt32LE(0x02, 0); // RDPDR_PRINTER_ANNOUNCE_FLAG_DEFAULTPRINTER
  f.writeUInt32LE(drv.length, 12);
  f.writeUInt32LE(prn.length, 16);
  return encodeDeviceAnnounce({ type: RDPDR_DTYP.PRINT, id, dosName: `PRN${id}`, data: Buffer.concat([f, drv, prn]) });
}
const smartcard = (id: number) => encodeDeviceAnnounce({ type: RDPDR_DTYP.SMARTCARD, id, dosName: 'SCARD' });
const announce = (...devices: Buffer[]) => buildDeviceListAnnounce(devices.map((raw) => ({ raw })));

function rdpdrMsg(packetId: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16LE(RDPDR_CTYP.CORE, 0);
  h.writeUInt16LE(packetId, 2);
  return Buffer.concat([h, body]);
}
/** DR_DEVICE_IOREQUEST: DeviceId, FileId, CompletionId, MajorFunction, MinorFunction, then the request. */
function ioRequest(deviceId: number, major = 0 /* IRP_MJ_CREATE */, extra = Buffer.alloc(32)): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32LE(deviceId, 0);
  b.writeUInt32LE(0, 4);
  b.writeUInt32LE(7, 8);
  b.writeUInt32LE(major, 12);
  return rdpdrMsg(PAKID.CORE_DEVICE_IOREQUEST, Buffer.concat([b, extra]));
}
const serverAnnounce = () => rdpdrMsg(PAKID.CORE_SERVER_ANNOUNCE, Buffer.from('01000c0002000000', 'hex'));
const clientName = () => rdpdrMsg(PAKID.CORE_CLIENT_NAME, Buffer.concat([Buffer.from('0000000000000000', 'hex'), Buffer.from('0c000000', 'hex'), Buffer.from('WS-PERSON\0\0\0', 'latin1')]));

const devicesOf = (msg: Buffer) => parseDeviceListAnnounce(msg).map((d) => `${d.type}:${d.id}:${d.dosName}`);

describe('redirection policy on static channels', () => {
  it('passes everything byte for byte when all is allowed', () => {
    const { p, notes } = make({});
    assert.equal(p.enforcing, false);
    for (const [id, pdu] of [
      [IDS.cliprdr, whole(clipCaps())],
      [IDS.rdpdr, whole(announce(drive(1, 'C'), printer(2, 'Office')))],
      [IDS.rdpsnd, whole(Buffer.from('0700040000000000', 'hex'))],
      [1003, Buffer.from('not a channel pdu')],
    ] as const) {
      assert.deepEqual(p.fromClient(id, pdu), [pdu]);
      assert.deepEqual(p.fromTarget(id, pdu), [pdu]);
    }
    assert.deepEqual(notes, []);
  });

  it('clipboard denied: drops cliprdr both ways (Monitor Ready never arrives), notes it once', () => {
    const { p, notes } = make({ clipboard: false });
    assert.equal(p.enforcing, true);
    assert.deepEqual(p.fromTarget(IDS.cliprdr, whole(clipCaps(), SHOW_PROTOCOL)), []);
    assert.deepEqual(p.fromTarget(IDS.cliprdr, whole(cliprdr(CB_MONITOR_READY), SHOW_PROTOCOL)), []);
    assert.deepEqual(p.fromClient(IDS.cliprdr, whole(cliprdr(CB_FORMAT_LIST, Buffer.alloc(40)))), []);
    // Chunked and even nonsense data: dropped without being read.
    for (const c of chunkMessage(cliprdr(CB_FORMAT_LIST, Buffer.alloc(5000)), 0)) assert.deepEqual(p.fromClient(IDS.cliprdr, c), []);
    assert.deepEqual(p.fromClient(IDS.cliprdr, Buffer.from([1, 2, 3])), []);
    assert.deepEqual(notes, [{ action: 'channel_dropped', channel: 'cliprdr', denied: ['clipboard'], from: 'target' }]);
    // Drives and other channels are untouched.
    const a = whole(announce(drive(1, 'C')));
    assert.deepEqual(p.fromClient(IDS.rdpdr, a), [a]);
  });

  it('drives and printers denied: drops rdpdr both ways', () => {
    const { p, notes } = make({ drives: false, printers: false });
    assert.deepEqual(p.fromTarget(IDS.rdpdr, whole(serverAnnounce())), []);
    assert.deepEqual(p.fromClient(IDS.rdpdr, whole(clientName())), []);
    assert.deepEqual(p.fromClient(IDS.rdpdr, whole(announce(smartcard(3)))), []);
    assert.deepEqual(notes, [{ action: 'channel_dropped', channel: 'rdpdr', denied: ['drives', 'printers'], from: 'target' }]);
    const clip = whole(clipCaps());
    assert.deepEqual(p.fromTarget(IDS.cliprdr, clip), [clip]);
  });

  it('matches channel names case-insensitively and follows the SC_NET ids, not the names', () => {
    const notes: ChannelDenial[] = [];
    const p = new ChannelPolicy({ ...ALLOW, clipboard: false }, [{ name: 'CLIPRDR' }, { name: 'rdpsnd' }], (d) => notes.push(d));
    assert.deepEqual(p.fromClient(1004, whole(clipCaps())), [whole(clipCaps())], 'no ids yet: nothing is known');
    p.assignIds([1010, 1004]);
    assert.deepEqual(p.fromClient(1010, whole(clipCaps())), []);
    const snd = whole(Buffer.from('0700040000000000', 'hex'));
    assert.deepEqual(p.fromClient(1004, snd), [snd]);
    assert.throws(() => p.assignIds([1010]), (e: unknown) => e instanceof RdpProtocolError && e.layer === 'gcc');
  });

  it('drives denied: removes drives from an unchunked Device List Announce, keeps printers and smart cards', () => {
    const { p, notes } = make({ drives: false });
    const msg = announce(drive(1, 'C'), printer(2, 'Office'), drive(3, 'HOME'), smartcard(4));
    const out = p.fromClient(IDS.rdpdr, whole(msg, SHOW_PROTOCOL));
    const got = reassemble(out);
    assert.deepEqual(devicesOf(got), [`4:2:PRN2`, `32:4:SCARD`]);
    assert.ok(out.every((c) => parseChannelChunk(c).flags & SHOW_PROTOCOL), 'SHOW_PROTOCOL kept');
    assert.deepEqual(notes, [
      { action: 'device_removed', channel: 'rdpdr', denied: 'drives', device: { id: 1, type: RDPDR_DTYP.FILESYSTEM, name: 'C' } },
      { action: 'device_removed', channel: 'rdpdr', denied: 'drives', device: { id: 3, type: RDPDR_DTYP.FILESYSTEM, name: 'HOME' } },
    ]);
    // The rest of rdpdr passes unread.
    for (const m of [serverAnnounce(), clientName()]) {
      const pdu = whole(m);
      assert.deepEqual(p.fromClient(IDS.rdpdr, pdu), [pdu]);
      assert.deepEqual(p.fromTarget(IDS.rdpdr, pdu), [pdu]);
    }
  });

  it('printers denied: rewrites a chunked Device List Announce and re-chunks it at 1600 bytes with the right flags', () => {
    const { p, notes } = make({ printers: false });
    // Long printer entries make the message span several chunks, as with real driver names.
    const msg = announce(printer(1, 'A'.repeat(900)), drive(2, 'C'), printer(3, 'B'.repeat(900)), drive(4, 'D', `/mnt/${'d'.repeat(1500)}`));
    assert.ok(msg.length > 3 * CHANNEL_CHUNK_LENGTH);
    const inChunks = chunkMessage(msg, SHOW_PROTOCOL, CHANNEL_CHUNK_LENGTH);
    const out: Buffer[] = [];
    inChunks.forEach((c, i) => {
      const r = p.fromClient(IDS.rdpdr, c);
      // Held until the LAST chunk.
      if (i < inChunks.length - 1) assert.deepEqual(r, []);
      out.push(...r);
    });
    const got = reassemble(out);
    assert.deepEqual(devicesOf(got), ['8:2:C', '8:4:D']);
    assert.deepEqual(got, announce(drive(2, 'C'), drive(4, 'D', `/mnt/${'d'.repeat(1500)}`)));
    assert.equal(out.length, Math.ceil(got.length / CHANNEL_CHUNK_LENGTH));
    assert.ok(out.every((c) => parseChannelChunk(c).flags & SHOW_PROTOCOL));
    assert.deepEqual(
      notes.map((n) => n.action === 'device_removed' && n.device.id),
      [1, 3],
    );
  });

  it('re-chunks a client that used larger chunks, and forwards an unchanged held message as it came', () => {
    const { p } = make({ printers: false });
    const msg = announce(drive(2, 'C', `/${'x'.repeat(4000)}`), printer(5, 'P'));
    const big = chunkMessage(msg, 0, 4096); // a negotiated VCChunkSize above 1600
    const out = big.flatMap((c) => p.fromClient(IDS.rdpdr, c));
    assert.deepEqual(devicesOf(reassemble(out)), ['8:2:C']);
    // Only drives: nothing to remove, the client's own chunks go through untouched.
    const only = chunkMessage(announce(drive(7, 'E', `/${'y'.repeat(2000)}`)), 0, 4096);
    assert.deepEqual(only.flatMap((c) => p.fromClient(IDS.rdpdr, c)), only);
  });

  it('holds a message whose first chunk is too short to tell, then judges the whole', () => {
    const { p } = make({ drives: false });
    const msg = announce(drive(1, 'C'), smartcard(2));
    const chunks = chunkMessage(msg, 0, 3);
    const out = chunks.flatMap((c) => p.fromClient(IDS.rdpdr, c));
    assert.deepEqual(devicesOf(reassemble(out)), ['32:2:SCARD']);
    // Same for a non-announce: passes as it came.
    const name = chunkMessage(clientName(), 0, 2);
    assert.deepEqual(name.flatMap((c) => p.fromClient(IDS.rdpdr, c)), name);
  });

  it('filters later Device List Announces (hot-plugged devices) too; an announce left empty still goes', () => {
    const { p, notes } = make({ drives: false });
    const out = p.fromClient(IDS.rdpdr, whole(announce(drive(9, 'USB'))));
    assert.deepEqual(devicesOf(reassemble(out)), []);
    const empty = whole(announce());
    assert.deepEqual(p.fromClient(IDS.rdpdr, empty), [empty]);
    assert.equal(notes.length, 1);
    // Announcing the same id again is not noted twice.
    p.fromClient(IDS.rdpdr, whole(announce(drive(9, 'USB'))));
    assert.equal(notes.length, 1);
  });

  it("drops the target's I/O requests for a removed device (chunked too), passes the others", () => {
    const { p, notes } = make({ drives: false });
    p.fromClient(IDS.rdpdr, whole(announce(drive(1, 'C'), printer(2, 'Office'))));
    const denied = whole(ioRequest(1));
    assert.deepEqual(p.fromTarget(IDS.rdpdr, denied), []);
    const allowed = whole(ioRequest(2));
    assert.deepEqual(p.fromTarget(IDS.rdpdr, allowed), [allowed]);
    // A write to the removed drive, 5000 bytes over several chunks: every chunk dropped.
    const write = chunkMessage(ioRequest(1, 4 /* IRP_MJ_WRITE */, Buffer.alloc(5000, 0x41)), 0);
    assert.ok(write.length > 1);
    for (const c of write) assert.deepEqual(p.fromTarget(IDS.rdpdr, c), []);
    // …and the stream is in step afterwards.
    assert.deepEqual(p.fromTarget(IDS.rdpdr, allowed), [allowed]);
    // A first chunk too short to name the device is held, then judged.
    const tiny = chunkMessage(ioRequest(1), 0, 5);
    assert.deepEqual(tiny.flatMap((c) => p.fromTarget(IDS.rdpdr, c)), []);
    const tinyOk = chunkMessage(ioRequest(2), 0, 5);
    assert.deepEqual(tinyOk.flatMap((c) => p.fromTarget(IDS.rdpdr, c)), tinyOk);
    assert.deepEqual(
      notes.filter((n) => n.action === 'io_request_dropped'),
      [{ action: 'io_request_dropped', channel: 'rdpdr', deviceId: 1 }],
    );
  });

  it('passes a bare SUSPEND/RESUME control PDU between messages', () => {
    const { p } = make({ printers: false });
    const ctl = Buffer.alloc(8);
    ctl.writeUInt32LE(CHANNEL_FLAG.SUSPEND, 4);
    assert.deepEqual(p.fromTarget(IDS.rdpdr, ctl), [ctl]);
  });

  it('refuses malformed channel data on a channel it must read', () => {
    const isErr = (layer: string) => (e: unknown) => e instanceof RdpProtocolError && e.layer === layer;
    const fresh = () => make({ drives: false }).p;
    const msg = announce(drive(1, 'C'), printer(2, 'P'.repeat(1000)), printer(3, 'Q'.repeat(1000)));
    const chunks = chunkMessage(msg, 0);
    assert.ok(chunks.length >= 3);
    // Shorter than a channel header.
    assert.throws(() => fresh().fromClient(IDS.rdpdr, Buffer.from([1, 0, 0])), isErr('vchannel'));
    // A continuation without FIRST.
    assert.throws(() => fresh().fromClient(IDS.rdpdr, chunks[1]!), isErr('vchannel'));
    // FIRST twice.
    {
      const p = fresh();
      p.fromClient(IDS.rdpdr, chunks[0]!);
      assert.throws(() => p.fromClient(IDS.rdpdr, chunks[0]!), isErr('vchannel'));
    }
    // LAST before the announced length is reached.
    {
      const p = fresh();
      p.fromClient(IDS.rdpdr, chunks[0]!);
      assert.throws(() => p.fromClient(IDS.rdpdr, chunks[chunks.length - 1]!), isErr('vchannel'));
    }
    // More data than announced.
    {
      const c = Buffer.from(whole(announce(drive(1, 'C'))));
      c.writeUInt32LE(10, 0);
      assert.throws(() => fresh().fromClient(IDS.rdpdr, c), isErr('vchannel'));
    }
    // Compressed data cannot be judged.
    assert.throws(() => fresh().fromClient(IDS.rdpdr, whole(msg, CHANNEL_FLAG.PACKET_COMPRESSED)), isErr('vchannel'));
    // A device count the message cannot hold, a device running past the end, trailing bytes.
    {
      const lie = Buffer.from(announce(drive(1, 'C')));
      lie.writeUInt32LE(1000, 4);
      assert.throws(() => fresh().fromClient(IDS.rdpdr, whole(lie)), isErr('rdpdr'));
      const cut = announce(drive(1, 'C')).subarray(0, 30);
      assert.throws(() => fresh().fromClient(IDS.rdpdr, whole(cut)), isErr('rdpdr'));
      assert.throws(() => fresh().fromClient(IDS.rdpdr, whole(Buffer.concat([announce(drive(1, 'C')), Buffer.from([0])]))), isErr('rdpdr'));
    }
    // Too short for an rdpdr header, or an I/O request without its device id.
    assert.throws(() => fresh().fromClient(IDS.rdpdr, whole(Buffer.from([0x72, 0x44]))), isErr('rdpdr'));
    assert.throws(() => fresh().fromTarget(IDS.rdpdr, whole(rdpdrMsg(PAKID.CORE_DEVICE_IOREQUEST, Buffer.from([1, 0])))), isErr('rdpdr'));
    // More denied devices than any client has.
    {
      const many = announce(...Array.from({ length: 4097 }, (_, i) => encodeDeviceAnnounce({ type: RDPDR_DTYP.FILESYSTEM, id: i, dosName: 'X' })));
      const p = fresh();
      assert.throws(() => chunkMessage(many, 0).forEach((c) => p.fromClient(IDS.rdpdr, c)), (e: unknown) => e instanceof RdpProtocolError && e.reason === 'too_large');
    }
    // A message too big to be a device list.
    {
      const h = Buffer.from(chunkMessage(announce(drive(1, 'C')), 0)[0]!);
      h.writeUInt32LE(2 << 20, 0);
      h.writeUInt32LE(FIRST, 4);
      assert.throws(() => fresh().fromClient(IDS.rdpdr, h), (e: unknown) => e instanceof RdpProtocolError && e.reason === 'too_large');
    }
  });

  it('real traffic (xfreerdp 2.11 and xrdp 0.9 through the door): judged as the policy says', () => {
    // Channel PDUs as captured on the decrypted client leg; cliprdr carries SHOW_PROTOCOL (0x13).
    const client = {
      cliprdr: ['180000001300000007000000100000000100000001000c00020000000e000000', '08000000130000000500020000000000'],
      rdpdr: [
        '0c000000030000007244434301000c00d7f7100e', // Client Announce Reply
        '180000000300000072444e4301000000000000000800000076006d0000000000', // Client Name
        '5400000003000000724450430500000001002c0002000000000000000000000001000c00ffff000000000000070000000100000000000000000000000200080001000000030008000100000004000800020000000500080001000000', // Client Capabilities
        '08000000030000007244414400000000', // Device List Announce before logon: no devices
      ],
    };
    const target = {
      cliprdr: ['0c00000003000000010000000000000000000000' /* Monitor Ready */, '1c0000000300000007000000100000000100000001000c00020000000e00000000000000'],
      rdpdr: ['0c0000000300000072446e4901000c00d7f7100e', '040000000300000072444c55', '0c000000030000007244434301000c00d7f7100e'],
    };
    const run = (policy: Partial<RedirectionPolicy>) => {
      const { p, notes } = make(policy);
      const passed: string[] = [];
      for (const [dir, set] of [['client', client], ['target', target]] as const) {
        for (const name of ['cliprdr', 'rdpdr'] as const) {
          for (const h of set[name]) {
            const out = dir === 'client' ? p.fromClient(IDS[name], Buffer.from(h, 'hex')) : p.fromTarget(IDS[name], Buffer.from(h, 'hex'));
            if (out.length) {
              assert.deepEqual(out, [Buffer.from(h, 'hex')], 'passed byte for byte');
              passed.push(`${dir}:${name}`);
            }
          }
        }
      }
      return { passed: [...new Set(passed)].sort(), notes };
    };
    assert.deepEqual(run({}).passed, ['client:cliprdr', 'client:rdpdr', 'target:cliprdr', 'target:rdpdr']);
    assert.deepEqual(run({ clipboard: false }).passed, ['client:rdpdr', 'target:rdpdr']);
    const drivesOnly = run({ drives: false });
    assert.deepEqual(drivesOnly.passed, ['client:cliprdr', 'client:rdpdr', 'target:cliprdr', 'target:rdpdr']);
    assert.deepEqual(drivesOnly.notes, []);
    assert.deepEqual(run({ drives: false, printers: false, clipboard: false }).passed, []);
  });

  it('survives mutated input with typed errors only', () => {
    const msg = announce(drive(1, 'C'), printer(2, 'Office'), smartcard(3));
    const seeds = [whole(msg), ...chunkMessage(msg, 0, 40), whole(ioRequest(1)), whole(serverAnnounce())];
    for (const policy of [{ drives: false }, { printers: false }]) {
      // One policy object across inputs, as on a connection (device 1 or 2 already removed);
      // a throw ends a connection, so the next input starts over.
      const fresh = () => {
        const { p } = make(policy);
        p.fromClient(IDS.rdpdr, whole(announce(drive(1, 'C'), printer(2, 'Office'))));
        return p;
      };
      let cur = fresh();
      fuzz(seeds, (input) => {
        try {
          for (const c of [...cur.fromClient(IDS.rdpdr, input), ...cur.fromTarget(IDS.rdpdr, input)]) parseChannelChunk(c);
        } catch (e) {
          cur = fresh();
          throw e;
        }
      });
    }
  });

  it('chunkMessage splits at the chunk size with FIRST/LAST and the other flags on every chunk', () => {
    const out = chunkMessage(Buffer.alloc(3201, 7), SHOW_PROTOCOL | FIRST);
    assert.deepEqual(
      out.map((c) => [parseChannelChunk(c).data.length, parseChannelChunk(c).flags, parseChannelChunk(c).length]),
      [
        [1600, FIRST | SHOW_PROTOCOL, 3201],
        [1600, SHOW_PROTOCOL, 3201],
        [1, LAST | SHOW_PROTOCOL, 3201],
      ],
    );
    assert.deepEqual(
      chunkMessage(Buffer.alloc(0), 0).map((c) => parseChannelChunk(c).flags),
      [FIRST | LAST],
    );
  });
});
