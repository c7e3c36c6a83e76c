// The TSplus logon-ticket wire formats (seed 004), pure: the credential text an external
// portal encrypts ("WinUser=…&WinPassword=…[&WinLPWphrase=…]"), the logon ticket's syntax,
// the lpw_timeout_list_ip allow list, the application server list and the farm answers
// (hb.exe action=lb and action=srvassigned). No I/O, no secret ever in an error message.

/** A logon ticket: "*" and 32 URL-safe characters, as the seed's sample (*8Oa5NxWljnYyXgAVcZDj8T7T4duOZIce). */
export const LOGON_TICKET_PATTERN = /^\*[A-Za-z0-9_-]{32}$/;
/** The most characters of the base64 of an RSA blob (a 4096-bit key's is 684). */
export const MAX_RSA_BASE64 = 1024;
/** The most characters of any other parameter (user, domain, password, phrase). */
export const MAX_PARAM = 512;

export interface WinCredential {
  username: string;
  domain: string | null;
  password: string;
  phrase: string | null;
}

/**
 * The decrypted text. Values are taken as they are (no percent-decoding, as they travel
 * encrypted): the password runs from "&WinPassword=" up to a final "&WinLPWphrase=" (or the end),
 * so a password may hold "&". WinUser may be DOMAIN\user (one backslash, or two as written in
 * C# source) or user@domain (kept whole: a UPN). Null when the text is not of that form.
 */
export function parseCredentialText(text: string): WinCredential | null {
  if (text.length > 4 * MAX_PARAM || !text.startsWith('WinUser=')) return null;
  const p = text.indexOf('&WinPassword=');
  if (p < 0) return null;
  const user = text.slice('WinUser='.length, p);
  let rest = text.slice(p + '&WinPassword='.length);
  let phrase: string | null = null;
  const q = rest.lastIndexOf('&WinLPWphrase=');
  if (q >= 0) {
    phrase = rest.slice(q + '&WinLPWphrase='.length);
    rest = rest.slice(0, q);
  }
  return winCredential(user, rest, phrase);
}

/** The same from separate values (the plain-text method's query parameters). */
export function winCredential(user: string, password: string, phrase: string | null): WinCredential | null {
  if (!user || !password || user.length > MAX_PARAM || password.length > MAX_PARAM || (phrase !== null && phrase.length > MAX_PARAM)) return null;
  if (/[\x00-\x1f\x7f]/.test(user) || password.includes('\x00')) return null;
  const m = /^([^\\]+)\\\\?([^\\]+)$/.exec(user);
  if (user.includes('\\') && !m) return null;
  const domain = m ? m[1]! : null;
  const username = m ? m[2]! : user;
  if (!validName(username) || (domain !== null && !validName(domain))) return null;
  return { username, domain, password, phrase };
}

/** Characters Windows refuses in account and domain names. */
const validName = (s: string) => s.length > 0 && s.length <= 256 && !/["/[\]:|<>+=;,?*]/.test(s);

/** Strict base64 (standard or URL-safe alphabet, optional padding) of at most MAX_RSA_BASE64 characters. */
export function decodeBase64Strict(s: string): Buffer | null {
  if (s.length === 0 || s.length > MAX_RSA_BASE64) return null;
  // A "+" sent unencoded in a query string arrives as a space.
  const t = s.replace(/ /g, '+');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) return null;
  const body = t.replace(/=+$/, '');
  if (body.length % 4 === 1) return null;
  return Buffer.from(body.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

/** The lpw_timeout_list_ip value: "" (any address) or "|ip|ip|". Throws with the reason. */
export function parseIpList(v: string): string[] {
  if (v === '') return [];
  if (!/^\|([^|\s]+\|)+$/.test(v)) throw new Error('must be "" or addresses between bars, e.g. |10.0.0.5|10.0.0.6|');
  const ips = v.slice(1, -1).split('|');
  for (const ip of ips) if (!/^[0-9A-Fa-f:.]{2,45}$/.test(ip)) throw new Error(`has an entry that is no IP address: ${JSON.stringify(ip)}`);
  return ips;
}

/** One application server a logon ticket may open (setting logonTicketServers). */
export interface AppServer {
  /** The /~~<name> of the farm answers. */
  name: string;
  /** The secret naming the target (its machine and port; its account is not used). */
  secret: string;
  /** The RDP launcher the session opens with. */
  launcher: string;
  /** Who it is assigned to (srvassigned): user or DOMAIN\user, any case; empty: everyone. */
  users: string[];
}

export const SERVER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

/** "name|secret|launcher[|user;DOMAIN\user…]" (no spaces or commas: the portal edits the list as text). */
export function parseServerEntry(v: string): AppServer {
  const parts = v.split('|');
  if (parts.length < 3 || parts.length > 4) throw new Error(`entries are name|secret|launcher[|user;DOMAIN\\user…]: ${JSON.stringify(v)}`);
  const [name, secret, launcher, users] = parts as [string, string, string, string | undefined];
  if (!SERVER_NAME.test(name)) throw new Error(`has a server name that is not 1-63 letters, digits, - or _: ${JSON.stringify(name)}`);
  if (!secret || !launcher || secret.length > 128 || launcher.length > 128) throw new Error(`entries need a secret and a launcher: ${JSON.stringify(v)}`);
  return { name, secret, launcher, users: users ? users.split(';').filter(Boolean) : [] };
}

/** Whether a server is assigned to user l of domain d (hb.exe's l and d). */
export function assignedTo(server: AppServer, user: string, domain: string): boolean {
  if (!server.users.length) return true;
  const u = user.toLowerCase();
  const full = domain ? `${domain}\\${user}`.toLowerCase() : null;
  return server.users.some((x) => {
    const e = x.toLowerCase();
    return e === full || (!e.includes('\\') && e === u);
  });
}

/** action=lb: "loadbalancing-on|<node>|<gateway host>/~~<node>|https|<port>" or "loadbalancing-off". */
export function lbAnswer(node: string | null, gatewayHost: string, port: number): string {
  return node ? `loadbalancing-on|${node}|${gatewayHost}/~~${node}|https|${port}` : 'loadbalancing-off';
}

/** action=srvassigned: "<name>|<gateway host>/~~<name>:<port>" lines separated by CRLF, or "KO". */
export function srvAssignedAnswer(names: string[], gatewayHost: string, port: number): string {
  return names.length ? names.map((n) => `${n}|${gatewayHost}/~~${n}:${port}`).join('\r\n') : 'KO';
}
