// The answering side of node-to-node HTTPS (issue 16 point 1): the cluster port
// (GATEHOUSE_CLUSTER_PORT), where other nodes of the cluster ask this node about sessions that
// live here. Mutual TLS: the caller must present the cluster's peer certificate (checked by
// the TLS stack against it as the only CA, then by fingerprint), so only nodes holding the
// cluster identity get an answer. Two calls, both made for an actor the calling node already
// checked (its permission to manage sessions) and audited here, where the session lives:
//   POST /peer/v1/sessions/:id/terminate  {reason}   → 200 {terminated: true} | 404
//   GET  /peer/v1/sessions/:id/live                  → the live view's event stream | 403/404/409
// Not part of the public API (not in src/web/contract): no person or token reaches it.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Core } from '../../core/core.js';
import type { Actor } from '../../core/audit/service.js';
import { AppError } from '../../core/errors.js';
import { checkLiveView, streamLiveView } from '../live-view-stream.js';
import { ACTOR_HEADER, NODE_HEADER, type PeerTls } from './client.js';

const BODY_LIMIT = 16 * 1024;
const SESSION_PATH = /^\/peer\/v1\/sessions\/([A-Za-z0-9_-]{1,64})\/(terminate|live)$/;

function decodeActor(v: string | string[] | undefined): Actor | null {
  if (typeof v !== 'string' || v.length > 4096) return null;
  try {
    const a = JSON.parse(Buffer.from(v, 'base64url').toString('utf8')) as Record<string, unknown>;
    const str = (x: unknown) => (x === null || (typeof x === 'string' && x.length <= 512) ? x : undefined);
    const id = str(a.id);
    const name = str(a.name);
    const ip = str(a.ip);
    if (id === undefined || name === undefined || ip === undefined) return null;
    return { id: id as string | null, name: name as string | null, ip: ip as string | null };
  } catch {
    return null;
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const b = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b) });
  res.end(b);
}

const fail = (res: ServerResponse, status: number, code: string, message: string) => send(res, status, { error: { code, message } });

async function readJson(req: IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > BODY_LIMIT) throw new AppError(413, 'payload_too_large', 'body too large');
    parts.push(c as Buffer);
  }
  if (n === 0) return {};
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    throw new AppError(400, 'invalid_request', 'body is not JSON');
  }
}

/** Failed handshakes on the cluster port are logged at most this often. */
const TLS_WARN_EVERY_MS = 60_000;

export class PeerServer {
  private readonly server: Server;
  private readonly open = new Set<ServerResponse>();
  /** Every connection, handshakes under way included (a scanner's half-open one would hold close() until the handshake timeout). */
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly core: Core,
    private readonly tls: PeerTls,
    private readonly log: Logger,
  ) {
    this.server = createServer({ key: tls.key, cert: tls.cert, ca: [tls.cert], requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (req, res) => {
      this.open.add(res);
      res.on('close', () => this.open.delete(res));
      this.handle(req, res).catch((e) => {
        if (res.headersSent) return void res.destroy();
        if (e instanceof AppError) return fail(res, e.status, e.code, e.message);
        this.log.error({ err: { message: (e as Error).message } }, 'a call from another gateway node failed');
        fail(res, 500, 'internal', 'internal error');
      });
    });
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    // At most one warning a minute, with how many failed since the last: anyone who can reach
    // the port could otherwise fill the log with failed handshakes.
    let failedSince = 0;
    let warnedAt = -Infinity;
    this.server.on('tlsClientError', (err, socket) => {
      failedSince++;
      const at = Date.now();
      if (at - warnedAt < TLS_WARN_EVERY_MS) return;
      warnedAt = at;
      this.log.warn({ err: { message: err.message }, from: socket.remoteAddress, failed: failedSince }, 'connections to the cluster port failed TLS (not cluster nodes?)');
      failedSince = 0;
    });
  }

  /** Listens; answers the port it got. Exclusive: a worker process's own port, never shared by node:cluster with the other workers. */
  listen(port: number, host: string): Promise<number> {
    return new Promise((res, rej) => {
      this.server.once('error', rej);
      this.server.listen({ port, host, exclusive: true }, () => {
        this.server.off('error', rej);
        const a = this.server.address();
        res(typeof a === 'object' && a ? a.port : port);
      });
    });
  }

  async close(): Promise<void> {
    for (const r of this.open) r.destroy();
    const closed = new Promise<void>((res) => this.server.close(() => res()));
    // The node is leaving: what is still connected (a call under way was cut above) goes too.
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const cert = (req.socket as TLSSocket).getPeerCertificate();
    if (!cert || cert.fingerprint256 !== this.tls.fingerprint256) return fail(res, 403, 'forbidden', 'not a node of this cluster');
    // A call meant for another node (its address is this node's now): not this node's to answer.
    // A call naming no node is from a node of an earlier version (a rolling upgrade): answered.
    const self = this.core.cluster.registry.self;
    const meant = req.headers[NODE_HEADER];
    if (meant !== undefined && meant !== self) return fail(res, 421, 'wrong_node', `this is gateway node ${self}, not ${String(meant).slice(0, 128)}`);
    const actor = decodeActor(req.headers[ACTOR_HEADER]);
    const m = SESSION_PATH.exec(new URL(req.url ?? '/', 'https://peer').pathname);
    if (!m) return fail(res, 404, 'not_found', 'no such call');
    if (!actor) return fail(res, 400, 'invalid_request', `${ACTOR_HEADER} is missing or malformed`);
    const [, id, what] = m as unknown as [string, string, 'terminate' | 'live'];
    if (what === 'terminate') {
      if (req.method !== 'POST') return fail(res, 405, 'method_not_allowed', 'POST only');
      const body = (await readJson(req)) as { reason?: unknown };
      const reason = typeof body?.reason === 'string' ? body.reason.slice(0, 500) : '';
      await this.core.sessions.terminate(actor, id, reason, { local: true });
      return send(res, 200, { terminated: true });
    }
    if (req.method !== 'GET') return fail(res, 405, 'method_not_allowed', 'GET only');
    const opened = await checkLiveView(this.core, actor, id);
    if ('refusal' in opened) return fail(res, opened.refusal.status, opened.refusal.code, opened.refusal.message);
    await streamLiveView(opened.feed, this.log, res);
  }
}
