// A real Telnet target for tests: inetutils telnetd on loopback. telnetd expects inetd
// to hand it the connected socket as stdin/stdout, so a small TCP server here plays
// inetd: each accepted socket's descriptor is passed to a fresh `telnetd -h` (no host
// banner before login), which runs /bin/login on a pty. Needs root, like inetd.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import net from 'node:net';

export const TELNETD = '/usr/sbin/telnetd';

export interface TelnetdHandle {
  port: number;
  stop(): Promise<void>;
}

/** execLogin: a program telnetd runs instead of /bin/login (`telnetd -E`), for targets whose login behaves differently. */
export async function startTelnetd(opts: { execLogin?: string } = {}): Promise<TelnetdHandle> {
  try {
    accessSync(TELNETD, constants.X_OK);
  } catch {
    throw new Error(`${TELNETD} is missing: run scripts/install-test-deps.sh (package inetutils-telnetd)`);
  }
  const children = new Set<ChildProcess>();
  // pauseOnConnect: Node must not read from the socket the child is about to own.
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    let child: ChildProcess;
    try {
      child = spawn(TELNETD, ['-h', ...(opts.execLogin ? ['-E', opts.execLogin] : [])], { stdio: [socket, socket, 'ignore'] });
    } catch {
      socket.destroy();
      return;
    }
    children.add(child);
    child.on('exit', () => children.delete(child));
    child.on('error', () => children.delete(child));
    // The child holds its own copy of the descriptor (spawn dups it synchronously).
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // telnetd closing the pty master hangs up login and the shell under it.
      await Promise.all(
        [...children].map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              const kill = setTimeout(() => c.kill('SIGKILL'), 2000);
              c.once('exit', () => {
                clearTimeout(kill);
                resolve();
              });
              c.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}
