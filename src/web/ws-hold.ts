// Holding a browser's WebSocket while what it sends cannot be taken (its target, or the
// recording, is behind): ws's pause() stops reading the TCP socket itself, so while held the
// browser's close frame, FIN or reset are not read either, and a person who closes the tab
// during a long stall would leave their session, its target connection and any JIT account
// alive with nobody there. So the socket is read for a moment every PEEK_MS while held: a
// browser that went away (a reset, or a close with little still in flight) is noticed then.
// What it sent meanwhile still goes on as usual (to the target, which queues it); past
// PEEK_BYTES taken during one hold the peeking stops (someone who keeps pasting is there)
// until the hold ends, so memory stays bounded either way. The limit of this: a close frame
// or FIN queued behind megabytes of a paste still in flight is not reached by peeking; such a
// session ends when the target reads again or closes, at the launcher's idle timeout, or when
// it is terminated.
import type { WebSocket } from 'ws';

const PEEK_MS = 5_000;
const PEEK_BYTES = 1024 * 1024;

export interface HeldSocket {
  /** Stop reading the socket (idempotent). */
  pause(): void;
  /** Read it again. */
  resume(): void;
  /** Input taken from the socket (counted against the peeking bound while held). */
  took(bytes: number): void;
}

export function holdable(socket: WebSocket): HeldSocket {
  let held = false;
  let taken = 0;
  let timer: NodeJS.Timeout | null = null;
  const stopPeeking = () => {
    if (timer) clearInterval(timer);
    timer = null;
  };
  const peek = () => {
    if (!held || taken > PEEK_BYTES || socket.readyState !== socket.OPEN) return stopPeeking();
    socket.resume();
    // One turn of the event loop: the poll phase reads what waits (a close frame, a FIN) and
    // ws handles it; then reading stops again, unless the socket is closing (its end is read
    // to the last byte so that 'close' comes without ws's 30 s close timeout).
    setImmediate(() => held && socket.readyState === socket.OPEN && socket.pause());
  };
  socket.once('close', stopPeeking);
  return {
    pause() {
      if (held) return;
      held = true;
      taken = 0;
      socket.pause();
      timer = setInterval(peek, PEEK_MS);
      timer.unref();
    },
    resume() {
      if (!held) return;
      held = false;
      stopPeeking();
      socket.resume();
    },
    took(bytes) {
      if (held) taken += bytes;
    },
  };
}
