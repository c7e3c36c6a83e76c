// One output queue for both streams of a server session channel (stdout and stderr).
//
// Why this exists: in ssh2 (1.17) the two Writables of a ServerChannel share one SSH
// window but keep separate "blocked" slots (_chunk/_chunkcb for stdout, _chunkErr/
// _chunkcbErr for stderr), and its CHANNEL_WINDOW_ADJUST handler resumes only the first
// slot it finds set (if/else). The stdout slot is also never cleared after it is resumed.
// So once stdout has been window-blocked, a later stderr block is never resumed (or the
// stale stdout chunk is sent a second time and its stale callback completes the wrong
// write): stderr never finishes, and a relay that waits for it hangs with the exit status
// undelivered. Writes after the channel closed never call back at all.
//
// The fix replaces _write on both Writables of the channel with one FIFO queue that sends
// what the window allows, in the order it was written, and asks ssh2 to call it back on
// the next window adjust through the one hook that handler always honours (_chunkcb with
// no _chunk). Backpressure stays the Writables' own: write() returns false past the high
// water mark and 'drain' follows once the queue took the data; the write callback fires
// only once the bytes were handed to the transport. Once the channel can carry no more
// data (EOF sent, closing or closed), queued and later writes complete without being sent,
// so nothing waits forever on a channel that is gone.
import type { ServerChannel } from 'ssh2';

const STDERR = 1; // SSH_EXTENDED_DATA_STDERR

/** The parts of ssh2's Channel internals this module relies on (checked at install). */
interface Ssh2ChannelInternals {
  incoming: { state: string };
  outgoing: { id: number; window: number; packetSize: number; state: string };
  _client: { _protocol: { channelData(id: number, data: Buffer): void; channelExtData(id: number, data: Buffer, type: number): void } };
  _waitWindow: boolean;
  _chunk: Buffer | undefined;
  _chunkcb: (() => void) | undefined;
  _chunkErr: Buffer | undefined;
  _chunkcbErr: (() => void) | undefined;
  _write: WriteFn;
  stderr: { _write: WriteFn };
}

type WriteFn = (data: Buffer, encoding: BufferEncoding | null, cb: (err?: Error | null) => void) => void;

interface Pending {
  data: Buffer;
  sent: number;
  stderr: boolean;
  cb: (err?: Error | null) => void;
}

const installed = new WeakSet<object>();

export class Ssh2InternalsChanged extends Error {}

/**
 * Routes all output of a server session channel (stdout and stderr) through one queue
 * that honours the shared window. Idempotent; throws Ssh2InternalsChanged if ssh2 no
 * longer has the internals this relies on (an ssh2 upgrade must then revisit this file).
 */
export function shareChannelWindow(channel: ServerChannel): void {
  if (installed.has(channel)) return;
  const ch = channel as unknown as Ssh2ChannelInternals;
  const proto = ch._client?._protocol;
  if (!ch.incoming || typeof ch.incoming.state !== 'string' || !ch.outgoing || typeof ch.outgoing.window !== 'number' || typeof ch.outgoing.packetSize !== 'number' || !proto || typeof proto.channelData !== 'function' || typeof proto.channelExtData !== 'function' || typeof ch.stderr?._write !== 'function' || !('_chunkcb' in ch)) {
    throw new Ssh2InternalsChanged('ssh2 channel internals changed: src/protocols/ssh/channel-output.ts needs a review');
  }
  installed.add(channel);
  const queue: Pending[] = [];
  let pumping = false;
  let gone = false;

  const pump = (): void => {
    if (pumping) return;
    pumping = true;
    try {
      // Clear ssh2's own slots: only this queue is ever resumed.
      ch._waitWindow = false;
      ch._chunk = undefined;
      ch._chunkcb = undefined;
      ch._chunkErr = undefined;
      ch._chunkcbErr = undefined;
      const out = ch.outgoing;
      while (queue.length) {
        const p = queue[0]!;
        if (gone || out.state !== 'open') {
          // EOF sent or the channel is closing/closed: these bytes can no longer be sent.
          queue.shift();
          p.cb();
          continue;
        }
        while (p.sent < p.data.length && out.window > 0) {
          const n = Math.min(p.data.length - p.sent, out.window, out.packetSize);
          const slice = p.sent === 0 && n === p.data.length ? p.data : p.data.subarray(p.sent, p.sent + n);
          if (p.stderr) proto.channelExtData(out.id, slice, STDERR);
          else proto.channelData(out.id, slice);
          p.sent += n;
          out.window -= n;
        }
        if (p.sent < p.data.length) {
          // Window exhausted: ssh2 calls _chunkcb on the next CHANNEL_WINDOW_ADJUST.
          ch._chunkcb = pump;
          ch._waitWindow = true;
          return;
        }
        queue.shift();
        // May re-enter _write synchronously (the Writable hands over its next buffered chunk):
        // that only appends to the queue, which this loop then continues with.
        p.cb();
      }
    } finally {
      pumping = false;
    }
  };

  const writer =
    (stderr: boolean): WriteFn =>
    (data, _encoding, cb) => {
      queue.push({ data, sent: 0, stderr, cb });
      pump();
    };
  ch._write = writer(false);
  ch.stderr._write = writer(true);
  // A channel closed by the peer or by the connection's end gets no more window adjusts:
  // whatever still waits must complete then, or no writer would ever finish. ssh2 marks
  // every such close (CHANNEL_CLOSE from the peer, or the connection lost, where it leaves
  // outgoing.state at 'open') by setting incoming.state to 'closed'; its 'close' event is
  // no signal, as it waits for the readable side to be consumed. So that assignment is
  // watched.
  let incomingState = ch.incoming.state;
  Object.defineProperty(ch.incoming, 'state', {
    configurable: true,
    enumerable: true,
    get: () => incomingState,
    set: (v: string) => {
      incomingState = v;
      if (v === 'closed' && !gone) {
        gone = true;
        setImmediate(pump);
      }
    },
  });
}
