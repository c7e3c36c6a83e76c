// Reads the browser's RDCleanPath request off the WebSocket stream: bytes until one whole
// DER PDU (bounded in size and time), nothing after it (the client waits for the answer).
// Leaves the stream paused with no listener, ready for the relay.
import type { Duplex } from 'node:stream';
import { decodeRequest, pduLength, RdCleanPathError, type RdCleanPathRequest } from './rdcleanpath.js';

export class HandshakeError extends Error {
  constructor(
    readonly kind: 'timeout' | 'closed' | 'protocol',
    message: string,
  ) {
    super(message);
  }
}

export function readRdCleanPathRequest(stream: Duplex, timeoutMs: number): Promise<RdCleanPathRequest> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const done = (err: Error | null, req?: RdCleanPathRequest) => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', onErr);
      stream.pause();
      if (err) reject(err);
      else resolve(req!);
    };
    const timer = setTimeout(() => done(new HandshakeError('timeout', `no RDCleanPath request within ${timeoutMs} ms`)), timeoutMs);
    const onEnd = () => done(new HandshakeError('closed', 'the browser closed the connection before its RDCleanPath request'));
    const onErr = (e: Error) => done(new HandshakeError('protocol', e.message));
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        const len = pduLength(buf);
        if (len === null || buf.length < len) return;
        if (buf.length > len) throw new RdCleanPathError('malformed', 'data after the RDCleanPath request');
        done(null, decodeRequest(buf));
      } catch (e) {
        done(e instanceof RdCleanPathError ? new HandshakeError('protocol', e.message) : (e as Error));
      }
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('close', onEnd);
    stream.on('error', onErr);
  });
}
