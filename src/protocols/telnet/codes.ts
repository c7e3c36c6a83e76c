// Telnet command and option codes (RFC 854, 855 and the option RFCs named below).

/** Commands: each follows an IAC byte. */
export const IAC = 255;
export const DONT = 254;
export const DO = 253;
export const WONT = 252;
export const WILL = 251;
export const SB = 250;
export const GA = 249;
export const EL = 248;
export const EC = 247;
export const AYT = 246;
export const AO = 245;
export const IP = 244;
export const BRK = 243;
export const DM = 242;
export const NOP = 241;
export const SE = 240;

export type NegotiationVerb = typeof WILL | typeof WONT | typeof DO | typeof DONT;

export function isNegotiationVerb(b: number): b is NegotiationVerb {
  return b === WILL || b === WONT || b === DO || b === DONT;
}

/** Option codes. */
export const Option = {
  BINARY: 0, // RFC 856
  ECHO: 1, // RFC 857
  SGA: 3, // RFC 858, suppress go-ahead
  STATUS: 5,
  TIMING_MARK: 6,
  TTYPE: 24, // RFC 1091, terminal type
  NAWS: 31, // RFC 1073, window size
  TSPEED: 32,
  LFLOW: 33,
  LINEMODE: 34,
  XDISPLOC: 35,
  OLD_ENVIRON: 36,
  AUTHENTICATION: 37,
  ENCRYPT: 38,
  NEW_ENVIRON: 39,
} as const;

/** RFC 1091 subnegotiation qualifiers. */
export const TTYPE_IS = 0;
export const TTYPE_SEND = 1;

/** NVT bytes that matter for line endings. */
export const NUL = 0;
export const LF = 10;
export const CR = 13;

const VERB_NAMES: Record<number, string> = { [WILL]: 'WILL', [WONT]: 'WONT', [DO]: 'DO', [DONT]: 'DONT' };

/** For log lines and test messages. */
export function verbName(verb: number): string {
  return VERB_NAMES[verb] ?? String(verb);
}
