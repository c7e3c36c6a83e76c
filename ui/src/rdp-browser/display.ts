// The desktop a browser RDP session asks for: the GUAC_WIDTH / GUAC_HEIGHT / GUAC_DPI
// query parameters when given (OpenPSM passes them), else the window's size in CSS
// pixels times devicePixelRatio (capped so the desktop stays what recordings keep), with
// the DPI from devicePixelRatio. The same bounds as the launch contract (200..8192 pixels,
// 96..480 DPI); a value out of bounds or not a number falls back to the default.

export interface DisplaySettings {
  width: number;
  height: number;
  dpi: number;
}

export const BOUNDS = { min: 200, max: 8192, minDpi: 96, maxDpi: 480 } as const;
/** What a recording's screen holds (desktop-limit.ts on the server): a larger window is asked at scale 1. */
const MAX_PIXELS = 3840 * 2160;

const clampInt = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.round(v)));

function param(q: URLSearchParams, name: string, lo: number, hi: number): number | null {
  const raw = q.get(name);
  if (raw === null || !/^\d{1,5}$/.test(raw.trim())) return null;
  const n = Number(raw);
  return n >= lo && n <= hi ? n : null;
}

/** The window's size as desktop pixels (even widths: some servers want them). */
export function windowDesktop(win: { innerWidth: number; innerHeight: number; devicePixelRatio: number }): DisplaySettings {
  let ratio = win.devicePixelRatio > 0 ? win.devicePixelRatio : 1;
  if (win.innerWidth * ratio * win.innerHeight * ratio > MAX_PIXELS) ratio = 1;
  const width = clampInt(win.innerWidth * ratio, BOUNDS.min, BOUNDS.max) & ~1;
  const height = clampInt(win.innerHeight * ratio, BOUNDS.min, BOUNDS.max);
  return { width, height, dpi: clampInt(96 * ratio, BOUNDS.minDpi, BOUNDS.maxDpi) };
}

export function displaySettings(q: URLSearchParams, win: { innerWidth: number; innerHeight: number; devicePixelRatio: number }): DisplaySettings & { fromQuery: boolean } {
  const d = windowDesktop(win);
  const w = param(q, 'GUAC_WIDTH', BOUNDS.min, BOUNDS.max);
  const h = param(q, 'GUAC_HEIGHT', BOUNDS.min, BOUNDS.max);
  const dpi = param(q, 'GUAC_DPI', BOUNDS.minDpi, BOUNDS.maxDpi);
  return { width: w ?? d.width, height: h ?? d.height, dpi: dpi ?? d.dpi, fromQuery: w !== null || h !== null };
}

/**
 * The desktop scale factor a Display Control resize carries, in percent: 96 DPI is 100 %.
 * [MS-RDPEDISP] allows 100..500; IronRDP's web client refuses anything else by failing the
 * session, so the value is clamped.
 */
export function desktopScalePercent(dpi: number): number {
  return clampInt((dpi * 100) / 96, 100, 500);
}
