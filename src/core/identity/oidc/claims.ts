// From an ID token's (and userinfo's) claims to the person Gatehouse signs in: the user name
// claim, the allowed e-mail domains, and the Gatehouse groups the groups claim maps to. Pure
// (no database, no network) so each rule is plain to read and test.

export interface ClaimRules {
  usernameClaim: string;
  groupsClaim: string;
  /** Lower-case domains; empty: any. */
  allowedDomains: string[];
  /** A value of the groups claim → a Gatehouse group id. */
  groupMap: { claim: string; group: string }[];
  /** Refuse a person none of whose groups is mapped. */
  requireMappedGroup: boolean;
}

export interface Person {
  subject: string;
  username: string;
  displayName: string | null;
  email: string | null;
  /** Gatehouse groups their groups claim maps to. */
  groupIds: string[];
}

export type Refusal = { refused: string; message: string; name?: string };

/** A claim by name; a dotted name reaches into objects (Keycloak's realm_access.roles). */
function claim(claims: Record<string, unknown>, name: string): unknown {
  if (name in claims) return claims[name];
  return name.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), claims);
}

export function claimsToPerson(claims: Record<string, unknown>, rules: ClaimRules): Person | Refusal {
  const subject = typeof claims.sub === 'string' ? claims.sub : '';
  const raw = claim(claims, rules.usernameClaim);
  if (!subject || typeof raw !== 'string' || raw.trim() === '') return { refused: 'no_username', message: `the sign-in provider sent no ${rules.usernameClaim} claim` };
  const username = raw.trim();
  const email = typeof claims.email === 'string' ? claims.email.trim() : null;
  if (rules.allowedDomains.length) {
    // The e-mail's domain when there is one, else the user name's when it looks like an address.
    const address = email ?? (username.includes('@') ? username : null);
    const domain = address?.split('@').pop()?.toLowerCase() ?? '';
    if (!rules.allowedDomains.includes(domain)) return { refused: 'domain_not_allowed', message: 'your account\'s domain may not sign in here', name: username };
    if (email && claims.email_verified === false) return { refused: 'email_not_verified', message: 'your e-mail address is not verified at the sign-in provider', name: username };
  }
  const g = claim(claims, rules.groupsClaim);
  const groups = Array.isArray(g) ? g.filter((x): x is string => typeof x === 'string') : typeof g === 'string' ? [g] : [];
  const groupIds = [...new Set(rules.groupMap.filter((m) => groups.includes(m.claim)).map((m) => m.group))];
  if (rules.requireMappedGroup && groupIds.length === 0) return { refused: 'no_mapped_group', message: 'none of your groups gives access to Gatehouse', name: username };
  const displayName = typeof claims.name === 'string' && claims.name.trim() ? claims.name.trim().slice(0, 128) : null;
  return { subject, username, displayName, email, groupIds };
}
