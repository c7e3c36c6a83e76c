// The syslog sink's pump: one TCP or TLS connection (kept open, made again after a failure),
// octet-counted RFC 5424 frames written batch by batch. A batch counts as delivered once the
// kernel took all of it (the write callback); syslog has no acknowledgement of its own, so a
// connection the receiver has ended or broken is never written to again: it is replaced first.
//
// A collector that accepts but stops reading (rsyslog or syslog-ng whose own output is down)
// closes its TCP window: the write callback then never comes. A send therefore waits at most
// timeoutSeconds and fails (the streamer counts the attempt and backs off), but the batch stays
// queued on that connection rather than being written again elsewhere: re-sending it on a new
// connection would leave the old copy (and whatever the kernel already took) to arrive later,
// twice and out of order, or be dropped with the orphaned connection. The retry of the same
// batch waits for that write again, so once the collector reads again every event arrives
// once, in order. Only abort() (stop's drain ran out) or close() (the sink changed) gives such
// a connection up.
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { StreamedCheckpoint, StreamedEvent } from './event.js';
import type { SinkConfig, SinkSecrets } from './config.js';
import { syslogFrames, type SyslogHeader } from './syslog-format.js';
import { DeliveryError, type SinkTransport } from './transport.js';

/**
 * The name sent in SNI and checked against the collector's certificate: serverName, else the
 * host unless it is an address (SNI carries no address, RFC 6066; the address is then checked
 * against the certificate's IP names). net.isIP, as IPv6 addresses have hex letters.
 */
export function tlsServerName(c: Pick<SinkConfig, 'host' | 'serverName'>): string | undefined {
  return c.serverName ?? (isIP(c.host!) ? undefined : c.host!);
}

/** What a batch is, for telling a retry of the batch queued on the connection from another. */
const batchKey = (events: StreamedEvent[], checkpoints: StreamedCheckpoint[]) => `${events[0]?.seq}-${events.at(-1)?.seq}/${checkpoints[0]?.seq}-${checkpoints.at(-1)?.seq}`;

export class SyslogTransport implements SinkTransport {
  private sock: Socket | null = null;
  /** A socket still connecting (abort() ends it too). */
  private connecting: Socket | null = null;
  /** A socket close() is ending, waiting for the collector's side (abort() ends it too). */
  private closing: Socket | null = null;
  private broken: string | null = null;
  /** A batch written on `sock` the kernel has not taken all of yet (its send timed out). */
  private queued: { key: string; taken: Promise<void>; done: boolean } | null = null;
  /** Fails the send under way at once (abort). */
  private cancel: ((err: DeliveryError) => void) | null = null;

  constructor(
    private readonly c: SinkConfig,
    private readonly secrets: SinkSecrets,
    private readonly header: SyslogHeader,
    /** How long close() waits for the collector to close its side. */
    private readonly closeWaitMs = 5000,
  ) {}

  private connect(): Promise<Socket> {
    const { host, port, tls, timeoutSeconds } = this.c;
    return new Promise((resolve, reject) => {
      const opts = { host: host!, port: port!, timeout: timeoutSeconds * 1000 };
      const s: Socket = tls
        ? tlsConnect({
            ...opts,
            servername: tlsServerName(this.c),
            ...(this.secrets.caPem ? { ca: this.secrets.caPem } : {}),
            ...(this.secrets.clientCertPem ? { cert: this.secrets.clientCertPem, key: this.secrets.clientKeyPem } : {}),
            rejectUnauthorized: true,
            minVersion: 'TLSv1.2',
          })
        : netConnect(opts);
      this.connecting = s;
      const fail = (err: Error) => {
        this.connecting = null;
        s.destroy();
        reject(new DeliveryError(`cannot connect to ${host}:${port}: ${err.message}`));
      };
      // abort() while connecting destroys the socket without an error.
      const closed = () => fail(new Error('connection closed'));
      s.once('error', fail);
      s.once('timeout', () => fail(new Error('timed out')));
      s.once('close', closed);
      s.once(tls ? 'secureConnect' : 'connect', () => {
        this.connecting = null;
        s.off('error', fail);
        s.off('close', closed);
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

  /** Resolves once the kernel took every byte of the write on `s` (rejects if the connection goes first). */
  private write(s: Socket, frames: Buffer | string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onClose = () => reject(new DeliveryError(`syslog connection lost: ${this.broken ?? 'closed'}`));
      s.once('close', onClose);
      s.write(frames, (err) => {
        s.off('close', onClose);
        if (err) reject(new DeliveryError(`syslog write failed: ${err.message}`));
        else if (this.broken) reject(new DeliveryError(`syslog connection lost: ${this.broken}`));
        else resolve();
      });
    });
  }

  async send(events: StreamedEvent[], checkpoints: StreamedCheckpoint[]): Promise<void> {
    const key = batchKey(events, checkpoints);
    if (this.queued?.key === key && this.queued.done) {
      // Taken by the kernel since the last try: delivered, whatever became of the connection after.
      this.queued = null;
      return;
    }
    if (this.queued && this.queued.key !== key) {
      // Another batch than the one still queued (not what the streamer does: it retries the
      // same batch): the queued one cannot be taken back, so the connection goes.
      this.sock?.destroy();
      this.sock = null;
      this.queued = null;
    }
    if (this.sock && this.broken) {
      this.sock.destroy();
      this.sock = null;
      this.queued = null;
    }
    const s = (this.sock ??= await this.connect());
    if (!this.queued) {
      const queued = { key, taken: this.write(s, syslogFrames(events, this.header, checkpoints)), done: false };
      // Settled later by a retry, or by nobody (the connection given up): never unhandled.
      queued.taken.then(() => (queued.done = true)).catch(() => undefined);
      this.queued = queued;
    }
    const queued = this.queued;
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    try {
      await new Promise<void>((resolve, reject) => {
        this.cancel = reject;
        timer = setTimeout(() => {
          timedOut = true;
          reject(new DeliveryError(`the syslog collector has not taken the batch within ${this.c.timeoutSeconds} s (it is not reading); the batch stays queued on the connection`));
        }, this.c.timeoutSeconds * 1000);
        queued.taken.then(resolve, reject);
      });
      this.queued = null;
    } catch (err) {
      // A write that failed ends the connection; one merely not taken yet stays queued.
      if (!timedOut) {
        s.destroy();
        if (this.sock === s) this.sock = null;
        this.queued = null;
      }
      throw err;
    } finally {
      clearTimeout(timer);
      this.cancel = null;
    }
  }

  /**
   * Gives up at once (stop's drain time ran out): a send or connect under way fails, and the
   * connection is closed now. What the kernel already took still goes out if the collector reads
   * again soon; the batch under way is re-sent at the next start.
   */
  abort(): void {
    this.connecting?.destroy();
    this.connecting = null;
    const s = this.sock;
    this.sock = null;
    this.queued = null;
    this.broken ??= 'stopped';
    this.cancel?.(new DeliveryError('the syslog collector had not taken the batch when the drain time at stop ran out'));
    s?.destroy();
    // A close() waiting for the collector to close its side: not waited for any longer.
    this.closing?.destroy();
  }

  /** Ends the connection after what was written (the receiver gets every byte), then lets go. */
  async close(): Promise<void> {
    const s = this.sock;
    const queued = this.queued;
    this.sock = null;
    this.queued = null;
    if (!s || s.destroyed) return;
    if (queued && !queued.done) {
      // The collector is not reading: waiting for it to take the rest would not end.
      s.destroy();
      return;
    }
    this.closing = s;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        s.destroy();
        resolve();
      }, this.closeWaitMs);
      t.unref();
      s.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      s.end();
    });
    if (this.closing === s) this.closing = null;
  }
}
