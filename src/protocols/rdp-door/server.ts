// The RDP front door. A standard client opens the .rdp file Gatehouse handed out and
// presents the single-use ticket as its X.224 routing token (or MS-RDPEPS preconnection
// blob). The door redeems it through the core, opens the target with the vaulted
// credential (TLS, or NLA via CredSSP), answers the client with TLS under the Gatehouse
// certificate and relays, injecting the credential into the Client Info PDU. This file
// never sees the database or the vault: only the SessionBroker/SessionHandle.
import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { normalizeIp, redactTickets, TicketRefused, type SessionBroker, type SessionHandle } from '../../core/broker.js';
import type { DoorHealth, FrontDoor } from '../door.js';
import { NEG_RSP_FLAGS } from '../rdp/pdu/x224.js';
import { acceptTls, FrontError, offersTls, readClientHello, refuseWithoutTls } from './front.js';
import { RdpRelay } from './relay.js';
import { connectRdpTarget, TargetError, vaultedLogon } from '../targets/rdp.js';
import { TARGET_REFUSED_CREDENTIAL, targetConnectFailed } from '../end-reasons.js';
import { listenOn } from '../listen.js';
import { DEFAULT_PREAUTH_LIMITS, PreauthGate, type PreauthLimits, type Startup } from '../preauth-limiter.js';

export interface RdpDoorOptions {
  host: string;
  port: number;
  /** The Gatehouse TLS key and certificate (PEM), shown to RDP clients. */
  key: string | Buffer;
  cert: string | Buffer;
  broker: SessionBroker;
  log: Logger;
  /** Target TCP connect, X.224, TLS and each NLA step (default 15 s). */
  connectTimeoutMs?: number;
  /** How long a client has to send its Connection Request and finish TLS (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Login grace time and the limits on connections whose ticket is not yet accepted. */
  preauth?: PreauthLimits;
  /**
   * Sees the decrypted bytes of every client leg ('in' from the client, 'out' to it). Only
   * tests pass one, to prove no credential byte ever reaches the person.
   */
  tap?: RdpTap;
}

export type RdpTap = (sessionId: string, direction: 'in' | 'out', data: Buffer) => void;

export class RdpDoor implements FrontDoor {
  readonly name = 'rdp';
  readonly preauth: PreauthGate;
  private server: Server | null = null;
  private boundPort = 0;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly opts: RdpDoorOptions) {
    this.preauth = new PreauthGate('rdp', opts.preauth ?? DEFAULT_PREAUTH_LIMITS, opts.log);
  }

  /** The port it listens on (the configuration may ask for 0); 0 before start. */
  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    const { opts, sockets } = this;
    const gate = this.preauth;
    const secureContext = createSecureContext({ key: opts.key, cert: opts.cert, minVersion: 'TLSv1.2' });
    const server: Server = createServer((sock) => {
      const startup = gate.admit(sock, normalizeIp(sock.remoteAddress ?? ''));
      if (!startup) return;
      sockets.add(sock);
      sock.once('close', () => sockets.delete(sock));
      onConnection(sock, opts, secureContext, startup).catch((err) => {
        opts.log.error({ err: { message: (err as Error).message, stack: (err as Error).stack } }, 'rdp door: connection handling failed');
        sock.destroy();
      });
    });
    server.on('error', (err: Error) => opts.log.error({ err: { message: err.message } }, 'rdp door error'));
    this.boundPort = await listenOn(server, opts.port, opts.host);
    this.server = server;
  }

  /** Stops listening and closes every connection it holds. */
  close(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.preauth.close();
    if (!server) return Promise.resolve();
    return new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }

  health(): DoorHealth {
    return { listening: !!this.server?.listening, port: this.boundPort, connections: this.sockets.size, preauth: this.preauth.stats() };
  }
}

async function onConnection(sock: Socket, opts: RdpDoorOptions, secureContext: SecureContext, startup: Startup): Promise<void> {
  const { broker, log } = opts;
  const ip = normalizeIp(sock.remoteAddress ?? '');
  const handshakeTimeoutMs = opts.handshakeTimeoutMs ?? 10_000;
  const connectTimeoutMs = opts.connectTimeoutMs ?? 15_000;
  sock.setNoDelay(true);
  sock.on('error', (e) => log.debug({ clientIp: ip, err: { message: e.message } }, 'rdp client socket error'));

  // ---- the ticket, before any TLS
  let hello;
  try {
    hello = await readClientHello(sock, handshakeTimeoutMs);
  } catch (e) {
    const kind = e instanceof FrontError ? e.kind : 'protocol';
    log.info({ clientIp: ip, kind, reason: (e as Error).message }, 'rdp door: connection dropped before the Connection Request');
    sock.destroy();
    return;
  }
  const ctx = { clientIp: ip, door: 'rdp' as const };
  // The cookie is the user name the client was given (`rdesktop -u …`): a ticket put there is
  // exposed, so it is voided; the cookie is logged only with anything ticket-like redacted.
  const cookie = hello.request.cookie;
  const misplaced = cookie ? await broker.voidMisplacedTickets(cookie, ctx, 'RDP cookie (user name)') : 0;
  if (!offersTls(hello)) {
    // Without TLS the person could not be served; refusing first keeps a ticket presented the right way usable.
    refuseWithoutTls(sock);
    if (!misplaced) await broker.doorRefused('tls_required', ctx, { requestedProtocols: hello.requestedProtocols }, hello.ticket);
    return;
  }
  if (!hello.ticket) {
    sock.destroy();
    if (!misplaced) await broker.doorRefused('missing', ctx, cookie ? { cookie: redactTickets(cookie).slice(0, 64) } : {});
    return;
  }
  let handle: SessionHandle;
  try {
    handle = await broker.redeem(hello.ticket, { clientIp: ip, door: 'rdp' });
  } catch (e) {
    // Generic to the client (the connection just closes); the core logged and audited the exact reason.
    if (!(e instanceof TicketRefused)) log.error({ clientIp: ip, err: { message: (e as Error).message } }, 'rdp door: redeem failed');
    sock.destroy();
    return;
  }
  // The ticket is accepted: this connection leaves the unauthenticated count (and its grace timer stops).
  startup.done();
  const h = handle;
  if (sock.destroyed) return void h.end('client disconnected').catch((err) => log.error({ err: { message: (err as Error).message } }, 'session end failed'));
  h.note('rdp_client', { ticketVia: hello.source, requestedProtocols: hello.requestedProtocols, preconnection: hello.source === 'preconnection' });
  // Notices (the approved access ends in five minutes) are one-line texts for a terminal. The
  // door cannot write text into a remote desktop without drawing on it, and the session keeps
  // a notice no door listened for until it ends; so the door takes each one (those given
  // already, too) and drops it, with a log line and an event in the session's index: nothing
  // is held, and an auditor sees the person was not told. The window still ends the session.
  h.onNotice((text) => {
    h.note('notice_not_shown', { text, why: 'an RDP session has no text channel to the person' });
    log.info({ sessionId: h.id, notice: text }, 'rdp door: notice not shown to the person (no text channel on RDP)');
  });

  let relay: RdpRelay | null = null;
  let terminated: string | null = null;
  const cleanup: (() => void)[] = [() => sock.destroy()];
  const abandon = async (reason: string) => {
    for (const c of cleanup) c();
    await h.end(terminated ? 'terminated' : reason).catch((err) => log.error({ err: { message: (err as Error).message } }, 'session end failed'));
  };
  h.onTerminate((reason) => {
    terminated = reason;
    if (relay) relay.terminate('terminated');
    else for (const c of cleanup) c();
  });

  if (h.plan.protocol !== 'rdp') {
    h.note('wrong_door', { protocol: h.plan.protocol });
    log.warn({ sessionId: h.id, protocol: h.plan.protocol }, 'rdp door: a ticket for a non-RDP launcher was presented');
    return abandon(`a ${h.plan.protocol} ticket presented at the RDP door`);
  }

  // ---- the target, with the vaulted credential
  let target;
  try {
    const logon = vaultedLogon(h);
    target = await connectRdpTarget(h, { connectTimeoutMs, logon });
    if (terminated) {
      target.socket.destroy();
      return abandon('terminated');
    }
    cleanup.push(() => target!.socket.destroy());
    // ---- the client: Connection Confirm selecting TLS, then TLS with the Gatehouse certificate
    const flags = target.negotiationFlags & NEG_RSP_FLAGS.EXTENDED_CLIENT_DATA_SUPPORTED;
    let client;
    try {
      client = await acceptTls(sock, secureContext, flags, handshakeTimeoutMs);
    } catch (e) {
      h.note('rdp_client_tls_failed', { message: (e as Error).message });
      return abandon('client TLS handshake failed');
    }
    cleanup.push(() => client.destroy());
    if (terminated) return abandon('terminated');
    log.info({ sessionId: h.id, user: h.plan.user.username, target: `${h.plan.target.host}:${h.plan.target.port}`, nla: target.selectedProtocol === 2, ...(h.plan.launchRequestId ? { reqId: h.plan.launchRequestId } : {}) }, 'rdp session connected');
    const tap = opts.tap;
    relay = new RdpRelay({
      handle: h,
      client,
      target: target.socket,
      targetProtocol: target.selectedProtocol,
      clientRequestedProtocols: hello.requestedProtocols,
      logon,
      log,
      ...(tap ? { tap: (d: 'in' | 'out', b: Buffer) => tap(h.id, d, b) } : {}),
      onClose: (reason) => void h.end(terminated ? 'terminated' : reason).catch((err) => log.error({ err: { message: (err as Error).message } }, 'session end failed')),
    });
    relay.start();
  } catch (e) {
    if (!(e instanceof TargetError)) {
      log.error({ sessionId: h.id, err: { message: (e as Error).message, stack: (e as Error).stack } }, 'rdp door: session set-up failed');
      return abandon('gateway error');
    }
    // The exact reason for the log, the audit trail and the session record; the person only sees the connection end.
    h.note('target_connect_failed', { reason: e.kind, message: e.message });
    log.warn({ sessionId: h.id, reason: e.kind, message: e.message, target: `${h.plan.target.host}:${h.plan.target.port}` }, `rdp target connection failed: ${e.message}`);
    return abandon(e.kind === 'auth' ? TARGET_REFUSED_CREDENTIAL : targetConnectFailed(e.kind));
  }
}
