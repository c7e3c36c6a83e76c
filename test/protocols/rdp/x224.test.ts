import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RdpProtocolError } from '../../../src/protocols/rdp/errors.js';
import {
  buildConnectionConfirm,
  buildConnectionRequest,
  buildDataTpdu,
  NEG_FAILURE,
  NEG_REQ_FLAGS,
  NEG_RSP_FLAGS,
  parseConnectionConfirm,
  parseConnectionRequest,
  parseDataTpdu,
  PROTOCOL,
  TPDU,
  tpduCode,
} from '../../../src/protocols/rdp/pdu/x224.js';
import { hex } from './fixtures.js';

const rejects = (fn: () => unknown, reason: string) =>
  assert.throws(fn, (e: unknown) => e instanceof RdpProtocolError && e.reason === reason, `expected RdpProtocolError(${reason})`);

/** A Connection Request with a raw routing token, laid out as xfreerdp sends loadbalanceinfo. */
function xfreerdpRequest(token: string): Buffer {
  const variable = Buffer.concat([Buffer.from(token, 'latin1'), hex('0d0a'), hex('01 00 08 00 01 00 00 00')]);
  const li = 6 + variable.length;
  const total = 5 + li;
  return Buffer.concat([Buffer.from([0x03, 0x00, total >> 8, total & 0xff, li, 0xe0, 0, 0, 0, 0, 0]), variable]);
}

describe('X.224 Connection Request', () => {
  it('reads the xfreerdp bytes: `03 00 00 29 24 e0 …` is a 20-character token', () => {
    // 0x29 = 4 (TPKT) + 1 (LI) + 6 (CR header) + 20 + 2 (CRLF) + 8 (RDP_NEG_REQ); LI 0x24 = 41 - 5.
    const token = 'ABCDEFGHIJKLMNOPQRST';
    const frame = Buffer.concat([hex('03 00 00 29 24 e0 00 00 00 00 00'), Buffer.from(token), hex('0d 0a'), hex('01 00 08 00 01 00 00 00')]);
    assert.deepEqual(frame, xfreerdpRequest(token));
    const cr = parseConnectionRequest(frame);
    assert.equal(cr.routingTokenKind, 'raw');
    assert.equal(cr.routingTokenValue, token);
    assert.deepEqual(cr.routingToken, Buffer.from(`${token}\r\n`));
    assert.equal(cr.cookie, undefined);
    assert.deepEqual(cr.negReq, { flags: 0, requestedProtocols: PROTOCOL.SSL });
  });

  it('reads a 32-character Gatehouse ticket (lengths 0x35 / LI 0x30)', () => {
    const ticket = 'Q2hhbmdlTWUtUGxlYXNlX0FfVGlja2V0';
    const frame = xfreerdpRequest(ticket);
    assert.equal(frame.toString('hex', 0, 5), '0300003530');
    const cr = parseConnectionRequest(frame);
    assert.equal(cr.routingTokenValue, ticket);
    assert.equal(cr.negReq?.requestedProtocols, PROTOCOL.SSL);
  });

  it('tells a mstshash cookie (MS-RDPBCGR 4.1.1) from a routing token', () => {
    const frame = hex('03 00 00 2c 27 e0 00 00 00 00 00 43 6f 6f 6b 69 65 3a 20 6d 73 74 73 68 61 73 68 3d 65 6c 74 6f 6e 73 0d 0a 01 00 08 00 00 00 00 00');
    const cr = parseConnectionRequest(frame);
    assert.equal(cr.cookie, 'eltons');
    assert.equal(cr.routingToken, undefined);
    assert.deepEqual(cr.negReq, { flags: 0, requestedProtocols: PROTOCOL.RDP });
  });

  it('recognises a load-balancer `Cookie: msts=` token', () => {
    const variable = Buffer.concat([Buffer.from('Cookie: msts=3640205228.15629.0000\r\n'), hex('01 00 08 00 03 00 00 00')]);
    const frame = Buffer.concat([Buffer.from([3, 0, 0, 11 + variable.length, 6 + variable.length, 0xe0, 0, 0, 0, 0, 0]), variable]);
    const cr = parseConnectionRequest(frame);
    assert.equal(cr.routingTokenKind, 'msts');
    assert.equal(cr.routingTokenValue, '3640205228.15629.0000');
    assert.equal(cr.negReq?.requestedProtocols, PROTOCOL.SSL | PROTOCOL.HYBRID);
  });

  it('accepts no token, and no negotiation request at all (legacy clients)', () => {
    assert.deepEqual(parseConnectionRequest(buildConnectionRequest({ requestedProtocols: 3 })), { negReq: { flags: 0, requestedProtocols: 3 } });
    assert.deepEqual(parseConnectionRequest(hex('03 00 00 0b 06 e0 00 00 00 00 00')), {});
  });

  it('reads RDP_NEG_CORRELATION_INFO', () => {
    const id = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const variable = Buffer.concat([hex('01 08 08 00 0b 00 00 00'), hex('06 00 24 00'), id, Buffer.alloc(16)]);
    const frame = Buffer.concat([Buffer.from([3, 0, 0, 11 + variable.length, 6 + variable.length, 0xe0, 0, 0, 0, 0, 0]), variable]);
    const cr = parseConnectionRequest(frame);
    assert.deepEqual(cr.negReq, { flags: NEG_REQ_FLAGS.CORRELATION_INFO_PRESENT, requestedProtocols: 0xb });
    assert.deepEqual(cr.correlationId, id);
  });

  it('refuses malformed requests with typed errors', () => {
    const good = xfreerdpRequest('TICKET');
    rejects(() => parseConnectionRequest(good.subarray(0, good.length - 1)), 'truncated');
    const noCrlf = Buffer.from(good);
    noCrlf.write('XX', 11 + 6);
    rejects(() => parseConnectionRequest(noCrlf), 'malformed');
    const badLi = Buffer.from(good);
    badLi[4] = 0x10;
    rejects(() => parseConnectionRequest(badLi), 'malformed');
    const badNegLen = Buffer.from(good);
    badNegLen[good.length - 6] = 9;
    rejects(() => parseConnectionRequest(badNegLen), 'malformed');
    rejects(() => parseConnectionRequest(buildConnectionConfirm({ selectedProtocol: 1 })), 'unexpected');
    rejects(() => parseConnectionRequest(Buffer.concat([good, Buffer.from([0])])), 'malformed');
  });

  it('builds requests toward a target that never carry a routing token', () => {
    const frame = buildConnectionRequest({ requestedProtocols: PROTOCOL.SSL | PROTOCOL.HYBRID, cookie: 'svc-rdp' });
    const cr = parseConnectionRequest(frame);
    assert.equal(cr.cookie, 'svc-rdp');
    assert.equal(cr.routingToken, undefined);
    // Even an options object smuggling a token (a type error in TS) yields no token.
    const smuggled = buildConnectionRequest({ requestedProtocols: 1, routingToken: Buffer.from('T\r\n') } as never);
    assert.deepEqual(parseConnectionRequest(smuggled), { negReq: { flags: 0, requestedProtocols: 1 } });
    assert.equal(smuggled.toString('hex'), '030000130ee000000000000100080001000000');
    assert.throws(() => buildConnectionRequest({ requestedProtocols: 1, cookie: 'a\r\nb' }), RangeError);
  });
});

describe('X.224 Connection Confirm', () => {
  it('builds RDP_NEG_RSP as in MS-RDPBCGR 4.1.2', () => {
    const cc = buildConnectionConfirm({ selectedProtocol: PROTOCOL.SSL, flags: NEG_RSP_FLAGS.EXTENDED_CLIENT_DATA_SUPPORTED });
    assert.equal(cc.toString('hex'), '030000130ed000001234000201080001000000');
    assert.deepEqual(parseConnectionConfirm(cc), { negotiation: { type: 'response', flags: 1, selectedProtocol: 1 } });
  });

  it('builds RDP_NEG_FAILURE and the bare confirm', () => {
    const f = buildConnectionConfirm({ failureCode: NEG_FAILURE.SSL_REQUIRED_BY_SERVER });
    assert.equal(f.toString('hex'), '030000130ed000001234000300080001000000');
    assert.deepEqual(parseConnectionConfirm(f), { negotiation: { type: 'failure', failureCode: 1 } });
    const bare = buildConnectionConfirm();
    assert.equal(bare.toString('hex'), '0300000b06d00000123400');
    assert.deepEqual(parseConnectionConfirm(bare), {});
  });

  it('refuses a confirm with a bad negotiation block', () => {
    rejects(() => parseConnectionConfirm(hex('030000130ed000001234000900080001000000')), 'malformed');
    rejects(() => parseConnectionConfirm(hex('030000130ed000001234000200090001000000')), 'malformed');
    rejects(() => parseConnectionConfirm(xfreerdpRequest('T')), 'unexpected');
  });
});

describe('X.224 Data TPDU', () => {
  it('wraps and unwraps MCS payloads', () => {
    const payload = Buffer.from('7f6582', 'hex');
    const frame = buildDataTpdu(payload);
    assert.equal(frame.toString('hex'), '0300000a02f0807f6582');
    assert.deepEqual(parseDataTpdu(frame), payload);
    assert.equal(tpduCode(frame), TPDU.DATA);
    assert.equal(tpduCode(xfreerdpRequest('T')), TPDU.CONNECTION_REQUEST);
  });

  it('refuses segmented or mislabelled data', () => {
    rejects(() => parseDataTpdu(hex('0300000a02f0007f6582')), 'unsupported');
    rejects(() => parseDataTpdu(hex('0300000a03f0807f6582')), 'malformed');
    rejects(() => parseDataTpdu(hex('0300000b02f0807f6582')), 'truncated');
    rejects(() => parseDataTpdu(hex('0400000a02f0807f6582')), 'malformed');
  });
});
