// NTLMv2 against MS-NLMP 4.2.4 (user "User", domain "Domain", password "Password",
// server challenge 0123456789abcdef, client challenge aa…, time 0, random session key 55…).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RdpProtocolError } from '../../../src/protocols/rdp/errors.js';
import { AV, AV_FLAGS, CLIENT_FLAGS, NTLMSSP } from '../../../src/protocols/rdp/ntlm/constants.js';
import { encodeAvPairs, parseAvPairs } from '../../../src/protocols/rdp/ntlm/av-pairs.js';
import { AUTHENTICATE_MIC_OFFSET, buildChallengeMessage, parseAuthenticateMessage, parseChallengeMessage, parseNegotiateMessage } from '../../../src/protocols/rdp/ntlm/messages.js';
import { NtlmClient } from '../../../src/protocols/rdp/ntlm/ntlm.js';
import { computeNtlmv2Response, fileTime, hmacMd5, ntowfv2 } from '../../../src/protocols/rdp/ntlm/ntlmv2.js';
import { rc4 } from '../../../src/protocols/rdp/ntlm/rc4.js';
import { NtlmSessionSecurity } from '../../../src/protocols/rdp/ntlm/session-security.js';
import { hex } from './fixtures.js';

const isError = (reason: string) => (e: unknown) => e instanceof RdpProtocolError && e.reason === reason;

const SERVER_CHALLENGE = hex('0123456789abcdef');
const CLIENT_CHALLENGE = Buffer.alloc(8, 0xaa);
const RANDOM_SESSION_KEY = Buffer.alloc(16, 0x55);
/** 4.2.4.3 CHALLENGE_MESSAGE. */
const SPEC_CHALLENGE = hex(`
  4e544c4d 53535000 02000000 0c000c00 38000000 33828ae2 01234567 89abcdef
  00000000 00000000 24002400 44000000 06007017 0000000f 53006500 72007600
  65007200 02000c00 44006f00 6d006100 69006e00 01000c00 53006500 72007600
  65007200 00000000`);
/** 4.2.4.3 AUTHENTICATE_MESSAGE. */
const SPEC_AUTHENTICATE = hex(`
  4e544c4d 53535000 03000000 18001800 6c000000 54005400 84000000 0c000c00
  48000000 08000800 54000000 10001000 5c000000 10001000 d8000000 358288e2
  0501280a 0000000f 44006f00 6d006100 69006e00 55007300 65007200 43004f00
  4d005000 55005400 45005200 86c35097 ac9cec10 2554764a 57cccc19 aaaaaaaa
  aaaaaaaa 68cd0ab8 51e51c96 aabc927b ebef6a1c 01010000 00000000 00000000
  00000000 aaaaaaaa aaaaaaaa 00000000 02000c00 44006f00 6d006100 69006e00
  01000c00 53006500 72007600 65007200 00000000 00000000 c5dad254 4fc97990
  94ce1ce9 0bc9d03e`);
const SPEC_TARGET_INFO = hex('02000c0044006f006d00610069006e0001000c005300650072007600650072000000 0000');

const specClient = () =>
  new NtlmClient({
    username: 'User',
    domain: 'Domain',
    password: 'Password',
    workstation: 'COMPUTER',
    version: hex('0501280a0000000f'),
    clientChallenge: CLIENT_CHALLENGE,
    exportedSessionKey: RANDOM_SESSION_KEY,
    timestamp: 0n,
  });

describe('NTLMv2 (MS-NLMP 4.2.4)', () => {
  it('computes NTOWFv2 (4.2.4.1.1)', () => {
    assert.equal(ntowfv2('Password', 'User', 'Domain').toString('hex'), '0c868a403bfd7a93a3001ef22ef02e3f');
  });

  it('computes the LMv2 and NTLMv2 responses and the session base key (4.2.4.1.2, 4.2.4.2)', () => {
    const r = computeNtlmv2Response({ responseKey: ntowfv2('Password', 'User', 'Domain'), serverChallenge: SERVER_CHALLENGE, clientChallenge: CLIENT_CHALLENGE, timestamp: 0n, targetInfo: SPEC_TARGET_INFO });
    assert.equal(r.lmChallengeResponse.toString('hex'), '86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa');
    assert.equal(r.ntProofStr.toString('hex'), '68cd0ab851e51c96aabc927bebef6a1c');
    assert.equal(r.sessionBaseKey.toString('hex'), '8de40ccadbc14a82f15cb0ad0de95ca3');
    // KEY_EXCH: the random session key RC4-encrypted with KeyExchangeKey (= SessionBaseKey).
    assert.equal(rc4(r.sessionBaseKey, RANDOM_SESSION_KEY).toString('hex'), 'c5dad2544fc9799094ce1ce90bc9d03e');
  });

  it('reads the CHALLENGE of 4.2.4.3', () => {
    const ch = parseChallengeMessage(SPEC_CHALLENGE);
    assert.equal(ch.flags, 0xe28a8233);
    assert.equal(ch.targetName, 'Server');
    assert.deepEqual(ch.serverChallenge, SERVER_CHALLENGE);
    assert.deepEqual(ch.targetInfo, SPEC_TARGET_INFO);
    assert.deepEqual(
      ch.avPairs.map((p) => [p.id, p.value.toString('utf16le')]),
      [
        [AV.NB_DOMAIN_NAME, 'Domain'],
        [AV.NB_COMPUTER_NAME, 'Server'],
      ],
    );
    assert.equal(ch.timestamp, undefined);
    assert.equal(ch.version?.toString('hex'), '060070170000000f');
  });

  it('builds the AUTHENTICATE of 4.2.4.3 byte for byte', () => {
    const c = specClient();
    const negotiate = c.negotiate();
    assert.equal(parseNegotiateMessage(negotiate).flags, CLIENT_FLAGS);
    assert.equal(CLIENT_FLAGS, 0xe2088235);
    const auth = c.authenticate(SPEC_CHALLENGE);
    assert.equal(auth.toString('hex'), SPEC_AUTHENTICATE.toString('hex'));
    assert.equal(c.negotiatedFlags, 0xe2888235);
    assert.deepEqual(c.exportedSessionKey, RANDOM_SESSION_KEY);
    const parsed = parseAuthenticateMessage(auth);
    assert.equal(parsed.user, 'User');
    assert.equal(parsed.domain, 'Domain');
    assert.equal(parsed.workstation, 'COMPUTER');
    assert.equal(parsed.mic, undefined);
  });

  it('derives the sealing and signing keys and seals as in 4.2.4.4', () => {
    const s = new NtlmSessionSecurity(RANDOM_SESSION_KEY, 0xe2888235, 'client');
    assert.equal(s.keys.clientSealing.toString('hex'), '59f600973cc4960a25480a7c196e4c58');
    assert.equal(s.keys.clientSigning.toString('hex'), '4788dc861b4782f35d43fd98fe1a2d39');
    const { sealed, signature } = s.seal(Buffer.from('Plaintext', 'utf16le'));
    assert.equal(sealed.toString('hex'), '54e50165bf1936dc996020c1811b0f06fb5f');
    assert.equal(signature.toString('hex'), '010000007fb38ec5c55d497600000000');
    assert.equal(s.keys.outgoingSeq, 1);
    // The client's session security after the 4.2.4.3 exchange is the same.
    const c = specClient();
    c.negotiate();
    c.authenticate(SPEC_CHALLENGE);
    assert.equal(c.security.wrap(Buffer.from('Plaintext', 'utf16le')).toString('hex'), '010000007fb38ec5c55d49760000000054e50165bf1936dc996020c1811b0f06fb5f');
  });
});

describe('NTLM session security', () => {
  const flags = 0xe2888235;

  it('lets the peer unseal, in order, and catches tampering and replay', () => {
    const client = new NtlmSessionSecurity(RANDOM_SESSION_KEY, flags, 'client');
    const server = new NtlmSessionSecurity(RANDOM_SESSION_KEY, flags, 'server');
    for (const text of ['first', 'second', '']) {
      assert.equal(server.unwrap(client.wrap(Buffer.from(text))).toString(), text);
      assert.equal(client.unwrap(server.wrap(Buffer.from(`re: ${text}`))).toString(), `re: ${text}`);
    }
    const sig = client.sign(Buffer.from('mechTypes'));
    server.verify(Buffer.from('mechTypes'), sig);
    assert.throws(() => server.verify(Buffer.from('mechTypes'), sig), isError('integrity'));

    const c2 = new NtlmSessionSecurity(RANDOM_SESSION_KEY, flags, 'client');
    const s2 = new NtlmSessionSecurity(RANDOM_SESSION_KEY, flags, 'server');
    const token = c2.wrap(Buffer.from('pay 100'));
    token[token.length - 1]! ^= 1;
    assert.throws(() => s2.unwrap(token), isError('integrity'));
    assert.throws(() => s2.unwrap(Buffer.alloc(3)), isError('truncated'));
  });

  it('restarts an RC4 stream without touching the sequence number', () => {
    const client = new NtlmSessionSecurity(RANDOM_SESSION_KEY, flags, 'client');
    const server = new NtlmSessionSecurity(RANDOM_SESSION_KEY, flags, 'server');
    server.verify(Buffer.from('list'), client.sign(Buffer.from('list')));
    client.resetRc4('outgoing');
    server.resetRc4('incoming');
    assert.equal(server.unwrap(client.wrap(Buffer.from('after'))).toString(), 'after');
    assert.equal(client.keys.outgoingSeq, 2);
  });

  it('works without key exchange, and refuses sessions without extended session security', () => {
    const noKx = flags & ~NTLMSSP.NEGOTIATE_KEY_EXCH;
    const a = new NtlmSessionSecurity(RANDOM_SESSION_KEY, noKx, 'client');
    const b = new NtlmSessionSecurity(RANDOM_SESSION_KEY, noKx, 'server');
    assert.equal(b.unwrap(a.wrap(Buffer.from('x'))).toString(), 'x');
    assert.throws(() => new NtlmSessionSecurity(RANDOM_SESSION_KEY, flags & ~NTLMSSP.NEGOTIATE_EXTENDED_SESSIONSECURITY, 'client'), isError('unsupported'));
  });
});

describe('NTLM client against a modern server', () => {
  const serverFlags = (0xe28a8235 | NTLMSSP.TARGET_TYPE_DOMAIN) >>> 0;
  const timestamp = fileTime(Date.UTC(2026, 0, 2, 3, 4, 5));
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64LE(timestamp);
  const challenge = buildChallengeMessage({
    flags: serverFlags,
    serverChallenge: SERVER_CHALLENGE,
    targetName: 'CORP',
    avPairs: [
      { id: AV.NB_DOMAIN_NAME, value: Buffer.from('CORP', 'utf16le') },
      { id: AV.NB_COMPUTER_NAME, value: Buffer.from('WIN-TARGET', 'utf16le') },
      { id: AV.DNS_DOMAIN_NAME, value: Buffer.from('corp.example', 'utf16le') },
      { id: AV.TIMESTAMP, value: ts },
    ],
  });

  it('uses the server time, sends no LM response, and adds a MIC the server can check', () => {
    const client = new NtlmClient({ username: 'svc-rdp', domain: 'CORP', password: 'S3cret!', workstation: 'GATEHOUSE', targetName: 'TERMSRV/win-target.corp.example' });
    const negotiate = client.negotiate();
    const auth = client.authenticate(challenge);
    const m = parseAuthenticateMessage(auth);
    assert.deepEqual(m.lmChallengeResponse, Buffer.alloc(24));
    assert.ok(m.mic);
    assert.equal(m.user, 'svc-rdp');

    // Server side: recompute everything from the password it knows.
    const key = ntowfv2('S3cret!', 'svc-rdp', 'CORP');
    const proof = m.ntChallengeResponse.subarray(0, 16);
    const blob = m.ntChallengeResponse.subarray(16);
    assert.deepEqual(hmacMd5(key, SERVER_CHALLENGE, blob), proof);
    assert.equal(blob.readBigUInt64LE(8), timestamp);
    const pairs = parseAvPairs(blob.subarray(28));
    const flagsPair = pairs.find((p) => p.id === AV.FLAGS)!.value.readUInt32LE(0);
    assert.equal(flagsPair & AV_FLAGS.MIC_PROVIDED, AV_FLAGS.MIC_PROVIDED);
    assert.equal(pairs.find((p) => p.id === AV.TARGET_NAME)!.value.toString('utf16le'), 'TERMSRV/win-target.corp.example');
    const exported = rc4(hmacMd5(key, proof), m.encryptedRandomSessionKey);
    assert.deepEqual(exported, client.exportedSessionKey);
    const zeroed = Buffer.from(auth);
    zeroed.fill(0, AUTHENTICATE_MIC_OFFSET, AUTHENTICATE_MIC_OFFSET + 16);
    assert.deepEqual(hmacMd5(exported, negotiate, challenge, zeroed), m.mic);

    const server = new NtlmSessionSecurity(exported, m.flags, 'server');
    assert.equal(server.unwrap(client.security.wrap(Buffer.from('public key'))).toString(), 'public key');
  });

  it('refuses servers it cannot do NTLMv2 with, and out-of-order use', () => {
    const c = () => new NtlmClient({ username: 'u', domain: 'd', password: 'p' });
    assert.throws(() => c().authenticate(challenge), isError('unexpected'));
    const noEss = buildChallengeMessage({ flags: serverFlags & ~NTLMSSP.NEGOTIATE_EXTENDED_SESSIONSECURITY, serverChallenge: SERVER_CHALLENGE, targetName: '', avPairs: [] });
    const x = c();
    x.negotiate();
    assert.throws(() => x.authenticate(noEss), isError('unsupported'));
    // An old-style CHALLENGE that ends before TargetInfoFields.
    const noInfo = Buffer.concat([SPEC_CHALLENGE.subarray(0, 12), hex('0000 0000 20000000'), SPEC_CHALLENGE.subarray(20, 32)]);
    const y = c();
    y.negotiate();
    assert.throws(() => y.authenticate(noInfo), isError('unsupported'));
    const z = c();
    z.negotiate();
    z.authenticate(challenge);
    assert.throws(() => z.authenticate(challenge), isError('unexpected'));
    assert.throws(() => c().security, isError('unexpected'));
    assert.throws(() => new NtlmClient({ username: 'u', domain: 'd' }), RangeError);
  });

  it('encodes and parses AV pair lists', () => {
    const pairs = [{ id: AV.NB_COMPUTER_NAME, value: Buffer.from('A', 'utf16le') }];
    const enc = encodeAvPairs(pairs);
    assert.equal(enc.toString('hex'), '010002004100' + '00000000');
    assert.deepEqual(parseAvPairs(enc), pairs);
    assert.deepEqual(parseAvPairs(enc.subarray(0, 6)), pairs);
    assert.throws(() => parseAvPairs(enc.subarray(0, 5)), isError('truncated'));
  });

  it('refuses broken messages with typed errors', () => {
    assert.throws(() => parseChallengeMessage(Buffer.from('NTLMSSP\0')), isError('truncated'));
    assert.throws(() => parseChallengeMessage(Buffer.concat([Buffer.from('NTLMSSQ\0'), SPEC_CHALLENGE.subarray(8)])), isError('malformed'));
    assert.throws(() => parseChallengeMessage(SPEC_AUTHENTICATE), isError('unexpected'));
    const far = Buffer.from(SPEC_CHALLENGE);
    far.writeUInt32LE(0xfffffff0, 44);
    assert.throws(() => parseChallengeMessage(far), isError('truncated'));
  });
});
