// Access request policies, requests, approvals and grants through the API on both
// databases: a policy attached to a folder governs its secrets; launch without a grant is
// refused with a message saying how to request; 2 of 3 approvers open a grant, the
// requester cannot approve their own request; a window not yet open, a mode or an hour
// outside the policy are refused; a revoked or expired grant ends the sessions under it
// (with the 5-minute notice to a terminal first); the requester's e-mails arrive at a
// real SMTP server on loopback; everything is in the audit trail.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TicketRefused } from '../../src/core/broker.js';
import { REQUEST_ACCESS_MESSAGE } from '../../src/core/access/gate.js';
import { accessKit } from '../support/access.js';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp.js';

for (const kind of DB_KINDS) {
  describe(`access requests on ${kind}`, () => {
    let t: TestApp;
    let smtp: SmtpSink;
    let alice: { id: string; token: string };
    let bob: { id: string; token: string };
    let carol: { id: string; token: string };
    let dave: { id: string; token: string };
    let eve: { id: string; token: string };
    let folderId: string;
    let secretId: string;
    let policyId: string;

    const { call, admin, redeem, audit, ...kit } = accessKit(() => t);
    const launch = (token: string, launcher = 'ssh') => kit.launch(token, secretId, { launcher });
    const request = (token: string, body: Record<string, unknown>, expect = 201) => call(token, 'POST', '/api/v1/access-requests', { secretId, ...body }, expect);
    /** Requests and has bob and carol approve: the grant is open. */
    const granted = async (body: Record<string, unknown> = {}) => {
      const r = await request(alice.token, { reason: 'maintenance', ...body });
      await call(bob.token, 'POST', `/api/v1/access-requests/${r.id}/approve`, {});
      return call(carol.token, 'POST', `/api/v1/access-requests/${r.id}/approve`, { comment: 'ok' });
    };

    before(async () => {
      smtp = await startSmtpSink();
      t = await startTestApp(kind);
      await admin('PATCH', '/api/v1/settings', { smtpHost: '127.0.0.1', smtpPort: smtp.port, smtpFrom: 'gatehouse@example.test' });
      alice = await t.user('alice', ['User'], { email: 'alice@example.test' });
      bob = await t.user('bob', ['User'], { email: 'bob@example.test' });
      carol = await t.user('carol', ['User']);
      dave = await t.user('dave', ['User']);
      eve = await t.user('eve', ['User']);
      await admin('POST', '/api/v1/groups', { name: 'night-ops', members: [dave.id] }, 201);
      folderId = (await admin('POST', '/api/v1/folders', { name: 'production' }, 201)).id;
      const s = await admin('POST', '/api/v1/secrets', { name: 'db1', template: 'unix-account', folderId, fields: { machine: '127.0.0.1', username: 'root', password: 'db1-pw' } }, 201);
      secretId = s.id;
      await admin('PUT', `/api/v1/folders/${folderId}/permissions`, { entries: [{ principalType: 'user', principal: 'alice', level: 'view' }, { principalType: 'user', principal: 'eve', level: 'view' }] });
    });
    after(async () => {
      await t?.close();
      await smtp?.close();
    });

    it('creates a policy, validates it, and attaches it to a folder (administer only)', async () => {
      const bad = await t.req('POST', '/api/v1/access-policies', { token: t.adminToken, body: { name: 'too-many', approvers: [{ principalType: 'user', principal: 'bob' }], approvalsRequired: 2 } });
      assert.equal(bad.statusCode, 400, bad.body);
      assert.match(bad.json().error.message, /exceeds the number of approvers/);
      const p = await admin(
        'POST',
        '/api/v1/access-policies',
        {
          name: 'production-access',
          approvers: [{ principalType: 'user', principal: 'bob' }, { principalType: 'user', principal: 'carol' }, { principalType: 'group', principal: 'night-ops' }],
          approvalsRequired: 2,
          preApproved: [{ principalType: 'user', principal: 'admin' }],
          defaultWindowMinutes: 60,
          maxWindowMinutes: 240,
          allowedModes: ['ssh', 'telnet'],
          // MFA step-up only from outside these networks: the test's loopback clients are inside (step-up.test.ts covers the step-up).
          mfa: 'untrusted',
          trustedNetworks: ['10.0.0.0/8', '127.0.0.0/8', '::1'],
        },
        201,
      );
      policyId = p.id;
      assert.equal(p.approvalsRequired, 2);
      assert.deepEqual(p.approvers.map((a: any) => a.principalName), ['bob', 'carol', 'night-ops']);
      assert.equal(p.reasonRequired, true);
      // A folder's editor without administer may not attach or lift a policy.
      await admin('PUT', `/api/v1/folders/${folderId}/permissions`, { entries: [{ principalType: 'user', principal: 'alice', level: 'view' }, { principalType: 'user', principal: 'eve', level: 'edit' }] });
      const lifted = await t.req('PATCH', `/api/v1/folders/${folderId}`, { token: eve.token, body: { policyId: null } });
      assert.equal(lifted.statusCode, 403, lifted.body);
      const f = await admin('PATCH', `/api/v1/folders/${folderId}`, { policyId: 'production-access' });
      assert.equal(f.policyId, policyId);
      assert.equal((await admin('GET', `/api/v1/secrets/${secretId}`)).policyId, null, 'the secret inherits; its own policyId stays empty');
      assert.ok((await audit('access_policy.attach')).some((e) => e.targetId === folderId));
      const inUse = await t.req('DELETE', `/api/v1/access-policies/${policyId}`, { token: t.adminToken });
      assert.equal(inUse.statusCode, 409);
    });

    it('refuses a launch without a grant, saying how to request access', async () => {
      const r = await launch(alice.token);
      assert.equal(r.statusCode, 403, r.body);
      assert.equal(r.json().error.code, 'access_request_required');
      assert.equal(r.json().error.message, REQUEST_ACCESS_MESSAGE);
      // Pre-approved people launch without a request.
      assert.equal((await launch(t.adminToken)).statusCode, 200);
    });

    it('needs a reason, a window within the maximum and allowed modes', async () => {
      assert.equal((await request(alice.token, {}, 400)).error.code, 'reason_required');
      const start = new Date(Date.now() + 60_000);
      assert.equal((await request(alice.token, { reason: 'x', start: start.toISOString(), end: new Date(start.getTime() + 5 * 3600_000).toISOString() }, 400)).error.code, 'window_too_long');
      assert.equal((await request(alice.token, { reason: 'x', modes: ['rdp'] }, 400)).error.code, 'mode_not_allowed');
      assert.equal((await request(alice.token, { reason: 'x', start: 'yesterday' }, 400)).error.code, 'invalid_window');
    });

    it('opens a grant after 2 of 3 approvals; nobody approves their own request; the requester is told by e-mail', async () => {
      const r = await request(alice.token, { reason: 'rotate the logs', ticketRef: 'CHG-1234' });
      assert.equal(r.status, 'pending');
      assert.equal(r.approvalsRequired, 2);
      // The approvers (with an address) hear of it.
      const toBob = await smtp.waitFor((m) => m.to.includes('bob@example.test') && m.text.includes(r.id));
      assert.match(toBob.text, /Subject: Access request: alice for db1/);
      // Pending for bob, carol and dave; not for alice or eve.
      for (const [u, sees] of [[bob, true], [carol, true], [dave, true], [alice, false], [eve, false]] as const) {
        const inbox = await call(u.token, 'GET', '/api/v1/access-requests?scope=approve');
        assert.equal(inbox.items.some((x: any) => x.id === r.id), sees);
      }
      const self = await t.req('POST', `/api/v1/access-requests/${r.id}/approve`, { token: alice.token, body: {} });
      assert.equal(self.statusCode, 403, self.body);
      assert.match(self.json().error.message, /your own request/);
      const outsider = await t.req('POST', `/api/v1/access-requests/${r.id}/approve`, { token: eve.token, body: {} });
      assert.equal(outsider.statusCode, 403);
      const one = await call(bob.token, 'POST', `/api/v1/access-requests/${r.id}/approve`, { comment: 'fine by me' });
      assert.equal(one.status, 'pending');
      assert.equal((await t.req('POST', `/api/v1/access-requests/${r.id}/approve`, { token: bob.token, body: {} })).statusCode, 409, 'one vote per approver');
      assert.equal((await launch(alice.token)).statusCode, 403, 'one approval of two is not a grant');
      const two = await call(dave.token, 'POST', `/api/v1/access-requests/${r.id}/approve`, { comment: 'night shift agrees' });
      assert.equal(two.status, 'approved');
      assert.ok(two.grant);
      assert.deepEqual(two.decisions.map((d: any) => d.approverName), ['bob', 'dave']);
      const late = await t.req('POST', `/api/v1/access-requests/${r.id}/approve`, { token: carol.token, body: {} });
      assert.equal(late.statusCode, 409);
      // Portal: the requester's list shows the decision.
      const mine = await call(alice.token, 'GET', '/api/v1/access-requests');
      assert.equal(mine.items.find((x: any) => x.id === r.id).status, 'approved');
      const mail = await smtp.waitFor((m) => m.to.includes('alice@example.test') && /Subject: Access approved: db1/.test(m.text));
      assert.equal(mail.from, 'gatehouse@example.test');
      assert.match(mail.text, /You may launch it from .* until /);
      // Launch within the window; SSH only (the grant's modes).
      const ok = await launch(alice.token);
      assert.equal(ok.statusCode, 200, ok.body);
      const events = await audit('access.grant');
      assert.ok(events.some((e) => e.details.requestId === r.id && e.details.via === 'approvals'));
      assert.ok((await audit('access.approve')).filter((e) => e.details.requestId === r.id).length === 2);
      await call(alice.token, 'POST', `/api/v1/access-requests/${r.id}/revoke`, { comment: 'done' });
    });

    it('refuses a launch before the window opens, and a denied request gives nothing', async () => {
      const start = new Date(Date.now() + 3600_000).toISOString();
      const later = await granted({ start });
      assert.equal(later.status, 'approved');
      const r = await launch(alice.token);
      assert.equal(r.statusCode, 403);
      assert.equal(r.json().error.code, 'access_not_yet_open');
      assert.match(r.json().error.message, /opens at/);
      await call(alice.token, 'POST', `/api/v1/access-requests/${later.id}/revoke`, {});
      const d = await request(alice.token, { reason: 'again' });
      const denied = await call(carol.token, 'POST', `/api/v1/access-requests/${d.id}/deny`, { comment: 'not today' });
      assert.equal(denied.status, 'denied');
      assert.equal((await launch(alice.token)).statusCode, 403);
      const mail = await smtp.waitFor((m) => m.to.includes('alice@example.test') && /Subject: Access denied: db1/.test(m.text));
      assert.match(mail.text, /not today/);
    });

    it('refuses a mode the policy does not allow and hours outside the allowed ones', async () => {
      const g = await granted();
      const rdp = await launch(alice.token, 'rdp');
      // RDP is not mapped to the unix-account template (400) or refused by the policy (403): never a ticket.
      assert.notEqual(rdp.statusCode, 200);
      // Hours that exclude now: a window of one minute, twelve hours away.
      const h = new Date(Date.now() + 12 * 3600_000);
      const hm = (d: Date) => `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
      await admin('PATCH', `/api/v1/access-policies/${policyId}`, { allowedHours: { days: [], from: hm(h), to: hm(new Date(h.getTime() + 60_000)), timeZone: 'UTC' } });
      const r = await launch(alice.token);
      assert.equal(r.statusCode, 403);
      assert.equal(r.json().error.code, 'access_outside_hours');
      await admin('PATCH', `/api/v1/access-policies/${policyId}`, { allowedHours: null });
      assert.equal((await launch(alice.token)).statusCode, 200);
      await call(bob.token, 'POST', `/api/v1/access-requests/${g.id}/revoke`, {});
    });

    it('a reveal and an explicit checkout answer to the policy as a launch does: approval, hours, and a required checkout held by the one who reveals', async () => {
      const reveal = (token: string) => t.req('POST', `/api/v1/secrets/${secretId}/reveal`, { token });
      const checkout = (token: string) => t.req('POST', `/api/v1/secrets/${secretId}/checkout`, { token, body: { reason: 'look' } });
      const code = (r: { statusCode: number; json(): any }) => [r.statusCode, r.json().error?.code];
      // Before: view access was enough to read the password the approval stands before.
      assert.deepEqual(code(await reveal(alice.token)), [403, 'access_request_required']);
      assert.equal((await reveal(alice.token)).json().error.message, REQUEST_ACCESS_MESSAGE);
      assert.deepEqual(code(await checkout(alice.token)), [403, 'access_request_required'], 'nor may she hold it away from others');
      assert.ok((await audit('secret.reveal')).some((e) => e.outcome === 'failure' && e.actorId === alice.id && /approved request/.test(e.details.reason)));
      assert.equal((await reveal(t.adminToken)).statusCode, 200, 'pre-approved');
      const g = await granted();
      const mine = await reveal(alice.token);
      assert.equal(mine.statusCode, 200, mine.body);
      assert.equal(mine.json().fields.password, 'db1-pw');
      // Hours that exclude now hold for everyone, the pre-approved too (as for a launch).
      const h = new Date(Date.now() + 12 * 3600_000);
      const hm = (d: Date) => `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
      await admin('PATCH', `/api/v1/access-policies/${policyId}`, { allowedHours: { days: [], from: hm(h), to: hm(new Date(h.getTime() + 60_000)), timeZone: 'UTC' } });
      try {
        assert.deepEqual(code(await reveal(alice.token)), [403, 'access_outside_hours']);
        assert.deepEqual(code(await reveal(t.adminToken)), [403, 'access_outside_hours']);
      } finally {
        await admin('PATCH', `/api/v1/access-policies/${policyId}`, { allowedHours: null });
      }
      // A policy that requires checkout: the values go to the checkout's holder only.
      await admin('PATCH', `/api/v1/access-policies/${policyId}`, { checkoutRequired: true });
      try {
        const refused = await reveal(alice.token);
        assert.deepEqual(code(refused), [409, 'checkout_required']);
        assert.match(refused.json().error.message, /check it out first/);
        assert.equal((await checkout(alice.token)).statusCode, 200);
        assert.equal((await reveal(alice.token)).statusCode, 200, 'the holder');
        assert.deepEqual(code(await reveal(t.adminToken)), [409, 'checkout_required'], 'not someone else while she holds it');
        // Nor through an earlier version (one is kept at every change of the fields, the password in it).
        await admin('PATCH', `/api/v1/secrets/${secretId}`, { fields: { machine: '127.0.0.2' } });
        const old = await t.req('POST', `/api/v1/secrets/${secretId}/versions/reveal`, { token: t.adminToken, body: { version: 1 } });
        assert.deepEqual(code(old), [409, 'checkout_required']);
        assert.equal((await t.req('POST', `/api/v1/secrets/${secretId}/checkin`, { token: alice.token })).statusCode, 200);
      } finally {
        await admin('PATCH', `/api/v1/access-policies/${policyId}`, { checkoutRequired: false });
      }
      await call(bob.token, 'POST', `/api/v1/access-requests/${g.id}/revoke`, {});
      assert.deepEqual(code(await reveal(alice.token)), [403, 'access_request_required'], 'a revoked grant reveals nothing');
    });

    it('revoking a grant ends the live session under it and voids what is left; the ticket is refused at redeem', async () => {
      const g = await granted();
      const s = await redeem((await launch(alice.token)).json().ticket);
      const ended = new Promise<string>((resolve) => s.onTerminate(resolve));
      const unused = (await launch(alice.token)).json().ticket;
      const revoked = await call(bob.token, 'POST', `/api/v1/access-requests/${g.id}/revoke`, { comment: 'incident over' });
      assert.equal(revoked.status, 'revoked');
      assert.equal(await ended, 'access ended: the grant was revoked by bob');
      await s.end('terminated');
      await assert.rejects(redeem(unused), (e: unknown) => e instanceof TicketRefused && e.reason === 'access_policy');
      const ev = (await audit('access.revoke')).find((e) => e.details.requestId === g.id);
      assert.equal(ev.details.sessionsEnded, 1);
      await smtp.waitFor((m) => m.to.includes('alice@example.test') && /Subject: Access revoked: db1/.test(m.text));
    });

    it('a session hears a notice five minutes before its grant ends, and ends with the grant', async () => {
      // A window shorter than five minutes: the notice is due at once, the end a moment later.
      const start = new Date();
      const g = await granted({ start: start.toISOString(), end: new Date(start.getTime() + 6000).toISOString() });
      const s = await redeem((await launch(alice.token)).json().ticket);
      const notice = new Promise<string>((resolve) => s.onNotice(resolve));
      const ended = new Promise<string>((resolve) => s.onTerminate(resolve));
      assert.match(await notice, /^your approved access ends at .* this session will be closed then$/);
      assert.equal(await ended, `access ended: the approved window closed at ${g.end}`);
      await s.end('terminated');
      const mine = await call(alice.token, 'GET', '/api/v1/access-requests');
      assert.equal(mine.items.find((x: any) => x.id === g.id).status, 'expired');
    });
  });
}
