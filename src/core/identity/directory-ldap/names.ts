// Names in the LDAP directory: a filter assertion value escaped per RFC 4515 (so a user name
// such as `*` or `x)(uid=*` can never widen a search), and DNs compared the way the directory
// compares them for our purposes (case and spaces after separators ignored). Import-free, so
// the target-account operators in src/protocols use the same escaping through core/broker.ts.

/** RFC 4515 section 3: `*`, `(`, `)`, `\`, NUL and other control characters as \XX. */
export function escapeFilterValue(value: string): string {
  let out = '';
  for (const c of value) {
    const code = c.codePointAt(0)!;
    if (c === '*' || c === '(' || c === ')' || c === '\\' || code < 0x20 || code === 0x7f) out += `\\${code.toString(16).padStart(2, '0')}`;
    else out += c;
  }
  return out;
}

/** A DN in one spelling, for comparing: lower case, no spaces around `,` `=` and `+`. */
export function normalDn(dn: string): string {
  return dn.trim().replace(/\s*([,=+])\s*/g, '$1').toLowerCase();
}
