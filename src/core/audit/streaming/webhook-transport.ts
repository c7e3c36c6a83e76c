// The webhook sink's pump: one POST per batch, {"sink": name, "events": [...]}, signed with the
// sink's HMAC key (webhook-signature.ts). Delivered means a 2xx answer; anything else (another
// status, no answer within the timeout, a refused connection or certificate) is a failure the
// streamer retries with backoff (a 413 with fewer events at once first). The body also carries the signed checkpoints of this stretch
// of the chain ({"checkpoints": [...]}, each after the event it signs). Redirects are not followed. Connections are kept alive.
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { StreamedCheckpoint, StreamedEvent } from './event.js';
import type { SinkConfig, SinkSecrets } from './config.js';
import { DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, webhookSignature } from './webhook-signature.js';
import { DeliveryError, type SinkTransport } from './transport.js';

export class WebhookTransport implements SinkTransport {
  private readonly agent: HttpAgent;
  private readonly url: URL;

  constructor(
    private readonly sinkId: string,
    private readonly sinkName: string,
    private readonly c: SinkConfig,
    private readonly secrets: SinkSecrets,
  ) {
    // The whole URL is sealed with the other secrets (c.url is only its display form).
    if (!secrets.url) throw new Error('the webhook URL is not held (sealed secrets without it)');
    this.url = new URL(secrets.url);
    this.agent =
      this.url.protocol === 'https:'
        ? new HttpsAgent({
            keepAlive: true,
            maxSockets: 1,
            ...(secrets.caPem ? { ca: secrets.caPem } : {}),
            ...(secrets.clientCertPem ? { cert: secrets.clientCertPem, key: secrets.clientKeyPem } : {}),
            minVersion: 'TLSv1.2',
          })
        : new HttpAgent({ keepAlive: true, maxSockets: 1 });
  }

  send(events: StreamedEvent[], checkpoints: StreamedCheckpoint[]): Promise<void> {
    const body = JSON.stringify({ sink: this.sinkName, events, checkpoints });
    const ts = Math.floor(Date.now() / 1000);
    const first = events[0]?.seq;
    const last = events.at(-1)?.seq;
    const cpRange = checkpoints.length ? `cp${checkpoints[0]!.seq}-${checkpoints.at(-1)!.seq}` : '';
    const request = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((settleOk, settleFail) => {
      // The answer (status and body) within timeoutSeconds of the body's end, however slowly it
      // trickles in: the socket's own timeout is for silence only, and a receiver sending a byte
      // now and then would otherwise hold the sink's delivery for ever.
      let answerTimer: NodeJS.Timeout | null = null;
      let done = false;
      const settled = () => {
        done = true;
        if (answerTimer) clearTimeout(answerTimer);
      };
      const resolve = () => (settled(), settleOk());
      const reject = (e: Error) => (settled(), settleFail(e));
      const req = request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          timeout: this.c.timeoutSeconds * 1000,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'user-agent': 'gatehouse-audit-stream',
            [TIMESTAMP_HEADER]: String(ts),
            [SIGNATURE_HEADER]: webhookSignature(this.secrets.hmacKey!, ts, body),
            // The id names the range carried: a retry (the streamer resends the failed batch as it
            // was) goes under the same id; a batch read again after a restart may cover more.
            [DELIVERY_HEADER]: `${this.sinkId}:${first !== undefined ? `${first}-${last}` : ''}${first !== undefined && cpRange ? ',' : ''}${cpRange}`,
          },
        },
        (res) => {
          res.resume();
          const status = res.statusCode ?? 0;
          res.once('end', () => (status >= 200 && status < 300 ? resolve() : reject(new DeliveryError(`webhook answered HTTP ${status}`, { tooLarge: status === 413 }))));
          res.once('error', (err) => reject(new DeliveryError(`webhook answer broken: ${err.message}`)));
        },
      );
      req.once('timeout', () => req.destroy(new Error(`no answer within ${this.c.timeoutSeconds} s`)));
      req.once('finish', () => {
        // An answer may come before the body has all gone (a 413 to a large batch): nothing to wait for then.
        if (done) return;
        answerTimer = setTimeout(() => req.destroy(new Error(`no answer within ${this.c.timeoutSeconds} s`)), this.c.timeoutSeconds * 1000);
        answerTimer.unref();
      });
      req.once('error', (err) => reject(new DeliveryError(`webhook request failed: ${err.message}`)));
      req.end(body);
    });
  }

  abort(): void {
    // The request under way fails with its socket.
    this.agent.destroy();
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}
