// The keystroke log: scancode set 1 events (slow-path flags, as the recorder normalises
// them) typed on US, UK, German and French layouts, Caps/Num Lock, AltGr, dead keys,
// Unicode events, and the text the core then splits into lines.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TypedLines } from '../../../src/core/sessions/typed-text.js';
import { KeystrokeLog } from '../../../src/protocols/rdp/recording/keyboard.js';
import { INPUT_KIND, KBDFLAGS, type InputEvent } from '../../../src/protocols/rdp/recording/records.js';

const KLID = { US: 0x409, UK: 0x809, DE: 0x407, FR: 0x40c };

// Scancodes (set 1). E = the extended flag.
const E = KBDFLAGS.EXTENDED;
const SC = { LSHIFT: 0x2a, RSHIFT: 0x36, CTRL: 0x1d, ALT: 0x38, CAPS: 0x3a, NUMLOCK: 0x45, ENTER: 0x1c, BACKSPACE: 0x0e, TAB: 0x0f, SPACE: 0x39, LWIN: 0x5b };

type Step = InputEvent;
const down = (a: number, flags = 0): Step => ({ kind: INPUT_KIND.SCANCODE, flags, a, b: 0 });
const up = (a: number, flags = 0): Step => ({ kind: INPUT_KIND.SCANCODE, flags: flags | KBDFLAGS.RELEASE, a, b: 0 });
const tap = (a: number, flags = 0): Step[] => [down(a, flags), up(a, flags)];
const withMod = (mods: [number, number][], ...inner: Step[][]): Step[] => [...mods.map(([a, f]) => down(a, f)), ...inner.flat(), ...mods.map(([a, f]) => up(a, f)).reverse()];
const shift = (...codes: number[]) => withMod([[SC.LSHIFT, 0]], ...codes.map((c) => tap(c)));
const altgr = (...codes: number[]) => withMod([[SC.ALT, E]], ...codes.map((c) => tap(c)));
const taps = (...codes: number[]) => codes.flatMap((c) => tap(c));
const sync = (flags: number): Step => ({ kind: INPUT_KIND.SYNC, flags, a: 0, b: 0 });
const uni = (unit: number, release = false): Step => ({ kind: INPUT_KIND.UNICODE, flags: release ? KBDFLAGS.RELEASE : 0, a: unit, b: 0 });

function typed(klid: number, ...steps: (Step | Step[])[]): string {
  const log = new KeystrokeLog(klid);
  return steps.flat().map((s) => log.feed(s)).join('');
}

/** Letters by their US position (the key, not the character, for QWERTZ/AZERTY tests). */
const K: Record<string, number> = {};
[...'qwertyuiop'].forEach((c, i) => (K[c] = 0x10 + i));
[...'asdfghjkl'].forEach((c, i) => (K[c] = 0x1e + i));
[...'zxcvbnm'].forEach((c, i) => (K[c] = 0x2c + i));
[...'1234567890'].forEach((c, i) => (K[c] = 0x02 + i));
const word = (s: string) => taps(...[...s].map((c) => K[c]!));

describe('keystroke log', () => {
  it('US: ls -la /tmp, Enter; the core splits the line', () => {
    const text = typed(KLID.US, word('ls'), tap(SC.SPACE), tap(0x0c), word('la'), tap(SC.SPACE), tap(0x35), word('tmp'), tap(SC.ENTER));
    assert.equal(text, 'ls -la /tmp\r');
    assert.deepEqual(new TypedLines().feed(text), ['ls -la /tmp']);
    assert.equal(new KeystrokeLog(KLID.US).layoutName, 'English (US)');
  });

  it('US: shifted symbols, Backspace, Tab, right Shift, keypad Enter', () => {
    assert.equal(typed(KLID.US, shift(K['1']!, K['2']!, 0x28, 0x27, 0x33, 0x0d), tap(SC.BACKSPACE), tap(SC.TAB), withMod([[SC.RSHIFT, 0]], tap(K.a!)), tap(SC.ENTER, E)), '!@":<+\x7f\tA\r');
    assert.equal(typed(KLID.US, tap(0x29), shift(0x29), tap(0x2b), tap(0x1a), shift(0x1b)), '`~\\[}');
  });

  it('ignores key releases, modifiers, arrows, function keys, Escape and Delete', () => {
    const log = new KeystrokeLog(KLID.US);
    assert.equal(log.feed(up(K.a!)), '');
    for (const s of [...tap(SC.LSHIFT), ...tap(SC.CTRL), ...tap(SC.ALT), ...tap(0x48, E), ...tap(0x4b, E), ...tap(0x3b), ...tap(0x58), ...tap(0x01), ...tap(0x53, E), ...tap(0x47, E), ...tap(0x37, E)]) {
      assert.equal(log.feed(s), '', JSON.stringify(s));
    }
    // Mouse events type nothing.
    assert.equal(log.feed({ kind: INPUT_KIND.MOUSE, flags: 0x9000, a: 10, b: 10 }), '');
    // Autorepeat (key-down again without a release) types again.
    assert.equal([down(K.a!), down(K.a!), down(K.a!, KBDFLAGS.DOWN), up(K.a!)].map((s) => log.feed(s)).join(''), 'aaa');
  });

  it('Ctrl, Alt and Windows shortcuts type nothing; US has no AltGr', () => {
    assert.equal(typed(KLID.US, withMod([[SC.CTRL, 0]], tap(K.c!)), withMod([[SC.CTRL, E]], tap(K.v!)), withMod([[SC.ALT, 0]], tap(K.f!)), withMod([[SC.LWIN, E]], tap(K.r!))), '');
    assert.equal(typed(KLID.US, altgr(K.q!), withMod([[SC.CTRL, 0], [SC.ALT, 0]], tap(K.q!)), withMod([[SC.CTRL, 0]], tap(SC.ENTER), tap(SC.BACKSPACE))), '');
    assert.equal(typed(KLID.US, withMod([[SC.ALT, 0]], tap(SC.TAB))), '');
  });

  it('Caps Lock: the key toggles (not on autorepeat), Shift inverts it, digits are unaffected on US', () => {
    assert.equal(typed(KLID.US, tap(SC.CAPS), word('ab'), shift(K.c!), word('1'), tap(SC.CAPS), word('d')), 'ABc1d');
    // Held Caps Lock repeating is one toggle.
    assert.equal(typed(KLID.US, down(SC.CAPS), down(SC.CAPS), down(SC.CAPS), up(SC.CAPS), word('x')), 'X');
    // The Sync event carries the toggle state (caps 4).
    assert.equal(typed(KLID.US, sync(0x04), word('q'), sync(0), word('q')), 'Qq');
  });

  it('keypad: digits with Num Lock on (not with Shift), nothing with it off; operators always', () => {
    const pad = [...tap(0x4f), ...tap(0x50), ...tap(0x51), ...tap(0x52), ...tap(0x53)]; // 1 2 3 0 .
    const ops = [...tap(0x37), ...tap(0x4a), ...tap(0x4e), ...tap(0x35, E)]; // * - + /
    assert.equal(typed(KLID.US, pad, ops), '*-+/');
    assert.equal(typed(KLID.US, sync(0x02), pad, ops, tap(SC.ENTER, E)), '1230.*-+/\r');
    // The Num Lock key toggles; Shift+keypad is navigation.
    assert.equal(typed(KLID.US, tap(SC.NUMLOCK), tap(0x47), withMod([[SC.LSHIFT, 0]], tap(0x48)), tap(SC.NUMLOCK), tap(0x49)), '7');
    // mstsc sends Num Lock with the extended flag.
    assert.equal(typed(KLID.US, tap(SC.NUMLOCK, E), tap(0x4c)), '5');
    // Pause/Break (Ctrl with EXTENDED1, then Num Lock) is not a Num Lock toggle.
    const pause = [down(SC.CTRL, KBDFLAGS.EXTENDED1), down(SC.NUMLOCK), up(SC.CTRL, KBDFLAGS.EXTENDED1), up(SC.NUMLOCK)];
    assert.equal(typed(KLID.US, sync(0x02), pause, tap(0x47), word('a')), '7a');
    // The German keypad's decimal key is a comma.
    assert.equal(typed(KLID.DE, sync(0x02), tap(0x4f), tap(0x53), tap(0x52)), '1,0');
  });

  it('German: QWERTZ, umlauts, ß, AltGr (right Alt or Ctrl+Alt): echo Grüße @home', () => {
    const text = typed(KLID.DE, word('echo'), tap(SC.SPACE), shift(0x22), tap(0x13), tap(0x1a), tap(0x0c), tap(0x12), tap(SC.SPACE), altgr(0x10), word('home'), tap(SC.ENTER));
    assert.equal(text, 'echo Grüße @home\r');
    assert.equal(new KeystrokeLog(KLID.DE).layoutName, 'German');
    // Z and Y swapped, Shift symbols, AltGr brackets and the euro sign.
    assert.equal(typed(KLID.DE, tap(0x15), tap(0x2c), shift(K['2']!, K['3']!, K['7']!, 0x0c), altgr(K['7']!, K['8']!, K['9']!, K['0']!, 0x0c, 0x12, 0x1b, 0x56)), 'zy"§/?{[]}\\€~|');
    // Windows sends AltGr as left Ctrl + right Alt; Ctrl+Alt alone works too.
    assert.equal(typed(KLID.DE, withMod([[SC.CTRL, 0], [SC.ALT, E]], tap(0x10)), withMod([[SC.CTRL, 0], [SC.ALT, 0]], tap(0x12))), '@€');
    // Caps Lock covers the umlauts, not ß or the digits.
    assert.equal(typed(KLID.DE, tap(SC.CAPS), tap(0x27), tap(0x28), tap(0x0c), word('1a')), 'ÖÄß1A');
    // AltGr on a key without a third level types nothing.
    assert.equal(typed(KLID.DE, altgr(K.a!)), '');
  });

  it('German dead keys: ´ and ` (Shift) and ^ combine with vowels, stand alone before a space, double up otherwise', () => {
    assert.equal(typed(KLID.DE, tap(0x0d), word('e'), shift(0x0d), word('a'), tap(0x29), word('o'), tap(0x29), shift(K.u!)), 'éàôÛ');
    assert.equal(typed(KLID.DE, tap(0x29), tap(SC.SPACE), tap(0x0d), tap(SC.SPACE)), '^´');
    // No combination: the accent and the letter; two dead keys: both accents.
    assert.equal(typed(KLID.DE, tap(0x29), word('x'), tap(0x29), tap(0x29), tap(0x0d), tap(SC.ENTER)), '^x^^´\r');
    // Modifiers in between keep the accent pending.
    assert.equal(typed(KLID.DE, tap(0x0d), withMod([[SC.LSHIFT, 0]], tap(K.e!))), 'É');
    // Shift+^ is the degree sign, not dead.
    assert.equal(typed(KLID.DE, shift(0x29)), '°');
  });

  it('French AZERTY: digits need Shift (or Caps Lock), letters move, AltGr row', () => {
    assert.equal(typed(KLID.FR, taps(0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b)), '&é"\'(-è_çà');
    assert.equal(typed(KLID.FR, shift(0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b)), '1234567890');
    // "cd /tmp" typed on AZERTY: / is Shift+: , m sits where US has ;
    assert.equal(typed(KLID.FR, word('cd'), tap(SC.SPACE), shift(0x34), word('t'), tap(0x27), word('p'), tap(SC.ENTER)), 'cd /tmp\r');
    assert.equal(typed(KLID.FR, tap(0x10), tap(0x11), tap(0x1e), tap(0x2c), tap(0x32), tap(0x28), shift(0x28), tap(0x2b)), 'azqw,ù%*');
    assert.equal(typed(KLID.FR, altgr(0x0b, 0x04, 0x05, 0x06, 0x07, 0x09, 0x0a, 0x0c, 0x0d, 0x12)), '@#{[|\\^]}€');
    // Caps Lock: capitals and the digits of the top row.
    assert.equal(typed(KLID.FR, tap(SC.CAPS), tap(0x10), tap(0x02), tap(0x03), shift(0x03)), 'A12é');
    assert.equal(new KeystrokeLog(KLID.FR).layoutName, 'French');
  });

  it('French dead keys: ^ and ¨ on their key, ~ and ` on AltGr', () => {
    // "fenêtre", "naïf", "où" (` + u), "ñ", "^" alone.
    assert.equal(typed(KLID.FR, word('fen'), tap(0x1a), word('etre')), 'fenêtre');
    assert.equal(typed(KLID.FR, word('n'), tap(0x10), shift(0x1a), word('if')), 'naïf');
    assert.equal(typed(KLID.FR, word('o'), altgr(0x08), word('u')), 'où');
    assert.equal(typed(KLID.FR, altgr(0x03), word('n'), tap(0x1a), tap(SC.SPACE)), 'ñ^');
    // The AltGr ^ on the 9 key is not dead.
    assert.equal(typed(KLID.FR, altgr(0x0a), word('e')), '^e');
  });

  it('UK: £ " @ # and AltGr vowels and euro', () => {
    assert.equal(typed(KLID.UK, shift(K['3']!, K['2']!, 0x28), tap(0x2b), shift(0x2b), tap(0x56), altgr(K['4']!, K.e!), withMod([[SC.LSHIFT, 0], [SC.ALT, E]], tap(K.a!)), shift(0x29)), '£"@#~\\€éÁ¬');
    assert.equal(new KeystrokeLog(KLID.UK).layoutName, 'English (UK)');
  });

  it('an unknown layout falls back to US and says so', () => {
    const log = new KeystrokeLog(0x416); // Portuguese (Brazil): no table here
    assert.equal(log.fallback, true);
    assert.match(log.layoutName, /^English \(US\) \(fallback for unknown layout 0x00000416\)$/);
    assert.equal([...tap(K.y!), ...shift(K['2']!)].map((s) => log.feed(s)).join(''), 'y@');
    assert.equal(new KeystrokeLog(KLID.US).fallback, false);
  });

  it('Unicode events: their character on key-down only, surrogate pairs joined, controls mapped', () => {
    assert.equal(typed(KLID.US, uni(0xe9), uni(0xe9, true), uni(0x4e2d), uni(0x4e2d, true)), 'é中');
    assert.equal(typed(KLID.US, uni(0xd83d), uni(0xde00), uni(0xde00, true), uni(0xd83d, true)), '😀');
    assert.equal(typed(KLID.US, uni(0x0d), uni(0x08), uni(0x09), uni(0x1b), uni(0x41)), '\r\x7f\tA');
    // Lone surrogates show as U+FFFD rather than vanish or corrupt the text.
    assert.equal(typed(KLID.US, uni(0xde00), uni(0xd83d), uni(0x41)), '\ufffd\ufffdA');
  });
});
