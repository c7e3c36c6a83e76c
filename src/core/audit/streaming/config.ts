// A sink's settings: what is stored as plain JSON (where to send, how to frame and retry) and
// what is sealed (the webhook's URL and HMAC key, the CA a TLS sink trusts, a client
// certificate's key). A webhook's URL often carries the receiver's secret (a path token as
// Slack or Teams hooks have, a collector path, `?api-key=`): it is sealed, and the plain JSON,
// answers and audit events hold only its display form (displayUrl). Checked here once, for the
// API and for the transports.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { badRequest } from '../../errors.js';
import { isLoopbackHost } from '../../identity/oidc/issuer.js';

export const SINK_KINDS = ['syslog', 'webhook'] as const;
export type SinkKind = (typeof SINK_KINDS)[number];

export interface SinkConfig {
  /** syslog: where to connect. */
  host: string | null;
  port: number | null;
  /** syslog: TLS (RFC 5425) rather than plain TCP. Webhooks follow their URL's scheme. */
  tls: boolean;
  /** syslog over TLS: the name the certificate must carry (default: host). */
  serverName: string | null;
  /** syslog: 0-23 (13: log audit). */
  facility: number;
  /** syslog: the HOSTNAME field; null: this machine's host name. */
  hostname: string | null;
  /**
   * webhook: the URL's display form (displayUrl: scheme, host, port, and `/…` for any path or
   * query); the URL itself is sealed (SinkSecrets.url). A sink stored before URLs were sealed
   * has the whole URL here until AuditSinks seals it.
   */
  url: string | null;
  /** Events per write (syslog) or per POST (webhook). */
  batchSize: number;
  /** Connect / request timeout. */
  timeoutSeconds: number;
  /** Backoff after a failed delivery: retryInitialMs, doubling per failure in a row, at most retryMaxMs. */
  retryInitialMs: number;
  retryMaxMs: number;
}

export interface SinkSecrets {
  /** webhook: the URL deliveries are posted to (https; plain http only to a loopback address). */
  url?: string;
  hmacKey?: string;
  caPem?: string;
  clientCertPem?: string;
  clientKeyPem?: string;
}

export const SECRET_FIELDS = ['url', 'hmacKey', 'caPem', 'clientCertPem', 'clientKeyPem'] as const;

/** What the display form puts for a URL's path and query (URL-encoded as a path: DISPLAY_PATH). */
const ELLIPSIS = '…';
const DISPLAY_PATH = '/%E2%80%A6';

/**
 * A webhook URL as it may be shown, stored in clear and audited: scheme, host and port, and
 * `/…` standing for the path and query when there are any (they may carry the receiver's
 * secret). `https://hooks.example.com/services/T0/B0/XXXX` → `https://hooks.example.com/…`.
 * A display form maps to itself.
 */
export function displayUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return ELLIPSIS;
  }
  return `${u.protocol}//${u.host}${u.pathname !== '/' || u.search ? `/${ELLIPSIS}` : ''}`;
}

export const DEFAULTS = { tls: false, serverName: null, facility: 13, hostname: null, batchSize: 100, timeoutSeconds: 10, retryInitialMs: 1000, retryMaxMs: 300_000 } as const;

export type SinkInput = Partial<Omit<SinkConfig, 'serverName' | 'hostname'>> & {
  serverName?: string | null;
  hostname?: string | null;
} & { [K in Exclude<keyof SinkSecrets, 'url'>]?: string | null };

const HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$|^[0-9a-fA-F:.]{2,45}$/;

/**
 * The stored settings after applying `input` over `cur`, checked for the sink's kind. A
 * webhook's URL given in `input` is checked here; what is kept is its display form (the URL
 * itself goes to the secrets: checkSecrets).
 */
export function checkConfig(kind: SinkKind, cur: SinkConfig | null, input: SinkInput): SinkConfig {
  const c: SinkConfig = { ...(cur ?? { ...DEFAULTS, host: null, port: null, url: null }) };
  for (const k of ['host', 'port', 'tls', 'serverName', 'facility', 'hostname', 'url', 'batchSize', 'timeoutSeconds', 'retryInitialMs', 'retryMaxMs'] as const) {
    if (input[k] !== undefined) (c as unknown as Record<string, unknown>)[k] = input[k];
  }
  if (kind === 'syslog') {
    if (!c.host || !HOST.test(c.host)) throw badRequest('host must be a host name or address (a syslog sink needs host and port)');
    if (!c.port) throw badRequest('port is required for a syslog sink');
    if (c.serverName !== null && !HOST.test(c.serverName)) throw badRequest('serverName must be a host name');
    if (c.hostname !== null && !/^[\x21-\x7e]{1,255}$/.test(c.hostname)) throw badRequest('hostname must be printable ASCII without spaces (the syslog HOSTNAME field)');
    if (input.url) throw badRequest('url belongs to a webhook sink');
    c.url = null;
  } else {
    if (!c.url) throw badRequest('url is required for a webhook sink');
    if (input.url !== undefined && input.url !== null) {
      let u: URL;
      try {
        u = new URL(input.url);
      } catch {
        throw badRequest('url must be a URL (https://…)');
      }
      if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopbackHost(u.hostname))) throw badRequest('url must be an https URL (plain http only to a loopback address)');
      if (u.username || u.password || u.hash) throw badRequest('url must not carry credentials or a fragment');
      // new URL() takes port 0, which nothing listens on: every delivery would fail for ever.
      if (u.port === '0') throw badRequest('url must not name port 0');
      // What an answer shows, sent back (a form filled from GET): it would replace the URL with one that goes nowhere.
      if (u.pathname === DISPLAY_PATH && !u.search) throw badRequest('url ending in /… is how answers show a webhook URL (its path and query hidden): send the whole URL, or leave url out to keep the one held');
      c.url = displayUrl(input.url);
    }
    if (input.host || input.port) throw badRequest('host and port belong to a syslog sink (a webhook has a url)');
    c.host = null;
    c.port = null;
    c.tls = new URL(c.url).protocol === 'https:';
  }
  if (c.retryMaxMs < c.retryInitialMs) throw badRequest('retryMaxMs must not be below retryInitialMs');
  return c;
}

/** The secrets after applying `input` (null removes one) over `cur`, checked against the sink's settings `c` (checkConfig's). */
export function checkSecrets(kind: SinkKind, c: SinkConfig, cur: SinkSecrets, input: SinkInput): { secrets: SinkSecrets; changed: string[] } {
  const s: SinkSecrets = { ...cur };
  const changed: string[] = [];
  for (const k of SECRET_FIELDS) {
    const v = input[k];
    if (v === undefined || (k === 'url' && kind !== 'webhook')) continue;
    changed.push(k);
    if (v === null) delete s[k];
    else s[k] = v;
  }
  if (kind === 'webhook' && !s.url) throw badRequest('url is required for a webhook sink');
  if (kind === 'webhook' && !s.hmacKey) throw badRequest('hmacKey is required for a webhook sink (at least 16 characters): deliveries are signed with it');
  if (kind === 'syslog' && s.hmacKey) throw badRequest('hmacKey belongs to a webhook sink');
  // Over plain TCP a CA or client certificate would be ignored and the events sent in clear
  // (to what is likely a TLS port, whose collector drops them while each batch counts as sent).
  if (kind === 'syslog' && !c.tls && (s.caPem || s.clientCertPem || s.clientKeyPem)) {
    throw badRequest('caPem, clientCertPem and clientKeyPem are used only with tls: true (a plain TCP syslog sink would ignore them and send in clear): set tls to true, or remove them (null)');
  }
  // Likewise a plain http webhook (to a loopback address) would ignore them.
  if (kind === 'webhook' && !c.tls && (s.caPem || s.clientCertPem || s.clientKeyPem)) {
    throw badRequest('caPem, clientCertPem and clientKeyPem are used only with an https url (a plain http webhook would ignore them): use https, or remove them (null)');
  }
  if (s.hmacKey !== undefined && s.hmacKey.length < 16) throw badRequest('hmacKey must be at least 16 characters');
  if (s.caPem !== undefined) {
    try {
      new X509Certificate(s.caPem);
    } catch {
      throw badRequest('caPem must be a PEM certificate');
    }
  }
  if (!!s.clientCertPem !== !!s.clientKeyPem) throw badRequest('clientCertPem and clientKeyPem go together');
  if (s.clientCertPem) {
    try {
      const cert = new X509Certificate(s.clientCertPem);
      if (!cert.checkPrivateKey(createPrivateKey(s.clientKeyPem!))) throw new Error('mismatch');
    } catch {
      throw badRequest('clientCertPem and clientKeyPem must be a PEM certificate and its private key');
    }
  }
  return { secrets: s, changed };
}

/** The wait before the next try after `attempts` failures in a row. */
export function backoffMs(c: Pick<SinkConfig, 'retryInitialMs' | 'retryMaxMs'>, attempts: number): number {
  return Math.min(c.retryMaxMs, c.retryInitialMs * 2 ** Math.min(Math.max(attempts - 1, 0), 30));
}
