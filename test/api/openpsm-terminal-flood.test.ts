// The OpenPSM browser terminal needs no sign-in (the start id is the capability), so what it
// does for anyone must stay small: a client that opens it for an unknown start is refused
// (error frame, close 1008), and if it then leaves the close unanswered and keeps sending
// input frames, the gateway keeps none of them and cuts the socket after a short grace.
// A raw WebSocket client (the ws package would answer the close frame).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import tls from 'node:tls';
import { startGateway, type Gateway } from '../support/gateway.js';
import { MiB, retainedArrayBuffers } from '../support/retained-memory.js';

/** One masked client frame (RFC 6455 §5.2); the mask is fixed, the server does not care. */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len]) : len < 65536 ? Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff]) : null;
  if (!head) throw new Error('frame too large for this test');
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = payload[i]! ^ mask[i & 3]!;
  return Buffer.concat([head, mask, body]);
}

/** Server frames (unmasked) from a byte stream: opcode and payload. */
function* serverFrames(buf: Buffer): Generator<{ opcode: number; payload: Buffer; end: number }> {
  let at = 0;
  while (buf.length - at >= 2) {
    const opcode = buf[at]! & 0x0f;
    let len = buf[at + 1]! & 0x7f;
    let off = at + 2;
    if (len === 126) {
      if (buf.length < off + 2) return;
      len = buf.readUInt16BE(off);
      off += 2;
    } else if (len === 127) {
      if (buf.length < off + 8) return;
      len = Number(buf.readBigUInt64BE(off));
      off += 8;
    }
    if (buf.length < off + len) return;
    at = off + len;
    yield { opcode, payload: buf.subarray(off, off + len), end: at };
  }
}

describe('OpenPSM browser terminal: a refused client that floods', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway('sqlite');
  });
  after(async () => {
    await gw?.close();
  });

  it('keeps none of 1,000 input frames of 64 KiB sent after the refusal, and cuts the client that does not answer the close', async () => {
    const port = Number(new URL(gw.running.url).port);
    const sock = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    await once(sock, 'secureConnect');
    const closed = once(sock, 'close');
    sock.on('error', () => undefined); // writes after the cut fail; that is the point
    sock.write(
      [`GET /api/v1/openpsm/starts/${randomUUID()}/terminal HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13', '', ''].join('\r\n'),
    );
    // The upgrade, then the error frame and the close frame: never answered.
    let buf = Buffer.alloc(0);
    const messages: string[] = [];
    let closeCode = 0;
    let upgraded = false;
    while (!closeCode) {
      const [chunk] = (await once(sock, 'data')) as [Buffer];
      buf = Buffer.concat([buf, chunk]);
      if (!upgraded) {
        const endOfHead = buf.indexOf('\r\n\r\n');
        if (endOfHead < 0) continue;
        assert.match(buf.subarray(0, endOfHead).toString(), /^HTTP\/1\.1 101 /);
        buf = buf.subarray(endOfHead + 4);
        upgraded = true;
      }
      let used = 0;
      for (const f of serverFrames(buf)) {
        used = f.end;
        if (f.opcode === 1) messages.push(f.payload.toString());
        if (f.opcode === 8) closeCode = f.payload.readUInt16BE(0);
      }
      buf = buf.subarray(used);
    }
    assert.equal(closeCode, 1008);
    assert.match(JSON.parse(messages[0]!).message, /unknown or has expired/);

    const frame = clientFrame(1, Buffer.from(JSON.stringify({ type: 'input', data: 'A'.repeat(65_000) })));
    const base = retainedArrayBuffers();
    let sent = 0;
    for (; sent < 1000 && !sock.destroyed; sent++) {
      if (!sock.write(frame)) await Promise.race([once(sock, 'drain'), closed]);
    }
    // Let the gateway (in this process) read and parse what it was sent.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    const grown = retainedArrayBuffers() - base;
    // Kept, the frames sent would be about 62 MiB.
    assert.ok(grown < 8 * MiB, `ArrayBuffer memory grew by ${(grown / MiB).toFixed(1)} MiB after ${sent} frames`);
    // The gateway cuts the client (after REFUSED_CLOSE_GRACE_MS, not ws's 30 s).
    await closed;
  });
});
