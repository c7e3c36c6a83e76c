// The RDP interceptor: everything the gateway does to a relayed RDP connection, without a
// socket. Bytes in from either leg (decrypted, any chunking) → the frames to forward to
// each side; what happens on the way goes to the session (notes, traffic, the recording).
// The pumps own the sockets (relay.ts: the TLS client of the RDP door, or any Duplex such
// as a WebSocket stream of the browser door) and only move bytes and handle backpressure.
//
// What it changes:
//   client → target  MCS Connect Initial (parsed once, shared by the desktop limit, the
//                    rewrite and the recorder): serverSelectedProtocol = what the target
//                    chose, no graphics pipeline flag, no multitransport (UDP) block, the
//                    display settings chosen at launch (desktop size, DPI as physical size
//                    and scale factors, keyboard layout), a desktop no larger than
//                    recordings keep (desktop-limit.ts);
//                    Client Info PDU: the vaulted domain/user/password, auto-logon on;
//                    Confirm Active PDU: capabilities restricted to what the recording
//                    replays (bitmap updates, palettes, pointers: no orders or codecs);
//                    static channels: the launcher's redirection policy (channels.ts);
//   target → client  MCS Connect Response: clientRequestedProtocols = what the client
//                    asked the gateway for; Server Redirection PDUs and Save Session Info
//                    PDUs carrying an auto-reconnect cookie are dropped.
// For the browser door only (options): CS_CORE clientBuild raised, a short Deactivate All
// completed, and its graphics output passed through a hook (rdp-web/bitmap-widths.ts), so
// IronRDP's web client can follow xrdp's resizes and draw its bitmaps.
// Shared control: inject() builds input PDUs of the gateway's own for a person who joined
// the session (fast-path when the client uses fast-path input, else slow-path), recorded
// under the joiner's name.
// Everything else passes byte for byte. The recorder sees the graphics output and the
// input on the way (recorder.ts); it never gets the Client Info PDU or channel data.
// Malformed input throws (RdpProtocolError, RangeError): `failure` says what the session
// record gets, and the pump drops both legs.
import type { Logger } from 'pino';
import { rdpRedirection, type InputAuthor, type SessionHandle } from '../../core/broker.js';
import { isRdpProtocolError, RdpProtocolError } from '../rdp/errors.js';
import { isConfirmActive, restrictConfirmActive } from '../rdp/pdu/capabilities.js';
import { buildFastPathInput, FASTPATH_MAX_EVENTS_IN_HEADER } from '../rdp/pdu/fastpath-input.js';
import { buildSlowPathInput } from '../rdp/pdu/input.js';
import { CS, RNS_UD_CS } from '../rdp/pdu/client-data.js';
import { injectLogon, SEC } from '../rdp/pdu/client-info.js';
import { MCS_CONNECT_INITIAL, parseConnectResponse, readConnectInitial, rewriteConnectInitial, rewriteConnectResponse } from '../rdp/pdu/mcs-gcc.js';
import { buildDisconnectProviderUltimatum, buildSendData, DOMAIN_PDU, parseSendData, type SendData } from '../rdp/pdu/mcs-domain.js';
import { buildSetErrorInfo, classifyServerPdu, completeDeactivateAll, ERRINFO, PDUTYPE, PDUTYPE2, shareControlHeader, shareDataType } from '../rdp/pdu/share.js';
import { RdpFramer, type RdpFrame } from '../rdp/pdu/tpkt.js';
import { buildDataTpdu, parseDataTpdu, TPDU, tpduCode } from '../rdp/pdu/x224.js';
import type { TargetLogon } from '../targets/rdp.js';
import { ChannelPolicy } from './channels.js';
import { FinalizationHold, type FinalizationRole } from './finalization-hold.js';
import { limitDesktop } from './desktop-limit.js';
import { displayRewrite, scaleFor } from './display.js';
import { toFastPath, toSlowPath, type JoinerEvent } from './join-input.js';
import { normaliseFastPathInput, RdpRecorder } from './recorder.js';

export interface InterceptorOptions {
  /** The session: its plan (launcher options, display settings) and where events go. */
  handle: SessionHandle;
  /** The protocol the target selected (goes into CS_CORE.serverSelectedProtocol). */
  targetProtocol: number;
  /** What the client asked the gateway for (goes back in SC_CORE.clientRequestedProtocols). */
  clientRequestedProtocols: number;
  logon: TargetLogon;
  log: Logger;
  /**
   * A door's own change to the target's graphics output on its way to the client, after the
   * recorder has seen it (the browser door's bitmap width fix, rdp-web/bitmap-widths.ts):
   * fast-path output PDUs, and I/O channel payloads (slow-path; null keeps one as it is).
   */
  output?: { fastPath(pdu: Buffer): Buffer[]; slowPath(data: Buffer): Buffer[] | null };
  /**
   * A CS_CORE clientBuild below this is raised to it. xrdp treats a build of 419 or less as a
   * client that cannot take a new desktop size, and then resizes its own screen on a Display
   * Control request without telling the client; IronRDP's web client sends 0.
   */
  clientBuildAtLeast?: number;
  /**
   * A Deactivate All PDU the target cut short (xrdp 0.9: the share control header alone) is
   * completed with the share id before it reaches the client: IronRDP's web client cannot
   * read the short one and ends the session when the target resizes.
   */
  completeDeactivateAll?: boolean;
  /** Output from the target waits between Demand Active and Font Map (finalization-hold.ts: IronRDP's web client). */
  holdOutputDuringFinalization?: boolean;
}

/** What to send on after one chunk: frames for the target and for the client, in order. */
export interface Forward {
  toTarget: Buffer[];
  toClient: Buffer[];
}

export type Leg = 'client' | 'target';

export class RdpInterceptor {
  private readonly clientFramer = new RdpFramer();
  private readonly targetFramer = new RdpFramer();
  private readonly recorder: RdpRecorder;
  private connectInitialSeen = false;
  private connectResponseSeen = false;
  private ioChannel: number | undefined;
  /** Clipboard/drive/printer redirection the launcher denies (null when everything is allowed). */
  private channels: ChannelPolicy | null = null;
  private infoSent = false;
  /** From the target's Demand Active and Send Data Indications: what a PDU of the gateway's own needs. */
  private shareId: number | undefined;
  private serverUserId: number | undefined;
  /** Client bytes not yet reported to the session: they are reported with the next input event (or at the end). */
  private uncountedIn = 0;
  /** The client has sent its Confirm Active: from here on only input counts as activity. */
  private activated = false;
  private stopped = false;
  /** The client sends fast-path input: injected input takes the same form. */
  private clientFastPath = false;
  /** The client's MCS user channel (initiator of its Send Data Requests): slow-path injected input comes from it. */
  private clientUserId: number | undefined;
  private readonly hold: FinalizationHold | null;

  constructor(private readonly o: InterceptorOptions) {
    this.recorder = new RdpRecorder(o.handle);
    this.hold = o.holdOutputDuringFinalization ? new FinalizationHold() : null;
  }

  /**
   * Whether nothing more is relayed. A session that cannot be recorded is terminated by the
   * core while the Connect Initial is handled (fail closed); the door's terminate callback
   * reaches the pump, which stops the interceptor, so the Connect Initial is not forwarded.
   */
  get ended(): boolean {
    return this.stopped;
  }

  /** Decrypted bytes from the client, any chunking: what to forward. Throws on malformed input. */
  fromClient(chunk: Buffer): Forward {
    const out: Forward = { toTarget: [], toClient: [] };
    if (this.ended) return out;
    this.uncountedIn += chunk.length;
    for (const f of this.clientFramer.push(chunk)) {
      const b = this.clientFrame(f);
      // A frame can end the session (e.g. its recording cannot be created): nothing more is relayed.
      if (this.ended) return { toTarget: [], toClient: [] };
      if (b) out.toTarget.push(b);
    }
    // Once the client has confirmed the capabilities (the desktop is up), client bytes reach
    // the session (and restart its idle clock) only with real input: protocol chatter such
    // as auto-detect responses must not keep an idle session open.
    if (this.recorder.takeActivity() || !this.activated) this.countInput();
    return out;
  }

  /** Decrypted bytes from the target, any chunking: what to forward. Throws on malformed input. */
  fromTarget(chunk: Buffer): Forward {
    const out: Forward = { toTarget: [], toClient: [] };
    if (this.ended) return out;
    this.o.handle.traffic(0, chunk.length);
    for (const f of this.targetFramer.push(chunk)) {
      const role = this.hold ? this.finalizationRole(f) : null;
      const b = this.targetFrame(f);
      if (this.ended) return { toTarget: [], toClient: [] };
      const frames = Array.isArray(b) ? b : b ? [b] : [];
      out.toClient.push(...(this.hold && role ? this.hold.pass(role, frames) : frames));
    }
    return out;
  }

  /** What a frame from the target is to the finalization hold (read before the frame is handled). */
  private finalizationRole(f: RdpFrame): FinalizationRole {
    if (f.kind === 'fastpath') return 'output';
    if (f.kind !== 'tpkt' || tpduCode(f.data) !== TPDU.DATA || !this.connectResponseSeen) return 'finalization';
    const sd = parseSendData(parseDataTpdu(f.data));
    if (!sd || sd.type !== DOMAIN_PDU.SEND_DATA_INDICATION) return 'finalization';
    if (sd.channelId !== this.ioChannel) return 'output';
    const sc = shareControlHeader(sd.data);
    if (sc?.pduType === PDUTYPE.DEMANDACTIVE || sc?.pduType === PDUTYPE.DEACTIVATEALL) return 'activation';
    if (sc?.pduType !== PDUTYPE.DATA) return 'finalization';
    const type2 = shareDataType(sd.data);
    if (type2 === PDUTYPE2.FONTMAP) return 'font-map';
    return type2 === PDUTYPE2.SYNCHRONIZE || type2 === PDUTYPE2.CONTROL || type2 === PDUTYPE2.SET_ERROR_INFO ? 'finalization' : 'output';
  }

  /**
   * Ending the session from the gateway's side (terminate, timers, shutdown): once the
   * session is active the client first gets a Set Error Info PDU (an administrative
   * disconnect, so it does not try to auto-reconnect) and a Disconnect Provider Ultimatum.
   * These are the bytes for the client, or null before the session is active.
   */
  terminate(): Buffer | null {
    if (this.stopped || this.shareId === undefined || this.serverUserId === undefined || this.ioChannel === undefined) return null;
    const errorInfo = buildSetErrorInfo({ shareId: this.shareId, pduSource: this.serverUserId, errorInfo: ERRINFO.RPC_INITIATED_DISCONNECT });
    return Buffer.concat([
      buildDataTpdu(buildSendData({ type: DOMAIN_PDU.SEND_DATA_INDICATION, initiator: this.serverUserId, channelId: this.ioChannel, flags: 0x70, data: errorInfo })),
      buildDataTpdu(buildDisconnectProviderUltimatum()),
    ]);
  }

  /**
   * Shared control: a joiner's input events as frames for the target (none before the
   * desktop is up or after the end). Recorded (and decoded into the keystroke log) under
   * the joiner's name. Fast-path when the client itself uses it; otherwise slow-path Input
   * Event PDUs on the I/O channel from the client's MCS user.
   */
  inject(events: JoinerEvent[], by: InputAuthor): Buffer[] {
    if (this.stopped || !this.activated || events.length === 0) return [];
    const out: Buffer[] = [];
    if (this.clientFastPath) {
      for (let i = 0; i < events.length; i += FASTPATH_MAX_EVENTS_IN_HEADER) out.push(buildFastPathInput(toFastPath(events.slice(i, i + FASTPATH_MAX_EVENTS_IN_HEADER))));
    } else {
      if (this.shareId === undefined || this.clientUserId === undefined || this.ioChannel === undefined) return [];
      const pdu = buildSlowPathInput({ shareId: this.shareId, pduSource: this.clientUserId, events: toSlowPath(events) });
      out.push(buildDataTpdu(buildSendData({ type: DOMAIN_PDU.SEND_DATA_REQUEST, initiator: this.clientUserId, channelId: this.ioChannel, flags: 0x70, data: pdu })));
    }
    this.recorder.joinerInput(
      toFastPath(events).flatMap((e) => normaliseFastPathInput(e) ?? []),
      by,
    );
    return out;
  }

  /** What an error thrown by fromClient/fromTarget means: logged, noted, and the session's end reason. */
  failure(from: Leg, e: unknown): string {
    if (!isRdpProtocolError(e) && !(e instanceof RangeError)) {
      // A bug, not bad input: never let it escape an event handler.
      this.o.log.error({ sessionId: this.o.handle.id, from, err: { message: (e as Error).message, stack: (e as Error).stack } }, 'rdp relay failure');
      return 'gateway error';
    }
    const detail = isRdpProtocolError(e) ? { layer: e.layer, reason: e.reason, message: e.message } : { message: (e as Error).message };
    this.o.log.warn({ sessionId: this.o.handle.id, from, ...detail }, 'rdp relay: malformed PDU, connection dropped');
    this.o.handle.note('rdp_protocol_error', { from, ...detail });
    return `protocol error from the ${from}`;
  }

  /** Once, when the connection ends: the recording's summary and the input bytes not yet counted. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.recorder.finish();
    this.countInput();
  }

  private countInput(): void {
    if (!this.uncountedIn) return;
    this.o.handle.traffic(this.uncountedIn, 0);
    this.uncountedIn = 0;
  }

  private clientFrame(f: RdpFrame): Buffer | null {
    if (f.kind === 'preconnection') throw new RdpProtocolError('preconnection', 'unexpected', 'a preconnection PDU after TLS');
    if (f.kind === 'fastpath') {
      if (!this.infoSent) throw new RdpProtocolError('fastpath', 'unexpected', 'fast-path input before the Client Info PDU');
      this.clientFastPath = true;
      this.recorder.clientFastPath(f.data);
      return f.data;
    }
    if (tpduCode(f.data) !== TPDU.DATA) return f.data;
    const mcs = parseDataTpdu(f.data);
    if (!this.connectInitialSeen) {
      if (mcs.length < 2 || mcs.readUInt16BE(0) !== MCS_CONNECT_INITIAL) throw new RdpProtocolError('mcs', 'unexpected', 'the first PDU after TLS is not an MCS Connect Initial');
      this.connectInitialSeen = true;
      return this.connectInitial(mcs);
    }
    const sd = parseSendData(mcs);
    if (!sd) return f.data; // Erect Domain, Attach User, Channel Join …
    if (sd.type === DOMAIN_PDU.SEND_DATA_REQUEST) this.clientUserId ??= sd.initiator;
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

  /** The client's Connect Initial: parsed once; the display settings, the limit and the rewrite; the recording starts. */
  private connectInitial(mcs: Buffer): Buffer | null {
    const { handle } = this.o;
    const parsed = readConnectInitial(mcs);
    const display = displayRewrite(handle.plan, parsed.ci.core);
    // No larger desktop than a recording's screen holds, whoever chose its size.
    const limit = limitDesktop(parsed, display.desktopSize);
    const desktopSize = limit.desktopSize ?? display.desktopSize;
    const size = desktopSize ?? { width: parsed.ci.core.desktopWidth, height: parsed.ci.core.desktopHeight };
    const scale = display.dpi !== undefined ? scaleFor(size.width, size.height, display.dpi) : undefined;
    const rw = rewriteConnectInitial(parsed, {
      serverSelectedProtocol: this.o.targetProtocol,
      // The recorder decodes bitmap updates, not the graphics pipeline's codecs.
      earlyCapabilityFlags: (flags) => flags & ~RNS_UD_CS.SUPPORT_DYNVC_GFX_PROTOCOL,
      ...(desktopSize ? { desktopSize } : {}),
      ...(display.keyboardLayout !== undefined ? { keyboardLayout: display.keyboardLayout } : {}),
      ...(this.o.clientBuildAtLeast !== undefined && parsed.ci.core.clientBuild < this.o.clientBuildAtLeast ? { clientBuild: this.o.clientBuildAtLeast } : {}),
      ...(scale ? { scale } : {}),
      // UDP multitransport cannot pass the gateway; a chosen size replaces the client's monitor layout.
      dropBlockTypes: [...new Set([CS.MULTITRANSPORT, ...limit.dropBlockTypes, ...display.dropBlockTypes])],
    });
    if (display.note) handle.note('rdp_display_settings', { ...display.note, ...(scale && !rw.scaleApplied ? { scale: 'not applied: the client sent a short CS_CORE' } : {}) });
    if (limit.note) handle.note('rdp_desktop_limited', limit.note);
    this.recorder.start(rw.core);
    if (this.ended) return null; // not recordable: the session was terminated
    handle.note('rdp_channels', { channels: rw.channels.map((c) => c.name) });
    const policy = new ChannelPolicy(rdpRedirection(handle.plan.launcher.options), rw.channels, (d) => handle.note('rdp_channel_denied', d));
    if (policy.enforcing) {
      this.channels = policy;
      // Said at the start: a dropped channel that carries nothing (a target without a clipboard)
      // leaves no rdp_channel_denied note, and the audit should still show what the launcher denied.
      handle.note('rdp_channel_policy', policy.summary);
    }
    return buildDataTpdu(rw.pdu);
  }

  private targetFrame(f: RdpFrame): Buffer | Buffer[] | null {
    if (f.kind === 'fastpath') {
      this.recorder.targetFastPath(f.data);
      return this.o.output ? this.o.output.fastPath(f.data) : f.data;
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
      if (sc?.pduType === PDUTYPE.DEACTIVATEALL && this.o.completeDeactivateAll && this.shareId !== undefined) {
        const full = completeDeactivateAll(sd.data, this.shareId);
        if (full) {
          this.recorder.targetIo(sd.data);
          return buildDataTpdu(buildSendData({ ...sd, data: full }));
        }
      }
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
      const changed = this.o.output?.slowPath(sd.data);
      if (changed) return changed.map((data) => buildDataTpdu(buildSendData({ ...sd, data })));
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
