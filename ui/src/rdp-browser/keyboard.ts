// The keyboard layout a browser RDP launch asks the target for (issue 14): one of the layouts
// the recorder's keystroke log knows, chosen by the person in My access. The default comes
// from the browser's language; a choice is remembered in localStorage (this browser only).
// Kept apart from the web client so the portal's page does not load it.

export const KEYBOARD_LAYOUTS = [
  { id: 'us', label: 'US' },
  { id: 'uk', label: 'UK' },
  { id: 'de', label: 'German' },
  { id: 'fr', label: 'French' },
] as const;
export type KeyboardLayoutId = (typeof KEYBOARD_LAYOUTS)[number]['id'];

const STORE_KEY = 'gatehouse.rdp.keyboardLayout';
const isLayout = (v: unknown): v is KeyboardLayoutId => KEYBOARD_LAYOUTS.some((l) => l.id === v);

/** The layout a browser language suggests: en-GB → uk, de-* → de, fr-* → fr, else us. */
export function layoutForLanguage(lang: string | undefined): KeyboardLayoutId {
  const l = (lang ?? '').toLowerCase();
  if (l === 'en-gb' || l === 'en-ie') return 'uk';
  if (l.startsWith('de')) return 'de';
  if (l.startsWith('fr')) return 'fr';
  return 'us';
}

/** The remembered choice, else the browser language's layout. */
export function preferredLayout(): KeyboardLayoutId {
  try {
    const v = localStorage.getItem(STORE_KEY);
    if (isLayout(v)) return v;
  } catch {
    // storage blocked: the default
  }
  return layoutForLanguage(typeof navigator !== 'undefined' ? navigator.language : undefined);
}

export function rememberLayout(v: string): void {
  if (!isLayout(v)) return;
  try {
    localStorage.setItem(STORE_KEY, v);
  } catch {
    // storage blocked: the choice holds for this page only
  }
}
