// The desktop the RDP door lets a client negotiate: no larger than one screen of a recording
// holds (MAX_SCREEN_PIXELS, ../recording/desktop-size.ts). Every recorded session then plays
// and can be watched whole, and no client can make the gateway's live view decode a desktop
// beyond that bound. A client asking for more gets a smaller desktop of about the same shape
// (clients adapt to the size the target activates); monitor layouts spanning more are
// left out, so the target uses the single desktop of CS_CORE. It reads the Connect Initial
// the interceptor parsed once (readConnectInitial), not the PDU again.
import { RdpProtocolError } from '../rdp/errors.js';
import { CS, decodeClientMonitors } from '../rdp/pdu/client-data.js';
import { connectInitialBlock, readConnectInitial, type ParsedConnectInitial } from '../rdp/pdu/mcs-gcc.js';
import { fitsScreen, screenSize } from '../rdp/recording/desktop-size.js';

export interface DesktopLimit {
  /** CS_CORE's new desktop size, when the client asked for more than the bound. */
  desktopSize?: { width: number; height: number };
  /** CS_MONITOR and CS_MONITOR_EX, when the monitors span more than the bound or cannot be read. */
  dropBlockTypes: number[];
  /** For the session notes, when anything changes. */
  note?: { asked: string; negotiated: string; monitorsDropped: boolean };
}

/**
 * What to change in the client's MCS Connect Initial (before any other rewrite). `asked` is
 * the desktop the target is to be asked for when it is not CS_CORE's (display settings
 * chosen at launch); that size is bounded the same way.
 */
export function limitDesktop(input: Buffer | ParsedConnectInitial, asked?: { width: number; height: number }): DesktopLimit {
  const parsed = Buffer.isBuffer(input) ? readConnectInitial(input) : input;
  const { width: w, height: h } = asked ?? { width: parsed.ci.core.desktopWidth, height: parsed.ci.core.desktopHeight };
  const out: DesktopLimit = { dropBlockTypes: [] };
  if (w >= 1 && h >= 1 && !fitsScreen(w, h)) {
    const s = screenSize(w, h);
    // Widths that are a multiple of 4 suit every server (older ones require it); narrower still fits.
    out.desktopSize = { width: Math.max(4, s.width & ~3), height: s.height };
  }
  const monitorBlock = connectInitialBlock(parsed, CS.MONITOR);
  let monitorsDropped = false;
  if (monitorBlock && !monitorsFit(monitorBlock)) {
    out.dropBlockTypes.push(CS.MONITOR, CS.MONITOR_EX);
    monitorsDropped = true;
  }
  if (out.desktopSize || monitorsDropped) {
    const size = out.desktopSize ?? { width: w, height: h };
    out.note = { asked: `${w}x${h}`, negotiated: `${size.width}x${size.height}`, monitorsDropped };
  }
  return out;
}

/** Whether the monitors' bounding rectangle (the virtual desktop) fits a screen. */
function monitorsFit(block: Buffer): boolean {
  let monitors;
  try {
    monitors = decodeClientMonitors(block);
  } catch (e) {
    if (e instanceof RdpProtocolError) return false;
    throw e;
  }
  if (monitors.length === 0) return true;
  if (monitors.some((m) => m.right < m.left || m.bottom < m.top)) return false;
  const left = Math.min(...monitors.map((m) => m.left));
  const top = Math.min(...monitors.map((m) => m.top));
  const right = Math.max(...monitors.map((m) => m.right));
  const bottom = Math.max(...monitors.map((m) => m.bottom));
  return fitsScreen(right - left + 1, bottom - top + 1);
}
