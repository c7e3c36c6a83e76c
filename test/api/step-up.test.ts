// MFA step-up per launch through the API on both databases: a secret whose access policy
// asks for a second factor refuses a launch until the caller verifies a TOTP code
// (POST /api/v1/auth/step-up, or `totp` in the launch body); the verification holds for the
// policy's mfaMaxAgeMinutes (the step-up clock is moved, never waited for); an address in the
// policy's trusted networks skips it; wrong codes are refused and audited; a person without
// TOTP is told how to enrol.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TicketRefused } from '../../src/core/broker.js';
import { POLICY_CHANGED_MESSAGE } from '../../src/core/access/launch-policy.js';
import { accessKit } from '../support/access.js';
import type { LaunchPolicies } from '../../src/core/access/launch-policy.js';
import { DB_KINDS, sourceRequests, startTestApp, type TestApp } from '../support/harness.js';
import { nextTotp, wrongTotp } from '../support/totp.js';

for (const kind of DB_KINDS) {
  describe(`MFA step-up on ${kind}`, () => {
    let t: TestApp;
    let alice: { id: string; token: string; password: string };
    let bob: { id: string; token: string; password: string };
    let seed: string;
    let secretId: string;
    let policyId: string;

    const { call, admin, audit, ...kit } = accessKit(() => t);
    const launch = (token: string, extra: Record<string, unknown> = {}) => kit.launch(token, secretId, extra);

    before(async () => {
      t = await startTestApp(kind);
      alice = await t.user('alice', ['User']);
      bob = await t.user('bob', ['User']);
      // alice enrols TOTP; bob has none.
      const begin = await call(alice.token, 'POST', '/api/v1/me/totp');
      seed = begin.secret;
      await call(alice.token, 'POST', '/api/v1/me/totp/confirm', { code: await nextTotp(seed) });
      const folderId = (await admin('POST', '/api/v1/folders', { name: 'mfa-zone' }, 201)).id;
      secretId = (await admin('POST', '/api/v1/secrets', { name: 'db-mfa', template: 'unix-account', folderId, fields: { machine: '127.0.0.1', username: 'root', password: 'pw' } }, 201)).id;
      await admin('PUT', `/api/v1/folders/${folderId}/permissions`, { entries: [{ principalType: 'user', principal: 'alice', level: 'view' }, { principalType: 'user', principal: 'bob', level: 'view' }] });
      const p = await admin('POST', '/api/v1/access-policies', {
        name: 'mfa-always',
        approvers: [{ principalType: 'user', principal: 'admin' }],
        approvalsRequired: 1,
        preApproved: [{ principalType: 'user', principal: 'alice' }, { principalType: 'user', principal: 'bob' }],
        mfa: 'always',
        mfaMaxAgeMinutes: 5,
      }, 201);
      policyId = p.id;
      await admin('PATCH', `/api/v1/folders/${folderId}`, { policyId });
    });
    after(async () => {
      await t?.close();
    });

    it('refuses a launch without a fresh step-up, with a message that says what to do', async () => {
      const r = await launch(alice.token);
      assert.equal(r.statusCode, 403, r.body);
      assert.equal(r.json().error.code, 'mfa_required');
      assert.match(r.json().error.message, /verify a TOTP code/);
      assert.match(r.json().error.message, /5 minutes/);
    });

    it('refuses a wrong code (audited) and allows the launch after a verified one', async () => {
      const wrong = await t.req('POST', '/api/v1/auth/step-up', { token: alice.token, body: { code: wrongTotp(seed) } });
      assert.equal(wrong.statusCode, 403, wrong.body);
      assert.equal(wrong.json().error.code, 'invalid_totp');
      const ok = await call(alice.token, 'POST', '/api/v1/auth/step-up', { code: await nextTotp(seed) });
      assert.ok(!Number.isNaN(Date.parse(ok.verifiedAt)));
      const r = await launch(alice.token);
      assert.equal(r.statusCode, 200, r.body);
      const events = await audit('auth.step_up');
      assert.ok(events.some((e) => e.outcome === 'failure' && e.actorName === 'alice'), JSON.stringify(events));
      assert.ok(events.some((e) => e.outcome === 'success' && e.actorName === 'alice'), JSON.stringify(events));
    });

    it('is remembered on the token that verified, not on the person’s other tokens', async () => {
      const other = await t.login('alice', alice.password, await nextTotp(seed));
      const r = await launch(other);
      assert.equal(r.statusCode, 403, r.body);
      assert.equal(r.json().error.code, 'mfa_required');
    });

    it('expires after the policy’s mfaMaxAgeMinutes', async () => {
      const clock = t.core.stepUp;
      try {
        clock.now = () => Date.now() + 4 * 60_000;
        assert.equal((await launch(alice.token)).statusCode, 200);
        clock.now = () => Date.now() + 6 * 60_000;
        const r = await launch(alice.token);
        assert.equal(r.statusCode, 403, r.body);
        assert.equal(r.json().error.code, 'mfa_required');
      } finally {
        clock.now = Date.now;
      }
    });

    it('takes the code in the launch body as a shortcut; a wrong one is refused', async () => {
      const other = await t.login('alice', alice.password, await nextTotp(seed));
      const bad = await launch(other, { totp: '12345x' });
      assert.equal(bad.statusCode, 403, bad.body);
      assert.equal(bad.json().error.code, 'invalid_totp');
      const r = await launch(other, { totp: await nextTotp(seed) });
      assert.equal(r.statusCode, 200, r.body);
    });

    it('tells a person without TOTP that the policy needs a second factor and how to enrol', async () => {
      const r = await launch(bob.token, { totp: '123456' });
      assert.equal(r.statusCode, 403, r.body);
      assert.equal(r.json().error.code, 'mfa_not_enrolled');
      assert.match(r.json().error.message, /enrol TOTP/);
      const s = await t.req('POST', '/api/v1/auth/step-up', { token: bob.token, body: { code: '123456' } });
      assert.equal(s.json().error.code, 'mfa_not_enrolled');
    });

    it('asks only outside the trusted networks when the policy says "untrusted"', async () => {
      await admin('PATCH', `/api/v1/access-policies/${policyId}`, { mfa: 'untrusted', trustedNetworks: ['127.0.0.0/8', '::1'] });
      assert.equal((await launch(bob.token)).statusCode, 200);
      await admin('PATCH', `/api/v1/access-policies/${policyId}`, { trustedNetworks: ['10.0.0.0/8'] });
      const r = await launch(bob.token);
      assert.equal(r.statusCode, 403, r.body);
      assert.equal(r.json().error.code, 'mfa_not_enrolled');
      await admin('PATCH', `/api/v1/access-policies/${policyId}`, { mfa: 'never' });
      assert.equal((await launch(bob.token)).statusCode, 200);
    });

    it('a ticket whose policy changed between launch and redeem is refused: the policy in force wins, failing closed', async () => {
      // Under "never" bob launches without a second factor; then the policy asks for one again.
      const r = await launch(bob.token);
      assert.equal(r.statusCode, 200, r.body);
      await admin('PATCH', `/api/v1/access-policies/${policyId}`, { mfa: 'always' });
      await assert.rejects(kit.redeem(r.json().ticket), (e: unknown) => e instanceof TicketRefused && e.reason === 'access_policy' && e.detail === POLICY_CHANGED_MESSAGE);
      const refused = (await audit('ticket.refused')).find((e) => e.details.detail === POLICY_CHANGED_MESSAGE);
      assert.equal(refused?.details.reason, 'access_policy');
      // An unchanged policy: the launch's decision holds at redeem.
      await admin('PATCH', `/api/v1/access-policies/${policyId}`, { mfa: 'never' });
      const again = await launch(bob.token);
      assert.equal(again.statusCode, 200, again.body);
      await (await kit.redeem(again.json().ticket)).end('test over');
    });

    it('the same on a node that did not issue the ticket (or after a restart): the stamp on its row is compared', async () => {
      const r = await launch(bob.token);
      assert.equal(r.statusCode, 200, r.body);
      // What this node remembers of the launch goes, as on a node that never saw it.
      const row = (await t.core.tickets.peek(r.json().ticket))!;
      (t.core.launching as unknown as { deps: { launchPolicies: LaunchPolicies } }).deps.launchPolicies.forget(row.id);
      await admin('PATCH', `/api/v1/access-policies/${policyId}`, { mfa: 'always' });
      try {
        // Before: checked under the policy in force alone, which asked bob for no step-up at a door: it opened.
        await assert.rejects(kit.redeem(r.json().ticket), (e: unknown) => e instanceof TicketRefused && e.reason === 'access_policy' && e.detail === POLICY_CHANGED_MESSAGE);
      } finally {
        await admin('PATCH', `/api/v1/access-policies/${policyId}`, { mfa: 'never' });
      }
      // Unchanged since the launch: the stamp matches and the redeem goes on.
      const again = await launch(bob.token);
      const row2 = (await t.core.tickets.peek(again.json().ticket))!;
      (t.core.launching as unknown as { deps: { launchPolicies: LaunchPolicies } }).deps.launchPolicies.forget(row2.id);
      await (await kit.redeem(again.json().ticket)).end('test over');
    });

    it('wrong step-up codes count toward the account lockout (they counted per address only); the locked account checks no code', async () => {
      await admin('PATCH', '/api/v1/settings', { lockoutThreshold: 3 });
      // Her count so far (the wrong codes of the tests above count too) starts again at 0.
      await admin('POST', `/api/v1/users/${alice.id}/unlock`, {});
      try {
        // From three addresses: the per-address limit alone would never lock the account.
        for (const [i, ip] of ['192.0.2.10', '192.0.2.11', '2001:db8:1::5'].entries()) {
          const r = await sourceRequests(() => t).from(ip, 'POST', '/api/v1/auth/step-up', { code: wrongTotp(seed) }, { authorization: `Bearer ${alice.token}` });
          assert.equal(r.statusCode, i < 2 ? 403 : 423, r.body);
          assert.equal(r.json().error.code, i < 2 ? 'invalid_totp' : 'account_locked');
        }
        const right = await t.req('POST', '/api/v1/auth/step-up', { token: alice.token, body: { code: await nextTotp(seed) } });
        assert.equal(right.statusCode, 423, right.body);
        assert.equal((await audit('user.lockout')).filter((e) => e.targetId === alice.id).length, 1);
      } finally {
        await admin('POST', `/api/v1/users/${alice.id}/unlock`, {});
        await admin('PATCH', '/api/v1/settings', { lockoutThreshold: 5 });
      }
    });
  });
}
