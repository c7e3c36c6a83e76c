// What a screen may allocate, whatever a recording says: the framebuffer never holds more than
// MAX_SCREEN_PIXELS (hostile DESKTOP records, headers, keyframes and first desktops of files
// included), and the pointer cache never more than MAX_CACHE_PIXELS. Bounds are checked on
// the buffers themselves and on the process's ArrayBuffer memory, not on time.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { frames, MAX_DESKTOP, MAX_SCREEN_PIXELS, openRdpRecording, RdpScreen, renderAt, screenSize } from '../../../src/protocols/rdp/recording/decoder/index.js';
import { MAX_CACHE_PIXELS } from '../../../src/protocols/rdp/recording/decoder/pointer.js';
import { encodeDesktop, RDPREC } from '../../../src/protocols/rdp/recording/records.js';
import { bitmapUpdate, bytes, concat, fastPathPdu, fragmentedPdus, ghrecFile, le16, le32, pixel, recordingHeader } from './decoder-support.js';

const BOUND_BYTES = MAX_SCREEN_PIXELS * 4;
const desktop = (w: number, h: number, bpp = 32) => ({ type: RDPREC.DESKTOP, time: 0, payload: encodeDesktop(w, h, bpp) });
const fp = (payload: Uint8Array) => ({ type: RDPREC.FASTPATH_OUTPUT, time: 0, payload });

/** The screen's framebuffer is consistent and within the bound. */
function bounded(s: RdpScreen, what: string): void {
  assert.ok(s.width >= 1 && s.height >= 1 && s.width <= MAX_DESKTOP && s.height <= MAX_DESKTOP, `${what}: ${s.width}x${s.height}`);
  assert.ok(s.width * s.height <= MAX_SCREEN_PIXELS, `${what}: ${s.width}x${s.height} is more than ${MAX_SCREEN_PIXELS} pixels`);
  assert.equal(s.rgba.length, s.width * s.height * 4, `${what}: framebuffer length`);
  assert.ok(s.rgba.length <= BOUND_BYTES);
}

/** ArrayBuffer bytes allocated and still held while fn's result is alive. */
function heldBytes<T>(fn: () => T): { result: T; bytes: number } {
  const before = process.memoryUsage().arrayBuffers;
  const result = fn();
  return { result, bytes: process.memoryUsage().arrayBuffers - before };
}

describe('screen size bound', () => {
  it('is stated: 4096 × 2304 pixels (36 MiB of RGBA), a 4K desktop fits whole', () => {
    assert.equal(MAX_SCREEN_PIXELS, 4096 * 2304);
    assert.deepEqual(screenSize(3840, 2160), { width: 3840, height: 2160 });
    assert.deepEqual(screenSize(4096, 2304), { width: 4096, height: 2304 });
    assert.deepEqual(screenSize(8192, 8192), { width: 3072, height: 3072 });
    for (const [w, h] of [[8192, 8192], [8192, 1153], [1153, 8192], [65535, 65535], [1e9, 3], [-4, 7], [0, 0], [NaN, Infinity], [4096.6, 2304.4]]) {
      const s = screenSize(w!, h!);
      assert.ok(Number.isInteger(s.width) && Number.isInteger(s.height) && s.width >= 1 && s.height >= 1, `${w}x${h} → ${JSON.stringify(s)}`);
      assert.ok(s.width <= MAX_DESKTOP && s.height <= MAX_DESKTOP && s.width * s.height <= MAX_SCREEN_PIXELS, `${w}x${h} → ${JSON.stringify(s)}`);
    }
  });

  it('a screen created for any size allocates no more than the bound', () => {
    for (const [w, h] of [[8192, 8192], [65535, 65535], [1e9, 1e9], [-1, -1], [0, 0], [NaN, NaN], [8192, 1200]]) {
      const { result: s, bytes: held } = heldBytes(() => new RdpScreen(w!, h!));
      bounded(s, `new RdpScreen(${w}, ${h})`);
      assert.ok(held <= BOUND_BYTES + (1 << 20), `new RdpScreen(${w}, ${h}) holds ${held} bytes of ArrayBuffers`);
    }
  });

  it('hostile DESKTOP records: too large is cut to the bound (top-left kept), impossible sizes are refused', () => {
    const s = new RdpScreen(64, 48);
    // A picture in the top-left corner, to see it survive the resizes.
    const red = new Uint8Array(4 * 4 * 4);
    for (let i = 0; i < 16; i++) red.set([0, 0, 255, 0], i * 4);
    s.apply(fp(fastPathPdu([{ code: 1, data: bitmapUpdate([{ left: 0, top: 0, width: 4, height: 4, bpp: 32, data: red }]) }])));

    // Larger than the bound but within RDP's limits (a target that ignored the negotiated size).
    const { result: changed, bytes: held } = heldBytes(() => s.apply(desktop(8192, 8192)));
    assert.equal(changed, true);
    bounded(s, 'DESKTOP 8192x8192');
    assert.deepEqual([s.width, s.height], [3072, 3072]);
    assert.ok(held <= 2 * BOUND_BYTES, `the resize holds ${held} bytes (old and new framebuffer at most)`);
    assert.equal(s.warnings.get('desktop-clamped'), 1);
    assert.deepEqual(pixel(s, 3, 3), [255, 0, 0, 255], 'the old picture is kept top-left');
    // Bitmaps beyond the kept part are clipped, nothing is written outside the framebuffer.
    s.apply(fp(fastPathPdu([{ code: 1, data: bitmapUpdate([{ left: 5000, top: 10, width: 4, height: 4, bpp: 32, data: red }]) }])));
    assert.ok(!s.warnings.has('decoder-error'));

    // Impossible sizes: refused, the screen stays as it is.
    for (const payload of [encodeDesktop(0, 768, 32), encodeDesktop(1024, 0, 32), encodeDesktop(65535, 65535, 32), encodeDesktop(8193, 2, 32), bytes(0xff, 0xff, 0xff), bytes()]) {
      assert.equal(s.apply({ type: RDPREC.DESKTOP, time: 0, payload }), false);
      bounded(s, `DESKTOP ${Buffer.from(payload).toString('hex')}`);
      assert.deepEqual([s.width, s.height], [3072, 3072]);
    }
    assert.equal(s.warnings.get('bad-desktop'), 6);

    // Another size than the session started with (a reconnection or a client's resize) is a
    // real desktop change: taken as long as it fits the bound.
    assert.equal(s.apply(desktop(1920, 1080)), true);
    bounded(s, 'DESKTOP 1920x1080');
    assert.deepEqual([s.width, s.height], [1920, 1080]);
    assert.equal(s.warnings.get('desktop-clamped'), 1);
  });

  it('many hostile resizes in a row never hold more than the bound', () => {
    const s = new RdpScreen(1024, 768);
    const sizes = [[8192, 8192], [8192, 1], [1, 8192], [65535, 3], [4097, 2305], [3, 3], [8192, 2400]];
    for (let i = 0; i < 40; i++) {
      const [w, h] = sizes[i % sizes.length]!;
      s.apply(desktop(w!, h!));
      bounded(s, `#${i} DESKTOP ${w}x${h}`);
    }
  });

  it('a keyframe larger than the bound keeps its top-left part, row by row', () => {
    const w = 5000;
    const h = 2000;
    const key = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y += 97) for (let x = 0; x < w; x += 89) key.set([x & 0xff, y & 0xff, 7, 0], (y * w + x) * 4);
    const s = new RdpScreen(16, 16);
    s.load(key, w, h);
    bounded(s, 'load 5000x2000');
    assert.ok(s.width < w);
    for (const [x, y] of [[0, 0], [89, 97], [89 * 20, 97 * 15], [0, 97 * (Math.floor((s.height - 1) / 97))]]) {
      assert.deepEqual(pixel(s, x!, y!), [x! & 0xff, y! & 0xff, 7, 255], `pixel ${x},${y}`);
    }
    // A lying keyframe (fewer bytes than its size says) leaves the rest black.
    s.load(new Uint8Array(40), 8192, 8192);
    bounded(s, 'short keyframe');
  });

  it('a file whose header and first desktop claim 8192 × 8192: opening, renderAt and frames stay within the bound', () => {
    const file = ghrecFile(recordingHeader({ width: 8192, height: 8192 }), [
      [RDPREC.DESKTOP, 0, encodeDesktop(8192, 8192, 32)],
      [RDPREC.DESKTOP, 500, encodeDesktop(65535, 65535, 32)],
      [RDPREC.DESKTOP, 1000, encodeDesktop(8192, 4096, 32)],
    ]);
    const rec = openRdpRecording(file);
    assert.ok(rec.width * rec.height <= MAX_SCREEN_PIXELS, `first desktop ${rec.width}x${rec.height}`);
    bounded(renderAt(rec, 1), 'renderAt');
    let n = 0;
    for (const f of frames(rec, 2)) {
      assert.ok(f.rgba.length <= BOUND_BYTES, `frame ${f.index}: ${f.width}x${f.height}`);
      bounded(f.screen, `frame ${f.index}`);
      n++;
    }
    assert.equal(n, 3);
    // Without a DESKTOP record, the header's size is the first desktop, bounded the same way.
    const headerOnly = openRdpRecording(ghrecFile(recordingHeader({ width: 8192, height: 8192 }), []));
    assert.ok(headerOnly.width * headerOnly.height <= MAX_SCREEN_PIXELS);
  });
});

describe('pointer cache bound', () => {
  /** A large pointer (fast-path 0xC) of 384 × 384 at 32 bpp, about 600 KB. */
  function largePointer(cacheIndex: number): Uint8Array {
    const w = 384;
    const h = 384;
    const xor = new Uint8Array(w * 4 * h).fill(0x80);
    const and = new Uint8Array((w / 8) * h);
    return concat([bytes(le16(32), le16(cacheIndex), le16(0), le16(0), le16(w), le16(h), le32(and.length), le32(xor.length)), xor, and]);
  }

  it('holds at most MAX_CACHE_PIXELS of shapes; the oldest make room', () => {
    const s = new RdpScreen(64, 48);
    const n = Math.ceil((2 * MAX_CACHE_PIXELS) / (384 * 384));
    const msg = largePointer(0);
    for (let i = 0; i < n; i++) {
      msg.set(le16(i), 2);
      for (const pdu of fragmentedPdus(0xc, msg, 30_000)) s.apply(fp(pdu));
      assert.ok(s.pointer.cachePixels <= MAX_CACHE_PIXELS, `after ${i + 1} large pointers: ${s.pointer.cachePixels} pixels cached`);
    }
    assert.deepEqual([...s.warnings], [], 'every large pointer decoded');
    // The newest shape is still cached, the first one made room.
    s.apply(fp(fastPathPdu([{ code: 0x5, data: bytes() }])));
    s.apply(fp(fastPathPdu([{ code: 0xa, data: bytes(le16(n - 1)) }])));
    assert.equal(s.pointer.shape?.width, 384);
    assert.ok(!s.warnings.has('bad-pointer'));
    s.apply(fp(fastPathPdu([{ code: 0xa, data: bytes(le16(0)) }])));
    assert.equal(s.warnings.get('bad-pointer'), 1);
    // A snapshot carries the bounded cache over.
    const copy = RdpScreen.fromSnapshot(s.snapshot()!);
    assert.equal(copy.pointer.cachePixels, s.pointer.cachePixels);
  });
});
