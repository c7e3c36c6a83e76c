// An approved access window through the real SSH door, on both databases: a secret under a
// policy cannot be launched until 2 of its 3 approvers approve; within the grant the person
// gets a terminal, and (their window ending in under five minutes) the door writes the
// warning on it; revoking the grant ends the live session with a one-line reason on the
// terminal, and a ticket issued before the revocation is refused at redeem.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { REQUEST_ACCESS_MESSAGE } from '../../src/core/access/gate.js';
import { ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { DB_KINDS } from '../support/harness.js';
import { auditEvents, clientFor, createSecret, endedSession, eventually, interactive, launch, ok, PROMPT, run, sessionOf } from '../support/ssh-client.js';
import { startSshd, type Sshd } from '../support/sshd.js';

for (const kind of DB_KINDS) {
  describe(`access window at the SSH door on ${kind}`, () => {
    let sshd: Sshd;
    let gw: Gateway;
    let secretId: string;
    const tokens: Record<string, string> = {};

    before(async () => {
      ensureTargetAccount();
      [sshd, gw] = await Promise.all([startSshd(), startGateway(kind)]);
      for (const name of ['alice', 'bob', 'carol', 'dave']) {
        const password = `pw-${name}-Access-1`;
        await ok(gw, 'POST', '/api/v1/users', { username: name, password, roles: ['User'] }, 201);
        tokens[name] = await gw.userToken(name, password);
      }
      secretId = await createSecret(gw, 'window-target', { port: sshd.port, password: TARGET_PASSWORD });
      await ok(gw, 'PUT', `/api/v1/secrets/${secretId}/permissions`, { entries: [{ principalType: 'user', principal: 'alice', level: 'view' }] });
      await ok(gw, 'POST', '/api/v1/access-policies', { name: 'window-policy', approvers: ['bob', 'carol', 'dave'].map((u) => ({ principalType: 'user', principal: u })), approvalsRequired: 2 }, 201);
      await ok(gw, 'PATCH', `/api/v1/secrets/${secretId}`, { policyId: 'window-policy' });
    });
    after(async () => {
      await gw?.close();
      await sshd?.stop();
    });

    it('request → 2 of 3 approve → a terminal within the window, warned before its end → revoke ends it', async () => {
      const refused = await gw.api('POST', `/api/v1/secrets/${secretId}/launch`, { token: tokens.alice, body: { launcher: 'ssh' } });
      assert.equal(refused.status, 403, refused.raw);
      assert.equal(refused.body.error.message, REQUEST_ACCESS_MESSAGE);

      const start = new Date();
      const end = new Date(start.getTime() + 4 * 60_000);
      const req = await ok(gw, 'POST', '/api/v1/access-requests', { secretId, reason: 'patch the kernel', start: start.toISOString(), end: end.toISOString(), modes: ['ssh'] }, 201, tokens.alice);
      await ok(gw, 'POST', `/api/v1/access-requests/${req.id}/approve`, { comment: 'ok' }, 200, tokens.bob);
      const approved = await ok(gw, 'POST', `/api/v1/access-requests/${req.id}/approve`, { comment: 'ok too' }, 200, tokens.carol);
      assert.equal(approved.status, 'approved');

      const first = await launch(gw, secretId, { token: tokens.alice });
      const spare = await launch(gw, secretId, { token: tokens.alice });
      const c = clientFor(gw, first.knownHosts);
      const p = interactive([...c.base(), `${first.ticket}@127.0.0.1`]);
      try {
        await p.waitFor(PROMPT);
        // The window ends in under five minutes: the door wrote the warning on the terminal.
        await p.waitFor(`[gatehouse] your approved access ends at ${approved.grant.end}`);
        const live = await sessionOf(gw, secretId, 'live');
        p.write('echo still-here\r');
        await p.waitFor(/still-here\r?\n/);

        await ok(gw, 'POST', `/api/v1/access-requests/${req.id}/revoke`, { comment: 'change window closed early' }, 200, tokens.bob);
        await p.waitFor('[gatehouse] access ended: the grant was revoked by bob');
        const d = await p.done;
        assert.notEqual(d.code, 0);
        const s = await endedSession(gw, live.id);
        assert.equal(s.endReason, 'access ended: the grant was revoked by bob');
        const rev = (await auditEvents(gw, 'access.revoke')).find((e) => e.details.requestId === req.id);
        assert.equal(rev.details.sessionsEnded, 1);
      } finally {
        p.kill();
      }

      // Outside the window (revoked): the ticket issued before is refused at redeem, and no new launch.
      const r = await run('ssh', [...c.base(['-o', 'BatchMode=yes']), `${spare.ticket}@127.0.0.1`, 'whoami']);
      assert.equal(r.code, 255, r.stdout + r.stderr);
      assert.match(r.stderr, /Permission denied/);
      await eventually(async () => (await auditEvents(gw, 'ticket.refused')).find((e) => e.details.reason === 'access_policy' && e.details.detail === REQUEST_ACCESS_MESSAGE), 5000, 'ticket.refused access_policy');
      const again = await gw.api('POST', `/api/v1/secrets/${secretId}/launch`, { token: tokens.alice, body: { launcher: 'ssh' } });
      assert.equal(again.status, 403);
    });
  });
}
