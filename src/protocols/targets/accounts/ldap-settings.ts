// How to reach a directory and where things are in it, read from the fields of a vault
// secret (an LDAP account or a management bind account). Parsing only: no socket, no file
// read here but the CA file's, so a bad setting is refused (OperatorError 'invalid') before
// anything is sent. The field names are documented in docs/target-accounts-ldap.md.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { OperatorError, type OperatorCredential } from '../../../core/broker.js';
import { DnSyntaxError, parseDn } from './ldap-names.js';

export type DirectoryFlavour = 'openldap' | 'ad';
export type MemberAttribute = 'member' | 'uniqueMember' | 'memberUid';
export type DisableMode = 'ppolicy' | 'scramble';

export interface LdapSettings {
  /** ldap://host:port or ldaps://host:port. */
  url: string;
  secure: 'ldaps' | 'starttls' | 'none';
  /** The server name the certificate must carry (the URL's host). */
  host: string;
  /** PEM of the CA(s) to trust; the system's CAs when absent. */
  ca?: Buffer;
  directory: DirectoryFlavour;
  /** Where accounts are looked up by name (search base, subtree). */
  baseDn?: string;
  /** The OU just-in-time accounts are created in (and the only place they are disabled or removed). */
  jitOu?: string;
  /** When set, every group DN must lie under it. */
  groupsDn?: string;
  /** The attribute holding an account's name: uid (OpenLDAP) or sAMAccountName (AD). */
  userAttribute: string;
  /** The naming attribute of a JIT entry's RDN: uid (OpenLDAP) or cn (AD). */
  rdnAttribute: string;
  memberAttribute: MemberAttribute;
  disableMode: DisableMode;
  /** A fixed bind DN for the account (instead of its username). */
  bindDn?: string;
  timeoutMs: number;
  connectTimeoutMs: number;
}

const invalid = (why: string) => new OperatorError('invalid', `LDAP settings: ${why}`);

function text(fields: OperatorCredential['fields'], key: string): string | undefined {
  const v = fields[key];
  if (v === undefined || v === null || v === '') return undefined;
  return String(v).trim();
}

function flag(fields: OperatorCredential['fields'], key: string): boolean {
  const v = text(fields, key);
  if (v === undefined) return false;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw invalid(`${key} must be true or false`);
}

function millis(fields: OperatorCredential['fields'], key: string, fallback: number): number {
  const v = text(fields, key);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 100 || n > 600_000) throw invalid(`${key} must be a whole number of milliseconds (100 to 600000)`);
  return n;
}

function dn(fields: OperatorCredential['fields'], key: string): string | undefined {
  const v = text(fields, key);
  if (v === undefined) return undefined;
  try {
    if (parseDn(v).length === 0) throw new DnSyntaxError('empty');
  } catch {
    throw invalid(`${key} is not a DN`);
  }
  return v;
}

function oneOf<T extends string>(fields: OperatorCredential['fields'], key: string, allowed: readonly T[], fallback: T): T {
  const v = text(fields, key);
  if (v === undefined) return fallback;
  const hit = allowed.find((a) => a.toLowerCase() === v.toLowerCase());
  if (!hit) throw invalid(`${key} must be one of ${allowed.join(', ')}`);
  return hit;
}

/** The settings of one credential. Throws OperatorError('invalid') on a bad field. */
export function ldapSettings(cred: OperatorCredential): LdapSettings {
  const f = cred.fields ?? {};
  const directory = oneOf(f, 'directory', ['openldap', 'ad'] as const, 'openldap');
  const startTls = flag(f, 'startTls');
  let url = text(f, 'url');
  let host: string;
  let ldaps: boolean;
  if (url) {
    const m = /^(ldaps?):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::([0-9]{1,5}))?\/?$/.exec(url);
    if (!m) throw invalid('url must be ldap://host[:port] or ldaps://host[:port]');
    ldaps = m[1] === 'ldaps';
    host = m[2]!.replace(/^\[|\]$/g, '');
    const port = m[3] ? Number(m[3]) : ldaps ? 636 : 389;
    if (port < 1 || port > 65535) throw invalid('url port out of range');
    url = `${m[1]}://${m[2]}:${port}`;
  } else {
    if (!cred.host || !/^[A-Za-z0-9.:-]+$/.test(cred.host)) throw invalid('no url and no usable host');
    const port = Number(cred.port) || 389;
    ldaps = flag(f, 'ldaps') || port === 636;
    host = cred.host;
    url = `${ldaps ? 'ldaps' : 'ldap'}://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  }
  if (ldaps && startTls) throw invalid('startTls is for ldap:// URLs (ldaps:// is already encrypted)');
  let ca: Buffer | undefined;
  const caPem = text(f, 'ca');
  const caFile = text(f, 'caFile');
  if (caPem) ca = Buffer.from(caPem, 'utf8');
  else if (caFile) {
    try {
      ca = readFileSync(caFile);
    } catch {
      throw invalid('caFile cannot be read');
    }
  }
  const ad = directory === 'ad';
  return {
    url,
    secure: ldaps ? 'ldaps' : startTls ? 'starttls' : 'none',
    host,
    ca,
    directory,
    baseDn: dn(f, 'baseDn'),
    jitOu: dn(f, 'jitOu'),
    groupsDn: dn(f, 'groupsDn'),
    bindDn: dn(f, 'bindDn'),
    userAttribute: oneOfName(text(f, 'userAttribute') ?? (ad ? 'sAMAccountName' : 'uid')),
    rdnAttribute: oneOfName(text(f, 'rdnAttribute') ?? (ad ? 'cn' : 'uid')),
    memberAttribute: oneOf(f, 'memberAttribute', ['member', 'uniqueMember', 'memberUid'] as const, 'member'),
    disableMode: oneOf(f, 'disableMode', ['ppolicy', 'scramble'] as const, 'ppolicy'),
    timeoutMs: millis(f, 'timeoutMs', 10_000),
    connectTimeoutMs: millis(f, 'connectTimeoutMs', 5_000),
  };
}

/** An attribute type name as it may appear in a filter or an RDN (no injection through it). */
function oneOfName(name: string): string {
  if (!/^[A-Za-z][A-Za-z0-9-]{0,63}$/.test(name)) throw invalid(`attribute name ${JSON.stringify(name.slice(0, 64))} is not valid`);
  return name;
}
