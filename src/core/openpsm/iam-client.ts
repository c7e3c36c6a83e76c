// The gateway's two calls to an IAM (seed 003): POST {ApiUrl}/api/services/v1/
// secureaccessgateway/getcredential and …/endsession, over https only, trusting the system
// store plus the PEM of the openpsmTrustedCa setting. The ApiKey travels as a bearer token,
// the ApiApplicationKey in the X-Api-Application-Key header. A 401 whose WWW-Authenticate
// says error="invalid_token" (RFC 6750) is an expired access token; any other 401 is a wrong
// master password (getcredential) or a failed authentication (endsession).
import { request } from 'node:https';
import { rootCertificates } from 'node:tls';

export const GETCREDENTIAL_PATH = '/api/services/v1/secureaccessgateway/getcredential';
export const ENDSESSION_PATH = '/api/services/v1/secureaccessgateway/endsession';
export const APP_KEY_HEADER = 'x-api-application-key';
const MAX_ANSWER = 256 * 1024;

export interface IamAuth {
  apiUrl: string;
  apiKey: string;
  apiApplicationKey: string;
}

export type IamAnswer = { kind: 'ok'; body: unknown } | { kind: 'unauthorized' } | { kind: 'token_expired' } | { kind: 'error'; detail: string };

/** The getcredential answer (seed 003, "Response Received from EmpowerID"). */
export interface CredentialAnswer {
  IsPasswordSSHKey: boolean;
  UserName: string;
  Password: string;
  Notes: string | null;
  Server: string | null;
  Server2: string | null;
  Server3: string | null;
  GatewayServerDNSHostName: string | null;
  ManagementPort: number | null;
  AllowLiveSnooping: boolean;
  AllowJoinRequests: boolean;
  AllowJoinInvites: boolean;
  RecordPSMSession: boolean;
}

/** Checks the shape of a getcredential answer; null when it is not one (the caller shows the error page). */
export function credentialAnswer(b: unknown): CredentialAnswer | null {
  if (!b || typeof b !== 'object') return null;
  const o = b as Record<string, unknown>;
  const s = (v: unknown) => (typeof v === 'string' && v.length > 0 && v.length <= 1024 ? v : null);
  const bool = (v: unknown, d: boolean) => (typeof v === 'boolean' ? v : d);
  if (typeof o.UserName !== 'string' || !o.UserName || typeof o.Password !== 'string') return null;
  const port = o.ManagementPort;
  if (port !== null && port !== undefined && !(typeof port === 'number' && Number.isInteger(port) && port > 0 && port < 65536)) return null;
  return {
    IsPasswordSSHKey: o.IsPasswordSSHKey === true,
    UserName: o.UserName,
    Password: o.Password,
    Notes: s(o.Notes),
    Server: s(o.Server),
    Server2: s(o.Server2),
    Server3: s(o.Server3),
    GatewayServerDNSHostName: s(o.GatewayServerDNSHostName),
    ManagementPort: typeof port === 'number' ? port : null,
    AllowLiveSnooping: bool(o.AllowLiveSnooping, false),
    AllowJoinRequests: bool(o.AllowJoinRequests, false),
    AllowJoinInvites: bool(o.AllowJoinInvites, false),
    RecordPSMSession: bool(o.RecordPSMSession, true),
  };
}

export class IamClient {
  constructor(
    /** PEM text trusted besides the system store (read per call, so a settings change applies at once). */
    private readonly trustedCa: () => Promise<string>,
    private readonly timeoutMs = 15_000,
  ) {}

  /** POSTs `body` as JSON to `{apiUrl}{path}`; never throws (a network failure is an 'error' answer). */
  async post(auth: IamAuth, path: string, body: Record<string, unknown>): Promise<IamAnswer> {
    const url = new URL(auth.apiUrl + path);
    if (url.protocol !== 'https:') return { kind: 'error', detail: 'ApiUrl is not https' };
    const extra = await this.trustedCa();
    const payload = Buffer.from(JSON.stringify(body), 'utf8');
    return new Promise<IamAnswer>((resolve) => {
      const req = request(
        url,
        {
          method: 'POST',
          ca: extra ? [...rootCertificates, extra] : undefined,
          timeout: this.timeoutMs,
          headers: { 'content-type': 'application/json', 'content-length': payload.length, accept: 'application/json', authorization: `Bearer ${auth.apiKey}`, [APP_KEY_HEADER]: auth.apiApplicationKey },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_ANSWER) return void req.destroy(new Error('answer too large'));
            chunks.push(c);
          });
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status === 401) {
              const www = String(res.headers['www-authenticate'] ?? '');
              return resolve(/error="?invalid_token/i.test(www) ? { kind: 'token_expired' } : { kind: 'unauthorized' });
            }
            if (status < 200 || status >= 300) return resolve({ kind: 'error', detail: `HTTP ${status}` });
            const text = Buffer.concat(chunks).toString('utf8');
            if (!text) return resolve({ kind: 'ok', body: null });
            try {
              resolve({ kind: 'ok', body: JSON.parse(text) });
            } catch {
              resolve({ kind: 'error', detail: 'the answer is not JSON' });
            }
          });
          res.on('error', (e) => resolve({ kind: 'error', detail: e.message }));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (e: Error & { code?: string }) => resolve({ kind: 'error', detail: e.code ?? e.message }));
      req.end(payload);
    });
  }
}
