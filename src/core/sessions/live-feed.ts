// The live view of a session as the core offers it: how it opens (a header and what was
// recorded so far — the tail of a terminal recording, or a keyframe of a graphical one)
// and then every record recorded after that, until the session ends. The web layer only
// turns a feed into Server-Sent Events: it reads no recording file and decodes no
// protocol. Keyframes come from the provider registered for the recording's format
// (keyframes.ts), so this file knows only whether a session shows a screen or a terminal.
import type { Keyframe, KeyframeLog, Keyframes } from './keyframes.js';
import type { LiveSession, Subscriber } from './live.js';

const BACKLOG_BYTES = 4 * 1024 * 1024;

/** Sessions of these protocols show a screen (graphical recording), the others a terminal. */
const SCREEN_PROTOCOLS: ReadonlySet<string> = new Set(['rdp']);

/**
 * Event lines of a live session's recording so far (at most the last 4 MiB, whole lines).
 * Read from the writer (the file, inflated when compressed, and what is on its way to it),
 * synchronously, so the subscription made right after misses no line.
 */
export function recordingBacklog(live: LiveSession): string[] {
  if (!live.cast) return [];
  const size = live.cast.size;
  // Object storage spools a recording in parts: what already left this node's spool is not read back.
  const start = Math.max(0, size - BACKLOG_BYTES, live.cast.keptFrom);
  const lines = live.cast.readFrom(start).toString('utf8').split('\n');
  // Drop the header (first line of the file) or a line cut by the 4 MiB window.
  lines.shift();
  return lines.filter((l) => l.startsWith('['));
}

/** How a live view opens. */
export interface FeedOpening {
  /**
   * Terminal: the asciicast header (version 2, the terminal size). Screen: the graphical
   * recording's header with its format and whether it is recorded. Both name the session,
   * its user and its secret.
   */
  header: Record<string, unknown>;
  /**
   * Terminal: the asciicast event lines recorded so far. Screen: the records to apply after
   * the keyframe, in base64 (the first parts of an update the keyframe does not show yet).
   */
  backlog: string[];
  /** Screen: the picture so far (null when not recorded, nothing drawn yet, or undecodable). */
  keyframe: Keyframe | null;
}

export class LiveFeed {
  /** A screen (records are ghrec records in base64) rather than a terminal (asciicast lines). */
  readonly graphical: boolean;

  constructor(
    private readonly live: LiveSession,
    private readonly keyframes: Keyframes,
  ) {
    this.graphical = SCREEN_PROTOCOLS.has(live.plan.protocol);
  }

  get sessionId(): string {
    return this.live.id;
  }

  /** The launcher's allowLiveSnooping (seed 003; left out = allowed). */
  get snoopingAllowed(): boolean {
    return this.live.plan.launcher.options.allowLiveSnooping !== false;
  }

  /** The session ended meanwhile: there is nothing to watch. */
  get ended(): boolean {
    return this.live.isEnded;
  }

  /** The slow part, before open(): a long graphical backlog is decoded in slices, so other sessions keep flowing meanwhile. */
  async prepare(log: KeyframeLog): Promise<void> {
    if (this.graphical) await this.keyframes.warm(this.live, log);
  }

  /**
   * The opening and the subscription to every record after it (asciicast lines, or ghrec
   * records in base64; '' when the session ends). Flushing, reading and subscribing run in
   * one synchronous step, so no record falls between the opening and the stream.
   */
  open(log: KeyframeLog, onRecord: Subscriber): FeedOpening & { unsubscribe: () => void } {
    const live = this.live;
    const who = { sessionId: live.id, user: live.plan.user.username, secret: live.plan.credential.secretName };
    let opening: FeedOpening;
    if (this.graphical) {
      const header = { ...live.ghrec?.header, format: live.ghrec?.header.format ?? live.plan.protocol, recorded: live.plan.launcher.record, ...who };
      const keyframe = this.keyframes.keyframe(live, log);
      opening = { header, backlog: keyframe ? this.keyframes.held(live) : [], keyframe };
    } else {
      opening = { header: { version: 2, width: live.size.cols, height: live.size.rows, ...who }, backlog: recordingBacklog(live), keyframe: null };
    }
    const unsubscribe = live.subscribe(onRecord);
    return { ...opening, unsubscribe };
  }
}
