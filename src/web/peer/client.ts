// The calling side of node-to-node HTTPS (issue 16 point 1): this node asks the node a session
// lives on to terminate it, or relays its live view. Mutual TLS with the cluster's peer
// certificate (one key pair in the shared cluster identity, core/cluster/identity.ts): this node
// presents it, and the other node must present it too — its fingerprint is checked, so no
// other certificate, however signed, is accepted. Only nodes holding the cluster identity
// (hence the master key) can take part.
import { request, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { PeerCertificate } from 'node:tls';
import type { Actor } from '../../core/audit/service.js';
import type { PeerTarget, PeerTransport } from '../../core/cluster/forwarding.js';

/** The name in the peer certificate (and the TLS server name asked for): addresses are IPs or host names, the certificate is pinned instead. */
export const PEER_NAME = 'gatehouse-cluster-peer';
/** The actor a forwarded call is made for, base64url JSON (the calling node checked the permission). */
export const ACTOR_HEADER = 'x-gatehouse-actor';
/** The node a call is meant for: a node refuses a call meant for another (421), e.g. at an address another node has taken over. */
export const NODE_HEADER = 'x-gatehouse-node';

export interface PeerTls {
  cert: string;
  key: string;
  /** SHA-256 fingerprint of cert (X509Certificate.fingerprint256). */
  fingerprint256: string;
}

const CALL_TIMEOUT_MS = 15_000;

export const encodeActor = (a: Actor): string => Buffer.from(JSON.stringify({ id: a.id, name: a.name, ip: a.ip ?? null })).toString('base64url');

export class PeerClient implements PeerTransport {
  constructor(private readonly tls: PeerTls) {}

  private options(address: string, path: string, method: string, headers: Record<string, string>): RequestOptions & { href: URL } {
    const href = new URL(path, address);
    return {
      href,
      method,
      headers,
      key: this.tls.key,
      cert: this.tls.cert,
      ca: [this.tls.cert],
      servername: PEER_NAME,
      minVersion: 'TLSv1.3',
      agent: false,
      timeout: CALL_TIMEOUT_MS,
      checkServerIdentity: (_host: string, cert: PeerCertificate) => (cert.fingerprint256 === this.tls.fingerprint256 ? undefined : new Error('the node answered with a certificate that is not the cluster peer certificate')),
    };
  }

  private async call(to: PeerTarget, path: string, method: string, actor: Actor, body?: unknown): Promise<IncomingMessage> {
    const { address } = to;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const { href, ...opts } = this.options(address, path, method, {
      [ACTOR_HEADER]: encodeActor(actor),
      [NODE_HEADER]: to.node,
      ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
    });
    const r = await new Promise<IncomingMessage>((res, rej) => {
      const req = request(href, opts, res);
      req.on('timeout', () => req.destroy(new Error(`the gateway node at ${address} did not answer`)));
      req.on('error', rej);
      req.end(payload);
    });
    if (r.statusCode === 421) {
      r.destroy();
      throw new Error(`the address ${address} is another gateway node's now, not ${to.node}'s`);
    }
    return r;
  }

  private static async json(r: IncomingMessage): Promise<unknown> {
    const parts: Buffer[] = [];
    for await (const c of r) parts.push(c as Buffer);
    try {
      return JSON.parse(Buffer.concat(parts).toString('utf8'));
    } catch {
      return null;
    }
  }

  async terminate(to: PeerTarget, actor: Actor, sessionId: string, reason: string): Promise<boolean> {
    const r = await this.call(to, `/peer/v1/sessions/${encodeURIComponent(sessionId)}/terminate`, 'POST', actor, { reason });
    await PeerClient.json(r);
    if (r.statusCode === 200) return true;
    if (r.statusCode === 404) return false;
    throw new Error(`the gateway node at ${to.address} answered ${r.statusCode} to terminate`);
  }

  /** The live view from the node the session lives on: its event stream, or its refusal. */
  async liveView(to: PeerTarget, actor: Actor, sessionId: string): Promise<{ status: number; stream: IncomingMessage; error?: { error: { code: string; message: string } } }> {
    const r = await this.call(to, `/peer/v1/sessions/${encodeURIComponent(sessionId)}/live`, 'GET', actor);
    if (r.statusCode === 200) {
      r.socket.setTimeout(0);
      return { status: 200, stream: r };
    }
    const body = (await PeerClient.json(r)) as { error?: { code?: unknown; message?: unknown } } | null;
    const code = typeof body?.error?.code === 'string' ? body.error.code : 'peer_failed';
    const message = typeof body?.error?.message === 'string' ? body.error.message : 'the node the session runs on could not open its live view';
    return { status: r.statusCode ?? 502, stream: r, error: { error: { code, message } } };
  }
}
