// What the streamer asks of a sink's connection: send a batch (resolve only once it was handed
// over: written to the socket for syslog, a 2xx answer for a webhook; reject within the sink's
// timeout otherwise), abort and close.
import type { StreamedCheckpoint, StreamedEvent } from './event.js';

export interface SinkTransport {
  /** Events in chain order, then the checkpoints signing some of them (each after the event it signs). */
  send(events: StreamedEvent[], checkpoints: StreamedCheckpoint[]): Promise<void>;
  /** Gives up now (stop's drain time ran out): a send under way rejects, connections close without waiting. */
  abort(): void;
  close(): Promise<void>;
}

/** A delivery failure with a message fit for the sink's status (no secret, no stack). */
export class DeliveryError extends Error {
  /** The receiver refused the batch for its size (a webhook's 413): fewer events may go through. */
  readonly tooLarge: boolean;

  constructor(message: string, opts: { tooLarge?: boolean } = {}) {
    super(message);
    this.tooLarge = opts.tooLarge ?? false;
  }
}
