// The live view as Server-Sent Events, written to a raw response: what the API route
// (routes/live-view.ts) answers for a session live on this node, and what this node's peer
// listener (peer/server.ts) answers another node relaying the live view of a session that
// lives here. The checks and the audit event are made once, where the session lives.
import type { ServerResponse } from 'node:http';
import type { Core } from '../core/core.js';
import type { Actor } from '../core/audit/service.js';
import type { LiveFeed } from '../core/sessions/live-feed.js';

type FeedLog = Parameters<LiveFeed['prepare']>[0];

export type LiveViewRefusal = { status: 403 | 409; code: string; message: string };

const NOT_LIVE: LiveViewRefusal = { status: 409, code: 'not_live', message: 'session is not live; replay its recording instead' };

/**
 * Checks and audits the live view of a session live on this node; a refusal when it is not
 * live here or its launcher forbids watching (a session that does not exist throws 404). The
 * feed is prepared by streamLiveView, after the answer's head is sent.
 */
export async function checkLiveView(core: Core, actor: Actor, sessionId: string): Promise<{ feed: LiveFeed } | { refusal: LiveViewRefusal }> {
  const feed = core.sessions.feed(sessionId);
  if (!feed) {
    await core.sessions.get(sessionId);
    return { refusal: NOT_LIVE };
  }
  // The launcher's allowLiveSnooping (seed 003) off: nobody watches its sessions live.
  if (!feed.snoopingAllowed) {
    await core.audit.record(actor, { action: 'session.watch', outcome: 'failure', target: { type: 'session', id: feed.sessionId }, details: { reason: 'live_snooping_disallowed' } });
    return { refusal: { status: 403, code: 'live_view_disallowed', message: 'the launcher of this session does not allow live viewing' } };
  }
  await core.audit.record(actor, { action: 'session.watch', target: { type: 'session', id: feed.sessionId } });
  // Ending (its recording still closing, it is in the live map until then): nothing to watch.
  if (feed.ended) return { refusal: NOT_LIVE };
  return { feed };
}

/**
 * How much a watcher may leave unread, beyond the opening (header, keyframe, backlog), before
 * its stream is cut: the node running the session must not hold a session's output without
 * bound for a watcher that stopped reading. A watcher relaying from another node is held to the
 * same bound here, where the session lives (backpressure reaches this node through the relay).
 */
export const WATCHER_UNREAD_LIMIT = 8 * 1024 * 1024;
/** Between comments that keep an idle stream (and a relay between nodes) alive. */
export const PING_MS = 15_000;

/**
 * Writes the stream until the session ends or the watcher goes away. The head goes first, then
 * (a screen) comments every PING_MS while the feed prepares: the first watcher of a graphical
 * session decodes its recording so far, minutes for a long one, and silence that long would be
 * taken for a dead node by a node relaying the view (its call's 15 s) or by a proxy. A session
 * that ended meanwhile gets its `end` event. A watcher who went away meanwhile (its 'close' has
 * already fired) gets nothing more and holds nothing; one that reads too slowly is cut
 * (WATCHER_UNREAD_LIMIT), without an `end` event, so its page says the view was lost.
 */
export async function streamLiveView(feed: LiveFeed, log: FeedLog & { warn(o: object, msg: string): void }, res: ServerResponse, limit = WATCHER_UNREAD_LIMIT): Promise<void> {
  if (res.destroyed) return;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  if (feed.graphical) {
    const preparing = () => void (res.destroyed || res.write(': preparing the view\n\n'));
    preparing();
    const keepAlive = setInterval(preparing, PING_MS);
    try {
      await feed.prepare(log);
    } catch (e) {
      // keyframe() tries again on what is left; at worst the view opens without a picture.
      log.warn({ sessionId: feed.sessionId, err: { message: (e as Error).message } }, 'preparing the keyframe of a live view failed');
    } finally {
      clearInterval(keepAlive);
    }
    if (res.destroyed) return;
  }
  // Checked with open() in one synchronous step: a session that began to end meanwhile has
  // emptied its subscribers already, so a watcher subscribed now would never get its end.
  if (feed.ended) {
    res.end('event: end\ndata: {}\n\n');
    return;
  }
  let stopped = false;
  let ping: NodeJS.Timeout | undefined;
  let unsubscribe = () => undefined as void;
  let allowed = Infinity;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearInterval(ping);
    unsubscribe();
  };
  const send = (text: string) => {
    if (stopped) return;
    res.write(text);
    if (res.writableLength <= allowed) return;
    log.warn({ sessionId: feed.sessionId, unread: res.writableLength }, 'a live viewer is not reading its stream; it is cut');
    stop();
    res.destroy();
  };
  // The opening and the subscription come from one synchronous step of the feed, and are
  // written before any later record can arrive, so none falls between them.
  const opened = feed.open(log, (line) => {
    if (!line) {
      send('event: end\ndata: {}\n\n');
      stop();
      res.end();
      return;
    }
    send(`data: ${line.trimEnd()}\n\n`);
  });
  unsubscribe = opened.unsubscribe;
  res.write(`event: header\ndata: ${JSON.stringify(opened.header)}\n\n`);
  if (opened.keyframe) res.write(`event: keyframe\ndata: ${JSON.stringify(opened.keyframe)}\n\n`);
  for (const line of opened.backlog) res.write(`data: ${line}\n\n`);
  allowed = res.writableLength + limit;
  ping = setInterval(() => send(': ping\n\n'), PING_MS);
  res.on('close', stop);
}
