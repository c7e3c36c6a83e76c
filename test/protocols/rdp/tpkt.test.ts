import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RdpProtocolError } from '../../../src/protocols/rdp/errors.js';
import { buildTpkt, RdpFramer, tpktPayload, type RdpFrame } from '../../../src/protocols/rdp/pdu/tpkt.js';
import { buildPreconnectionPdu } from '../../../src/protocols/rdp/pdu/preconnection.js';
import { buildConnectionRequest, buildDataTpdu } from '../../../src/protocols/rdp/pdu/x224.js';
import { hex, rng } from './fixtures.js';

const isError = (reason: string, layer?: string) => (e: unknown) => e instanceof RdpProtocolError && e.reason === reason && (!layer || e.layer === layer);

function fastPath(body: Buffer, twoByteLength = false): Buffer {
  const len = body.length + (twoByteLength || body.length + 2 > 0x7f ? 3 : 2);
  const head = len > 0x7f || twoByteLength ? Buffer.from([0x04, 0x80 | (len >> 8), len & 0xff]) : Buffer.from([0x04, len]);
  return Buffer.concat([head, body]);
}

const describeFrames = (frames: RdpFrame[]) => frames.map((f) => `${f.kind}:${f.data.toString('hex')}`);

describe('TPKT', () => {
  it('wraps and checks payloads', () => {
    const t = buildTpkt(Buffer.from([0x02, 0xf0, 0x80]));
    assert.equal(t.toString('hex'), '0300000702f080');
    assert.deepEqual(tpktPayload(t), Buffer.from([0x02, 0xf0, 0x80]));
    assert.throws(() => tpktPayload(hex('0300000802f080')), isError('truncated'));
    assert.throws(() => tpktPayload(hex('0300000602f080')), isError('malformed'));
    assert.throws(() => buildTpkt(Buffer.alloc(0xffff)), RangeError);
  });
});

describe('RDP framer', () => {
  const frames = [buildConnectionRequest({ requestedProtocols: 1 }), buildDataTpdu(Buffer.alloc(300, 7)), fastPath(Buffer.alloc(5, 1)), fastPath(Buffer.alloc(200, 2)), fastPath(Buffer.alloc(3, 3), true)];
  const stream = Buffer.concat(frames);

  it('cuts a stream into TPKT and fast-path frames (1- and 2-byte lengths)', () => {
    const out = new RdpFramer().push(stream);
    assert.deepEqual(
      out.map((f) => f.kind),
      ['tpkt', 'tpkt', 'fastpath', 'fastpath', 'fastpath'],
    );
    assert.deepEqual(
      out.map((f) => f.data),
      frames,
    );
  });

  it('gives the same frames however the stream is chunked', () => {
    const expected = describeFrames(new RdpFramer().push(stream));
    const next = rng(7);
    for (let round = 0; round < 200; round++) {
      const f = new RdpFramer();
      const got: RdpFrame[] = [];
      for (let pos = 0; pos < stream.length; ) {
        const n = round === 0 ? 1 : 1 + Math.floor(next() * 64);
        got.push(...f.push(stream.subarray(pos, pos + n)));
        pos += n;
      }
      assert.deepEqual(describeFrames(got), expected);
      assert.equal(f.buffered, 0);
    }
  });

  it('holds a partial frame and reports what it buffers', () => {
    const f = new RdpFramer();
    assert.deepEqual(f.push(frames[1]!.subarray(0, 3)), []);
    assert.equal(f.buffered, 3);
    assert.equal(f.push(frames[1]!.subarray(3)).length, 1);
    assert.equal(f.buffered, 0);
  });

  it('takes a preconnection PDU as the first frame only', () => {
    const pcb = buildPreconnectionPdu({ id: 0, pcb: 'TICKET' });
    const f = new RdpFramer({ preconnection: true });
    const out = f.push(Buffer.concat([pcb, frames[0]!]));
    assert.deepEqual(
      out.map((x) => x.kind),
      ['preconnection', 'tpkt'],
    );
    assert.deepEqual(out[0]!.data, pcb);
    // Without one the first TPKT passes as usual, and a later non-TPKT is fast-path.
    const g = new RdpFramer({ preconnection: true });
    assert.deepEqual(
      g.push(Buffer.concat([frames[0]!, frames[2]!])).map((x) => x.kind),
      ['tpkt', 'fastpath'],
    );
  });

  it('bounds buffering by the maximum frame size', () => {
    assert.throws(() => new RdpFramer({ maxFrameSize: 1000 }).push(hex('0300ffff')), isError('too_large', 'tpkt'));
    assert.throws(() => new RdpFramer({ maxFrameSize: 1000 }).push(hex('04 83 e9')), isError('too_large', 'fastpath'));
    assert.throws(() => new RdpFramer({ preconnection: true }).push(hex('ffffff7f')), isError('too_large', 'preconnection'));
  });

  it('refuses impossible headers', () => {
    assert.throws(() => new RdpFramer().push(hex('03000003')), isError('malformed', 'tpkt'));
    assert.throws(() => new RdpFramer().push(hex('07000010')), isError('malformed', 'tpkt'));
    assert.throws(() => new RdpFramer().push(hex('0401')), isError('malformed', 'fastpath'));
    assert.throws(() => new RdpFramer().push(hex('048002')), isError('malformed', 'fastpath'));
    assert.throws(() => new RdpFramer({ preconnection: true }).push(hex('08000000')), isError('malformed', 'preconnection'));
  });

  it('refuses fast-path when told it is not expected, and stays failed', () => {
    const f = new RdpFramer({ fastPath: false });
    assert.equal(f.push(frames[0]!).length, 1);
    assert.throws(() => f.push(frames[2]!), isError('unexpected', 'fastpath'));
    assert.throws(() => f.push(frames[0]!), isError('unexpected', 'fastpath'));
    const g = new RdpFramer({ fastPath: false });
    g.allowFastPath = true;
    assert.equal(g.push(frames[2]!)[0]!.kind, 'fastpath');
  });
});
