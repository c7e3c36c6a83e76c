// The screen an RDP recording describes, rebuilt record by record: a framebuffer the
// graphics records draw into, the desktop size from DESKTOP records, and the pointer (from
// the server's pointer updates and the client's mouse input). Malformed or unsupported data
// is skipped and counted in `warnings`; apply() never throws. Whatever size a recording
// asks for, the framebuffer never exceeds MAX_SCREEN_PIXELS (../desktop-size.ts).
//
// Neutral code (no Node.js APIs): the browser player and the live view use it too.
import type { GhrecRecord } from '../../../../core/sessions/ghrec.js';
import { MAX_DESKTOP, screenSize } from '../desktop-size.js';
import { decodeDesktop, decodeInputEvents, INPUT_KIND, RDPREC } from '../records.js';
import { applyBitmapUpdate, DecodeScratch, type Framebuffer } from './bitmap.js';
import { packRgb, Palette } from './colors.js';
import { PointerState, type PointerMessage, type PointerShape } from './pointer.js';
import { UpdateParser } from './updates.js';

const OPAQUE_BLACK = packRgb(0, 0, 0);

/** Everything an RdpScreen needs to carry on decoding from a point (players keep a few to seek back fast). */
export interface ScreenSnapshot {
  width: number;
  height: number;
  bpp: number;
  rgba: Uint8ClampedArray;
  cursor: { x: number; y: number } | null;
  pointerShape: PointerShape | null;
  pointerVisible: boolean;
  pointerCache: Map<number, PointerShape>;
  palette: Uint32Array;
}

export class RdpScreen {
  width: number;
  height: number;
  /** Colour depth of the session (from the last DESKTOP record); bitmaps carry their own. */
  bpp: number;
  /**
   * width × height × 4 bytes, RGBA, alpha always 255, at most MAX_SCREEN_PIXELS × 4. Replaced
   * (not resized) when the desktop size changes.
   */
  rgba: Uint8ClampedArray;
  /** Last pointer position (server pointer-position updates or the client's mouse input). */
  cursor: { x: number; y: number } | null = null;
  /** Current pointer shape and visibility; drawn by composeFrame(), never into rgba. */
  readonly pointer = new PointerState();
  /** Skipped data by kind: 'bulk-compressed', 'orders', 'surface-commands', 'bad-bitmap', … → count. */
  readonly warnings = new Map<string, number>();
  /** Increases whenever the pointer's position, shape or visibility changes. */
  pointerSerial = 0;

  private fb: Framebuffer;
  private readonly palette = new Palette();
  private readonly scratch = new DecodeScratch();
  private readonly parser: UpdateParser;
  private drawn = 0;

  /** A black screen of width × height, or of screenSize(width, height) when that is too large. */
  constructor(width: number, height: number, bpp = 32) {
    const size = screenSize(width, height);
    this.width = size.width;
    this.height = size.height;
    this.bpp = bpp;
    this.rgba = new Uint8ClampedArray(0);
    this.fb = { px: new Uint32Array(0), width: 0, height: 0 };
    this.allocate(this.width, this.height, null);
    this.parser = new UpdateParser({
      bitmap: (d, off, end) => {
        this.drawn += applyBitmapUpdate(d, off, end, this.fb, this.palette, this.scratch, this.warn);
      },
      palette: (d, off, end) => this.applyPalette(d, off, end),
      pointer: (kind, d, off, end) => this.applyPointer(kind, d, off, end),
      warn: this.warn,
    });
  }

  readonly warn = (key: string): void => {
    this.warnings.set(key, (this.warnings.get(key) ?? 0) + 1);
  };

  /**
   * Applies one record: DESKTOP resizes, FASTPATH_OUTPUT / SLOWPATH_OUTPUT draw, INPUT mouse
   * events move the cursor, anything else is ignored. Returns whether pixels or the size changed.
   */
  apply(rec: GhrecRecord): boolean {
    try {
      switch (rec.type) {
        case RDPREC.DESKTOP:
          return this.applyDesktop(rec.payload);
        case RDPREC.FASTPATH_OUTPUT:
          return this.draw(() => this.parser.fastPath(rec.payload));
        case RDPREC.SLOWPATH_OUTPUT:
          return this.draw(() => this.parser.slowPath(rec.payload));
        case RDPREC.INPUT:
          this.applyInput(rec.payload);
          return false;
        default:
          return false;
      }
    } catch {
      // Last line of defence: every parser bounds-checks, so this is a decoder bug, not a crash.
      this.warn('decoder-error');
      return false;
    }
  }

  /**
   * Starts from a keyframe: takes its size and pixels (alpha forced opaque). Of a keyframe
   * larger than MAX_SCREEN_PIXELS only the top-left part is kept, as of a desktop that large.
   */
  load(rgba: Uint8ClampedArray | Uint8Array, width: number, height: number): void {
    const size = screenSize(width, height);
    this.allocate(size.width, size.height, null);
    const srcWidth = Math.max(1, Math.round(width)) || 1;
    if (srcWidth === size.width) {
      const n = Math.min(rgba.length, this.rgba.length) & ~3;
      this.rgba.set(rgba.subarray(0, n));
    } else {
      // Row by row: the keyframe is wider than the screen.
      const rowBytes = size.width * 4;
      for (let y = 0; y < size.height; y++) {
        const from = y * srcWidth * 4;
        if (from >= rgba.length) break;
        this.rgba.set(rgba.subarray(from, Math.min(from + rowBytes, rgba.length) & ~3), y * rowBytes);
      }
    }
    for (let i = 3; i < this.rgba.length; i += 4) this.rgba[i] = 255;
    this.parser.reset();
  }

  /** Holds the first parts of a fragmented update, not drawn until its last part comes. */
  get partial(): boolean {
    return this.parser.midFragment;
  }

  /** The decoder state now, or null in the middle of a fragmented update. */
  snapshot(): ScreenSnapshot | null {
    if (this.partial) return null;
    return {
      width: this.width,
      height: this.height,
      bpp: this.bpp,
      rgba: new Uint8ClampedArray(this.rgba),
      cursor: this.cursor && { ...this.cursor },
      pointerShape: this.pointer.shape,
      pointerVisible: this.pointer.visible,
      pointerCache: this.pointer.cachedShapes(),
      palette: new Uint32Array(this.palette.table),
    };
  }

  static fromSnapshot(st: ScreenSnapshot): RdpScreen {
    const s = new RdpScreen(st.width, st.height, st.bpp);
    s.load(st.rgba, st.width, st.height);
    s.cursor = st.cursor && { ...st.cursor };
    s.pointer.shape = st.pointerShape;
    s.pointer.visible = st.pointerVisible;
    s.pointer.restoreCache(st.pointerCache);
    s.palette.table.set(st.palette);
    s.pointerSerial++;
    return s;
  }

  private draw(parse: () => void): boolean {
    const before = this.drawn;
    parse();
    return this.drawn !== before;
  }

  /** A new framebuffer of the given size, keeping the old picture in its top-left corner. */
  private allocate(width: number, height: number, keep: Framebuffer | null): void {
    const rgba = new Uint8ClampedArray(width * height * 4);
    const px = new Uint32Array(rgba.buffer);
    px.fill(OPAQUE_BLACK);
    if (keep) {
      const w = Math.min(width, keep.width);
      const h = Math.min(height, keep.height);
      for (let y = 0; y < h; y++) px.set(keep.px.subarray(y * keep.width, y * keep.width + w), y * width);
    }
    this.width = width;
    this.height = height;
    this.rgba = rgba;
    this.fb = { px, width, height };
  }

  private applyDesktop(payload: Uint8Array): boolean {
    const d = decodeDesktop(payload);
    if (!d || d.width < 1 || d.height < 1 || d.width > MAX_DESKTOP || d.height > MAX_DESKTOP) {
      this.warn('bad-desktop');
      return false;
    }
    // A (re)activation starts fast-path state afresh.
    this.parser.reset();
    this.bpp = d.bpp;
    // The session may legitimately change size (a reconnection, a client's resize), so any size
    // RDP allows is taken, but no larger than a screen may be: beyond that the screen keeps the
    // desktop's top-left part (bitmaps outside it are clipped like any off-screen bitmap).
    const { width, height } = screenSize(d.width, d.height);
    if (width !== d.width || height !== d.height) this.warn('desktop-clamped');
    if (width === this.width && height === this.height) return false;
    this.allocate(width, height, this.fb);
    return true;
  }

  private applyPalette(d: Uint8Array, off: number, end: number): void {
    // TS_UPDATE_PALETTE_DATA: updateType u16, pad2Octets u16, numberColors u32, entries (r, g, b).
    if (end - off < 8) return this.warn('bad-palette');
    const count = (d[off + 4]! | (d[off + 5]! << 8) | (d[off + 6]! << 16)) + d[off + 7]! * 0x1000000;
    if (count > 256 || off + 8 + count * 3 > end) return this.warn('bad-palette');
    this.palette.set(d.subarray(off + 8, end), 0, count);
  }

  private applyPointer(kind: PointerMessage, d: Uint8Array, off: number, end: number): void {
    const r = this.pointer.apply(kind, d, off, end, this.palette);
    if (r === false) return this.warn('bad-pointer');
    if (r !== true) this.cursor = r;
    this.pointerSerial++;
  }

  private applyInput(payload: Uint8Array): void {
    for (const e of decodeInputEvents(payload)) {
      if (e.kind === INPUT_KIND.MOUSE || e.kind === INPUT_KIND.MOUSE_EXTENDED) {
        this.cursor = { x: e.a, y: e.b };
        this.pointerSerial++;
      } else if (e.kind === INPUT_KIND.MOUSE_RELATIVE && this.cursor) {
        // Relative deltas are signed 16-bit values stored in the unsigned fields.
        const x = Math.max(0, Math.min(this.width - 1, this.cursor.x + ((e.a << 16) >> 16)));
        const y = Math.max(0, Math.min(this.height - 1, this.cursor.y + ((e.b << 16) >> 16)));
        this.cursor = { x, y };
        this.pointerSerial++;
      }
    }
  }
}
