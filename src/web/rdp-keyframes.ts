// Keyframes for the live view of RDP sessions: the screen so far as a PNG. Each live session
// that someone has watched keeps one decoder here that catches up on the recording file
// from where it stopped, so the first watcher pays for decoding the session so far and
// every later watcher only for what happened since (instead of re-decoding hours of
// recording on each visit). Decoders of sessions that ended are dropped. Whatever the
// recording says, a kept screen is at most MAX_SCREEN_PIXELS (36 MiB; the decoder fits every
// size to it), and a file that cannot be read gives no keyframe rather than an error.
//
// Decoding runs on the event loop that relays every session, so a long backlog is decoded
// by warm() in slices with a yield between them; keyframe() then only has the last slice
// to do, synchronously, right before the watcher subscribes (so no record is missed).
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
  /** A warm() in progress (two watchers arriving together share it). */
  warming: Promise<void> | null;
}

const CHUNK = 1 << 20;

export class RdpKeyframes {
  private readonly followers = new Map<string, Follower>();

  constructor(private readonly isLive: (sessionId: string) => boolean) {}

  private prune(): void {
    for (const id of this.followers.keys()) if (!this.isLive(id)) this.followers.delete(id);
  }

  private follower(live: LiveSession): Follower {
    let f = this.followers.get(live.id);
    if (!f) this.followers.set(live.id, (f = { reader: new GhrecReader(), screen: null, offset: 0, warming: null }));
    return f;
  }

  /** Decodes the recording so far in slices, yielding to the event loop between them. */
  async warm(live: LiveSession, log: FastifyBaseLogger): Promise<void> {
    this.prune();
    if (!live.ghrec) return;
    const f = this.follower(live);
    if (f.warming) return f.warming;
    const path = live.ghrec.path;
    f.warming = (async () => {
      try {
        while (this.followers.get(live.id) === f && this.catchUp(f, path, CHUNK) > CHUNK / 2) await new Promise((r) => setImmediate(r));
      } catch (e) {
        this.followers.delete(live.id);
        log.warn({ sessionId: live.id, err: (e as Error).message }, 'live view: the RDP recording so far could not be decoded');
      } finally {
        f.warming = null;
      }
    })();
    return f.warming;
  }

  /** The screen of a live session's recording up to now; null without a recording or when it cannot be decoded. */
  keyframe(live: LiveSession, log: FastifyBaseLogger): { width: number; height: number; png: string } | null {
    this.prune();
    if (!live.ghrec) return null;
    live.flushRecording();
    const f = this.follower(live);
    try {
      this.catchUp(f, live.ghrec.path, Infinity);
      if (!f.screen) return null;
      return { width: f.screen.width, height: f.screen.height, png: encodePng(f.screen.rgba, f.screen.width, f.screen.height).toString('base64') };
    } catch (e) {
      this.followers.delete(live.id);
      log.warn({ sessionId: live.id, err: (e as Error).message }, 'live view: the RDP recording so far could not be decoded; sending no keyframe');
      return null;
    }
  }

  /** Decodes at most `budget` more bytes of the file (whole reads); returns how many it read. */
  private catchUp(f: Follower, path: string, budget: number): number {
    const fd = openSync(path, 'r');
    const start = f.offset;
    try {
      const size = fstatSync(fd).size;
      const buf = Buffer.alloc(CHUNK);
      while (f.offset < size && f.offset - start < budget) {
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
    return f.offset - start;
  }
}
