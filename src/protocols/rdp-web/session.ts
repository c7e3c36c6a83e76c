// One browser RDP connection, from the first WebSocket message to the relay. The browser
// (IronRDP's web client) sends an RDCleanPath request whose proxy auth token is the
// Gatehouse launch ticket and whose X.224 Connection Request says what it speaks; the
// ticket is redeemed through the broker (single use, IP binding, consent: the core
// audits every refusal), the target is opened with the vaulted credential (TLS, or NLA
// via CredSSP, on Gatehouse's side), and the browser is answered with a Connection
// Confirm selecting plain TLS security (so it runs no CredSSP of its own and never holds
// the credential) and Gatehouse's certificate. From there the WebSocket carries plain RDP
// and the same RdpRelay as the native door rewrites, injects the credential into the
// Client Info PDU, restricts capabilities, applies the channel policy and records.
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { TicketRefused, type SessionBroker, type SessionHandle } from '../../core/broker.js';
import { isRdpProtocolError } from '../rdp/errors.js';
import { buildConnectionConfirm, NEG_RSP_FLAGS, parseConnectionRequest, PROTOCOL } from '../rdp/pdu/x224.js';
import { RdpRelay } from '../rdp-door/relay.js';
import { connectRdpTarget, TargetError, vaultedLogon } from '../targets/rdp.js';
import { TARGET_REFUSED_CREDENTIAL, targetConnectFailed } from '../end-reasons.js';
import { BitmapWidthFix } from './bitmap-widths.js';
import { encodeError, encodeResponse } from './rdcleanpath.js';

/** The clientBuild the target hears from the web client at least (FreeRDP's long-standing default). */
const WEB_CLIENT_BUILD = 2600;
import { HandshakeError, readRdCleanPathRequest } from './handshake.js';

export interface BrowserRdpOptions {
  broker: SessionBroker;
  log: Logger;
  /** Gatehouse's certificate chain (DER), shown to the browser as the server's. */
  certChain: Buffer[];
  clientIp: string;
  /** The person agreed to the recording in the page (consent=1). */
  consented: boolean;
  /**
   * Before the ticket is redeemed: a refusal to show (and the connection ends, the ticket
   * stays usable) or null. The web route checks the launcher's recording consent here.
   */
  precheck?: (ticket: string) => Promise<string | null>;
  /**
   * How the token is turned into a session, when not by the broker's launch tickets (an
   * OpenPSM start's token: the web route decides). Rejects with TicketRefused; the caller
   * has logged and audited the reason.
   */
  redeem?: (token: string, ctx: { clientIp: string; door: 'web'; consented: boolean }) => Promise<SessionHandle>;
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  /** Tells the owner (the door) how to end this connection, and when it has ended. */
  track?: (end: (reason: string) => void) => () => void;
}

// HTTP statuses in RDCleanPath errors: the web client shows them as the kind of failure.
const BAD_REQUEST = 400;
const FORBIDDEN = 403;
const BAD_GATEWAY = 502;
const UNAVAILABLE = 503;

/** Serves one browser's WebSocket stream; resolves once the session is relaying or refused. */
export async function serveBrowserRdp(stream: Duplex, o: BrowserRdpOptions): Promise<void> {
  const { broker, log, clientIp } = o;
  const ctx = { clientIp, door: 'web' as const };
  const refuse = (httpStatusCode: number) => {
    if (!stream.destroyed && stream.writable) stream.end(encodeError({ httpStatusCode }));
    setTimeout(() => stream.destroy(), 500).unref();
  };
  stream.on('error', (e) => log.debug({ clientIp, err: { message: e.message } }, 'browser rdp stream error'));
  let untrack: (() => void) | null = null;
  let endEarly: string | null = null;
  untrack = o.track?.((reason) => {
    endEarly = reason;
    stream.destroy();
  }) ?? null;
  const release = () => {
    untrack?.();
    untrack = null;
  };

  // ---- the RDCleanPath request
  let req;
  try {
    req = await readRdCleanPathRequest(stream, o.handshakeTimeoutMs ?? 10_000);
  } catch (e) {
    const kind = e instanceof HandshakeError ? e.kind : 'protocol';
    log.info({ clientIp, kind, reason: (e as Error).message }, 'browser rdp: connection dropped before a valid RDCleanPath request');
    if (kind === 'protocol') {
      refuse(BAD_REQUEST);
      await broker.doorRefused('missing', ctx, { why: 'no valid RDCleanPath request', detail: (e as Error).message.slice(0, 200) }).catch(() => undefined);
    } else stream.destroy();
    return release();
  }
  let requestedProtocols: number;
  try {
    const cr = parseConnectionRequest(req.x224);
    requestedProtocols = cr.negReq?.requestedProtocols ?? 0;
  } catch (e) {
    if (!isRdpProtocolError(e)) throw e;
    log.info({ clientIp, reason: e.message }, 'browser rdp: the X.224 Connection Request in RDCleanPath is malformed');
    refuse(BAD_REQUEST);
    await broker.doorRefused('missing', ctx, { why: 'malformed X.224 Connection Request' }, req.proxyAuth).catch(() => undefined);
    return release();
  }
  if (!(requestedProtocols & PROTOCOL.SSL)) {
    // The browser's leg runs TLS security only (Gatehouse holds the real TLS/NLA leg): a client that does not offer it cannot be served.
    refuse(BAD_REQUEST);
    await broker.doorRefused('tls_required', ctx, { requestedProtocols }, req.proxyAuth).catch(() => undefined);
    return release();
  }
  const ticket = req.proxyAuth.trim();
  const pre = o.precheck ? await o.precheck(ticket) : null;
  if (pre) {
    refuse(FORBIDDEN);
    return release();
  }

  // ---- the ticket
  let h: SessionHandle;
  try {
    h = await (o.redeem ?? ((t, c) => broker.redeem(t, c)))(ticket, { ...ctx, consented: o.consented });
  } catch (e) {
    // Generic to the browser; the core logged and audited the exact reason.
    if (!(e instanceof TicketRefused)) log.error({ clientIp, err: { message: (e as Error).message } }, 'browser rdp: redeem failed');
    refuse(FORBIDDEN);
    return release();
  }
  if (stream.destroyed || endEarly) {
    release();
    return void h.end(endEarly ?? 'browser left before the session started').catch((err) => log.error({ err: { message: (err as Error).message } }, 'session end failed'));
  }
  h.note('rdp_client', { via: 'browser', requestedProtocols });
  h.onNotice((text) => {
    h.note('notice_not_shown', { text, why: 'an RDP session has no text channel to the person' });
    log.info({ sessionId: h.id, notice: text }, 'browser rdp: notice not shown to the person (no text channel on RDP)');
  });

  let relay: RdpRelay | null = null;
  let terminated: string | null = null;
  const cleanup: (() => void)[] = [() => stream.destroy()];
  const finish = (reason: string) => {
    release();
    return h.end(terminated ? 'terminated' : reason).catch((err) => log.error({ err: { message: (err as Error).message } }, 'session end failed'));
  };
  const abandon = async (reason: string, status: number) => {
    refuse(status);
    for (const c of cleanup.slice(1)) c();
    await finish(reason);
  };
  h.onTerminate((reason) => {
    terminated = reason;
    if (relay) relay.terminate('terminated');
    else for (const c of cleanup) c();
  });
  // The door closing (gateway shutdown) ends a relaying session like an auditor would.
  untrack?.();
  untrack = o.track?.((reason) => (relay ? relay.terminate(reason) : stream.destroy())) ?? null;

  if (h.plan.protocol !== 'rdp') {
    h.note('wrong_door', { protocol: h.plan.protocol });
    log.warn({ sessionId: h.id, protocol: h.plan.protocol }, 'browser rdp: a ticket for a non-RDP launcher was presented');
    return abandon(`a ${h.plan.protocol} ticket presented at the browser RDP door`, BAD_REQUEST);
  }

  // ---- the target, with the vaulted credential
  try {
    const logon = vaultedLogon(h);
    const target = await connectRdpTarget(h, { connectTimeoutMs: o.connectTimeoutMs ?? 15_000, logon });
    cleanup.push(() => target.socket.destroy());
    if (terminated || stream.destroyed) {
      for (const c of cleanup) c();
      return void (await finish('browser left before the session started'));
    }
    // ---- the answer: Connection Confirm selecting TLS security, Gatehouse's certificate
    const flags = target.negotiationFlags & NEG_RSP_FLAGS.EXTENDED_CLIENT_DATA_SUPPORTED;
    const addr = target.socket.remoteAddress ?? '127.0.0.1';
    const serverAddr = `${addr.includes(':') ? `[${addr}]` : addr}:${target.socket.remotePort ?? h.plan.target.port}`;
    stream.write(encodeResponse({ x224: buildConnectionConfirm({ selectedProtocol: PROTOCOL.SSL, flags }), certChain: o.certChain, serverAddr }));
    log.info({ sessionId: h.id, user: h.plan.user.username, target: `${h.plan.target.host}:${h.plan.target.port}`, nla: target.selectedProtocol === PROTOCOL.HYBRID, via: 'browser', ...(h.plan.launchRequestId ? { reqId: h.plan.launchRequestId } : {}) }, 'rdp session connected');
    const bitmapWidths = new BitmapWidthFix();
    relay = new RdpRelay({
      handle: h,
      client: stream,
      target: target.socket,
      targetProtocol: target.selectedProtocol,
      clientRequestedProtocols: requestedProtocols,
      logon,
      log,
      // IronRDP's web client draws a bitmap wider than its destination sheared (bitmap-widths.ts).
      // Both halves: xrdp sends its bitmaps as slow-path Update PDUs (docs/protocols/rdp.md).
      output: { fastPath: (pdu) => bitmapWidths.frame(pdu), slowPath: (data) => bitmapWidths.slowPath(data) },
      // IronRDP's web client says build 0; xrdp would then resize its screen on a Display
      // Control request without the Deactivation-Reactivation that resizes the client's.
      clientBuildAtLeast: WEB_CLIENT_BUILD,
      // ... and the Deactivate All that starts it must be whole for the web client to read it.
      completeDeactivateAll: true,
      // ... and xrdp's output must not overtake the Font Map that ends it (finalization-hold.ts).
      holdOutputDuringFinalization: true,
      onClose: (reason) => void finish(reason),
    });
    relay.start();
  } catch (e) {
    if (!(e instanceof TargetError)) {
      log.error({ sessionId: h.id, err: { message: (e as Error).message, stack: (e as Error).stack } }, 'browser rdp: session set-up failed');
      return abandon('gateway error', UNAVAILABLE);
    }
    h.note('target_connect_failed', { reason: e.kind, message: e.message });
    log.warn({ sessionId: h.id, reason: e.kind, message: e.message, target: `${h.plan.target.host}:${h.plan.target.port}` }, `rdp target connection failed: ${e.message}`);
    return abandon(e.kind === 'auth' ? TARGET_REFUSED_CREDENTIAL : targetConnectFailed(e.kind), BAD_GATEWAY);
  }
}
