// How an Endpoint Credential Manager names a person and an endpoint (seeds 001/002):
// "Secret Server User ID (ex: user1 or DOMAIN\username or username@domain)". Gatehouse
// keeps domain users as `name@domain` user names, so each form becomes an ordered list of
// user names to try, following the settings "Default Domain for Local … Users" (tried
// first for a bare name) and "Enable fall-back to local account if domain account not
// found". Pure functions: no store, no I/O.

export interface UserId {
  name: string;
  /** The domain the caller gave (DOMAIN\name or name@domain), or null for a bare name. */
  domain: string | null;
  form: 'local' | 'down-level' | 'upn';
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DOMAIN = /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/;

/** Parses one of the three forms; null when it is none of them. */
export function parseUserId(raw: string): UserId | null {
  const s = raw.trim();
  const slash = s.indexOf('\\');
  if (slash >= 0) {
    const domain = s.slice(0, slash);
    const name = s.slice(slash + 1);
    return DOMAIN.test(domain) && NAME.test(name) ? { name, domain, form: 'down-level' } : null;
  }
  const at = s.lastIndexOf('@');
  if (at >= 0) {
    const name = s.slice(0, at);
    const domain = s.slice(at + 1);
    return DOMAIN.test(domain) && NAME.test(name) ? { name, domain, form: 'upn' } : null;
  }
  return NAME.test(s) ? { name: s, domain: null, form: 'local' } : null;
}

export interface NameRules {
  defaultDomain: string;
  fallbackToLocal: boolean;
}

/** One user name to look up, and why (for the answer and the audit trail). */
export interface Candidate {
  /** The name part; the lookup matches `name` alone when domain is null, else `name@<domain or its DNS form>`. */
  name: string;
  domain: string | null;
  matchedAs: 'domain' | 'default-domain' | 'local' | 'fall-back';
}

/** The user names to try, first match wins. */
export function candidates(id: UserId, rules: NameRules): Candidate[] {
  if (id.domain === null) {
    const out: Candidate[] = [];
    if (rules.defaultDomain) out.push({ name: id.name, domain: rules.defaultDomain, matchedAs: 'default-domain' });
    out.push({ name: id.name, domain: null, matchedAs: 'local' });
    return out;
  }
  const out: Candidate[] = [{ name: id.name, domain: id.domain, matchedAs: 'domain' }];
  if (rules.fallbackToLocal) out.push({ name: id.name, domain: null, matchedAs: 'fall-back' });
  return out;
}

/**
 * Whether a stored domain (of a user name or a secret's domain field) is the domain the
 * caller named: the same text in any case, or a NetBIOS name (NS) against the first label
 * of a DNS domain (ns.example.net) either way round.
 */
export function sameDomain(a: string, b: string): boolean {
  const x = a.trim().toLowerCase();
  const y = b.trim().toLowerCase();
  if (!x || !y) return false;
  if (x === y) return true;
  if (!x.includes('.') && y.split('.')[0] === x) return true;
  if (!y.includes('.') && x.split('.')[0] === y) return true;
  return false;
}

/** Whether a secret's machine field names the endpoint: same text in any case, or the same host when one side is the short name. */
export function sameMachine(field: string, endpoint: string): boolean {
  const x = field.trim().toLowerCase();
  const y = endpoint.trim().toLowerCase();
  if (!x || !y) return false;
  if (x === y) return true;
  const ip = /^[0-9.]+$|:/;
  if (ip.test(x) || ip.test(y)) return false;
  if (!x.includes('.') && y.split('.')[0] === x) return true;
  if (!y.includes('.') && x.split('.')[0] === y) return true;
  return false;
}

/** The endpoint's DNS domain (host.corp.example → corp.example), or null for a short name or an address. */
export function endpointDomain(endpoint: string): string | null {
  const e = endpoint.trim().toLowerCase();
  if (/^[0-9.]+$/.test(e) || e.includes(':')) return null;
  const dot = e.indexOf('.');
  return dot > 0 && dot < e.length - 1 ? e.slice(dot + 1) : null;
}

/** "Include domain credentials for": the comma-separated list as domains. */
export const domainList = (setting: string): string[] => setting.split(',').map((d) => d.trim()).filter(Boolean);
