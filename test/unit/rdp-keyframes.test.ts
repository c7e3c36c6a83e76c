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
import { ghrecLine, GhrecWriter } from '../../src/core/sessions/ghrec-writer.js';
import type { LiveSession } from '../../src/core/sessions/live.js';
import { encodeGhrecHeader, encodeGhrecRecord } from '../../src/core/sessions/ghrec.js';
import { MAX_SCREEN_PIXELS, type RdpScreen } from '../../src/protocols/rdp/recording/decoder/index.js';
import { rdpKeyframes } from '../../src/protocols/rdp/recording/keyframes.js';
import { encodeDesktop, RDP_RECORDING_FORMAT, RDPREC } from '../../src/protocols/rdp/recording/records.js';
import { Keyframes } from '../../src/core/sessions/keyframes.js';
import { LiveFeed } from '../../src/core/sessions/live-feed.js';
import { RdpLiveFeed, type LiveHeader } from '../../ui/src/rdp/stream.js';
import { decodePng } from '../support/export.js';
import { bitmapUpdate, fastPathPdu, fragmentedPdus, recordingHeader } from '../protocols/rdp/decoder-support.js';

const W = 32;
const H = 16;

/** The data of a full-screen uncompressed 32 bpp bitmap update of one colour. */
function fillUpdate([r, g, b]: number[]): Uint8Array {
  const data = new Uint8Array(W * H * 4);
  for (let i = 0; i < W * H; i++) data.set([b!, g!, r!, 0], i * 4);
  return bitmapUpdate([{ left: 0, top: 0, width: W, height: H, bpp: 32, data }]);
}

/** That update in one fast-path PDU. */
const fill = (rgb: number[]) => fastPathPdu([{ code: 0x1, data: fillUpdate(rgb) }]);

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

  it('a watcher arriving in the middle of a fragmented update gets its first parts after the keyframe and draws the update when its last part comes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyframes-'));
    try {
      const log = pino({ level: 'silent' });
      const kf = new Keyframes(() => true, { [RDP_RECORDING_FORMAT]: rdpKeyframes });
      const subscribers = new Set<(line: string) => void>();
      const writer = new GhrecWriter(join(dir, 's.ghrec'), { ...recordingHeader({ width: W, height: H }) }, (rec) => {
        for (const s of subscribers) s(ghrecLine(rec));
      });
      const live = {
        id: 'frag',
        ghrec: writer,
        isEnded: false,
        plan: { protocol: 'rdp', user: { username: 'olive' }, credential: { secretName: 'desk' }, launcher: { record: true, options: {} } },
        subscribe: (s: (line: string) => void) => (subscribers.add(s), () => subscribers.delete(s)),
      } as unknown as LiveSession;
      const pngDecoder = async (png: Uint8Array) => {
        const img = decodePng(Buffer.from(png));
        return { rgba: new Uint8ClampedArray(img.rgba), width: img.width, height: img.height };
      };
      const pixel = (feed: RdpLiveFeed) => [...feed.screen.rgba.subarray((5 * W + 5) * 4, (5 * W + 5) * 4 + 3)];
      /** A watcher as the browser is one: the keyframe, the opening's records, then the stream. */
      const watch = async () => {
        const stream: string[] = [];
        const opening = new LiveFeed(live, kf).open(log, (line) => stream.push(line));
        const feed = new RdpLiveFeed(opening.header as unknown as LiveHeader, pngDecoder);
        const shown = opening.keyframe ? feed.keyframe(opening.keyframe) : Promise.resolve();
        for (const line of opening.backlog) feed.record(line);
        await shown;
        return { feed, opening, deliver: () => stream.splice(0).forEach((l) => feed.record(l)) };
      };

      writer.record(RDPREC.DESKTOP, encodeDesktop(W, H, 32));
      writer.record(RDPREC.FASTPATH_OUTPUT, fill([255, 0, 0]));
      const calm = await watch();
      assert.deepEqual(calm.opening.backlog, [], 'no update in progress: nothing after the keyframe');

      // A blue screen in three fragments; the watcher arrives after the first two.
      const blue = fillUpdate([0, 0, 255]);
      const [first, next, last] = fragmentedPdus(0x1, blue, Math.ceil(blue.length / 3));
      assert.ok(first && next && last);
      writer.record(RDPREC.FASTPATH_OUTPUT, first);
      writer.record(RDPREC.INPUT, new Uint8Array(0));
      writer.record(RDPREC.FASTPATH_OUTPUT, next);
      const mid = await watch();
      assert.equal(mid.opening.backlog.length, 3, 'the parts so far (and the record between them) follow the keyframe');
      assert.deepEqual(pixel(mid.feed), [255, 0, 0], 'the keyframe is the screen before the update');
      writer.record(RDPREC.FASTPATH_OUTPUT, last);
      mid.deliver();
      calm.deliver();
      assert.deepEqual(pixel(mid.feed), [0, 0, 255], 'the watcher who came in the middle draws the update');
      assert.deepEqual(pixel(calm.feed), [0, 0, 255]);
      assert.equal(mid.feed.screen.warnings.get('fragment'), undefined, 'no part without its start');

      // Once the update is drawn, a new watcher again gets the keyframe alone, and it shows the update.
      const after = await watch();
      assert.deepEqual(after.opening.backlog, []);
      assert.deepEqual(pixel(after.feed), [0, 0, 255]);
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
