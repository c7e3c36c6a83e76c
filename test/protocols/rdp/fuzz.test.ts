// Every parser against 5,000 mutated inputs (bit flips, truncations, huge lengths,
// splices, noise) per target: each call must return or throw RdpProtocolError (a hang is
// caught by the runner's timeout). Seeds are valid PDUs, so mutations reach deep into the structures.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { subjectPublicKey } from '../../../src/protocols/rdp/credssp/pubkey-auth.js';
import { decodeSpnego, encodeMechTypeList, encodeNegTokenInit, encodeNegTokenResp, OID } from '../../../src/protocols/rdp/credssp/spnego.js';
import { decodeTsCredentials, decodeTsPasswordCreds, decodeTsRequest, encodeTsCredentials, encodeTsRequest, tsRequestLength } from '../../../src/protocols/rdp/credssp/ts-request.js';
import { berContext, berSequence, tlv } from '../../../src/protocols/rdp/encoding/ber.js';
import { parseAvPairs } from '../../../src/protocols/rdp/ntlm/av-pairs.js';
import { AV } from '../../../src/protocols/rdp/ntlm/constants.js';
import { buildChallengeMessage, parseAuthenticateMessage, parseChallengeMessage, parseNegotiateMessage } from '../../../src/protocols/rdp/ntlm/messages.js';
import { NtlmClient } from '../../../src/protocols/rdp/ntlm/ntlm.js';
import { NtlmSessionSecurity } from '../../../src/protocols/rdp/ntlm/session-security.js';
import { CS } from '../../../src/protocols/rdp/pdu/client-data.js';
import {
  parseFastPathInputEvents,
  parseFastPathInputHeader,
  parseFastPathOutputHeader,
  parseFastPathUpdates,
} from '../../../src/protocols/rdp/pdu/fastpath.js';
import { buildConnectInitial, buildConnectResponse, parseConnectInitial, parseConnectResponse, rewriteConnectInitial, rewriteConnectResponse } from '../../../src/protocols/rdp/pdu/mcs-gcc.js';
import { buildPreconnectionPdu, parsePreconnectionPdu } from '../../../src/protocols/rdp/pdu/preconnection.js';
import { encodeServerCore, encodeServerNetwork, encodeServerSecurity } from '../../../src/protocols/rdp/pdu/server-data.js';
import { RdpFramer, type RdpFrame } from '../../../src/protocols/rdp/pdu/tpkt.js';
import {
  buildConnectionConfirm,
  buildConnectionRequest,
  buildDataTpdu,
  parseConnectionConfirm,
  parseConnectionRequest,
  parseDataTpdu,
  TPDU,
  tpduCode,
} from '../../../src/protocols/rdp/pdu/x224.js';
import { fuzz, hex, rng, sampleClientBlocks } from './fixtures.js';

/** Re-raises anything from a call that must not fail as an untyped error, so fuzz() reports it. */
function mustSucceed<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw new Error(`${what} failed on its own output: ${String(e)}`);
  }
}

// ---- seeds ----

const TICKET = 'Q2hhbmdlTWUtUGxlYXNlX0FfVGlja2V0';
const crXfreerdp = Buffer.concat([hex('03 00 00 35 30 e0 00 00 00 00 00'), Buffer.from(TICKET), hex('0d0a 01 00 08 00 01 00 00 00')]);
const crCookie = hex('03 00 00 2c 27 e0 00 00 00 00 00 43 6f 6f 6b 69 65 3a 20 6d 73 74 73 68 61 73 68 3d 65 6c 74 6f 6e 73 0d 0a 01 00 08 00 00 00 00 00');
const crCorrelation = Buffer.concat([hex('03 00 00 37 32 e0 00 00 00 00 00 01 08 08 00 0b 00 00 00 06 00 24 00'), Buffer.alloc(16, 0x11), Buffer.alloc(16)]);
const connectInitial = buildConnectInitial({ blocks: sampleClientBlocks() });
const serverBlocks = [
  encodeServerCore({ version: 0x00080004, clientRequestedProtocols: 3, earlyCapabilityFlags: 0 }),
  encodeServerNetwork({ mcsChannelId: 1003, channelIds: [1004, 1005, 1006] }),
  encodeServerSecurity({ encryptionMethod: 0, encryptionLevel: 0 }),
];
const connectResponse = buildConnectResponse({ blocks: serverBlocks });
const fpInput = Buffer.concat([hex('1c 22'), hex('01 1e 20 0008 6400 c800 40 0080 0100 0200 63 80 e900 a0 0008 fbff 0500 c0 78563412')]);
const fpInputCounted = Buffer.concat([hex('00 0a 03'), hex('01 1e 01 9e 80 4100')]);
const fpOutput = Buffer.concat([hex('00 13'), hex('03 0000 81 61 0400 deadbeef 05 0000 08 0000')]);
const ts = Buffer.alloc(8);
ts.writeBigUInt64LE(133_000_000_000_000_000n);
const challenge = buildChallengeMessage({
  flags: 0xe28a8235,
  serverChallenge: hex('0123456789abcdef'),
  targetName: 'CORP',
  avPairs: [
    { id: AV.NB_DOMAIN_NAME, value: Buffer.from('CORP', 'utf16le') },
    { id: AV.NB_COMPUTER_NAME, value: Buffer.from('WIN', 'utf16le') },
    { id: AV.TIMESTAMP, value: ts },
  ],
});
/** MS-NLMP 4.2.4.3 CHALLENGE_MESSAGE (no timestamp). */
const specChallenge = hex(
  '4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef00000000000000002400240044000000060070170000000f53006500720076006500720002000c0044006f006d00610069006e0001000c0053006500720076006500720000000000',
);
function authenticateSeed(): Buffer {
  const c = new NtlmClient({ username: 'u', domain: 'd', password: 'p', targetName: 'TERMSRV/x' });
  c.negotiate();
  return c.authenticate(challenge);
}
const negotiateSeed = new NtlmClient({ username: 'u', domain: 'd', password: 'p' }).negotiate();
const tsRequests = [
  encodeTsRequest({ version: 6, negoTokens: [encodeNegTokenInit({ mechTypes: [OID.NTLMSSP], mechToken: negotiateSeed })], clientNonce: Buffer.alloc(32, 1) }),
  encodeTsRequest({ version: 6, negoTokens: [challenge, Buffer.alloc(3)], pubKeyAuth: Buffer.alloc(48, 2), authInfo: Buffer.alloc(20, 3), errorCode: 0xc000006d }),
];
const spnegoSeeds = [
  encodeNegTokenInit({ mechTypes: [OID.MS_KRB5, OID.NTLMSSP], mechToken: negotiateSeed, mechListMIC: Buffer.alloc(16) }),
  encodeNegTokenResp({ negState: 1, supportedMech: OID.NTLMSSP, responseToken: challenge, mechListMIC: Buffer.alloc(16, 7) }),
  // MS-SPNG NegTokenInit2 without the GSS-API header, with negHints.
  berContext(0, berSequence(berContext(0, encodeMechTypeList([OID.NTLMSSP])), berContext(3, berSequence(berContext(0, tlv(0x1b, Buffer.from('not_defined_in_RFC4178@please_ignore'))))))),
];

describe('fuzzing the RDP parsers (5,000 inputs each)', () => {
  it('TPKT/fast-path/preconnection framer, feeding every frame to its parser', () => {
    const streams = [
      Buffer.concat([buildPreconnectionPdu({ pcb: TICKET }), crXfreerdp, buildDataTpdu(connectInitial), fpInput, fpInputCounted]),
      Buffer.concat([crCookie, buildConnectionConfirm({ selectedProtocol: 1 }), buildDataTpdu(connectResponse), fpOutput]),
    ];
    const next = rng(99);
    const r = fuzz(streams, (input) => {
      const max = 4096;
      const f = new RdpFramer({ preconnection: true, maxFrameSize: max });
      const frames: RdpFrame[] = [];
      let error: unknown;
      for (let pos = 0; pos < input.length; ) {
        const n = 1 + Math.floor(next() * 48);
        try {
          frames.push(...f.push(input.subarray(pos, pos + n)));
        } catch (e) {
          error = e;
          break;
        }
        assert.ok(f.buffered <= max, `buffered ${f.buffered} bytes`);
        pos += n;
      }
      if (!error) assert.deepEqual(Buffer.concat([...frames.map((x) => x.data)]).length + f.buffered, input.length);
      for (const fr of frames) parseFrame(fr);
      if (error) throw error;
    });
    assert.ok(r.threw > 0);
  });

  const targets: [string, Buffer[], (b: Buffer) => unknown][] = [
    ['X.224 Connection Request', [crXfreerdp, crCookie, crCorrelation], parseConnectionRequest],
    [
      'X.224 Connection Request body (re-wrapped)',
      [crXfreerdp.subarray(11), crCookie.subarray(11), crCorrelation.subarray(11)],
      (b) => parseConnectionRequest(Buffer.concat([Buffer.from([3, 0, (b.length + 11) >> 8, (b.length + 11) & 0xff, Math.min(b.length + 6, 255), 0xe0, 0, 0, 0, 0, 0]), b])),
    ],
    ['X.224 Connection Confirm', [buildConnectionConfirm({ selectedProtocol: 1, flags: 0x1f }), buildConnectionConfirm({ failureCode: 5 }), buildConnectionConfirm()], parseConnectionConfirm],
    ['X.224 Data TPDU', [buildDataTpdu(connectInitial)], parseDataTpdu],
    ['preconnection PDU', [buildPreconnectionPdu({ pcb: TICKET }), buildPreconnectionPdu({ id: 5 })], parsePreconnectionPdu],
    ['MCS Connect-Initial', [connectInitial], parseConnectInitial],
    [
      'MCS Connect-Initial rewrite (and re-parse of its output)',
      [connectInitial],
      (b) => {
        const out = rewriteConnectInitial(b, { serverSelectedProtocol: 1, keepChannel: (c) => c.name !== 'rdpdr', dropBlockTypes: [CS.MULTITRANSPORT] });
        mustSucceed('parseConnectInitial', () => parseConnectInitial(out.pdu));
      },
    ],
    // Mutated inner bytes re-wrapped with correct outer lengths reach the block decoders.
    ['GCC client data blocks (re-wrapped)', [Buffer.concat(sampleClientBlocks())], (b) => parseConnectInitial(buildConnectInitial({ blocks: [b] }))],
    ['MCS Connect-Response', [connectResponse], parseConnectResponse],
    ['GCC server data blocks (re-wrapped)', [Buffer.concat(serverBlocks)], (b) => parseConnectResponse(buildConnectResponse({ blocks: [b] }))],
    [
      'MCS Connect-Response rewrite (and re-parse of its output)',
      [connectResponse],
      (b) => {
        const out = rewriteConnectResponse(b, { clientRequestedProtocols: 1 });
        mustSucceed('parseConnectResponse', () => parseConnectResponse(out));
      },
    ],
    ['fast-path input', [fpInput, fpInputCounted], (b) => parseFastPathInputEvents(b, parseFastPathInputHeader(b))],
    ['fast-path output', [fpOutput], (b) => parseFastPathUpdates(b, parseFastPathOutputHeader(b))],
    ['NTLM NEGOTIATE', [negotiateSeed], parseNegotiateMessage],
    ['NTLM CHALLENGE', [challenge, specChallenge], parseChallengeMessage],
    [
      'NTLM client given a CHALLENGE',
      [challenge, specChallenge],
      (b) => {
        const c = new NtlmClient({ username: 'u', domain: 'd', password: 'p', targetName: 'TERMSRV/x' });
        c.negotiate();
        c.authenticate(b);
      },
    ],
    ['NTLM AUTHENTICATE', [authenticateSeed()], parseAuthenticateMessage],
    ['NTLM AV pairs', [challenge.subarray(challenge.readUInt32LE(44))], parseAvPairs],
    [
      'NTLM unseal',
      [new NtlmSessionSecurity(Buffer.alloc(16, 5), 0xe2888235, 'client').wrap(Buffer.from('hello'))],
      (b) => new NtlmSessionSecurity(Buffer.alloc(16, 5), 0xe2888235, 'server').unwrap(b),
    ],
    ['CredSSP TSRequest', tsRequests, decodeTsRequest],
    ['CredSSP TSRequest framing', tsRequests, (b) => tsRequestLength(b)],
    ['CredSSP TSCredentials', [encodeTsCredentials({ domain: 'CORP', username: 'svc', password: 'pw' })], (b) => decodeTsPasswordCreds(decodeTsCredentials(b).credentials)],
    ['SPNEGO', spnegoSeeds, decodeSpnego],
    ['SubjectPublicKeyInfo', [generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' })], subjectPublicKey],
  ];

  for (const [name, seeds, fn] of targets) {
    it(name, () => {
      for (const s of seeds) fn(s); // the seeds themselves are valid
      const r = fuzz(seeds, fn, { seed: name.length * 7919 });
      assert.ok(r.threw > 0, 'mutations produce errors');
    });
  }

  // 1 MiB inputs: a parser whose work grows faster than its input (nested lengths read again
  // and again, quadratic copies) would not finish, and the runner's timeout would say so.
  it('large hostile inputs are refused or parsed without hanging', () => {
    const big = [Buffer.alloc(1 << 20, 0xff), Buffer.alloc(1 << 20, 0x30), Buffer.alloc(1 << 20, 0x84), Buffer.alloc(1 << 20)];
    for (const [, , fn] of targets) fuzz(big, fn, { runs: big.length });
  });
});

/** Dispatches a frame to the parser for what it claims to be. */
function parseFrame(fr: RdpFrame): void {
  if (fr.kind === 'preconnection') {
    parsePreconnectionPdu(fr.data);
    return;
  }
  if (fr.kind === 'fastpath') {
    parseFastPathInputEvents(fr.data, parseFastPathInputHeader(fr.data));
    return;
  }
  switch (tpduCode(fr.data)) {
    case TPDU.CONNECTION_REQUEST:
      parseConnectionRequest(fr.data);
      break;
    case TPDU.CONNECTION_CONFIRM:
      parseConnectionConfirm(fr.data);
      break;
    case TPDU.DATA: {
      const mcs = parseDataTpdu(fr.data);
      if (mcs.readUInt16BE(0) === 0x7f65) parseConnectInitial(mcs);
      else parseConnectResponse(mcs);
      break;
    }
  }
}
