// A TCP tap for leak tests: a loopback proxy in front of a door that forwards every
// connection and keeps every byte in both directions, per connection, so a test can scan
// exactly what went toward the client (and what came from it).
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Blob } from './scan.js';

export interface TapConnection {
  /** Bytes the door sent toward the client, in order. */
  toClient: Buffer[];
  /** Bytes the client sent toward the door, in order. */
  toDoor: Buffer[];
  closed: boolean;
}

export interface Tap {
  port: number;
  connections: TapConnection[];
  /** Every byte sent toward clients, one blob per connection (named `<label> #n`). */
  toClient(label?: string): Blob[];
  /** Both directions of every connection, one blob per connection and direction. */
  all(label?: string): Blob[];
  /** How many bytes went toward clients in all. */
  bytesToClient(): number;
  /** Resolves once every connection seen so far has closed on both sides (all bytes recorded). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export async function startTap(targetPort: number, targetHost = '127.0.0.1'): Promise<Tap> {
  const connections: TapConnection[] = [];
  const sockets = new Set<Socket>();
  const waiters = new Set<() => void>();
  const check = () => {
    if (connections.every((c) => c.closed)) for (const w of [...waiters]) w();
  };
  const server: Server = createServer((client) => {
    const c: TapConnection = { toClient: [], toDoor: [], closed: false };
    connections.push(c);
    const door = connect(targetPort, targetHost);
    sockets.add(client).add(door);
    // Recorded as they pass, before forwarding: what is kept is what was sent.
    client.on('data', (d: Buffer) => c.toDoor.push(Buffer.from(d)));
    door.on('data', (d: Buffer) => c.toClient.push(Buffer.from(d)));
    client.pipe(door);
    door.pipe(client);
    let open = 2;
    const gone = (s: Socket) => () => {
      sockets.delete(s);
      if (--open === 0) {
        c.closed = true;
        check();
      }
    };
    const end = () => {
      client.destroy();
      door.destroy();
    };
    client.on('error', end).on('close', end).once('close', gone(client));
    door.on('error', end).on('close', end).once('close', gone(door));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const blobs = (label: string, dirs: ('toClient' | 'toDoor')[]) =>
    connections.flatMap((c, i) => dirs.map((d) => ({ name: `${label} #${i + 1}${dirs.length > 1 ? ` ${d}` : ''}`, data: Buffer.concat(c[d]) })));
  return {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    connections,
    toClient: (label = 'tcp toward the client') => blobs(label, ['toClient']),
    all: (label = 'tcp') => blobs(label, ['toClient', 'toDoor']),
    bytesToClient: () => connections.reduce((n, c) => n + c.toClient.reduce((m, b) => m + b.length, 0), 0),
    settled: () =>
      new Promise<void>((resolve) => {
        const w = () => {
          waiters.delete(w);
          resolve();
        };
        waiters.add(w);
        check();
      }),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
