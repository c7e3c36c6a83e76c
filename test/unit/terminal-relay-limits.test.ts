// The browser terminal's relay keeps no input it cannot deliver: once it refused the
// connection nothing more is taken (ws still delivers messages while the client leaves the
// close unanswered), input waiting for a target that is not ready yet is capped (past it the
// connection is refused with the reason), and a refused client that does not answer the
// close is cut after a short grace instead of ws's 30 s.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import { MAX_PENDING_INPUT_BYTES, REFUSED_CLOSE_GRACE_MS, relayTerminal, terminalSize, type RelayOptions } from '../../src/web/terminal-relay.js';
import { WebTerminalDoor } from '../../src/protocols/web-terminal.js';
import { MiB, retainedArrayBuffers } from '../support/retained-memory.js';

/** A server-side ws WebSocket whose client never answers a close frame. */
class FakeSocket extends EventEmitter {
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readyState = 1;
  bufferedAmount = 0;
  readonly frames: unknown[] = [];
  readonly closes: { code?: number; reason?: string }[] = [];
  terminated = false;

  send(data: unknown, opts?: unknown, cb?: (err?: Error) => void): void {
    if (this.readyState !== this.OPEN) throw new Error('send on a socket that is not open');
    this.frames.push(typeof data === 'string' ? JSON.parse(data) : data);
    (typeof opts === 'function' ? (opts as (err?: Error) => void) : cb)?.();
  }
  close(code?: number, reason?: string): void {
    this.closes.push({ code, reason });
    if (this.readyState === this.OPEN) this.readyState = this.CLOSING;
  }
  terminate(): void {
    this.terminated = true;
    if (this.readyState === this.CLOSED) return;
    this.readyState = this.CLOSED;
    this.emit('close', 1006, Buffer.alloc(0));
  }
}

const log = { error: () => undefined, warn: () => undefined, info: () => undefined } as unknown as FastifyBaseLogger;
const FRAME_CHARS = 65_000;
/** One input frame as ws delivers it (a Buffer of JSON text): about 64 KiB. */
const inputFrame = Buffer.from(JSON.stringify({ type: 'input', data: 'A'.repeat(FRAME_CHARS) }));

function relay(open: RelayOptions['open']) {
  const socket = new FakeSocket();
  const state = relayTerminal(socket as unknown as WebSocket, { origin: undefined, host: 'gatehouse.test', log }, { door: WebTerminalDoor.open(), term: terminalSize(80, 24), what: 'test terminal', open });
  return { socket, state };
}

const tick = () => new Promise((r) => setImmediate(r));
const errors = (s: FakeSocket) => s.frames.filter((f) => (f as { type?: string }).type === 'error').map((f) => (f as { message: string }).message);

describe('browser terminal relay: input it cannot deliver', () => {
  it('after a refused open (unknown OpenPSM start), 1,000 input frames of 64 KiB are not kept, and the silent client is cut', async () => {
    const { socket, state } = relay(async () => ({ refused: 'this connection request is unknown or has expired: start again from the portal' }));
    await tick();
    assert.deepEqual(errors(socket), ['this connection request is unknown or has expired: start again from the portal']);
    assert.equal(socket.closes[0]?.code, 1008);
    assert.equal(socket.readyState, socket.CLOSING, 'the client has not answered the close');

    const before = retainedArrayBuffers();
    for (let i = 0; i < 1000; i++) socket.emit('message', inputFrame, false);
    const grown = retainedArrayBuffers() - before;
    // 1,000 frames kept would be about 62 MiB.
    assert.ok(grown < 4 * MiB, `ArrayBuffer memory grew by ${(grown / MiB).toFixed(1)} MiB`);
    assert.equal(state.pendingInputBytes, 0);

    // Timers fire in the order they expire: the grace's cut comes first.
    await new Promise((r) => setTimeout(r, REFUSED_CLOSE_GRACE_MS + 200));
    assert.equal(socket.terminated, true, 'a refused client that does not answer the close is cut');
  });

  it('while the session is still opening, input past the cap refuses the connection with the reason', async () => {
    const { socket, state } = relay(() => new Promise(() => undefined)); // never answers
    const fit = Math.floor(MAX_PENDING_INPUT_BYTES / FRAME_CHARS);
    for (let i = 0; i < fit; i++) socket.emit('message', inputFrame, false);
    assert.equal(socket.readyState, socket.OPEN);

    const before = retainedArrayBuffers();
    for (let i = fit; i < 1000; i++) socket.emit('message', inputFrame, false);
    const grown = retainedArrayBuffers() - before;
    assert.equal(socket.readyState, socket.CLOSING, 'the frame past the cap closed the connection');
    assert.match(errors(socket).join('\n'), /too much input before the session was ready/);
    assert.ok(socket.frames.some((f) => (f as { type?: string }).type === 'end'));
    assert.equal(state.pendingInputBytes, 0, 'what was kept is let go');
    assert.ok(grown < 4 * MiB, `ArrayBuffer memory grew by ${(grown / MiB).toFixed(1)} MiB`);

    await new Promise((r) => setTimeout(r, REFUSED_CLOSE_GRACE_MS + 200));
    assert.equal(socket.terminated, true);
  });

  it('input under the cap waits for the target (typing before it is ready is not lost)', () => {
    const { socket, state } = relay(() => new Promise(() => undefined));
    const fit = Math.floor(MAX_PENDING_INPUT_BYTES / FRAME_CHARS);
    for (let i = 0; i < fit; i++) socket.emit('message', inputFrame, false);
    assert.equal(state.pendingInputBytes, fit * FRAME_CHARS);
    assert.equal(socket.readyState, socket.OPEN);
    assert.deepEqual(errors(socket), []);
    socket.terminate(); // the browser leaves: nothing is kept
    assert.equal(state.pendingInputBytes, 0);
  });
});
