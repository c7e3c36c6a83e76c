// Keyframes for the live view of RDP sessions: the screen so far as a PNG. Each live session
// that someone has watched keeps one decoder here that catches up on the recording file
// from where it stopped, so the first watcher pays for decoding the session so far and
// every later watcher only for what happened since (instead of re-decoding hours of
// recording on each visit). Decoders of sessions that ended are dropped.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { FastifyBaseLogger } from 'fastify';
import { GhrecReader } from '../core/sessions/ghrec.js';
import type { LiveSession } from '../core/sessions/live.js';
import { RdpScreen } from '../protocols/rdp/recording/decoder/index.js';
import { encodePng } from '../protocols/rdp/recording/png.js';

interface Follower {
  reader: GhrecReader;
  screen: RdpScreen | null;
  offset: number;
}

const CHUNK = 1 << 20;

export class RdpKeyframes {
  private readonly followers = new Map<string, Follower>();

  constructor(private readonly isLive: (sessionId: string) => boolean) {}

  /** The screen of a live session's recording up to now; null without a recording or when it cannot be decoded. */
  keyframe(live: LiveSession, log: FastifyBaseLogger): { width: number; height: number; png: string } | null {
    for (const id of this.followers.keys()) if (!this.isLive(id)) this.followers.delete(id);
    if (!live.ghrec) return null;
    live.flushRecording();
    let f = this.followers.get(live.id);
    if (!f) this.followers.set(live.id, (f = { reader: new GhrecReader(), screen: null, offset: 0 }));
    try {
      this.catchUp(f, live.ghrec.path);
      if (!f.screen) return null;
      return { width: f.screen.width, height: f.screen.height, png: encodePng(f.screen.rgba, f.screen.width, f.screen.height).toString('base64') };
    } catch (e) {
      this.followers.delete(live.id);
      log.warn({ sessionId: live.id, err: (e as Error).message }, 'live view: the RDP recording so far could not be decoded; sending no keyframe');
      return null;
    }
  }

  private catchUp(f: Follower, path: string): void {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const buf = Buffer.alloc(CHUNK);
      while (f.offset < size) {
        const n = readSync(fd, buf, 0, Math.min(CHUNK, size - f.offset), f.offset);
        if (n <= 0) break;
        f.offset += n;
        for (const rec of f.reader.push(new Uint8Array(buf.subarray(0, n)))) {
          if (!f.screen) {
            const h = f.reader.header as { width?: unknown; height?: unknown; colorDepth?: unknown } | null;
            f.screen = new RdpScreen(Number(h?.width) || 1024, Number(h?.height) || 768, Number(h?.colorDepth) || 32);
          }
          f.screen.apply(rec);
        }
      }
    } finally {
      closeSync(fd);
    }
  }
}
