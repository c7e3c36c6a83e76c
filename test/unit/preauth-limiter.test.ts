// The pre-authentication gate on its own, on a loopback listener: refusals are logged as one
// line and then one summary per interval with the counts, never one line per connection;
// done() frees the slot; close() ends the startups still open.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.js';
import { PreauthGate, type Startup } from '../../src/protocols/preauth-limiter.js';

async function listen(gate: PreauthGate, onAdmit: (s: Startup, sock: Socket) => void = () => {}) {
  const server = createServer((sock) => {
    const s = gate.admit(sock, sock.remoteAddress ?? '');
    if (s) onAdmit(s, sock);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

/** A client socket that never speaks; `closed` resolves when it is closed. */
function client(port: number): { sock: Socket; closed: Promise<void> } {
  const sock = connect(port, '127.0.0.1');
  sock.on('error', () => undefined);
  return { sock, closed: new Promise((r) => sock.once('close', () => r())) };
}

async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(pred(), what);
}

describe('pre-authentication gate', () => {
  it('logs a flood of refusals as one line and one summary with the counts', async () => {
    let out = '';
    const log = createLogger({ level: 'info', stream: new Writable({ write: (c, _e, cb) => ((out += c.toString()), cb()) }) });
    const gate = new PreauthGate('test', { graceMs: 0, maxStartups: 100, maxPerSource: 2 }, log);
    const { server, port } = await listen(gate);
    const conns = Array.from({ length: 30 }, () => client(port));
    await until(() => gate.stats().refusedPerSource === 28, '28 refusals');
    assert.equal(out.trim().split('\n').length, 1, out);
    // The summary is due a minute after the first refusal, or at close.
    gate.close();
    const lines = out.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 2, out);
    assert.match(lines[0].msg, /test door: refused a connection: 2 unauthenticated connections from 127\.0\.0\.1 are open \(per-source limit\)/);
    assert.equal(lines[1].refusedPerSource, 27);
    assert.deepEqual(lines[1].sources, ['127.0.0.1']);
    await Promise.all(conns.map((c) => c.closed));
    assert.equal(gate.stats().pending, 0);
    server.close();
  });

  it('counts sources as the sign-in limits do: the addresses of one IPv6 /64 are one source, an IPv4-mapped address is its IPv4 address', async () => {
    const log = createLogger({ level: 'silent' });
    const gate = new PreauthGate('test', { graceMs: 0, maxStartups: 100, maxPerSource: 10 }, log);
    // The peer address is injected (the connections are loopback IPv4): each connection takes the next.
    const addrs: string[] = [];
    const admitted: Socket[] = [];
    const server = createServer((sock) => {
      if (gate.admit(sock, addrs.shift()!)) admitted.push(sock);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const conns: ReturnType<typeof client>[] = [];
    for (let i = 1; i <= 11; i++) {
      addrs.push(`2001:db8:0:1::${i.toString(16)}`);
      conns.push(client(port));
      await until(() => gate.stats().admitted + gate.stats().refusedPerSource === i, `connection ${i} decided`);
    }
    assert.equal(gate.stats().admitted, 10);
    assert.equal(gate.stats().refusedPerSource, 1, 'the 11th address of the /64 is refused');
    addrs.push('2001:db8:0:2::1');
    conns.push(client(port));
    await until(() => gate.stats().admitted === 11, 'another /64 is another source');
    // 127.0.0.1 and ::ffff:127.0.0.1 count as one.
    for (let i = 1; i <= 10; i++) {
      addrs.push(i % 2 ? '127.0.0.1' : '::ffff:127.0.0.1');
      conns.push(client(port));
      await until(() => gate.stats().admitted === 11 + i, `IPv4 connection ${i} admitted`);
    }
    addrs.push('::ffff:127.0.0.1');
    conns.push(client(port));
    await until(() => gate.stats().refusedPerSource === 2, 'the 11th from 127.0.0.1 in either spelling is refused');
    assert.equal(gate.stats().pending, 21);
    gate.close();
    await Promise.all(conns.map((c) => c.closed));
    server.close();
  });

  it('a client that goes frees its slot; done() frees it at once; close() ends the startups still open', async () => {
    const log = createLogger({ level: 'silent' });
    const startups: Startup[] = [];
    const gate = new PreauthGate('test', { graceMs: 60_000, maxStartups: 1, maxPerSource: 1 }, log);
    const { server, port } = await listen(gate, (s) => startups.push(s));
    const gone = client(port);
    await until(() => startups.length === 1, 'the first admitted');
    gone.sock.destroy();
    await until(() => gate.stats().pending === 0, 'the slot freed when the client went');
    const a = client(port);
    await until(() => startups.length === 2, 'the next admitted');
    const b = client(port);
    await b.closed;
    assert.equal(gate.stats().refusedTotal, 1);
    startups[1]!.done();
    assert.equal(gate.stats().pending, 0);
    const c = client(port);
    await until(() => startups.length === 3, 'the next admitted after done()');
    gate.close();
    // a authenticated (done), so close() leaves it; c was still a startup, so it is closed.
    await c.closed;
    assert.equal(a.sock.destroyed, false);
    a.sock.destroy();
    server.close();
  });
});
