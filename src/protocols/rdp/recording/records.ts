// What the records of an RDP recording ("rdp" format, version 1, in the ghrec container)
// hold. Shared by the recorder (gateway), the decoder (CLI export, live view, browser
// player) and docs/recordings.md. No Node.js APIs: the browser uses this file too.
//
// Only what is needed to rebuild the screen and the person's input is kept: the target's
// graphics output as it was on the wire (so the decoder, not the recorder, is where codec
// bugs live and get fixed), and the client's input events normalised. Virtual channel
// traffic, the Client Info PDU (which carries the injected credential) and everything else
// of the handshake are never recorded.

export const RDP_RECORDING_FORMAT = 'rdp';
export const RDP_RECORDING_VERSION = 1;

export const RDPREC = {
  /** u16le width, u16le height, u16le bits per pixel: the desktop (re)activated with this size. */
  DESKTOP: 1,
  /** A whole fast-path output PDU from the target (fpOutputHeader, length, updates), unencrypted. */
  FASTPATH_OUTPUT: 2,
  /** A slow-path Share Control PDU from the target's I/O channel: Data PDUs carrying Update (0x02) or Pointer (0x1B). */
  SLOWPATH_OUTPUT: 3,
  /** Client input, normalised: a sequence of 7-byte events (see InputEvent). */
  INPUT: 4,
  /** UTF-8 text the keystroke log produced (typed characters, "\n" at Enter), when keystrokes are recorded. */
  KEYS: 5,
  /**
   * Shared control (added in format version 1 without a version bump: readers skip record
   * types they do not know): UTF-8 JSON {id, username, owner?} of who sent the INPUT and
   * KEYS records that follow, until the next AUTHOR record (owner: true for the session's
   * owner). Written only once someone other than the owner sent input; before the first
   * one, input is the owner's.
   */
  AUTHOR: 6,
} as const;

/** Who sent the input records that follow an AUTHOR record. */
export interface InputAuthorRecord {
  id: string;
  username: string;
  /** The session's owner (whose input came without AUTHOR records before anyone joined). */
  owner?: boolean;
}

export function encodeAuthor(a: InputAuthorRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ id: a.id, username: a.username, ...(a.owner ? { owner: true } : {}) }));
}

/** An AUTHOR record's person, or null when the payload is not one. */
export function decodeAuthor(payload: Uint8Array): InputAuthorRecord | null {
  try {
    const v = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
    return v && typeof v.id === 'string' && typeof v.username === 'string' ? { id: v.id, username: v.username, ...(v.owner === true ? { owner: true } : {}) } : null;
  } catch {
    return null;
  }
}

/** Which records hold the client's input and the target's output: crash recovery counts a recording's bytes with it. */
export const RDP_RECORDED_TRAFFIC = { in: [RDPREC.INPUT], out: [RDPREC.FASTPATH_OUTPUT, RDPREC.SLOWPATH_OUTPUT] } as const;

export const INPUT_KIND = {
  /** flags = KBDFLAGS (0x8000 release, 0x0100 extended, 0x0200 extended1), a = scancode. */
  SCANCODE: 1,
  /** flags = release flag, a = UTF-16 code unit. */
  UNICODE: 2,
  /** flags = PTRFLAGS, a = x, b = y. */
  MOUSE: 3,
  /** flags = PTRXFLAGS, a = x, b = y. */
  MOUSE_EXTENDED: 4,
  /** flags = toggle state (scroll 1, num 2, caps 4, kana 8). */
  SYNC: 5,
  /** a = x, b = y (relative mouse, signed 16-bit). */
  MOUSE_RELATIVE: 6,
} as const;

/** Slow-path KBDFLAGS values used in INPUT records (fast-path events are converted to these). */
export const KBDFLAGS = { EXTENDED: 0x0100, EXTENDED1: 0x0200, DOWN: 0x4000, RELEASE: 0x8000 } as const;

export interface InputEvent {
  kind: number;
  flags: number;
  a: number;
  b: number;
}

const EVENT_SIZE = 7;

export function encodeInputEvents(events: InputEvent[]): Uint8Array {
  const out = new Uint8Array(events.length * EVENT_SIZE);
  const dv = new DataView(out.buffer);
  events.forEach((e, i) => {
    const o = i * EVENT_SIZE;
    dv.setUint8(o, e.kind);
    dv.setUint16(o + 1, e.flags & 0xffff, true);
    dv.setUint16(o + 3, e.a & 0xffff, true);
    dv.setUint16(o + 5, e.b & 0xffff, true);
  });
  return out;
}

export function decodeInputEvents(payload: Uint8Array): InputEvent[] {
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const out: InputEvent[] = [];
  for (let o = 0; o + EVENT_SIZE <= payload.length; o += EVENT_SIZE) {
    out.push({ kind: dv.getUint8(o), flags: dv.getUint16(o + 1, true), a: dv.getUint16(o + 3, true), b: dv.getUint16(o + 5, true) });
  }
  return out;
}

export function encodeDesktop(width: number, height: number, bpp: number): Uint8Array {
  const out = new Uint8Array(6);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, width, true);
  dv.setUint16(2, height, true);
  dv.setUint16(4, bpp, true);
  return out;
}

export function decodeDesktop(payload: Uint8Array): { width: number; height: number; bpp: number } | null {
  if (payload.length < 6) return null;
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return { width: dv.getUint16(0, true), height: dv.getUint16(2, true), bpp: dv.getUint16(4, true) };
}

/** The ghrec header of an RDP recording. */
export interface RdpRecordingHeader {
  format: typeof RDP_RECORDING_FORMAT;
  formatVersion: typeof RDP_RECORDING_VERSION;
  startedAt: string;
  sessionId: string;
  /**
   * Desktop size and colour depth the client asked for, the size as the gateway passed it on
   * (at most MAX_SCREEN_PIXELS, see desktop-size.ts); a DESKTOP record follows activation.
   */
  width: number;
  height: number;
  colorDepth: number;
  /** The client's keyboard layout (Windows KLID, e.g. 0x409 US, 0x407 German). */
  keyboardLayout: number;
  /** Whether keyboard input was recorded (the launcher's "record keystrokes"). */
  keystrokes: boolean;
  title: string;
}
