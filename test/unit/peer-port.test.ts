// The cluster port (node-to-node mutual TLS, src/web/peer/server.ts):
// - it logs failed handshakes at most once a minute, with a count: before, every connection
//   from something that is not a node (a scanner, a client pointed at the wrong port) wrote a
//   warning, so anyone who could reach the port could fill the log;
// - a call names the node it is meant for, and a node refuses one meant for another (421): an
//   address taken over by another node (a replacement host) answered 404 for the first node's
//   session, which the asking node took for "already ended" while it ran on;
// - it closes at once with a connection still in its TLS handshake.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { connect as netConnect } from 'node:net';
import { once } from 'node:events';
import { makePeerCert, peerTls } from '../../src/web/peer/cert.js';
import { PeerServer } from '../../src/web/peer/server.js';
import { PeerClient } from '../../src/web/peer/client.js';

describe('the cluster port\'s log of failed handshakes', () => {
  it('twenty handshakes without the cluster certificate: one warning, not twenty', async () => {
    const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
    const log = { warn: (obj: Record<string, unknown>, msg: string) => void warnings.push({ obj, msg }), info: () => undefined, error: () => undefined, debug: () => undefined };
    const server = new PeerServer(null as never, peerTls(await makePeerCert()), log as never);
    const port = await server.listen(0, '127.0.0.1');
    try {
      for (let i = 0; i < 20; i++) {
        // No client certificate: the server refuses the handshake.
        await new Promise<void>((res) => {
          const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
          s.on('error', () => res());
          s.on('close', () => res());
          s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
        });
      }
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.match(warnings[0]!.msg, /connections to the cluster port failed TLS/);
      assert.equal(warnings[0]!.obj.failed, 1);
    } finally {
      await server.close();
    }
  });

  it('closes with a connection still in its handshake (a scanner that sent nothing): it waited for the 120 s handshake timeout before', { timeout: 60_000 }, async () => {
    const log = { warn: () => undefined, info: () => undefined, error: () => undefined, debug: () => undefined };
    const server = new PeerServer(null as never, peerTls(await makePeerCert()), log as never);
    const port = await server.listen(0, '127.0.0.1');
    const silent = netConnect(port, '127.0.0.1');
    silent.on('error', () => undefined);
    await once(silent, 'connect');
    const gone = once(silent, 'close');
    const outcome = await Promise.race([server.close().then(() => 'closed'), new Promise((r) => setTimeout(() => r('still waiting'), 20_000).unref())]);
    assert.equal(outcome, 'closed');
    await gone;
  });

  it('a call meant for another node is refused (421), and the caller hears that it did not reach that node', async () => {
    const tls = peerTls(await makePeerCert());
    const terminated: string[] = [];
    const core = {
      cluster: { registry: { self: 'node-new' } },
      sessions: {
        terminate: async (_actor: unknown, id: string) => {
          terminated.push(id);
        },
      },
    };
    const log = { warn: () => undefined, info: () => undefined, error: () => undefined, debug: () => undefined };
    const server = new PeerServer(core as never, tls, log as never);
    const port = await server.listen(0, '127.0.0.1');
    const address = `https://127.0.0.1:${port}`;
    const client = new PeerClient(tls);
    const actor = { id: 'u1', name: 'admin', ip: '127.0.0.1' };
    try {
      await assert.rejects(client.terminate({ node: 'node-old', address }, actor, 'sess-1', 'test'), /the address https:\/\/127\.0\.0\.1:\d+ is another gateway node's now, not node-old's/);
      await assert.rejects(client.liveView({ node: 'node-old', address }, actor, 'sess-1'), /another gateway node's now/);
      assert.deepEqual(terminated, [], 'nothing done for a call meant for another node');
      assert.equal(await client.terminate({ node: 'node-new', address }, actor, 'sess-2', 'test'), true);
      assert.deepEqual(terminated, ['sess-2']);
    } finally {
      await server.close();
    }
  });
});
