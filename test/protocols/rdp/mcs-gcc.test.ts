import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RdpProtocolError } from '../../../src/protocols/rdp/errors.js';
import {
  CORE_SERVER_SELECTED_PROTOCOL_OFFSET,
  CS,
  decodeClientCore,
  encodeClientCore,
  encodeClientNetwork,
  encodeClientSecurity,
} from '../../../src/protocols/rdp/pdu/client-data.js';
import { buildConnectInitial, buildConnectResponse, parseConnectInitial, parseConnectResponse, rewriteConnectInitial, rewriteConnectResponse } from '../../../src/protocols/rdp/pdu/mcs-gcc.js';
import { decodeServerNetwork, encodeServerCore, encodeServerNetwork, encodeServerSecurity, SC } from '../../../src/protocols/rdp/pdu/server-data.js';
import { RdpFramer } from '../../../src/protocols/rdp/pdu/tpkt.js';
import { buildDataTpdu, parseDataTpdu, PROTOCOL } from '../../../src/protocols/rdp/pdu/x224.js';
import { hex, sampleChannels, sampleClientBlocks, sampleCore } from './fixtures.js';

const isError = (reason: string) => (e: unknown) => e instanceof RdpProtocolError && e.reason === reason;

/** The MCS/GCC bytes in front of the 284 bytes of client data in MS-RDPBCGR 4.1.3. */
const SPEC_CONNECT_INITIAL_HEAD = hex(`
  7f 65 82 01 94 04 01 01 04 01 01 01 01 ff
  30 19 02 01 22 02 01 02 02 01 00 02 01 01 02 01 00 02 01 01 02 02 ff ff 02 01 02
  30 19 02 01 01 02 01 01 02 01 01 02 01 01 02 01 00 02 01 01 02 02 04 20 02 01 02
  30 1c 02 02 ff ff 02 02 fc 17 02 02 ff ff 02 01 01 02 01 00 02 01 01 02 02 ff ff 02 01 02
  04 82 01 33 00 05 00 14 7c 00 01 81 2a 00 08 00 10 00 01 c0 00 44 75 63 61 81 1c`);

describe('MCS Connect-Initial', () => {
  const pdu = buildConnectInitial({ blocks: sampleClientBlocks() });

  it('encodes the MCS and GCC envelope exactly as mstsc does (MS-RDPBCGR 4.1.3)', () => {
    assert.equal(pdu.length, SPEC_CONNECT_INITIAL_HEAD.length + 284);
    assert.equal(pdu.subarray(0, SPEC_CONNECT_INITIAL_HEAD.length).toString('hex'), SPEC_CONNECT_INITIAL_HEAD.toString('hex'));
  });

  it('lists the client data blocks and decodes core, security, network and cluster', () => {
    const ci = parseConnectInitial(pdu);
    const start = SPEC_CONNECT_INITIAL_HEAD.length;
    assert.deepEqual(ci.blocks, [
      { type: CS.CORE, offset: start, length: 216 },
      { type: CS.CLUSTER, offset: start + 216, length: 12 },
      { type: CS.SECURITY, offset: start + 228, length: 12 },
      { type: CS.NET, offset: start + 240, length: 44 },
    ]);
    assert.deepEqual(ci.core, sampleCore());
    assert.equal(ci.core.clientName, 'ELTONS-DEV2');
    assert.deepEqual(ci.channels, sampleChannels());
    assert.deepEqual(ci.security, { encryptionMethods: 0x1b, extEncryptionMethods: 0 });
    assert.deepEqual(ci.cluster, { flags: 0x0d, redirectedSessionId: 0 });
    assert.equal(ci.upwardFlag, true);
    assert.equal(ci.targetParameters.maxChannelIds, 34);
    assert.equal(ci.maximumParameters.maxUserIds, 0xfc17);
    assert.equal(ci.serverSelectedProtocolOffset, start + CORE_SERVER_SELECTED_PROTOCOL_OFFSET);
  });

  it('rewrites serverSelectedProtocol in place', () => {
    const { pdu: out, channels, removedChannels } = rewriteConnectInitial(pdu, { serverSelectedProtocol: PROTOCOL.HYBRID });
    assert.equal(out.length, pdu.length);
    const ci = parseConnectInitial(out);
    assert.equal(ci.core.serverSelectedProtocol, PROTOCOL.HYBRID);
    assert.equal(out.readUInt32LE(ci.serverSelectedProtocolOffset!), PROTOCOL.HYBRID);
    assert.deepEqual(channels, sampleChannels());
    assert.deepEqual(removedChannels, []);
    // Nothing else moved.
    const diff = [...out].flatMap((b, i) => (b !== pdu[i] ? [i] : []));
    assert.deepEqual(diff, [ci.serverSelectedProtocolOffset]);
  });

  it('filters static channels and fixes every length', () => {
    const { pdu: out, channels, removedChannels } = rewriteConnectInitial(pdu, { keepChannel: (c) => c.name !== 'rdpdr', serverSelectedProtocol: 1 });
    assert.deepEqual(
      channels.map((c) => c.name),
      ['cliprdr', 'rdpsnd'],
    );
    assert.deepEqual(
      removedChannels.map((c) => c.name),
      ['rdpdr'],
    );
    assert.equal(out.length, pdu.length - 12);
    const ci = parseConnectInitial(out);
    assert.deepEqual(ci.channels, sampleChannels().slice(1));
    assert.equal(ci.core.serverSelectedProtocol, 1);
    // Outer BER length, userData BER length and both PER lengths all shrank by 12.
    assert.equal(out.readUInt16BE(3), 0x194 - 12);
    assert.equal(out.toString('hex', 0x63, 0x66), '820127');
    assert.equal(out.toString('hex', 0x6d, 0x6f), '811e');
    assert.equal(out.toString('hex', 0x7b, 0x7d), '8110');
  });

  it('drops CS_NET entirely when no channel is kept, and drops blocks on request', () => {
    const { pdu: out } = rewriteConnectInitial(pdu, { keepChannel: () => false, dropBlockTypes: [CS.CLUSTER] });
    const ci = parseConnectInitial(out);
    assert.deepEqual(
      ci.blocks.map((b) => b.type),
      [CS.CORE, CS.SECURITY],
    );
    assert.deepEqual(ci.channels, []);
    assert.throws(() => rewriteConnectInitial(pdu, { dropBlockTypes: [CS.CORE] }), RangeError);
  });

  it('passes odd channel names through a filter byte for byte', () => {
    const net = encodeClientNetwork(sampleChannels());
    net.write('\x01\x02bad', 8, 'latin1');
    const odd = buildConnectInitial({ blocks: [encodeClientCore(sampleCore()), net] });
    const { pdu: out } = rewriteConnectInitial(odd, { keepChannel: (c) => c.name !== 'cliprdr' });
    assert.deepEqual(
      parseConnectInitial(out).channels.map((c) => c.name),
      ['\x01\x02bad', 'rdpsnd'],
    );
  });

  it('handles a CS_CORE without serverSelectedProtocol (old clients)', () => {
    const { serverSelectedProtocol: _s, connectionType: _c, ...older } = sampleCore();
    const old = buildConnectInitial({ blocks: [encodeClientCore(older), encodeClientSecurity({ encryptionMethods: 3, extEncryptionMethods: 0 })] });
    const ci = parseConnectInitial(old);
    assert.equal(ci.serverSelectedProtocolOffset, undefined);
    assert.equal(ci.core.serverSelectedProtocol, undefined);
    assert.equal(ci.core.clientDigProductId, '69712-783-0357974-42714');
    assert.throws(() => rewriteConnectInitial(old, { serverSelectedProtocol: 1 }), isError('unsupported'));
    assert.deepEqual(rewriteConnectInitial(old, {}).pdu, old);
  });

  it('decodes a CS_CORE with the newest optional fields', () => {
    const core = { ...sampleCore(), desktopPhysicalWidth: 300, desktopPhysicalHeight: 200, desktopOrientation: 90, desktopScaleFactor: 150, deviceScaleFactor: 140 };
    const block = encodeClientCore(core);
    assert.equal(block.length, 234);
    assert.deepEqual(decodeClientCore(block), core);
  });

  it('refuses ambiguous or broken PDUs', () => {
    const dup = buildConnectInitial({ blocks: [...sampleClientBlocks(), encodeClientNetwork([{ name: 'evil', options: 0 }])] });
    assert.throws(() => parseConnectInitial(dup), isError('malformed'));
    assert.throws(() => parseConnectInitial(buildConnectInitial({ blocks: [encodeClientSecurity({ encryptionMethods: 0, extEncryptionMethods: 0 })] })), isError('malformed'));
    assert.throws(() => parseConnectInitial(pdu.subarray(0, 200)), isError('truncated'));
    assert.throws(() => parseConnectInitial(Buffer.concat([pdu, Buffer.from([0])])), isError('malformed'));
    const notDuca = Buffer.from(pdu);
    notDuca.write('Dxca', SPEC_CONNECT_INITIAL_HEAD.length - 6, 'latin1');
    assert.throws(() => parseConnectInitial(notDuca), isError('unsupported'));
    const tooMany = Buffer.from(pdu);
    tooMany.writeUInt32LE(40, SPEC_CONNECT_INITIAL_HEAD.length + 244);
    assert.throws(() => parseConnectInitial(tooMany), isError('malformed'));
  });

  it('survives the trip through X.224 Data and the framer', () => {
    const frames = new RdpFramer().push(buildDataTpdu(pdu));
    assert.equal(frames.length, 1);
    assert.deepEqual(parseConnectInitial(parseDataTpdu(frames[0]!.data)).channels, sampleChannels());
  });
});

describe('MCS Connect-Response', () => {
  const blocks = () => [
    encodeServerCore({ version: 0x00080004, clientRequestedProtocols: 3, earlyCapabilityFlags: 0 }),
    encodeServerNetwork({ mcsChannelId: 1003, channelIds: [1004, 1005, 1006] }),
    encodeServerSecurity({ encryptionMethod: 0, encryptionLevel: 0 }),
  ];

  it('round-trips the server data blocks', () => {
    const cr = parseConnectResponse(buildConnectResponse({ blocks: blocks() }));
    assert.equal(cr.result, 0);
    assert.deepEqual(
      cr.blocks.map((b) => [b.type, b.length]),
      [
        [SC.CORE, 16],
        [SC.NET, 16],
        [SC.SECURITY, 12],
      ],
    );
    assert.deepEqual(cr.core, { version: 0x00080004, clientRequestedProtocols: 3, earlyCapabilityFlags: 0 });
    assert.deepEqual(cr.network, { mcsChannelId: 1003, channelIds: [1004, 1005, 1006] });
    assert.deepEqual(cr.security, { encryptionMethod: 0, encryptionLevel: 0 });
    assert.equal(cr.domainParameters.maxMcsPduSize, 0xfff8);
  });

  it('tolerates what Windows sends: a stale connectPDU length and 3-byte integers', () => {
    const data = Buffer.concat(blocks());
    const gcc = Buffer.concat([hex('00 05 00 14 7c 00 01 2a 14 76 0a 01 01 00 01 c0 00 4d 63 44 6e'), Buffer.from([0x80 | (data.length >> 8), data.length & 0xff]), data]);
    const head = hex('0a 01 00 02 01 00 30 1a 02 01 22 02 01 03 02 01 00 02 01 01 02 01 00 02 01 01 02 03 00 ff f8 02 01 02');
    const body = Buffer.concat([head, Buffer.from([0x04, 0x81, gcc.length]), gcc]);
    const pdu = Buffer.concat([Buffer.from([0x7f, 0x66, 0x81, body.length]), body]);
    const cr = parseConnectResponse(pdu);
    assert.equal(cr.domainParameters.maxMcsPduSize, 0xfff8);
    assert.equal(cr.domainParameters.maxUserIds, 3);
    assert.deepEqual(cr.network?.channelIds, [1004, 1005, 1006]);
    // A rewrite writes a correct connectPDU length.
    const out = rewriteConnectResponse(pdu, { clientRequestedProtocols: 1 });
    assert.equal(parseConnectResponse(out).core?.clientRequestedProtocols, 1);
  });

  it('rewrites clientRequestedProtocols and the channel ids', () => {
    const pdu = buildConnectResponse({ blocks: blocks() });
    const out = rewriteConnectResponse(pdu, { clientRequestedProtocols: PROTOCOL.SSL, channelIds: [1004, 0, 1005, 1006] });
    const cr = parseConnectResponse(out);
    assert.equal(cr.core?.clientRequestedProtocols, PROTOCOL.SSL);
    assert.deepEqual(cr.network, { mcsChannelId: 1003, channelIds: [1004, 0, 1005, 1006] });
    assert.equal(parseConnectResponse(rewriteConnectResponse(pdu, { dropBlockTypes: [SC.SECURITY] })).security, undefined);
  });

  it('pads SC_NET after an odd number of channel ids', () => {
    assert.equal(encodeServerNetwork({ mcsChannelId: 1003, channelIds: [1004] }).length, 12);
    assert.equal(encodeServerNetwork({ mcsChannelId: 1003, channelIds: [1004, 1005] }).length, 12);
    assert.deepEqual(decodeServerNetwork(encodeServerNetwork({ mcsChannelId: 1003, channelIds: [1004] })).channelIds, [1004]);
  });

  it('reads a refusal without data blocks, and Standard Security fields', () => {
    const refused = Buffer.concat([hex('7f 66 24'), hex('0a 01 0e 02 01 00'), hex('30 1a 02 01 22 02 01 03 02 01 00 02 01 01 02 01 00 02 01 01 02 03 00 ff f8 02 01 02'), hex('04 00')]);
    const cr = parseConnectResponse(refused);
    assert.equal(cr.result, 14);
    assert.deepEqual(cr.blocks, []);
    assert.throws(() => rewriteConnectResponse(refused, {}), isError('unexpected'));
    const sec = encodeServerSecurity({ encryptionMethod: 2, encryptionLevel: 2, serverRandom: Buffer.alloc(32, 1), serverCertificate: Buffer.alloc(10, 2) });
    const withSec = parseConnectResponse(buildConnectResponse({ blocks: [sec] }));
    assert.deepEqual(withSec.security?.serverRandom, Buffer.alloc(32, 1));
    assert.deepEqual(withSec.security?.serverCertificate, Buffer.alloc(10, 2));
  });
});
