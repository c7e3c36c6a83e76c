// Display and keyboard settings a person may choose at launch (width, height, DPI, keyboard
// layout): checked here, kept on the ticket, handed to the door in the session's plan
// (plan.display). The RDP door writes them into the client's MCS Connect Initial; the core
// knows no protocol bytes, only these bounds and names.
import { badRequest } from '../errors.js';

/** The keyboard layouts the RDP keystroke log reads (src/protocols/rdp/recording/keyboard.ts). */
export const KEYBOARD_LAYOUTS = ['us', 'uk', 'de', 'fr'] as const;
export type KeyboardLayoutName = (typeof KEYBOARD_LAYOUTS)[number];

/** Bounds of the chosen desktop (pixels) and DPI; the RDP door still limits the desktop to what a recording keeps. */
export const DISPLAY_BOUNDS = { width: { min: 200, max: 8192 }, height: { min: 200, max: 8192 }, dpi: { min: 96, max: 480 } } as const;

export interface LaunchDisplay {
  width?: number;
  height?: number;
  dpi?: number;
  keyboardLayout?: KeyboardLayoutName;
}

const INVALID = 'invalid_display';

/** The settings of a launch request, checked (400 invalid_display with the reason); undefined when none was given. */
export function checkDisplay(input: { width?: number | undefined; height?: number | undefined; dpi?: number | undefined; keyboardLayout?: string | undefined }): LaunchDisplay | undefined {
  const out: LaunchDisplay = {};
  for (const k of ['width', 'height', 'dpi'] as const) {
    const v = input[k];
    if (v === undefined) continue;
    const { min, max } = DISPLAY_BOUNDS[k];
    if (!Number.isInteger(v) || v < min || v > max) throw badRequest(`${k} must be an integer from ${min} to ${max} (got ${String(v).slice(0, 20)})`, INVALID);
    out[k] = v;
  }
  if ((out.width === undefined) !== (out.height === undefined)) throw badRequest('width and height go together: give both or neither', INVALID);
  if (input.keyboardLayout !== undefined) {
    if (!(KEYBOARD_LAYOUTS as readonly string[]).includes(input.keyboardLayout)) throw badRequest(`keyboardLayout must be one of ${KEYBOARD_LAYOUTS.join(', ')}`, INVALID);
    out.keyboardLayout = input.keyboardLayout as KeyboardLayoutName;
  }
  return Object.keys(out).length ? out : undefined;
}

/** Reads the settings kept on a ticket (JSON); anything unreadable is dropped rather than trusted. */
export function displayFromStored(json: string | null | undefined): LaunchDisplay | undefined {
  if (!json) return undefined;
  try {
    const v = JSON.parse(json) as Record<string, unknown>;
    return checkDisplay({
      ...(typeof v.width === 'number' ? { width: v.width } : {}),
      ...(typeof v.height === 'number' ? { height: v.height } : {}),
      ...(typeof v.dpi === 'number' ? { dpi: v.dpi } : {}),
      ...(typeof v.keyboardLayout === 'string' ? { keyboardLayout: v.keyboardLayout } : {}),
    });
  } catch {
    return undefined;
  }
}
