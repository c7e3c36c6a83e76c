// Random and mutated input against the recording container reader and the RDP decoder:
// RdpScreen.apply must never throw, never hit its last-resort catch (which would mean an
// out-of-range write was attempted), and must leave a well-formed opaque framebuffer of the
// right size, never larger than MAX_SCREEN_PIXELS, with a pointer cache within its bound;
// GhrecReader may only throw GhrecError, and opening or playing a recording only
// RdpRecordingError. The work is bounded by counts and sizes (runs, payloads of at most a few
// hundred bytes, the decoder's caps), not timed: a hang is caught by the runner's timeout.
// Seeds are valid records, and the codec streams are also mutated inside intact framing so
// mutations reach the decoders.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GhrecError, GhrecReader } from '../../../src/core/sessions/ghrec.js';
import { frames, MAX_SCREEN_PIXELS, openRdpRecording, RdpRecordingError, RdpScreen, renderAt } from '../../../src/protocols/rdp/recording/decoder/index.js';
import { MAX_CACHE_PIXELS } from '../../../src/protocols/rdp/recording/decoder/pointer.js';
import { encodeDesktop, encodeInputEvents, INPUT_KIND, RDPREC } from '../../../src/protocols/rdp/recording/records.js';
import { bitmapUpdate, bytes, concat, fastPathPdu, fragmentedPdus, ghrecFile, interleavedEncode, le16, le32, paletteUpdate, planarEncode, recordingHeader, slowPathPdu, slowPointerPdu } from './decoder-support.js';
import { mutate, rng } from './fixtures.js';

const RUNS = Number(process.env.RDP_FUZZ_RUNS) || 3000;
const T = { timeout: 300_000 };

// ---- seeds

const rgba = (w: number, h: number) => {
  const b = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) b.set([(i * 37) & 0xff, (i * 11) & 0xff, i % 3 ? 200 : 0, 255], i * 4);
  return b;
};
const values = (n: number, mask: number) => Array.from({ length: n }, (_, i) => (i % 7 < 3 ? 0x123456 : i * 2654435761) & mask);

/** Codec streams with the rectangle they belong to: [bpp, flags, width, height, data]. */
const streams: [number, number, number, number, Uint8Array][] = [
  [32, 0x401, 13, 9, planarEncode(rgba(13, 9), 13, 9)],
  [32, 0x401, 4, 2, bytes(0x00, Array(8).fill(9), Array(24).fill(7), 0)],
  [32, 0x401, 3, 3, bytes(0x29, Array(9).fill(100), [0, 10, 20, 30], [0, 0, 0, 0])],
  [32, 0x401, 2, 2, bytes(0x39, 0x20, 100, 100, 0x20, 0, 0, 0x10, 0, 0x10, 0)],
  [16, 0x401, 11, 7, interleavedEncode(values(77, 0xffff), 16)],
  [24, 0x1, 8, 4, interleavedEncode(values(32, 0xffffff), 24)],
  [8, 0x401, 8, 3, bytes(0x41, 0xa5, 0xf7, le16(8), 0x0f, 0x0f, 0x03, 0x02, 0x63, 0x2a)],
  [15, 0x401, 8, 2, bytes(0xf9, 0xfa)],
  [16, 0x401, 4, 3, bytes(0x82, le16(0x1234), le16(0x5678), 0x22, 0x03, 0x01, 0xc2, le16(0x00ff), 0xfd, 0xfe)],
  [24, 0, 3, 2, new Uint8Array(24).fill(0x7f)],
  [16, 0, 5, 2, new Uint8Array(24).fill(0x31)],
  [8, 0, 4, 2, new Uint8Array(8).fill(3)],
];

const rect = (bpp: number, flags: number, width: number, height: number, data: Uint8Array, left = 1, top = 2) => ({ left, top, width, height, bpp, flags, data });

const pointerMsg = (w: number, h: number, bpp: number) => {
  const xorRow = bpp === 1 ? Math.ceil(w / 8) : w * (bpp / 8);
  const andRow = Math.ceil(w / 8);
  const xor = new Uint8Array((xorRow + (xorRow & 1)) * h).fill(0x5a);
  const and = new Uint8Array((andRow + (andRow & 1)) * h).fill(0x0f);
  return concat([bytes(le16(bpp), le16(2), le16(1), le16(1), le16(w), le16(h), le16(and.length), le16(xor.length)), xor, and]);
};

/** Whole record payloads: [type, payload]. */
const records: [number, Uint8Array][] = [
  [RDPREC.DESKTOP, encodeDesktop(40, 30, 16)],
  [RDPREC.INPUT, encodeInputEvents([{ kind: INPUT_KIND.MOUSE, flags: 0x800, a: 3, b: 4 }, { kind: INPUT_KIND.MOUSE_RELATIVE, flags: 0, a: 0xfffe, b: 2 }])],
  [RDPREC.FASTPATH_OUTPUT, fastPathPdu([{ code: 1, data: bitmapUpdate(streams.map(([bpp, flags, w, h, d]) => rect(bpp, flags, w, h, d))) }])],
  [RDPREC.FASTPATH_OUTPUT, fastPathPdu([{ code: 2, data: paletteUpdate(Array.from({ length: 256 }, (_, i) => [i, i, i])) }])],
  [RDPREC.FASTPATH_OUTPUT, fastPathPdu([{ code: 8, data: bytes(le16(5), le16(6)) }, { code: 0xb, data: pointerMsg(5, 3, 32) }, { code: 0xa, data: bytes(le16(2)) }])],
  [RDPREC.FASTPATH_OUTPUT, fastPathPdu([{ code: 0xb, data: pointerMsg(9, 4, 1) }, { code: 0xb, data: pointerMsg(3, 3, 16) }, { code: 0xb, data: pointerMsg(4, 4, 8) }])],
  [RDPREC.FASTPATH_OUTPUT, fastPathPdu([{ code: 0xc, data: concat([bytes(le16(24), le16(1), le16(0), le16(0), le16(2), le16(2)), bytes(le32(4), le32(12)), new Uint8Array(16)]) }, { code: 5, data: bytes() }, { code: 6, data: bytes() }])],
  [RDPREC.FASTPATH_OUTPUT, fastPathPdu([{ code: 9, data: bytes(le16(0), le16(0), le16(0), le16(2), le16(1), le16(2), le16(6), [0, 0, 0, 255, 255, 255], [0xc0, 0]) }])],
  [RDPREC.SLOWPATH_OUTPUT, slowPathPdu(0x02, bitmapUpdate([rect(24, 0, 3, 2, new Uint8Array(24).fill(0x40))]))],
  [RDPREC.SLOWPATH_OUTPUT, slowPathPdu(0x02, paletteUpdate([[1, 2, 3]]))],
  [RDPREC.SLOWPATH_OUTPUT, slowPointerPdu(3, bytes(le16(7), le16(8)))],
  [RDPREC.SLOWPATH_OUTPUT, slowPointerPdu(8, pointerMsg(4, 4, 24))],
  [RDPREC.SLOWPATH_OUTPUT, slowPointerPdu(1, bytes(le32(0)))],
  ...fragmentedPdus(1, bitmapUpdate([rect(32, 0x401, 13, 9, streams[0]![4])]), 40).map((p): [number, Uint8Array] => [RDPREC.FASTPATH_OUTPUT, p]),
];

const TYPES = [RDPREC.DESKTOP, RDPREC.FASTPATH_OUTPUT, RDPREC.SLOWPATH_OUTPUT, RDPREC.INPUT, RDPREC.KEYS, 0, 99];

// ---- checks

/** What one screen holds stays within the decoder's bounds, whatever it was fed. */
function checkBounds(s: RdpScreen, what: string): void {
  assert.ok(s.width >= 1 && s.width <= 8192 && s.height >= 1 && s.height <= 8192, `${what}: size ${s.width}x${s.height}`);
  assert.ok(s.rgba.length <= MAX_SCREEN_PIXELS * 4, `${what}: a framebuffer of ${s.width}x${s.height}`);
  assert.ok(s.pointer.cachePixels <= MAX_CACHE_PIXELS, `${what}: ${s.pointer.cachePixels} pointer pixels cached`);
}

/** The screen is still whole: right size, one view, every pixel opaque. */
function checkScreen(s: RdpScreen, what: string): void {
  checkBounds(s, what);
  assert.equal(s.rgba.length, s.width * s.height * 4, `${what}: framebuffer length`);
  for (let i = 3; i < s.rgba.length; i += 4) if (s.rgba[i] !== 255) assert.fail(`${what}: pixel ${i >> 2} has alpha ${s.rgba[i]}`);
  assert.ok(!s.warnings.has('decoder-error'), `${what}: the decoder's last-resort catch fired: ${JSON.stringify([...s.warnings])}`);
  if (s.cursor) assert.ok(Number.isInteger(s.cursor.x) && Number.isInteger(s.cursor.y));
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex').slice(0, 300);

describe('fuzz: RdpScreen.apply', () => {
  it('mutated records of every kind, applied to one screen in sequence', T, () => {
    const next = rng(0xdec0de);
    let s = new RdpScreen(64, 48);
    for (let i = 0; i < RUNS; i++) {
      const [type, seed] = records[i % records.length]!;
      const payload = i < records.length ? seed : new Uint8Array(mutate(Buffer.from(seed), next));
      // Mostly the record's own type, sometimes another one.
      const t = next() < 0.85 ? type : TYPES[Math.floor(next() * TYPES.length)]!;
      const what = `#${i} type ${t} ${hex(payload)}`;
      const r = s.apply({ type: t, time: i, payload });
      assert.equal(typeof r, 'boolean', what);
      checkBounds(s, what);
      if (i % 7 === 0) checkScreen(s, what);
      // A screen that grew large makes every check slow; start over now and then.
      if (s.width * s.height > 1024 * 1024 || i % 500 === 0) s = new RdpScreen(64, 48);
    }
    checkScreen(s, 'end');
  });

  it('mutated codec streams inside intact rectangle framing (planar, interleaved, uncompressed)', T, () => {
    const next = rng(0xc0dec);
    const int = (n: number) => Math.floor(next() * n);
    const s = new RdpScreen(48, 32);
    for (let i = 0; i < RUNS; i++) {
      const [bpp, flags, w, h, data] = streams[i % streams.length]!;
      const mutated = new Uint8Array(mutate(Buffer.from(data), next));
      // Sometimes the rectangle itself lies about its size, depth or position.
      const dims = next() < 0.2 ? [1 + int(200), 1 + int(200)] : [w, h];
      const depth = next() < 0.05 ? [8, 15, 16, 24, 32][int(5)]! : bpp;
      const at = next() < 0.1 ? [int(70), int(50)] : [int(20), int(10)];
      const payload = fastPathPdu([{ code: 1, data: bitmapUpdate([rect(depth, flags, dims[0]!, dims[1]!, mutated, at[0], at[1])]) }]);
      const what = `#${i} ${depth} bpp ${dims.join('x')} flags ${flags} ${hex(mutated)}`;
      s.apply({ type: RDPREC.FASTPATH_OUTPUT, time: i, payload });
      if (i % 5 === 0) checkScreen(s, what);
    }
    checkScreen(s, 'end');
  });

  it('random bytes as any record type', T, () => {
    const next = rng(0xbadbad);
    const s = new RdpScreen(32, 32);
    for (let i = 0; i < RUNS; i++) {
      const payload = Uint8Array.from({ length: Math.floor(next() * 300) }, () => Math.floor(next() * 256));
      // Keep fast-path framing plausible half of the time so the update parser is reached.
      if (next() < 0.5 && payload.length > 3) {
        payload[0] = 0;
        payload[1] = 0x80 | (payload.length >> 8);
        payload[2] = payload.length & 0xff;
      }
      const t = TYPES[Math.floor(next() * TYPES.length)]!;
      s.apply({ type: t, time: i, payload });
      checkBounds(s, `#${i} type ${t} ${hex(payload)}`);
    }
    checkScreen(s, 'end');
  });
});

describe('fuzz: the container and playback', () => {
  const file = ghrecFile(
    recordingHeader({ width: 40, height: 30 }),
    records.map(([t, p], i) => [t, i * 100, p]),
  );

  it('GhrecReader on mutated files in random chunks throws only GhrecError', T, () => {
    const next = rng(0x6172ec);
    let threw = 0;
    for (let i = 0; i < RUNS; i++) {
      const input = i === 0 ? file : new Uint8Array(mutate(Buffer.from(file), next));
      const reader = new GhrecReader();
      try {
        for (let o = 0; o < input.length; ) {
          const n = 1 + Math.floor(next() * 200);
          for (const r of reader.push(input.subarray(o, o + n))) assert.ok(r.payload.length <= 16 * 1024 * 1024 && Number.isInteger(r.type));
          o += n;
        }
      } catch (e) {
        if (!(e instanceof GhrecError)) assert.fail(`#${i} ${hex(input)} threw ${String(e)}`);
        threw++;
      }
    }
    assert.ok(threw > 0 && threw < RUNS, `some but not all inputs rejected (${threw})`);
  });

  it('openRdpRecording, renderAt and the first frames of mutated files throw only RdpRecordingError', T, () => {
    const next = rng(0x91a7);
    for (let i = 0; i < Math.ceil(RUNS / 3); i++) {
      const input = i === 0 ? file : new Uint8Array(mutate(Buffer.from(file), next));
      try {
        const rec = openRdpRecording(input);
        assert.ok(rec.width * rec.height <= MAX_SCREEN_PIXELS, `#${i}: first desktop ${rec.width}x${rec.height}`);
        const screen = renderAt(rec, rec.duration / 2);
        checkScreen(screen, `#${i} renderAt`);
        let n = 0;
        for (const f of frames(rec, 25)) {
          assert.equal(f.rgba.length, f.width * f.height * 4);
          assert.ok(f.rgba.length <= MAX_SCREEN_PIXELS * 4, `#${i}: a frame of ${f.width}x${f.height}`);
          if (++n >= 3) break;
        }
      } catch (e) {
        if (!(e instanceof RdpRecordingError)) assert.fail(`#${i} ${hex(input)} threw ${String(e)}`);
      }
    }
  });
});
