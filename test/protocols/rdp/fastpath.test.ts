import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RdpProtocolError } from '../../../src/protocols/rdp/errors.js';
import {
  FASTPATH_FLAGS,
  FASTPATH_UPDATE,
  fastPathLength,
  parseFastPathInputEvents,
  parseFastPathInputHeader,
  parseFastPathOutputHeader,
  parseFastPathUpdates,
} from '../../../src/protocols/rdp/pdu/fastpath.js';
import { hex } from './fixtures.js';

const isError = (reason: string) => (e: unknown) => e instanceof RdpProtocolError && e.reason === reason;

describe('fast-path', () => {
  it('reads 1- and 2-byte lengths, and waits for more bytes', () => {
    assert.deepEqual(fastPathLength(hex('4407')), { length: 7, headerLength: 2 });
    assert.deepEqual(fastPathLength(hex('448123')), { length: 0x123, headerLength: 3 });
    assert.equal(fastPathLength(hex('44')), undefined);
    assert.equal(fastPathLength(hex('4481')), undefined);
    assert.throws(() => fastPathLength(hex('4401')), isError('malformed'));
  });

  it('parses input: count in the header, events of every kind', () => {
    // 7 events: scancode release of 0x1e, mouse move, mousex, sync, unicode 'é', relative mouse, QoE timestamp.
    const events = hex(`
      01 1e
      20 0008 6400 c800
      40 0080 0100 0200
      63
      80 e900
      a0 0008 fbff 0500
      c0 78563412`);
    const frame = Buffer.concat([Buffer.from([0x00 | (7 << 2), 2 + events.length]), events]);
    const h = parseFastPathInputHeader(frame);
    assert.deepEqual({ action: h.action, numEvents: h.numEvents, flags: h.flags, length: h.length, bodyOffset: h.bodyOffset }, { action: 0, numEvents: 7, flags: 0, length: frame.length, bodyOffset: 2 });
    assert.deepEqual(parseFastPathInputEvents(frame, h), [
      { type: 'scancode', flags: 1, keyCode: 0x1e },
      { type: 'mouse', flags: 0, pointerFlags: 0x0800, x: 100, y: 200 },
      { type: 'mousex', flags: 0, pointerFlags: 0x8000, x: 1, y: 2 },
      { type: 'sync', flags: 3 },
      { type: 'unicode', flags: 0, unicodeCode: 0xe9 },
      { type: 'relative-mouse', flags: 0, pointerFlags: 0x0800, dx: -5, dy: 5 },
      { type: 'qoe-timestamp', flags: 0, timestamp: 0x12345678 },
    ]);
  });

  it('reads numEvents from its own byte when the header says 0, and with a 2-byte length', () => {
    const events = Buffer.concat(Array.from({ length: 20 }, () => hex('01 1e')));
    const frame = Buffer.concat([Buffer.from([0x00, 0x80, 3 + 1 + events.length, 20]), events]);
    const h = parseFastPathInputHeader(frame);
    assert.equal(h.numEvents, 20);
    assert.equal(h.bodyOffset, 4);
    assert.equal(parseFastPathInputEvents(frame, h).length, 20);
  });

  it('skips the signature of encrypted PDUs, and refuses to decode their events', () => {
    const frame = Buffer.concat([Buffer.from([0x80 | (1 << 2), 12]), Buffer.alloc(8, 0xaa), hex('011e')]);
    const h = parseFastPathInputHeader(frame);
    assert.equal(h.flags, FASTPATH_FLAGS.ENCRYPTED);
    assert.deepEqual(h.dataSignature, Buffer.alloc(8, 0xaa));
    assert.equal(h.bodyOffset, 10);
    assert.throws(() => parseFastPathInputEvents(frame, h), isError('unsupported'));
    const fips = Buffer.concat([Buffer.from([0x80 | (1 << 2), 16]), hex('10000101'), Buffer.alloc(8, 0xaa), hex('011e')]);
    assert.equal(parseFastPathInputHeader(fips, { fips: true }).bodyOffset, 14);
  });

  it('parses output updates, with and without compression flags', () => {
    const updates = Buffer.concat([hex('03 0000'), hex('81 61 0400 deadbeef'), hex('05 0000')]);
    const frame = Buffer.concat([Buffer.from([0x00, 2 + updates.length]), updates]);
    const h = parseFastPathOutputHeader(frame);
    assert.equal(h.bodyOffset, 2);
    const u = parseFastPathUpdates(frame, h);
    assert.deepEqual(
      u.map((x) => [x.updateCode, x.fragmentation, x.compression, x.compressionFlags, x.data.toString('hex')]),
      [
        [FASTPATH_UPDATE.SYNCHRONIZE, 0, 0, undefined, ''],
        [FASTPATH_UPDATE.BITMAP, 0, 2, 0x61, 'deadbeef'],
        [FASTPATH_UPDATE.PTR_NULL, 0, 0, undefined, ''],
      ],
    );
  });

  it('is robust to truncation and wrong lengths', () => {
    const frame = Buffer.concat([Buffer.from([0x04, 4]), hex('011e')]);
    assert.throws(() => parseFastPathInputHeader(frame.subarray(0, 3)), isError('truncated'));
    assert.throws(() => parseFastPathInputHeader(frame.subarray(0, 1)), isError('truncated'));
    assert.throws(() => parseFastPathInputHeader(Buffer.alloc(0)), isError('truncated'));
    assert.throws(() => parseFastPathInputHeader(Buffer.concat([frame, Buffer.alloc(1)])), isError('malformed'));
    assert.throws(() => parseFastPathInputHeader(hex('0300000b')), isError('unexpected'));
    const missing = Buffer.from([0x08, 4, 0x01, 0x1e]); // two events announced, one present
    assert.throws(() => parseFastPathInputEvents(missing, parseFastPathInputHeader(missing)), isError('truncated'));
    const extra = Buffer.from([0x04, 5, 0x01, 0x1e, 0x00]);
    assert.throws(() => parseFastPathInputEvents(extra, parseFastPathInputHeader(extra)), isError('malformed'));
    const badCode = Buffer.from([0x04, 3, 0xe0]);
    assert.throws(() => parseFastPathInputEvents(badCode, parseFastPathInputHeader(badCode)), isError('malformed'));
    const shortUpdate = Buffer.from([0x00, 6, 0x01, 0x10, 0x00, 0xaa]);
    assert.throws(() => parseFastPathUpdates(shortUpdate, parseFastPathOutputHeader(shortUpdate)), isError('truncated'));
  });
});
