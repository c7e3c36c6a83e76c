// A Telnet target reached through the SSH door: Gatehouse logs in to inetutils telnetd
// with the vaulted password and hands the terminal over; the password never reaches the
// person or the recording; a wrong vaulted password gives a clear message. A non-ASCII
// (UTF-8) password works because Gatehouse negotiates BINARY; a target that refuses
// BINARY is not sent such a password at all.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { TelnetParser } from '../../src/protocols/telnet/parser.js';
import { ensureLocalAccount, ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { fakeTelnetTarget } from '../support/fake-telnet.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { leaks } from '../support/scan.js';
import { auditEvents, clientFor, createSecret, endedSession, interactive, launch, ok, PROMPT, sessionOf, type Client } from '../support/ssh-client.js';
import { startTelnetd, type TelnetdHandle } from '../support/telnetd.js';

describe('Telnet target through the SSH door', () => {
  let telnetd: TelnetdHandle;
  let gw: Gateway;
  let c: Client;

  before(async () => {
    ensureTargetAccount();
    [telnetd, gw] = await Promise.all([startTelnetd(), startGateway('sqlite')]);
  });
  after(async () => {
    await gw?.close();
    await telnetd?.stop();
  });

  it('logs in with the vaulted password and hands over the shell; the password is in no output or recording', async () => {
    const secretId = await createSecret(gw, 'telnet-box', { port: telnetd.port, password: TARGET_PASSWORD });
    const l = await launch(gw, secretId, { launcher: 'telnet' });
    assert.equal(l.body.launcher.protocol, 'telnet');
    c = clientFor(gw, l.knownHosts);
    const p = interactive([...c.base(), `${l.ticket}@127.0.0.1`]);
    try {
      await p.waitFor(PROMPT, 20_000);
      p.write('whoami\r');
      await p.waitFor(/[\r\n]ghtarget\r\n/);
      p.write('exit\r');
      // The Telnet target's logout reaches the client as exit status 0 (not a dropped connection).
      assert.equal((await p.done).code, 0, p.all);
    } finally {
      p.kill();
    }
    const s = await endedSession(gw, (await sessionOf(gw, secretId)).id);
    assert.equal(s.protocol, 'telnet');
    const cast = await gw.api('GET', `/api/v1/recordings/${s.id}`, { token: gw.adminToken });
    assert.equal(cast.status, 200);
    assert.match(cast.raw, /ghtarget/);
    const text = await gw.api('GET', `/api/v1/recordings/${s.id}/text`, { token: gw.adminToken });
    const scanned = [
      { name: 'client output', data: Buffer.from(p.all) },
      { name: 'recording', data: Buffer.from(cast.raw) },
      { name: 'typed text', data: Buffer.from(text.raw) },
      { name: 'gateway log', data: Buffer.from(gw.logs()) },
    ];
    assert.deepEqual(leaks(scanned, { password: TARGET_PASSWORD }), []);
  });

  it('logs in with a non-ASCII (UTF-8) vaulted password (Telnet BINARY) and runs a command', async () => {
    const acct = ensureLocalAccount('ghtnutf8door', `Tn-\u00dcn\u00efc\u00f8d\u00e9-\u20ac-${randomBytes(6).toString('hex')}`);
    const secretId = await createSecret(gw, 'telnet-utf8', { port: telnetd.port, username: acct.username, password: acct.password });
    const l = await launch(gw, secretId, { launcher: 'telnet' });
    c ??= clientFor(gw, l.knownHosts);
    const p = interactive([...c.base(), `${l.ticket}@127.0.0.1`]);
    try {
      await p.waitFor(/ghtnutf8door@[^\s:]*:[^\r\n]*\$ /, 20_000);
      // The person's UTF-8 keystrokes reach the shell whole, and its UTF-8 output comes back.
      p.write("whoami; printf '%s' '\u00dc\u20ac' | od -An -tx1\r");
      await p.waitFor(/[\r\n]ghtnutf8door\r\n c3 9c e2 82 ac\r\n/);
      p.write('exit\r');
      await p.done;
    } finally {
      p.kill();
    }
    const s = await endedSession(gw, (await sessionOf(gw, secretId)).id);
    const cast = await gw.api('GET', `/api/v1/recordings/${s.id}`, { token: gw.adminToken });
    assert.match(cast.raw, /c3 9c e2 82 ac/);
    const scanned = [
      { name: 'client output', data: Buffer.from(p.all) },
      { name: 'recording', data: Buffer.from(cast.raw) },
      { name: 'gateway log', data: Buffer.from(gw.logs()) },
    ];
    assert.deepEqual(leaks(scanned, { password: acct.password }), []);
  });

  it('a target that refuses BINARY is not sent a non-ASCII password; the session ends with the reason', async () => {
    const password = `Tn-\u00dcn\u00efc\u00f8d\u00e9-\u20ac-${randomBytes(6).toString('hex')}`;
    const target = await fakeTelnetTarget(
      async (sock, lines) => {
        sock.write('login: ');
        await lines.next();
        sock.write('Password: ');
        await lines.next();
        sock.write('\r\n$ '); // would accept anything: the password must still not come
      },
      { binary: 'refuse' },
    );
    try {
      const secretId = await createSecret(gw, 'telnet-7bit', { port: target.port, password });
      const l = await launch(gw, secretId, { launcher: 'telnet' });
      c ??= clientFor(gw, l.knownHosts);
      const p = interactive([...c.base(), `${l.ticket}@127.0.0.1`]);
      const reason = 'the Telnet target does not accept 8-bit input (Telnet BINARY refused); the vaulted password has non-ASCII characters';
      try {
        await p.waitFor(reason, 20_000);
        assert.notEqual((await p.done).code, 0);
      } finally {
        p.kill();
      }
      const s = await endedSession(gw, (await sessionOf(gw, secretId)).id);
      assert.equal(s.endReason, reason);
      const text = (await ok(gw, 'GET', `/api/v1/recordings/${s.id}/text`).catch(() => ({ items: [] }))).items.map((i: any) => i.text);
      assert.ok(text.some((t: string) => t.startsWith('target_login_failed') && t.includes('binary_refused')), JSON.stringify(text));
      // The target saw the user name and nothing of the password, whole or with the eighth bit stripped.
      const typed = Buffer.concat(new TelnetParser().push(target.received()).flatMap((e) => (e.type === 'data' ? [e.data] : [])));
      assert.equal(typed.toString('latin1'), 'ghtarget\r\n');
      assert.ok(!p.all.includes(password));
    } finally {
      await target.close();
    }
  });

  it('a wrong vaulted password gives a clear message and ends the session', async () => {
    const secretId = await createSecret(gw, 'telnet-wrong', { port: telnetd.port, password: 'definitely-Wrong-pw-1' });
    const l = await launch(gw, secretId, { launcher: 'telnet' });
    c ??= clientFor(gw, l.knownHosts);
    const p = interactive([...c.base(), `${l.ticket}@127.0.0.1`]);
    try {
      await p.waitFor(/rejected the vaulted credential/, 20_000);
      const d = await p.done;
      assert.notEqual(d.code, 0);
      assert.ok(!p.all.includes('definitely-Wrong-pw-1'));
    } finally {
      p.kill();
    }
    const s = await endedSession(gw, (await sessionOf(gw, secretId)).id);
    assert.equal(s.status, 'ended');
    // The record says what happened, not "client disconnected".
    assert.equal(s.endReason, 'target refused the vaulted credential');
    const end = (await auditEvents(gw, 'session.end')).find((e) => e.targetId === s.id);
    assert.equal(end?.details.reason, 'target refused the vaulted credential');
    const text = (await ok(gw, 'GET', `/api/v1/recordings/${s.id}/text`).catch(() => ({ items: [] }))).items.map((i: any) => i.text);
    assert.ok(text.some((t: string) => t.startsWith('target_login_failed') && t.includes('rejected')), JSON.stringify(text));
  });
});
