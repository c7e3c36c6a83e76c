import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RdpProtocolError } from '../../../src/protocols/rdp/errors.js';
import { buildPreconnectionPdu, looksLikePreconnectionPdu, parsePreconnectionPdu, preconnectionPduSize } from '../../../src/protocols/rdp/pdu/preconnection.js';
import { buildConnectionRequest } from '../../../src/protocols/rdp/pdu/x224.js';
import { hex } from './fixtures.js';

const isError = (reason: string) => (e: unknown) => e instanceof RdpProtocolError && e.reason === reason;

describe('MS-RDPEPS preconnection PDU', () => {
  it('reads a V2 PDU as FreeRDP and mstsc send it for pcb:s:', () => {
    // cbSize 0x20 = 18 + 2 × 7, flags 0, version 2, id 0, cchPCB 7 ("TICKET" + NUL).
    const pdu = hex('20000000 00000000 02000000 00000000 0700 5400490043004b00450054000000');
    assert.deepEqual(parsePreconnectionPdu(pdu), { version: 2, flags: 0, id: 0, pcb: 'TICKET' });
    assert.deepEqual(buildPreconnectionPdu({ pcb: 'TICKET' }), pdu);
  });

  it('round-trips V1 and V2', () => {
    assert.deepEqual(parsePreconnectionPdu(buildPreconnectionPdu({ id: 42 })), { version: 1, flags: 0, id: 42 });
    const ticket = 'Q2hhbmdlTWUtUGxlYXNlX0FfVGlja2V0';
    const pdu = buildPreconnectionPdu({ id: 7, pcb: ticket });
    assert.equal(pdu.length, 18 + 2 * 33);
    assert.deepEqual(parsePreconnectionPdu(pdu), { version: 2, flags: 0, id: 7, pcb: ticket });
    assert.equal(parsePreconnectionPdu(buildPreconnectionPdu({ pcb: 'VM;EnhancedMode=1 é' })).pcb, 'VM;EnhancedMode=1 é');
  });

  it('tells itself apart from a TPKT', () => {
    assert.equal(looksLikePreconnectionPdu(buildPreconnectionPdu({ pcb: 'x'.repeat(200) })), true);
    assert.equal(looksLikePreconnectionPdu(buildConnectionRequest({ requestedProtocols: 1 })), false);
    assert.equal(looksLikePreconnectionPdu(Buffer.alloc(0)), false);
    assert.equal(preconnectionPduSize(hex('200000')), undefined);
    assert.equal(preconnectionPduSize(hex('20000000')), 32);
  });

  it('accepts a cchPCB without a terminating NUL', () => {
    const pdu = hex('1e000000 00000000 02000000 00000000 0600 5400490043004b0045005400');
    assert.equal(parsePreconnectionPdu(pdu).pcb, 'TICKET');
  });

  it('refuses bad PDUs with typed errors', () => {
    const good = buildPreconnectionPdu({ pcb: 'TICKET' });
    assert.throws(() => parsePreconnectionPdu(good.subarray(0, 20)), isError('truncated'));
    assert.throws(() => parsePreconnectionPdu(Buffer.concat([good, Buffer.alloc(1)])), isError('malformed'));
    const v3 = Buffer.from(good);
    v3.writeUInt32LE(3, 8);
    assert.throws(() => parsePreconnectionPdu(v3), isError('unsupported'));
    const longPcb = Buffer.from(good);
    longPcb.writeUInt16LE(500, 16);
    assert.throws(() => parsePreconnectionPdu(longPcb), isError('truncated'));
    assert.throws(() => parsePreconnectionPdu(hex('08000000 00000000')), isError('malformed'));
    assert.throws(() => buildPreconnectionPdu({ pcb: 'a\0b' }), RangeError);
  });
});
