// Saves and restores everything an RdpScreen needs to carry on decoding from a point in the
// recording: the pixels and desktop, the pointer (position, shape, cached shapes) and the
// 8-bit palette. The player keeps a few of these so seeking backwards starts from the nearest
// one instead of the first record. Private decoder state is reached by bracket access, which
// TypeScript still type-checks, so a renamed field breaks the build rather than the replay.
import type { PointerShape } from '../../../src/protocols/rdp/recording/decoder/index.js';
import { RdpScreen } from './decoder.js';

export interface ScreenState {
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

/** False in the middle of a fragmented update (its first parts would be lost on restore). */
export function canCapture(s: RdpScreen): boolean {
  return s['parser']['fragCode'] === -1;
}

export function capture(s: RdpScreen): ScreenState {
  return {
    width: s.width,
    height: s.height,
    bpp: s.bpp,
    rgba: new Uint8ClampedArray(s.rgba),
    cursor: s.cursor && { ...s.cursor },
    // Shapes are never changed once decoded, so sharing them is safe.
    pointerShape: s.pointer.shape,
    pointerVisible: s.pointer.visible,
    pointerCache: new Map(s.pointer['cache']),
    palette: new Uint32Array(s['palette'].table),
  };
}

export function restore(st: ScreenState): RdpScreen {
  const s = new RdpScreen(st.width, st.height, st.bpp);
  s.load(st.rgba, st.width, st.height);
  s.cursor = st.cursor && { ...st.cursor };
  s.pointer.shape = st.pointerShape;
  s.pointer.visible = st.pointerVisible;
  for (const [k, v] of st.pointerCache) s.pointer['cache'].set(k, v);
  s['palette'].table.set(st.palette);
  s.pointerSerial++;
  return s;
}
