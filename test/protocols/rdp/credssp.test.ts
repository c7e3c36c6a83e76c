import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { RdpProtocolError } from '../../../src/protocols/rdp/errors.js';
import { clientPubKeyAuth, expectedServerPubKeyAuth, subjectPublicKey } from '../../../src/protocols/rdp/credssp/pubkey-auth.js';
import { decodeSpnego, encodeMechTypeList, encodeNegTokenInit, encodeNegTokenResp, NEG_STATE, ntlmTokenOf, OID } from '../../../src/protocols/rdp/credssp/spnego.js';
import {
  CREDSSP_VERSION,
  CRED_TYPE,
  decodeTsCredentials,
  decodeTsPasswordCreds,
  decodeTsRequest,
  encodeTsCredentials,
  encodeTsRequest,
  tsRequestLength,
} from '../../../src/protocols/rdp/credssp/ts-request.js';
import { berContext, berInteger, berOctetString, berOid, berSequence, tlv } from '../../../src/protocols/rdp/encoding/ber.js';
import { AV, NTLMSSP } from '../../../src/protocols/rdp/ntlm/constants.js';
import { buildChallengeMessage, parseAuthenticateMessage } from '../../../src/protocols/rdp/ntlm/messages.js';
import { NtlmClient } from '../../../src/protocols/rdp/ntlm/ntlm.js';
import { hmacMd5, ntowfv2 } from '../../../src/protocols/rdp/ntlm/ntlmv2.js';
import { rc4 } from '../../../src/protocols/rdp/ntlm/rc4.js';
import { NtlmSessionSecurity } from '../../../src/protocols/rdp/ntlm/session-security.js';
import { hex } from './fixtures.js';

const isError = (reason: string) => (e: unknown) => e instanceof RdpProtocolError && e.reason === reason;
/** A 40-byte NTLM NEGOTIATE, as FreeRDP sends it. */
const NTLM_NEGOTIATE = hex('4e544c4d5353500001000000b78208e2000000002800000000000000280000000a0063450000000f');

describe('TSRequest', () => {
  it('encodes the first client message as FreeRDP does', () => {
    const der = encodeTsRequest({ version: 6, negoTokens: [NTLM_NEGOTIATE] });
    assert.equal(der.toString('hex'), `3037a003020106a130302e302ca02a0428${NTLM_NEGOTIATE.toString('hex')}`);
    assert.deepEqual(decodeTsRequest(der), { version: 6, negoTokens: [NTLM_NEGOTIATE] });
  });

  it('round-trips every field, and long lengths', () => {
    const t = { version: CREDSSP_VERSION, negoTokens: [Buffer.alloc(300, 1), Buffer.alloc(2, 2)], authInfo: Buffer.alloc(70000, 3), pubKeyAuth: Buffer.alloc(48, 4), errorCode: 0xc000006d, clientNonce: Buffer.alloc(32, 5) };
    const der = encodeTsRequest(t);
    assert.equal(der.toString('hex', 0, 2), '3083');
    assert.deepEqual(decodeTsRequest(der), t);
    assert.equal(tsRequestLength(der), der.length);
  });

  it('reads NTSTATUS error codes written as signed or unsigned integers', () => {
    const signed = berSequence(berContext(0, berInteger(6)), berContext(4, tlv(0x02, hex('c000006d'))));
    assert.equal(decodeTsRequest(signed).errorCode, 0xc000006d);
    assert.equal(encodeTsRequest({ version: 6, errorCode: 0xc000006d }).toString('hex'), '300ea003020106a407020500c000006d');
  });

  it('skips unknown fields but refuses duplicates, a missing version and trailing bytes', () => {
    const extra = berSequence(berContext(0, berInteger(7)), berContext(9, berOctetString(Buffer.from('future'))), berContext(3, berOctetString(Buffer.from('pk'))));
    assert.deepEqual(decodeTsRequest(extra), { version: 7, pubKeyAuth: Buffer.from('pk') });
    assert.throws(() => decodeTsRequest(berSequence(berContext(0, berInteger(6)), berContext(0, berInteger(5)))), isError('malformed'));
    assert.throws(() => decodeTsRequest(berSequence(berContext(3, berOctetString(Buffer.from('pk'))))), isError('malformed'));
    assert.throws(() => decodeTsRequest(Buffer.concat([encodeTsRequest({ version: 6 }), Buffer.from([0])])), isError('malformed'));
    assert.throws(() => decodeTsRequest(berSequence(berContext(0, berOctetString(Buffer.from('x'))))), isError('malformed'));
  });

  it('frames TSRequests on a stream', () => {
    const der = encodeTsRequest({ version: 6, negoTokens: [Buffer.alloc(200)] });
    assert.equal(tsRequestLength(der.subarray(0, 1)), undefined);
    assert.equal(tsRequestLength(der.subarray(0, 2)), undefined);
    assert.equal(tsRequestLength(der.subarray(0, 3)), der.length);
    assert.throws(() => tsRequestLength(hex('0482')), isError('malformed'));
    assert.throws(() => tsRequestLength(hex('3084ffffffff')), isError('too_large'));
    assert.throws(() => tsRequestLength(hex('3080')), isError('unsupported'));
  });

  it('encodes password credentials in UTF-16LE', () => {
    const creds = encodeTsCredentials({ domain: 'CORP', username: 'svc-rdp', password: 'pässwörd' });
    const outer = decodeTsCredentials(creds);
    assert.equal(outer.credType, CRED_TYPE.PASSWORD);
    assert.deepEqual(decodeTsPasswordCreds(outer.credentials), { domain: 'CORP', username: 'svc-rdp', password: 'pässwörd' });
    assert.ok(outer.credentials.includes(Buffer.from('pässwörd', 'utf16le')));
    assert.deepEqual(decodeTsPasswordCreds(decodeTsCredentials(encodeTsCredentials({ domain: '', username: 'u', password: '' })).credentials), { domain: '', username: 'u', password: '' });
    assert.throws(() => decodeTsPasswordCreds(berSequence(berContext(0, berOctetString(Buffer.alloc(0))))), isError('malformed'));
  });
});

describe('SPNEGO', () => {
  it('wraps an NTLM NEGOTIATE in a NegTokenInit as Windows does', () => {
    const tok = encodeNegTokenInit({ mechTypes: [OID.NTLMSSP], mechToken: NTLM_NEGOTIATE });
    assert.equal(tok.toString('hex', 0, 34), '604806062b0601050502a03e303ca00e300c060a2b06010401823702020aa22a0428');
    const d = decodeSpnego(tok);
    assert.equal(d.kind, 'init');
    assert.ok(d.kind === 'init');
    assert.deepEqual(d.mechTypes, [OID.NTLMSSP]);
    assert.deepEqual(d.mechToken, NTLM_NEGOTIATE);
    assert.deepEqual(d.mechTypesDer, encodeMechTypeList([OID.NTLMSSP]));
    assert.deepEqual(ntlmTokenOf(d), NTLM_NEGOTIATE);
  });

  it('round-trips NegTokenResp', () => {
    const resp = { negState: NEG_STATE.ACCEPT_INCOMPLETE, supportedMech: OID.NTLMSSP, responseToken: Buffer.from('challenge'), mechListMIC: Buffer.alloc(16, 9) };
    const enc = encodeNegTokenResp(resp);
    assert.equal(enc.toString('hex', 0, 1), 'a1');
    assert.deepEqual(decodeSpnego(enc), { kind: 'resp', ...resp });
    assert.deepEqual(decodeSpnego(encodeNegTokenResp({ negState: NEG_STATE.ACCEPT_COMPLETED })), { kind: 'resp', negState: 0 });
  });

  it('decodes tolerantly: NegTokenInit2 hints, no GSS header, unknown fields, raw NTLM', () => {
    const mech = berContext(0, encodeMechTypeList([OID.MS_KRB5, OID.KRB5, OID.NTLMSSP]));
    const hints = berContext(3, berSequence(berContext(0, tlv(0x1b, Buffer.from('not_defined_in_RFC4178@please_ignore')))));
    const init2 = tlv(0x60, berOid(OID.SPNEGO), berContext(0, berSequence(mech, hints, berContext(7, berOctetString(Buffer.from('x'))))));
    const d = decodeSpnego(init2);
    assert.ok(d.kind === 'init');
    assert.deepEqual(d.mechTypes, ['1.2.840.48018.1.2.2', '1.2.840.113554.1.2.2', '1.3.6.1.4.1.311.2.2.10']);
    assert.equal(d.hintName, 'not_defined_in_RFC4178@please_ignore');
    assert.equal(d.mechToken, undefined);
    const bare = berContext(0, berSequence(mech, berContext(2, berOctetString(NTLM_NEGOTIATE)), berContext(4, berOctetString(Buffer.from('mic')))));
    const b = decodeSpnego(bare);
    assert.ok(b.kind === 'init');
    assert.deepEqual(b.mechToken, NTLM_NEGOTIATE);
    assert.deepEqual(b.mechListMIC, Buffer.from('mic'));
    assert.deepEqual(decodeSpnego(NTLM_NEGOTIATE), { kind: 'ntlm', token: NTLM_NEGOTIATE });
  });

  it('refuses what it cannot read', () => {
    assert.throws(() => decodeSpnego(tlv(0x60, berOid('1.2.3.4'), Buffer.alloc(0))), isError('unsupported'));
    assert.throws(() => decodeSpnego(berSequence()), isError('malformed'));
    assert.throws(() => decodeSpnego(berContext(0, berSequence())), isError('malformed'));
    assert.throws(() => decodeSpnego(hex('a1 05 30 03 a0 01')), isError('truncated'));
  });
});

describe('CredSSP public key binding', () => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const pkcs1 = publicKey.export({ type: 'pkcs1', format: 'der' });

  it('takes SubjectPublicKey out of the SPKI', () => {
    assert.deepEqual(subjectPublicKey(spki), pkcs1);
    assert.throws(() => subjectPublicKey(pkcs1), isError('malformed'));
  });

  it('hashes with the nonce from version 5, and uses the raw key before', () => {
    const nonce = randomBytes(32);
    const sha = (s: string) => createHash('sha256').update(Buffer.from(s, 'latin1')).update(nonce).update(pkcs1).digest();
    assert.deepEqual(clientPubKeyAuth(6, pkcs1, nonce), sha('CredSSP Client-To-Server Binding Hash\0'));
    assert.deepEqual(expectedServerPubKeyAuth(5, pkcs1, nonce), sha('CredSSP Server-To-Client Binding Hash\0'));
    assert.deepEqual(clientPubKeyAuth(3, pkcs1), pkcs1);
    const plusOne = expectedServerPubKeyAuth(2, pkcs1);
    assert.equal(plusOne.readUInt8(0), (pkcs1.readUInt8(0) + 1) & 0xff);
    assert.deepEqual(plusOne.subarray(1), pkcs1.subarray(1));
    assert.throws(() => clientPubKeyAuth(6, pkcs1), RangeError);
  });

  it('carries a whole NLA exchange: SPNEGO-wrapped NTLM, sealed key proof, sealed credentials', () => {
    const nonce = randomBytes(32);
    const key = subjectPublicKey(spki);
    const client = new NtlmClient({ username: 'svc-rdp', domain: 'CORP', password: 'S3cret!', workstation: 'GATEHOUSE' });

    // 1. client → server: NEGOTIATE.
    const m1 = decodeTsRequest(encodeTsRequest({ version: 6, negoTokens: [encodeNegTokenInit({ mechTypes: [OID.NTLMSSP], mechToken: client.negotiate() })], clientNonce: nonce }));
    const negotiate = ntlmTokenOf(decodeSpnego(m1.negoTokens![0]!))!;
    // 2. server → client: CHALLENGE.
    const ts = Buffer.alloc(8);
    ts.writeBigUInt64LE(133_000_000_000_000_000n);
    const challenge = buildChallengeMessage({
      flags: (NTLMSSP.NEGOTIATE_UNICODE | NTLMSSP.NEGOTIATE_SIGN | NTLMSSP.NEGOTIATE_SEAL | NTLMSSP.NEGOTIATE_NTLM | NTLMSSP.NEGOTIATE_ALWAYS_SIGN | NTLMSSP.NEGOTIATE_EXTENDED_SESSIONSECURITY | NTLMSSP.NEGOTIATE_TARGET_INFO | NTLMSSP.NEGOTIATE_128 | NTLMSSP.NEGOTIATE_KEY_EXCH) >>> 0,
      serverChallenge: randomBytes(8),
      targetName: 'CORP',
      avPairs: [
        { id: AV.NB_DOMAIN_NAME, value: Buffer.from('CORP', 'utf16le') },
        { id: AV.TIMESTAMP, value: ts },
      ],
    });
    const m2 = decodeTsRequest(encodeTsRequest({ version: 6, negoTokens: [encodeNegTokenResp({ negState: NEG_STATE.ACCEPT_INCOMPLETE, supportedMech: OID.NTLMSSP, responseToken: challenge })] }));
    // 3. client → server: AUTHENTICATE and the sealed public key hash.
    const auth = client.authenticate(ntlmTokenOf(decodeSpnego(m2.negoTokens![0]!))!);
    const m3 = decodeTsRequest(encodeTsRequest({ version: 6, negoTokens: [encodeNegTokenResp({ responseToken: auth })], pubKeyAuth: client.security.wrap(clientPubKeyAuth(6, key, nonce)), clientNonce: nonce }));

    // The server checks the proof and the binding.
    const a = parseAuthenticateMessage(ntlmTokenOf(decodeSpnego(m3.negoTokens![0]!))!);
    const respKey = ntowfv2('S3cret!', 'svc-rdp', 'CORP');
    const proof = a.ntChallengeResponse.subarray(0, 16);
    assert.deepEqual(hmacMd5(respKey, challenge.subarray(24, 32), a.ntChallengeResponse.subarray(16)), proof);
    const exported = rc4(hmacMd5(respKey, proof), a.encryptedRandomSessionKey);
    assert.ok(negotiate.length > 0);
    const server = new NtlmSessionSecurity(exported, a.flags, 'server');
    assert.deepEqual(server.unwrap(m3.pubKeyAuth!), clientPubKeyAuth(6, key, m3.clientNonce));

    // 4. server → client: its own proof; 5. client → server: the credentials.
    const m4 = decodeTsRequest(encodeTsRequest({ version: 6, pubKeyAuth: server.wrap(expectedServerPubKeyAuth(6, key, nonce)) }));
    assert.deepEqual(client.security.unwrap(m4.pubKeyAuth!), expectedServerPubKeyAuth(6, key, nonce));
    const m5 = decodeTsRequest(encodeTsRequest({ version: 6, authInfo: client.security.wrap(encodeTsCredentials({ domain: 'CORP', username: 'svc-rdp', password: 'S3cret!' })) }));
    assert.deepEqual(decodeTsPasswordCreds(decodeTsCredentials(server.unwrap(m5.authInfo!)).credentials), { domain: 'CORP', username: 'svc-rdp', password: 'S3cret!' });
  });
});
