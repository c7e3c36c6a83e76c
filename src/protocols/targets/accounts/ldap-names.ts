// Names in an LDAP directory, made safe: a DN attribute value escaped per RFC 4514, a filter
// assertion value per RFC 4515, a DN parsed (to tell whether a given DN lies under a
// configured base), and the names Gatehouse accepts for accounts. Every value that reaches a DN
// or a filter goes through here, so `x)(uid=*` can never widen a search and `a,ou=admins` can
// never move an entry to another OU. Import-free and socket-free: unit-tested alone.

/** RFC 4514 section 2.4: the characters of an attribute value that must be escaped in a DN. */
export function escapeDnValue(value: string): string {
  let out = '';
  const chars = [...value];
  chars.forEach((c, i) => {
    const code = c.codePointAt(0)!;
    if (code < 0x20 || code === 0x7f) out += `\\${code.toString(16).padStart(2, '0')}`;
    else if ('"+,;<>\\='.includes(c)) out += `\\${c}`;
    else if (i === 0 && (c === ' ' || c === '#')) out += `\\${c}`;
    else if (i === chars.length - 1 && c === ' ') out += '\\ ';
    else out += c;
  });
  return out;
}

// RFC 4515 filter escaping is the core's (one copy, import-free, shared with the LDAP directory sign-in).
export { escapeFilterValue } from '../../../core/broker.js';

/** One attribute=value of an RDN; `value` unescaped (a #hex value kept as written). */
export interface Ava {
  type: string;
  value: string;
}
export type Rdn = Ava[];

export class DnSyntaxError extends Error {}

const HEX = /^[0-9a-fA-F]{2}$/;

/** Parses a DN string (RFC 4514; spaces after `,` and `+` tolerated, control characters only
 *  escaped). Throws DnSyntaxError. */
export function parseDn(dn: string): Rdn[] {
  const rdns: Rdn[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new DnSyntaxError(`not a DN: ${why}`);
  };
  if (dn.trim() === '') return rdns;
  let rdn: Rdn = [];
  for (;;) {
    while (dn[i] === ' ') i++;
    const typeMatch = /^([A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*)\s*=/.exec(dn.slice(i));
    if (!typeMatch) fail('attribute type expected');
    const type = typeMatch![1]!;
    i += typeMatch![0].length;
    const bytes: number[] = [];
    let value = '';
    const flush = () => {
      if (bytes.length) {
        value += Buffer.from(bytes).toString('utf8');
        bytes.length = 0;
      }
    };
    if (dn[i] === '#') {
      const m = /^#(?:[0-9a-fA-F]{2})+/.exec(dn.slice(i));
      if (!m) fail('bad hex value');
      value = m![0];
      i += m![0].length;
    } else {
      let trailingSpaces = 0;
      while (i < dn.length && dn[i] !== ',' && dn[i] !== '+') {
        const c = dn[i]!;
        if (c === '\\') {
          const next = dn.slice(i + 1, i + 3);
          if (HEX.test(next)) {
            bytes.push(parseInt(next, 16));
            i += 3;
          } else if (i + 1 < dn.length && ' "#+,;<=>\\'.includes(dn[i + 1]!)) {
            flush();
            value += dn[i + 1];
            i += 2;
          } else fail('bad escape');
          trailingSpaces = 0;
          continue;
        }
        if ('"<>;'.includes(c)) fail(`unescaped ${c}`);
        // Stricter than RFC 4514: a control character must be escaped (no line breaks slipped into a DN).
        if (c < ' ' || c === '\x7f') fail('unescaped control character');
        flush();
        value += c;
        trailingSpaces = c === ' ' ? trailingSpaces + 1 : 0;
        i++;
      }
      flush();
      if (trailingSpaces) value = value.slice(0, value.length - trailingSpaces);
    }
    if (value === '') fail('empty value');
    rdn.push({ type, value });
    if (i >= dn.length) {
      rdns.push(rdn);
      return rdns;
    }
    if (dn[i] === '+') {
      i++;
      continue;
    }
    if (dn[i] !== ',') fail('separator expected');
    rdns.push(rdn);
    rdn = [];
    i++;
  }
}

/** Tells whether a string is a well-formed DN (with one RDN at least). */
export function isDn(value: string): boolean {
  try {
    return parseDn(value).length > 0;
  } catch {
    return false;
  }
}

const norm = (a: Ava) => `${a.type.toLowerCase()}=${a.value.toLowerCase().replace(/\s+/g, ' ')}`;
const rdnKey = (r: Rdn) => r.map(norm).sort().join('+');

/** The same entry name (types and values compared case-insensitively, as most naming attributes are). */
export function sameDn(a: string, b: string): boolean {
  const x = parseDn(a);
  const y = parseDn(b);
  return x.length === y.length && x.every((r, i) => rdnKey(r) === rdnKey(y[i]!));
}

/** `dn` is `base` or below it. */
export function isDnUnder(dn: string, base: string): boolean {
  const x = parseDn(dn);
  const y = parseDn(base);
  if (x.length < y.length) return false;
  const off = x.length - y.length;
  return y.every((r, i) => rdnKey(r) === rdnKey(x[off + i]!));
}

/** Writes one RDN followed by its parent: `<type>=<escaped value>,<parent>`. */
export function childDn(type: string, value: string, parent: string): string {
  return `${type}=${escapeDnValue(value)},${parent}`;
}

/** A just-in-time account name: letters, digits, `.`, `_`, `-`; starting with a letter or digit. */
const JIT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Returns why a JIT account name (or a name prefix) is refused, or null when it is acceptable. */
export function jitNameProblem(name: string, maxLength = 64): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'empty';
  if (name.length > maxLength) return `longer than ${maxLength} characters`;
  if (!JIT_NAME.test(name)) return 'only letters, digits, ".", "_" and "-" are allowed, starting with a letter or digit';
  return null;
}

/** Returns why the name of an existing account to look up is refused, or null. Anything printable
 *  is allowed (the value is escaped in the filter); control characters and huge values are not. */
export function lookupNameProblem(name: string): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'empty';
  if (name.length > 256) return 'longer than 256 characters';
  if (/[\x00-\x1f\x7f]/.test(name)) return 'control characters are not allowed';
  return null;
}
