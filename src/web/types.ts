import type { Permission, Scope } from '../core/identity/permissions.js';
import type { Principal } from '../core/identity/principal.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** false = public route (login, health, OpenAPI, OAuth2 token). */
    auth?: boolean;
    /** Role permission the caller must hold. */
    permission?: Permission;
    /** Token scope needed; defaults to read for GET and write otherwise. */
    scope?: Scope;
    /**
     * Sign-in credentials (API tokens, SSH keys, passkeys, TOTP): only a sign-in makes them,
     * not an API or OAuth2 token. A token's scopes only narrow what it may do, and what it
     * made would outlive it (revoked, or its client's credentials re-issued) with more.
     */
    fullRights?: boolean;
  }
}
