// Browser sessions: the login token rides in an HttpOnly, Secure, SameSite=Strict cookie;
// state-changing requests must also echo a CSRF token derived from it (double submit,
// bound to the session, nothing stored) in the X-CSRF-Token header. The __Host- prefix
// makes browsers refuse these names from anywhere but this host (Secure, Path=/, no Domain):
// a sibling subdomain cannot plant a session of its own for the person to work in.
import type { FastifyReply } from 'fastify';
import { sha256hex } from '../core/util.js';

export const SESSION_COOKIE = '__Host-gh_session';
export const CSRF_COOKIE = '__Host-gh_csrf';
export const CSRF_HEADER = 'x-csrf-token';

export const csrfFor = (token: string): string => sha256hex(`gatehouse-csrf:${token}`).slice(0, 43);

export function setSessionCookies(reply: FastifyReply, token: string, expiresAt: string): string {
  const expires = new Date(expiresAt);
  const csrf = csrfFor(token);
  reply.setCookie(SESSION_COOKIE, token, { path: '/', httpOnly: true, secure: true, sameSite: 'strict', expires });
  reply.setCookie(CSRF_COOKIE, csrf, { path: '/', httpOnly: false, secure: true, sameSite: 'strict', expires });
  return csrf;
}

export function clearSessionCookies(reply: FastifyReply): void {
  // With the attributes they were set with: browsers ignore a __Host- cookie without Secure.
  reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, secure: true, sameSite: 'strict' });
  reply.clearCookie(CSRF_COOKIE, { path: '/', httpOnly: false, secure: true, sameSite: 'strict' });
}
