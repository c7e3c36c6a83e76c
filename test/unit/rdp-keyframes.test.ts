// Live-view keyframes of RDP sessions: the first watcher decodes the recording so far, later
// watchers only what was appended since, and the PNG always shows the screen as of now. A
// hostile recording neither makes the gateway hold a screen beyond MAX_SCREEN_PIXELS nor
// crashes it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { GhrecWriter } from '../../src/core/sessions/ghrec-writer.js';
import type { LiveSession } from '../../src/core/sessions/live.js';
import { encodeGhrecHeader, encodeGhrecRecord } from '../../src/core/sessions/ghrec.js';
import { MAX_SCREEN_PIXELS, type RdpScreen } from '../../src/protocols/rdp/recording/decoder/index.js';
import { rdpKeyframes } from '../../src/protocols/rdp/recording/keyframes.js';
import { encodeDesktop, RDP_RECORDING_FORMAT, RDPREC } from '../../src/protocols/rdp/recording/records.js';
import { Keyframes } from '../../src/core/sessions/keyframes.js';
import { decodePng } from '../support/export.js';
import { bitmapUpdate, fastPathPdu, recordingHeader } from '../protocols/rdp/decoder-support.js';

const W = 32;
const H = 16;

/** A full-screen uncompressed 32 bpp bitmap update of one colour. */
function fill([r, g, b]: number[]): Uint8Array {
  const data = new Uint8Array(W * H * 4);
  for (let i = 0; i < W * H; i++) data.set([b!, g!, r!, 0], i * 4);
  return fastPathPdu([{ code: 0x1, data: bitmapUpdate([{ left: 0, top: 0, width: W, height: H, bpp: 32, data }]) }]);
}

describe('live-view keyframes of RDP sessions', () => {
  it('follow the recording incrementally, decode long backlogs in slices, and are dropped when the session ends', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyframes-'));
    try {
      const writer = new GhrecWriter(join(dir, 's.ghrec'), { ...recordingHeader({ width: W, height: H }) });
      const live = { id: 's1', ghrec: writer, flushRecording: () => writer.flush() } as unknown as LiveSession;
      let liveIds = new Set(['s1']);
      const kf = new Keyframes((id) => liveIds.has(id), { [RDP_RECORDING_FORMAT]: rdpKeyframes });
      const log = pino({ level: 'silent' });
      const colourAt = (k: { png: string } | null, x: number, y: number) => {
        const img = decodePng(Buffer.from(k!.png, 'base64'));
        return [...img.rgba.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 3)];
      };

      assert.equal(kf.keyframe(live, log), null, 'nothing recorded yet');
      writer.record(RDPREC.DESKTOP, encodeDesktop(W, H, 32));
      writer.record(RDPREC.FASTPATH_OUTPUT, fill([255, 0, 0]));
      const first = kf.keyframe(live, log);
      assert.deepEqual([first?.width, first?.height], [W, H]);
      assert.deepEqual(colourAt(first, 5, 5), [255, 0, 0]);

      writer.record(RDPREC.FASTPATH_OUTPUT, fill([0, 0, 255]));
      const follower = (kf as unknown as { followers: Map<string, { offset: number }> }).followers.get('s1')!;
      const before = follower.offset;
      assert.deepEqual(colourAt(kf.keyframe(live, log), 5, 5), [0, 0, 255], 'the later watcher sees the screen as of now');
      assert.ok(follower.offset > before, 'only the appended part was read');

      // A backlog of several MiB is decoded by warm() in slices: the event loop gets turns in between.
      for (let i = 0; i < 3000; i++) writer.record(RDPREC.FASTPATH_OUTPUT, fill(i % 2 ? [0, 255, 0] : [255, 255, 0]));
      writer.record(RDPREC.FASTPATH_OUTPUT, fill([0, 255, 0]));
      writer.flush();
      let turns = 0;
      const ticker = setInterval(() => turns++, 0);
      await kf.warm(live, log);
      clearInterval(ticker);
      assert.ok(turns >= 2, `the event loop ran ${turns} times while a ${(follower.offset / 2 ** 20).toFixed(1)} MiB backlog was decoded`);
      assert.deepEqual(colourAt(kf.keyframe(live, log), 5, 5), [0, 255, 0]);

      liveIds = new Set();
      const other = { id: 's2', ghrec: null, flushRecording() {} } as unknown as LiveSession;
      kf.keyframe(other, log);
      assert.equal((kf as unknown as { followers: Map<string, unknown> }).followers.size, 0, 'ended sessions forget their decoder');
      writer.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a hostile recording: the screen kept for the session stays within MAX_SCREEN_PIXELS, and a broken file gives no keyframe instead of an error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyframes-'));
    try {
      const log = pino({ level: 'silent' });
      const kf = new Keyframes(() => true, { [RDP_RECORDING_FORMAT]: rdpKeyframes });
      const screenOf = (id: string) => (kf as unknown as { followers: Map<string, { screen: RdpScreen | null }> }).followers.get(id)?.screen;
      const bounded = (k: { width: number; height: number; png: string } | null, id: string, what = id) => {
        assert.ok(k, `${what}: a keyframe`);
        assert.ok(k.width * k.height <= MAX_SCREEN_PIXELS, `${what}: keyframe of ${k.width}x${k.height}`);
        const img = decodePng(Buffer.from(k.png, 'base64'));
        assert.deepEqual([img.width, img.height], [k.width, k.height]);
        const s = screenOf(id)!;
        assert.ok(s.rgba.length <= MAX_SCREEN_PIXELS * 4, `${what}: the gateway holds ${s.rgba.length} bytes of screen`);
      };

      // A header claiming a huge desktop, then DESKTOP records of every hostile kind.
      const writer = new GhrecWriter(join(dir, 'huge.ghrec'), { ...recordingHeader({ width: 65535, height: 65535 }) });
      const huge = { id: 'huge', ghrec: writer, flushRecording: () => writer.flush() } as unknown as LiveSession;
      writer.record(RDPREC.FASTPATH_OUTPUT, fill([255, 0, 0]));
      bounded(kf.keyframe(huge, log), 'huge', 'header 65535x65535');
      for (const [w, h] of [[8192, 8192], [65535, 65535], [0, 0], [8192, 1], [1, 8192], [5000, 5000]]) {
        writer.record(RDPREC.DESKTOP, encodeDesktop(w!, h!, 32));
        bounded(kf.keyframe(huge, log), 'huge', `DESKTOP ${w}x${h}`);
      }
      writer.record(RDPREC.FASTPATH_OUTPUT, fill([0, 0, 255]));
      const k = kf.keyframe(huge, log)!;
      bounded(k, 'huge', 'after drawing');
      const img = decodePng(Buffer.from(k.png, 'base64'));
      assert.deepEqual([...img.rgba.subarray(0, 3)], [0, 0, 255], 'it still draws');
      writer.close();

      // Files that are not recordings, or break off into garbage: no keyframe, no exception.
      const broken: [string, Uint8Array][] = [
        ['noise', Uint8Array.from({ length: 5000 }, (_, i) => (i * 131) & 0xff)],
        ['bad header', Buffer.concat([Buffer.from(encodeGhrecHeader({ ...recordingHeader() })).subarray(0, 14), Buffer.from('{not json at all'.padEnd(200, '!'))])],
        ['huge record length', Buffer.concat([encodeGhrecHeader({ ...recordingHeader() }), encodeGhrecRecord(RDPREC.DESKTOP, 0, encodeDesktop(8192, 8192, 32)), Buffer.from([2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])])],
      ];
      for (const [name, bytes] of broken) {
        const path = join(dir, `${name}.ghrec`);
        writeFileSync(path, bytes);
        // The keyframes read a recording through its writer (what is on disk and on its way to it).
        const ghrec = { path, size: bytes.length, readFrom: (o: number, max = Infinity) => Buffer.from(bytes).subarray(o, o + max) };
        const live = { id: name, ghrec, flushRecording() {} } as unknown as LiveSession;
        await kf.warm(live, log);
        const got = kf.keyframe(live, log);
        if (got) bounded(got, name);
        else assert.equal(screenOf(name), undefined, `${name}: its decoder is dropped`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
