// What the browser RDP tests read off the page: the web component's canvas (its size and
// place) and the share of its sampled pixels near a colour (e.g. the xrdp desktop's), and
// what xev on a target's X display printed for the keys it saw. One script text for both
// drivers: playwright's page.evaluate and Firefox's WebDriver BiDi.
import type { Page } from 'playwright-core';

export interface CanvasInfo {
  width: number;
  height: number;
  left: number;
  top: number;
  cssWidth: number;
  cssHeight: number;
  share: number;
}

/**
 * A function expression `(selector?) => { canvas, width, height, px } | null`, run in the page: the
 * canvas (IronRDP's web component's, or the element itself when it is a canvas) copied to read
 * its RGBA pixels; null while there is none or it has no size. CANVAS_INFO and CANVAS_GRID start with it.
 */
const CANVAS_PIXELS = `(selector) => {
  const el = document.querySelector(selector || 'iron-remote-desktop');
  const canvas = el?.shadowRoot?.querySelector('canvas') ?? (el && el.tagName === 'CANVAS' ? el : null);
  if (!canvas || !canvas.width) return null;
  const copy = document.createElement('canvas');
  copy.width = canvas.width;
  copy.height = canvas.height;
  const g = copy.getContext('2d');
  g.drawImage(canvas, 0, 0);
  return { canvas, width: copy.width, height: copy.height, px: g.getImageData(0, 0, copy.width, copy.height).data };
}`;

/**
 * A function expression `(rgb, selector?) => CanvasInfo`, run in the page: the canvas is the
 * one inside the element `selector` picks (default: IronRDP's web component), or that element
 * itself when it is a canvas (the live view's).
 */
export const CANVAS_INFO = `(rgb, selector) => {
  const c = (${CANVAS_PIXELS})(selector);
  if (!c) return { width: 0, height: 0, left: 0, top: 0, cssWidth: 0, cssHeight: 0, share: 0 };
  const { canvas, px } = c;
  let n = 0, total = 0;
  for (let i = 0; i < px.length; i += 64) {
    total++;
    if (Math.abs(px[i] - ((rgb >> 16) & 255)) <= 8 && Math.abs(px[i + 1] - ((rgb >> 8) & 255)) <= 8 && Math.abs(px[i + 2] - (rgb & 255)) <= 8) n++;
  }
  const r = canvas.getBoundingClientRect();
  return { width: canvas.width, height: canvas.height, left: r.left, top: r.top, cssWidth: r.width, cssHeight: r.height, share: n / total };
}`;

export const canvasInfo = (page: Page, rgb: number, selector?: string): Promise<CanvasInfo> =>
  page.evaluate(`(${CANVAS_INFO})(${Number(rgb)}, ${JSON.stringify(selector ?? null)})`) as Promise<CanvasInfo>;

/** The text xev printed for its key presses, in order. */
export const xevTyped = (out: string): string =>
  out
    .split(/\n\s*\n/)
    .filter((b) => b.startsWith('KeyPress'))
    .map((b) => /XLookupString gives \d+ bytes: (?:\([0-9a-f ]+\) )?"(.*)"/.exec(b)?.[1] ?? '')
    .join('');

/** A grid of a canvas' pixels: width, height and 0xRRGGBB at every `step`-th pixel of every `step`-th row. */
export interface CanvasGrid {
  width: number;
  height: number;
  step: number;
  pixels: number[];
}

/** A function expression `(step, selector?) => CanvasGrid`, run in the page (the canvas found as by CANVAS_INFO). */
export const CANVAS_GRID = `(step, selector) => {
  const c = (${CANVAS_PIXELS})(selector);
  if (!c) return { width: 0, height: 0, step, pixels: [] };
  const { canvas, width, height, px } = c;
  const pixels = [];
  for (let y = 0; y < height; y += step)
    for (let x = 0; x < width; x += step) {
      const i = (y * width + x) * 4;
      pixels.push((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
    }
  return { width: canvas.width, height: canvas.height, step, pixels };
}`;

export const canvasGrid = (page: Page, step: number, selector?: string): Promise<CanvasGrid> =>
  page.evaluate(`(${CANVAS_GRID})(${Number(step)}, ${JSON.stringify(selector ?? null)})`) as Promise<CanvasGrid>;

/**
 * Share of a canvas grid's pixels within `tolerance` per channel of the same pixels of a
 * picture taken elsewhere (the target's own screen); 0 when the sizes differ. With `region`,
 * only the grid's pixels inside it count (a window whose drawing a whole-screen share would
 * hide among the background's pixels).
 */
export function gridMatch(
  grid: CanvasGrid,
  picture: { width: number; height: number; pixel(x: number, y: number): number },
  tolerance = 8,
  region?: { x: number; y: number; width: number; height: number },
): number {
  if (grid.width !== picture.width || grid.height !== picture.height || !grid.pixels.length) return 0;
  const inside = (x: number, y: number) => !region || (x >= region.x && x < region.x + region.width && y >= region.y && y < region.y + region.height);
  let i = 0;
  let same = 0;
  let counted = 0;
  for (let y = 0; y < grid.height; y += grid.step)
    for (let x = 0; x < grid.width; x += grid.step) {
      const a = grid.pixels[i++]!;
      if (!inside(x, y)) continue;
      counted++;
      const b = picture.pixel(x, y);
      if ([16, 8, 0].every((s) => Math.abs(((a >> s) & 0xff) - ((b >> s) & 0xff)) <= tolerance)) same++;
    }
  return counted ? same / counted : 0;
}

/** Whether two colours are within `tolerance` per channel (a 16-bit target's colours are rounded). */
export const nearColour = (a: number, b: number, tolerance = 8): boolean => [16, 8, 0].every((s) => Math.abs(((a >> s) & 0xff) - ((b >> s) & 0xff)) <= tolerance);

/** The keysym names xev printed for its key presses, in order (modifiers left out). */
export const xevKeysyms = (out: string): string[] =>
  out
    .split(/\n\s*\n/)
    .filter((b) => b.startsWith('KeyPress'))
    .map((b) => /keysym 0x[0-9a-f]+, ([A-Za-z0-9_]+)\)/.exec(b)?.[1] ?? '')
    .filter((k) => k && !/^(Shift|Control|Alt|Meta|Super|ISO_Level3)_/.test(k) && k !== 'Mode_switch');

/** The pointer buttons xev printed presses of, in order (4 and 5 are the wheel). */
export const xevButtons = (out: string): number[] => [...out.matchAll(/ButtonPress event[\s\S]*?button (\d+)/g)].map((m) => Number(m[1]));
