// An https stand-in for the IAM's address in OpenPSM tests: it forwards every request to an
// in-process Gatehouse (the IAM node) and can answer the first N endsession calls with 401,
// to prove the gateway's re-authenticate-and-retry. It presents the IAM node's own TLS
// certificate, which the gateway trusts through its openpsmTrustedCa setting.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';

export interface IamProxy {
  url: string;
  /** Every call seen: path and status answered. */
  calls: { path: string; status: number }[];
  /** How many endsession calls still get a 401. */
  unauthorizedEndsessions: number;
  /** Answer everything 503 while true (the IAM is down). */
  down: boolean;
  close(): Promise<void>;
}

export async function startIamProxy(target: FastifyInstance, tls: { key: string | Buffer; cert: string | Buffer }): Promise<IamProxy> {
  const proxy: IamProxy = { url: '', calls: [], unauthorizedEndsessions: 0, down: false, close: async () => {} };
  const server: Server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const path = (req.url ?? '/').split('?')[0]!;
      if (proxy.down) {
        proxy.calls.push({ path, status: 503 });
        return res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"code":"down","message":"down"}}');
      }
      if (path.endsWith('/endsession') && proxy.unauthorizedEndsessions > 0) {
        proxy.unauthorizedEndsessions--;
        proxy.calls.push({ path, status: 401 });
        return res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"code":"unauthorized","message":"re-authenticate"}}');
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
      const r = await target.inject({ method: req.method as 'POST', url: req.url ?? '/', headers, payload: Buffer.concat(chunks), remoteAddress: '127.0.0.1' });
      proxy.calls.push({ path, status: r.statusCode });
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(r.headers)) if (typeof v === 'string' && k !== 'content-length' && k !== 'transfer-encoding' && k !== 'connection') out[k] = v;
      res.writeHead(r.statusCode, out).end(r.rawPayload);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return proxy;
}
