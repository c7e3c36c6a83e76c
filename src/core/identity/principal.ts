import type { Permission, Scope } from './permissions.js';

/** Who is making a request, as resolved from a bearer token. */
export interface Principal {
  userId: string;
  username: string;
  isApplication: boolean;
  groupIds: string[];
  permissions: Set<Permission>;
  /** null = unrestricted (login session tokens). */
  scopes: Set<Scope> | null;
  tokenId: string;
  tokenKind: 'session' | 'api' | 'oauth';
  ip: string | null;
}

export const can = (p: Principal, perm: Permission): boolean => p.permissions.has(perm);
export const hasScope = (p: Principal, s: Scope): boolean => p.scopes === null || p.scopes.has(s);
export const actorOf = (p: Principal | null | undefined, ip?: string | null) =>
  p ? { id: p.userId, name: p.username, ip: ip ?? p.ip } : { id: null, name: null, ip: ip ?? null };
