// The live view between nodes and toward slow watchers (issue 16 point 1), with real sockets:
// - the node running a session cuts a watcher that stops reading once 8 MiB (here a smaller
//   bound) is left unread, and a watcher who went away while the view was prepared is never
//   subscribed (before: the node held every byte of the session's output for it);
// - the node relaying a live view from another node: a watcher gone before that node answered
//   closes the connection to it; that node dying or going silent cuts the watcher's stream
//   (before: the watcher hung, no end and no more pings); a proper end passes through;
// - the API: a live view of a session whose node does not answer is 503 node_unreachable with
//   Retry-After (before: 500 internal); terminate of a session on a node that never registered
//   or takes no forwarded calls is 409 node_not_reachable and the session stays live (before:
//   it was ended as interrupted, or answered 404 "already ended" while it ran on).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, get, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as netServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import type { LiveFeed } from '../../src/core/sessions/live-feed.js';
import type { Subscriber } from '../../src/core/sessions/live.js';
import { streamLiveView } from '../../src/web/live-view-stream.js';
import { relayLiveView } from '../../src/web/live-view-relay.js';
import { buildApp } from '../../src/web/app.js';
import { ClusterForwarding } from '../../src/core/cluster/forwarding.js';
import { makePeerCert, peerTls } from '../../src/web/peer/cert.js';
import { PeerClient } from '../../src/web/peer/client.js';
import { adminSessionPlans, startTestApp, type TestApp } from '../support/harness.js';

/** A feed as the core hands it out: opens with a header, then records pushed by the test. */
function fakeFeed() {
  const state = { opened: 0, subscriber: null as Subscriber | null, unsubscribed: 0 };
  const feed = {
    sessionId: 'sess-1',
    open: (_log: unknown, fn: Subscriber) => {
      state.opened++;
      state.subscriber = fn;
      return { header: { version: 2, width: 80, height: 24 }, backlog: ['[0.1,"o","hello"]'], keyframe: null, unsubscribe: () => void state.unsubscribed++ };
    },
  } as unknown as LiveFeed;
  return { feed, state };
}

const logs: string[] = [];
const log = { warn: (_o: object, msg: string) => void logs.push(msg), info: () => undefined, error: () => undefined, debug: () => undefined } as never;

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const closeServer = (s: Server) => {
  s.closeAllConnections();
  return new Promise((r) => s.close(r));
};

/** GET url; resolves with the response as soon as its headers are in. */
function open(url: string): Promise<IncomingMessage> {
  return new Promise((res, rej) => get(url, res).on('error', rej));
}

/** A watcher who asks and goes away before any answer. */
function leaveEarly(url: string): void {
  const req = get(url);
  req.on('error', () => undefined);
  setTimeout(() => req.destroy(), 50);
}

/** Reads a response to its finish: its text, and whether it ended properly (else it was cut). */
function readAll(r: IncomingMessage): Promise<{ text: string; complete: boolean }> {
  return new Promise((res) => {
    let text = '';
    r.on('data', (c: Buffer) => (text += c.toString()));
    r.on('error', () => undefined);
    r.on('close', () => res({ text, complete: r.complete }));
  });
}

describe('the live view stream toward its watcher', () => {
  it('a watcher that stops reading is cut once the unread bytes pass the bound, and unsubscribed', async () => {
    const { feed, state } = fakeFeed();
    let served: ServerResponse | null = null;
    const { server, url } = await listen((_req, res) => {
      served = res;
      streamLiveView(feed, log, res, 256 * 1024);
    });
    try {
      const r = await open(url);
      r.pause(); // a watcher that reads nothing more
      const line = `[1.0,"o","${'x'.repeat(4000)}"]`;
      // Far more than the bound plus what the sockets' buffers take.
      for (let i = 0; i < 4000 && state.unsubscribed === 0; i++) {
        state.subscriber!(line);
        if (i % 50 === 0) await new Promise((res) => setImmediate(res));
      }
      assert.equal(state.unsubscribed, 1, 'unsubscribed once cut');
      assert.ok(served!.destroyed, 'its response destroyed');
      assert.ok(logs.some((m) => /a live viewer is not reading its stream; it is cut/.test(m)));
      r.destroy();
    } finally {
      await closeServer(server);
    }
  });

  it('a watcher that went away while the view was prepared gets nothing and is never subscribed', async () => {
    const { feed, state } = fakeFeed();
    let gone!: () => void;
    const wentAway = new Promise<void>((r) => (gone = r));
    const { server, url } = await listen((_req, res) => {
      res.on('close', async () => {
        // The view is ready only now (prepare() was slow): the watcher's 'close' is in the past.
        streamLiveView(feed, log, res);
        gone();
      });
    });
    try {
      leaveEarly(url);
      await wentAway;
      assert.equal(state.opened, 0);
    } finally {
      await closeServer(server);
    }
  });

  it('a screen whose first keyframe takes long to prepare: the head and comments go out while it prepares, then the opening; one that ended meanwhile gets its end', async () => {
    // Before: nothing was sent until the recording so far was decoded (minutes for a long RDP
    // session): a node relaying the view took the silence for a dead node (its call gives up
    // after 15 s) and told the watcher the session's node did not answer.
    for (const endsMeanwhile of [false, true]) {
      const { feed, state } = fakeFeed();
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let ended = false;
      Object.assign(feed, { graphical: true, prepare: () => held });
      Object.defineProperty(feed, 'ended', { get: () => ended });
      const { server, url } = await listen((_req, res) => void streamLiveView(feed, log, res));
      try {
        const r = await open(url);
        assert.equal(r.statusCode, 200, 'answered while the keyframe is still being prepared');
        let text = '';
        r.on('data', (c: Buffer) => (text += c.toString()));
        for (let i = 0; i < 3000 && !text.includes(': preparing the view'); i++) await new Promise((res) => setTimeout(res, 10));
        assert.match(text, /^: preparing the view\n\n/);
        assert.equal(state.opened, 0, 'not opened before it is prepared');
        ended = endsMeanwhile;
        const all = readAll(r);
        release();
        if (!endsMeanwhile) {
          for (let i = 0; i < 3000 && !state.subscriber; i++) await new Promise((res) => setTimeout(res, 10));
          state.subscriber!(null as never);
        }
        const { complete } = await all;
        assert.ok(complete);
        if (endsMeanwhile) {
          assert.match(text, /event: end\ndata: \{\}\n\n$/);
          assert.equal(state.opened, 0);
        } else {
          assert.match(text, /event: header\n/);
          assert.equal(state.opened, 1);
        }
      } finally {
        await closeServer(server);
      }
    }
  });

  it('a watcher who reads gets the opening, the records and the end', async () => {
    const { feed, state } = fakeFeed();
    const { server, url } = await listen((_req, res) => streamLiveView(feed, log, res));
    try {
      const r = await open(url);
      const all = readAll(r);
      await new Promise((res) => setImmediate(res));
      state.subscriber!('[0.2,"o","world"]\n');
      state.subscriber!(null as never);
      const { text, complete } = await all;
      assert.ok(complete);
      assert.match(text, /^event: header\ndata: \{"version":2,"width":80,"height":24\}\n\ndata: \[0\.1,"o","hello"\]\n\ndata: \[0\.2,"o","world"\]\n\nevent: end\ndata: \{\}\n\n$/);
      assert.equal(state.unsubscribed, 1);
    } finally {
      await closeServer(server);
    }
  });
});

describe('relaying the live view of a session on another node', () => {
  /** The node the session runs on: an event stream it controls; `closed` counts streams whose connection closed. */
  async function owner() {
    const streams: ServerResponse[] = [];
    let closed = 0;
    const { server, url } = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: header\ndata: {}\n\n');
      res.on('close', () => closed++);
      streams.push(res);
    });
    return { server, url, streams, closed: () => closed };
  }

  it('passes a proper end through', async () => {
    const o = await owner();
    const { server, url } = await listen(async (_req, res) => relayLiveView(await open(o.url), res));
    try {
      const r = await open(url);
      const all = readAll(r);
      while (o.streams.length === 0) await new Promise((res) => setTimeout(res, 10));
      o.streams[0]!.write('data: [0.1,"o","hi"]\n\n');
      o.streams[0]!.end('event: end\ndata: {}\n\n');
      const { text, complete } = await all;
      assert.ok(complete, 'ended properly');
      assert.equal(text, 'event: header\ndata: {}\n\ndata: [0.1,"o","hi"]\n\nevent: end\ndata: {}\n\n');
    } finally {
      await closeServer(server);
      await closeServer(o.server);
    }
  });

  it('the other node dying mid-stream cuts the watcher\'s stream (it hung before)', async () => {
    const o = await owner();
    const { server, url } = await listen(async (_req, res) => relayLiveView(await open(o.url), res));
    try {
      const r = await open(url);
      const all = readAll(r);
      while (o.streams.length === 0) await new Promise((res) => setTimeout(res, 10));
      o.streams[0]!.socket!.destroy(); // as kill -9 of that node: its connection reset
      const { text, complete } = await all;
      assert.equal(complete, false, 'cut, not ended: no end event was sent');
      assert.doesNotMatch(text, /event: end/);
    } finally {
      await closeServer(server);
      await closeServer(o.server);
    }
  });

  it('the other node going silent (a machine gone without a FIN) cuts the watcher\'s stream', async () => {
    const o = await owner();
    const { server, url } = await listen(async (_req, res) => relayLiveView(await open(o.url), res, 300));
    try {
      const r = await open(url);
      const { complete } = await readAll(r);
      assert.equal(complete, false);
      await new Promise((res) => setTimeout(res, 50));
      assert.equal(o.closed(), 1, 'the connection to the silent node closed');
    } finally {
      await closeServer(server);
      await closeServer(o.server);
    }
  });

  it('a watcher gone before the other node answered closes the connection to it (it stayed open, paused, for good)', async () => {
    const o = await owner();
    let relayed!: () => void;
    const done = new Promise<void>((r) => (relayed = r));
    const { server, url } = await listen((_req, res) => {
      res.on('close', async () => {
        // The other node answers only now.
        relayLiveView(await open(o.url), res);
        relayed();
      });
    });
    try {
      leaveEarly(url);
      await done;
      while (o.closed() === 0) await new Promise((res) => setTimeout(res, 10));
      assert.equal(o.closed(), 1);
    } finally {
      await closeServer(server);
      await closeServer(o.server);
    }
  });
});

describe('live view and terminate of sessions on other nodes, through the API', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp('sqlite');
  });
  after(async () => {
    await t?.close();
  });

  const liveRow = async (id: string, node: string) => {
    const admin = (await t.core.dir.userByName('admin'))!;
    const at = await t.core.cluster.registry.clock();
    await t.core.store.db
      .insertInto('sessions')
      .values({
        id, userId: admin.id, username: 'admin', secretId: 's1', secretName: 'one', launcherId: 'ssh', protocol: 'ssh', targetHost: '127.0.0.1', targetPort: 22, targetUser: 'u',
        clientIp: '127.0.0.1', door: 'ssh', status: 'live', startedAt: at - 5000, endedAt: null, endReason: null, bytesIn: 0, bytesOut: 0, recording: null, recordingSha256: null, recordKeystrokes: 0, node,
      })
      .execute();
  };
  const status = async (id: string) => (await t.core.store.db.selectFrom('sessions').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;

  it('live view of a session whose node does not answer: 503 node_unreachable with Retry-After, not 500', async () => {
    const { registry } = t.core.cluster;
    const probe = netServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const at = await registry.clock();
    await t.core.store.db.insertInto('clusterNodes').values({ id: 'node-quiet', address: `https://127.0.0.1:${port}`, version: '0.1.0', startedAt: at - 60_000, heartbeatAt: at, load: 1, status: 'up' }).execute();
    await liveRow('sess-quiet', 'node-quiet');
    const peers = new PeerClient(peerTls(await makePeerCert()));
    const app = await buildApp(t.core, { cluster: { forwarding: new ClusterForwarding(t.core.store, registry, peers), peers } });
    try {
      const r = await app.inject({ method: 'GET', url: '/api/v1/sessions/sess-quiet/live', headers: { authorization: `Bearer ${t.adminToken}` } });
      assert.equal(r.statusCode, 503, r.body);
      assert.equal(r.json().error.code, 'node_unreachable');
      assert.match(r.json().error.message, /the gateway node running this session \(node-quiet\) does not answer/);
      const retry = Number(r.headers['retry-after']);
      assert.ok(retry >= 1 && retry <= 30, `Retry-After ${r.headers['retry-after']}`);
    } finally {
      await app.close();
    }
  });

  it('a node relaying a live view from another node stops while the watcher watches (its close waited for the watcher before)', { timeout: 60_000 }, async () => {
    // The other node: an event stream that goes on (its session runs on).
    const streams: ServerResponse[] = [];
    const { server: other, url: otherUrl } = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: header\ndata: {}\n\n');
      streams.push(res);
    });
    const cluster = {
      forwarding: { ownerOf: async () => ({ node: 'node-other', address: otherUrl, heartbeatAt: Date.now() }) },
      peers: { liveView: async () => ({ status: 200, stream: await open(otherUrl) }) },
    } as unknown as NonNullable<Parameters<typeof buildApp>[1]>['cluster'];
    const app = await buildApp(t.core, { cluster });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const port = (app.server.address() as AddressInfo).port;
      const watcher = await new Promise<IncomingMessage>((res, rej) => get({ host: '127.0.0.1', port, path: '/api/v1/sessions/sess-elsewhere/live', headers: { authorization: `Bearer ${t.adminToken}` } }, res).on('error', rej));
      assert.equal(watcher.statusCode, 200);
      const seen = readAll(watcher);
      await once(watcher, 'data');
      const closed = app.close().then(() => 'closed');
      const outcome = await Promise.race([closed, new Promise((r) => setTimeout(() => r('still waiting'), 20_000).unref())]);
      assert.equal(outcome, 'closed', 'the close waits for no relayed watcher');
      const r = await seen;
      assert.equal(r.complete, false, 'the watcher\'s stream is cut (its page says the view was lost)');
      assert.match(r.text, /event: header/);
    } finally {
      for (const s of streams) s.destroy();
      await closeServer(other);
      await app.close();
    }
  });

  it('terminate of a session on a node that never registered, or takes no forwarded calls: 409 node_not_reachable, the session stays live', async () => {
    const { registry } = t.core.cluster;
    const at = await registry.clock();
    await t.core.store.db.insertInto('clusterNodes').values({ id: 'node-no-port', address: null, version: '0.1.0', startedAt: at - 60_000, heartbeatAt: at, load: 1, status: 'up' }).execute();
    await liveRow('sess-unregistered', 'node-never-registered');
    await liveRow('sess-no-port', 'node-no-port');
    t.core.sessions.forwardTo(new ClusterForwarding(t.core.store, registry, new PeerClient(peerTls(await makePeerCert()))));
    const peers = new PeerClient(peerTls(await makePeerCert()));
    const app = await buildApp(t.core, { cluster: { forwarding: new ClusterForwarding(t.core.store, registry, peers), peers } });
    try {
      for (const [id, why] of [
        ['sess-unregistered', /node-never-registered, which is not registered in this cluster/],
        ['sess-no-port', /node-no-port, which takes no calls from other nodes \(no cluster port\)/],
      ] as const) {
        const r = await t.req('POST', `/api/v1/sessions/${id}/terminate`, { token: t.adminToken, body: { reason: 'test' } });
        assert.equal(r.statusCode, 409, r.body);
        assert.equal(r.json().error.code, 'node_not_reachable');
        assert.match(r.json().error.message, why);
        assert.equal(await status(id), 'live', `${id} is not ended by a terminate that could not reach it`);
        // The live view says the same (before: 409 not_live, "replay its recording instead", of a session still running).
        const v = await app.inject({ method: 'GET', url: `/api/v1/sessions/${id}/live`, headers: { authorization: `Bearer ${t.adminToken}` } });
        assert.equal(v.statusCode, 409, v.body);
        assert.equal(v.json().error.code, 'node_not_reachable');
        assert.match(v.json().error.message, why);
      }
    } finally {
      await app.close();
    }
  });
});

describe('the live view of a session that is ending', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp('sqlite');
  });
  after(async () => {
    await t?.close();
  });

  it('is 409 not_live while its recording closes (it is still in the live map then), not a stream that never ends', { timeout: 60_000 }, async () => {
    const plan = await adminSessionPlans(t, 'live-view-ending');
    const s = await t.core.sessions.start(await plan(), { clientIp: '127.0.0.1', door: 'ssh' });
    s.begin({ cols: 80, rows: 24, term: 'xterm' });
    s.output(Buffer.from('hello from the target\r\n'));
    // The recording's close held: the session has begun to end and is still listed as live.
    const cast = s.cast!;
    const close = cast.close.bind(cast);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    cast.close = async () => {
      await held;
      return close();
    };
    const ending = s.end('client_closed');
    try {
      assert.ok(t.core.sessions.live.has(s.id) && s.isEnded);
      // Before: 200, the header and backlog, then nothing (its subscribers were emptied already): no end event, ever.
      const r = await t.req('GET', `/api/v1/sessions/${s.id}/live`, { token: t.adminToken });
      assert.equal(r.statusCode, 409, r.body);
      assert.equal(r.json().error.code, 'not_live');
    } finally {
      release();
      await ending;
    }
  });
});
