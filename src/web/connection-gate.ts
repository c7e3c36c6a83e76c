// The HTTPS port (the API, the portal and the browser terminal's WebSocket) under the same
// pre-authentication limits as the SSH and RDP doors. A connection is a startup from TCP
// accept until the answer to its first request starts (or, for a WebSocket upgrade, until
// the router has it: it either upgrades an authenticated request or answers and closes).
// The grace timer runs until that first request's headers have arrived; a slowly sent body
// is bounded by the server's request timeout (app.ts), a slow answer (an audit
// verification, say) by nothing here, and a long one (the live view's event stream) no
// longer counts once it has started. After the first exchange, Node's keep-alive and
// header timeouts apply as usual.
import type { Server as HttpsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { normalizeIp } from '../core/launch/tickets.js';
import type { PreauthGate, Startup } from '../protocols/preauth-limiter.js';

export function gateConnections(server: HttpsServer, gate: PreauthGate): void {
  // 'connection' gives the raw TCP socket, requests the TLS socket over it: the peer's
  // address and port tie the two together.
  const startups = new Map<string, Startup>();
  const peer = (s: Socket) => `${s.remoteAddress ?? ''}|${s.remotePort ?? 0}`;
  const take = (s: Socket): Startup | undefined => {
    const key = peer(s);
    const startup = startups.get(key);
    startups.delete(key);
    return startup;
  };
  server.on('connection', (sock: Socket) => {
    const startup = gate.admit(sock, normalizeIp(sock.remoteAddress ?? ''));
    if (!startup) return;
    const key = peer(sock);
    startups.set(key, startup);
    sock.once('close', () => startups.delete(key));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const startup = take(req.socket);
    if (!startup) return;
    startup.stopClock();
    res.once('close', () => startup.done());
    // Node sends every answer's head through writeHead (explicitly or on the first write).
    const writeHead = res.writeHead;
    res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
      startup.done();
      res.writeHead = writeHead;
      return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
    } as typeof res.writeHead;
  });
  server.on('upgrade', (req: IncomingMessage) => take(req.socket)?.done());
}
