// Launch tickets at the SSH door: every refusal reason (generic to the client, exact in
// the log and the audit trail), single use under concurrency on both databases, and the
// per-secret pinning of the target's host key.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { TicketRefused } from '../../src/core/broker.js';
import { ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { DB_KINDS, startTestApp } from '../support/harness.js';
import { auditEvents, clientFor, createSecret, eventually, launch, ok, run, type Client } from '../support/ssh-client.js';
import { startSshd, type Sshd } from '../support/sshd.js';

const fingerprintOf = (publicLine: string) => `SHA256:${createHash('sha256').update(Buffer.from(publicLine.split(' ')[1]!, 'base64')).digest('base64').replace(/=+$/, '')}`;

describe('SSH door tickets', () => {
  let sshd: Sshd;
  let gw: Gateway;
  let c: Client;
  let secretId: string;

  before(async () => {
    ensureTargetAccount();
    [sshd, gw] = await Promise.all([startSshd(), startGateway('sqlite')]);
    secretId = await createSecret(gw, 'tickets-target', { port: sshd.port, password: TARGET_PASSWORD });
    c = clientFor(gw, (await launch(gw, secretId)).knownHosts);
  });
  after(async () => {
    await gw?.close();
    await sshd?.stop();
  });

  const exec = (ticket: string, command = 'whoami') => run('ssh', [...c.base(['-o', 'BatchMode=yes']), `${ticket}@127.0.0.1`, command]);

  /** The client hears only "Permission denied"; the log and the audit trail get the exact reason. */
  async function expectRefused(ticket: string, reason: string, detail?: RegExp): Promise<void> {
    const logBefore = gw.logs().length;
    const auditBefore = (await auditEvents(gw, 'ticket.refused')).length;
    const r = await exec(ticket);
    assert.equal(r.code, 255, `${reason}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /Permission denied/, reason);
    assert.equal(r.stdout, '');
    // Nothing on the client tells which check failed.
    for (const word of ['used', 'expired', 'ip_mismatch', 'unknown', 'permission_withdrawn', 'TicketRefused']) assert.ok(!r.stderr.includes(word), `client saw "${word}": ${r.stderr}`);
    const line = gw
      .logs()
      .slice(logBefore)
      .split('\n')
      .find((l) => l.includes(`TicketRefused: ${reason}`));
    assert.ok(line, `log line "TicketRefused: ${reason}" in:\n${gw.logs().slice(logBefore)}`);
    assert.equal(JSON.parse(line).reason, reason);
    if (detail) assert.match(JSON.parse(line).detail, detail);
    const events = await auditEvents(gw, 'ticket.refused');
    assert.equal(events.length, auditBefore + 1);
    assert.equal(events[0].details.reason, reason);
    assert.equal(events[0].outcome, 'failure');
    assert.equal(events[0].details.door, 'ssh');
    if (detail) assert.match(events[0].details.detail, detail);
  }

  it('refuses a reused ticket', async () => {
    const { ticket } = await launch(gw, secretId);
    const first = await exec(ticket);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, 'ghtarget\n');
    await expectRefused(ticket, 'used');
  });

  it('refuses an expired ticket', async () => {
    const saved = (await ok(gw, 'GET', '/api/v1/settings')).values.sessionTimeout;
    await ok(gw, 'PATCH', '/api/v1/settings', { sessionTimeout: 1 });
    try {
      const l = await launch(gw, secretId);
      assert.ok(Date.parse(l.body.expiresAt) - Date.now() <= 1000);
      await sleep(1200);
      await expectRefused(l.ticket, 'expired');
    } finally {
      await ok(gw, 'PATCH', '/api/v1/settings', { sessionTimeout: saved });
    }
  });

  it('refuses a ticket bound to another client IP', async () => {
    const { ticket } = await launch(gw, secretId, { bindIp: true, remoteAddress: '10.1.2.3' });
    await expectRefused(ticket, 'ip_mismatch');
    // A wrong IP does not use the ticket up: its owner, from the bound address, still can.
    const h = await gw.running.core.launching.redeem(ticket, { clientIp: '10.1.2.3', door: 'ssh' });
    await h.end('test');
    const issued = (await auditEvents(gw, 'secret.launch'))[0];
    assert.equal(issued.details.boundToIp, true);
    assert.equal(issued.ip, '10.1.2.3');
  });

  it('refuses an unknown ticket', async () => {
    await expectRefused('Z' + randomBytes(24).toString('base64url').slice(0, 31), 'unknown');
  });

  it('refuses a ticket whose user lost access after the launch (share removed, user disabled)', async () => {
    const own = await createSecret(gw, 'withdrawn-target', { port: sshd.port, password: TARGET_PASSWORD });
    const password = `pw-bob-${randomBytes(6).toString('hex')}`;
    const bob = await ok(gw, 'POST', '/api/v1/users', { username: 'bob', password, roles: ['user'] }, 201);
    const bobToken = await gw.userToken('bob', password);
    const share = (entries: unknown[]) => ok(gw, 'PUT', `/api/v1/secrets/${own}/permissions`, { entries });
    await share([{ principalType: 'user', principal: 'bob', level: 'view' }]);

    // Control: a shared secret works for bob.
    const good = await launch(gw, own, { token: bobToken });
    assert.equal((await exec(good.ticket)).stdout, 'ghtarget\n');

    const l1 = await launch(gw, own, { token: bobToken });
    await share([]);
    await expectRefused(l1.ticket, 'permission_withdrawn', /no longer shared/);

    await share([{ principalType: 'user', principal: 'bob', level: 'view' }]);
    const l2 = await launch(gw, own, { token: bobToken });
    await ok(gw, 'PATCH', `/api/v1/users/${bob.id}`, { enabled: false });
    await expectRefused(l2.ticket, 'permission_withdrawn', /disabled/);
  });

  it('pins the target host key on first use, refuses a different key, and accepts it after the pin is reset', async () => {
    const pinned = await createSecret(gw, 'pinned-target', { port: sshd.port, password: TARGET_PASSWORD });
    assert.deepEqual(await ok(gw, 'GET', `/api/v1/secrets/${pinned}/host-key`), { hostKey: null });
    const first = await exec((await launch(gw, pinned)).ticket);
    assert.equal(first.code, 0, first.stderr);
    const pin = (await ok(gw, 'GET', `/api/v1/secrets/${pinned}/host-key`)).hostKey;
    assert.equal(pin.fingerprint, fingerprintOf(sshd.hostKey));
    assert.equal(pin.keyType, 'ssh-ed25519');
    assert.equal(pin.port, sshd.port);
    assert.ok((await auditEvents(gw, 'hostkey.pin')).some((e) => e.targetId === pinned && e.details.fingerprint === pin.fingerprint));

    // Same key again: fine.
    assert.equal((await exec((await launch(gw, pinned)).ticket)).code, 0);

    // The secret now points at a machine with another host key.
    const other = await startSshd();
    try {
      await ok(gw, 'PATCH', `/api/v1/secrets/${pinned}`, { fields: { port: other.port } });
      const r = await exec((await launch(gw, pinned)).ticket);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /host key does not match/);
      assert.equal(r.stdout, '');
      const mismatch = (await auditEvents(gw, 'hostkey.mismatch')).find((e) => e.targetId === pinned);
      assert.ok(mismatch, 'hostkey.mismatch audited');
      assert.equal(mismatch.outcome, 'failure');
      assert.equal(mismatch.details.expected, pin.fingerprint);
      assert.equal(mismatch.details.got, fingerprintOf(other.hostKey));
      // The pin did not move.
      assert.equal((await ok(gw, 'GET', `/api/v1/secrets/${pinned}/host-key`)).hostKey.fingerprint, pin.fingerprint);

      const del = await gw.api('DELETE', `/api/v1/secrets/${pinned}/host-key`, { token: gw.adminToken });
      assert.equal(del.status, 204, del.raw);
      assert.ok((await auditEvents(gw, 'hostkey.reset')).some((e) => e.targetId === pinned));
      const again = await exec((await launch(gw, pinned)).ticket);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, 'ghtarget\n');
      assert.equal((await ok(gw, 'GET', `/api/v1/secrets/${pinned}/host-key`)).hostKey.fingerprint, fingerprintOf(other.hostKey));
    } finally {
      await other.stop();
    }
  });
});

describe('concurrent redeem of one ticket', () => {
  for (const kind of DB_KINDS) {
    it(`exactly one of 20 concurrent redeems wins (${kind})`, async () => {
      const t = await startTestApp(kind);
      try {
        const s = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name: 'race', template: 'unix-account', fields: { machine: '127.0.0.1', port: 22, username: 'ghtarget', password: TARGET_PASSWORD } } });
        assert.equal(s.statusCode, 201, s.body);
        const l = await t.req('POST', `/api/v1/secrets/${s.json().id}/launch`, { token: t.adminToken, body: { launcher: 'ssh' } });
        assert.equal(l.statusCode, 200, l.body);
        const ticket = l.json().ticket as string;
        const results = await Promise.allSettled(Array.from({ length: 20 }, () => t.core.launching.redeem(ticket, { clientIp: '127.0.0.1', door: 'ssh' })));
        const won = results.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof t.core.launching.redeem>>> => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        assert.equal(won.length, 1, `winners: ${won.length}; errors: ${lost.map((r) => String(r.reason)).join(', ')}`);
        for (const r of lost) {
          assert.ok(r.reason instanceof TicketRefused, String(r.reason));
          assert.equal((r.reason as TicketRefused).reason, 'used');
        }
        const handle = won[0]!.value;
        assert.equal(handle.plan.target.port, 22);
        await handle.end('test');
        const sessions = (await t.req('GET', `/api/v1/sessions?secretId=${s.json().id}`, { token: t.adminToken })).json();
        assert.equal(sessions.total, 1);
        assert.equal(sessions.items[0].status, 'ended');
        const audit = async (action: string) => (await t.req('GET', `/api/v1/audit?action=${action}&limit=100`, { token: t.adminToken })).json().items;
        assert.equal((await audit('ticket.redeem')).length, 1);
        await eventually(async () => (await audit('ticket.refused')).length === 19, 5000, '19 refusals audited');
      } finally {
        await t.close();
      }
    });
  }
});
