// The asciicast event line `[time,"o","text"]\n` of an ASCII chunk, encoded straight from
// its bytes, byte for byte what `JSON.stringify([time, type, text]) + '\n'` gives for the
// same chunk decoded as UTF-8.
//
// Why: recorded text went through a UTF-8 decode into a string, JSON.stringify's escaping
// into a second string and a UTF-8 encode into a Buffer, plus a separate pass deciding
// whether non-pty output is printable at all: about 3 ns per byte on the event loop that
// relays every session, which halved the throughput of a session printing text
// (docs/performance.md). ASCII is what terminals print nearly all the time, and for ASCII
// JSON's escaping is a per-byte table: one pass over the bytes writes the line (into a
// scratch buffer sized for the worst case, then copied out at its size) and finds out on
// the way whether the chunk is ASCII, and for output without a pty whether it is text.
// Chunks with other bytes keep the string path (UTF-8 sequences, and invalid bytes that
// become U+FFFD).
//
// JSON.stringify escapes `"` and `\`, writes \b \t \n \f \r for those control characters
// and \u00xx (lower-case hex) for the other ones below 0x20, and leaves everything else,
// DEL (0x7f) included, as it is.

/** Per byte: how many bytes its escape adds (0: copied as is), NON_ASCII for bytes ≥ 0x80. */
const EXTRA = new Uint8Array(256);
/** Per byte: whether it makes non-pty output binary (a control character other than tab, newline, carriage return and ESC). */
const BINARY = new Uint8Array(256);
/** Per byte with a two-byte escape: the character after the backslash. */
const SHORT = new Uint8Array(256);
const NON_ASCII = 255;
const HEX = Buffer.from('0123456789abcdef', 'latin1');
for (const [c, e] of [
  [0x08, 'b'],
  [0x09, 't'],
  [0x0a, 'n'],
  [0x0c, 'f'],
  [0x0d, 'r'],
  [0x22, '"'],
  [0x5c, '\\'],
] as const)
  SHORT[c] = e.charCodeAt(0);
for (let c = 0; c < 256; c++) {
  if (c >= 0x80) EXTRA[c] = NON_ASCII;
  else if (SHORT[c] !== 0) EXTRA[c] = 1;
  else if (c < 0x20) EXTRA[c] = 5;
  if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x1b) BINARY[c] = 1;
}

/** Why a chunk takes another path than asciiEventLine. */
export const NOT_ASCII = -1;
export const BINARY_OUTPUT = -2;

/** Where lines are escaped before they are copied out at their exact size (grown on demand, kept up to SCRATCH_KEEP). */
let scratch = Buffer.allocUnsafe(256 * 1024);
const SCRATCH_KEEP = 1 << 20;

/**
 * The event line `[time,"type","text"]\n` of an ASCII chunk, in one pass over its bytes.
 * NOT_ASCII when the chunk holds a byte ≥ 0x80 (the caller decodes it as UTF-8 instead);
 * with `binaryCheck` (output without a pty), BINARY_OUTPUT when it holds a control
 * character other than tab, newline, carriage return and ESC, which wins over NOT_ASCII
 * (binary output is recorded as its size only).
 */
export function asciiEventLine(time: number, type: 'o' | 'i', chunk: Uint8Array, binaryCheck: boolean): Buffer | typeof NOT_ASCII | typeof BINARY_OUTPUT {
  const head = `[${JSON.stringify(time)},"${type}","`;
  const n = chunk.length;
  // Worst case: every byte a \u00xx escape.
  const need = head.length + 6 * n + 3;
  let out = scratch;
  if (out.length < need) {
    out = Buffer.allocUnsafe(need);
    if (need <= SCRATCH_KEEP) scratch = out;
  }
  let o = out.write(head, 0, 'latin1');
  let ascii = true;
  // Four bytes at a time while none of them needs a look (see plainWord), each word copied
  // as a whole; a word that does, by the table byte by byte. (Native copies of the plain
  // runs were measured slower: a call costs more than a line's bytes.)
  const words = new DataView(chunk.buffer, chunk.byteOffset, n);
  const into = new DataView(out.buffer, out.byteOffset, out.length);
  const lastWord = n - 4;
  let i = 0;
  while (i < n) {
    while (i <= lastWord) {
      const w = words.getUint32(i, true);
      if (!plainWord(w)) break;
      into.setUint32(o, w, true);
      o += 4;
      i += 4;
    }
    for (const end = Math.min(n, i + 4); i < end; i++) {
      const c = chunk[i]!;
      const e = EXTRA[c]!;
      if (e === 0) {
        out[o++] = c;
      } else if (binaryCheck && BINARY[c] === 1) {
        return BINARY_OUTPUT;
      } else if (e === NON_ASCII) {
        // Without a pty the rest must still be checked for binary bytes.
        if (!binaryCheck) return NOT_ASCII;
        ascii = false;
      } else if (e === 1) {
        out[o++] = 0x5c; // backslash
        out[o++] = SHORT[c]!;
      } else {
        // \u00xx
        out[o++] = 0x5c;
        out[o++] = 0x75;
        out[o++] = 0x30;
        out[o++] = 0x30;
        out[o++] = HEX[c >> 4]!;
        out[o++] = HEX[c & 15]!;
      }
    }
  }
  if (!ascii) return NOT_ASCII;
  out[o++] = 0x22; // "
  out[o++] = 0x5d; // ]
  out[o++] = 0x0a;
  // Its own copy at its exact size: the scratch is written again by the next line.
  const line = Buffer.allocUnsafe(o);
  out.copy(line, 0, 0, o);
  return line;
}

/**
 * Whether none of a word's four bytes needs a look: none ≥ 0x80, below 0x20, `"` or `\`.
 * Bit tricks on all four bytes at once (the "has a zero byte" / "has a byte less than n"
 * tests of Hacker's Delight, ch. 6): each term sets a byte's high bit when that byte may be
 * one of them. A term can flag a plain byte next to a flagged one (borrows), never miss
 * one, so a false alarm only sends the word to the table.
 */
function plainWord(w: number): boolean {
  const quote = w ^ 0x22222222;
  const backslash = w ^ 0x5c5c5c5c;
  return ((w | ((w - 0x20202020) & ~w) | ((quote - 0x01010101) & ~quote) | ((backslash - 0x01010101) & ~backslash)) & 0x80808080) === 0;
}
