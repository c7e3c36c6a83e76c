// The browser's RDP player and live view, without a browser: reading a recording (typed
// lines, markers), playing it (seeking both ways through snapshots gives exactly what
// decoding from the start gives, pointer cache included), the clock (speed, skipping idle
// gaps), and the live feed (records wait for the keyframe's PNG, then apply in order).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeGhrecMarker, encodeGhrecRecord } from '../../src/core/sessions/ghrec.js';
import { renderAt } from '../../src/protocols/rdp/recording/decoder/index.js';
import { encodeDesktop, encodeInputEvents, INPUT_KIND, RDPREC } from '../../src/protocols/rdp/recording/records.js';
import { PlayerClock } from '../../ui/src/rdp/clock.js';
import { Playback } from '../../ui/src/rdp/playback.js';
import { markerText, parseRecording } from '../../ui/src/rdp/recording.js';
import { parseRecordLine, RdpLiveFeed, type LiveHeader } from '../../ui/src/rdp/stream.js';
import { warningText } from '../../ui/src/rdp/warnings.js';
import { bitmapUpdate, bytes, concat, fastPathPdu, ghrecFile, le16, pixel, recordingHeader } from '../protocols/rdp/decoder-support.js';

const W = 64;
const H = 48;
const FP_BITMAP = 0x1;
const FP_PTR_DEFAULT = 0x6;
const FP_COLOR = 0x9;
const FP_CACHED = 0xa;

/** A fast-path PDU painting the whole desktop one colour (32 bpp, uncompressed). */
function fill(rgb: number): Uint8Array {
  const data = new Uint8Array(W * H * 4);
  for (let i = 0; i < W * H; i++) data.set([rgb & 0xff, (rgb >> 8) & 0xff, (rgb >> 16) & 0xff, 0], i * 4);
  return fastPathPdu([{ code: FP_BITMAP, data: bitmapUpdate([{ left: 0, top: 0, width: W, height: H, bpp: 32, data }]) }]);
}

/** A 2×2 24 bpp colour pointer in cache slot `index`, all pixels `rgb`. */
function colorPointer(index: number, rgb: number): Uint8Array {
  const row = [rgb & 0xff, (rgb >> 8) & 0xff, (rgb >> 16) & 0xff, rgb & 0xff, (rgb >> 8) & 0xff, (rgb >> 16) & 0xff];
  const xor = [...row, ...row];
  const and = [0, 0, 0, 0];
  return fastPathPdu([{ code: FP_COLOR, data: bytes(le16(index), le16(0), le16(0), le16(2), le16(2), le16(and.length), le16(xor.length), xor, and) }]);
}

const colour = (s: { rgba: Uint8ClampedArray; width: number }, x = 10, y = 10) => {
  const [r, g, b] = pixel(s, x, y);
  return (r! << 16) | (g! << 8) | b!;
};

/** Two minutes: a colour every 10 s, a pointer defined early and recalled from its cache late, typing, markers. */
function sample(): Uint8Array {
  const recs: [number, number, Uint8Array][] = [[RDPREC.DESKTOP, 0, encodeDesktop(W, H, 32)]];
  for (let s = 0; s <= 120; s += 10) recs.push([RDPREC.FASTPATH_OUTPUT, s * 1000 + 5, fill(0x100000 * (s / 10) + 0x40)]);
  recs.push([RDPREC.FASTPATH_OUTPUT, 1000, colorPointer(3, 0xff0000)]);
  recs.push([RDPREC.INPUT, 1100, encodeInputEvents([{ kind: INPUT_KIND.MOUSE, flags: 0x0800, a: 20, b: 30 }])]);
  recs.push([RDPREC.FASTPATH_OUTPUT, 45_000, fastPathPdu([{ code: FP_PTR_DEFAULT, data: new Uint8Array(0) }])]);
  recs.push([RDPREC.FASTPATH_OUTPUT, 75_000, fastPathPdu([{ code: FP_CACHED, data: bytes(le16(3)) }])]);
  recs.push([RDPREC.KEYS, 12_000, new TextEncoder().encode('ls -')]);
  recs.push([RDPREC.KEYS, 12_500, new TextEncoder().encode('l\nwho')]);
  recs.push([RDPREC.KEYS, 14_000, new TextEncoder().encode('ami\n')]);
  recs.push([RDPREC.KEYS, 90_000, new TextEncoder().encode('exit')]);
  recs.sort((a, b) => a[1] - b[1]);
  const file = ghrecFile(recordingHeader({ width: W, height: H, keystrokes: true }), recs);
  return concat([file, encodeGhrecMarker(121_000, 'terminated', 'by admin: done')]);
}

describe('RDP player model', () => {
  it('reads typed lines (with when they started and ended), markers and the length', () => {
    const rec = parseRecording(sample());
    assert.equal(rec.duration, 121);
    assert.equal(rec.width, W);
    assert.deepEqual(rec.keyLines, [
      { start: 12, at: 12.5, text: 'ls -l' },
      { start: 12.5, at: 14, text: 'whoami' },
      { start: 90, at: 121, text: 'exit' },
    ]);
    assert.deepEqual(rec.markers, [{ at: 121, kind: 'terminated', text: 'by admin: done' }]);
  });

  it('shows the JSON details of session notes as short text', () => {
    assert.equal(markerText('{"user":"ghtarget","domain":"","removed":["drawing orders","brush cache"],"n":3}'), 'user: ghtarget · removed: drawing orders, brush cache · n: 3');
    assert.equal(markerText('by admin: done'), 'by admin: done');
    assert.equal(markerText('[1,2]'), '[1,2]');
  });

  it('refuses what is not an RDP recording with a plain sentence', () => {
    assert.throws(() => parseRecording(new TextEncoder().encode('{"version": 2, "width": 80}\n')), /terminal session recording/);
    assert.throws(() => parseRecording(new Uint8Array(20)), /not a Gatehouse recording/);
  });

  it('seeking forward and back shows exactly what decoding from the start shows, through snapshots', () => {
    const bytes = sample();
    const rec = parseRecording(bytes);
    const pb = new Playback(rec);
    const check = (seconds: number) => {
      pb.seek(seconds * 1000);
      assert.ok(pb.advance(seconds * 1000));
      const want = renderAt(bytes, seconds);
      assert.equal(colour(pb.screen), colour(want), `colour at ${seconds} s`);
      assert.deepEqual(pb.screen.cursor, want.cursor, `cursor at ${seconds} s`);
      assert.equal(pb.screen.pointer.shape?.width, want.pointer.shape?.width, `pointer at ${seconds} s`);
    };
    for (const t of [0, 5, 33, 119, 121]) check(t);
    assert.equal(pb.snapshotCount, 4, 'one snapshot per 30 s period');
    // Backwards: from the 60 s snapshot, the pointer recalled from the cache at 75 s is the one defined at 1 s.
    for (const t of [80, 31, 61, 0.5, 100]) check(t);
    pb.seek(80_000);
    pb.advance(80_000);
    assert.equal(colour({ rgba: pb.screen.pointer.shape!.rgba, width: 2 }, 0, 0), 0xff0000);
    assert.deepEqual([...pb.warnings], [], 'no warning from restoring snapshots');
  });

  it('keeps at most 16 snapshots however long the recording', () => {
    const recs: [number, number, Uint8Array][] = [[RDPREC.DESKTOP, 0, encodeDesktop(W, H, 32)]];
    for (let s = 0; s <= 4 * 3600; s += 20) recs.push([RDPREC.FASTPATH_OUTPUT, s * 1000, fill(s)]);
    const pb = new Playback(parseRecording(ghrecFile(recordingHeader({ width: W, height: H }), recs)));
    pb.advance(Infinity);
    assert.ok(pb.snapshotCount <= 16 && pb.snapshotCount >= 15, `${pb.snapshotCount} snapshots`);
  });

  it('decodes a long seek in slices when given a deadline', () => {
    const pb = new Playback(parseRecording(sample()));
    assert.equal(pb.advance(121_000, performance.now() - 1), false, 'stops after the first slice');
    assert.ok(pb.next > 0 && pb.next < 20);
    while (!pb.advance(121_000, performance.now() + 5));
    assert.equal(colour(pb.screen), 0x100000 * 12 + 0x40);
  });

  /**
   * Ticks at the same instant until the picture caught up: decoding per tick is cut by a
   * deadline on performance.now(), which these made-up frame times are not on, so how much
   * one tick decodes depends on the machine and on how long this process has run.
   */
  const catchUp = (c: PlayerClock, now: number) => {
    for (let i = 0; c.catchingUp && i < 100_000; i++) c.tick(now);
    assert.equal(c.catchingUp, false, 'the decoder caught up');
  };

  it('the clock runs at the chosen speed, holds while decoding lags, and skips idle gaps', () => {
    const rec = parseRecording(sample());
    const c = new PlayerClock(rec);
    c.skipIdle = false;
    c.play();
    c.tick(1000);
    c.tick(1500);
    assert.equal(c.t, 500);
    c.speed = 4;
    c.tick(2000);
    assert.equal(c.t, 2500);
    // Gaps: records at 1.1 s and 10.005 s. With skipping, half a second into the gap jumps to its end.
    c.skipIdle = true;
    c.tick(2100);
    assert.equal(c.t, 10_005);
    catchUp(c, 2100);
    assert.equal(colour(c.playback.screen), 0x100040);
    // Seeking backwards while playing goes on from there.
    c.seek(500);
    c.tick(2200);
    assert.equal(c.t, 500);
    c.tick(2300);
    assert.equal(c.t, 900);
    // At the end it stops; play starts again from the beginning.
    c.seek(200_000);
    assert.equal(c.t, 121_000);
    c.tick(2400);
    catchUp(c, 2400);
    c.tick(2500);
    assert.equal(c.playing, false);
    c.play();
    assert.equal(c.t, 0);
  });

  it('names decoder warnings in plain words', () => {
    assert.equal(warningText('surface-commands', 3), 'Some updates used an unsupported codec (surface commands) (3 times); parts of the picture may be missing or out of date.');
    assert.match(warningText('something-new', 1), /^Some updates could not be shown \(something new\);/);
  });
});

describe('RDP live feed', () => {
  const header: LiveHeader = { format: 'rdp', recorded: true, width: W, height: H, colorDepth: 32, sessionId: 's', user: 'u', secret: 'x' };
  const line = (type: number, time: number, payload: Uint8Array) => Buffer.from(encodeGhrecRecord(type, time, payload)).toString('base64');

  it('reads one base64 record per line', () => {
    const r = parseRecordLine(line(RDPREC.KEYS, 1234, new TextEncoder().encode('hi')));
    assert.deepEqual(r && { type: r.type, time: r.time, text: new TextDecoder().decode(r.payload) }, { type: RDPREC.KEYS, time: 1234, text: 'hi' });
    assert.equal(parseRecordLine('AAAA'), null);
  });

  it('records that arrive while the keyframe decodes wait and then apply on top of it', async () => {
    const green = new Uint8ClampedArray(W * H * 4);
    for (let i = 0; i < W * H; i++) green.set([0, 200, 0, 255], i * 4);
    let release!: () => void;
    const decoded = new Promise<void>((r) => (release = r));
    let changes = 0;
    const feed = new RdpLiveFeed(header, async () => (await decoded, { rgba: green, width: W, height: H }), () => changes++);
    const kf = feed.keyframe({ width: W, height: H, png: 'AA==' });
    assert.equal(feed.keyframeState, 'loading');
    // A red rectangle over the top-left 8×8 only.
    const red = new Uint8Array(8 * 8 * 4);
    for (let i = 0; i < 64; i++) red.set([0, 0, 255, 0], i * 4);
    feed.record(line(RDPREC.FASTPATH_OUTPUT, 10, fastPathPdu([{ code: FP_BITMAP, data: bitmapUpdate([{ left: 0, top: 0, width: 8, height: 8, bpp: 32, data: red }]) }])));
    assert.equal(colour(feed.screen, 1, 1), 0, 'not applied before the keyframe');
    release();
    await kf;
    assert.equal(feed.keyframeState, 'shown');
    assert.equal(colour(feed.screen, 1, 1), 0xff0000);
    assert.equal(colour(feed.screen, 30, 30), 0x00c800);
    assert.ok(changes >= 1);
    feed.record(line(RDPREC.FASTPATH_OUTPUT, 20, fill(0x123456)));
    assert.equal(colour(feed.screen, 1, 1), 0x123456);
  });

  it('without a keyframe (or with one that cannot be decoded) the picture fills in as records come', async () => {
    const feed = new RdpLiveFeed(header, async () => {
      throw new Error('bad png');
    });
    feed.record(line(RDPREC.FASTPATH_OUTPUT, 10, fill(0x0000ff)));
    assert.equal(colour(feed.screen), 0x0000ff);
    await feed.keyframe({ width: W, height: H, png: 'AA==' });
    assert.equal(feed.keyframeState, 'failed');
    feed.record(line(RDPREC.FASTPATH_OUTPUT, 20, fill(0x00ff00)));
    assert.equal(colour(feed.screen), 0x00ff00);
  });
});
