// The live view of an RDP session, fed by the Server-Sent Events of GET /sessions/:id/live:
// `header` (format "rdp" and the recording header), optionally `keyframe` (the screen so far
// as a PNG), then one ghrec record per `data:` line in base64. Records that arrive while the
// keyframe's PNG is still being decoded wait, so they are applied in order on top of it.
import type { GhrecRecord } from '../../../src/core/sessions/ghrec.js';
import { RdpScreen } from './decoder.js';

export interface LiveHeader {
  format: 'rdp';
  /** Whether the launcher records the session (without a recording there is nothing to stream). */
  recorded: boolean;
  width?: number;
  height?: number;
  colorDepth?: number;
  sessionId: string;
  user: string;
  secret: string;
}

export interface Keyframe {
  width: number;
  height: number;
  /** base64 PNG of the whole screen. */
  png: string;
}

/** Turns a PNG into RGBA pixels (the browser does it with createImageBitmap and a canvas). */
export type PngDecoder = (png: Uint8Array<ArrayBuffer>) => Promise<{ rgba: Uint8ClampedArray; width: number; height: number }>;

const RECORD_HEAD = 9;

export function base64Bytes(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** One record as the gateway wrote it: type u8 | time u32le | len u32le | payload (see ghrec.ts). */
export function parseRecordLine(b64: string): GhrecRecord | null {
  const b = base64Bytes(b64.trim());
  if (b.length < RECORD_HEAD) return null;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const len = dv.getUint32(5, true);
  if (b.length < RECORD_HEAD + len) return null;
  return { type: b[0]!, time: dv.getUint32(1, true), payload: b.subarray(RECORD_HEAD, RECORD_HEAD + len) };
}

export class RdpLiveFeed {
  screen: RdpScreen;
  /** Incremented whenever the picture changes. */
  version = 0;
  /**
   * The screen before the auditor arrived: none (no recording yet, or the server could not
   * decode it: the picture fills in as the screen changes), loading, shown or failed (the PNG).
   */
  keyframeState: 'none' | 'loading' | 'shown' | 'failed' = 'none';
  private waiting: GhrecRecord[] | null = null;
  private closed = false;

  constructor(
    readonly header: LiveHeader,
    private readonly decodePng: PngDecoder,
    private readonly onChange: () => void = () => {},
  ) {
    const ok = (v: number | undefined) => typeof v === 'number' && v > 0 && v <= 8192;
    this.screen = new RdpScreen(ok(header.width) ? header.width! : 1024, ok(header.height) ? header.height! : 768, ok(header.colorDepth) ? header.colorDepth : undefined);
  }

  keyframe(k: Keyframe): Promise<void> {
    const queue: GhrecRecord[] = [];
    this.waiting = queue;
    this.keyframeState = 'loading';
    return this.decodePng(base64Bytes(k.png))
      .then(({ rgba, width, height }) => {
        if (this.closed) return;
        this.screen.load(rgba, width, height);
        this.keyframeState = 'shown';
      })
      .catch(() => {
        this.keyframeState = 'failed';
      })
      .finally(() => {
        if (this.waiting === queue) this.waiting = null;
        for (const r of queue) this.apply(r);
        this.version++;
        this.onChange();
      });
  }

  /** One `data:` line of the stream. */
  record(b64: string): void {
    const r = parseRecordLine(b64);
    if (!r) return;
    if (this.waiting) this.waiting.push(r);
    else if (this.apply(r)) {
      this.version++;
      this.onChange();
    }
  }

  private apply(r: GhrecRecord): boolean {
    try {
      return this.screen.apply(r);
    } catch {
      this.screen.warnings.set('record-error', (this.screen.warnings.get('record-error') ?? 0) + 1);
      return false;
    }
  }

  close(): void {
    this.closed = true;
  }
}
