// Wires the domain services together. Everything protocol- or HTTP-specific lives outside.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config.js';
import type { Store } from '../store/db.js';
import { AuditService, SYSTEM } from './audit/service.js';
import { createAudit } from './audit/setup.js';
import { Auth } from './identity/auth.js';
import { Directory } from './identity/directory.js';
import { Keyring } from './keyring.js';
import { SettingsService } from './settings.js';
import { own } from './util.js';
import { Access } from './vault/access.js';
import { Checkouts } from './vault/checkout.js';
import { DataKeys } from './vault/datakeys.js';
import { Folders } from './vault/folders.js';
import { Secrets } from './vault/secrets.js';
import { PersonalVault } from './vault/personal.js';
import { Templates } from './vault/templates.js';
import { Launchers } from './launch/launchers.js';
import { Launching } from './launch/service.js';
import { Tickets } from './launch/tickets.js';
import { TransientCredentials } from './launch/transient.js';
import { Sessions } from './sessions/service.js';
import { LocalRecordingStorage } from './sessions/recording-storage.js';
import { S3RecordingStorage } from './sessions/recording-storage-s3.js';
import { RecordingRetention } from './sessions/retention.js';
import { DEFAULT_WRITER_LIMITS, RecordingWriter } from './sessions/recording-writer.js';
import { loadNodeId } from './node-id.js';
import { SshKeys } from './identity/ssh-keys.js';
import { Health } from './health.js';
import { AccessGate, revokedAmong } from './access/gate.js';
import { secretUseGuards } from './access/secret-use.js';
import { Notifier } from './access/notify.js';
import { Policies } from './access/policies.js';
import { Consents } from './access/consent.js';
import { AccessRequests } from './access/requests.js';
import { GrantWindows } from './access/windows.js';
import { StepUp } from './access/step-up.js';
import { LaunchPolicies } from './access/launch-policy.js';
import { TargetAccounts } from './accounts/service.js';
import { Rotation } from './accounts/rotation.js';
import { PendingRotations } from './accounts/pending-rotations.js';
import { Heartbeat } from './accounts/heartbeat.js';
import { AccessLevels } from './accounts/access-levels.js';
import { JitAccounts } from './accounts/jit.js';
import { join } from 'node:path';
import { CredentialProvider, RETRIEVE_CHECKOUT_SECONDS } from './webservices/provider.js';
import { TokenCache } from './webservices/token-cache.js';
import { DelegatedTrust } from './webservices/trust.js';
import { OpenPsmGateway } from './openpsm/gateway.js';
import { IamClient } from './openpsm/iam-client.js';
import { OpenPsmIam } from './openpsm/iam.js';
import { LogonTickets } from './logon-tickets/service.js';
import { LogonTicketKey } from './logon-tickets/rsa-key.js';
import { SignInGuard } from './identity/rate-limit.js';
import { LdapDirectory } from './identity/directory-ldap/service.js';
import { OidcProviders } from './identity/oidc/providers.js';
import { OidcSignIn } from './identity/oidc/sign-in.js';
import { WebAuthn } from './identity/webauthn/service.js';
import { Metrics } from './metrics/metrics.js';
import { RecordingBytes } from './metrics/recording-bytes.js';
import { RequestLimits } from './identity/request-limits.js';
import { AuditSinks } from './audit/streaming/sinks.js';
import { AuditStreaming } from './audit/streaming/streamer.js';
import { NodeRegistry } from './cluster/registry.js';
import { ClusterIdentity, type IdentityOutcome, type IdentityPiece } from './cluster/identity.js';

export interface Core {
  config: Config;
  store: Store;
  log: Logger;
  keyring: Keyring;
  dataKeys: DataKeys;
  audit: AuditService;
  settings: SettingsService;
  dir: Directory;
  auth: Auth;
  access: Access;
  templates: Templates;
  folders: Folders;
  secrets: Secrets;
  /** Personal credentials under a master password (issue 11, point 4). */
  personal: PersonalVault;
  launchers: Launchers;
  tickets: Tickets;
  sessions: Sessions;
  /** Recording retention policies, legal holds and the sweep (core/sessions/retention.ts). */
  retention: RecordingRetention;
  sshKeys: SshKeys;
  /** Exclusive checkout of shared credentials. */
  checkouts: Checkouts;
  /** The broker protocols use (ticket redeem → live session). */
  launching: Launching;
  /** Access request policies, requests, approvals and grants (core/access). */
  policies: Policies;
  accessRequests: AccessRequests;
  accessGate: AccessGate;
  /** MFA step-up per launch (core/access/step-up.ts). */
  stepUp: StepUp;
  notifier: Notifier;
  /** Target accounts (issue 12): operators, management links, rotation, heartbeat. */
  targetAccounts: TargetAccounts;
  rotation: Rotation;
  heartbeat: Heartbeat;
  /** Access levels and just-in-time accounts (issue 12, points 4 and 5). */
  accessLevels: AccessLevels;
  jit: JitAccounts;
  /** Whether the database and the recordings directory can be written (/healthz). */
  health: Health;
  /** The credential-provider API for an Endpoint Credential Manager (issue 13, core/webservices). */
  webservices: { provider: CredentialProvider; trust: DelegatedTrust; tokens: TokenCache };
  /** The OpenPSM start flow (seed 003): this node as the session gateway, and as the IAM. */
  openpsm: { gateway: OpenPsmGateway; iam: OpenPsmIam };
  /** TSplus-compatible logon tickets (seed 004, core/logon-tickets). */
  logonTickets: LogonTickets;
  /** OIDC single sign-on (issue 15 point 1): providers and the sign-in flow. */
  oidc: { providers: OidcProviders; signIn: OidcSignIn };
  /** Credentials a launch ticket carries in place of its secret's (core/launch/transient.ts). */
  transient: TransientCredentials;
  /** The LDAP / Active Directory directory: bind sign-in, user and group sync (issue 15 point 2). */
  ldap: LdapDirectory;
  /** Passkeys and security keys (issue 15 point 3): a second factor beside TOTP, step-up, passwordless sign-in. */
  webauthn: WebAuthn;
  /** Prometheus metrics of this node (core/metrics; GET /metrics in web/metrics.ts). */
  metrics: Metrics;
  /** Sign-in, token and ticket requests per address and per account (issue 16 point 7). */
  requestLimits: RequestLimits;
  /** Audit streaming (issue 16 point 6): the sinks and the streamer server.ts starts and drains at stop. */
  auditSinks: AuditSinks;
  auditStreaming: AuditStreaming;
  /** Gateway nodes on this database (core/cluster): the registry, and in a cluster the shared identity. */
  cluster: { registry: NodeRegistry; identity: ClusterIdentity | null; joined: IdentityOutcome[] };
  /** The logon-ticket RSA key (a cluster shares it and its rotations). */
  logonTicketKey: LogonTicketKey;
  version: string;
}

export interface CoreOptions {
  /** In a cluster: the pieces of the shared identity (server.ts names them), made the cluster's before anything loads them. */
  identity?: IdentityPiece[];
}

export const VERSION = '0.1.0';

export async function createCore(config: Config, store: Store, log: Logger, opts: CoreOptions = {}): Promise<Core> {
  const { keyring } = Keyring.load(config.dataDir, config.masterKey);
  const dataKeys = new DataKeys(store, keyring);
  const missing = await dataKeys.checkKeysLoaded();
  if (missing.length) {
    throw new ConfigError('GATEHOUSE_MASTER_KEY', `does not match the key this database was encrypted with (needs key id ${missing.join(', ')}, have ${keyring.currentId})`);
  }
  // The cluster's keys are written into this node's data dir before the loaders below read them.
  const identity = opts.identity ? new ClusterIdentity(store, dataKeys, config.dataDir) : null;
  const joined = identity && opts.identity ? await identity.join(opts.identity) : [];
  // A worker process (src/cluster-workers.ts) is a node of its own: the data dir's id and its index.
  // The data dir's id: the machine's (its workers, which share the data dir, add `-w<index>`).
  const dataDirNode = loadNodeId(config.dataDir);
  const nodeId = dataDirNode + (config.worker ? `-w${config.worker}` : '');
  const registry = new NodeRegistry(store, nodeId, { heartbeatMs: config.nodeHeartbeatSeconds * 1000, deadMs: config.nodeDeadSeconds * 1000 });
  const settings = new SettingsService(store);
  const audit = createAudit(config, store, settings, log);
  await audit.init();
  const dir = new Directory(store, audit);
  const auth = new Auth(store, dir, audit, settings, dataKeys, (err) => log.error({ err: { message: err.message } }, 'writing a failed sign-in summary to the audit trail failed'));
  const requestLimits = new RequestLimits(settings, audit, undefined, undefined, (err) => log.error({ err: { message: err.message } }, 'writing a rate-limit summary to the audit trail failed'));
  auth.limitRequests(requestLimits);
  const access = new Access(store);
  const templates = new Templates(store, audit);
  const folders = new Folders(store, access, audit, dir);
  const secrets = new Secrets(store, access, dataKeys, templates, folders, audit, dir);
  const personal = new PersonalVault(store, audit, dir, settings, secrets);
  const launchers = new Launchers(store, audit, settings);
  const tickets = new Tickets(store);
  // Recordings: written off the event loop by one writer thread, compressed when configured (docs/operations.md).
  const recordingWriter = new RecordingWriter({ ...DEFAULT_WRITER_LIMITS, sessionQueueBytes: config.recordingQueueMiB << 20, gzipLevel: config.recordingGzipLevel });
  const recordingsDir = config.recordingsDir || join(config.dataDir, 'recordings');
  // Object storage (recording-storage-s3.ts) when configured: the bucket must answer now (a clear error otherwise).
  const recordingStorage =
    config.recordingStorage === 's3' && config.s3
      ? new S3RecordingStorage(config.s3, config.recordingCompression, { store, dataKeys, node: nodeId, log, writer: recordingWriter })
      : new LocalRecordingStorage(recordingsDir, config.recordingCompression, recordingWriter);
  if (recordingStorage instanceof S3RecordingStorage) await recordingStorage.check();
  const sessions = new Sessions(
    store,
    audit,
    log,
    recordingsDir,
    nodeId,
    async (ref) => {
      const u = (await dir.userByName(ref)) ?? (await dir.userRow(ref).catch(() => undefined));
      return u ? { id: u.id, username: u.username, isApplication: !!u.isApplication, disabled: !u.enabled } : null;
    },
    recordingStorage,
    // Live rows of a node the registry says is dead or stopped are the recovery's, not sessions in use.
    async (node) => (await registry.get(node))?.status ?? null,
  );
  const retention = new RecordingRetention(store, audit, sessions.storage, log, dataDirNode);
  const s3 = recordingStorage instanceof S3RecordingStorage ? recordingStorage : null;
  const health = new Health(store, s3 ? s3.spoolRoot : sessions.recordingsDir, () => sessions.lastRecordingFailure, log, 3000, s3 ? () => s3.probe() : undefined);
  // Metrics: events are reported by the services, state is read when scraped.
  const metrics = new Metrics(sessions.node, VERSION);
  store.observeQueries((seconds, failed) => metrics.query(seconds, failed));
  auth.observeSignInFailures((action, via) => metrics.loginFailed(action, via));
  requestLimits.observe((kind, scope) => metrics.limited(kind, scope));
  const recordingBytes = new RecordingBytes(() => sessions.live.values());
  metrics.watch({ live: () => sessions.live.values(), recordingBytes: () => recordingBytes.total(), recordingQueueDepth: () => recordingWriter.queuedBytes });
  // A session's bytes move from the live sums to the ended totals the moment it leaves `live`,
  // not once its end is written (a hash, the database, retries every 2 s): a scrape in between
  // would count them nowhere and the counters would go down (Prometheus reads a reset).
  sessions.onLeftLive((s) => {
    metrics.sessionEnded({ protocol: s.plan.protocol, bytesIn: s.bytesIn, bytesOut: s.bytesOut });
    s.countLate((bytesIn, bytesOut) => metrics.sessionEnded({ protocol: s.plan.protocol, bytesIn, bytesOut }));
    recordingBytes.ended(s);
  });
  const sshKeys = new SshKeys(store, audit);
  const checkouts = new Checkouts(store, secrets, sessions, audit, log);
  sessions.onSessionEnd((s) => checkouts.sessionEnded(s));
  const policies = new Policies(store, audit, dir, secrets, folders);
  // Editors may move what they edit, but not out from under (or into another) access policy.
  secrets.guardMoves((p, id, to) => policies.checkMove(p, { type: 'secret', id }, to));
  folders.guardMoves((p, id, to) => policies.checkMove(p, { type: 'folder', id }, to));
  const windows = new GrantWindows(revokedAmong(store));
  const notifier = new Notifier(store, settings, log);
  const accessGate = new AccessGate(store, windows);
  const stepUp = new StepUp(auth, policies);
  const accessRequests = new AccessRequests(store, audit, secrets, policies, windows, notifier);
  // A policy that requires checkout makes every launch of its secrets take the credential exclusively
  // (a launch passes the answer of the policy it resolved; the status view asks here).
  checkouts.setPolicyRequirement(async (secretId) => (await policies.effectiveFor(secretId))?.checkoutRequired ?? false);
  // Seed 003's messages: whether the person has a personal credential left when the shared one is taken.
  checkouts.setPersonalCredentialLookup((userId, secretId, protocol) => personal.hasFor(userId, secretId, protocol));
  const targetAccounts = new TargetAccounts(store, secrets, templates, sessions, audit);
  // In use: a live session on the secret on any node of the cluster, or a checkout still held (rotation waits for the check-in).
  const inUse = async (secretId: string) => (await sessions.liveAnywhere({ secretId })).length > 0 || (await checkouts.isCheckedOut(secretId));
  const rotation = new Rotation(targetAccounts, inUse, log, async (secretId) => (await policies.effectiveFor(secretId))?.rotateAfterUse ?? false, new PendingRotations(store, secrets, nodeId));
  // A value revealed or edited while its rotation runs would be replaced a moment later.
  secrets.guardValues((secretId, waitMs) => rotation.settledFor(secretId, waitMs));
  const heartbeat = new Heartbeat(targetAccounts, settings, log, (secretId) => rotation.settledFor(secretId));
  // Rotation after use; listeners run after the checkout's own session-end handling.
  checkouts.onCheckin((secretId) => rotation.afterUse(secretId, 'checkin'));
  sessions.onSessionEnd((s) => rotation.afterUse(s.secretId, 'session_end', s.username, s.endWrittenAt));
  const accessLevels = new AccessLevels(store, audit, dir);
  accessRequests.setAccessLevels((secretId) => accessLevels.forSecret(secretId));
  const jit = new JitAccounts(store, targetAccounts, accessLevels, sessions, audit, log);
  sessions.onSessionEnd((s) => jit.sessionEnded(s.id));
  const launchPolicies = new LaunchPolicies(policies);
  // A reveal and an explicit checkout answer to the access policy as a launch does (secret-use.ts).
  const uses = secretUseGuards({ launchPolicies, accessGate, checkouts });
  secrets.guardReveals(uses.reveal);
  checkouts.guardCheckouts(uses.checkout);
  const transient = new TransientCredentials(store, dataKeys);
  const launching = new Launching({ tickets, launchers, secrets, personal, templates, access, dir, settings, sessions, audit, log, auth, sshKeys, checkouts, ports: { ssh: config.sshPort, rdp: config.rdpPort }, accessGate, stepUp, consents: new Consents(policies, audit), launchPolicies, accessLevels, jit, transient, metrics, limits: requestLimits });
  metrics.watch({ draining: () => launching.draining });
  const trust = new DelegatedTrust(store, audit, notifier);
  const tokens = new TokenCache(store, dataKeys, settings, audit);
  trust.onEnded((applicationId, userId) => tokens.drop(applicationId, userId));
  const webservices = { trust, tokens, provider: new CredentialProvider({ store, settings, dir, access, secrets, templates, accessGate, launchPolicies, checkouts, audit, trust, tokens }) };
  // A retrieval without a checkout: the appliance injects the password after our answer, so
  // rotation after use waits out the retrieval window instead of running at once (in memory:
  // a restart in between skips that one rotation; a checkout-backed retrieval rotates at check-in).
  webservices.provider.rotateAfterUse(async (secretId) => {
    setTimeout(() => void rotation.afterUse(secretId, 'retrieve'), RETRIEVE_CHECKOUT_SECONDS * 1000).unref();
  });
  const openpsm = {
    gateway: new OpenPsmGateway({ store, settings, dataKeys, sessions, audit, log, client: new IamClient(() => settings.get('openpsmTrustedCa')), draining: () => launching.draining, noteRefusal: (ip, actor, input) => auth.noteDoorRefusal(ip, actor, input) }),
    iam: new OpenPsmIam({ store, settings, audit, dir, secrets, personal, accessGate, policies, checkouts }),
  };
  // The logon-ticket RSA key: made at first start in the data dir (0600), rotatable.
  // The redirect URI providers send people back to: it must be the URL browsers reach this node by.
  const baseUrl = () => config.publicUrl || `https://${config.bindHost === '0.0.0.0' || config.bindHost === '::' ? '127.0.0.1' : config.bindHost}:${config.httpPort}`;
  const oidcRedirectUri = async () => `${((await settings.get('publicUrl')) || baseUrl()).replace(/\/+$/, '')}/auth/oidc/callback`;
  const oidcProviders = new OidcProviders(store, dataKeys, dir, audit, oidcRedirectUri);
  const oidc = { providers: oidcProviders, signIn: new OidcSignIn(store, oidcProviders, dir, audit, settings, (what, err) => log.warn({ err: { message: (err as Error)?.message } }, `${what} failed`)) };
  const logonTicketKey = LogonTicketKey.load(config.dataDir).key;
  const logonTickets = new LogonTickets({
    store, settings, dataKeys, dir, secrets, launchers, launching, tickets, transient, audit, log,
    key: logonTicketKey,
    guard: new SignInGuard(settings, audit, (err) => log.error({ err: { message: err.message } }, 'writing a logon-ticket refusal summary to the audit trail failed')),
    liveBySecret: async () => {
      const rows = await store.db.selectFrom('sessions').select('secretId').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'live').groupBy('secretId').execute();
      return new Map(rows.map((r) => [r.secretId, Number(r.n)]));
    },
  });
  const ldap = new LdapDirectory({
    store, dir, audit, settings,
    secretField: async (secretId, field) => {
      const v = own((await secrets.credential(secretId)).fields, field);
      return v === undefined || v === '' ? null : String(v);
    },
    canViewSecret: async (p, secretId) => void (await secrets.require(p, secretId, 'view')),
    // On every node of the cluster: terminate forwards to the node a session runs on.
    terminateSessionsOf: async (userId, reason) => {
      let n = 0;
      for (const s of await sessions.liveAnywhere({ userId }, { deadNodesToo: true })) {
        try {
          // Counted when queued for a node that did not answer too: its upkeep ends it.
          if ((await sessions.terminateOrQueue(SYSTEM, s.id, reason)) !== 'ended') n++;
        } catch (e) {
          log.warn({ sessionId: s.id, node: s.node, err: { message: (e as Error).message } }, 'terminating a session of a user disabled by the directory sync failed');
        }
      }
      return n;
    },
  });
  auth.usePasswordSource(ldap);
  const webauthn = new WebAuthn(store, dir, auth, audit, settings, baseUrl);
  auth.useSecurityKeys(webauthn);
  const auditSinks = new AuditSinks(store, dataKeys, audit);
  const auditStreaming = new AuditStreaming(store, auditSinks, audit, sessions.node, log);
  await dir.seedBuiltinRoles();
  await templates.seedBuiltins();
  await launchers.seedBuiltins();
  return { config, store, log, keyring, dataKeys, audit, settings, dir, auth, access, templates, folders, secrets, personal, launchers, tickets, sessions, retention, sshKeys, checkouts, launching, policies, accessRequests, accessGate, stepUp, notifier, targetAccounts, rotation, heartbeat, accessLevels, jit, health, webservices, openpsm, logonTickets, transient, ldap, oidc, webauthn, metrics, requestLimits, auditSinks, auditStreaming, cluster: { registry, identity, joined }, logonTicketKey, version: VERSION };
}

/** Creates the first administrator when the directory is empty. Returns the password only when it was generated. */
export async function bootstrapAdmin(core: Core, opts: { username?: string; password?: string } = {}): Promise<{ username: string; password?: string } | null> {
  if ((await core.dir.countUsers()) > 0) return null;
  const username = opts.username ?? 'admin';
  const generated = opts.password ?? core.config.adminPassword ? undefined : randomBytes(18).toString('base64url');
  const password = opts.password ?? core.config.adminPassword ?? generated!;
  await core.dir.createUser(SYSTEM, { username, displayName: 'Administrator', password, roles: ['administrator'] });
  await core.audit.record(SYSTEM, { action: 'system.bootstrap', details: { username, passwordSource: generated ? 'generated' : opts.password ? 'cli' : 'GATEHOUSE_ADMIN_PASSWORD' } });
  return { username, ...(generated ? { password: generated } : {}) };
}
