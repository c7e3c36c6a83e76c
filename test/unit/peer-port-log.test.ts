// The cluster port (node-to-node mutual TLS, src/web/peer/server.ts) logs failed handshakes at
// most once a minute, with a count: before, every connection from something that is not a node
// (a scanner, a client pointed at the wrong port) wrote a warning, so anyone who could reach
// the port could fill the log.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { makePeerCert, peerTls } from '../../src/web/peer/cert.js';
import { PeerServer } from '../../src/web/peer/server.js';

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
});
