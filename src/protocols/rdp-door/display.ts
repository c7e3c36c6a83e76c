// The display settings chosen at launch (plan.display: width, height, DPI, keyboard layout)
// as changes to the client's CS_CORE (MS-RDPBCGR 2.2.1.3.2): the desktop size, the physical
// size and scale factors derived from the DPI, the keyboard layout's KLID. The target then
// draws what the person chose and the keystroke log reads the keys with the same layout.
// The desktop limit (desktop-limit.ts) still applies to a chosen size.
import type { ConnectPlan, LaunchDisplay } from '../../core/broker.js';
import { CS, type ClientCoreData } from '../rdp/pdu/client-data.js';

/** Windows keyboard layout ids (KLIDs) of the layouts a launch may choose; the keystroke log has a table for each. */
export const KEYBOARD_LAYOUT_IDS: Record<NonNullable<LaunchDisplay['keyboardLayout']>, number> = { us: 0x0409, uk: 0x0809, de: 0x0407, fr: 0x040c };

export interface DisplayRewrite {
  /** The desktop to ask the target for (before the desktop limit). */
  desktopSize?: { width: number; height: number };
  keyboardLayout?: number;
  dpi?: number;
  /** A chosen size replaces the client's monitor layout, which would otherwise define the desktop. */
  dropBlockTypes: number[];
  /** For the session notes, when anything was chosen. */
  note?: Record<string, unknown>;
}

/** What the launch's display settings change in this client's CS_CORE. */
export function displayRewrite(plan: Pick<ConnectPlan, 'display'>, core: ClientCoreData): DisplayRewrite {
  const d = plan.display;
  const out: DisplayRewrite = { dropBlockTypes: [] };
  if (!d) return out;
  if (d.width !== undefined && d.height !== undefined) {
    out.desktopSize = { width: d.width, height: d.height };
    out.dropBlockTypes.push(CS.MONITOR, CS.MONITOR_EX);
  }
  if (d.keyboardLayout) out.keyboardLayout = KEYBOARD_LAYOUT_IDS[d.keyboardLayout];
  if (d.dpi !== undefined) out.dpi = d.dpi;
  out.note = {
    client: `${core.desktopWidth}x${core.desktopHeight}`,
    ...(out.desktopSize ? { chosen: `${out.desktopSize.width}x${out.desktopSize.height}` } : {}),
    ...(d.dpi !== undefined ? { dpi: d.dpi } : {}),
    ...(d.keyboardLayout ? { keyboardLayout: d.keyboardLayout } : {}),
  };
  return out;
}

/**
 * CS_CORE's physical size and scale factors for a desktop shown at `dpi`: desktopScaleFactor
 * in percent (100..500), deviceScaleFactor one of 100, 140, 180 (the spec allows no other),
 * and the physical size in millimetres (10..10000).
 */
export function scaleFor(width: number, height: number, dpi: number): { physicalWidth: number; physicalHeight: number; desktopScaleFactor: number; deviceScaleFactor: number } {
  const desktopScaleFactor = Math.min(500, Math.max(100, Math.round((dpi * 100) / 96)));
  const deviceScaleFactor = desktopScaleFactor < 120 ? 100 : desktopScaleFactor < 160 ? 140 : 180;
  const mm = (px: number) => Math.min(10_000, Math.max(10, Math.round((px * 25.4) / dpi)));
  return { physicalWidth: mm(width), physicalHeight: mm(height), desktopScaleFactor, deviceScaleFactor };
}
