// The relay between the person's TLS leg and the target's, once both are up. It frames
// both byte streams (TPKT slow-path and fast-path) and rewrites what must differ between
// the legs:
//   client → target  MCS Connect Initial: serverSelectedProtocol = what the target chose,
//                    no graphics pipeline flag, no multitransport (UDP) block, a desktop
//                    no larger than recordings keep (desktop-limit.ts);
//                    Client Info PDU: the vaulted domain/user/password, auto-logon on;
//                    Confirm Active PDU: capabilities restricted to what the recording
//                    replays (bitmap updates, palettes, pointers: no orders or codecs);
//   target → client  MCS Connect Response: clientRequestedProtocols = what the client
//                    asked the gateway for; Server Redirection PDUs and Save Session Info
//                    PDUs carrying an auto-reconnect cookie are dropped.
// Everything else passes byte for byte, with backpressure in both directions. The
// recorder sees the graphics output and the input on the way (recorder.ts); it never
// gets the Client Info PDU or virtual channel data.
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { rdpRedirection, type SessionHandle } from '../../core/broker.js';
import { isRdpProtocolError, RdpProtocolError } from '../rdp/errors.js';
import { isConfirmActive, restrictConfirmActive } from '../rdp/pdu/capabilities.js';
import { CS, RNS_UD_CS } from '../rdp/pdu/client-data.js';
import { injectLogon, SEC } from '../rdp/pdu/client-info.js';
import { MCS_CONNECT_INITIAL, parseConnectResponse, rewriteConnectInitial, rewriteConnectResponse } from '../rdp/pdu/mcs-gcc.js';
import { buildDisconnectProviderUltimatum, buildSendData, DOMAIN_PDU, parseSendData, type SendData } from '../rdp/pdu/mcs-domain.js';
import { buildSetErrorInfo, classifyServerPdu, ERRINFO, PDUTYPE, shareControlHeader } from '../rdp/pdu/share.js';
import { RdpFramer, type RdpFrame } from '../rdp/pdu/tpkt.js';
import { buildDataTpdu, parseDataTpdu, TPDU, tpduCode } from '../rdp/pdu/x224.js';
import { ChannelPolicy } from './channels.js';
import { limitDesktop } from './desktop-limit.js';
import { RdpRecorder } from './recorder.js';
import type { TargetLogon } from '../targets/rdp.js';

export interface RelayOptions {
  handle: SessionHandle;
  /** The person's leg: the door's TLS socket, or a browser's WebSocket as a stream (rdp-web). */
  client: Duplex;
  target: TLSSocket;
  /** The protocol the target selected (goes into CS_CORE.serverSelectedProtocol). */
  targetProtocol: number;
  /** What the client asked the gateway for (goes back in SC_CORE.clientRequestedProtocols). */
  clientRequestedProtocols: number;
  logon: TargetLogon;
  log: Logger;
  /** Test hook: the decrypted bytes of the client leg ('in' from the client, 'out' to it). */
  tap?: (direction: 'in' | 'out', data: Buffer) => void;
  /** Called once when both legs are closed; the reason is for the session record. */
  onClose(reason: string): void;
}

export class RdpRelay {
  private readonly clientFramer = new RdpFramer();
  private readonly targetFramer = new RdpFramer();
  private connectInitialSeen = false;
  private connectResponseSeen = false;
  private ioChannel: number | undefined;
  /** Clipboard/drive/printer redirection the launcher denies (null when everything is allowed). */
  private channels: ChannelPolicy | null = null;
  private infoSent = false;
  /** From the target's Demand Active and Send Data Indications: what a PDU of the gateway's own needs. */
  private shareId: number | undefined;
  private serverUserId: number | undefined;
  private closed = false;
  private closeReason: string | null = null;
  private readonly recorder: RdpRecorder;
  /** Client bytes not yet reported to the session: they are reported with the next input event (or at the end). */
  private uncountedIn = 0;
  private readonly waitingDrain = { client: false, target: false };
  /** The client has sent its Confirm Active: from here on only input counts as activity. */
  private activated = false;

  constructor(private readonly o: RelayOptions) {
    this.recorder = new RdpRecorder(o.handle);
  }

  start(): void {
    const { client, target } = this.o;
    client.on('data', (d: Buffer) => this.pump(d, 'client'));
    target.on('data', (d: Buffer) => this.pump(d, 'target'));
    client.on('error', (e) => this.close(`client connection error: ${e.message}`));
    target.on('error', (e) => this.close(`target connection error: ${e.message}`));
    client.on('close', () => this.close('client disconnected'));
    target.on('close', () => this.close('target disconnected'));
    client.on('end', () => this.close('client disconnected'));
    target.on('end', () => this.close('target disconnected'));
    client.resume();
    target.resume();
  }

  /**
   * Ends the session from the gateway's side (terminate, timers, shutdown): once the
   * session is active the client first gets a Set Error Info PDU (an administrative
   * disconnect, so it does not try to auto-reconnect) and a Disconnect Provider Ultimatum.
   */
  terminate(reason: string): void {
    if (!this.closed && this.shareId !== undefined && this.serverUserId !== undefined && this.ioChannel !== undefined) {
      const errorInfo = buildSetErrorInfo({ shareId: this.shareId, pduSource: this.serverUserId, errorInfo: ERRINFO.RPC_INITIATED_DISCONNECT });
      const out = Buffer.concat([
        buildDataTpdu(buildSendData({ type: DOMAIN_PDU.SEND_DATA_INDICATION, initiator: this.serverUserId, channelId: this.ioChannel, flags: 0x70, data: errorInfo })),
        buildDataTpdu(buildDisconnectProviderUltimatum()),
      ]);
      this.o.tap?.('out', out);
      this.o.client.write(out);
    }
    this.close(reason);
  }

  /** Ends both legs (terminate, shutdown, protocol error). */
  close(reason: string): void {
    this.closeReason ??= reason;
    if (this.closed) return;
    this.closed = true;
    this.recorder.finish();
    if (this.uncountedIn) this.o.handle.traffic(this.uncountedIn, 0);
    const { client, target } = this.o;
    client.end();
    target.end();
    // Give TLS a moment to flush close_notify, then make sure both sockets are gone.
    setTimeout(() => {
      client.destroy();
      target.destroy();
    }, 500).unref();
    this.o.onClose(this.closeReason);
  }

  private pump(chunk: Buffer, from: 'client' | 'target'): void {
    if (this.closed) return;
    const { client, target, handle, tap } = this.o;
    const src = from === 'client' ? client : target;
    const dst = from === 'client' ? target : client;
    if (from === 'client') {
      tap?.('in', chunk);
      this.uncountedIn += chunk.length;
    } else handle.traffic(0, chunk.length);
    let frames: RdpFrame[];
    try {
      frames = (from === 'client' ? this.clientFramer : this.targetFramer).push(chunk);
    } catch (e) {
      return this.fail(from, e);
    }
    dst.cork();
    try {
      for (const f of frames) {
        const out = from === 'client' ? this.fromClient(f) : this.fromTarget(f);
        // A frame can end the session (e.g. its recording cannot be created): nothing more is relayed.
        if (this.closed) break;
        if (!out) continue;
        if (from === 'target') tap?.('out', out);
        if (!dst.write(out) && !this.waitingDrain[from]) {
          this.waitingDrain[from] = true;
          src.pause();
          dst.once('drain', () => {
            this.waitingDrain[from] = false;
            src.resume();
          });
        }
      }
      // Once the client has confirmed the capabilities (the desktop is up), client bytes reach
      // the session (and restart its idle clock) only with real input: protocol chatter such
      // as auto-detect responses must not keep an idle session open.
      if (from === 'client' && (this.recorder.takeActivity() || !this.activated)) {
        handle.traffic(this.uncountedIn, 0);
        this.uncountedIn = 0;
      }
    } catch (e) {
      return this.fail(from, e);
    } finally {
      process.nextTick(() => dst.uncork());
    }
  }

  private fail(from: 'client' | 'target', e: unknown): void {
    if (!isRdpProtocolError(e) && !(e instanceof RangeError)) {
      // A bug, not bad input: never let it escape an event handler.
      this.o.log.error({ sessionId: this.o.handle.id, from, err: { message: (e as Error).message, stack: (e as Error).stack } }, 'rdp relay failure');
      return this.close('gateway error');
    }
    const detail = isRdpProtocolError(e) ? { layer: e.layer, reason: e.reason, message: e.message } : { message: (e as Error).message };
    this.o.log.warn({ sessionId: this.o.handle.id, from, ...detail }, 'rdp relay: malformed PDU, connection dropped');
    this.o.handle.note('rdp_protocol_error', { from, ...detail });
    this.close(`protocol error from the ${from}`);
  }

  private fromClient(f: RdpFrame): Buffer | null {
    if (f.kind === 'preconnection') throw new RdpProtocolError('preconnection', 'unexpected', 'a preconnection PDU after TLS');
    if (f.kind === 'fastpath') {
      if (!this.infoSent) throw new RdpProtocolError('fastpath', 'unexpected', 'fast-path input before the Client Info PDU');
      this.recorder.clientFastPath(f.data);
      return f.data;
    }
    if (tpduCode(f.data) !== TPDU.DATA) return f.data;
    const mcs = parseDataTpdu(f.data);
    if (!this.connectInitialSeen) {
      if (mcs.length < 2 || mcs.readUInt16BE(0) !== MCS_CONNECT_INITIAL) throw new RdpProtocolError('mcs', 'unexpected', 'the first PDU after TLS is not an MCS Connect Initial');
      this.connectInitialSeen = true;
      // No larger desktop than a recording's screen holds.
      const limit = limitDesktop(mcs);
      const rw = rewriteConnectInitial(mcs, {
        serverSelectedProtocol: this.o.targetProtocol,
        // The recorder decodes bitmap updates, not the graphics pipeline's codecs.
        earlyCapabilityFlags: (flags) => flags & ~RNS_UD_CS.SUPPORT_DYNVC_GFX_PROTOCOL,
        desktopSize: limit.desktopSize,
        // UDP multitransport cannot pass the gateway.
        dropBlockTypes: [CS.MULTITRANSPORT, ...limit.dropBlockTypes],
      });
      if (limit.note) this.o.handle.note('rdp_desktop_limited', limit.note);
      this.recorder.connectInitial(rw.pdu);
      if (this.closed) return null; // not recordable: the session was refused
      this.o.handle.note('rdp_channels', { channels: rw.channels.map((c) => c.name) });
      const policy = new ChannelPolicy(rdpRedirection(this.o.handle.plan.launcher.options), rw.channels, (d) => this.o.handle.note('rdp_channel_denied', d));
      if (policy.enforcing) this.channels = policy;
      return buildDataTpdu(rw.pdu);
    }
    const sd = parseSendData(mcs);
    if (!sd) return f.data; // Erect Domain, Attach User, Channel Join …
    if (this.infoSent) {
      if (this.channels && sd.type === DOMAIN_PDU.SEND_DATA_REQUEST && sd.channelId !== this.ioChannel) return rewrap(f.data, sd, this.channels.fromClient(sd.channelId, sd.data));
      if (sd.type !== DOMAIN_PDU.SEND_DATA_REQUEST || sd.channelId !== this.ioChannel) return f.data; // virtual channels: never recorded
      if (isConfirmActive(sd.data)) {
        this.activated = true;
        const r = restrictConfirmActive(sd.data);
        if (r.removed.length) this.o.handle.note('rdp_capabilities_restricted', { removed: r.removed });
        return r.data === sd.data ? f.data : buildDataTpdu(buildSendData({ ...sd, data: r.data }));
      }
      this.recorder.clientIo(sd.data);
      return f.data;
    }
    // Under TLS the first Send Data Request is the Client Info PDU: nothing else may precede it.
    if (sd.type !== DOMAIN_PDU.SEND_DATA_REQUEST || sd.channelId !== this.ioChannel || sd.data.length < 4 || !(sd.data.readUInt16LE(0) & SEC.INFO_PKT)) {
      throw new RdpProtocolError('mcs', 'unexpected', `Send Data on channel ${sd.channelId} before the Client Info PDU`);
    }
    const injected = injectLogon(sd.data, { domain: this.o.logon.domain, userName: this.o.logon.username, password: this.o.logon.password });
    this.infoSent = true;
    this.o.handle.note('rdp_logon_injected', { user: this.o.logon.username, domain: this.o.logon.domain, clientUserName: injected.clientUserName.slice(0, 64), autoReconnectCookieRemoved: injected.removedCookie });
    return buildDataTpdu(buildSendData({ ...sd, data: injected.data }));
  }

  private fromTarget(f: RdpFrame): Buffer | null {
    if (f.kind === 'fastpath') {
      this.recorder.targetFastPath(f.data);
      return f.data;
    }
    if (f.kind !== 'tpkt' || tpduCode(f.data) !== TPDU.DATA) return f.data;
    const mcs = parseDataTpdu(f.data);
    if (!this.connectResponseSeen) {
      this.connectResponseSeen = true;
      const cr = parseConnectResponse(mcs);
      if (cr.result !== 0 || !cr.network) return f.data; // refused: the client hears it as is
      this.ioChannel = cr.network.mcsChannelId;
      this.channels?.assignIds(cr.network.channelIds);
      return buildDataTpdu(rewriteConnectResponse(mcs, { clientRequestedProtocols: this.o.clientRequestedProtocols }));
    }
    const sd = parseSendData(mcs);
    if (sd && this.channels && sd.type === DOMAIN_PDU.SEND_DATA_INDICATION && sd.channelId !== this.ioChannel) return rewrap(f.data, sd, this.channels.fromTarget(sd.channelId, sd.data));
    if (sd && sd.type === DOMAIN_PDU.SEND_DATA_INDICATION && sd.channelId === this.ioChannel) {
      this.serverUserId ??= sd.initiator;
      const sc = shareControlHeader(sd.data);
      if (sc?.pduType === PDUTYPE.DEMANDACTIVE && sd.data.length >= 10) this.shareId = sd.data.readUInt32LE(6);
      const verdict = classifyServerPdu(sd.data);
      if (verdict === 'redirection') {
        this.o.log.warn({ sessionId: this.o.handle.id }, 'rdp relay: dropped a Server Redirection PDU from the target');
        this.o.handle.note('rdp_redirection_dropped', {});
        return null;
      }
      if (verdict === 'reconnect-cookie') {
        this.o.handle.note('rdp_reconnect_cookie_dropped', {});
        return null;
      }
      this.recorder.targetIo(sd.data);
    }
    return f.data;
  }
}

/** A channel PDU after the policy: unchanged (the original frame), dropped, or rewritten into one frame per chunk. */
function rewrap(frame: Buffer, sd: SendData, out: Buffer[]): Buffer | null {
  if (out.length === 1 && out[0] === sd.data) return frame;
  if (out.length === 0) return null;
  return Buffer.concat(out.map((d) => buildDataTpdu(buildSendData({ ...sd, data: d }))));
}
