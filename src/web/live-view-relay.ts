// Relaying the live view of a session that lives on another node of the cluster: that node's
// event stream (peer/client.ts), copied to the watcher as it comes. Backpressure runs through:
// a watcher that stops reading stops the relay reading, and the node running the session cuts
// the stream once too much is left unread there (live-view-stream.ts), which ends the relay.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PING_MS } from './live-view-stream.js';

/** Silence from the other node (it pings every PING_MS) after which it counts as gone: a machine that vanished sends no FIN. */
export const RELAY_SILENCE_MS = 3 * PING_MS;

/**
 * Copies `upstream` to `res` until either ends. The other node ending its stream properly
 * (after `event: end`) ends the watcher's; the other node dying, its connection breaking or
 * going silent cuts the watcher's stream without an end event (its page says the view was
 * lost), and the watcher going away closes the connection to the other node.
 */
export function relayLiveView(upstream: IncomingMessage, res: ServerResponse, silenceMs = RELAY_SILENCE_MS): void {
  // The watcher went away while the other node was asked.
  if (res.destroyed) return void upstream.destroy();
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  let ended = false;
  upstream.socket.setTimeout(silenceMs, () => upstream.destroy());
  upstream.on('end', () => {
    ended = true;
  });
  // A stream cut short (before its end) has no end event to pass on: the watcher's is cut too.
  upstream.on('close', () => {
    if (!ended) res.destroy();
  });
  upstream.on('error', () => undefined);
  res.on('close', () => upstream.destroy());
  upstream.pipe(res);
}
