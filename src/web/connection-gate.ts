// The HTTPS port (the API, the portal and the browser terminal's WebSocket) under the same
// pre-authentication limits as the SSH and RDP doors. A connection is a startup from TCP
// accept until its first request has been answered (or, for a WebSocket upgrade, handed to
// the router, which either upgrades an authenticated request or answers and closes it); the
// grace timer runs only until that first request has arrived, so a slow answer (an audit
// verification, say) is never cut. Bare TCP connections, stalled TLS handshakes and
// half-sent first requests are what it bounds; after the first exchange, Node's keep-alive
// and header timeouts apply as usual.
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
  });
  server.on('upgrade', (req: IncomingMessage) => take(req.socket)?.done());
}
