// A Server-Sent Events stream opened by a test (the live view of a session), read as text:
// the cluster and workers tests watch a session through one node or worker while it runs on
// another, and need the stream's status, its text so far and its end.
import { request } from 'node:https';

export interface SseStream {
  status: number;
  text: () => string;
  ended: Promise<void>;
  close: () => void;
}

/** Opens `path` on `url` with a bearer token (self-signed TLS accepted); resolves once the answer's head is in. */
export function sse(url: string, path: string, token: string): Promise<SseStream> {
  return new Promise((res, rej) => {
    let text = '';
    const req = request(new URL(path, url), { agent: false, rejectUnauthorized: false, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (r) => {
      const ended = new Promise<void>((done) => {
        r.on('end', done);
        r.on('close', done);
      });
      r.on('data', (c: Buffer) => (text += c.toString()));
      // A stream cut by the node (killed, terminated session) ends the stream; it is not the test's error.
      r.on('error', () => undefined);
      res({ status: r.statusCode ?? 0, text: () => text, ended, close: () => req.destroy() });
    });
    req.on('error', rej);
    req.end();
  });
}
