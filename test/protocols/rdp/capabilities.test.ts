// The capability exchange as the gateway handles it: the client's Confirm Active PDU is
// restricted so the target only sends what the recording replays (bitmap updates,
// palettes, pointers), with every length kept consistent; the target's Demand Active gives
// the desktop the recording starts from. Real-shaped PDUs: one xfreerdp 2 sent through the
// door, and one built field by field after MS-RDPBCGR 2.2.1.13.2 with the sets mstsc sends.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  bitmapCapability,
  CAPSTYPE,
  DRAW_ALLOW,
  encodeConfirmActive,
  encodeDemandActive,
  isConfirmActive,
  isDemandActive,
  parseConfirmActive,
  parseDemandActive,
  restrictConfirmActive,
  type CapabilitySet,
} from '../../../src/protocols/rdp/pdu/capabilities.js';
import { buildSendData, DOMAIN_PDU, parseSendData } from '../../../src/protocols/rdp/pdu/mcs-domain.js';
import { PDUTYPE } from '../../../src/protocols/rdp/pdu/share.js';
import { buildDataTpdu, parseDataTpdu } from '../../../src/protocols/rdp/pdu/x224.js';
import { fuzz, hex } from './fixtures.js';

/** The Confirm Active xfreerdp 2.x (32 bpp, defaults) sent through the door to freerdp-shadow-cli. */
const XFREERDP_CONFIRM_ACTIVE = hex(`
1d021300f003f0030100ea030800050246524545524450001400000001001800040007000002000000001d0400000000
0000010102001c00200001000100010020035802000001000100000e0100000003005800000000000000000000000000
000000000000000001001400000001000000aa0001010100000000000100010000000000000001000000010000000000
0000000000000400000000000084030000000000e9fd0000130028000200000558020000580200000008000000100000
0008000000000000000000000000000008000a000100140014000d005800290000000904000004000000000000000c00
000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
0000000000000000000000000000000000000f0008000200000010003400fe000400fe000400fe000800fe000800fe00
1000fe002000fe004000fe008000fe00000140000001000100010000000014000c0000000000400600000c0008000100
000009000800000000000e0008000100000005000c0000000000020002000a0008000600000007000c00000000000000
00001b00060003001a00080000c020001c000c0052000000000000001d00490001122f777672bd6344afb3b73c9c6f78
86033100310000000100000025000000c0cb080000000100c1cb1d00000001c0cf020008000001400000010101000140
00000101041e00080002000000`);

// ---- capability sets built field by field (2.2.7) ----

const le = (...fields: [number, 1 | 2 | 4][]): Buffer => {
  const b = Buffer.alloc(fields.reduce((n, [, s]) => n + s, 0));
  let o = 0;
  for (const [v, s] of fields) o = s === 1 ? b.writeUInt8(v, o) : s === 2 ? b.writeUInt16LE(v, o) : b.writeUInt32LE(v >>> 0, o);
  return b;
};
const set = (type: number, body: Buffer): CapabilitySet => ({ type, body });

const general = () => set(CAPSTYPE.GENERAL, le([1, 2], [3, 2], [0x200, 2], [0, 2], [0, 2], [0x041d, 2], [0, 2], [0, 2], [0, 2], [1, 1], [1, 1]));
const bitmap = (drawingFlags: number) =>
  set(CAPSTYPE.BITMAP, le([32, 2], [1, 2], [1, 2], [1, 2], [1280, 2], [1024, 2], [0, 2], [1, 2], [1, 2], [0, 1], [drawingFlags, 1], [1, 2], [0, 2]));
/** TS_ORDER_CAPABILITYSET with mstsc's orderSupport (DstBlt, PatBlt, ScrBlt, MemBlt, Mem3Blt, LineTo, Polyline, glyphs …). */
const order = () => {
  const support = Buffer.alloc(32);
  for (const i of [0, 1, 2, 3, 4, 8, 9, 10, 11, 15, 16, 17, 18, 20, 22, 24, 25, 27]) support[i] = 1;
  return set(CAPSTYPE.ORDER, Buffer.concat([Buffer.alloc(16), le([0, 4], [1, 2], [20, 2], [0, 2], [1, 2], [0, 2], [0x2a, 2]), support, le([0x06a1, 2], [0x0002, 2], [0, 4], [0x38400, 4], [0, 2], [0, 2], [0x4e4, 2], [0, 2])]));
};
const bitmapCacheRev1 = () => set(CAPSTYPE.BITMAPCACHE, Buffer.concat([Buffer.alloc(24), le([200, 2], [256, 2], [600, 2], [1024, 2], [1000, 2], [4096, 2])]));
const bitmapCacheRev2 = () => set(CAPSTYPE.BITMAPCACHE_REV2, Buffer.concat([le([0x0003, 2], [0, 1], [3, 1], [120, 4], [120, 4], [0x80000000 | 2553, 4], [0, 4], [0, 4]), Buffer.alloc(12)]));
const glyph = () => {
  const caches = Buffer.concat(Array.from({ length: 10 }, (_, i) => le([254, 2], [4 << Math.min(i, 6), 2])));
  return set(CAPSTYPE.GLYPHCACHE, Buffer.concat([caches, le([0x01000100, 4], [3, 2], [0, 2])])); // GLYPH_SUPPORT_ENCODE
};

/** A Confirm Active as mstsc 10 shapes it: the source descriptor "MSTSC\0" and its capability sets. */
function mstscConfirmActive(): Buffer {
  const caps: CapabilitySet[] = [
    general(),
    bitmap(DRAW_ALLOW.DYNAMIC_COLOR_FIDELITY | DRAW_ALLOW.COLOR_SUBSAMPLING | DRAW_ALLOW.SKIP_ALPHA),
    order(),
    bitmapCacheRev2(),
    set(CAPSTYPE.COLORCACHE, le([6, 2], [0, 2])),
    set(CAPSTYPE.ACTIVATION, le([0, 2], [0, 2], [0, 2], [0, 2])),
    set(CAPSTYPE.CONTROL, le([0, 2], [0, 2], [2, 2], [2, 2])),
    set(CAPSTYPE.POINTER, le([1, 2], [25, 2], [25, 2])),
    set(CAPSTYPE.SHARE, le([0, 2], [0, 2])),
    set(CAPSTYPE.INPUT, Buffer.concat([le([0x0035, 2], [0, 2], [0x409, 4], [4, 4], [0, 4], [12, 4]), Buffer.alloc(64)])),
    set(CAPSTYPE.SOUND, le([1, 2], [0, 2])),
    set(CAPSTYPE.FONT, le([1, 2], [0, 2])),
    glyph(),
    set(CAPSTYPE.BRUSH, le([2, 4])), // BRUSH_COLOR_FULL
    set(CAPSTYPE.OFFSCREENCACHE, le([1, 4], [7680, 2], [2000, 2])),
    set(CAPSTYPE.VIRTUALCHANNEL, le([1, 4], [1600, 4])),
    set(CAPSTYPE.DRAWNINEGRIDCACHE, le([2, 4], [2560, 2], [256, 2])),
    set(CAPSTYPE.DRAWGDIPLUS, Buffer.concat([le([1, 4], [0x1234, 4], [1, 4]), Buffer.alloc(24)])),
    set(CAPSTYPE.RAIL, le([0x3f, 4])),
    set(CAPSTYPE.WINDOW, le([2, 4], [3, 1], [12, 2])),
    set(CAPSTYPE.COMPDESK, le([1, 2])),
    set(CAPSTYPE.MULTIFRAGMENTUPDATE, le([0x60000, 4])),
    set(CAPSTYPE.LARGE_POINTER, le([3, 2])),
    set(CAPSTYPE.SURFACE_COMMANDS, le([0x52, 4], [0, 4])),
    // Two codecs: NSCodec and RemoteFX, each GUID + id + properties length + properties.
    set(CAPSTYPE.BITMAP_CODECS, Buffer.concat([Buffer.from([2]), hex('b9 1b 8d ca 0f 00 4f 15 58 9f ae 2d 1a 87 e2 d6'), Buffer.from([1]), le([3, 2]), Buffer.from([1, 1, 3]), hex('12 2f 77 76 72 bd 63 44 af b3 b7 3c 9c 6f 78 86'), Buffer.from([3]), le([4, 2]), le([0x100, 4])])),
    set(CAPSTYPE.FRAME_ACKNOWLEDGE, le([2, 4])),
    set(CAPSTYPE.BITMAPCACHE, bitmapCacheRev1().body),
  ];
  return encodeConfirmActive({ pduTypeField: 0x10 | PDUTYPE.CONFIRMACTIVE, pduSource: 1007, shareId: 0x103ea, originatorId: 0x3ea, sourceDescriptor: Buffer.from('MSTSC\0', 'latin1'), capabilities: caps, trailer: Buffer.alloc(0) });
}

/** Checks every length field of a Confirm Active against the bytes, independently of the parser. */
function assertLengths(pdu: Buffer): void {
  assert.equal(pdu.readUInt16LE(0), pdu.length, 'totalLength');
  const lengthSource = pdu.readUInt16LE(12);
  const lengthCombined = pdu.readUInt16LE(14);
  assert.equal(16 + lengthSource + lengthCombined, pdu.length, 'lengthSourceDescriptor + lengthCombinedCapabilities');
  let o = 16 + lengthSource;
  const count = pdu.readUInt16LE(o);
  o += 4;
  for (let i = 0; i < count; i++) o += pdu.readUInt16LE(o + 2);
  assert.equal(o, pdu.length, 'numberCapabilities sets fill lengthCombinedCapabilities');
}

const body = (pdu: Buffer, type: number) => parseConfirmActive(pdu).capabilities.find((c) => c.type === type)?.body;
const allZero = (b: Buffer) => b.every((x) => x === 0);

describe('Confirm Active restriction', () => {
  it('reads and writes back the xfreerdp Confirm Active byte for byte', () => {
    assert.ok(isConfirmActive(XFREERDP_CONFIRM_ACTIVE));
    assert.ok(!isDemandActive(XFREERDP_CONFIRM_ACTIVE));
    assertLengths(XFREERDP_CONFIRM_ACTIVE);
    const ca = parseConfirmActive(XFREERDP_CONFIRM_ACTIVE);
    assert.equal(ca.capabilities.length, 20);
    assert.equal(ca.sourceDescriptor.toString('latin1'), 'FREERDP\0');
    assert.equal(ca.originatorId, 0x3ea);
    assert.deepEqual(encodeConfirmActive(ca), XFREERDP_CONFIRM_ACTIVE);
  });

  it('xfreerdp: no orders, codecs, surface commands, caches of orders, large pointers or frame acknowledgement; the rest untouched', () => {
    const { data, removed } = restrictConfirmActive(XFREERDP_CONFIRM_ACTIVE);
    assertLengths(data);
    assert.deepEqual(removed.sort(), ['bitmap cache rev2', 'bitmap lossy planar', 'bitmap codecs', 'brush cache', 'drawing orders', 'frame acknowledge', 'large pointer', 'surface commands'].sort());
    const before = parseConfirmActive(XFREERDP_CONFIRM_ACTIVE);
    const after = parseConfirmActive(data);
    assert.equal(after.shareId, before.shareId);
    assert.equal(after.pduSource, before.pduSource);
    assert.equal(after.pduTypeField, before.pduTypeField);
    assert.deepEqual(after.sourceDescriptor, before.sourceDescriptor);
    assert.equal(after.capabilities.length, 19);
    assert.equal(data.readUInt16LE(16 + 8), 19, 'numberCapabilities');
    assert.ok(allZero(body(data, CAPSTYPE.ORDER)!.subarray(32, 64)), 'orderSupport');
    assert.equal(body(data, CAPSTYPE.ORDER)!.readUInt16LE(66), 0, 'orderSupportExFlags');
    assert.deepEqual(body(data, CAPSTYPE.BITMAP_CODECS), Buffer.from([0]));
    assert.equal(body(data, CAPSTYPE.SURFACE_COMMANDS)!.readUInt32LE(0), 0);
    assert.equal(body(data, CAPSTYPE.FRAME_ACKNOWLEDGE), undefined);
    assert.equal(body(data, CAPSTYPE.LARGE_POINTER)!.readUInt16LE(0), 0);
    assert.equal(body(data, CAPSTYPE.BITMAPCACHE_REV2)!.readUInt8(3), 0, 'NumCellCaches');
    assert.equal(body(data, CAPSTYPE.BRUSH)!.readUInt32LE(0), 0);
    const bmp = bitmapCapability(after.capabilities)!;
    assert.equal(bmp.drawingFlags & (DRAW_ALLOW.DYNAMIC_COLOR_FIDELITY | DRAW_ALLOW.COLOR_SUBSAMPLING), 0);
    assert.equal(bmp.drawingFlags & DRAW_ALLOW.SKIP_ALPHA, DRAW_ALLOW.SKIP_ALPHA);
    assert.equal(bmp.bitmapCompressionFlag, 1, 'compressed bitmaps (interleaved, planar) stay');
    for (const t of [CAPSTYPE.GENERAL, CAPSTYPE.POINTER, CAPSTYPE.INPUT, CAPSTYPE.VIRTUALCHANNEL, CAPSTYPE.SOUND, CAPSTYPE.SHARE, CAPSTYPE.FONT, CAPSTYPE.CONTROL, CAPSTYPE.COLORCACHE, CAPSTYPE.ACTIVATION, CAPSTYPE.MULTIFRAGMENTUPDATE, CAPSTYPE.GLYPHCACHE]) {
      assert.deepEqual(body(data, t), body(XFREERDP_CONFIRM_ACTIVE, t), `capability set 0x${t.toString(16)} unchanged`);
    }
    // Restricting twice changes nothing more.
    const again = restrictConfirmActive(data);
    assert.deepEqual(again.removed, []);
    assert.equal(again.data, data);
  });

  it('mstsc-shaped: every order-only cache and level is off, the lossless bitmap path stays', () => {
    const pdu = mstscConfirmActive();
    assertLengths(pdu);
    const { data, removed } = restrictConfirmActive(pdu);
    assertLengths(data);
    for (const r of ['drawing orders', 'bitmap cache', 'bitmap cache rev2', 'glyph cache', 'brush cache', 'offscreen cache', 'draw nine grid', 'GDI+ orders', 'RAIL', 'window orders', 'large pointer', 'surface commands', 'bitmap codecs', 'frame acknowledge', 'bitmap lossy planar']) {
      assert.ok(removed.includes(r), `${r} in ${removed.join(', ')}`);
    }
    assert.ok(allZero(body(data, CAPSTYPE.ORDER)!.subarray(32, 64)));
    assert.equal(body(data, CAPSTYPE.ORDER)!.readUInt16LE(30), 0x2a, 'orderFlags stay');
    assert.ok(allZero(body(data, CAPSTYPE.BITMAPCACHE)!.subarray(24, 36)));
    const rev2 = body(data, CAPSTYPE.BITMAPCACHE_REV2)!;
    assert.ok(allZero(rev2.subarray(0, 24)));
    assert.equal(body(data, CAPSTYPE.GLYPHCACHE)!.readUInt16LE(44), 0, 'GLYPH_SUPPORT_NONE');
    assert.ok(allZero(body(data, CAPSTYPE.OFFSCREENCACHE)!));
    assert.ok(allZero(body(data, CAPSTYPE.DRAWNINEGRIDCACHE)!));
    const gdip = body(data, CAPSTYPE.DRAWGDIPLUS)!;
    assert.equal(gdip.readUInt32LE(0), 0);
    assert.equal(gdip.readUInt32LE(4), 0x1234, 'GdipVersion stays');
    assert.equal(gdip.readUInt32LE(8), 0);
    assert.equal(body(data, CAPSTYPE.RAIL)!.readUInt32LE(0), 0);
    assert.equal(body(data, CAPSTYPE.WINDOW)!.readUInt32LE(0), 0);
    assert.deepEqual(body(data, CAPSTYPE.BITMAP_CODECS), Buffer.from([0]));
    assert.equal(body(data, CAPSTYPE.FRAME_ACKNOWLEDGE), undefined);
    const bmp = bitmapCapability(parseConfirmActive(data).capabilities)!;
    assert.deepEqual([bmp.desktopWidth, bmp.desktopHeight, bmp.preferredBitsPerPixel, bmp.drawingFlags], [1280, 1024, 32, DRAW_ALLOW.SKIP_ALPHA]);
    assert.deepEqual(body(data, CAPSTYPE.INPUT), body(pdu, CAPSTYPE.INPUT));
    assert.deepEqual(body(data, CAPSTYPE.VIRTUALCHANNEL), body(pdu, CAPSTYPE.VIRTUALCHANNEL));
  });

  it('what the target receives: the rewritten Send Data Request and TPKT carry consistent lengths', () => {
    const original = buildDataTpdu(buildSendData({ type: DOMAIN_PDU.SEND_DATA_REQUEST, initiator: 1007, channelId: 1003, flags: 0x70, data: XFREERDP_CONFIRM_ACTIVE }));
    const sd = parseSendData(parseDataTpdu(original))!;
    const { data } = restrictConfirmActive(sd.data);
    const rewritten = buildDataTpdu(buildSendData({ ...sd, data }));
    assert.equal(rewritten.readUInt16BE(2), rewritten.length, 'TPKT length');
    const back = parseSendData(parseDataTpdu(rewritten))!;
    assert.equal(back.channelId, 1003);
    assert.equal(back.initiator, 1007);
    assert.deepEqual(back.data, data);
    assert.ok(data.length < XFREERDP_CONFIRM_ACTIVE.length, 'codecs and the frame acknowledge set are gone');
  });

  it('refuses inconsistent lengths with a typed error', () => {
    const bad = Buffer.from(XFREERDP_CONFIRM_ACTIVE);
    bad.writeUInt16LE(bad.readUInt16LE(14) + 4, 14); // lengthCombinedCapabilities past the end
    assert.throws(() => restrictConfirmActive(bad), { name: 'RdpProtocolError' });
    const count = Buffer.from(XFREERDP_CONFIRM_ACTIVE);
    count.writeUInt16LE(21, 16 + 8); // one set more than present
    assert.throws(() => restrictConfirmActive(count), { name: 'RdpProtocolError' });
    const total = Buffer.from(XFREERDP_CONFIRM_ACTIVE);
    total.writeUInt16LE(total.length - 1, 0);
    assert.throws(() => parseConfirmActive(total), { name: 'RdpProtocolError' });
  });

  it('mutated Confirm and Demand Active PDUs only ever raise RdpProtocolError', () => {
    const demand = xrdpDemandActive();
    fuzz([XFREERDP_CONFIRM_ACTIVE, mstscConfirmActive()], (b) => restrictConfirmActive(b));
    fuzz([demand], (b) => bitmapCapability(parseDemandActive(b).capabilities), { runs: 2000 });
  });
});

/** A Demand Active shaped like xrdp's (2.2.1.13.1): source "RDP", a handful of sets, sessionId. */
function xrdpDemandActive(): Buffer {
  return encodeDemandActive({
    pduTypeField: 0x10 | PDUTYPE.DEMANDACTIVE,
    pduSource: 1002,
    shareId: 0x103ea,
    sourceDescriptor: Buffer.from('RDP\0', 'latin1'),
    capabilities: [
      general(),
      set(CAPSTYPE.BITMAP, le([24, 2], [1, 2], [1, 2], [1, 2], [1920, 2], [1080, 2], [0, 2], [1, 2], [1, 2], [0, 1], [0, 1], [1, 2], [0, 2])),
      order(),
      set(CAPSTYPE.POINTER, le([1, 2], [25, 2], [25, 2])),
      set(CAPSTYPE.INPUT, Buffer.concat([le([0x0035, 2], [0, 2]), Buffer.alloc(80)])),
    ],
    sessionId: 0,
  });
}

describe('Demand Active', () => {
  it('gives the desktop size and depth the recording starts from', () => {
    const pdu = xrdpDemandActive();
    assert.ok(isDemandActive(pdu));
    assert.ok(!isConfirmActive(pdu));
    const d = parseDemandActive(pdu);
    assert.equal(d.shareId, 0x103ea);
    assert.equal(d.sessionId, 0);
    assert.equal(d.capabilities.length, 5);
    const bmp = bitmapCapability(d.capabilities)!;
    assert.deepEqual([bmp.desktopWidth, bmp.desktopHeight, bmp.preferredBitsPerPixel], [1920, 1080, 24]);
    assert.deepEqual(encodeDemandActive(d), pdu);
  });

  it('a Flow PDU or a short payload is neither', () => {
    assert.ok(!isDemandActive(Buffer.from([0x00, 0x80, 0x41, 0x00, 0, 0, 0, 0])));
    assert.ok(!isConfirmActive(Buffer.from([0x06, 0x00, 0x13])));
    assert.equal(bitmapCapability([]), undefined);
  });
});
