// The RDCleanPath codec without sockets: a request laid out byte by byte from the ASN.1
// (so the decoder is checked against the format, not only against its own encoder), the
// gateway's response and errors, and bad input: not DER, indefinite or non-minimal
// lengths, truncation, fields out of order, unknown fields, wrong types, oversized
// fields and PDUs, wrong versions; plus the stream reader that takes the first PDU off
// a WebSocket stream.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Duplex, PassThrough } from 'node:stream';
import { decodePdu, decodeRequest, encodeError, encodePdu, encodeResponse, GENERAL_ERROR, LIMITS, pduLength, RDCLEANPATH_VERSION, RdCleanPathError } from '../../../src/protocols/rdp-web/rdcleanpath.js';
import { HandshakeError, readRdCleanPathRequest } from '../../../src/protocols/rdp-web/handshake.js';
import { buildConnectionRequest, PROTOCOL } from '../../../src/protocols/rdp/pdu/x224.js';

const rejects = (fn: () => unknown, reason: string, what?: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof RdCleanPathError && e.reason === reason && (!what || what.test(e.message)), `expected RdCleanPathError(${reason}${what ? `, ${what}` : ''})`);

/** DER by hand: tag, definite length, body. */
const tlv = (tag: number, body: Buffer): Buffer => {
  const n = body.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), body]);
};
const ctx = (n: number, inner: Buffer) => tlv(0xa0 | n, inner);
const int = (v: number) => tlv(0x02, v < 0x80 ? Buffer.from([v]) : v < 0x8000 ? Buffer.from([v >> 8, v & 0xff]) : Buffer.from([0, v >> 8, v & 0xff]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const octets = (b: Buffer) => tlv(0x04, b);
const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));

const X224 = buildConnectionRequest({ requestedProtocols: PROTOCOL.SSL });
const TICKET = 'A'.repeat(32);
const handRequest = (fields: Buffer[] = [ctx(0, int(3390)), ctx(2, utf8('gatehouse')), ctx(3, utf8(TICKET)), ctx(6, octets(X224))]) => seq(...fields);

describe('RDCleanPath codec', () => {
  it('decodes a request laid out by hand from the ASN.1 (version 3390 = 02 02 0d 3e)', () => {
    const der = handRequest();
    assert.deepEqual([...der.subarray(2, 8)], [0xa0, 0x04, 0x02, 0x02, 0x0d, 0x3e]);
    assert.equal(pduLength(der), der.length);
    const r = decodeRequest(der);
    assert.equal(r.destination, 'gatehouse');
    assert.equal(r.proxyAuth, TICKET);
    assert.deepEqual(r.x224, X224);
    assert.equal(r.preconnectionBlob, undefined);
  });

  it('encodes what it decodes, byte for byte the same as the hand layout', () => {
    assert.deepEqual(encodePdu({ destination: 'gatehouse', proxyAuth: TICKET, x224: X224 }), handRequest());
    const withPcb = encodePdu({ destination: 'd', proxyAuth: 't', preconnectionBlob: 'pcb', x224: X224 });
    assert.equal(decodeRequest(withPcb).preconnectionBlob, 'pcb');
  });

  it('the response carries the Connection Confirm, the certificate chain and the address; errors an HTTP status', () => {
    const cert = randomBytes(1500);
    const res = decodePdu(encodeResponse({ x224: Buffer.from([3, 0, 0, 19]), certChain: [cert, Buffer.from('second')], serverAddr: '127.0.0.1:3389' }));
    assert.equal(res.version, RDCLEANPATH_VERSION);
    assert.deepEqual(res.x224, Buffer.from([3, 0, 0, 19]));
    assert.deepEqual(res.serverCertChain, [cert, Buffer.from('second')]);
    assert.equal(res.serverAddr, '127.0.0.1:3389');
    assert.equal(res.error, undefined);
    const err = decodePdu(encodeError({ httpStatusCode: 403 }));
    assert.deepEqual(err.error, { errorCode: GENERAL_ERROR, httpStatusCode: 403 });
    // By hand: SEQUENCE { [0] 3390, [1] SEQUENCE { [0] 1, [1] 403 } }
    assert.deepEqual(encodeError({ httpStatusCode: 403 }), seq(ctx(0, int(3390)), ctx(1, seq(ctx(0, int(1)), ctx(1, int(403))))));
    const tls = decodePdu(encodeError({ tlsAlertCode: 40, wsaLastError: 10061 }));
    assert.deepEqual(tls.error, { errorCode: GENERAL_ERROR, wsaLastError: 10061, tlsAlertCode: 40 });
  });

  it('pduLength: null until the outer header is in, then the total; refuses what cannot start a PDU', () => {
    const der = handRequest();
    assert.equal(pduLength(Buffer.alloc(0)), null);
    assert.equal(pduLength(der.subarray(0, 1)), null);
    assert.equal(pduLength(der.subarray(0, 2)), der.length);
    rejects(() => pduLength(Buffer.from('GET / HTTP/1.1\r\n')), 'malformed', /no DER SEQUENCE/);
    rejects(() => pduLength(Buffer.from([0x03, 0x00, 0x00, 0x13])), 'malformed'); // a TPKT header: RDP without RDCleanPath
    rejects(() => pduLength(Buffer.from([0x30, 0x83, 0x10, 0x00, 0x00])), 'too_large', /bytes \(at most/);
    rejects(() => pduLength(Buffer.from([0x30, 0x84, 0, 0, 0, 1])), 'too_large');
    rejects(() => pduLength(Buffer.from([0x30, 0x80])), 'malformed', /indefinite/);
  });

  it('refuses non-minimal DER lengths and integers', () => {
    const body = Buffer.concat([ctx(0, int(3390)), ctx(2, utf8('d')), ctx(3, utf8('t')), ctx(6, octets(X224))]);
    rejects(() => decodePdu(Buffer.concat([Buffer.from([0x30, 0x81, body.length]), body])), 'malformed', /shortest form/);
    rejects(() => decodePdu(seq(ctx(0, tlv(0x02, Buffer.from([0x00, 0x0d, 0x3e]))))), 'malformed', /INTEGER not in its shortest/);
    rejects(() => decodePdu(seq(ctx(0, tlv(0x02, Buffer.from([0xff]))))), 'malformed', /negative/);
    rejects(() => decodePdu(seq(ctx(0, tlv(0x02, Buffer.alloc(0))))), 'malformed', /empty INTEGER/);
  });

  it('refuses truncation at every length, and bytes after the PDU', () => {
    const der = handRequest();
    for (let n = 0; n < der.length; n++) assert.throws(() => decodeRequest(der.subarray(0, n)), RdCleanPathError, `cut at ${n}`);
    rejects(() => decodeRequest(Buffer.concat([der, Buffer.from([0])])), 'malformed', /after/);
  });

  it('refuses fields out of order, repeated, unknown, untagged or of the wrong type', () => {
    rejects(() => decodeRequest(handRequest([ctx(2, utf8('d')), ctx(0, int(3390)), ctx(3, utf8('t')), ctx(6, octets(X224))])), 'malformed', /out of order/);
    rejects(() => decodeRequest(handRequest([ctx(0, int(3390)), ctx(2, utf8('d')), ctx(2, utf8('d')), ctx(6, octets(X224))])), 'malformed', /repeated/);
    rejects(() => decodeRequest(handRequest([ctx(0, int(3390)), ctx(8, utf8('ocsp'))])), 'unsupported', /\[8\]/);
    rejects(() => decodeRequest(handRequest([ctx(0, int(3390)), utf8('loose')])), 'malformed', /not context-tagged/);
    rejects(() => decodeRequest(handRequest([ctx(0, int(3390)), ctx(2, octets(Buffer.from('d'))), ctx(3, utf8('t')), ctx(6, octets(X224))])), 'malformed', /expected type/);
    rejects(() => decodeRequest(handRequest([ctx(0, int(3390)), ctx(2, Buffer.concat([utf8('a'), utf8('b')]))])), 'malformed', /one element/);
    rejects(() => decodeRequest(handRequest([ctx(0, int(3390)), ctx(2, tlv(0x0c, Buffer.from([0xff, 0xfe]))), ctx(3, utf8('t')), ctx(6, octets(X224))])), 'malformed', /UTF-8/);
    rejects(() => decodePdu(seq(ctx(0, int(3390)), ctx(7, seq(utf8('not a cert'))))), 'malformed', /OCTET STRING/);
    rejects(() => decodePdu(Buffer.from([0x30, 0x03, 0xbf, 0x81, 0x00])), 'unsupported', /multi-byte/);
  });

  it('refuses a missing or other version, and requests without their required fields or with response fields', () => {
    rejects(() => decodeRequest(handRequest([ctx(2, utf8('d')), ctx(3, utf8('t')), ctx(6, octets(X224))])), 'malformed', /no version/);
    rejects(() => decodeRequest(handRequest([ctx(0, int(3389)), ctx(2, utf8('d')), ctx(3, utf8('t')), ctx(6, octets(X224))])), 'unsupported', /version 3389/);
    rejects(() => decodeRequest(handRequest([ctx(0, int(3390)), ctx(3, utf8('t')), ctx(6, octets(X224))])), 'malformed', /destination/);
    rejects(() => decodeRequest(handRequest([ctx(0, int(3390)), ctx(2, utf8('d')), ctx(6, octets(X224))])), 'malformed', /proxy auth/);
    rejects(() => decodeRequest(handRequest([ctx(0, int(3390)), ctx(2, utf8('d')), ctx(3, utf8('t'))])), 'malformed', /X.224/);
    rejects(() => decodeRequest(handRequest([ctx(0, int(3390)), ctx(2, utf8('d')), ctx(3, utf8('t')), ctx(6, octets(Buffer.alloc(0)))])), 'malformed', /X.224/);
    rejects(() => decodeRequest(encodeError({ httpStatusCode: 400 })), 'malformed', /response or error/);
    rejects(() => decodeRequest(encodeResponse({ x224: X224, certChain: [], serverAddr: '1.2.3.4:5' })), 'malformed', /response or error/);
  });

  it('refuses oversized fields: destination, token, X.224 request, certificates, chain length', () => {
    const big = (n: number) => 'x'.repeat(n);
    rejects(() => decodeRequest(handRequest([ctx(0, int(3390)), ctx(2, utf8(big(LIMITS.destination + 1))), ctx(3, utf8('t')), ctx(6, octets(X224))])), 'too_large');
    rejects(() => decodeRequest(handRequest([ctx(0, int(3390)), ctx(2, utf8('d')), ctx(3, utf8(big(LIMITS.proxyAuth + 1))), ctx(6, octets(X224))])), 'too_large');
    rejects(() => decodeRequest(handRequest([ctx(0, int(3390)), ctx(2, utf8('d')), ctx(3, utf8('t')), ctx(6, octets(Buffer.alloc(LIMITS.x224 + 1)))])), 'too_large');
    rejects(() => decodePdu(seq(ctx(0, int(3390)), ctx(7, seq(...Array.from({ length: LIMITS.certChain + 1 }, () => octets(Buffer.from('c'))))))), 'too_large', /chain of/);
    rejects(() => decodePdu(seq(ctx(0, int(3390)), ctx(0, int(0xffff)))), 'malformed');
    rejects(() => decodePdu(seq(ctx(0, tlv(0x02, Buffer.from([0x01, 0, 0, 0, 0, 0]))))), 'too_large');
    rejects(() => decodePdu(seq(ctx(0, int(3390)), ctx(1, seq(ctx(0, int(1)), ctx(3, int(300)))))), 'too_large', /above 255/);
  });

  it('survives random bytes behind a valid header: only RdCleanPathError, never anything else', () => {
    for (let i = 0; i < 2000; i++) {
      const body = randomBytes(1 + (i % 200));
      const der = Buffer.concat([Buffer.from([0x30, body.length < 0x80 ? body.length : 0x81]), body.length < 0x80 ? Buffer.alloc(0) : Buffer.from([body.length]), body]);
      try {
        decodePdu(der);
      } catch (e) {
        assert.ok(e instanceof RdCleanPathError, `${(e as Error).name}: ${(e as Error).message} for ${der.toString('hex')}`);
      }
    }
  });
});

describe('RDCleanPath request reader (the first PDU off the WebSocket stream)', () => {
  const pair = (): { stream: Duplex; feed: PassThrough } => {
    const feed = new PassThrough();
    const stream = Duplex.from({ readable: feed, writable: new PassThrough() });
    return { stream, feed };
  };

  it('reads a request split over several messages and leaves the stream paused', async () => {
    const { stream, feed } = pair();
    const der = handRequest();
    const p = readRdCleanPathRequest(stream, 5000);
    feed.write(der.subarray(0, 1));
    feed.write(der.subarray(1, 7));
    feed.write(der.subarray(7));
    const r = await p;
    assert.equal(r.proxyAuth, TICKET);
    assert.equal(stream.isPaused(), true);
    assert.equal(stream.listenerCount('data'), 0);
  });

  it('refuses RDP without RDCleanPath, data after the request, a closed stream and a silent one', async () => {
    const first = pair();
    const p1 = readRdCleanPathRequest(first.stream, 5000);
    first.feed.write(X224);
    await assert.rejects(p1, (e: unknown) => e instanceof HandshakeError && e.kind === 'protocol');
    const second = pair();
    const p2 = readRdCleanPathRequest(second.stream, 5000);
    second.feed.write(Buffer.concat([handRequest(), Buffer.from([3, 0])]));
    await assert.rejects(p2, (e: unknown) => e instanceof HandshakeError && e.kind === 'protocol' && /after/.test(e.message));
    const third = pair();
    const p3 = readRdCleanPathRequest(third.stream, 5000);
    third.feed.end(handRequest().subarray(0, 10));
    await assert.rejects(p3, (e: unknown) => e instanceof HandshakeError && e.kind === 'closed');
    const fourth = pair();
    await assert.rejects(readRdCleanPathRequest(fourth.stream, 50), (e: unknown) => e instanceof HandshakeError && e.kind === 'timeout');
  });
});
