// How large a desktop Gatehouse lets an RDP session have and a decoded screen hold. One bound
// for both sides: the RDP door negotiates no larger desktop with the client (door/desktop-limit.ts),
// and every screen the decoder builds (the CLI export, the live view's keyframes on the gateway,
// the browser player) stays within it whatever a recording, a target or a client says.
//
// Neutral code (no Node.js APIs): the browser player bundles it.

/** Largest desktop side RDP allows (MS-RDPBCGR 2.2.1.3.2: 8192 × 8192). */
export const MAX_DESKTOP = 8192;

/**
 * Most pixels one screen holds: 4096 × 2304 (9.4 million; a 3840 × 2160 desktop fits), so a
 * framebuffer is at most 36 MiB of RGBA. RDP itself allows 8192 × 8192, 256 MiB per screen:
 * the gateway keeps one screen per watched live session, and a hostile recording, target or
 * client must not make it allocate that.
 */
export const MAX_SCREEN_PIXELS = 4096 * 2304;

const side = (v: number) => (Number.isFinite(v) ? Math.min(MAX_DESKTOP, Math.max(1, Math.round(v))) : 1);

/**
 * The size a screen gets for a desktop of width × height: each side between 1 and
 * MAX_DESKTOP, and at most MAX_SCREEN_PIXELS in all (a larger desktop is shrunk in
 * proportion; the screen then holds its top-left part).
 */
export function screenSize(width: number, height: number): { width: number; height: number } {
  let w = side(width);
  let h = side(height);
  if (w * h > MAX_SCREEN_PIXELS) {
    const k = Math.sqrt(MAX_SCREEN_PIXELS / (w * h));
    w = Math.max(1, Math.floor(w * k));
    h = Math.max(1, Math.min(h, Math.floor(MAX_SCREEN_PIXELS / w)));
  }
  return { width: w, height: h };
}

/** Whether a desktop of this size fits a screen whole. */
export function fitsScreen(width: number, height: number): boolean {
  return width >= 1 && height >= 1 && width <= MAX_DESKTOP && height <= MAX_DESKTOP && width * height <= MAX_SCREEN_PIXELS;
}
