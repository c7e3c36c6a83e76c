// The SSH front door. Stock `ssh` clients log in either with a single-use ticket as the
// username (auth method "none", so `-o BatchMode=yes` works) or, for regular users, as
// `<user>:<secret>` with the Gatehouse password (+TOTP) or a registered public key.
// Every session channel is relayed to the target (SSH, or Telnet for telnet launchers)
// and recorded through the core's SessionHandle; this file never sees the database.
// The door accepts sockets (through its pre-auth gate) and hands each ssh2 connection
// to an SshConnection (connection.ts), which holds everything about that person.
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import ssh2 from 'ssh2';
import type { Logger } from 'pino';
import { normalizeIp, type SessionBroker } from '../../core/broker.js';
import type { DoorHealth, FrontDoor } from '../door.js';
import { loadDoorHostKeys, serverHostKeys, type DoorHostKey } from './host-keys.js';
import { SshConnection } from './connection.js';
import { listenOn } from '../listen.js';
import { DEFAULT_PREAUTH_LIMITS, PreauthGate, type PreauthLimits, type Startup } from '../preauth-limiter.js';
import { DOOR_ALGORITHMS } from './ssh-algorithms.js';
import { coalesceWrites } from '../coalesce-writes.js';
import { OpenSockets } from '../open-sockets.js';
import './ssh2-padding.js';

export interface SshDoorOptions {
  host: string;
  port: number;
  dataDir: string;
  broker: SessionBroker;
  log: Logger;
  connectTimeoutMs?: number;
  /** Login grace time and the limits on unauthenticated connections. */
  preauth?: PreauthLimits;
}

export class SshDoor implements FrontDoor {
  readonly name = 'ssh';
  /** The door's host keys (loaded or made at start), for known_hosts lines. */
  hostKeys: DoorHostKey[] = [];
  readonly preauth: PreauthGate;
  private listener: NetServer | null = null;
  private boundPort = 0;
  /** Every connection accepted, so a stop can end those a client keeps open. */
  private readonly sockets = new OpenSockets();

  constructor(private readonly opts: SshDoorOptions) {
    this.preauth = new PreauthGate('ssh', opts.preauth ?? DEFAULT_PREAUTH_LIMITS, opts.log);
  }

  /** The port it listens on (the configuration may ask for 0); 0 before start. */
  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    const { opts } = this;
    const gate = this.preauth;
    this.hostKeys = loadDoorHostKeys(opts.dataDir);
    const connection = { broker: opts.broker, log: opts.log, connectTimeoutMs: opts.connectTimeoutMs ?? 15_000 };
    // Sockets are accepted here, not by ssh2, so the gate sees them at TCP accept: ssh2 only
    // reports a connection once the client has sent its version line, and one that never
    // does would otherwise stay open forever. The startup is found again by the peer's
    // address and port when ssh2 reports the connection.
    const startups = new Map<string, Startup>();
    const peer = (ip: string | undefined, port: number | undefined) => `${ip ?? ''}|${port ?? 0}`;
    const server = new ssh2.Server({ hostKeys: serverHostKeys(this.hostKeys), ident: 'Gatehouse', algorithms: DOOR_ALGORITHMS }, (client, info) => {
      new SshConnection(client, normalizeIp(info.ip), connection, startups.get(peer(info.ip, info.port)));
    });
    server.on('error', (err: Error) => opts.log.error({ err: { message: err.message } }, 'ssh door error'));
    const listener = createServer((sock: Socket) => {
      const startup = gate.admit(sock, normalizeIp(sock.remoteAddress ?? ''));
      if (!startup) return;
      const key = peer(sock.remoteAddress, sock.remotePort);
      startups.set(key, startup);
      this.sockets.add(sock);
      sock.once('close', () => startups.delete(key));
      // ssh2 writes each packet on its own: one writev per turn of the loop instead (coalesce-writes.ts).
      server.injectSocket(coalesceWrites(sock));
    });
    listener.on('error', (err: Error) => opts.log.error({ err: { message: err.message } }, 'ssh door error'));
    this.boundPort = await listenOn(listener, opts.port, opts.host);
    this.listener = listener;
  }

  /**
   * Stops listening and closes unauthenticated connections; resolves once every connection has
   * closed. The stop has ended the sessions by now; a connection still open a moment later (signed
   * in, with no session) is cut (open-sockets.ts).
   */
  close(): Promise<void> {
    const listener = this.listener;
    this.listener = null;
    if (!listener) {
      this.preauth.close();
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      listener.close(() => resolve());
      this.preauth.close();
      this.sockets.closeAfter();
    });
  }

  health(): DoorHealth {
    return { listening: !!this.listener?.listening, port: this.boundPort, connections: this.sockets.size, preauth: this.preauth.stats() };
  }
}
