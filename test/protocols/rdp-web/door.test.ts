// The browser RDP door as a front door, with real WebSockets on loopback: it takes
// connections only while started and only with a certificate to show, reports them in its
// health, and closing it ends the connections it still holds. The certificate chain it
// shows in RDCleanPath is the PEM chain as DER, leaf first.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { X509Certificate } from 'node:crypto';
import WebSocket, { WebSocketServer } from 'ws';
import { createLogger } from '../../../src/log.js';
import type { SessionBroker } from '../../../src/core/broker.js';
import { pemChainToDer, WebRdpDoor } from '../../../src/protocols/rdp-web/door.js';
import { loadTls } from '../../../src/tls.js';

const log = createLogger({ level: 'silent', stream: new Writable({ write: (_c, _e, cb) => cb() }) });
// No connection gets as far as a ticket here, so the broker is never asked.
const broker = {} as SessionBroker;

describe('the browser RDP door', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-webrdp-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('shows the PEM chain as DER, leaf first', async () => {
    const tls = await loadTls(dir, {});
    const chain = pemChainToDer(`${tls.cert}\n${tls.cert}`);
    assert.equal(chain.length, 2);
    assert.deepEqual(chain[0], new X509Certificate(tls.cert).raw);
    assert.deepEqual(pemChainToDer('not a certificate'), []);
  });

  it('takes connections only while started and with a certificate; closing ends those it holds', async () => {
    const tls = await loadTls(dir, {});
    const door = new WebRdpDoor({ broker, log, cert: tls.cert, handshakeTimeoutMs: 30_000 });
    const noCert = WebRdpDoor.open({ broker, log });
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const accepted: boolean[] = [];
    let which: WebRdpDoor = door;
    wss.on('connection', (ws) => {
      const ok = which.accept(ws, { clientIp: '127.0.0.1', consented: false });
      accepted.push(ok);
      if (!ok) ws.close(1013);
    });
    const port = (wss.address() as { port: number }).port;
    const open = () =>
      new Promise<{ ws: WebSocket; closed: Promise<number> }>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}`);
        const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
        ws.once('open', () => resolve({ ws, closed }));
        ws.once('error', reject);
      });
    try {
      assert.equal(door.health().listening, false);
      const before = await open();
      assert.equal(await before.closed, 1013, 'a door not started refuses');
      await door.start();
      assert.equal(door.health().listening, true);
      const held = await open();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(door.health().connections, 1);
      await door.close();
      assert.notEqual(await held.closed, 0, 'closing the door ends the connection');
      assert.equal(door.health().connections, 0);
      assert.equal(door.health().listening, false);
      which = noCert;
      assert.equal(noCert.health().listening, false, 'without a certificate it cannot serve');
      const refused = await open();
      assert.equal(await refused.closed, 1013);
      assert.deepEqual(accepted, [false, true, false]);
    } finally {
      await new Promise<void>((r) => wss.close(() => r()));
    }
  });
});
