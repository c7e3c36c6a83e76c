// Enforces the window a server channel advertises to the client (RFC 4254 5.2), which ssh2
// (1.17) does not: its CHANNEL_DATA handler drops data only while the window is exactly 0 and
// otherwise subtracts the packet's length and takes it, so one packet larger than what is left
// drives the window negative, and from then on every packet is taken (the check is `=== 0`),
// each window adjust topping it up again. A client that ignores the window can so make the
// gateway buffer whatever it sends, however its channel is paused for backpressure (the relay,
// the Telnet bridge): the window is the only bound on a client's input.
//
// The fix watches the assignment ssh2 makes (`incoming.window -= data.length`), as
// channel-output.ts watches incoming.state. OpenSSH's sshd logs "rcvd too much data" and
// disconnects a peer only once its excess passes a tenth of the largest window (a client that
// overshoots a little still works there, so it must here); likewise: the first time the window
// goes below minus that grace, the packet that did it, and everything after it on this
// channel, is dropped before it reaches the stream (so none of it is relayed), and `onOverrun`
// ends the connection. What the grace lets in is bounded by it.
// A packet that arrives while the window is exactly 0 is dropped by ssh2 itself before the
// assignment, so it is not seen here: lost, as the peer's fault, but never buffered.
import type { ServerChannel } from 'ssh2';
import { Ssh2InternalsChanged } from './channel-output.js';

/** The parts of ssh2's Channel internals this module relies on (checked at install). */
interface Ssh2ChannelInput {
  incoming: { window: number };
  push(chunk: unknown, encoding?: BufferEncoding): boolean;
}

export interface WindowOverrun {
  /** The window left before the packet that went past it. */
  window: number;
  /** That packet's length. */
  received: number;
}

const installed = new WeakSet<object>();

/**
 * Drops a client's data beyond the channel's window and calls `onOverrun` once (the caller
 * ends the connection and logs why). Idempotent; throws Ssh2InternalsChanged if ssh2 no longer
 * has the internals this relies on.
 */
export function enforceChannelWindow(channel: ServerChannel, onOverrun: (o: WindowOverrun) => void): void {
  if (installed.has(channel)) return;
  const ch = channel as unknown as Ssh2ChannelInput;
  const desc = ch.incoming ? Object.getOwnPropertyDescriptor(ch.incoming, 'window') : undefined;
  if (!desc || !('value' in desc) || typeof desc.value !== 'number' || typeof ch.push !== 'function') {
    throw new Ssh2InternalsChanged('ssh2 channel internals changed: src/protocols/ssh/channel-input.ts needs a review');
  }
  installed.add(channel);
  let window = desc.value as number;
  // The window at install is the channel's largest (ssh2 opens it at its maximum).
  const grace = Math.floor(window / 10);
  let overrun = false;
  Object.defineProperty(ch.incoming, 'window', {
    configurable: true,
    enumerable: true,
    get: () => window,
    set: (v: number) => {
      if (v < -grace && !overrun) {
        overrun = true;
        const o: WindowOverrun = { window, received: window - v };
        // Reported after ssh2's handler returned: the caller may tear the connection down.
        setImmediate(() => onOverrun(o));
      }
      window = v;
    },
  });
  // ssh2 pushes the packet right after lowering the window: once past the grace, nothing more is
  // taken on this channel (push's false also stops ssh2 from granting more window).
  const push = ch.push;
  ch.push = function (this: unknown, chunk: unknown, encoding?: BufferEncoding): boolean {
    if (overrun && chunk !== null) return false;
    return push.call(this, chunk, encoding);
  };
}
