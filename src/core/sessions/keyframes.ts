// Keyframes for the live view of graphical sessions: the screen so far as a PNG. The core
// knows no screen: whoever owns a graphical recording format (the RDP decoder for "rdp")
// registers a KeyframeProvider for it, and this file only feeds it the recording's records.
// Each live session that someone has watched keeps one screen here that catches up on the
// recording file from where it stopped, so the first watcher pays for decoding the session
// so far and every later watcher only for what happened since (instead of re-decoding
// hours of recording on each visit). Screens of sessions that ended are dropped. A file
// that cannot be read gives no keyframe rather than an error.
//
// Decoding runs on the event loop that relays every session, so a long backlog is decoded
// by warm() in slices with a yield between them; keyframe() then only has the last slice
// to do, synchronously, right before the watcher subscribes (so no record is missed).
//
// A screen can hold records it has not drawn yet (the first parts of a fragmented RDP
// update): a keyframe taken then lacks them, and a watcher starting from it would get only
// the later parts and drop the whole update. So while the screen holds such records they
// are kept here too, and handed to the new watcher after the keyframe (held()).
import { encodeGhrecRecord, GhrecReader, type GhrecHeader, type GhrecRecord } from './ghrec.js';
import { ghrecLine, type GhrecWriter } from './ghrec-writer.js';
import type { LiveSession } from './live.js';

/** The screen of a graphical session at one moment: width × height, a PNG in base64. */
export interface Keyframe {
  width: number;
  height: number;
  png: string;
}

/** A screen that follows a graphical recording record by record and can draw itself as a keyframe. */
export interface KeyframeScreen {
  /** Never throws for a bad record (it is skipped); may throw only when the recording cannot be decoded at all. */
  apply(rec: GhrecRecord): unknown;
  keyframe(): Keyframe;
  /** Holds records applied but not drawn yet (what keyframe() shows lacks them). */
  readonly partial?: boolean;
}

/** Makes the screen for one recording of a format, from its header (the first record is about to be applied). */
export type KeyframeProvider = (header: GhrecHeader) => KeyframeScreen;

/** Where warnings go (a request's logger or the service's). */
export interface KeyframeLog {
  warn(obj: object, msg: string): void;
}

interface Follower {
  reader: GhrecReader;
  screen: KeyframeScreen | null;
  offset: number;
  /** A warm() in progress (two watchers arriving together share it). */
  warming: Promise<void> | null;
  /** The records applied since the screen became partial, encoded as the recording holds them. */
  held: Uint8Array[];
  /** Their payloads' bytes; -1 once past MAX_HELD, until the screen is no longer partial. */
  heldBytes: number;
}

const CHUNK = 1 << 20;
/**
 * Beyond this many bytes of held records none are kept (a new watcher then misses the update
 * in progress, as before this existed). The RDP decoder gives up on a fragmented update at 32 MiB.
 */
const MAX_HELD = 40 * 1024 * 1024;

export class Keyframes {
  private readonly followers = new Map<string, Follower>();
  /** Per ghrec format (the header's "format"); a format without one gives no keyframes. */
  private readonly providers: Map<string, KeyframeProvider>;

  constructor(
    private readonly isLive: (sessionId: string) => boolean,
    providers: Record<string, KeyframeProvider> = {},
  ) {
    this.providers = new Map(Object.entries(providers));
  }

  /** Registers the keyframe maker of a graphical recording format (done by whoever wires the server). */
  provide(format: string, provider: KeyframeProvider): void {
    this.providers.set(format, provider);
  }

  private prune(): void {
    for (const id of this.followers.keys()) if (!this.isLive(id)) this.followers.delete(id);
  }

  private follower(live: LiveSession): Follower {
    let f = this.followers.get(live.id);
    if (!f) this.followers.set(live.id, (f = { reader: new GhrecReader(), screen: null, offset: 0, warming: null, held: [], heldBytes: 0 }));
    return f;
  }

  /** Decodes the recording so far in slices, yielding to the event loop between them. */
  async warm(live: LiveSession, log: KeyframeLog): Promise<void> {
    this.prune();
    if (!live.ghrec) return;
    const f = this.follower(live);
    if (f.warming) return f.warming;
    const ghrec = live.ghrec;
    f.warming = (async () => {
      try {
        while (this.followers.get(live.id) === f && this.catchUp(f, ghrec, CHUNK) > CHUNK / 2) await new Promise((r) => setImmediate(r));
      } catch (e) {
        this.followers.delete(live.id);
        log.warn({ sessionId: live.id, err: (e as Error).message }, 'live view: the graphical recording so far could not be decoded');
      } finally {
        f.warming = null;
      }
    })();
    return f.warming;
  }

  /** The screen of a live session's recording up to now; null without a recording or when it cannot be decoded. */
  keyframe(live: LiveSession, log: KeyframeLog): Keyframe | null {
    this.prune();
    if (!live.ghrec) return null;
    const f = this.follower(live);
    try {
      this.catchUp(f, live.ghrec, Infinity);
      if (!f.screen) return null;
      return f.screen.keyframe();
    } catch (e) {
      this.followers.delete(live.id);
      log.warn({ sessionId: live.id, err: (e as Error).message }, 'live view: the graphical recording so far could not be decoded; sending no keyframe');
      return null;
    }
  }

  /**
   * The records a watcher applies after keyframe() to carry on from it (base64 lines, as the
   * live stream sends records): those the screen holds undrawn, usually none. Call right after
   * keyframe(), in the same synchronous step.
   */
  held(live: LiveSession): string[] {
    // Empty unless the screen is partial: hold() empties it on the first record after.
    return this.followers.get(live.id)?.held.map(ghrecLine) ?? [];
  }

  /** Decodes at most `budget` more bytes of the recording (whole reads); returns how many it read. */
  private catchUp(f: Follower, ghrec: GhrecWriter, budget: number): number {
    const start = f.offset;
    // The writer gives the container's bytes whether they are on disk yet or not, inflated when compressed.
    while (f.offset < ghrec.size && f.offset - start < budget) {
      const buf = ghrec.readFrom(f.offset, CHUNK);
      if (buf.length === 0) break;
      f.offset += buf.length;
      for (const rec of f.reader.push(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength))) {
        if (!f.screen) {
          const provider = this.providers.get(f.reader.header!.format);
          if (!provider) continue;
          f.screen = provider(f.reader.header!);
        }
        f.screen.apply(rec);
        this.hold(f, rec);
      }
    }
    return f.offset - start;
  }

  private hold(f: Follower, rec: GhrecRecord): void {
    if (!f.screen?.partial) {
      if (f.heldBytes) {
        f.held = [];
        f.heldBytes = 0;
      }
      return;
    }
    if (f.heldBytes < 0) return;
    f.heldBytes += rec.payload.length;
    if (f.heldBytes > MAX_HELD) {
      // Too much to hand on: none is kept until the screen draws or drops the update.
      f.held = [];
      f.heldBytes = -1;
      return;
    }
    f.held.push(encodeGhrecRecord(rec.type, rec.time, rec.payload));
  }
}
