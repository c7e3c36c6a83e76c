// Password rules of a template (issue 12: what a rotated password must look like on the
// target) and the generator that meets them. The rules are checked when a template is saved,
// so a rotation never discovers that they cannot be met.
import { randomInt } from 'node:crypto';
import { badRequest } from '../errors.js';

export interface PasswordRules {
  length: number;
  lower: boolean;
  upper: boolean;
  digit: boolean;
  symbol: boolean;
  /** The symbols a password may hold (only when `symbol`). */
  symbols: string;
}

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGIT = '0123456789';
/** No quote, backslash, colon or space: safe in chpasswd's "name:password" lines and in the usual shells and forms. */
export const DEFAULT_SYMBOLS = '!#%+,-./=?@^_~';
export const MAX_PASSWORD_LENGTH = 128;

export const DEFAULT_PASSWORD_RULES: PasswordRules = { length: 24, lower: true, upper: true, digit: true, symbol: true, symbols: DEFAULT_SYMBOLS };

/** Fills the rules a template leaves out with the defaults and refuses rules no password can meet (400). */
export function normalizeRules(input: Partial<PasswordRules> | null | undefined): PasswordRules {
  const r: PasswordRules = { ...DEFAULT_PASSWORD_RULES, ...(input ?? {}) };
  const classes = (['lower', 'upper', 'digit', 'symbol'] as const).filter((k) => r[k]);
  if (!Number.isInteger(r.length) || r.length < 8 || r.length > MAX_PASSWORD_LENGTH) throw badRequest(`password rules: length must be a whole number from 8 to ${MAX_PASSWORD_LENGTH}`);
  if (classes.length === 0) throw badRequest('password rules: at least one character class (lower, upper, digit, symbol) must be allowed');
  if (r.length < classes.length) throw badRequest(`password rules: a password of ${r.length} characters cannot hold one of each of the ${classes.length} required classes`);
  if (r.symbol) {
    if (r.symbols.length === 0) throw badRequest('password rules: symbol is required but the symbols set is empty');
    for (const ch of r.symbols) {
      // Control characters, letters, digits and the separators of chpasswd (:) and lines cannot be symbols.
      if (/[\sA-Za-z0-9:\\]/.test(ch) || ch.charCodeAt(0) < 0x21 || ch.charCodeAt(0) > 0x7e) throw badRequest(`password rules: "${ch === '\n' ? '\\n' : ch}" cannot be a symbol (printable ASCII punctuation other than ":" and "\\" only)`);
    }
    r.symbols = [...new Set(r.symbols)].join('');
  } else r.symbols = '';
  return r;
}

/** A crypto-random password with at least one character of every required class, the rest from all of them. */
export function generatePassword(rules: PasswordRules): string {
  const sets = [rules.lower && LOWER, rules.upper && UPPER, rules.digit && DIGIT, rules.symbol && rules.symbols].filter((x): x is string => !!x);
  const all = sets.join('');
  const chars = sets.map((s) => s[randomInt(s.length)]!);
  while (chars.length < rules.length) chars.push(all[randomInt(all.length)]!);
  // Fisher-Yates, so the required characters are not always first.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}

/** Whether a password meets the rules (the generator's own check, and the tests'). */
export function meetsRules(password: string, rules: PasswordRules): boolean {
  if (password.length !== rules.length) return false;
  const allowed = (rules.lower ? LOWER : '') + (rules.upper ? UPPER : '') + (rules.digit ? DIGIT : '') + (rules.symbol ? rules.symbols : '');
  if ([...password].some((c) => !allowed.includes(c))) return false;
  const has = (set: string) => [...password].some((c) => set.includes(c));
  return (!rules.lower || has(LOWER)) && (!rules.upper || has(UPPER)) && (!rules.digit || has(DIGIT)) && (!rules.symbol || has(rules.symbols));
}
