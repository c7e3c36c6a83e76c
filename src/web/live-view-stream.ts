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
 * Checks, audits and prepares the live view of a session live on this node; a refusal when it
 * is not live here or its launcher forbids watching (a session that does not exist throws 404).
 */
export async function prepareLiveView(core: Core, actor: Actor, sessionId: string, log: FeedLog): Promise<{ feed: LiveFeed } | { refusal: LiveViewRefusal }> {
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
  await feed.prepare(log);
  if (feed.ended) return { refusal: NOT_LIVE };
  return { feed };
}

/** Writes the stream until the session ends or `closed` fires (the watcher went away). */
export function streamLiveView(feed: LiveFeed, log: FeedLog, res: ServerResponse, closed: (fn: () => void) => void): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  // The opening and the subscription come from one synchronous step of the feed, and are
  // written before any later record can arrive, so none falls between them.
  const { header, backlog, keyframe, unsubscribe } = feed.open(log, (line) => {
    if (!line) {
      clearInterval(ping);
      res.write('event: end\ndata: {}\n\n');
      res.end();
      return;
    }
    res.write(`data: ${line.trimEnd()}\n\n`);
  });
  res.write(`event: header\ndata: ${JSON.stringify(header)}\n\n`);
  if (keyframe) res.write(`event: keyframe\ndata: ${JSON.stringify(keyframe)}\n\n`);
  for (const line of backlog) res.write(`data: ${line}\n\n`);
  const ping = setInterval(() => res.write(': ping\n\n'), 15000);
  closed(() => {
    clearInterval(ping);
    unsubscribe();
  });
}
