// The contract every front door keeps — the SSH door, the RDP door, the browser terminal,
// and any door added later (browser RDP): a name, start (begin accepting), close (stop
// accepting and let go of what it still holds) and a health report. The server registers
// its doors in one place (src/server.ts, as a DoorSet) and starts, stops and asks them
// all the same way. A door reaches the core only through core/broker.ts, and reaches
// targets through the connectors in protocols/targets/.
import type { PreauthStats } from './preauth-limiter.js';

export interface DoorHealth {
  /** Accepting connections now (started, not closed, its listener bound). */
  listening: boolean;
  /** The TCP port it listens on; absent for a door that rides on another server (the browser terminal on HTTPS). */
  port?: number;
  /** Connections it holds now, at any stage (unauthenticated ones included). */
  connections: number;
  /** Counters of its unauthenticated-connection gate, for a door that accepts its own sockets. */
  preauth?: PreauthStats;
}

export interface FrontDoor {
  /** Stable, short: 'ssh', 'rdp', 'web-terminal'. */
  readonly name: string;
  /** Begins accepting (binds its listener). Rejects when it cannot; nothing is left open then. */
  start(): Promise<void>;
  /** Stops accepting and lets go of its connections. Safe before start and more than once. */
  close(): Promise<void>;
  health(): DoorHealth;
}
