// The browser RDP door. Its connections arrive as WebSockets on the HTTPS server (the
// route in web/routes/rdp-web.ts upgrades them and checks the origin); this object makes
// it a door like the others: started and closed with them, it knows the browser RDP
// connections it carries (and ends them when it closes), holds Gatehouse's certificate
// chain that RDCleanPath shows the browser, and serves each connection (session.ts).
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { SessionBroker } from '../../core/broker.js';
import { CarriedDoor } from '../carried-door.js';
import type { DoorHealth } from '../door.js';
import { serveBrowserRdp, type BrowserRdpOptions } from './session.js';
import { webSocketStream, type WsLike } from './ws-stream.js';

export interface WebRdpDoorOptions {
  broker: SessionBroker;
  log: Logger;
  /** Gatehouse's TLS certificate (PEM, the leaf first); without one the door refuses every connection. */
  cert?: string | Buffer;
  /** Whether the HTTPS server it rides on is listening. */
  served?: () => boolean;
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
}

/** PEM certificates → DER, in order. */
export function pemChainToDer(pem: string | Buffer): Buffer[] {
  const text = pem.toString();
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b).raw);
}

export class WebRdpDoor extends CarriedDoor {
  readonly name = 'web-rdp';
  private readonly certChain: Buffer[];

  constructor(private readonly o: WebRdpDoorOptions) {
    super();
    this.certChain = o.cert ? pemChainToDer(o.cert) : [];
  }

  /** A door that accepts from the start (an API built without the server's doors, as in tests). */
  static open(o: WebRdpDoorOptions): WebRdpDoor {
    return new WebRdpDoor(o).acceptNow();
  }

  health(): DoorHealth {
    return { listening: this.accepting && (this.o.served?.() ?? true) && this.certChain.length > 0, connections: this.live.size };
  }

  /**
   * A browser's WebSocket, upgraded by the route. False when the door cannot take it
   * (closed, or no certificate to show): the route refuses it.
   */
  accept(ws: WsLike, ctx: Pick<BrowserRdpOptions, 'clientIp' | 'consented' | 'precheck' | 'redeem'>): boolean {
    if (!this.accepting || !this.certChain.length) return false;
    const stream = webSocketStream(ws);
    const { broker, log } = this.o;
    serveBrowserRdp(stream, {
      ...ctx,
      broker,
      log,
      certChain: this.certChain,
      ...(this.o.connectTimeoutMs ? { connectTimeoutMs: this.o.connectTimeoutMs } : {}),
      ...(this.o.handshakeTimeoutMs ? { handshakeTimeoutMs: this.o.handshakeTimeoutMs } : {}),
      track: (end) => this.track(end),
    }).catch((err) => {
      log.error({ clientIp: ctx.clientIp, err: { message: (err as Error).message, stack: (err as Error).stack } }, 'browser rdp: connection handling failed');
      stream.destroy();
    });
    return true;
  }
}
