// Loopback receivers for audit streaming tests: a syslog collector (plain TCP or TLS, RFC 6587
// octet counting, RFC 5424 messages parsed back) and an HTTPS webhook that checks each
// delivery's HMAC signature and can be told to fail. Both keep every event they took, in
// arrival order, so tests can check "every event exactly once, in order". Certificates (a CA,
// a server certificate for 127.0.0.1 and a client certificate) are made with openssl.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { StreamedCheckpoint, StreamedEvent } from '../../src/core/audit/streaming/event.js';
import type { DbKind } from '../../src/store/db.js';
import { startTestApp, type TestApp } from './harness.js';
import { verifyWebhookSignature } from '../../src/core/audit/streaming/webhook-signature.js';

export interface Pki {
  caPem: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A second CA that signed nothing here (a sink trusting it must refuse the receiver). */
  otherCaPem: string;
}

export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-pki-'));
  try {
    const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    const ca = (name: string) =>
      run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=Gatehouse test ${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    ca('ca');
    ca('other-ca');
    const leaf = (name: string, ext: string) => {
      run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
      writeFileSync(join(dir, `${name}.ext`), ext);
      run(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
    };
    leaf('server', 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
    leaf('client', 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n');
    const r = (f: string) => readFileSync(join(dir, f), 'utf8');
    return { caPem: r('ca.pem'), serverCert: r('server.pem'), serverKey: r('server.key'), clientCert: r('client.pem'), clientKey: r('client.key'), otherCaPem: r('other-ca.pem') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface SyslogMessage {
  pri: number;
  version: number;
  timestamp: string;
  hostname: string;
  appName: string;
  msgId: string;
  sd: Record<string, string>;
  event: StreamedEvent;
  /** The whole frame as received, for byte-level checks. */
  raw: string;
}

/** Parses one RFC 5424 message as the sink writes it (structured data with one element, BOM + JSON message). */
export function parseSyslog(raw: string): SyslogMessage {
  const m = /^<(\d{1,3})>(\d) (\S+) (\S+) (\S+) (\S+) (\S+) \[(\S+)((?: [^=\s]+="(?:[^"\\\]]|\\["\\\]])*")*)\] \ufeff(.*)$/s.exec(raw);
  if (!m) throw new Error(`not an RFC 5424 message as expected: ${raw.slice(0, 200)}`);
  const sd: Record<string, string> = { id: m[8]! };
  for (const p of m[9]!.matchAll(/ ([^=\s]+)="((?:[^"\\\]]|\\["\\\]])*)"/g)) sd[p[1]!] = p[2]!.replace(/\\(["\\\]])/g, '$1');
  return { pri: Number(m[1]), version: Number(m[2]), timestamp: m[3]!, hostname: m[4]!, appName: m[5]!, msgId: m[7]!, sd, event: JSON.parse(m[10]!) as StreamedEvent, raw };
}

/** A syslog collector on 127.0.0.1: octet-counted frames (RFC 6587 3.4.1) over TCP or TLS (RFC 5425). */
export class SyslogReceiver {
  readonly messages: SyslogMessage[] = [];
  /** Connections accepted (a TLS one only after its handshake). */
  connections = 0;
  /** Frames that did not parse (must stay 0). */
  readonly errors: string[] = [];
  private readonly sockets = new Set<Socket>();
  private server!: NetServer;
  private stalled = false;
  port = 0;

  static async start(opts: { tls?: { cert: string; key: string; ca?: string; requireClientCert?: boolean } } = {}): Promise<SyslogReceiver> {
    const r = new SyslogReceiver();
    const onSocket = (s: Socket) => {
      r.connections++;
      r.sockets.add(s);
      if (r.stalled) s.pause();
      s.on('close', () => r.sockets.delete(s));
      s.on('error', () => undefined);
      let buf = Buffer.alloc(0);
      s.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        for (;;) {
          const sp = buf.indexOf(0x20);
          if (sp < 0) return;
          const len = Number(buf.subarray(0, sp).toString('ascii'));
          if (!Number.isInteger(len) || len <= 0) {
            r.errors.push(`bad frame length "${buf.subarray(0, sp).toString('ascii')}"`);
            s.destroy();
            return;
          }
          if (buf.length < sp + 1 + len) return;
          const raw = buf.subarray(sp + 1, sp + 1 + len).toString('utf8');
          buf = buf.subarray(sp + 1 + len);
          try {
            r.messages.push(parseSyslog(raw));
          } catch (err) {
            r.errors.push((err as Error).message);
          }
        }
      });
    };
    r.server = opts.tls
      ? createTlsServer({ cert: opts.tls.cert, key: opts.tls.key, ...(opts.tls.ca ? { ca: opts.tls.ca } : {}), requestCert: !!opts.tls.requireClientCert, rejectUnauthorized: !!opts.tls.requireClientCert }, (s: TLSSocket) => onSocket(s))
      : createNetServer(onSocket);
    r.server.on('tlsClientError', () => undefined);
    await new Promise<void>((res) => r.server.listen(0, '127.0.0.1', res));
    r.port = (r.server.address() as { port: number }).port;
    return r;
  }

  /**
   * Stops reading every connection, new ones included, as rsyslog or syslog-ng do while their
   * own output is down: connections are accepted, the kernel's buffers fill, then the sender's
   * TCP window closes.
   */
  stall(): void {
    this.stalled = true;
    for (const s of this.sockets) s.pause();
  }

  /** Reads again (what the kernel holds comes first). */
  resume(): void {
    this.stalled = false;
    for (const s of this.sockets) s.resume();
  }

  /** The audit events (checkpoint messages left out). */
  get events(): StreamedEvent[] {
    return this.messages.filter((m) => !('checkpointSeq' in m.sd)).map((m) => m.event);
  }

  /** The signed checkpoints (MSGID audit.checkpoint, SD param checkpointSeq). */
  get checkpoints(): StreamedCheckpoint[] {
    return this.messages.filter((m) => 'checkpointSeq' in m.sd).map((m) => m.event as unknown as StreamedCheckpoint);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((res) => this.server.close(() => res()));
  }
}

export interface WebhookDelivery {
  /** The path and query string the delivery was posted to. */
  path: string;
  delivery: string;
  sink: string;
  events: StreamedEvent[];
  checkpoints: StreamedCheckpoint[];
}

/** An HTTPS webhook receiver on 127.0.0.1 checking the HMAC signature of every delivery. */
export class WebhookReceiver {
  readonly deliveries: WebhookDelivery[] = [];
  /** Deliveries answered 503 (failing, failNext) or 413 (maxEvents) on purpose, in order. */
  readonly refused: WebhookDelivery[] = [];
  /** Statuses answered, in order (200 taken, 503 refused on purpose, 401 bad signature). */
  readonly answers: number[] = [];
  badSignatures = 0;
  /** While true every delivery is answered 503 (and not kept). */
  failing = false;
  /** The next n deliveries are answered 503 (and not kept). */
  failNext = 0;
  /** Each answer waits this long (a slow receiver). */
  answerDelayMs = 0;
  /** Deliveries with more events than this are answered 413 (and not kept, but listed in refused). */
  maxEvents = Infinity;
  /** Request bodies received in full (answered or not yet). */
  received = 0;
  private server!: HttpsServer;
  port = 0;

  static async start(key: string, tls: { cert: string; key: string }): Promise<WebhookReceiver> {
    const r = new WebhookReceiver();
    r.server = createHttpsServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        r.received++;
        const answer = (status: number) => {
          r.answers.push(status);
          const send = () => res.writeHead(status, { 'content-type': 'text/plain' }).end(String(status));
          if (r.answerDelayMs > 0) setTimeout(send, r.answerDelayMs);
          else send();
        };
        const ok = verifyWebhookSignature(key, { signature: req.headers['x-gatehouse-signature'] as string, timestamp: req.headers['x-gatehouse-timestamp'] as string }, body, Math.floor(Date.now() / 1000));
        if (!ok) {
          r.badSignatures++;
          return answer(401);
        }
        const parsed = JSON.parse(body.toString('utf8')) as { sink: string; events: StreamedEvent[]; checkpoints: StreamedCheckpoint[] };
        const delivery = { path: req.url ?? '', delivery: String(req.headers['x-gatehouse-delivery']), sink: parsed.sink, events: parsed.events, checkpoints: parsed.checkpoints };
        if (delivery.events.length > r.maxEvents) {
          r.refused.push(delivery);
          return answer(413);
        }
        if (r.failing || r.failNext > 0) {
          if (r.failNext > 0) r.failNext--;
          r.refused.push(delivery);
          return answer(503);
        }
        r.deliveries.push(delivery);
        answer(200);
      });
    });
    await new Promise<void>((res) => r.server.listen(0, '127.0.0.1', res));
    r.port = (r.server.address() as { port: number }).port;
    return r;
  }

  get url(): string {
    return `${this.origin}/audit`;
  }

  /** https://127.0.0.1:<port>, for tests that post to paths of their own (the receiver takes any). */
  get origin(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  get events(): StreamedEvent[] {
    return this.deliveries.flatMap((d) => d.events);
  }

  get checkpoints(): StreamedCheckpoint[] {
    return this.deliveries.flatMap((d) => d.checkpoints);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((res) => this.server.close(() => res()));
  }
}

/** Resolves once `check` holds (polled), or rejects with `what` after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, what: () => string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A test app and an HTTPS webhook receiver (its own CA) for the describe block it is called in:
 * started before its tests, streaming stopped and both closed after.
 */
export function appWithWebhook(kind: DbKind, hmacKey: string): { t: TestApp; hook: WebhookReceiver; caPem: string } {
  const the = {} as { t: TestApp; hook: WebhookReceiver; caPem: string };
  before(async () => {
    const pki = makePki();
    the.caPem = pki.caPem;
    the.t = await startTestApp(kind);
    the.hook = await WebhookReceiver.start(hmacKey, { cert: pki.serverCert, key: pki.serverKey });
  });
  after(async () => {
    await the.t?.core.auditStreaming.stop(0);
    await the.hook?.close();
    await the.t?.close();
  });
  return the;
}
