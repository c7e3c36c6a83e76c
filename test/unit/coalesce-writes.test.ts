// Coalesced socket writes (protocols/coalesce-writes.ts): what is written during one turn
// of the event loop is held and leaves in one go at the end of the turn, in order; end()
// and destroy() in the same turn still send everything; sizes, not times, are checked.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { coalesceWrites } from '../../src/protocols/coalesce-writes.js';

/** A loopback server that collects what one connection sends until it ends. */
async function collector(): Promise<{ server: Server; port: number; received: Promise<Buffer> }> {
  let deliver!: (b: Buffer) => void;
  const received = new Promise<Buffer>((r) => (deliver = r));
  const server = createServer((s) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('error', () => undefined);
    s.on('close', () => deliver(Buffer.concat(parts)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, received };
}

const connected = (port: number) =>
  new Promise<Socket>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });

/** Chunks whose bytes name their index and position, so order and completeness show. */
const chunks = (n: number, size: number) => Array.from({ length: n }, (_, i) => Buffer.alloc(size, i % 251));

describe('coalesced socket writes', () => {
  it('hold the writes of one turn and send them together, in order', async () => {
    const c = await collector();
    const sock = coalesceWrites(await connected(c.port));
    assert.equal(coalesceWrites(sock), sock, 'installing twice changes nothing');
    let writevCalls = 0;
    let writeCalls = 0;
    const internals = sock as unknown as { _writev: (...a: unknown[]) => unknown; _write: (...a: unknown[]) => unknown };
    const writev = internals._writev.bind(sock);
    const write = internals._write.bind(sock);
    internals._writev = (...a: unknown[]) => (writevCalls++, writev(...a));
    internals._write = (...a: unknown[]) => (writeCalls++, write(...a));
    const sent = chunks(100, 1000);
    for (const b of sent) sock.write(b);
    // Nothing has gone to the socket yet: held until the turn ends.
    assert.equal(sock.writableCorked, 1);
    assert.equal(sock.writableLength, 100 * 1000);
    assert.equal(writevCalls + writeCalls, 0);
    await new Promise((r) => setImmediate(r));
    assert.equal(sock.writableCorked, 0);
    assert.equal(writevCalls, 1, 'one writev for the whole turn');
    assert.equal(writeCalls, 0);
    // A later turn is held again, on its own.
    sock.write(Buffer.from('next turn'));
    assert.equal(sock.writableCorked, 1);
    sock.end();
    const got = await c.received;
    assert.deepEqual(got, Buffer.concat([...sent, Buffer.from('next turn')]));
    c.server.close();
  });

  it('send what was written before end() or destroy() in the same turn', async () => {
    for (const how of ['end', 'destroy'] as const) {
      const c = await collector();
      const sock = coalesceWrites(await connected(c.port));
      // Small enough for the kernel to take at once: what destroy() leaves queued in the
      // process is lost with or without coalescing.
      const sent = chunks(16, 1000);
      for (const b of sent) sock.write(b);
      if (how === 'end') sock.end();
      else sock.destroy();
      const got = await c.received;
      assert.equal(got.length, 16 * 1000, how);
      assert.deepEqual(got, Buffer.concat(sent), how);
      c.server.close();
    }
  });

  it('keep a cork of someone else', async () => {
    const c = await collector();
    const sock = coalesceWrites(await connected(c.port));
    sock.cork();
    sock.write(Buffer.from('a'));
    assert.equal(sock.writableCorked, 2);
    await new Promise((r) => setImmediate(r));
    assert.equal(sock.writableCorked, 1, 'only its own cork is taken off');
    sock.uncork();
    sock.end();
    assert.deepEqual(await c.received, Buffer.from('a'));
    c.server.close();
  });
});
