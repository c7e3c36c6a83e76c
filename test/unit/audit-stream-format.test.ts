// The socket-free parts of audit streaming: RFC 5424 messages and octet-counted framing
// (escaping, header fields, byte lengths of non-ASCII text), the webhook signature (verified,
// tampered, replayed), the backoff, a streamed event hashing back to its chain hash, and the
// TLS server name a syslog sink sends.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventHash, GENESIS } from '../../src/core/audit/chain.js';
import { backoffMs } from '../../src/core/audit/streaming/config.js';
import { streamedHashOk, type StreamedEvent } from '../../src/core/audit/streaming/event.js';
import { headerField, octetFrame, sdValue, syslogCheckpointMessage, syslogFrames, syslogMessage } from '../../src/core/audit/streaming/syslog-format.js';
import { tlsServerName } from '../../src/core/audit/streaming/syslog-transport.js';
import { verifyWebhookSignature, webhookSignature } from '../../src/core/audit/streaming/webhook-signature.js';
import { parseSyslog } from '../support/audit-receivers.js';

const event = (over: Partial<StreamedEvent> = {}): StreamedEvent => {
  const fields = { ts: 1_796_407_200_123, actorId: 'u1', actorName: 'zoë', action: 'auth.login', targetType: null, targetId: null, ip: '10.0.0.7', outcome: 'success' as const, details: JSON.stringify({ via: 'password', note: 'quote " bracket ] backslash \\' }), prevHash: GENESIS, ...over };
  return { seq: 1, ...fields, hash: eventHash(fields) };
};

describe('audit streaming: syslog over TLS', () => {
  it('sends the host as the TLS server name unless it is an address (IPv6 with hex letters too)', () => {
    assert.equal(tlsServerName({ host: 'siem.example.com', serverName: null }), 'siem.example.com');
    assert.equal(tlsServerName({ host: 'cafe.example', serverName: null }), 'cafe.example');
    for (const host of ['10.0.0.7', '::1', 'fd00::abcd', '2001:db8::beef:1']) assert.equal(tlsServerName({ host, serverName: null }), undefined, host);
    assert.equal(tlsServerName({ host: 'fd00::abcd', serverName: 'siem.example.com' }), 'siem.example.com');
  });
});

describe('audit streaming: syslog messages', () => {
  it('writes RFC 5424 with the chain fields as structured data and the event as BOM + JSON', () => {
    const e = event();
    const m = syslogMessage(e, { facility: 13, hostname: 'gw 1' });
    assert.match(m, /^<109>1 2026-\d\d-\d\dT\d\d:\d\d:\d\d\.123Z gw1 gatehouse - auth\.login \[gatehouse@32473 seq="1" hash="[0-9a-f]{64}" prevHash="0{64}" outcome="success"\] \ufeff\{/);
    const parsed = parseSyslog(m);
    assert.deepEqual(parsed.event, e);
    assert.ok(streamedHashOk(parsed.event));
    assert.equal(syslogMessage(event({ outcome: 'failure' }), { facility: 4, hostname: 'h' }).slice(0, 5), '<36>1');
  });

  it('keeps header fields to printable ASCII within their length, NILVALUE when empty', () => {
    assert.equal(headerField('a b\u00e9c', 10), 'abc');
    assert.equal(headerField('', 10), '-');
    assert.equal(headerField('x'.repeat(40), 32).length, 32);
    assert.equal(sdValue('a"b]c\\d'), 'a\\"b\\]c\\\\d');
    const long = syslogMessage(event({ action: 'a.very.long.action.name.that.goes.past.thirty.two' }), { facility: 13, hostname: 'h' });
    assert.equal(parseSyslog(long).msgId, 'a.very.long.action.name.that.goe');
  });

  it('frames by octet count in bytes (UTF-8), one frame per event', () => {
    const f = octetFrame('zoë\ufeff');
    assert.equal(f.toString('utf8'), `${Buffer.byteLength('zoë\ufeff')} zoë\ufeff`);
    const two = syslogFrames([event(), event({ actorName: 'ünïcode' })], { facility: 13, hostname: 'h' });
    let rest = two;
    const msgs: string[] = [];
    while (rest.length) {
      const sp = rest.indexOf(0x20);
      const len = Number(rest.subarray(0, sp).toString());
      msgs.push(rest.subarray(sp + 1, sp + 1 + len).toString('utf8'));
      rest = rest.subarray(sp + 1 + len);
    }
    assert.deepEqual(msgs.map((m) => parseSyslog(m).event.actorName), ['zoë', 'ünïcode']);
  });

  it('writes a signed checkpoint as MSGID audit.checkpoint with checkpointSeq, after the events of its batch', () => {
    const e = event();
    const cp = { format: 'gatehouse-audit-checkpoint/1', seq: 1, hash: e.hash, ts: '2026-12-04T18:00:01.000Z', keyId: 'k1', fingerprint: null, signature: 'c2ln' } as never;
    const m = parseSyslog(syslogCheckpointMessage(cp, { facility: 13, hostname: 'h' }));
    assert.deepEqual([m.msgId, m.sd.checkpointSeq, m.sd.hash, m.sd.keyId, m.timestamp], ['audit.checkpoint', '1', e.hash, 'k1', '2026-12-04T18:00:01.000Z']);
    assert.deepEqual(m.event, cp);
    const frames = syslogFrames([e], { facility: 13, hostname: 'h' }, [cp]).toString('utf8');
    assert.ok(frames.indexOf('audit.checkpoint') > frames.indexOf('auth.login'));
  });

  it('a copy edited on the way no longer hashes to its hash', () => {
    assert.equal(streamedHashOk({ ...event(), actorName: 'mallory' }), false);
    assert.equal(streamedHashOk({ ...event(), details: JSON.stringify({ via: 'password' }) }), false);
  });
});

describe('audit streaming: webhook signatures and backoff', () => {
  const key = 'a-webhook-key-of-some-length';
  const body = JSON.stringify({ sink: 's', events: [event()] });
  it('verifies its own signature, and refuses another key, an edited body or an old timestamp', () => {
    const ts = 1_796_407_200;
    const signature = webhookSignature(key, ts, body);
    assert.match(signature, /^v1=[0-9a-f]{64}$/);
    assert.ok(verifyWebhookSignature(key, { signature, timestamp: String(ts) }, body, ts + 10));
    assert.ok(!verifyWebhookSignature('another-key-of-some-length', { signature, timestamp: String(ts) }, body, ts));
    assert.ok(!verifyWebhookSignature(key, { signature, timestamp: String(ts) }, body.replace('auth.login', 'auth.logon'), ts));
    assert.ok(!verifyWebhookSignature(key, { signature, timestamp: String(ts + 1) }, body, ts));
    assert.ok(!verifyWebhookSignature(key, { signature, timestamp: String(ts) }, body, ts + 301), 'a replay after the tolerance');
    assert.ok(!verifyWebhookSignature(key, { timestamp: String(ts) }, body, ts));
  });

  it('backs off exponentially from retryInitialMs up to retryMaxMs', () => {
    const c = { retryInitialMs: 1000, retryMaxMs: 300_000 };
    assert.deepEqual([1, 2, 3, 4, 9, 10, 100].map((a) => backoffMs(c, a)), [1000, 2000, 4000, 8000, 256_000, 300_000, 300_000]);
  });
});
