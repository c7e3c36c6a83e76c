// What a writer waits for after a write() that returned false (the stream is past its
// high-water mark): its 'drain', or its end ('close': nothing more will be taken, nothing to
// wait for). Used where the one waiting is not the stream's own reader: joiners of a shared
// session, whose input goes to a target another connection owns.
import type { EventEmitter } from 'node:events';

/** Resolves once `t` takes writes again ('drain') or is gone ('close'): what a joiner waits for after a write() that returned false. */
export function drained(t: Pick<EventEmitter, 'once' | 'off'>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      t.off('drain', done);
      t.off('close', done);
      resolve();
    };
    t.once('drain', done);
    t.once('close', done);
  });
}
