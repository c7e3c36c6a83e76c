// The TSplus logon-ticket wire formats (seed 004) without a server: the credential text, strict
// base64, the lpw_timeout_list_ip list, server entries and assignment, the farm answers in the
// seed's exact formats, PKCS#1 v1.5 unpadding against Node's own encryption, and the key file.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { constants, publicEncrypt } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assignedTo, decodeBase64Strict, lbAnswer, parseCredentialText, parseIpList, parseServerEntry, srvAssignedAnswer } from '../../src/core/logon-tickets/protocol.js';
import { LOGON_KEY_FILE, LogonTicketKey, unpadPkcs1Type2 } from '../../src/core/logon-tickets/rsa-key.js';
import { scrubUrl } from '../../src/log.js';
import { keyFromModulusExponent } from '../support/logon-tickets.js';

describe('logon-ticket credential text', () => {
  it('reads WinUser, WinPassword and WinLPWphrase; DOMAIN\\user with one or two backslashes', () => {
    assert.deepEqual(parseCredentialText('WinUser=alice&WinPassword=pw'), { username: 'alice', domain: null, password: 'pw', phrase: null });
    assert.deepEqual(parseCredentialText('WinUser=CORP\\alice&WinPassword=p&w=x&WinLPWphrase=s3'), { username: 'alice', domain: 'CORP', password: 'p&w=x', phrase: 's3' });
    assert.deepEqual(parseCredentialText('WinUser=CORP\\\\alice&WinPassword=pw'), { username: 'alice', domain: 'CORP', password: 'pw', phrase: null });
    assert.equal(parseCredentialText('WinUser=alice@corp.example&WinPassword=pw')?.username, 'alice@corp.example');
  });
  it('refuses what is not of that form', () => {
    for (const t of ['', 'WinUser=alice', 'WinPassword=pw&WinUser=a', 'WinUser=&WinPassword=pw', 'WinUser=a&WinPassword=', 'WinUser=a\\b\\c&WinPassword=pw', 'WinUser=a\x01&WinPassword=pw', 'WinUser=a:b&WinPassword=pw', `WinUser=a&WinPassword=${'x'.repeat(600)}`]) {
      assert.equal(parseCredentialText(t), null, JSON.stringify(t.slice(0, 40)));
    }
  });
});

describe('logon-ticket parameters', () => {
  it('base64 is strict (both alphabets, a "+" turned into a space is taken back), bounded', () => {
    assert.deepEqual(decodeBase64Strict('AAEC/w=='), Buffer.from([0, 1, 2, 255]));
    assert.deepEqual(decodeBase64Strict('AAEC_w'), Buffer.from([0, 1, 2, 255]));
    assert.deepEqual(decodeBase64Strict('+w=='), decodeBase64Strict(' w=='));
    for (const bad of ['', 'A', 'AA*B', 'AAAA===', '%%%%', 'A'.repeat(2000)]) assert.equal(decodeBase64Strict(bad), null, bad.slice(0, 10));
  });
  it('lpw_timeout_list_ip is "" or |ip|ip|', () => {
    assert.deepEqual(parseIpList(''), []);
    assert.deepEqual(parseIpList('|10.0.0.5|::1|'), ['10.0.0.5', '::1']);
    for (const bad of ['10.0.0.5', '|10.0.0.5', '||', '|host.example|']) assert.throws(() => parseIpList(bad));
  });
  it('server entries and who they are assigned to', () => {
    const s = parseServerEntry('app1|win-box|rdp|alice;CORP\\bob');
    assert.deepEqual(s, { name: 'app1', secret: 'win-box', launcher: 'rdp', users: ['alice', 'CORP\\bob'] });
    assert.ok(assignedTo(s, 'ALICE', ''));
    assert.ok(assignedTo(s, 'alice', 'OTHER'));
    assert.ok(assignedTo(s, 'bob', 'corp'));
    assert.ok(!assignedTo(s, 'bob', 'OTHER'));
    assert.ok(!assignedTo(s, 'bob', ''));
    assert.ok(assignedTo(parseServerEntry('app2|x|rdp'), 'anyone', ''));
    for (const bad of ['app1|x', 'app 1|x|rdp', '|x|rdp', 'a|b|c|d|e', '~~a|x|rdp']) assert.throws(() => parseServerEntry(bad), bad);
  });
  it('farm answers in the seed formats', () => {
    assert.equal(lbAnswer('app4', 'gw.gw.com', 443), 'loadbalancing-on|app4|gw.gw.com/~~app4|https|443');
    assert.equal(lbAnswer(null, 'gw.gw.com', 443), 'loadbalancing-off');
    assert.equal(srvAssignedAnswer(['app1', 'app2', 'app3'], 'gw.gw.com', 443), 'app1|gw.gw.com/~~app1:443\r\napp2|gw.gw.com/~~app2:443\r\napp3|gw.gw.com/~~app3:443');
    assert.equal(srvAssignedAnswer([], 'gw.gw.com', 443), 'KO');
  });
  it('the request log never holds a logon ticket, an RSA blob or a plain password', () => {
    assert.equal(scrubUrl('/software/html5.html?user=*8Oa5NxWljnYyXgAVcZDj8T7T4duOZIce'), '/software/html5.html?user=[redacted]');
    assert.equal(scrubUrl('/socket.io/socket.io/LPW?rsabase64nojs=QUJD'), '/socket.io/socket.io/LPW?rsabase64nojs=[redacted]');
    assert.equal(scrubUrl('/~~app1/socket.io/socket.io/LPW?WinUser=a&WinPassword=Sec&WinLPWphrase=ph'), '/~~app1/socket.io/socket.io/LPW?WinUser=a&WinPassword=[redacted]&WinLPWphrase=[redacted]');
  });
});

describe('logon-ticket RSA key', () => {
  it('is made once (0600), answers modulus:exponent in hex, decrypts PKCS#1 v1.5 from Node, refuses wrong blobs; rotation replaces it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-lt-key-'));
    try {
      const { key, created } = LogonTicketKey.load(dir);
      assert.ok(created);
      assert.equal(statSync(join(dir, LOGON_KEY_FILE)).mode & 0o777, 0o600);
      assert.match(key.public.modulusExponent, /^[0-9a-f]{512}:10001$/);
      const again = LogonTicketKey.load(dir);
      assert.ok(!again.created);
      assert.equal(again.key.public.fingerprint, key.public.fingerprint);
      const pub = keyFromModulusExponent(key.public.modulusExponent);
      const msg = Buffer.from('WinUser=a&WinPassword=b');
      const blob = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_PADDING }, msg);
      assert.deepEqual(key.decrypt(blob), msg);
      assert.equal(key.decrypt(blob.subarray(1)), null);
      assert.equal(key.decrypt(Buffer.concat([blob, Buffer.from([0])])), null);
      assert.equal(key.decrypt(Buffer.alloc(256, 0xff)), null, 'not below the modulus');
      assert.equal(key.decrypt(publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING }, msg)), null, 'OAEP is not PKCS#1 v1.5');
      const r = key.rotate();
      assert.equal(r.previous, again.key.public.fingerprint);
      assert.notEqual(r.current, r.previous);
      assert.equal(key.decrypt(blob), null, 'the old key no longer decrypts');
      assert.equal(statSync(join(dir, LOGON_KEY_FILE)).mode & 0o777, 0o600);
      assert.equal(LogonTicketKey.load(dir).key.public.fingerprint, r.current);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('unpadding: 00 02, at least 8 padding bytes, a zero separator', () => {
    const em = (head: number[], ps: number, tail: number[]) => Buffer.from([...head, ...Array(ps).fill(7), ...tail]);
    assert.deepEqual(unpadPkcs1Type2(em([0, 2], 8, [0, 65, 66])), Buffer.from('AB'));
    assert.deepEqual(unpadPkcs1Type2(em([0, 2], 8, [0])), Buffer.alloc(0));
    assert.equal(unpadPkcs1Type2(em([0, 2], 7, [0, 65])), null);
    assert.equal(unpadPkcs1Type2(em([0, 1], 8, [0, 65])), null);
    assert.equal(unpadPkcs1Type2(em([1, 2], 8, [0, 65])), null);
    assert.equal(unpadPkcs1Type2(em([0, 2], 9, [])), null);
  });
});
