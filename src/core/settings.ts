// Runtime settings kept in the database (changeable through the API without restart).
// Names and defaults follow the seed documents where they define them.
import { validatePublicUrl, ConfigError } from '../config.js';
import { badRequest } from './errors.js';
import type { Store } from '../store/db.js';
import { prepare } from '../store/prepared.js';
import { now, parseJson } from './util.js';
import { parseIpList, parseServerEntry } from './logon-tickets/protocol.js';

// Read once per launch and by most requests (prepared once: store/prepared.ts).
const allSettings = prepare((db) => db.selectFrom('settings').selectAll());

interface Def<T> {
  default: T;
  description: string;
  parse(v: unknown): T;
}

const int = (min: number, max: number) => (v: unknown) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new Error(`must be an integer between ${min} and ${max}`);
  return v;
};
const bool = (v: unknown) => {
  if (typeof v !== 'boolean') throw new Error('must be true or false');
  return v;
};

/** A template field name or label. */
const fieldName = (v: unknown) => {
  if (typeof v !== 'string' || v.trim() === '' || v.length > 128) throw new Error('must be a field name (1-128 characters)');
  return v.trim();
};
const DOMAIN = /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/;

export const SETTINGS = {
  sessionTimeout: {
    default: 900,
    description: 'Seconds a launch ticket (and its .rdp file) stays valid, for a single use. 0 or below means the default, 900.',
    parse: (v: unknown) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v > 86400) throw new Error('must be an integer of seconds, at most 86400');
      return v;
    },
  } satisfies Def<number>,
  allowConnectionSharing: {
    default: false,
    description: 'Sets "disableconnectionsharing" in generated .rdp files (true lets clients reuse connections). Default false.',
    parse: bool,
  } satisfies Def<boolean>,
  publicUrl: {
    default: '',
    description: 'The custom URL handed out in launches; must be https. Empty means GATEHOUSE_PUBLIC_URL or https://<host>:<port>.',
    parse: (v: unknown) => {
      if (v === '') return '';
      if (typeof v !== 'string') throw new Error('must be a string');
      try {
        return validatePublicUrl(v, 'publicUrl');
      } catch (e) {
        throw new Error((e as ConfigError).message.replace(/^invalid configuration: publicUrl /, ''));
      }
    },
  } satisfies Def<string>,
  lockoutThreshold: { default: 5, description: 'Failed logins in a row that lock an account (0 disables lockout).', parse: int(0, 100) } satisfies Def<number>,
  lockoutMinutes: { default: 15, description: 'Minutes a locked account stays locked.', parse: int(1, 10080) } satisfies Def<number>,
  loginRateLimit: {
    default: 10,
    description: 'Failed sign-ins (password, TOTP or client secret) one source address may make per loginRateWindowSeconds; past it every sign-in from that address is refused (429, Retry-After) until the window ends. A sign-in still being checked counts as a failure until its outcome is known, so no more than this many are checked at once from one address. 0 disables the limit.',
    parse: int(0, 100000),
  } satisfies Def<number>,
  loginRequestsPerIp: { default: 120, description: 'Sign-in requests (API login, browser sign-in, SSH door user:secret logins) one source address may make per minute, whatever their outcome; past it 429 rate_limited with Retry-After. A burst of this many passes, then one per 60/N s. IPv6 counts per /64. 0 = no limit.', parse: int(0, 1_000_000) } satisfies Def<number>,
  loginRequestsPerAccount: { default: 60, description: 'Sign-in requests naming one user name per minute, from any address (as loginRequestsPerIp). 0 = no limit.', parse: int(0, 1_000_000) } satisfies Def<number>,
  tokenRequestsPerIp: { default: 300, description: 'OAuth2 token requests (/oauth2/token) one source address may make per minute (as loginRequestsPerIp). 0 = no limit.', parse: int(0, 1_000_000) } satisfies Def<number>,
  tokenRequestsPerAccount: { default: 120, description: 'OAuth2 token requests for one client id per minute, from any address. 0 = no limit.', parse: int(0, 1_000_000) } satisfies Def<number>,
  ticketRequestsPerIp: { default: 600, description: 'Ticket requests (launches) one source address may make per minute (as loginRequestsPerIp). 0 = no limit.', parse: int(0, 1_000_000) } satisfies Def<number>,
  ticketRequestsPerAccount: { default: 120, description: 'Ticket requests (launches) of one user per minute, from any address. 0 = no limit.', parse: int(0, 1_000_000) } satisfies Def<number>,
  loginRateWindowSeconds: { default: 60, description: 'The window, in seconds, of loginRateLimit and loginAuditThreshold (counted from the first failure).', parse: int(1, 86400) } satisfies Def<number>,
  loginAuditThreshold: {
    default: 10,
    description: 'Failed sign-ins from one source address per window that each get an audit event; the rest are counted into one auth.login.failed.aggregated event when the window ends. 0 writes an event for every failure.',
    parse: int(0, 100000),
  } satisfies Def<number>,
  loginTokenMinutes: { default: 720, description: 'Lifetime of tokens issued by /auth/login, in minutes.', parse: int(5, 43200) } satisfies Def<number>,
  smtpHost: {
    default: '',
    description: 'SMTP relay for access request e-mails (requests to approvers; decisions, revocations to requesters). Empty: no e-mail, the portal only.',
    parse: (v: unknown) => {
      if (typeof v !== 'string' || v.length > 255 || /\s/.test(v)) throw new Error('must be a host name or address, or empty');
      return v;
    },
  } satisfies Def<string>,
  smtpPort: { default: 25, description: 'Port of the SMTP relay (25, 587 with STARTTLS offered by the relay, 465 with smtpSecure).', parse: int(1, 65535) } satisfies Def<number>,
  smtpSecure: { default: false, description: 'Connect to the SMTP relay over TLS from the start (port 465). Otherwise STARTTLS is used when the relay offers it.', parse: bool } satisfies Def<boolean>,
  smtpFrom: {
    default: 'gatehouse@localhost',
    description: 'The From address of access request e-mails.',
    parse: (v: unknown) => {
      if (typeof v !== 'string' || v.length < 3 || v.length > 255 || !v.includes('@')) throw new Error('must be an e-mail address');
      return v;
    },
  } satisfies Def<string>,
  auditStreamDrainSeconds: {
    default: 5,
    description: 'At shutdown, seconds audit sinks are given to take the events still pending (the stop itself included); what is left goes at the next start.',
    parse: int(0, 300),
  } satisfies Def<number>,
  auditCheckpointSeconds: { default: 300, description: 'How often the audit chain head is signed (also at shutdown).', parse: int(10, 86400) } satisfies Def<number>,
  heartbeatIntervalHours: {
    default: 24,
    description: 'Hours between two heartbeat logins with a stored credential whose heartbeat is on (a secret may set its own interval).',
    parse: int(1, 8760),
  } satisfies Def<number>,
  heartbeatConcurrency: { default: 4, description: 'Most heartbeat logins to targets at a time.', parse: int(1, 64) } satisfies Def<number>,
  personalUnlockIdleSeconds: {
    default: 900,
    description: 'Seconds an unlocked personal vault (master password entered for one sign-in session) stays unlocked without use; then the person must unlock again.',
    parse: int(1, 86400),
  } satisfies Def<number>,
  // ---- OIDC single sign-on (issue 15 point 1, core/identity/oidc, docs/identity.md).
  oidcJitProvisioning: {
    default: false,
    description: 'OIDC: a person signing in through a provider for the first time whose name matches no Gatehouse user gets an account (role user, groups from the group map). Off: only existing users (matched by name or an earlier sign-in) may sign in.',
    parse: bool,
  } satisfies Def<boolean>,
  oidcClockToleranceSeconds: {
    default: 30,
    description: 'OIDC: seconds of clock difference tolerated when checking an ID token\'s times (exp, iat, nbf).',
    parse: int(0, 300),
  } satisfies Def<number>,
  // ---- WebAuthn passkeys and security keys (issue 15 point 3, core/identity/webauthn, docs/identity.md).
  webauthnRpId: {
    default: '',
    description: 'WebAuthn: the relying party id keys are bound to — the host name people reach the portal by (e.g. gatehouse.example.com) or a parent domain of it. Empty: the host of publicUrl. An IP address cannot be one (browsers refuse it). Changing it makes every registered key unusable.',
    parse: (v: unknown) => {
      if (v === '') return '';
      if (typeof v !== 'string' || v.length > 253 || !DOMAIN.test(v) || v.endsWith('.') || /^[\d.]+$/.test(v)) throw new Error('must be a host name (letters, digits, . and -), or empty');
      return v.toLowerCase();
    },
  } satisfies Def<string>,
  webauthnPasswordless: {
    default: false,
    description: 'WebAuthn: people may sign in with a passkey alone (a discoverable credential with user verification), without their password. Off: a passkey is a second factor after the password only.',
    parse: bool,
  } satisfies Def<boolean>,
  // ---- Session Connector (seed 000): session-connector launchers are hidden and refused until on.
  sessionConnector: {
    default: false,
    description: 'Session Connector: when off (the default), session-connector launchers are hidden from lists and refused at launch and at creation.',
    parse: bool,
  } satisfies Def<boolean>,
  // ---- Credential-provider API for an Endpoint Credential Manager (seeds 001/002, core/webservices).
  webservicesEnabled: {
    default: false,
    description: 'Enable Webservices: the credential-provider API (/api/v1/webservices/...). Off by default: every route of it answers 403 webservices_disabled.',
    parse: bool,
  } satisfies Def<boolean>,
  webservicesMachineField: {
    default: 'Machine',
    description: 'Machine Field: the template field (name or label, any case) holding machine names on machine-specific secrets.',
    parse: fieldName,
  } satisfies Def<string>,
  webservicesDomainField: {
    default: 'Domain',
    description: 'Domain Field: the template field (name or label, any case) holding domain names on domain secrets.',
    parse: fieldName,
  } satisfies Def<string>,
  webservicesIncludeDomainCredentialsFor: {
    default: '',
    description: 'Include domain credentials for: domains, separated with commas, whose domain secrets are listed beside the machine-specific ones. Empty: machine-specific only.',
    parse: (v: unknown) => {
      if (typeof v !== 'string' || v.length > 1024) throw new Error('must be a list of domains separated with commas');
      const parts = v.split(',').map((d) => d.trim()).filter(Boolean);
      if (parts.some((d) => !DOMAIN.test(d))) throw new Error('must be a list of domains separated with commas (letters, digits, . and -)');
      return parts.join(',');
    },
  } satisfies Def<string>,
  webservicesDefaultDomain: {
    default: '',
    description: 'Default Domain for Local Users: a bare user name (user1) is first tried as user1@<this domain>, then as user1.',
    parse: (v: unknown) => {
      if (typeof v !== 'string' || (v !== '' && !DOMAIN.test(v))) throw new Error('must be a domain name (letters, digits, . and -) or empty');
      return v;
    },
  } satisfies Def<string>,
  webservicesFallbackToLocal: {
    default: false,
    description: 'Enable fall-back to local account if domain account not found: DOMAIN\\name or name@domain with no such domain user is tried as the local user name.',
    parse: bool,
  } satisfies Def<boolean>,
  webservicesIncludeDefaultOrganization: {
    default: false,
    description: 'Include default organization: Gatehouse has one organization ("default"); when on, a request without an organization is matched in it and answers name it.',
    parse: bool,
  } satisfies Def<boolean>,
  webservicesTokenMinutes: {
    default: 60,
    description: 'Minutes a cached per-user token of an application (the token cache, sealed) stays valid before a new one is made. Clear Token Cache empties the cache.',
    parse: int(1, 1440),
  } satisfies Def<number>,
  // OpenPSM start flow (seed 003, docs/integrations/openpsm.md).
  openpsmAllowedApiUrls: {
    default: [] as string[],
    description: 'Gateway side: the IAM API URLs (https origins, e.g. https://api.example.com) a /start request may name as ApiUrl. Empty: /start refuses every request.',
    parse: (v: unknown): string[] => {
      if (!Array.isArray(v) || v.length > 50) throw new Error('must be a list of at most 50 https URLs');
      return v.map((u) => {
        if (typeof u !== 'string' || u.length > 512) throw new Error('must be a list of https URLs');
        let url: URL;
        try {
          url = new URL(u);
        } catch {
          throw new Error(`has an entry that is no URL: ${JSON.stringify(u)}`);
        }
        if (url.protocol !== 'https:') throw new Error(`entries must be https: ${JSON.stringify(u)}`);
        if (url.username || url.password || url.search || url.hash) throw new Error(`entries must not carry credentials, a query or a fragment: ${JSON.stringify(u)}`);
        return url.origin + url.pathname.replace(/\/+$/, '');
      });
    },
  } satisfies Def<string[]>,
  openpsmTrustedCa: {
    default: '',
    description: 'Gateway side: PEM certificates trusted, besides the system store, for calls to an allowed ApiUrl (an IAM with a private CA). Empty: the system store only.',
    parse: (v: unknown) => {
      if (typeof v !== 'string' || v.length > 65536) throw new Error('must be PEM text of at most 64 KiB, or empty');
      if (v !== '' && !v.includes('-----BEGIN CERTIFICATE-----')) throw new Error('must hold PEM certificates (-----BEGIN CERTIFICATE-----)');
      return v;
    },
  } satisfies Def<string>,
  openpsmEndSessionBackoffSeconds: {
    default: 5,
    description: 'Gateway side: the first wait before an endsession call is tried again after an error other than 401; it doubles each time (at most an hour). 0 retries at once.',
    parse: int(0, 3600),
  } satisfies Def<number>,
  openpsmGatewayUrl: {
    default: '',
    description: 'IAM side: the https URL of the gateway whose /start this node sends people to (e.g. https://psm.example.com). Empty: this node issues no /start redirects.',
    parse: (v: unknown) => {
      if (v === '') return '';
      if (typeof v !== 'string') throw new Error('must be a string');
      let url: URL;
      try {
        url = new URL(v);
      } catch {
        throw new Error('must be an https URL');
      }
      if (url.protocol !== 'https:' || url.search || url.hash || url.username) throw new Error('must be an https URL without query, fragment or credentials');
      return url.origin + url.pathname.replace(/\/+$/, '');
    },
  } satisfies Def<string>,
  openpsmApplicationKey: {
    default: '',
    description: 'IAM side: the ApiApplicationKey (a GUID) this node hands the gateway in /start and expects back on getcredential and endsession. Empty: those routes answer 403.',
    parse: (v: unknown) => {
      if (v !== '' && (typeof v !== 'string' || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v))) throw new Error('must be a GUID, or empty');
      return v as string;
    },
  } satisfies Def<string>,
  openpsmLinkSeconds: {
    default: 300,
    description: 'IAM side: seconds a /start redirect (its LoginSessionID and ApiKey) may be used for getcredential. endsession stays accepted for its session afterwards.',
    parse: int(30, 86400),
  } satisfies Def<number>,
  // ---- TSplus-compatible logon tickets (seed 004, core/logon-tickets, docs/integrations/logon-tickets.md).
  // The four hardening settings keep the seed's names; Gatehouse's defaults are the hardened values.
  logonTicketUser: {
    default: '',
    description: 'Logon tickets: the Gatehouse account their sessions run as (it needs the launch permission and view on the servers\' secrets; its name is in the audit trail beside the Windows user). Empty: logon tickets are off.',
    parse: (v: unknown) => {
      if (typeof v !== 'string' || v.length > 128 || /\s/.test(v)) throw new Error('must be a user name, or empty');
      return v;
    },
  } satisfies Def<string>,
  logonTicketServers: {
    default: [] as string[],
    description: 'Logon tickets: the application servers, each "name|secret|launcher[|user;DOMAIN\\user…]" (secret and launcher by id or name; the optional users are those it is assigned to, default everyone). The first is the standalone server; /~~<name>/ picks another. Empty: logon tickets are off.',
    parse: (v: unknown): string[] => {
      if (!Array.isArray(v) || v.length > 50) throw new Error('must be a list of at most 50 entries');
      const names = new Set<string>();
      return v.map((e) => {
        if (typeof e !== 'string' || e.length > 1024) throw new Error('must be a list of name|secret|launcher entries');
        const srv = parseServerEntry(e);
        if (names.has(srv.name.toLowerCase())) throw new Error(`names the server ${srv.name} twice`);
        names.add(srv.name.toLowerCase());
        return e;
      });
    },
  } satisfies Def<string[]>,
  logonTicketLoadBalancing: {
    default: false,
    description: 'Logon tickets: hb.exe?action=lb answers the least-loaded application server assigned to the user (loadbalancing-on|…); off: loadbalancing-off.',
    parse: bool,
  } satisfies Def<boolean>,
  logon_type_allowance: {
    default: 3,
    description: 'Seed 004: 3 (the default) lets /software/html5.html open only with a logon ticket: any other request is refused. 0-2: a request without a logon ticket is sent to the portal\'s sign-in page instead. Credentials in URL parameters (the "URL parameters method") are refused either way.',
    parse: int(0, 3),
  } satisfies Def<number>,
  lpw_timeout_list_ip: {
    default: '',
    description: 'Seed 004: the only addresses that may request logon tickets, as "|ip|ip|". Empty: any address.',
    parse: (v: unknown) => {
      if (typeof v !== 'string' || v.length > 4096) throw new Error('must be "" or addresses between bars');
      parseIpList(v);
      return v;
    },
  } satisfies Def<string>,
  lpw_phrase: {
    default: '',
    description: 'Seed 004: when set, a logon ticket request must end with &WinLPWphrase=<this phrase> (inside the encrypted text). Empty: no phrase.',
    parse: (v: unknown) => {
      if (typeof v !== 'string' || v.length > 256 || /[&\x00-\x1f]/.test(v)) throw new Error('must be text of at most 256 characters without "&" or control characters');
      return v;
    },
  } satisfies Def<string>,
  accept_lpw_only_rsa_secured: {
    default: true,
    description: 'Seed 004: only RSA-encrypted logon ticket requests (rsabase64nojs) are accepted; plain-text ones (WinUser/WinPassword in the URL) are refused. Default true; false accepts both.',
    parse: bool,
  } satisfies Def<boolean>,
  // ---- LDAP / Active Directory (issue 15 point 2; the directory itself: GET/PUT /api/v1/directory/ldap).
  ldapSyncMinutes: {
    default: 60,
    description: 'Minutes between two scheduled syncs of users and groups from the LDAP directory (when one is configured and enabled). 0: sync only on demand.',
    parse: int(0, 10080),
  } satisfies Def<number>,
  ldapTerminateSessionsOnDisable: {
    default: true,
    description: 'A directory user found disabled (or gone) at a sync has their live sessions terminated then; off, their sessions run to their end (new ones are refused either way).',
    parse: bool,
  } satisfies Def<boolean>,
} as const;

export type SettingName = keyof typeof SETTINGS;
export type SettingValues = { [K in SettingName]: ReturnType<(typeof SETTINGS)[K]['parse']> };

export class SettingsService {
  constructor(private readonly store: Store) {}

  async all(): Promise<SettingValues> {
    const rows = await allSettings.all(this.store.db, {});
    const out = Object.fromEntries(Object.entries(SETTINGS).map(([k, d]) => [k, d.default])) as Record<string, unknown>;
    for (const r of rows) if (r.key in SETTINGS) out[r.key] = parseJson(r.value, out[r.key]);
    return out as SettingValues;
  }

  async get<K extends SettingName>(key: K): Promise<SettingValues[K]> {
    return (await this.all())[key];
  }

  /** Effective ticket lifetime: "0 or below means the default" (Session Connector seed). */
  async ticketLifetimeSeconds(values?: SettingValues): Promise<number> {
    const v = (values ?? (await this.all())).sessionTimeout;
    return v <= 0 ? SETTINGS.sessionTimeout.default : v;
  }

  async update(patch: Record<string, unknown>): Promise<{ values: SettingValues; changed: string[] }> {
    const parsed: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(patch)) {
      const def = (SETTINGS as Record<string, Def<unknown>>)[k];
      if (!def) throw badRequest(`unknown setting "${k}"`);
      try {
        parsed[k] = def.parse(v);
      } catch (e) {
        throw badRequest(`setting ${k} ${(e as Error).message}`);
      }
    }
    for (const [key, v] of Object.entries(parsed)) {
      const value = JSON.stringify(v);
      await this.store.db
        .insertInto('settings')
        .values({ key, value, updatedAt: now() })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value, updatedAt: now() }))
        .execute();
    }
    return { values: await this.all(), changed: Object.keys(parsed) };
  }
}
