// Decoder warnings (counted by kind while decoding, see the decoder's RdpScreen.warnings) in
// words for the people watching.
const WORDS: Record<string, string> = {
  'bulk-compressed': 'Some updates were compressed in a way the player cannot unpack',
  orders: 'Some updates used drawing orders, which the player does not draw',
  'surface-commands': 'Some updates used an unsupported codec (surface commands)',
  'unknown-update': 'Some updates were of a kind the player does not know',
  encrypted: 'Some updates were encrypted and cannot be shown',
  'bad-bitmap': 'Some pictures in the recording were damaged',
  'bad-fastpath': 'Some updates in the recording were damaged',
  'bad-slowpath': 'Some updates in the recording were damaged',
  fragment: 'Some updates arrived incomplete',
  'bad-palette': 'Some colour tables in the recording were damaged, so colours may be wrong',
  'bad-pointer': 'Some mouse pointer shapes could not be shown',
  'bad-desktop': 'A change of the desktop size could not be read',
  'desktop-clamped': 'The desktop was larger than the player shows, so only its top-left part is shown',
  'decoder-error': 'The player stumbled over some updates',
};

export function warningText(kind: string, count: number): string {
  const times = count > 1 ? ` (${count} times)` : '';
  const what = WORDS[kind] ?? `Some updates could not be shown (${kind.replace(/[-_]/g, ' ')})`;
  const tail = kind === 'bad-pointer' || kind === 'bad-palette' || kind === 'desktop-clamped' ? '.' : '; parts of the picture may be missing or out of date.';
  return `${what}${times}${tail}`;
}
