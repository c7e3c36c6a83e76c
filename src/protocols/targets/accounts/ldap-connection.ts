// One connection to a directory for one account operation: connect (ldaps:// or ldap:// with
// StartTLS, certificates always checked, against the configured CA when there is one), bind,
// run, unbind. Also the one place LDAP and network errors become OperatorErrors: their
// messages are written here from the result code, never copied from the server or the socket
// error, so no credential (nor a server's echo of one) can reach the audit trail or the portal.
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Client, ResultCodeError } from 'ldapts';
import { OperatorError, type OperatorFailure } from '../../../core/broker.js';
import type { LdapSettings } from './ldap-settings.js';

/** LDAP result codes (RFC 4511 appendix A) and what each means for the core. */
const RESULTS: Record<number, [OperatorFailure, string]> = {
  1: ['error', 'operations error'],
  2: ['error', 'protocol error'],
  3: ['unreachable', 'time limit exceeded'],
  4: ['error', 'size limit exceeded'],
  7: ['denied', 'authentication method not supported'],
  8: ['denied', 'stronger authentication required'],
  13: ['denied', 'confidentiality required'],
  16: ['invalid', 'no such attribute'],
  17: ['invalid', 'undefined attribute type'],
  19: ['invalid', 'constraint violation'],
  20: ['invalid', 'attribute value exists'],
  21: ['invalid', 'invalid attribute syntax'],
  32: ['invalid', 'no such entry'],
  34: ['invalid', 'invalid DN syntax'],
  49: ['refused', 'invalid credentials'],
  50: ['denied', 'insufficient access rights'],
  51: ['unreachable', 'server busy'],
  52: ['unreachable', 'server unavailable'],
  53: ['denied', 'server unwilling to perform'],
  64: ['invalid', 'naming violation'],
  65: ['invalid', 'object class violation'],
  66: ['invalid', 'not allowed on a non-leaf entry'],
  68: ['invalid', 'entry already exists'],
};

/** The LDAP result code of an error from ldapts, or undefined for a network or TLS error. */
export function resultCode(e: unknown): number | undefined {
  return e instanceof ResultCodeError ? e.code : undefined;
}

/** `what` failed because of `e`: an OperatorError whose message names the step and the cause only. */
export function operatorError(e: unknown, what: string): OperatorError {
  if (e instanceof OperatorError) return e;
  const code = resultCode(e);
  if (code !== undefined) {
    const [failure, text] = RESULTS[code] ?? ['error', 'LDAP error'];
    return new OperatorError(failure, `${what}: ${text} (LDAP ${code})`);
  }
  // Node's error codes are fixed tokens (ECONNREFUSED, ERR_TLS_CERT_ALTNAME_INVALID,
  // UNABLE_TO_VERIFY_LEAF_SIGNATURE…); anything else gets no detail.
  const raw = (e as { code?: unknown })?.code;
  const token = typeof raw === 'string' && /^[A-Z0-9_]{2,64}$/.test(raw) ? raw : undefined;
  const tls = token !== undefined && /CERT|SIGNATURE|TLS|SSL|ISSUER|SELF_SIGNED/.test(token);
  const timeout = /timeout|timed out/i.test((e as Error)?.message ?? '') || token === 'ETIMEDOUT';
  const cause = tls ? `TLS certificate not accepted (${token})` : timeout ? 'timed out' : token ? `cannot connect (${token})` : 'connection failed';
  return new OperatorError('unreachable', `${what}: ${cause}`);
}

function tlsOptions(s: LdapSettings): ConnectionOptions {
  return { ca: s.ca, minVersion: 'TLSv1.2', rejectUnauthorized: true };
}

/** A connected client, TLS in place as configured (not bound yet). */
export async function connect(s: LdapSettings): Promise<Client> {
  // ldapts speaks TLS from the first byte whenever tlsOptions is given, even for ldap://.
  const client = new Client({ url: s.url, timeout: s.timeoutMs, connectTimeout: s.connectTimeoutMs, ...(s.secure === 'ldaps' ? { tlsOptions: tlsOptions(s) } : {}) });
  if (s.secure === 'starttls') {
    try {
      await client.startTLS({ ...tlsOptions(s), host: s.host, servername: isIP(s.host) ? undefined : s.host });
    } catch (e) {
      await close(client);
      throw operatorError(e, 'StartTLS');
    }
  }
  return client;
}

export async function close(client: Client): Promise<void> {
  try {
    await client.unbind();
  } catch {
    // Already gone; nothing to release.
  }
}

/** Connects, binds as `dn` and runs `fn`; always unbinds. A refused bind is OperatorError('refused'). */
export async function withBind<T>(s: LdapSettings, dn: string, password: string, who: string, fn: (client: Client) => Promise<T>): Promise<T> {
  // An empty password is an unauthenticated bind (RFC 4513 5.1.2), which servers accept: never send one.
  if (!password) throw new OperatorError('invalid', `${who}: no password to bind with`);
  const client = await connect(s);
  try {
    try {
      await client.bind(dn, password);
    } catch (e) {
      throw operatorError(e, `${who} bind`);
    }
    return await fn(client);
  } finally {
    await close(client);
  }
}
