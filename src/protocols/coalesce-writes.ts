// Coalesced socket writes: everything written to a socket during one turn of the event
// loop leaves in one writev(2) instead of one write(2) per call.
//
// Why: ssh2 writes every SSH packet to its socket on its own (`socket.write(packet)`, at
// most 32 KiB each, one per CHANNEL_DATA). Bulk output through the SSH door is read from
// the target in up to 64 KiB reads, several per turn of the loop, and each read turns into
// one or two packets toward the person. One write(2) per packet was the gateway's largest
// single cost (39% of its CPU in docs/performance.md): on loopback the sender pays for
// delivering each write, and each write may wake the reader. Corking the socket on the
// first write of a turn and uncorking it once the turn's I/O callbacks have run
// (setImmediate: the check phase right after the poll phase) hands Node's stream all of
// them at once, which it writes with one writev. Order is kept (it is one stream's
// buffer), nothing waits longer than the current turn, and the loop never blocks in poll
// while a flush is pending (an immediate keeps poll from waiting).
//
// end() uncorks by itself (Node's Writable.end flushes a corked stream first). destroy()
// would drop what is still corked, where an uncorked write would already have been handed
// to the kernel, so it flushes first: a DISCONNECT written just before destroy() still goes.
import type { Socket } from 'node:net';

const installed = new WeakSet<Socket>();

/** Installs write coalescing on a socket (idempotent); returns it. */
export function coalesceWrites(sock: Socket): Socket {
  if (installed.has(sock)) return sock;
  installed.add(sock);
  let holding = false;
  const release = () => {
    if (!holding) return;
    holding = false;
    // end() may have uncorked already; uncork() on an uncorked stream does nothing, but
    // someone else's cork must not be undone.
    if (sock.writableCorked > 0) sock.uncork();
  };
  const write = sock.write;
  sock.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    if (!holding && !sock.destroyed && !sock.writableEnded) {
      holding = true;
      sock.cork();
      setImmediate(release);
    }
    return write.apply(this, args);
  } as Socket['write'];
  const destroy = sock.destroy;
  sock.destroy = function (this: Socket, ...args: Parameters<Socket['destroy']>) {
    release();
    return destroy.apply(this, args);
  } as Socket['destroy'];
  return sock;
}
