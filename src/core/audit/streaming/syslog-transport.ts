// The syslog sink's pump: one TCP or TLS connection (kept open, made again after a failure),
// octet-counted RFC 5424 frames written batch by batch. A batch counts as delivered once the
// kernel took all of it (the write callback); syslog has no acknowledgement of its own, so a
// connection the receiver has ended or broken is never written to again: it is replaced first.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { StreamedCheckpoint, StreamedEvent } from './event.js';
import type { SinkConfig, SinkSecrets } from './config.js';
import { syslogFrames, type SyslogHeader } from './syslog-format.js';
import { DeliveryError, type SinkTransport } from './transport.js';

export class SyslogTransport implements SinkTransport {
  private sock: Socket | null = null;
  private broken: string | null = null;

  constructor(
    private readonly c: SinkConfig,
    private readonly secrets: SinkSecrets,
    private readonly header: SyslogHeader,
  ) {}

  private connect(): Promise<Socket> {
    const { host, port, tls, timeoutSeconds } = this.c;
    return new Promise((resolve, reject) => {
      const opts = { host: host!, port: port!, timeout: timeoutSeconds * 1000 };
      const s: Socket = tls
        ? tlsConnect({
            ...opts,
            servername: this.c.serverName ?? (/^[0-9.:]+$/.test(host!) ? undefined : host!),
            ...(this.secrets.caPem ? { ca: this.secrets.caPem } : {}),
            ...(this.secrets.clientCertPem ? { cert: this.secrets.clientCertPem, key: this.secrets.clientKeyPem } : {}),
            rejectUnauthorized: true,
            minVersion: 'TLSv1.2',
          })
        : netConnect(opts);
      const fail = (err: Error) => {
        s.destroy();
        reject(new DeliveryError(`cannot connect to ${host}:${port}: ${err.message}`));
      };
      s.once('error', fail);
      s.once('timeout', () => fail(new Error('timed out')));
      s.once(tls ? 'secureConnect' : 'connect', () => {
        s.off('error', fail);
        s.setTimeout(0);
        s.setKeepAlive(true, 60_000);
        this.broken = null;
        // Nothing is expected back; whatever comes is read and dropped.
        s.resume();
        s.on('error', (err) => (this.broken = err.message));
        s.on('end', () => (this.broken ??= 'the receiver closed the connection'));
        s.on('close', () => (this.broken ??= 'connection closed'));
        resolve(s);
      });
    });
  }

  async send(events: StreamedEvent[], checkpoints: StreamedCheckpoint[]): Promise<void> {
    if (this.sock && this.broken) {
      this.sock.destroy();
      this.sock = null;
    }
    const s = (this.sock ??= await this.connect());
    const frames = syslogFrames(events, this.header, checkpoints);
    await new Promise<void>((resolve, reject) => {
      const onClose = () => reject(new DeliveryError(`syslog connection lost: ${this.broken ?? 'closed'}`));
      s.once('close', onClose);
      s.write(frames, (err) => {
        s.off('close', onClose);
        if (err) reject(new DeliveryError(`syslog write failed: ${err.message}`));
        else if (this.broken) reject(new DeliveryError(`syslog connection lost: ${this.broken}`));
        else resolve();
      });
    }).catch((err) => {
      s.destroy();
      this.sock = null;
      throw err;
    });
  }

  /** Ends the connection after what was written (the receiver gets every byte), then lets go. */
  async close(): Promise<void> {
    const s = this.sock;
    this.sock = null;
    if (!s || s.destroyed) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        s.destroy();
        resolve();
      }, 5000);
      t.unref();
      s.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      s.end();
    });
  }
}
