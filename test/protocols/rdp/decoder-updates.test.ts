// The RDP recording decoder above the codecs: fast-path PDUs (both length forms, several
// updates per PDU, fragments reassembled across records), slow-path Update and Pointer
// PDUs, palette, pointer shapes and position, client mouse input, desktop resizes and
// keyframes, what is skipped and counted (orders, surface commands, bulk compression,
// encryption, stray fragments), and playback: renderAt, frames, composeFrame, and opening
// files that are not RDP recordings.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeGhrecHeader, encodeGhrecRecord, GHREC_MARKER } from '../../../src/core/sessions/ghrec.js';
import { composeFrame, frames, openRdpRecording, RdpRecordingError, RdpScreen, renderAt } from '../../../src/protocols/rdp/recording/decoder/index.js';
import { encodeDesktop, encodeInputEvents, INPUT_KIND, RDPREC } from '../../../src/protocols/rdp/recording/records.js';
import {
  bitmapUpdate,
  bytes,
  concat,
  fastPathPdu,
  fragmentedPdus,
  ghrecFile,
  le16,
  le32,
  paletteUpdate,
  pixel,
  recordingHeader,
  rows,
  slowPathPdu,
  slowPointerPdu,
  type RectSpec,
} from './decoder-support.js';

const fp = (payload: Uint8Array, time = 0) => ({ type: RDPREC.FASTPATH_OUTPUT, time, payload });
const sp = (payload: Uint8Array, time = 0) => ({ type: RDPREC.SLOWPATH_OUTPUT, time, payload });
const desktop = (w: number, h: number, bpp = 32, time = 0) => ({ type: RDPREC.DESKTOP, time, payload: encodeDesktop(w, h, bpp) });
const warnings = (s: RdpScreen) => Object.fromEntries(s.warnings);

/** An uncompressed 32 bpp rectangle of one colour. */
function solid(left: number, top: number, width: number, height: number, [r, g, b]: number[]): RectSpec {
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) data.set([b!, g!, r!, 0], i * 4);
  return { left, top, width, height, bpp: 32, data };
}

const RED = [255, 0, 0];
const GREEN = [0, 255, 0];
const BLUE = [0, 0, 255];
const WHITE = [255, 255, 255];
const BLACK = [0, 0, 0];

describe('fast-path output', () => {
  it('a bitmap update in a short PDU (1-byte length) and a long one (2-byte length)', () => {
    const s = new RdpScreen(32, 8);
    const small = fastPathPdu([{ code: 1, data: bitmapUpdate([solid(0, 0, 2, 1, RED)]) }]);
    assert.equal(small[1]! & 0x80, 0);
    assert.equal(s.apply(fp(small)), true);
    const big = fastPathPdu([{ code: 1, data: bitmapUpdate([solid(0, 1, 32, 2, GREEN)]) }]);
    assert.equal(big[1]! & 0x80, 0x80);
    assert.equal(s.apply(fp(big)), true);
    assert.deepEqual(rows(s, 0, 0, 3, 2), [
      [RED, RED, BLACK],
      [GREEN, GREEN, GREEN],
    ]);
    assert.deepEqual(warnings(s), {});
  });

  it('several updates in one PDU, and two PDUs in one record', () => {
    const s = new RdpScreen(4, 4);
    const pdu1 = fastPathPdu([
      { code: 3, data: new Uint8Array(0) }, // synchronize
      { code: 1, data: bitmapUpdate([solid(0, 0, 1, 1, RED)]) },
      { code: 1, data: bitmapUpdate([solid(1, 0, 1, 1, GREEN), solid(2, 0, 1, 1, BLUE)]) },
    ]);
    const pdu2 = fastPathPdu([{ code: 1, data: bitmapUpdate([solid(3, 0, 1, 1, WHITE)]) }]);
    assert.equal(s.apply(fp(concat([pdu1, pdu2]))), true);
    assert.deepEqual(rows(s, 0, 0, 4, 1), [[RED, GREEN, BLUE, WHITE]]);
    assert.deepEqual(warnings(s), {});
  });

  it('a fragmented update is reassembled across records (FIRST, NEXT…, LAST)', () => {
    const update = bitmapUpdate([solid(0, 0, 20, 10, BLUE), solid(5, 5, 3, 3, RED)]);
    const pdus = fragmentedPdus(1, update, 97);
    assert.ok(pdus.length >= 4);
    const s = new RdpScreen(20, 10);
    pdus.forEach((p, i) => assert.equal(s.apply(fp(p)), i === pdus.length - 1, `drawn only at the last fragment (${i})`));
    assert.deepEqual(pixel(s, 0, 0), [0, 0, 255, 255]);
    assert.deepEqual(pixel(s, 6, 6), [255, 0, 0, 255]);
    assert.deepEqual(pixel(s, 19, 9), [0, 0, 255, 255]);
    assert.deepEqual(warnings(s), {});
  });

  it('fragments out of order, or of different updates mixed, are dropped and counted', () => {
    const s = new RdpScreen(20, 10);
    const pdus = fragmentedPdus(1, bitmapUpdate([solid(0, 0, 20, 10, BLUE)]), 200);
    assert.equal(s.apply(fp(pdus[1]!)), false, 'NEXT without FIRST');
    assert.equal(s.apply(fp(pdus[pdus.length - 1]!)), false, 'LAST without FIRST');
    s.apply(fp(pdus[0]!));
    assert.equal(s.apply(fp(fastPathPdu([{ code: 2, data: new Uint8Array(4), frag: 1 }]))), false, 'LAST of another update');
    assert.deepEqual(pixel(s, 0, 0), [0, 0, 0, 255]);
    assert.equal(s.warnings.get('fragment'), 3);
    // A FIRST while another is open drops the old one and starts over.
    s.apply(fp(pdus[0]!));
    for (const p of pdus) s.apply(fp(p));
    assert.deepEqual(pixel(s, 0, 0), [0, 0, 255, 255]);
    assert.equal(s.warnings.get('fragment'), 4);
  });

  it('bulk compression, orders, surface commands, unknown updates and encrypted PDUs are skipped and counted', () => {
    const s = new RdpScreen(4, 4);
    const draw = bitmapUpdate([solid(0, 0, 1, 1, RED)]);
    assert.equal(s.apply(fp(fastPathPdu([{ code: 1, data: draw, compressionFlags: 0x21 }]))), false);
    // compressionFlags present but without PACKET_COMPRESSED: plain data.
    assert.equal(s.apply(fp(fastPathPdu([{ code: 1, data: bitmapUpdate([solid(1, 0, 1, 1, GREEN)]), compressionFlags: 0x80 }]))), true);
    const frags = fragmentedPdus(1, draw, 10);
    s.apply(fp(fastPathPdu([{ code: 1, data: frags[0]!.subarray(5), frag: 2, compressionFlags: 0x20 }])));
    for (const f of frags.slice(1)) s.apply(fp(f));
    s.apply(fp(fastPathPdu([{ code: 0, data: bytes(1, 0, 0x01, 0x02) }])));
    s.apply(fp(fastPathPdu([{ code: 4, data: bytes(1, 0, 0, 0) }])));
    s.apply(fp(fastPathPdu([{ code: 0xf, data: bytes() }])));
    s.apply(fp(fastPathPdu([{ code: 1, data: draw }], 0x2)));
    assert.deepEqual(warnings(s), { 'bulk-compressed': 2, orders: 1, 'surface-commands': 1, 'unknown-update': 1, encrypted: 1 });
    assert.deepEqual(pixel(s, 0, 0), [0, 0, 0, 255], 'nothing compressed or encrypted was drawn');
    assert.deepEqual(pixel(s, 1, 0), [0, 255, 0, 255]);
  });

  it('malformed PDUs: a length beyond the record, an update larger than its PDU, a TPKT', () => {
    const s = new RdpScreen(4, 4);
    const good = fastPathPdu([{ code: 1, data: bitmapUpdate([solid(0, 0, 1, 1, RED)]) }]);
    assert.equal(s.apply(fp(good.subarray(0, good.length - 1))), false);
    const lying = Uint8Array.from(good);
    lying[3] = 0xff; // size of the update
    assert.equal(s.apply(fp(lying)), false);
    assert.equal(s.apply(fp(bytes(0x03, 0x00, 0x00, 0x08, 2, 0xf0, 0x80, 0))), false);
    assert.deepEqual(warnings(s), { 'bad-fastpath': 3 });
  });
});

describe('slow-path output', () => {
  it('an Update PDU with bitmap data, and a palette for 8 bpp', () => {
    const s = new RdpScreen(4, 2, 8);
    assert.equal(s.apply(sp(slowPathPdu(0x02, bitmapUpdate([solid(0, 0, 2, 2, GREEN)])))), true);
    assert.equal(s.apply(sp(slowPathPdu(0x02, paletteUpdate([[1, 2, 3], [40, 50, 60]])))), false, 'a palette changes no pixels by itself');
    assert.equal(s.apply(sp(slowPathPdu(0x02, bitmapUpdate([{ left: 2, top: 0, width: 2, height: 1, bpp: 8, data: bytes(1, 0, 0, 0) }])))), true);
    assert.deepEqual(rows(s, 0, 0, 4, 1), [[GREEN, GREEN, [40, 50, 60], [1, 2, 3]]]);
    assert.deepEqual(warnings(s), {});
  });

  it('synchronize, other Data PDUs, other PDU types and flow PDUs are ignored quietly', () => {
    const s = new RdpScreen(4, 2);
    assert.equal(s.apply(sp(slowPathPdu(0x02, bytes(le16(3), le16(0))))), false);
    assert.equal(s.apply(sp(slowPathPdu(0x1f, bytes(le16(1), le16(0x3ea))))), false);
    assert.equal(s.apply(sp(bytes(le16(6), le16(0x16), le16(0x3ea)))), false, 'deactivate all');
    assert.equal(s.apply(sp(bytes(le16(0x8000), 0x42, 0, 0, 0, 0, 0))), false, 'flow PDU');
    assert.deepEqual(warnings(s), {});
  });

  it('compressed, truncated and order-carrying PDUs are counted', () => {
    const s = new RdpScreen(4, 2);
    const pdu = slowPathPdu(0x02, bitmapUpdate([solid(0, 0, 1, 1, RED)]));
    s.apply(sp(slowPathPdu(0x02, bitmapUpdate([solid(0, 0, 1, 1, RED)]), 0x21)));
    s.apply(sp(pdu.subarray(0, pdu.length - 3)));
    s.apply(sp(slowPathPdu(0x02, bytes(le16(0), le16(0), le16(1), le16(0)))));
    s.apply(sp(bytes(1, 2)));
    assert.deepEqual(warnings(s), { 'bulk-compressed': 1, 'bad-slowpath': 2, orders: 1 });
    assert.deepEqual(pixel(s, 0, 0), [0, 0, 0, 255]);
  });
});

/** A TS_POINTERATTRIBUTE body (after xorBpp) of a 32 bpp pointer: width × height of one colour, AND mask all clear. */
function pointer32(cacheIndex: number, w: number, h: number, hot: [number, number], [r, g, b]: number[], alpha = 255): Uint8Array {
  const xor = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) xor.set([b!, g!, r!, alpha], i * 4);
  const andRow = Math.ceil(w / 8) + (Math.ceil(w / 8) & 1);
  const and = new Uint8Array(andRow * h);
  return concat([bytes(le16(cacheIndex), le16(hot[0]), le16(hot[1]), le16(w), le16(h), le16(and.length), le16(xor.length)), xor, and]);
}

describe('pointer and input', () => {
  it('server pointer position (fast and slow path) and client mouse input set the cursor; pixels do not change', () => {
    const s = new RdpScreen(100, 100);
    assert.equal(s.cursor, null);
    assert.equal(s.apply(fp(fastPathPdu([{ code: 8, data: bytes(le16(10), le16(20)) }]))), false);
    assert.deepEqual(s.cursor, { x: 10, y: 20 });
    s.apply(sp(slowPointerPdu(3, bytes(le16(30), le16(40)))));
    assert.deepEqual(s.cursor, { x: 30, y: 40 });
    const input = encodeInputEvents([
      { kind: INPUT_KIND.SCANCODE, flags: 0, a: 0x1e, b: 0 },
      { kind: INPUT_KIND.MOUSE, flags: 0x0800, a: 50, b: 60 },
    ]);
    assert.equal(s.apply({ type: RDPREC.INPUT, time: 0, payload: input }), false);
    assert.deepEqual(s.cursor, { x: 50, y: 60 });
    s.apply({ type: RDPREC.INPUT, time: 0, payload: encodeInputEvents([{ kind: INPUT_KIND.MOUSE_RELATIVE, flags: 0, a: -5 & 0xffff, b: 7 }]) });
    assert.deepEqual(s.cursor, { x: 45, y: 67 });
    assert.deepEqual(warnings(s), {});
  });

  it('pointer shapes: new (32 bpp with alpha), cached, hidden, default; drawn only by composeFrame', () => {
    const s = new RdpScreen(20, 20);
    s.apply(fp(fastPathPdu([{ code: 8, data: bytes(le16(10), le16(10)) }])));
    s.apply(fp(fastPathPdu([{ code: 0xb, data: concat([bytes(le16(32)), pointer32(3, 4, 4, [1, 1], RED)]) }])));
    s.apply(fp(fastPathPdu([{ code: 0xb, data: concat([bytes(le16(32)), pointer32(4, 2, 2, [0, 0], GREEN, 0)]) }])));
    assert.equal(s.pointer.shape?.width, 2);
    s.apply(fp(fastPathPdu([{ code: 0xa, data: bytes(le16(3)) }])));
    assert.equal(s.pointer.shape?.width, 4, 'cached shape 3 is back');
    assert.deepEqual(pixel(s, 10, 10), [0, 0, 0, 255], 'the screen itself has no pointer');
    const frame = new Uint8ClampedArray(20 * 20 * 4);
    composeFrame(s, frame, 20, 20);
    const at = (x: number, y: number) => Array.from(frame.subarray((y * 20 + x) * 4, (y * 20 + x) * 4 + 4));
    assert.deepEqual(at(9, 9), [255, 0, 0, 255], 'hot spot (1, 1) at the cursor');
    assert.deepEqual(at(12, 12), [255, 0, 0, 255]);
    assert.deepEqual(at(13, 13), [0, 0, 0, 255]);
    assert.deepEqual(at(8, 8), [0, 0, 0, 255]);
    s.apply(fp(fastPathPdu([{ code: 5, data: bytes() }])));
    composeFrame(s, frame, 20, 20);
    assert.deepEqual(at(10, 10), [0, 0, 0, 255], 'hidden pointer');
    s.apply(sp(slowPointerPdu(1, bytes(le32(0x7f00)))));
    composeFrame(s, frame, 20, 20);
    assert.deepEqual(at(10, 10), [0, 0, 0, 255], 'default arrow: black outline at its tip');
    assert.deepEqual(at(11, 12), [255, 255, 255, 255], 'white inside');
    assert.deepEqual(warnings(s), {});
  });

  it('a 24 bpp color pointer with an AND mask: transparent where black under AND, inverting where white', () => {
    const s = new RdpScreen(4, 4);
    s.apply(fp(fastPathPdu([{ code: 1, data: bitmapUpdate([solid(0, 0, 4, 4, [10, 20, 30])]) }])));
    // 2 × 1: XOR row = black, white (6 bytes, even); AND row = 11000000 (2 bytes).
    const color = bytes(le16(0), le16(0), le16(0), le16(2), le16(1), le16(2), le16(6), [0, 0, 0, 255, 255, 255], [0xc0, 0]);
    s.apply(fp(fastPathPdu([{ code: 9, data: color }, { code: 8, data: bytes(le16(1), le16(1)) }])));
    const frame = new Uint8ClampedArray(16 * 4);
    composeFrame(s, frame, 4, 4);
    assert.deepEqual(Array.from(frame.subarray(5 * 4, 5 * 4 + 4)), [10, 20, 30, 255]);
    assert.deepEqual(Array.from(frame.subarray(6 * 4, 6 * 4 + 4)), [245, 235, 225, 255]);
  });

  it('a pointer at the edges is clipped, never wrapped into the next row', () => {
    const s = new RdpScreen(6, 3);
    s.apply(fp(fastPathPdu([{ code: 0xb, data: concat([bytes(le16(32)), pointer32(1, 4, 4, [2, 2], WHITE)]) }])));
    const frame = new Uint8ClampedArray(6 * 3 * 4);
    const whites = () => {
      const out: number[] = [];
      for (let i = 0; i < 18; i++) if (frame[i * 4] === 255) out.push(i);
      return out;
    };
    s.apply(fp(fastPathPdu([{ code: 8, data: bytes(le16(5), le16(0)) }])));
    composeFrame(s, frame, 6, 3);
    assert.deepEqual(whites(), [3, 4, 5, 9, 10, 11], 'columns 3–5 of rows 0–1 only');
    s.apply(fp(fastPathPdu([{ code: 8, data: bytes(le16(0), le16(2)) }])));
    composeFrame(s, frame, 6, 3);
    assert.deepEqual(whites(), [0, 1, 6, 7, 12, 13], 'columns 0–1 of rows 0–2 only');
    s.apply(fp(fastPathPdu([{ code: 8, data: bytes(le16(60000), le16(60000)) }])));
    composeFrame(s, frame, 6, 3);
    assert.deepEqual(whites(), []);
  });

  it('bad pointer messages are counted: unknown cache index, masks longer than the message, oversized', () => {
    const s = new RdpScreen(4, 4);
    s.apply(fp(fastPathPdu([{ code: 0xa, data: bytes(le16(77)) }])));
    const p = concat([bytes(le16(32)), pointer32(1, 4, 4, [0, 0], RED)]);
    s.apply(fp(fastPathPdu([{ code: 0xb, data: p.subarray(0, p.length - 1) }])));
    s.apply(fp(fastPathPdu([{ code: 0xb, data: concat([bytes(le16(32)), bytes(le16(1), le16(0), le16(0), le16(1000), le16(1), le16(0), le16(0))]) }])));
    s.apply(sp(slowPointerPdu(0x42, bytes())));
    assert.deepEqual(warnings(s), { 'bad-pointer': 4 });
  });
});

describe('desktop and keyframes', () => {
  it('DESKTOP resizes, keeping the old picture top-left; the same size changes nothing', () => {
    const s = new RdpScreen(4, 4);
    s.apply(fp(fastPathPdu([{ code: 1, data: bitmapUpdate([solid(0, 0, 4, 4, RED)]) }])));
    assert.equal(s.apply(desktop(4, 4, 16)), false);
    assert.equal(s.bpp, 16);
    assert.equal(s.apply(desktop(6, 2)), true);
    assert.equal(s.width, 6);
    assert.equal(s.height, 2);
    assert.equal(s.rgba.length, 6 * 2 * 4);
    assert.deepEqual(rows(s, 0, 0, 6, 2), [
      [RED, RED, RED, RED, BLACK, BLACK],
      [RED, RED, RED, RED, BLACK, BLACK],
    ]);
    assert.equal(s.apply(desktop(0, 5)), false);
    assert.equal(s.apply(desktop(9000, 5)), false);
    assert.equal(s.apply({ type: RDPREC.DESKTOP, time: 0, payload: bytes(1, 2) }), false);
    assert.equal(s.warnings.get('bad-desktop'), 3);
  });

  it('a DESKTOP record drops a half-received fragmented update', () => {
    const s = new RdpScreen(8, 8);
    const pdus = fragmentedPdus(1, bitmapUpdate([solid(0, 0, 8, 8, RED)]), 60);
    s.apply(fp(pdus[0]!));
    s.apply(desktop(8, 8));
    for (const p of pdus.slice(1)) s.apply(fp(p));
    assert.deepEqual(pixel(s, 0, 0), [0, 0, 0, 255]);
    assert.ok(s.warnings.get('fragment')! >= 1);
  });

  it('load() starts from a keyframe; markers, keystrokes and unknown records are ignored', () => {
    const s = new RdpScreen(2, 2);
    const key = Uint8Array.from([1, 2, 3, 0, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]);
    s.load(key, 3, 2);
    assert.equal(s.width, 3);
    assert.deepEqual(pixel(s, 0, 0), [1, 2, 3, 255]);
    assert.deepEqual(pixel(s, 2, 1), [20, 21, 22, 255]);
    assert.equal(s.apply({ type: GHREC_MARKER, time: 0, payload: bytes(1) }), false);
    assert.equal(s.apply({ type: RDPREC.KEYS, time: 0, payload: bytes(0x61) }), false);
    assert.equal(s.apply({ type: 200, time: 0, payload: bytes(1, 2, 3) }), false);
    assert.deepEqual(warnings(s), {});
  });
});

describe('playback', () => {
  const header = recordingHeader({ width: 640, height: 480 });
  const file = ghrecFile(header, [
    [RDPREC.DESKTOP, 0, encodeDesktop(8, 4, 32)],
    [RDPREC.FASTPATH_OUTPUT, 0, fastPathPdu([{ code: 1, data: bitmapUpdate([solid(0, 0, 8, 4, RED)]) }])],
    [RDPREC.FASTPATH_OUTPUT, 250, fastPathPdu([{ code: 1, data: bitmapUpdate([solid(0, 0, 2, 2, GREEN)]) }])],
    [RDPREC.INPUT, 600, encodeInputEvents([{ kind: INPUT_KIND.MOUSE, flags: 0x800, a: 5, b: 1 }])],
    [RDPREC.DESKTOP, 1000, encodeDesktop(12, 6, 32)],
    [RDPREC.FASTPATH_OUTPUT, 1000, fastPathPdu([{ code: 1, data: bitmapUpdate([solid(10, 5, 1, 1, BLUE), solid(7, 3, 1, 1, WHITE)]) }])],
  ]);

  it('openRdpRecording: duration, first desktop size, header', () => {
    const r = openRdpRecording(file);
    assert.equal(r.duration, 1);
    assert.equal(r.width, 8);
    assert.equal(r.height, 4);
    assert.equal(r.records.length, 6);
    assert.equal(r.truncated, false);
    assert.equal(r.header.sessionId, 'test-session');
  });

  it('renderAt applies every record up to that time', () => {
    let s = renderAt(file, 0);
    assert.deepEqual(rows(s, 0, 0, 3, 1), [[RED, RED, RED]]);
    s = renderAt(file, 0.3);
    assert.deepEqual(rows(s, 0, 0, 3, 1), [[GREEN, GREEN, RED]]);
    assert.equal(s.cursor, null);
    s = renderAt(file, 5);
    assert.equal(s.width, 12);
    assert.deepEqual(pixel(s, 10, 5), [0, 0, 255, 255]);
    assert.deepEqual(s.cursor, { x: 5, y: 1 });
  });

  it('frames: one per 1/fps, the last state held, later sizes drawn into the first size from the top-left', () => {
    // The frame buffer is reused: copy each frame before asking for the next.
    const got: { t: number; w: number; h: number; rgba: Uint8Array }[] = [];
    for (const f of frames(file, 4, { cursor: false })) got.push({ t: f.time, w: f.width, h: f.height, rgba: Uint8Array.from(f.rgba) });
    assert.deepEqual(
      got.map((f) => f.t),
      [0, 0.25, 0.5, 0.75, 1],
    );
    assert.ok(got.every((f) => f.w === 8 && f.h === 4 && f.rgba.length === 8 * 4 * 4));
    const at = (f: (typeof got)[number], x: number, y: number) => Array.from(f.rgba.subarray((y * 8 + x) * 4, (y * 8 + x) * 4 + 3));
    assert.deepEqual(at(got[0]!, 0, 0), RED);
    assert.deepEqual(at(got[1]!, 0, 0), GREEN);
    assert.deepEqual(at(got[3]!, 1, 1), GREEN, 'held');
    assert.deepEqual(at(got[4]!, 7, 3), WHITE);
    assert.deepEqual(at(got[4]!, 2, 2), RED);
  });

  it('frames draw the pointer and pad to a larger canvas', () => {
    const all: Uint8Array[] = [];
    for (const f of frames(file, 2, { width: 10, height: 6 })) all.push(Uint8Array.from(f.rgba));
    assert.equal(all.length, 3);
    const at = (f: Uint8Array, x: number, y: number) => Array.from(f.subarray((y * 10 + x) * 4, (y * 10 + x) * 4 + 3));
    assert.deepEqual(at(all[0]!, 9, 5), BLACK, 'padding');
    assert.deepEqual(at(all[0]!, 5, 1), RED, 'no cursor known yet');
    assert.deepEqual(at(all[2]!, 5, 1), BLACK, 'the default arrow’s tip at the mouse position');
    assert.deepEqual(at(all[2]!, 6, 3), WHITE, 'white inside the arrow');
  });

  it('a cut-off recording plays up to where it stops', () => {
    const r = openRdpRecording(file.subarray(0, file.length - 5));
    assert.equal(r.truncated, true);
    assert.equal(r.records.length, 5);
    assert.equal(renderAt(r, 10).width, 12);
  });

  it('files that are not RDP recordings say so in one sentence', () => {
    const cast = new TextEncoder().encode('{"version": 2, "width": 80, "height": 24}\n[0.5, "o", "hello"]\n');
    assert.throws(() => openRdpRecording(cast), (e: Error) => e instanceof RdpRecordingError && /asciicast/.test(e.message) && /asciinema play/.test(e.message));
    assert.throws(() => openRdpRecording(new TextEncoder().encode('hello, world, this is not a recording')), (e: Error) => e instanceof RdpRecordingError && /not a Gatehouse recording/.test(e.message));
    const other = concat([encodeGhrecHeader({ format: 'vnc', formatVersion: 1, startedAt: 'x' }), encodeGhrecRecord(1, 0, bytes(1))]);
    assert.throws(() => openRdpRecording(other), (e: Error) => e instanceof RdpRecordingError && /unsupported recording format "vnc"/.test(e.message));
    assert.throws(() => renderAt(file.subarray(0, 20), 1), RdpRecordingError);
  });
});
