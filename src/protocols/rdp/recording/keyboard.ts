// The keystroke log of an RDP session: the person's keyboard events (scancode set 1 as RDP
// sends them, normalised to slow-path flags by the recorder) turned into the text they
// typed, following the keyboard layout the client announced (CS_CORE keyboardLayout).
// The core splits that text into lines (core/sessions/typed-text.ts); this file only
// produces characters: printable text, "\r" for Enter, "\x7f" for Backspace, "\t" for Tab.
//
// It models what the target's keyboard driver does with the same events: Shift, Caps Lock
// (key and Sync toggle state), Num Lock for the keypad, AltGr (right Alt, or Ctrl+Alt, on
// layouts that have it) and dead keys. Ctrl/Alt/Windows shortcuts, navigation and function
// keys produce nothing. Alt+keypad character codes and input methods are not decoded.
// No Node.js APIs: the browser player uses this file too.
import { INPUT_KIND, KBDFLAGS, type InputEvent } from './records.js';

/** A dead key at one level of a key: combines with the next character. */
interface Dead {
  dead: string;
}
type Out = string | Dead;

interface Key {
  normal: Out;
  shift: Out;
  altgr?: Out;
  shiftAltgr?: Out;
  /** Caps Lock acts as Shift for this key (letters, and e.g. the French digit row). */
  caps: boolean;
}

interface Layout {
  name: string;
  keys: Map<number, Key>;
  /** Right Alt is AltGr (and Ctrl+Alt acts as AltGr), as on most European layouts. */
  altgr: boolean;
  /** The keypad's decimal key. */
  decimal: string;
}

const dead = (accent: string): Dead => ({ dead: accent });

/** True when the character has an upper case that Shift gives: Caps Lock applies. */
const cased = (n: Out, s: Out) => typeof n === 'string' && typeof s === 'string' && n !== s && n.toUpperCase() === s && n.toLowerCase() === n;

class LayoutBuilder {
  readonly keys = new Map<number, Key>();
  /** Consecutive scancodes from `first`, one character per key in each string. */
  row(first: number, normal: string, shift: string): this {
    const n = [...normal];
    const s = [...shift];
    if (n.length !== s.length) throw new Error(`layout row 0x${first.toString(16)}: ${n.length} vs ${s.length} keys`);
    n.forEach((c, i) => this.key(first + i, c, s[i]!));
    return this;
  }
  key(code: number, normal: Out, shift: Out): this {
    this.keys.set(code, { normal, shift, caps: cased(normal, shift) });
    return this;
  }
  altgr(code: number, altgr: Out, shiftAltgr?: Out): this {
    const k = this.keys.get(code);
    if (!k) throw new Error(`AltGr on unknown key 0x${code.toString(16)}`);
    k.altgr = altgr;
    if (shiftAltgr !== undefined) k.shiftAltgr = shiftAltgr;
    return this;
  }
  capsLike(...codes: number[]): this {
    for (const c of codes) this.keys.get(c)!.caps = true;
    return this;
  }
  build(name: string, altgr: boolean, decimal: string): Layout {
    return { name, keys: this.keys, altgr, decimal };
  }
}

const US_LETTERS = (b: LayoutBuilder) => b.row(0x10, 'qwertyuiop[]', 'QWERTYUIOP{}').row(0x2c, 'zxcvbnm,./', 'ZXCVBNM<>?');

const US = US_LETTERS(new LayoutBuilder().row(0x02, '1234567890-=', '!@#$%^&*()_+').row(0x1e, "asdfghjkl;'", 'ASDFGHJKL:"'))
  .key(0x29, '`', '~')
  .key(0x2b, '\\', '|')
  .key(0x56, '\\', '|')
  .build('English (US)', false, '.');

const UK = US_LETTERS(new LayoutBuilder().row(0x02, '1234567890-=', '!"£$%^&*()_+').row(0x1e, "asdfghjkl;'", 'ASDFGHJKL:@'))
  .key(0x29, '`', '¬')
  .key(0x2b, '#', '~')
  .key(0x56, '\\', '|')
  .altgr(0x29, '¦')
  .altgr(0x05, '€')
  .altgr(0x12, 'é', 'É')
  .altgr(0x16, 'ú', 'Ú')
  .altgr(0x17, 'í', 'Í')
  .altgr(0x18, 'ó', 'Ó')
  .altgr(0x1e, 'á', 'Á')
  .build('English (UK)', true, '.');

const GERMAN = new LayoutBuilder()
  .row(0x02, '1234567890ß', '!"§$%&/()=?')
  .key(0x0d, dead('´'), dead('`'))
  .key(0x29, dead('^'), '°')
  .row(0x10, 'qwertzuiopü+', 'QWERTZUIOPÜ*')
  .row(0x1e, 'asdfghjklöä', 'ASDFGHJKLÖÄ')
  .key(0x2b, '#', "'")
  .key(0x56, '<', '>')
  .row(0x2c, 'yxcvbnm,.-', 'YXCVBNM;:_')
  .altgr(0x03, '²')
  .altgr(0x04, '³')
  .altgr(0x08, '{')
  .altgr(0x09, '[')
  .altgr(0x0a, ']')
  .altgr(0x0b, '}')
  .altgr(0x0c, '\\')
  .altgr(0x10, '@')
  .altgr(0x12, '€')
  .altgr(0x1b, '~')
  .altgr(0x56, '|')
  .altgr(0x32, 'µ')
  .build('German', true, ',');

const FRENCH = new LayoutBuilder()
  .key(0x29, '²', '')
  .row(0x02, '&é"\'(-è_çà)=', '1234567890°+')
  .row(0x10, 'azertyuiop', 'AZERTYUIOP')
  .key(0x1a, dead('^'), dead('¨'))
  .key(0x1b, '$', '£')
  .row(0x1e, 'qsdfghjklmù', 'QSDFGHJKLM%')
  .key(0x2b, '*', 'µ')
  .key(0x56, '<', '>')
  .row(0x2c, 'wxcvbn,;:!', 'WXCVBN?./§')
  .altgr(0x03, dead('~'))
  .altgr(0x04, '#')
  .altgr(0x05, '{')
  .altgr(0x06, '[')
  .altgr(0x07, '|')
  .altgr(0x08, dead('`'))
  .altgr(0x09, '\\')
  .altgr(0x0a, '^')
  .altgr(0x0b, '@')
  .altgr(0x0c, ']')
  .altgr(0x0d, '}')
  .altgr(0x12, '€')
  .altgr(0x1b, '¤')
  // Windows' AZERTY: Caps Lock gives the digits of the top row, as Shift does.
  .capsLike(0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b)
  .build('French', true, '.');

/** Windows KLIDs (CS_CORE keyboardLayout) with a table here. */
const LAYOUTS = new Map<number, Layout>([
  [0x0409, US],
  [0x0809, UK],
  [0x0407, GERMAN],
  [0x0c07, GERMAN], // German (Austria) uses the German layout
  [0x040c, FRENCH],
]);

/** Combining marks for the dead keys, and the letters Windows combines them with. */
const ACCENTS: Record<string, { mark: string; bases: string }> = {
  '^': { mark: '\u0302', bases: 'aeiouAEIOU' },
  '´': { mark: '\u0301', bases: 'aeiouyAEIOUY' },
  '`': { mark: '\u0300', bases: 'aeiouAEIOU' },
  '¨': { mark: '\u0308', bases: 'aeiouyAEIOU' },
  '~': { mark: '\u0303', bases: 'anoANO' },
};

function combine(accent: string, c: string): string {
  const a = ACCENTS[accent];
  if (c === ' ') return accent;
  if (a && a.bases.includes(c)) {
    const composed = (c + a.mark).normalize('NFC');
    if ([...composed].length === 1) return composed;
  }
  // No combination: both, as Windows does.
  return accent + c;
}

const SC = {
  BACKSPACE: 0x0e,
  TAB: 0x0f,
  ENTER: 0x1c,
  CTRL: 0x1d,
  LSHIFT: 0x2a,
  RSHIFT: 0x36,
  ALT: 0x38,
  SPACE: 0x39,
  CAPSLOCK: 0x3a,
  NUMLOCK: 0x45,
  KP_MULTIPLY: 0x37,
  KP_MINUS: 0x4a,
  KP_PLUS: 0x4e,
  KP_DIVIDE: 0x35, // extended
  KP_DECIMAL: 0x53,
  LWIN: 0x5b, // extended
  RWIN: 0x5c, // extended
} as const;

/** Keypad digits (non-extended scancodes; the extended ones are the separate navigation keys). */
const KEYPAD_DIGITS = new Map<number, string>([
  [0x47, '7'],
  [0x48, '8'],
  [0x49, '9'],
  [0x4b, '4'],
  [0x4c, '5'],
  [0x4d, '6'],
  [0x4f, '1'],
  [0x50, '2'],
  [0x51, '3'],
  [0x52, '0'],
]);

/** SYNC toggle flags (TS_SYNC_EVENT). */
const SYNC_NUM_LOCK = 0x02;
const SYNC_CAPS_LOCK = 0x04;

export class KeystrokeLog {
  readonly layoutName: string;
  /** True when the client's layout has no table here and US English is used instead. */
  readonly fallback: boolean;
  private readonly layout: Layout;
  /** Keys held down, as `scancode | extended << 8`. */
  private readonly down = new Set<number>();
  private capsLock = false;
  private numLock = false;
  private pendingDead: string | null = null;
  private highSurrogate: number | null = null;
  /** Pause/Break arrives as Ctrl (EXTENDED1) + Num Lock: that Num Lock is no toggle. */
  private pauseSequence = false;

  constructor(keyboardLayout: number) {
    const known = LAYOUTS.get(keyboardLayout >>> 0);
    this.layout = known ?? US;
    this.fallback = !known;
    const klid = `0x${(keyboardLayout >>> 0).toString(16).padStart(8, '0')}`;
    this.layoutName = known ? known.name : `${US.name} (fallback for unknown layout ${klid})`;
  }

  /** The text this event produced ("" for most). */
  feed(ev: InputEvent): string {
    if (ev.kind === INPUT_KIND.SCANCODE) return this.scancode(ev.flags, ev.a & 0xff);
    if (ev.kind === INPUT_KIND.UNICODE) return this.unicode(ev.flags, ev.a & 0xffff);
    if (ev.kind === INPUT_KIND.SYNC) {
      this.capsLock = (ev.flags & SYNC_CAPS_LOCK) !== 0;
      this.numLock = (ev.flags & SYNC_NUM_LOCK) !== 0;
    }
    return '';
  }

  private held(code: number, extended = false): boolean {
    return this.down.has(code | (extended ? 0x100 : 0));
  }

  private scancode(flags: number, code: number): string {
    const release = (flags & KBDFLAGS.RELEASE) !== 0;
    const extended = (flags & KBDFLAGS.EXTENDED) !== 0;
    if (flags & KBDFLAGS.EXTENDED1) {
      // Only Pause uses it (E1 1D 45): not a Ctrl press.
      if (!release && code === SC.CTRL) this.pauseSequence = true;
      return '';
    }
    const id = code | (extended ? 0x100 : 0);
    if (release) {
      this.down.delete(id);
      return '';
    }
    const repeat = this.down.has(id);
    this.down.add(id);
    if (code === SC.NUMLOCK) {
      if (this.pauseSequence) this.pauseSequence = false;
      else if (!repeat) this.numLock = !this.numLock;
      return '';
    }
    this.pauseSequence = false;
    if (code === SC.CAPSLOCK && !extended) {
      if (!repeat) this.capsLock = !this.capsLock;
      return '';
    }
    return this.keyDown(code, extended);
  }

  private keyDown(code: number, extended: boolean): string {
    const shift = this.held(SC.LSHIFT) || this.held(SC.RSHIFT) || this.held(SC.RSHIFT, true);
    const ctrl = this.held(SC.CTRL) || this.held(SC.CTRL, true);
    const leftAlt = this.held(SC.ALT);
    const rightAlt = this.held(SC.ALT, true);
    const win = this.held(SC.LWIN, true) || this.held(SC.RWIN, true);
    const altgr = this.layout.altgr && (rightAlt || (ctrl && leftAlt));
    // Shortcuts (Ctrl+C, Alt+F4, Win+R …) type nothing.
    const shortcut = win || (!altgr && (ctrl || leftAlt || rightAlt));

    if (code === SC.ENTER) return shortcut ? '' : this.flushDead('\r');
    if (extended) {
      if (code === SC.KP_DIVIDE && !shortcut) return this.text('/');
      return ''; // arrows, Home/End, Insert/Delete, Windows keys, right Ctrl/Alt …
    }
    if (code === SC.BACKSPACE) return shortcut ? '' : this.flushDead('\x7f');
    if (code === SC.TAB) return shortcut ? '' : this.flushDead('\t');
    if (code === SC.SPACE) return shortcut ? '' : this.text(' ');

    // The keypad: operators always, digits with Num Lock on and no Shift (Shift swaps to navigation).
    const kp = code === SC.KP_MULTIPLY ? '*' : code === SC.KP_MINUS ? '-' : code === SC.KP_PLUS ? '+' : null;
    if (kp) return shortcut ? '' : this.text(kp);
    const digit = KEYPAD_DIGITS.get(code) ?? (code === SC.KP_DECIMAL ? this.layout.decimal : undefined);
    if (digit !== undefined) return !shortcut && this.numLock && !shift ? this.text(digit) : '';

    const key = this.layout.keys.get(code);
    if (!key || shortcut) return '';
    let out: Out | undefined;
    if (altgr) out = shift ? (key.shiftAltgr ?? key.altgr) : key.altgr;
    else out = shift !== (key.caps && this.capsLock) ? key.shift : key.normal;
    if (out === undefined || out === '') return '';
    if (typeof out !== 'string') {
      if (this.pendingDead === null) {
        this.pendingDead = out.dead;
        return '';
      }
      // Two dead keys: both accents, as Windows types them.
      const first = this.pendingDead;
      this.pendingDead = null;
      return first + out.dead;
    }
    return this.text(out);
  }

  /** A character, combined with a pending dead key. */
  private text(c: string): string {
    if (this.pendingDead === null) return c;
    const accent = this.pendingDead;
    this.pendingDead = null;
    return combine(accent, c);
  }

  /** Enter, Tab, Backspace: a pending accent is typed first. */
  private flushDead(c: string): string {
    const accent = this.pendingDead ?? '';
    this.pendingDead = null;
    return accent + c;
  }

  private unicode(flags: number, unit: number): string {
    if (flags & KBDFLAGS.RELEASE) return '';
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const lone = this.highSurrogate !== null ? '\ufffd' : '';
      this.highSurrogate = unit;
      return lone;
    }
    const high = this.highSurrogate;
    this.highSurrogate = null;
    if (unit >= 0xdc00 && unit <= 0xdfff) return high !== null ? String.fromCharCode(high, unit) : '\ufffd';
    const lone = high !== null ? '\ufffd' : '';
    if (unit === 0x08) return `${lone}\x7f`;
    if (unit === 0x0d || unit === 0x0a) return `${lone}\r`;
    if (unit === 0x09) return `${lone}\t`;
    if (unit < 0x20 || (unit >= 0x7f && unit < 0xa0)) return lone;
    return lone + String.fromCharCode(unit);
  }
}
