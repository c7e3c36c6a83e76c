// The person's side of the handshake, before TLS: an optional MS-RDPEPS preconnection PDU
// (v2 carries the ticket in wszPCB), then the X.224 Connection Request whose routing
// token is the ticket (the .rdp file's loadbalanceinfo, sent with CRLF). Afterwards the
// door answers the Connection Confirm and upgrades the socket to TLS with the Gatehouse
// certificate: the ticket is the person's authentication, so there is no NLA on this leg.
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { RdpFramer, type RdpFrame } from '../rdp/pdu/tpkt.js';
import { parsePreconnectionPdu } from '../rdp/pdu/preconnection.js';
import { buildConnectionConfirm, NEG_FAILURE, parseConnectionRequest, PROTOCOL, type ConnectionRequest } from '../rdp/pdu/x224.js';

export interface ClientHello {
  /** The ticket as presented (routing token or preconnection blob); undefined when there was none. */
  ticket?: string;
  source?: 'routing-token' | 'preconnection';
  request: ConnectionRequest;
  /** What the client offered in RDP_NEG_REQ (0 without one: Standard RDP Security only). */
  requestedProtocols: number;
}

export class FrontError extends Error {
  constructor(
    readonly kind: 'timeout' | 'closed' | 'protocol' | 'conflict',
    message: string,
  ) {
    super(message);
  }
}

/** Reads frames until the Connection Request; leaves the socket paused with no listener. */
export function readClientHello(socket: Socket, timeoutMs: number): Promise<ClientHello> {
  return new Promise((resolve, reject) => {
    const framer = new RdpFramer({ preconnection: true, fastPath: false, maxPreconnectionSize: 4096, maxFrameSize: 4096 });
    let pcb: string | undefined;
    const done = (err: Error | null, hello?: ClientHello) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onErr);
      socket.pause();
      if (err) reject(err);
      else resolve(hello!);
    };
    const timer = setTimeout(() => done(new FrontError('timeout', `no X.224 Connection Request within ${timeoutMs} ms`)), timeoutMs);
    const onEnd = () => done(new FrontError('closed', 'the client closed the connection before its Connection Request'));
    const onErr = (e: Error) => done(new FrontError('closed', e.message));
    const onFrame = (f: RdpFrame): boolean => {
      if (f.kind === 'preconnection') {
        const p = parsePreconnectionPdu(f.data);
        if (p.version === 2 && p.pcb) pcb = p.pcb.trim();
        return false;
      }
      if (f.kind !== 'tpkt') throw new FrontError('protocol', 'a fast-path PDU before the Connection Request');
      const request = parseConnectionRequest(f.data);
      // The client waits for the Connection Confirm: nothing may follow the request yet.
      if (framer.buffered) throw new FrontError('protocol', 'data after the Connection Request');
      const token = request.routingTokenValue?.trim();
      if (pcb && token && pcb !== token) throw new FrontError('conflict', 'the preconnection blob and the routing token differ');
      const ticket = pcb || token || undefined;
      done(null, { ...(ticket ? { ticket, source: pcb ? 'preconnection' : 'routing-token' } : {}), request, requestedProtocols: request.negReq?.requestedProtocols ?? 0 });
      return true;
    };
    const onData = (chunk: Buffer) => {
      try {
        for (const f of framer.push(chunk)) if (onFrame(f)) return;
      } catch (e) {
        done(e instanceof FrontError ? e : new FrontError('protocol', (e as Error).message));
      }
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onErr);
  });
}

/** Whether the client offered TLS (Gatehouse's only security protocol toward clients). */
export const offersTls = (h: ClientHello): boolean => !!h.request.negReq && (h.requestedProtocols & PROTOCOL.SSL) !== 0;

/** Refuses a client that did not offer TLS, in words it understands, and closes. */
export function refuseWithoutTls(socket: Socket): void {
  socket.end(buildConnectionConfirm({ failureCode: NEG_FAILURE.SSL_REQUIRED_BY_SERVER }));
}

/** Sends the Connection Confirm selecting TLS and performs the TLS server handshake. */
export function acceptTls(socket: Socket, ctx: SecureContext, flags: number, timeoutMs: number): Promise<TLSSocket> {
  socket.write(buildConnectionConfirm({ selectedProtocol: PROTOCOL.SSL, flags }));
  return new Promise((resolve, reject) => {
    const tls = new TLSSocket(socket, { isServer: true, secureContext: ctx });
    const timer = setTimeout(() => {
      tls.destroy();
      reject(new FrontError('timeout', `no TLS handshake within ${timeoutMs} ms`));
    }, timeoutMs);
    tls.once('secure', () => {
      clearTimeout(timer);
      resolve(tls);
    });
    tls.once('error', (e) => {
      clearTimeout(timer);
      reject(new FrontError('protocol', `TLS with the client failed: ${e.message}`));
    });
    tls.once('close', () => {
      clearTimeout(timer);
      reject(new FrontError('closed', 'the client closed the connection during TLS'));
    });
  });
}
