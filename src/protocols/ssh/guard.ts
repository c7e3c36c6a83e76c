// The last line of defence of one SSH connection: a bug or an unexpected state in the
// handling of one person's connection must end that connection, never the process
// (and with it every other live session). Two things can take a Node process down from
// event-driven code: an 'error' event nobody listens to, and an exception thrown by a
// listener (or a rejected promise nobody awaits). The guard covers both for the
// emitters it is given — the connection, its sessions, channels and the target's
// connection — by listening for 'error' and by running every listener of those emitters
// inside a try/catch. A fault is reported once; the owner then tears the connection down.
// This is deliberately per connection: there is no process-wide uncaughtException handler.
import type { EventEmitter } from 'node:events';

export class ConnectionGuard {
  private faulted = false;
  private readonly guarded = new WeakSet<EventEmitter>();

  constructor(
    /** Called once, with the first fault: log it and end the connection. */
    private readonly onFault: (err: unknown, where: string) => void,
    /** 'error' events, which are expected (peers vanish): logged, nothing else. */
    private readonly onError: (err: Error, where: string) => void,
  ) {}

  get hasFaulted(): boolean {
    return this.faulted;
  }

  /** Listens for 'error' on the emitter and confines its listeners' exceptions to this connection. */
  watch<T extends EventEmitter>(emitter: T, where: string): T {
    if (this.guarded.has(emitter)) return emitter;
    this.guarded.add(emitter);
    emitter.on('error', (err: Error) => this.onError(err, where));
    const emit = emitter.emit;
    const fault = (err: unknown) => this.fault(err, where);
    emitter.emit = function guardedEmit(this: EventEmitter, event: string | symbol, ...args: unknown[]): boolean {
      try {
        return emit.call(this, event, ...args);
      } catch (err) {
        fault(err);
        return true;
      }
    } as T['emit'];
    return emitter;
  }

  /** For promises started from event handlers (`void f()` would turn a bug into an unhandled rejection). */
  catch(where: string): (err: unknown) => void {
    return (err) => this.fault(err, where);
  }

  fault(err: unknown, where: string): void {
    if (this.faulted) return;
    this.faulted = true;
    try {
      this.onFault(err, where);
    } catch {
      /* the teardown itself failed: nothing more to do for this connection */
    }
  }
}

/**
 * Closes an ssh2 server connection's socket at once. Connection.end() sends DISCONNECT
 * and ends the socket gracefully, which waits behind whatever the peer has not read: a
 * client that stopped reading would keep it open for ever. ssh2 offers no public destroy,
 * hence its socket field (checked, so an ssh2 change degrades to the graceful end only).
 */
export function destroyConnection(client: EventEmitter): void {
  const sock = (client as unknown as { _sock?: { destroyed?: boolean; destroy?: () => void } })._sock;
  if (sock && typeof sock.destroy === 'function' && !sock.destroyed) sock.destroy();
}
