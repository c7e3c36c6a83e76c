// The pump between the person's leg and the target's, once both are up: it owns the two
// streams and moves bytes, with backpressure both ways; every decision about the bytes is
// the interceptor's (interceptor.ts, socket-free). The client leg is any Duplex carrying
// the decrypted RDP stream: the TLS socket of the RDP door, or a WebSocket stream of the
// browser door. The target leg is the TLS socket to the target. Shared control: a joiner's
// input (from the core, already counted) becomes the interceptor's own input PDUs, written
// to the target between whole frames of the client's.
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { SessionHandle } from '../../core/broker.js';
import type { TargetLogon } from '../targets/rdp.js';
import { RdpInterceptor, type Forward, type InterceptorOptions, type Leg } from './interceptor.js';
import { parseJoinerEvents } from './join-input.js';
import { drained } from '../drained.js';

export interface RelayOptions {
  handle: SessionHandle;
  /** The person's leg: decrypted RDP bytes (a TLSSocket, or a WebSocket stream). */
  client: Duplex;
  /** The target's leg (a TLSSocket). */
  target: Duplex;
  /** The protocol the target selected (goes into CS_CORE.serverSelectedProtocol). */
  targetProtocol: number;
  /** What the client asked the gateway for (goes back in SC_CORE.clientRequestedProtocols). */
  clientRequestedProtocols: number;
  logon: TargetLogon;
  log: Logger;
  /** See InterceptorOptions. */
  output?: InterceptorOptions['output'];
  clientBuildAtLeast?: number;
  completeDeactivateAll?: boolean;
  holdOutputDuringFinalization?: boolean;
  /** Test hook: the decrypted bytes of the client leg ('in' from the client, 'out' to it). */
  tap?: (direction: 'in' | 'out', data: Buffer) => void;
  /** Called once when both legs are closed; the reason is for the session record. */
  onClose(reason: string): void;
}

export class RdpRelay {
  readonly interceptor: RdpInterceptor;
  private closed = false;
  private closeReason: string | null = null;
  private readonly waitingDrain = { client: false, target: false };

  constructor(private readonly o: RelayOptions) {
    this.interceptor = new RdpInterceptor({ handle: o.handle, targetProtocol: o.targetProtocol, clientRequestedProtocols: o.clientRequestedProtocols, logon: o.logon, log: o.log, ...(o.output ? { output: o.output } : {}), ...(o.clientBuildAtLeast !== undefined ? { clientBuildAtLeast: o.clientBuildAtLeast } : {}), ...(o.completeDeactivateAll ? { completeDeactivateAll: true } : {}), ...(o.holdOutputDuringFinalization ? { holdOutputDuringFinalization: true } : {}) });
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
    // Shared control (both RDP doors): the session can be joined once this is registered.
    // An RDP client has no text channel: the owner answers join requests in the portal
    // (the browser RDP page shows them in its bar), so the events are only logged here.
    // A joiner sees the desktop as the live view draws it, from the session's recording: a
    // launcher that does not record gives no picture, and typing blind into someone's
    // desktop is no shared control, so such a session is not offered for joining (the core
    // refuses with a reason that says so; docs/protocols/rdp.md, "Shared control").
    if (this.o.handle.plan.launcher.record)
      this.o.handle.onJoinInput((data, by) => {
        if (this.closed) return;
        const frames = this.interceptor.inject(parseJoinerEvents(data), by);
        let full = false;
        for (const f of frames) full = !target.write(f) || full;
        // The target's socket past its high-water mark: the joiner waits for it to drain.
        return full ? drained(target) : undefined;
      });
    this.o.handle.onJoin((e) => this.o.log.info({ sessionId: this.o.handle.id, event: e.type, user: e.user.username }, 'rdp session: shared control'));
  }

  /**
   * Ends the session from the gateway's side (terminate, timers, shutdown): an active
   * client first gets the interceptor's administrative disconnect (no auto-reconnect).
   */
  terminate(reason: string): void {
    if (!this.closed) {
      const out = this.interceptor.terminate();
      if (out) {
        this.o.tap?.('out', out);
        this.o.client.write(out);
      }
    }
    this.close(reason);
  }

  /** Ends both legs (terminate, shutdown, protocol error). */
  close(reason: string): void {
    this.closeReason ??= reason;
    if (this.closed) return;
    this.closed = true;
    this.interceptor.stop();
    const { client, target } = this.o;
    client.end();
    target.end();
    // Give TLS a moment to flush close_notify, then make sure both streams are gone.
    setTimeout(() => {
      client.destroy();
      target.destroy();
    }, 500).unref();
    this.o.onClose(this.closeReason);
  }

  private pump(chunk: Buffer, from: Leg): void {
    if (this.closed) return;
    let out: Forward;
    try {
      if (from === 'client') {
        this.o.tap?.('in', chunk);
        out = this.interceptor.fromClient(chunk);
      } else out = this.interceptor.fromTarget(chunk);
    } catch (e) {
      return this.close(this.interceptor.failure(from, e));
    }
    // A frame can end the session (e.g. its recording cannot be created): nothing more is relayed.
    if (this.closed || this.interceptor.ended) return;
    const src = from === 'client' ? this.o.client : this.o.target;
    this.send('target', out.toTarget, src, from);
    this.send('client', out.toClient, src, from);
  }

  /** Writes frames to one leg; when it is full, the leg they came from pauses until it drains. */
  private send(to: Leg, frames: Buffer[], src: Duplex, from: Leg): void {
    if (!frames.length) return;
    const dst = to === 'client' ? this.o.client : this.o.target;
    dst.cork();
    try {
      for (const f of frames) {
        if (to === 'client') this.o.tap?.('out', f);
        if (!dst.write(f) && !this.waitingDrain[from]) {
          this.waitingDrain[from] = true;
          src.pause();
          dst.once('drain', () => {
            this.waitingDrain[from] = false;
            src.resume();
          });
        }
      }
    } finally {
      process.nextTick(() => dst.uncork());
    }
  }
}
