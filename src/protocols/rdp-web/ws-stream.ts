// A WebSocket as a byte stream (a Duplex), so the RDP relay can pump a browser's leg the
// way it pumps a TLS socket: each binary message's bytes are read in order, each write is
// one binary message. A text message is no RDP: the stream fails (the relay or the
// handshake reader drops the connection). Backpressure both ways: a full read buffer
// pauses the WebSocket, a write completes when ws has handed it to the socket.
import { Duplex } from 'node:stream';

/** The part of a `ws` WebSocket this needs (kept structural: the route owns the socket). */
export interface WsLike {
  readonly readyState: number;
  readonly OPEN: number;
  send(data: Buffer, opts: { binary: boolean }, cb: (err?: Error) => void): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  on(event: 'message', cb: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): unknown;
  on(event: 'close', cb: () => void): unknown;
  on(event: 'error', cb: (err: Error) => void): unknown;
}

const asBuffer = (d: Buffer | ArrayBuffer | Buffer[]): Buffer => (Buffer.isBuffer(d) ? d : Array.isArray(d) ? Buffer.concat(d) : Buffer.from(d));

export function webSocketStream(ws: WsLike): Duplex {
  let paused = false;
  let closed = false;
  const stream = new Duplex({
    allowHalfOpen: false,
    read() {
      if (paused) {
        paused = false;
        ws.resume();
      }
    },
    write(chunk: Buffer, _enc, cb) {
      if (ws.readyState !== ws.OPEN) return cb(new Error('the WebSocket is closed'));
      ws.send(chunk, { binary: true }, (err) => cb(err ?? null));
    },
    final(cb) {
      if (ws.readyState === ws.OPEN) ws.close(1000, 'session ended');
      cb();
    },
    destroy(err, cb) {
      if (!closed) ws.terminate();
      cb(err);
    },
  });
  ws.on('message', (data, isBinary) => {
    if (stream.destroyed) return;
    if (!isBinary) return void stream.destroy(new Error('a text WebSocket message where RDP bytes belong'));
    if (!stream.push(asBuffer(data)) && !paused) {
      paused = true;
      ws.pause();
    }
  });
  ws.on('close', () => {
    closed = true;
    if (!stream.destroyed) stream.push(null);
  });
  ws.on('error', (e) => stream.destroy(e));
  return stream;
}
