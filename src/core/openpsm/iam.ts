// Gatehouse as the IAM side of the OpenPSM exchange (seed 003): it issues the /start redirect
// for one of its own secrets (or one of the person's personal credentials) to the gateway
// named by the openpsmGatewayUrl setting, and answers that gateway's getcredential and
// endsession calls. The gateway authenticates with the ApiApplicationKey (setting
// openpsmApplicationKey, header X-Api-Application-Key) and the link's ApiKey (bearer token,
// kept only as a hash); getcredential also needs the person's master password, and the
// access workflows are asked again when it comes (view on the secret, grants, checkout).
import type { Store } from '../../store/db.js';
import type { OpenpsmLinksTable } from '../../store/schema.js';
import type { AccessGate } from '../access/gate.js';
import type { Policies } from '../access/policies.js';
import type { AuditService } from '../audit/service.js';
import { AppError, badRequest, conflict, forbidden } from '../errors.js';
import type { Directory } from '../identity/directory.js';
import { actorOf, type Principal } from '../identity/principal.js';
import { DEFAULT_PORTS, type Protocol } from '../launch/launchers.js';
import type { SettingsService } from '../settings.js';
import { newId, now, randomToken, safeEqual, sha256hex } from '../util.js';
import type { Checkouts } from '../vault/checkout.js';
import { NOT_YOURS, type PersonalVault } from '../vault/personal.js';
import { LAUNCH_ROTATION_WAIT_MS, type Secrets } from '../vault/secrets.js';
import type { CredentialAnswer } from './iam-client.js';
import type { Mode } from './params.js';

const NIL_GUID = '00000000-0000-0000-0000-000000000000';
const hashOf = (token: string) => sha256hex(`gatehouse-openpsm-link:${token}`);
/** A 401 the gateway reads as "the access token has expired" (RFC 6750 invalid_token). */
export const tokenExpired = () => new AppError(401, 'invalid_token', 'the access token has expired or is unknown');
const PROTOCOL: Record<Mode, Protocol> = { SSH: 'ssh', Telnet: 'telnet', RDP: 'rdp' };

export interface GetCredentialBody {
  computer: string;
  credential: string;
  password: string;
  mode: string;
  session: string;
  loginsessionid: string;
}

export interface EndSessionBody {
  session: string;
  loginsessionid: string;
  computer?: string;
  credential?: string;
}

export interface GatewayAuth {
  bearer: string | null;
  applicationKey: string | null;
  ip: string;
}

export class OpenPsmIam {
  constructor(private readonly deps: { store: Store; settings: SettingsService; audit: AuditService; dir: Directory; secrets: Secrets; personal: PersonalVault; accessGate: AccessGate; policies: Policies; checkouts: Checkouts }) {}

  /** POST /api/v1/openpsm/links: the /start URL that sends the caller to the gateway for one secret. */
  async issueLink(p: Principal, input: { secretId: string; mode: Mode; personalCredentialId?: string; width?: number; height?: number; dpi?: number }, self: { apiUrl: string; ip: string | null }): Promise<{ url: string; loginSessionId: string; expiresAt: string }> {
    const [gatewayUrl, appKey, seconds] = await Promise.all([this.deps.settings.get('openpsmGatewayUrl'), this.deps.settings.get('openpsmApplicationKey'), this.deps.settings.get('openpsmLinkSeconds')]);
    if (!gatewayUrl || !appKey) throw conflict('OpenPSM is not configured on this node: set openpsmGatewayUrl and openpsmApplicationKey', 'openpsm_not_configured');
    if (!p.permissions.has('launch')) throw forbidden('you need the launch permission');
    const { secret } = await this.deps.secrets.require(p, input.secretId, 'view');
    const protocol = PROTOCOL[input.mode];
    // The policy in force, once for the whole link (as once per launch).
    const policy = await this.deps.policies.effectiveFor(secret.id);
    await this.deps.accessGate.requireLaunch(p, secret.id, protocol, policy);
    if (input.personalCredentialId) {
      const own = await this.deps.store.db.selectFrom('personalCredentials').select('userId').where('id', '=', input.personalCredentialId).executeTakeFirst();
      if (!own) throw new AppError(404, 'not_found', 'personal credential not found');
      if (own.userId !== p.userId) throw new AppError(403, 'not_your_credential', NOT_YOURS);
    }
    const expiresAt = now() + seconds * 1000;
    // The shared credential is taken here when its policy requires checkout; someone else holding it → the seed's message.
    if (!input.personalCredentialId) {
      const held = await this.deps.checkouts.gate({ id: p.userId, name: p.username }, secret.id, expiresAt, { required: policy?.checkoutRequired ?? false, protocol });
      if (held) throw conflict(held, 'credential_unavailable');
    }
    const id = newId();
    const token = randomToken(32);
    await this.deps.store.db
      .insertInto('openpsmLinks')
      .values({ id, tokenHash: hashOf(token), userId: p.userId, secretId: secret.id, personalCredentialId: input.personalCredentialId ?? null, mode: input.mode, checkoutId: null, createdAt: now(), expiresAt, sessionUuid: null, fetchedAt: null, endedAt: null })
      .execute();
    const q = new URLSearchParams({
      TargetPersonGuid: p.userId,
      AccessRequestPolicyID: policy?.id ?? NIL_GUID,
      TargetComputerGuid: secret.id,
      IsAdvanceMode: String(!!input.personalCredentialId),
      ComputerID: secret.id,
      IsPersonalCred: String(!!input.personalCredentialId),
      ExternalCredentialCheckOutID: '',
      LoginSessionID: id,
      ApiUrl: self.apiUrl,
      Mode: input.mode,
      ApiKey: token,
      CredentialID: input.personalCredentialId ?? secret.id,
      ApiApplicationKey: appKey,
      GUAC_WIDTH: String(input.width ?? 1024),
      GUAC_HEIGHT: String(input.height ?? 768),
      GUAC_DPI: String(input.dpi ?? 96),
      ...(input.personalCredentialId ? { ExternalCredentialGuid: input.personalCredentialId } : {}),
    });
    await this.deps.audit.record(actorOf(p, self.ip), { action: 'openpsm.link', target: { type: 'secret', id: secret.id }, details: { loginSessionId: id, mode: input.mode, gateway: gatewayUrl, personalCredentialId: input.personalCredentialId ?? null, expiresAt: new Date(expiresAt).toISOString() } });
    return { url: `${gatewayUrl}/start?${q.toString()}`, loginSessionId: id, expiresAt: new Date(expiresAt).toISOString() };
  }

  /** The application key and the link's token; `forEnd` accepts a link past its getcredential lifetime. */
  private async link(a: GatewayAuth): Promise<Omit<OpenpsmLinksTable, 'tokenHash'>> {
    const appKey = await this.deps.settings.get('openpsmApplicationKey');
    if (!appKey) throw forbidden('OpenPSM is not enabled on this node', 'openpsm_disabled');
    if (!a.applicationKey || !safeEqual(a.applicationKey.toLowerCase(), appKey.toLowerCase())) throw forbidden('unknown application key', 'invalid_application_key');
    if (!a.bearer) throw tokenExpired();
    const row = await this.deps.store.db.selectFrom('openpsmLinks').selectAll().where('tokenHash', '=', hashOf(a.bearer)).executeTakeFirst();
    if (!row) throw tokenExpired();
    return row;
  }

  /** POST …/secureaccessgateway/getcredential: the credential in clear, for the gateway only. */
  async getCredential(a: GatewayAuth, b: GetCredentialBody): Promise<CredentialAnswer> {
    const link = await this.link(a);
    const audit = (outcome: 'success' | 'failure', details: Record<string, unknown>) =>
      this.deps.audit.record(
        { id: link.userId, name: null, ip: a.ip },
        { action: 'openpsm.getcredential', outcome, target: { type: 'secret', id: link.secretId }, details: { loginSessionId: link.id, session: b.session, personalCredentialId: link.personalCredentialId, ...details } },
      );
    if (link.expiresAt <= now()) {
      await audit('failure', { reason: 'token_expired' });
      throw tokenExpired();
    }
    const credentialId = link.personalCredentialId ?? link.secretId;
    if (b.loginsessionid.toLowerCase() !== link.id || b.credential.toLowerCase() !== credentialId || b.computer.toLowerCase() !== link.secretId || b.mode.toLowerCase() !== link.mode.toLowerCase()) {
      await audit('failure', { reason: 'request does not match the link' });
      throw badRequest('computer, credential, mode or loginsessionid does not match this access token', 'link_mismatch');
    }
    if (link.sessionUuid) {
      await audit('failure', { reason: 'already used' });
      throw conflict('the credential was already retrieved for this access token', 'link_used');
    }
    let vaultKey: Buffer;
    try {
      vaultKey = await this.deps.personal.openWithMaster(link.userId, b.password);
    } catch (e) {
      if (e instanceof AppError) await audit('failure', { reason: e.code });
      throw e;
    }
    try {
      const user = await this.deps.dir.userRow(link.userId).catch(() => null);
      if (!user || !user.enabled) throw forbidden('the person is disabled or deleted', 'permission_withdrawn');
      const p = await this.deps.dir.doorPrincipal(user, a.ip);
      if (!p.permissions.has('launch')) throw forbidden('the launch permission was withdrawn', 'permission_withdrawn');
      await this.deps.secrets.require(p, link.secretId!, 'view');
      const policy = await this.deps.policies.effectiveFor(link.secretId!);
      await this.deps.accessGate.requireLaunch(p, link.secretId!, PROTOCOL[link.mode as Mode], policy);
      if (!link.personalCredentialId) {
        const held = await this.deps.checkouts.gate({ id: p.userId, name: p.username }, link.secretId!, Math.max(link.expiresAt, now() + 60_000), { required: policy?.checkoutRequired ?? false, protocol: PROTOCOL[link.mode as Mode] });
        if (held) throw conflict(held, 'credential_unavailable');
      }
      // A rotation under way is waited for, as at a launch.
      await this.deps.secrets.valuesReady(link.secretId!, LAUNCH_ROTATION_WAIT_MS);
      const shared = await this.deps.secrets.credential(link.secretId!);
      let username = shared.username ?? '';
      let domain = shared.domain;
      let secretValue = typeof shared.fields.password === 'string' ? shared.fields.password : '';
      let isKey = false;
      if (typeof shared.fields.privateKey === 'string' && shared.fields.privateKey && !secretValue) (secretValue = shared.fields.privateKey), (isKey = true);
      if (link.personalCredentialId) {
        const own = await this.deps.personal.openOwn(link.userId, vaultKey, link.personalCredentialId);
        if (!own) throw new AppError(403, 'not_your_credential', NOT_YOURS);
        username = own.values.username ?? '';
        domain = own.values.domain ?? null;
        isKey = !own.values.password && !!own.values.privateKey;
        secretValue = own.values.password ?? own.values.privateKey ?? '';
      }
      const port = Number(shared.fields.port ?? DEFAULT_PORTS[PROTOCOL[link.mode as Mode]]) || DEFAULT_PORTS[PROTOCOL[link.mode as Mode]];
      const claimed = await this.deps.store.db.updateTable('openpsmLinks').set({ sessionUuid: b.session.toLowerCase(), fetchedAt: now() }).where('id', '=', link.id).where('sessionUuid', 'is', null).executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) throw conflict('the credential was already retrieved for this access token', 'link_used');
      await audit('success', { userName: username, server: shared.machine });
      return {
        IsPasswordSSHKey: isKey,
        UserName: domain ? `${domain}\\${username}` : username,
        Password: secretValue,
        Notes: null,
        Server: shared.machine,
        Server2: typeof shared.fields.server2 === 'string' && shared.fields.server2 ? shared.fields.server2 : null,
        Server3: typeof shared.fields.server3 === 'string' && shared.fields.server3 ? shared.fields.server3 : null,
        GatewayServerDNSHostName: null,
        ManagementPort: port,
        AllowLiveSnooping: true,
        AllowJoinRequests: false,
        AllowJoinInvites: false,
        RecordPSMSession: true,
      };
    } catch (e) {
      if (e instanceof AppError && e.status !== 401) await audit('failure', { reason: e.code });
      throw e;
    } finally {
      vaultKey.fill(0);
    }
  }

  /** POST …/secureaccessgateway/endsession: the gateway says the session ended (idempotent). */
  async endSession(a: GatewayAuth, b: EndSessionBody): Promise<{ ended: true }> {
    const link = await this.link(a);
    if (!link.sessionUuid || link.sessionUuid !== b.session.toLowerCase() || link.id !== b.loginsessionid.toLowerCase()) {
      throw badRequest('session or loginsessionid does not match this access token', 'link_mismatch');
    }
    if (!link.endedAt) {
      await this.deps.store.db.updateTable('openpsmLinks').set({ endedAt: now() }).where('id', '=', link.id).execute();
      await this.deps.audit.record({ id: link.userId, name: null, ip: a.ip }, { action: 'openpsm.session_ended', target: { type: 'secret', id: link.secretId }, details: { loginSessionId: link.id, session: link.sessionUuid } });
    }
    return { ended: true };
  }
}
