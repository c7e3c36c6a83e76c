// Live-view keyframes of RDP sessions: the first watcher decodes the recording so far, later
// watchers only what was appended since, and the PNG always shows the screen as of now.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { GhrecWriter } from '../../src/core/sessions/ghrec-writer.js';
import type { LiveSession } from '../../src/core/sessions/live.js';
import { encodeDesktop, RDPREC } from '../../src/protocols/rdp/recording/records.js';
import { RdpKeyframes } from '../../src/web/rdp-keyframes.js';
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
      const kf = new RdpKeyframes((id) => liveIds.has(id));
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
});
