// An https stand-in for the IAM's address in OpenPSM tests: it forwards every request to the
// IAM node — over HTTPS to a `gatehouse serve` process at its real URL, trusting that node's
// self-signed certificate (test/e2e), or into an in-process test app (test/api) — and can
// answer the first N endsession calls with 401, to prove the gateway's re-authenticate-and-
// retry. It presents the IAM node's own TLS certificate, which the gateway trusts through
// its openpsmTrustedCa setting.
import { createServer, request, type Server } from 'node:https';
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

/** `target`: the IAM node's https URL, or an in-process app; `tls`: its key and certificate (served, and trusted for the forward). */
export async function startIamProxy(target: string | FastifyInstance, tls: { key: string | Buffer; cert: string | Buffer }): Promise<IamProxy> {
  const proxy: IamProxy = { url: '', calls: [], unauthorizedEndsessions: 0, down: false, close: async () => {} };
  const hop = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'content-length']);
  const server: Server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const path = (req.url ?? '/').split('?')[0]!;
      const answer = (status: number, body: string) => {
        proxy.calls.push({ path, status });
        res.writeHead(status, { 'content-type': 'application/json' }).end(body);
      };
      if (proxy.down) return answer(503, '{"error":{"code":"down","message":"down"}}');
      if (path.endsWith('/endsession') && proxy.unauthorizedEndsessions > 0) {
        proxy.unauthorizedEndsessions--;
        return answer(401, '{"error":{"code":"unauthorized","message":"re-authenticate"}}');
      }
      const payload = Buffer.concat(chunks);
      const headers: Record<string, string> = { 'content-length': String(payload.length) };
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !hop.has(k)) headers[k] = v;
      if (typeof target !== 'string') {
        const r = await target.inject({ method: req.method as 'POST', url: req.url ?? '/', headers, payload, remoteAddress: '127.0.0.1' });
        proxy.calls.push({ path, status: r.statusCode });
        const back: Record<string, string> = {};
        for (const [k, v] of Object.entries(r.headers)) if (typeof v === 'string' && !hop.has(k)) back[k] = v;
        return res.writeHead(r.statusCode, back).end(r.rawPayload);
      }
      const out = request(new URL(req.url ?? '/', target), { method: req.method, headers, ca: tls.cert, agent: false, timeout: 30_000 }, (r) => {
        const body: Buffer[] = [];
        r.on('data', (c: Buffer) => body.push(c));
        r.on('end', () => {
          proxy.calls.push({ path, status: r.statusCode ?? 502 });
          const back: Record<string, string> = {};
          for (const [k, v] of Object.entries(r.headers)) if (typeof v === 'string' && !hop.has(k)) back[k] = v;
          res.writeHead(r.statusCode ?? 502, back).end(Buffer.concat(body));
        });
      });
      out.on('timeout', () => out.destroy(new Error('the IAM node did not answer')));
      out.on('error', () => answer(502, '{"error":{"code":"bad_gateway","message":"the IAM node is unreachable"}}'));
      out.end(payload);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
