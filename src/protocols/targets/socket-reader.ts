// Pull-style reading of whole messages from a socket during the handshakes (X.224,
// CredSSP), before the relay takes the socket over with its own 'data' handler. A
// message's length comes from a caller-given function over the bytes buffered so far.
import type { Duplex } from 'node:stream';

/** Returns the whole message's length once enough of it is buffered, else undefined; throws on garbage. */
export type MessageLength = (buffered: Buffer) => number | undefined;

export class ReadError extends Error {
  constructor(
    readonly kind: 'timeout' | 'closed' | 'too_large',
    message: string,
  ) {
    super(message);
  }
}

export class SocketReader {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private ended: Error | null = null;
  private readonly onData = (d: Buffer) => {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    if (this.buf.length > this.maxBuffered) {
      this.ended = new ReadError('too_large', `more than ${this.maxBuffered} bytes buffered`);
      this.socket.pause();
    }
    this.wake();
  };
  private readonly onEnd = () => {
    this.ended ??= new ReadError('closed', 'the peer closed the connection');
    this.wake();
  };
  private readonly onError = (e: Error) => {
    this.ended ??= new ReadError('closed', e.message);
    this.wake();
  };

  constructor(
    private readonly socket: Duplex,
    private readonly maxBuffered = 1 << 20,
  ) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** The next whole message; rejects with ReadError on timeout or close, or with the length function's error. */
  async read(length: MessageLength, timeoutMs: number, what: string): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buf.length) {
        const n = length(this.buf);
        if (n !== undefined && this.buf.length >= n) {
          const msg = this.buf.subarray(0, n);
          this.buf = this.buf.subarray(n);
          return msg;
        }
      }
      if (this.ended) throw this.ended;
      const left = deadline - Date.now();
      if (left <= 0) throw new ReadError('timeout', `no ${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** Stops reading; returns what was buffered and not yet read. */
  detach(): Buffer {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    this.socket.pause();
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    return rest;
  }
}

/** TPKT length (RFC 1006) once the header is in. */
export const tpktLength: MessageLength = (b) => {
  if (b.length < 4) return undefined;
  if (b.readUInt8(0) !== 3) throw new Error(`not a TPKT (first byte 0x${b.readUInt8(0).toString(16)})`);
  const n = b.readUInt16BE(2);
  if (n < 7) throw new Error(`TPKT length ${n}`);
  return n;
};
