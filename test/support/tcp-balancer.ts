// A small TCP load balancer for the cluster tests (the part HAProxy plays in front of real
// nodes): one loopback port in front of several backends, round robin, a backend that refuses
// the connection (a dead node) skipped for the next one. A test can say which backend the next
// connection goes to (to launch on one node and redeem on another), and sees which one each
// connection reached. Bytes are piped untouched (TLS and SSH end on the nodes). Also a single
// backend's proxy that a test cuts (a node losing its database link).
import { connect, createServer, type Server, type Socket } from 'node:net';

export class TcpBalancer {
  private server: Server;
  private turn = 0;
  private forced: number | null = null;
  private cutOff = false;
  private readonly sockets = new Set<Socket>();
  /** The backend index each accepted connection was sent to, in order (-1: none answered). */
  readonly served: number[] = [];
  port = 0;

  constructor(readonly backends: number[]) {
    this.server = createServer((client) => this.accept(client));
  }

  async start(): Promise<number> {
    await new Promise<void>((res) => this.server.listen(0, '127.0.0.1', () => res()));
    const a = this.server.address();
    this.port = typeof a === 'object' && a ? a.port : 0;
    return this.port;
  }

  /** The next connection goes to backend `i` (if it answers; else on round robin). */
  next(i: number): void {
    this.forced = i;
  }

  /** A lost network: every connection through is cut, and new ones are closed at once until heal(). */
  cut(): void {
    this.cutOff = true;
    for (const s of this.sockets) s.destroy();
  }

  heal(): void {
    this.cutOff = false;
  }

  private accept(client: Socket): void {
    if (this.cutOff) return void client.destroy();
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => undefined);
    client.pause();
    const first = this.forced ?? this.turn++ % this.backends.length;
    this.forced = null;
    const attempt = (k: number) => {
      if (k === this.backends.length) {
        this.served.push(-1);
        return client.destroy();
      }
      const i = (first + k) % this.backends.length;
      const up = connect(this.backends[i]!, '127.0.0.1');
      let connected = false;
      up.once('error', () => {
        up.destroy();
        if (!connected) attempt(k + 1);
      });
      up.once('connect', () => {
        connected = true;
        up.on('error', () => client.destroy());
        client.on('error', () => up.destroy());
        this.served.push(i);
        this.sockets.add(up);
        up.on('close', () => {
          this.sockets.delete(up);
          client.destroy();
        });
        client.on('close', () => up.destroy());
        client.pipe(up);
        up.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((res) => this.server.close(() => res()));
  }
}
