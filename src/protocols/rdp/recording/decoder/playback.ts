// Playing an RDP recording back: open and check the container, render the screen at a given
// time, or step through it at a fixed frame rate for a video. Frames keep the first desktop
// size; a later resize is drawn into that canvas from its top-left corner (cropped or padded).
//
// Neutral code (no Node.js APIs).
import { GhrecError, readGhrec, type GhrecHeader, type GhrecRecord } from '../../../../core/sessions/ghrec.js';
import { MAX_DESKTOP, screenSize } from '../desktop-size.js';
import { decodeDesktop, RDP_RECORDING_FORMAT, RDPREC, type RdpRecordingHeader } from '../records.js';
import { packRgb } from './colors.js';
import { defaultPointer, drawPointer } from './pointer.js';
import { RdpScreen } from './screen.js';

/** A file that cannot be played as an RDP recording; the message is one plain sentence. */
export class RdpRecordingError extends Error {}

export interface RdpRecording {
  header: GhrecHeader & Partial<RdpRecordingHeader>;
  records: GhrecRecord[];
  /** The file ends inside a record (the recorder was cut off); what came before plays. */
  truncated: boolean;
  /** Seconds from the start to the last record. */
  duration: number;
  /**
   * The first desktop: the first DESKTOP record, else the header's size; as a screen holds it
   * (at most MAX_SCREEN_PIXELS, see screenSize()).
   */
  width: number;
  height: number;
  bpp: number;
}

const fromUtf8 = new TextDecoder();

/** True for an asciicast (terminal) recording: JSON lines starting with a header object. */
export function isAsciicast(bytes: Uint8Array): boolean {
  const head = fromUtf8.decode(bytes.subarray(0, 4096)).trimStart();
  if (!head.startsWith('{')) return false;
  const line = head.split('\n', 1)[0]!;
  try {
    const h = JSON.parse(line) as { version?: unknown };
    return typeof h?.version === 'number';
  } catch {
    return /"version"\s*:/.test(line);
  }
}

/** Parses a whole .ghrec file of the "rdp" format; throws RdpRecordingError otherwise. */
export function openRdpRecording(bytes: Uint8Array): RdpRecording {
  if (isAsciicast(bytes)) throw new RdpRecordingError('this is a terminal session recording (asciicast), not an RDP one: play it with `asciinema play`');
  let parsed: ReturnType<typeof readGhrec>;
  try {
    parsed = readGhrec(bytes);
  } catch (e) {
    if (e instanceof GhrecError) throw new RdpRecordingError(e.message);
    throw e;
  }
  const header = parsed.header as GhrecHeader & Partial<RdpRecordingHeader>;
  if (header.format !== RDP_RECORDING_FORMAT) throw new RdpRecordingError(`unsupported recording format "${String(header.format)}" (expected "${RDP_RECORDING_FORMAT}")`);
  let width = positive(header.width) ?? 1024;
  let height = positive(header.height) ?? 768;
  let bpp = positive(header.colorDepth) ?? 32;
  let end = 0;
  let sized = false;
  for (const r of parsed.records) {
    if (r.time > end) end = r.time;
    if (!sized && r.type === RDPREC.DESKTOP) {
      const d = decodeDesktop(r.payload);
      if (d && d.width > 0 && d.height > 0 && d.width <= MAX_DESKTOP && d.height <= MAX_DESKTOP) {
        ({ width, height, bpp } = d);
        sized = true;
      }
    }
  }
  ({ width, height } = screenSize(width, height));
  return { header, records: parsed.records, truncated: parsed.truncated, duration: end / 1000, width, height, bpp };
}

function positive(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= MAX_DESKTOP ? v : undefined;
}

const asRecording = (r: Uint8Array | RdpRecording): RdpRecording => (r instanceof Uint8Array ? openRdpRecording(r) : r);

/** The screen as it was `seconds` into the recording (every record up to that time applied). */
export function renderAt(bytes: Uint8Array | RdpRecording, seconds: number): RdpScreen {
  const rec = asRecording(bytes);
  const screen = new RdpScreen(rec.width, rec.height, rec.bpp);
  const limit = seconds * 1000;
  for (const r of rec.records) {
    if (r.time > limit) break;
    screen.apply(r);
  }
  return screen;
}

export interface FrameOptions {
  /** Canvas size (default: the first desktop's); e.g. rounded up to even numbers for x264. */
  width?: number;
  height?: number;
  /** Draw the pointer (default true). */
  cursor?: boolean;
}

export interface VideoFrame {
  index: number;
  /** Seconds from the start. */
  time: number;
  screen: RdpScreen;
  /** The composed frame, width × height RGBA; the same buffer is reused for every frame. */
  rgba: Uint8ClampedArray;
  width: number;
  height: number;
}

/** How many frames a recording of this duration gives at `fps` (the first at 0 s, the last at or before the end). */
export function frameCount(duration: number, fps: number): number {
  return Math.floor(duration * fps + 1e-9) + 1;
}

/**
 * The recording at a fixed frame rate: each frame is the screen at that time (the last
 * state held between updates), composed into a fixed canvas with the pointer on top.
 */
export function* frames(bytes: Uint8Array | RdpRecording, fps: number, opts: FrameOptions = {}): Generator<VideoFrame> {
  if (!(fps > 0) || !Number.isFinite(fps)) throw new RangeError('fps must be a positive number');
  const rec = asRecording(bytes);
  const width = opts.width ?? rec.width;
  const height = opts.height ?? rec.height;
  const cursor = opts.cursor ?? true;
  const screen = new RdpScreen(rec.width, rec.height, rec.bpp);
  const rgba = new Uint8ClampedArray(width * height * 4);
  const n = frameCount(rec.duration, fps);
  let k = 0;
  let dirty = true;
  let pointerSerial = -1;
  for (let i = 0; i < n; i++) {
    const limit = (i * 1000) / fps;
    while (k < rec.records.length && rec.records[k]!.time <= limit) {
      if (screen.apply(rec.records[k]!)) dirty = true;
      k++;
    }
    if (dirty || (cursor && screen.pointerSerial !== pointerSerial)) {
      composeFrame(screen, rgba, width, height, cursor);
      dirty = false;
      pointerSerial = screen.pointerSerial;
    }
    yield { index: i, time: i / fps, screen, rgba, width, height };
  }
}

const OPAQUE_BLACK = packRgb(0, 0, 0);

/**
 * Draws the screen into an RGBA canvas of any size from its top-left corner (black where the
 * screen does not reach), and the pointer on top when `cursor` is set and its position is known.
 */
export function composeFrame(screen: RdpScreen, out: Uint8ClampedArray | Uint8Array, width: number, height: number, cursor = true): void {
  const dst = new Uint32Array(out.buffer, out.byteOffset, width * height);
  const src = new Uint32Array(screen.rgba.buffer, screen.rgba.byteOffset, screen.width * screen.height);
  const w = Math.min(width, screen.width);
  const h = Math.min(height, screen.height);
  if (w < width || h < height) dst.fill(OPAQUE_BLACK);
  for (let y = 0; y < h; y++) dst.set(src.subarray(y * screen.width, y * screen.width + w), y * width);
  if (cursor && screen.cursor && screen.pointer.visible) drawPointer(out, width, height, screen.pointer.shape ?? defaultPointer(), screen.cursor.x, screen.cursor.y);
}
