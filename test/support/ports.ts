// A free loopback port for a server a test starts later (sshd, slapd, `gatehouse serve`'s doors).
//
// Not from port 0: the kernel hands out listening port 0 and outgoing connections from the same
// ephemeral range, so a port found free that way and closed again could be taken by any other
// test's connection or server before ours binds it (seen: `gatehouse serve` failing with
// EADDRINUSE on its RDP door in a full run). The port is drawn at random below the ephemeral
// range, where the kernel never assigns one by itself, and checked by binding it; only another
// explicit bind of the same number could race it, which a random draw over ~16,000 ports makes
// rare.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const LOW = 16_384;

/** The first port of the kernel's ephemeral range (Linux), or the IANA default. */
function ephemeralStart(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > LOW + 1024 ? first : 49_152;
  } catch {
    return 49_152;
  }
}

const tryBind = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

export async function freePort(): Promise<number> {
  const high = ephemeralStart() - 1;
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (high - LOW + 1));
    if (await tryBind(port)) return port;
  }
  throw new Error(`no free port found between ${LOW} and ${high}`);
}
