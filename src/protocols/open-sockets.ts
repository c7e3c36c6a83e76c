// The connections a listener accepted, so that a stop can end those a client keeps open.
//
// Why: closing a listener (net.Server.close, Fastify's close) waits for every connection it
// accepted to close. By the time the stop closes a door the sessions are ended, but a client
// may still hold a connection that has no session to end: an SSH connection signed in as
// `user:secret` that never opened a channel (a ControlMaster, `ssh -N`), a download the client
// stopped reading, a request body trickled in. Each held the stop for ever (or until the
// client left), and with it system.stop, the last checkpoint, the audit sinks' drain and the
// database's close. What is still open a short while after the close began is destroyed.
import type { Socket } from 'node:net';

/** How long connections left at a door's close get to finish on their own (their last writes, an answer under way). */
export const CLOSE_GRACE_MS = 3_000;

export class OpenSockets {
  private readonly sockets = new Set<Socket>();

  add(sock: Socket): void {
    this.sockets.add(sock);
    sock.once('close', () => this.sockets.delete(sock));
  }

  get size(): number {
    return this.sockets.size;
  }

  /** Destroys the connections still open after `graceMs` (the caller has stopped taking new ones). */
  closeAfter(graceMs = CLOSE_GRACE_MS): void {
    if (this.sockets.size === 0) return;
    setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, graceMs).unref();
  }
}
