// Connections to the LDAP directory: connect (ldaps://, or ldap:// with StartTLS; certificates
// always checked, against the configured CA file when there is one), bind, search, unbind.
// Errors become AppErrors here with messages written from the result code or Node's error code,
// never copied from the server or the socket, so no password (nor a server's echo of one)
// reaches an answer, a log line or the audit trail.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Client, ResultCodeError, type Entry } from 'ldapts';
import { AppError } from '../../errors.js';
import type { LdapConfig } from './config.js';

export const INVALID_CREDENTIALS = 49;

/** The directory could not be used: 503 directory_unavailable, saying which step failed and why. */
export function unavailable(e: unknown, step: string): AppError {
  if (e instanceof AppError) return e;
  if (e instanceof ResultCodeError) return new AppError(503, 'directory_unavailable', `LDAP directory: ${step} failed (LDAP result ${e.code}); local accounts can still sign in`);
  const raw = (e as { code?: unknown })?.code;
  const token = typeof raw === 'string' && /^[A-Z0-9_]{2,64}$/.test(raw) ? raw : undefined;
  const tls = token !== undefined && /CERT|SIGNATURE|TLS|SSL|ISSUER|SELF_SIGNED/.test(token);
  const timeout = token === 'ETIMEDOUT' || /timeout|timed out/i.test((e as Error)?.message ?? '');
  const cause = tls ? `the server's TLS certificate was not accepted (${token})` : timeout ? 'timed out' : token ? `cannot connect (${token})` : 'connection failed';
  return new AppError(503, 'directory_unavailable', `LDAP directory: ${step} failed: ${cause}; local accounts can still sign in`);
}

async function tlsOptions(c: LdapConfig, host: string): Promise<ConnectionOptions> {
  let ca: string | undefined;
  if (c.caFile) {
    try {
      ca = await readFile(c.caFile, 'utf8');
    } catch (e) {
      throw new AppError(503, 'directory_unavailable', `LDAP directory: cannot read the CA file (${(e as { code?: string }).code ?? 'error'})`);
    }
  }
  return { ...(ca ? { ca } : {}), minVersion: 'TLSv1.2', rejectUnauthorized: true, ...(isIP(host) ? {} : { servername: host }) };
}

/** A connected client (not bound), TLS in place as configured. */
export async function connect(c: LdapConfig): Promise<Client> {
  const host = new URL(c.url).hostname.replace(/^\[|\]$/g, '');
  const ms = c.timeoutSeconds * 1000;
  const tls = c.security === 'none' ? undefined : await tlsOptions(c, host);
  // ldapts speaks TLS from the first byte whenever tlsOptions is given, even for ldap://.
  const client = new Client({ url: c.url, timeout: ms, connectTimeout: ms, ...(c.security === 'ldaps' ? { tlsOptions: tls } : {}) });
  if (c.security === 'starttls') {
    try {
      await client.startTLS({ ...tls, host });
    } catch (e) {
      await close(client);
      throw unavailable(e, 'StartTLS');
    }
  }
  return client;
}

export async function close(client: Client): Promise<void> {
  await client.unbind().catch(() => undefined);
}

/** A client bound as the service account (password from the vault); `step` names the failure. */
export async function serviceClient(c: LdapConfig, password: string): Promise<Client> {
  const client = await connect(c);
  try {
    await client.bind(c.bindDn, password);
  } catch (e) {
    await close(client);
    if (e instanceof ResultCodeError && e.code === INVALID_CREDENTIALS) throw new AppError(503, 'directory_unavailable', 'LDAP directory: the service account bind was refused (check bindDn and the vault secret holding its password)');
    throw unavailable(e, 'connecting');
  }
  return client;
}

/** Whether `dn` binds with `password` (an empty password never: that would be an anonymous bind). */
export async function canBind(c: LdapConfig, dn: string, password: string): Promise<boolean> {
  if (password === '' || dn === '') return false;
  const client = await connect(c);
  try {
    await client.bind(dn, password);
    return true;
  } catch (e) {
    // Refused credentials (an AD account disabled or expired also answers 49).
    if (e instanceof ResultCodeError && (e.code === INVALID_CREDENTIALS || e.code === 53 || e.code === 50)) return false;
    throw unavailable(e, 'the user bind');
  } finally {
    await close(client);
  }
}

/** Every entry under `base` matching `filter` (paged, so large directories come whole). */
export async function searchAll(client: Client, base: string, filter: string, attributes: string[]): Promise<Entry[]> {
  try {
    const r = await client.search(base, { scope: 'sub', filter, attributes, paged: { pageSize: 500 } });
    return r.searchEntries;
  } catch (e) {
    throw unavailable(e, 'a search');
  }
}

/** The values of one attribute of an entry, as strings. */
export function values(entry: Entry, attribute: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  const v = key === undefined ? undefined : entry[key];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
}
