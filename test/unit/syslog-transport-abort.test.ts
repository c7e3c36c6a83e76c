// A syslog sink's connection at stop (syslog-transport.ts): close() ends the connection after
// what was written and waits for the collector to close its side; abort() (stop's drain time
// ran out) must end that wait too. Before, close() let go of its socket first, so abort() found
// none and the stop waited out close()'s own 5 s past the drain. A real collector on loopback
// that reads and never closes; close()'s wait is made endless here, so only abort() ends it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { DEFAULTS } from '../../src/core/audit/streaming/config.js';
import type { StreamedEvent } from '../../src/core/audit/streaming/event.js';
import { SyslogTransport } from '../../src/core/audit/streaming/syslog-transport.js';

describe('a syslog connection closing at stop', () => {
  let server: Server;
  let port = 0;
  const held: Socket[] = [];
  let received = '';
  before(async () => {
    server = createServer({ allowHalfOpen: true }, (s) => {
      held.push(s);
      // Half-open is kept: the collector never ends its side.
      s.on('data', (d) => (received += d.toString()));
      s.on('end', () => undefined);
    });
    server.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    for (const s of held) s.destroy();
    await new Promise((r) => server.close(r));
  });

  it('abort() ends a close() waiting for a collector that never closes its side', { timeout: 60_000 }, async () => {
    const t = new SyslogTransport({ ...DEFAULTS, host: '127.0.0.1', port, url: null }, {}, { facility: 13, hostname: 'gh-test' }, 2 ** 31 - 1);
    const e: StreamedEvent = { seq: 1, ts: Date.now(), actorId: null, actorName: 'system', action: 'test.close', targetType: null, targetId: null, ip: null, outcome: 'success', details: '{}', prevHash: '0'.repeat(64), hash: '1'.repeat(64) };
    await t.send([e], []);
    let closed = false;
    const closing = t.close().then(() => (closed = true));
    // The collector got the batch and the FIN; close() now waits for its side.
    for (let i = 0; i < 3000 && !received.includes('test.close'); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(received.includes('test.close'), 'the batch reached the collector');
    assert.equal(closed, false, 'close() waits for the collector');
    t.abort();
    await closing;
    assert.equal(closed, true);
  });
});
