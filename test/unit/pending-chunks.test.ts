// A recording file's batch (pending-chunks.ts): chunks copied in as they come (the caller may
// reuse its memory at once), taken whole and in order, flushed at the byte bound or by the
// timer, in shared memory only for the writer thread, grown without losing what it holds.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { PendingChunks } from '../../src/core/sessions/pending-chunks.js';

describe('a recording batch', () => {
  it('copies each chunk at add, so the caller may write its memory again; take gives them in order and forgets them', () => {
    const p = new PendingChunks(1 << 20, 60_000, () => undefined);
    const scratch = Buffer.from('first line\n');
    p.add(scratch);
    scratch.write('XXXXX'); // the caller reuses its scratch at once (asciicast-line.ts does)
    p.add(Buffer.from('second\n'));
    assert.equal(Buffer.concat(p.held).toString(), 'first line\nsecond\n');
    const got = p.take();
    assert.equal(got?.toString(), 'first line\nsecond\n');
    assert.equal(p.take(), null, 'nothing held after take');
    assert.deepEqual(p.held, []);
    p.add(Buffer.from('third'));
    assert.equal(got?.toString(), 'first line\nsecond\n', 'a taken batch is never written again');
    p.discard();
    assert.equal(p.take(), null, 'discard drops what was held');
  });

  it('flushes once the byte bound is reached, else by the timer', async () => {
    const flushed: string[] = [];
    const p: PendingChunks = new PendingChunks(10, 20, () => flushed.push(p.take()?.toString() ?? ''));
    p.add(Buffer.from('12345'));
    assert.deepEqual(flushed, []);
    p.add(Buffer.from('67890ab'));
    assert.deepEqual(flushed, ['1234567890ab'], 'at the bound, at once');
    p.add(Buffer.from('tail'));
    await sleep(80);
    assert.deepEqual(flushed, ['1234567890ab', 'tail'], 'the rest by the timer');
  });

  it('gathers in the memory its file gives (shared memory when the batch goes to the writer thread)', () => {
    let toThread = false;
    const p = new PendingChunks(1 << 20, 60_000, () => undefined, (n) => (toThread ? Buffer.from(new SharedArrayBuffer(n)) : Buffer.allocUnsafe(n)));
    p.add(Buffer.from('plain'));
    assert.ok(!(p.take()!.buffer instanceof SharedArrayBuffer));
    toThread = true;
    p.add(Buffer.from('shared'));
    const b = p.take()!;
    assert.ok(b.buffer instanceof SharedArrayBuffer);
    assert.equal(b.toString(), 'shared');
  });

  it('grows past any chunk size without losing what it holds; a burst starts its next batch at the size the last one reached', () => {
    const p = new PendingChunks(1 << 20, 60_000, () => undefined, (n) => Buffer.from(new SharedArrayBuffer(n)));
    const parts = [Buffer.alloc(100, 1), Buffer.alloc(300_000, 2), Buffer.alloc(7, 3), Buffer.alloc(900_000, 4)];
    for (const c of parts) p.add(c);
    assert.deepEqual(p.take(), Buffer.concat(parts));
    // A steady burst of 40 KiB lines: the second batch is gathered in one buffer from its start.
    const line = Buffer.alloc(40_000, 0x61);
    const q = new PendingChunks(200_000, 60_000, () => undefined, (n) => Buffer.from(new SharedArrayBuffer(n)));
    for (let i = 0; i < 5; i++) q.add(line);
    const first = q.take()!;
    for (let i = 0; i < 5; i++) q.add(line);
    const second = q.take()!;
    assert.equal(second.length, first.length);
    assert.ok(second.buffer.byteLength >= second.length && second.buffer.byteLength <= 2 * second.length, `one buffer sized from the last batch (${second.buffer.byteLength})`);
  });
});
