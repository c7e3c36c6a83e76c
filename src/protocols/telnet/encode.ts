// Bytes Gatehouse sends to a Telnet target: negotiations, subnegotiations, and the
// person's keystrokes in NVT form.
import { CR, IAC, LF, NUL, Option, SB, SE, TTYPE_IS, type NegotiationVerb } from './codes.js';

/** Doubles every 0xFF so the target reads it as data, not as IAC. */
export function escapeIac(data: Buffer): Buffer {
  let count = 0;
  for (const b of data) if (b === IAC) count++;
  if (count === 0) return data;
  const out = Buffer.allocUnsafe(data.length + count);
  let n = 0;
  for (const b of data) {
    out[n++] = b;
    if (b === IAC) out[n++] = IAC;
  }
  return out;
}

export function negotiation(verb: NegotiationVerb, option: number): Buffer {
  return Buffer.from([IAC, verb, option & 0xff]);
}

export function subnegotiation(option: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([IAC, SB, option & 0xff]), escapeIac(payload), Buffer.from([IAC, SE])]);
}

/** RFC 1073: IAC SB NAWS <width16> <height16> IAC SE, big-endian, clamped to 16 bits. */
export function nawsMessage(cols: number, rows: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt16BE(clamp16(cols), 0);
  p.writeUInt16BE(clamp16(rows), 2);
  return subnegotiation(Option.NAWS, p);
}

/** RFC 1091: IAC SB TTYPE IS <name> IAC SE. Names are ASCII; anything else is dropped. */
export function ttypeIsMessage(term: string): Buffer {
  const name = Buffer.from(term.replace(/[^\x21-\x7e]/g, ''), 'ascii');
  return subnegotiation(Option.TTYPE, Buffer.concat([Buffer.from([TTYPE_IS]), name]));
}

/**
 * The person's keystrokes for the wire: IAC doubled and, unless we send in BINARY
 * mode, a CR that does not start CR LF sent as CR NUL (RFC 854), which is what the
 * Enter key of a raw-mode terminal produces.
 */
export function encodeKeystrokes(data: Buffer, binary: boolean): Buffer {
  const escaped = escapeIac(data);
  if (binary) return escaped;
  let crs = 0;
  for (let i = 0; i < escaped.length; i++) if (escaped[i] === CR && escaped[i + 1] !== LF) crs++;
  if (crs === 0) return escaped;
  const out = Buffer.allocUnsafe(escaped.length + crs);
  let n = 0;
  for (let i = 0; i < escaped.length; i++) {
    const b = escaped[i]!;
    out[n++] = b;
    if (b === CR && escaped[i + 1] !== LF) out[n++] = NUL;
  }
  return out;
}

function clamp16(v: number): number {
  if (!Number.isFinite(v)) return 0;
  return Math.min(0xffff, Math.max(0, Math.trunc(v)));
}

/**
 * A line the login dialogue types (user name, password), ended as the Enter key ends it.
 * In BINARY mode (RFC 856) the NVT newline rules do not apply: the target hands the
 * bytes to its terminal unchanged, so the line ends with a bare CR (a Unix pty reads
 * CR LF as two line ends and would take the LF as the next answer, e.g. an empty
 * password). In NVT mode it ends with CR LF (RFC 854); only 7-bit text can be sent then,
 * as the target may strip the eighth bit (inetutils telnetd sets ISTRIP) and turn a UTF-8
 * byte into a control character: null when the text has any byte >= 0x80.
 */
export function encodeLine(text: string, binary: boolean): Buffer | null {
  const bytes = Buffer.from(text, 'utf8');
  if (binary) return Buffer.concat([escapeIac(bytes), Buffer.from([CR])]);
  if (bytes.some((b) => b >= 0x80)) return null;
  return Buffer.concat([bytes, Buffer.from([CR, LF])]);
}
