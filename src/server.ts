// `gatehouse serve`: open the store, migrate, make keys and TLS on first start, create the
// bootstrap administrator, listen, open the front doors (registered here, in one DoorSet),
// serve metrics (on the HTTPS port and/or a listener of their own), sign the audit head
// periodically and at shutdown. A drain (SIGTERM) refuses new sessions and lets running
// ones finish, for up to GATEHOUSE_DRAIN_SECONDS, before the shutdown seals what is left.
import type { Socket } from 'node:net';
import { mkdirSync } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
import type { FastifyInstance } from 'fastify';
import { hostPort, metricsExposure, type Config } from './config.js';
import { bootstrapAdmin, createCore, type Core } from './core/core.js';
import { SYSTEM } from './core/audit/service.js';
import { startCheckpointer } from './core/audit/checkpointer.js';
import { periodic, stopAll } from './core/periodic.js';
import { createLogger } from './log.js';
import { migrate, openStore } from './store/db.js';
import { loadTls } from './tls.js';
import { buildApp } from './web/app.js';
import { SshDoor } from './protocols/ssh/server.js';
import { RdpDoor, type RdpTap } from './protocols/rdp-door/server.js';
import { WebTerminalDoor } from './protocols/web-terminal.js';
import { WebRdpDoor } from './protocols/rdp-web/door.js';
import { DoorSet } from './protocols/doors.js';
import type { DoorHealth } from './protocols/door.js';
import { RDP_RECORDED_TRAFFIC, RDP_RECORDING_FORMAT } from './protocols/rdp/recording/records.js';
import { rdpKeyframes } from './protocols/rdp/recording/keyframes.js';
import { PreauthGate, type PreauthLimits, type PreauthStats } from './protocols/preauth-limiter.js';
import { OpenSockets } from './protocols/open-sockets.js';
import { gateConnections } from './web/connection-gate.js';
import { LinuxOperator } from './protocols/targets/accounts/linux.js';
import { ldapAccountOperator } from './protocols/targets/accounts/ldap.js';
import { rdpNlaOperator } from './protocols/targets/accounts/rdp-nla.js';
import { startHeartbeat } from './core/accounts/heartbeat.js';
import { startLdapSync } from './core/identity/directory-ldap/service.js';
import { startMetricsListener, type MetricsListener } from './web/metrics.js';
import { clusterIdentityPieces, TLS_PIECE } from './cluster-identity.js';
import { joinCluster } from './cluster-node.js';
import { tuneProcessMemory } from './process-memory.js';

/** How often lapsed checkouts are settled (and rotated after use) when nobody looks. */
const CHECKOUT_SWEEP_MS = 30_000;
const RETENTION_SWEEP_MS = 3_600_000;
/** How long a stop waits for a checkout, logon-ticket or retention sweep under way before closing the database. */
const SWEEP_STOP_WAIT_MS = 15_000;

export interface Running {
  core: Core;
  app: FastifyInstance;
  url: string;
  sshPort: number;
  rdpPort: number;
  /** Counters of each door's unauthenticated-connection gate. */
  preauth(): Record<'https' | 'ssh' | 'rdp', PreauthStats>;
  /** Each front door's health, by name. */
  doors(): Record<string, DoorHealth>;
  /** The port of the separate metrics listener (GATEHOUSE_METRICS_LISTEN), when there is one. */
  metricsPort: number | null;
  /**
   * SIGTERM: no new sessions from now on (launches answer 503 draining, doors refuse tickets,
   * /healthz answers 503 draining); running sessions go on until they end or `timeoutSeconds`
   * (GATEHOUSE_DRAIN_SECONDS) pass, then the server stops (the rest are ended, every recording
   * sealed). Called again while draining: stops waiting at once. Resolves once stopped.
   */
  drain(timeoutSeconds?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ServerOptions {
  logStream?: NodeJS.WritableStream;
  announce?: (line: string) => void;
  /** Given only by tests: sees the decrypted client legs of the RDP door. */
  rdpTap?: RdpTap;
}

export async function startServer(config: Config, opts: ServerOptions = {}): Promise<Running> {
  // Everything the server writes (database, WAL, recordings, logs) is for its owner only.
  process.umask(0o077);
  // Thousands of idle sessions must not each pin a Buffer pool slab (process-memory.ts).
  tuneProcessMemory();
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const log = createLogger({ level: config.logLevel, dataDir: opts.logStream ? undefined : config.dataDir, stream: opts.logStream });
  const store = openStore(config);
  try {
    await migrate(store.db);
  } catch (e) {
    await store.close().catch(() => {});
    throw e;
  }
  // In a cluster, the shared identity (SSH host keys, TLS, audit and logon-ticket keys) is the cluster's.
  const pieces = config.clusterPort !== undefined ? clusterIdentityPieces(config) : undefined;
  const core = await createCore(config, store, log, { identity: pieces }).catch(async (e) => {
    await store.close().catch(() => {});
    throw e;
  });
  const announce = opts.announce ?? ((l: string) => process.stdout.write(l + '\n'));
  const boot = await bootstrapAdmin(core);
  if (boot?.password) {
    // Printed once, never logged or stored in plaintext.
    announce(`gatehouse: bootstrap administrator created: username "${boot.username}" password "${boot.password}" (shown only now; change it after first login)`);
  } else if (boot) {
    announce(`gatehouse: bootstrap administrator "${boot.username}" created with the password from GATEHOUSE_ADMIN_PASSWORD`);
  }

  if (core.audit.keyAnnouncement) announce(core.audit.keyAnnouncement);
  for (const j of core.cluster.joined) {
    if (j.how === 'replaced') announce(`gatehouse: took the cluster's ${j.name} in place of this node's own`);
    else if (j.how === 'joined') announce(`gatehouse: took the cluster's ${j.name}`);
    else if (j.how !== 'same') announce(`gatehouse: cluster ${j.name} ${j.how === 'created' ? 'created' : 'taken from this node'} (shared by every node)`);
  }

  // Registered (and listening for the other nodes, in a cluster) before the recovery below.
  const cluster = await joinCluster(config, core, pieces, log).catch(async (e) => {
    await store.close().catch(() => {});
    throw e;
  });
  // Target account operators (issue 12): the core decides when, these know how. Given before
  // the node's heartbeat starts: the end of a dead node's session, ended by this node's upkeep,
  // may rotate its credential or remove a JIT account.
  core.targetAccounts.provide(new LinuxOperator({ checkHostKey: (...a) => core.targetAccounts.checkHostKey(...a) }));
  core.targetAccounts.provide(ldapAccountOperator);
  core.targetAccounts.provide(rdpNlaOperator);
  // Before the doors open: sessions a crash left live (this node's, and dead nodes') are ended, their recordings sealed.
  await core.sessions.reapStale({ [RDP_RECORDING_FORMAT]: RDP_RECORDED_TRAFFIC }, await core.cluster.registry.deadWithLiveSessions());
  cluster.startBeating();
  core.sessions.keyframes.provide(RDP_RECORDING_FORMAT, rdpKeyframes);
  let tls = await loadTls(config.dataDir, { cert: config.tlsCertFile, key: config.tlsKeyFile });
  // A renewal made here is the cluster's, unless another node renewed first: then that one is used.
  const tlsPiece = pieces?.find((p) => p.name === TLS_PIECE);
  if (tls.renewed && tlsPiece && core.cluster.identity && !(await core.cluster.identity.replace(tlsPiece, [tls.cert, tls.key]))) {
    tls = { ...(await loadTls(config.dataDir)), renewed: `${tls.renewed}; another node renewed it first` };
  }
  if (tls.renewed) announce(`gatehouse: replaced the self-signed TLS certificate (${tls.renewed}); new fingerprint ${tls.fingerprint256}`);
  const preauth: PreauthLimits = { graceMs: config.loginGraceSeconds * 1000, maxStartups: config.maxStartups, maxPerSource: config.maxStartupsPerSource };
  // The front doors, all reaching the core through its broker (core.launching).
  const ssh = new SshDoor({ host: config.bindHost, port: config.sshPort, dataDir: config.dataDir, broker: core.launching, log, preauth });
  const rdp = new RdpDoor({ host: config.bindHost, port: config.rdpPort, key: tls.key, cert: tls.cert, broker: core.launching, log, preauth, ...(opts.rdpTap ? { tap: opts.rdpTap } : {}) });
  // The browser terminal rides on the HTTPS server (declared below; asked only once running).
  const web = new WebTerminalDoor(() => app.server.listening);
  // Browser RDP (IronRDP's web client over RDCleanPath) rides on the HTTPS server too.
  const webRdp = new WebRdpDoor({ broker: core.launching, log, cert: tls.cert, served: () => app.server.listening });
  const doors = new DoorSet([web, ssh, rdp, webRdp]);
  const app = await buildApp(core, { https: { key: tls.key, cert: tls.cert }, doors: () => ({ sshHostKeys: ssh.hostKeys.map((k) => k.publicLine) }), terminal: web, rdpWeb: webRdp, ...(cluster.calls ? { cluster: cluster.calls } : {}) });
  const webGate = new PreauthGate('https', preauth, log);
  gateConnections(app.server as HttpsServer, webGate);
  // A download its client stopped reading, or a body trickled in, would hold app.close() (open-sockets.ts).
  const webSockets = new OpenSockets();
  app.server.on('connection', (sock: Socket) => webSockets.add(sock));
  /** The HTTPS side closes: its startups are cut, then what is still open a moment after the server's close began. */
  const closeWeb = (): Promise<void> => {
    webGate.close();
    const closed = app.close();
    webSockets.closeAfter();
    return closed;
  };
  await app.listen({ port: config.httpPort, host: config.bindHost });
  // A failed accept() that libuv cannot absorb (its EMFILE fallback sheds most) is emitted here; unheard, it would end the process.
  app.server.on('error', (err: Error) => log.error({ err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, 'https server error'));
  try {
    await doors.start();
  } catch (e) {
    await closeWeb();
    await cluster.stop();
    await store.close().catch(() => {});
    throw e;
  }
  // Launches hand out the ports the doors really got (the configuration may ask for 0).
  core.launching.setDoorPort('ssh', ssh.port);
  core.launching.setDoorPort('rdp', rdp.port);
  core.health.watchDoors(() => doors.health());
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.httpPort;
  const url = `https://${config.bindHost === '0.0.0.0' ? 'localhost' : config.bindHost}:${port}`;
  await core.audit.record(SYSTEM, { action: 'system.start', details: { version: core.version, database: store.kind, httpPort: port } });
  // Signed at once: checkpoints are required, and this also covers whatever a crash left unsigned.
  await core.audit.checkpoint();
  // OpenPSM endsession calls a previous run still owed (their sessions ended with it) go out now.
  await core.openpsm.gateway.resume().catch((err) => log.error({ err: { message: (err as Error).message } }, 'resuming OpenPSM endsession notices failed'));
  announce(`gatehouse: ssh door on port ${ssh.port}`);
  announce(`gatehouse: rdp door on port ${rdp.port}`);
  if (cluster.address) announce(`gatehouse: cluster node ${core.cluster.registry.self} takes calls from the other nodes at ${cluster.address}`);
  announce(`gatehouse: listening on ${url} (database: ${store.kind}, data dir: ${config.dataDir}${tls.selfSigned ? `, self-signed TLS ${tls.fingerprint256}` : ''})`);

  // Prometheus metrics: process metrics (event-loop lag…) for this server, and their own listener if configured.
  core.metrics.collectProcessMetrics();
  let metricsListener: MetricsListener | null = null;
  if (config.metricsListen) {
    try {
      metricsListener = await startMetricsListener(core, config.metricsListen.host, config.metricsListen.port);
    } catch (e) {
      await doors.close();
      await closeWeb();
      await cluster.stop();
      await store.close().catch(() => {});
      throw new Error(`cannot listen for metrics on ${config.metricsListen.host}:${config.metricsListen.port}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    announce(`gatehouse: metrics on http://${hostPort(config.metricsListen.host, metricsListener.port)}/metrics`);
    const exposed = metricsExposure(config);
    if (exposed) {
      announce(`gatehouse: warning: ${exposed}`);
      log.warn(exposed);
    }
  }

  // The node has started: the end listeners of the sessions its recovery ended run now (in the
  // background, one session after another), as those of sessions of nodes found dead later do.
  core.sessions.tellRecoveredEnds();

  // Audit streaming to syslog / webhook sinks, from each sink's cursor (what a previous run left pending goes first).
  core.auditStreaming.start();
  const checkpoints = startCheckpointer(core.audit, () => core.settings.get('auditCheckpointSeconds'), log);
  const heartbeats = startHeartbeat(core.heartbeat, log);
  const warn = (what: string) => (e: unknown) => log.warn({ err: { message: (e as Error).message } }, what);
  // Lapsed checkouts are checked in without waiting for someone to look at the secret.
  const checkoutSweeper = periodic(() => core.checkouts.settleDue(), CHECKOUT_SWEEP_MS, warn('settling lapsed checkouts failed'));
  // Logon tickets (seed 004): the sealed credentials of expired logon and launch tickets are wiped.
  const logonSweeper = periodic(() => core.logonTickets.sweep(), CHECKOUT_SWEEP_MS, warn('wiping expired logon-ticket credentials failed'));
  // Recording retention (docs/operations.md): recordings no policy keeps any longer are deleted, audited; hourly.
  const retentionSweeper = periodic(() => core.retention.sweep(), RETENTION_SWEEP_MS, warn('the recording retention sweep failed'));
  // JIT accounts and access levels a crash (or a failed clean-up) left on targets: now and every minute.
  core.jit.startSweeper();
  // Rotations a crash (or a target that stopped answering) left unsettled: now and every minute.
  core.rotation.startSweeper();
  // LDAP / AD users and groups every ldapSyncMinutes (when a directory is enabled).
  const ldapSync = startLdapSync(core.ldap, core.settings, store, (e) => log.warn({ err: { message: e.message } }, 'the scheduled LDAP directory sync failed'));

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    checkpoints.stop();
    heartbeats.stop();
    ldapSync.stop();
    // No new sweeps; one under way finishes beside the drain, waited for (bounded) below.
    const sweepers = { checkouts: checkoutSweeper, 'logon tickets': logonSweeper, retention: retentionSweeper };
    for (const s of Object.values(sweepers)) void s.stop();
    void core.jit.stopSweeper();
    void core.rotation.stopSweeper();
    core.launching.drain();
    // Each step on its own: one that fails is logged, and the rest of the stop still runs (the
    // other recordings are closed, system.stop and the final checkpoint written, the database closed).
    const step = async (what: string, work: () => Promise<unknown> | undefined) => {
      try {
        await work();
      } catch (e) {
        log.error({ err: { message: (e as Error).message } }, `stopping: ${what} failed`);
      }
    };
    await step('ending the live sessions', () => core.sessions.endAll('gateway shutting down'));
    // Sessions that ended on their own just before (a drain's last ones) may still be writing their seals.
    await step('writing the session ends', () => core.sessions.settled());
    await step('leaving the cluster', () => cluster.stop());
    await core.jit.settled().catch(() => {});
    await core.rotation.settled().catch(() => {});
    await core.heartbeat.settled().catch(() => {});
    // Before the recording storage goes (retention deletes from it) and the database closes.
    const stillSweeping = await stopAll(sweepers, SWEEP_STOP_WAIT_MS);
    if (stillSweeping.length) log.warn({ sweeps: stillSweeping }, `stopping: sweeps still under way after ${SWEEP_STOP_WAIT_MS / 1000} s; the database closes under them (the next start's sweep takes their work up)`);
    // The recordings are closed by now; the writer thread goes.
    await step('stopping the recording storage', () => core.sessions.storage.stop?.());
    await step('closing the doors', () => doors.close());
    await step('closing the web server', closeWeb);
    await step('closing the metrics listener', () => metricsListener?.close());
    await core.auth.flushSignInSummaries().catch(() => {});
    await core.requestLimits.flush().catch(() => {});
    await core.logonTickets.flush().catch(() => {});
    await core.audit.record(SYSTEM, { action: 'system.stop' }).catch(() => {});
    await core.audit.checkpoint().catch(() => {});
    // The sinks get what is pending, the stop itself included, before the database closes.
    await core.auditStreaming.stop((await core.settings.get('auditStreamDrainSeconds').catch(() => 5)) * 1000).catch(() => {});
    core.openpsm.gateway.stop();
    await store.close();
  };

  let draining: Promise<void> | null = null;
  let endWait: (() => void) | null = null;
  /** Asked to stop waiting before the wait had begun. */
  let cut = false;
  const drain = (timeoutSeconds = config.drainSeconds): Promise<void> => {
    if (stopped && !draining) return Promise.resolve();
    if (draining) {
      if (endWait) endWait();
      else cut = true;
      return draining;
    }
    core.launching.drain();
    draining = (async () => {
      const live = core.sessions.live.size;
      log.info({ liveSessions: live, drainSeconds: timeoutSeconds }, `draining: no new sessions; ${live} running session(s) may go on for up to ${timeoutSeconds} s`);
      await core.audit.record(SYSTEM, { action: 'system.drain', details: { liveSessions: live, drainSeconds: timeoutSeconds } }).catch(() => {});
      await new Promise<void>((resolve) => {
        const done = () => {
          clearInterval(poll);
          clearTimeout(timer);
          endWait = null;
          resolve();
        };
        // Sessions end on their own (their doors end them); a light poll notices the last one.
        // A redeem under way that has used its ticket is waited for too: its session goes live
        // in a moment, and then runs as the others do. So is an OpenPSM open (its start used up).
        const idle = () => core.sessions.live.size === 0 && core.launching.underWay === 0 && core.openpsm.gateway.opening === 0;
        const poll = setInterval(() => idle() && done(), 200);
        const timer = setTimeout(done, timeoutSeconds * 1000);
        endWait = done;
        if (cut || idle()) done();
      });
      const left = core.sessions.live.size;
      // stop() ends them (its first step), each on its own.
      if (left) log.warn({ liveSessions: left }, `drain over: ending ${left} session(s) still running`);
      await stop();
    })();
    return draining;
  };
  return { core, app, url, sshPort: ssh.port, rdpPort: rdp.port, metricsPort: metricsListener?.port ?? null, preauth: () => ({ https: webGate.stats(), ssh: ssh.preauth.stats(), rdp: rdp.preauth.stats() }), doors: () => doors.health(), drain, stop };
}
