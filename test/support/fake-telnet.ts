// A scripted stand-in for a Telnet target on loopback, for what a real telnetd will not
// do (echo the password, never prompt, refuse BINARY). It records every byte the client
// sends and answers the client's BINARY offers as told; other options it ignores.
import net from 'node:net';
import { DO, DONT, Option, WILL, WONT } from '../../src/protocols/telnet/codes.js';
import { negotiation } from '../../src/protocols/telnet/encode.js';
import { TelnetParser } from '../../src/protocols/telnet/parser.js';

export interface FakeTelnetTarget {
  port: number;
  /** Every byte the client sent, over all connections. */
  received(): Buffer;
  close(): Promise<void>;
}

/**
 * binary: 'agree' (default) answers WILL/DO BINARY with DO/WILL, 'refuse' with DONT/WONT,
 * 'ignore' does not answer (an old or careless target).
 * The script gets the socket and the lines the client typed (text decoded as UTF-8; a
 * line ends at CR LF, CR or LF).
 */
export async function fakeTelnetTarget(
  script: (sock: net.Socket, lines: AsyncGenerator<string>) => Promise<void>,
  opts: { binary?: 'agree' | 'refuse' | 'ignore' } = {},
): Promise<FakeTelnetTarget> {
  const binary = opts.binary ?? 'agree';
  const received: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    const parser = new TelnetParser();
    let text = '';
    let wake: (() => void) | undefined;
    sock.on('data', (chunk: Buffer) => {
      received.push(chunk);
      for (const e of parser.push(chunk)) {
        if (e.type === 'data') text += e.data.toString('utf8');
        else if (e.type === 'negotiate' && e.option === Option.BINARY && binary !== 'ignore') {
          // Each side is offered once by the client (RFC 1143), so one answer each settles it.
          if (e.verb === WILL) sock.write(negotiation(binary === 'agree' ? DO : DONT, Option.BINARY));
          else if (e.verb === DO) sock.write(negotiation(binary === 'agree' ? WILL : WONT, Option.BINARY));
          // The client now sends in BINARY: a NUL after CR would be data.
          if (binary === 'agree' && e.verb === WILL) parser.stripCrNul = false;
        }
      }
      wake?.();
    });
    async function* lines(): AsyncGenerator<string> {
      for (;;) {
        const i = text.search(/\r\n|\r|\n/);
        if (i >= 0) {
          const line = text.slice(0, i);
          text = text.slice(i + (text.startsWith('\r\n', i) ? 2 : 1));
          yield line;
        } else await new Promise<void>((r) => (wake = r));
      }
    }
    script(sock, lines()).catch(() => sock.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    received: () => Buffer.concat(received),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
