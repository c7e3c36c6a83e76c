// Errors Node's HTTP parser raises before Fastify sees a request (headers too large, a
// malformed request, a request that never finished arriving) answered like every other API
// error: a proper HTTP/1.1 response whose body is {error: {code, message}}, then close.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** How long a refused connection may keep sending (its bytes are read and dropped) before it is cut. */
const LINGER_MS = 5000;

export function clientErrorAnswer(err: NodeJS.ErrnoException): { status: number; code: string; message: string } {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'header_too_large', message: 'the request line and headers are too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return { status: 408, code: 'request_timeout', message: 'the request did not arrive in time' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, code: 'payload_too_large', message: 'chunk extensions are too large' };
    default:
      return { status: 400, code: 'bad_request', message: 'the request is not valid HTTP/1.1' };
  }
}

export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset connection has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const { status, code, message } = clientErrorAnswer(err);
  const body = JSON.stringify({ error: { code, message } });
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${body}`);
  // Keep reading (and dropping) what the client still sends, so the answer is not lost to a
  // reset; a client that never stops is cut after a while.
  socket.on('error', () => undefined);
  socket.resume();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}
