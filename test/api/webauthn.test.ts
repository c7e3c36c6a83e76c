// WebAuthn passkeys and security keys through the API on both databases, with a software
// authenticator (test/support/soft-authenticator.ts; the browser tests use Chromium's virtual
// one): several keys per person (named, listed, deleted), a key as the second factor after
// the password, passwordless sign-in only when the setting allows it, step-up for a secret
// whose access policy asks for it, and the refusals — a replayed assertion, a wrong origin, an
// expired or unknown challenge, another person's key, a counter that does not grow — each
// audited; an administrator's reset (audited) and recovery codes for a key-only account.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { CHALLENGE_SECONDS } from '../../src/core/identity/webauthn/challenges.js';
import { accessKit } from '../support/access.js';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';
import { SoftAuthenticator } from '../support/soft-authenticator.js';

const ORIGIN = 'https://gatehouse.test:8443';

for (const kind of DB_KINDS) {
  describe(`WebAuthn on ${kind}`, () => {
    let t: TestApp;
    let alice: { id: string; token: string; password: string };
    let bob: { id: string; token: string; password: string };
    const aliceKeys = new SoftAuthenticator(ORIGIN);
    const bobKeys = new SoftAuthenticator(ORIGIN);
    let recovery: string[] = [];
    const { call, req, admin, audit, expectError } = accessKit(() => t);

    /** Registers a key of `auth` for the token's owner; the 201 answer. */
    const register = async (token: string, auth: SoftAuthenticator, name: string) => {
      const { challengeId, options } = await call(token, 'POST', '/api/v1/me/webauthn/options');
      return call(token, 'POST', '/api/v1/me/webauthn', { challengeId, name, response: auth.register(options) }, 201);
    };
    /** A second-factor challenge after the password. */
    const signInChallenge = async (username: string, password: string) => {
      const r = await t.req('POST', '/api/v1/auth/webauthn/options', { body: { username, password } });
      assert.equal(r.statusCode, 200, r.body);
      return r.json() as { challengeId: string; options: any };
    };
    const session = (body: unknown) => t.req('POST', '/api/v1/auth/session', { body });
    const failures = async (action: string) => (await audit(action)).filter((e) => e.outcome === 'failure');

    before(async () => {
      t = await startTestApp(kind);
      // Every refusal below counts toward alice's lockout (as it should) and toward the per-address
      // failure summary; neither is what is tested here, every refusal's own audit event is.
      await admin('PATCH', '/api/v1/settings', { publicUrl: ORIGIN, lockoutThreshold: 0, loginAuditThreshold: 0 });
      alice = await t.user('alice', ['User']);
      bob = await t.user('bob', ['User']);
    });
    after(async () => {
      await t?.close();
    });

    it('registers two named keys; the first comes with recovery codes; both are listed', async () => {
      const first = await register(alice.token, aliceKeys, 'YubiKey 5');
      assert.equal(first.key.name, 'YubiKey 5');
      assert.equal(first.recoveryCodes.length, 10);
      recovery = first.recoveryCodes;
      const second = await register(alice.token, aliceKeys, 'Laptop passkey');
      assert.equal(second.recoveryCodes, null, 'codes are issued once');
      const list = await call(alice.token, 'GET', '/api/v1/me/webauthn');
      assert.deepEqual(list.items.map((k: any) => k.name), ['YubiKey 5', 'Laptop passkey']);
      assert.equal(list.items[0].discoverable, true);
      const events = (await audit('webauthn.register')).filter((e) => e.outcome === 'success' && e.actorName === 'alice');
      assert.equal(events.length, 2);
      // No key material in the audit trail, only names and ids.
      assert.ok(!JSON.stringify(events).includes(aliceKeys.keys[0]!.id.toString('base64url')));
    });

    it('refuses a registration answered for another origin, or twice', async () => {
      const { challengeId, options } = await call(alice.token, 'POST', '/api/v1/me/webauthn/options');
      const evil = new SoftAuthenticator('https://evil.test');
      expectError(await req(alice.token, 'POST', '/api/v1/me/webauthn', { challengeId, name: 'evil', response: evil.register(options) }), 400, 'webauthn_refused');
      expectError(await req(alice.token, 'POST', '/api/v1/me/webauthn', { challengeId, name: 'again', response: aliceKeys.register(options) }), 400, 'webauthn_challenge');
      assert.ok((await failures('webauthn.register')).some((e) => /origin/i.test(String(e.details.reason))), 'refusal audited with its reason');
      aliceKeys.keys.pop();
      assert.equal((await call(alice.token, 'GET', '/api/v1/me/webauthn')).total, 2);
    });

    it('asks for the key after the password and signs in with it as the second factor', async () => {
      const r = await session({ username: 'alice', password: alice.password });
      expectError(r, 401, 'webauthn_required');
      // No challenge for a wrong password.
      expectError(await t.req('POST', '/api/v1/auth/webauthn/options', { body: { username: 'alice', password: 'wrong' } }), 401, 'invalid_credentials');
      const { challengeId, options } = await signInChallenge('alice', alice.password);
      assert.equal(options.allowCredentials.length, 2);
      const ok = await session({ username: 'alice', password: alice.password, webauthn: { challengeId, response: aliceKeys.assert(options) } });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.ok(ok.headers['set-cookie']);
      const login = (await audit('auth.login')).find((e) => e.outcome === 'success' && e.actorName === 'alice' && e.details.method === 'password+webauthn');
      assert.ok(login, 'the sign-in is audited with its method');
      assert.equal(login.details.keyName, 'YubiKey 5');
      // The API login takes the same proof.
      const c2 = await signInChallenge('alice', alice.password);
      const api = await t.req('POST', '/api/v1/auth/login', { body: { username: 'alice', password: alice.password, webauthn: { challengeId: c2.challengeId, response: aliceKeys.assert(c2.options) } } });
      assert.equal(api.statusCode, 200, api.body);
    });

    it('refuses a replayed assertion (the same answer posted twice)', async () => {
      const { challengeId, options } = await signInChallenge('alice', alice.password);
      const body = { username: 'alice', password: alice.password, webauthn: { challengeId, response: aliceKeys.assert(options) } };
      assert.equal((await session(body)).statusCode, 200);
      expectError(await session(body), 401, 'invalid_webauthn');
      assert.ok((await failures('auth.login')).some((e) => /already used/.test(String(e.details.reason))));
    });

    it('refuses an assertion made for another origin', async () => {
      const { challengeId, options } = await signInChallenge('alice', alice.password);
      const response = aliceKeys.assert(options, { origin: 'https://phish.example' });
      expectError(await session({ username: 'alice', password: alice.password, webauthn: { challengeId, response } }), 401, 'invalid_webauthn');
      assert.ok((await failures('auth.login')).some((e) => /origin/i.test(String(e.details.reason)) && e.targetId === alice.id));
    });

    it('refuses an expired challenge and an unknown one', async () => {
      const { challengeId, options } = await signInChallenge('alice', alice.password);
      const response = aliceKeys.assert(options);
      t.core.webauthn.now = () => Date.now() + (CHALLENGE_SECONDS + 1) * 1000;
      try {
        expectError(await session({ username: 'alice', password: alice.password, webauthn: { challengeId, response } }), 401, 'invalid_webauthn');
      } finally {
        t.core.webauthn.now = Date.now;
      }
      const again = await signInChallenge('alice', alice.password);
      expectError(await session({ username: 'alice', password: alice.password, webauthn: { challengeId: randomUUID(), response: aliceKeys.assert(again.options) } }), 401, 'invalid_webauthn');
      const reasons = (await failures('auth.login')).map((e) => String(e.details.reason));
      assert.ok(reasons.some((r) => /expired challenge/.test(r)), reasons.join('; '));
      assert.ok(reasons.some((r) => /unknown or already used challenge/.test(r)), reasons.join('; '));
    });

    it('refuses another person’s key, and a key whose counter does not grow', async () => {
      await register(bob.token, bobKeys, 'bob key');
      const { challengeId, options } = await signInChallenge('alice', alice.password);
      const response = bobKeys.assert(options, { key: bobKeys.keys[0] });
      expectError(await session({ username: 'alice', password: alice.password, webauthn: { challengeId, response } }), 401, 'invalid_webauthn');
      assert.ok((await failures('auth.login')).some((e) => /not a key of this user/.test(String(e.details.reason))));
      // A cloned authenticator: the signature count goes back.
      const c = await signInChallenge('alice', alice.password);
      const real = aliceKeys.keys[0]!.counter;
      const cloned = aliceKeys.assert(c.options, { counter: 1 });
      aliceKeys.keys[0]!.counter = real;
      expectError(await session({ username: 'alice', password: alice.password, webauthn: { challengeId: c.challengeId, response: cloned } }), 401, 'invalid_webauthn');
      assert.ok((await failures('auth.login')).some((e) => /counter/i.test(String(e.details.reason))));
    });

    it('signs in with a passkey alone only when the setting allows it', async () => {
      expectError(await t.req('POST', '/api/v1/auth/webauthn/options', { body: {} }), 403, 'passwordless_disabled');
      await admin('PATCH', '/api/v1/settings', { webauthnPasswordless: true });
      try {
        const { challengeId, options } = (await t.req('POST', '/api/v1/auth/webauthn/options', { body: {} })).json();
        assert.deepEqual(options.allowCredentials, []);
        assert.equal(options.userVerification, 'required');
        // Without user verification (no PIN or biometrics): refused.
        const unverified = aliceKeys.assert(options, { userVerified: false });
        expectError(await t.req('POST', '/api/v1/auth/webauthn/session', { body: { challengeId, response: unverified } }), 401, 'invalid_webauthn');
        const c = (await t.req('POST', '/api/v1/auth/webauthn/options', { body: {} })).json();
        const r = await t.req('POST', '/api/v1/auth/webauthn/session', { body: { challengeId: c.challengeId, response: aliceKeys.assert(c.options) } });
        assert.equal(r.statusCode, 200, r.body);
        assert.equal(r.json().user.username, 'alice');
        assert.ok((await audit('auth.login')).some((e) => e.outcome === 'success' && e.actorName === 'alice' && e.details.method === 'passkey'));
        // Turned off again: an answer to a challenge handed out before is refused too.
        const late = (await t.req('POST', '/api/v1/auth/webauthn/options', { body: {} })).json();
        await admin('PATCH', '/api/v1/settings', { webauthnPasswordless: false });
        expectError(await t.req('POST', '/api/v1/auth/webauthn/session', { body: { challengeId: late.challengeId, response: aliceKeys.assert(late.options) } }), 403, 'passwordless_disabled');
      } finally {
        await admin('PATCH', '/api/v1/settings', { webauthnPasswordless: false });
      }
    });

    it('verifies a step-up with a key for a secret whose access policy asks for it', async () => {
      const folderId = (await admin('POST', '/api/v1/folders', { name: 'wa-mfa' }, 201)).id;
      const secretId = (await admin('POST', '/api/v1/secrets', { name: 'wa-db', template: 'unix-account', folderId, fields: { machine: '127.0.0.1', username: 'root', password: 'pw' } }, 201)).id;
      await admin('PUT', `/api/v1/folders/${folderId}/permissions`, { entries: [{ principalType: 'user', principal: 'alice', level: 'view' }] });
      const p = await admin('POST', '/api/v1/access-policies', { name: 'wa-mfa', approvers: [{ principalType: 'user', principal: 'admin' }], approvalsRequired: 1, preApproved: [{ principalType: 'user', principal: 'alice' }], mfa: 'always' }, 201);
      await admin('PATCH', `/api/v1/folders/${folderId}`, { policyId: p.id });
      const launch = () => req(alice.token, 'POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'ssh' });
      expectError(await launch(), 403, 'mfa_required');
      const { challengeId, options } = await call(alice.token, 'POST', '/api/v1/auth/step-up/webauthn/options');
      // Another person's key does not do.
      expectError(await req(alice.token, 'POST', '/api/v1/auth/step-up/webauthn', { challengeId, response: bobKeys.assert(options, { key: bobKeys.keys[0] }) }), 403, 'invalid_webauthn');
      const c = await call(alice.token, 'POST', '/api/v1/auth/step-up/webauthn/options');
      const ok = await call(alice.token, 'POST', '/api/v1/auth/step-up/webauthn', { challengeId: c.challengeId, response: aliceKeys.assert(c.options) });
      assert.ok(!Number.isNaN(Date.parse(ok.verifiedAt)));
      assert.equal((await launch()).statusCode, 200);
      const events = await audit('auth.step_up');
      assert.ok(events.some((e) => e.outcome === 'success' && e.actorName === 'alice' && e.details.method === 'webauthn'));
      assert.ok(events.some((e) => e.outcome === 'failure' && e.actorName === 'alice' && /not a key of this user/.test(String(e.details.reason))));
    });

    it('deletes one’s own key, not someone else’s', async () => {
      const bobKey = (await call(bob.token, 'GET', '/api/v1/me/webauthn')).items[0];
      expectError(await req(alice.token, 'DELETE', `/api/v1/me/webauthn/${bobKey.id}`), 404, 'not_found');
      const mine = (await call(alice.token, 'GET', '/api/v1/me/webauthn')).items;
      await call(alice.token, 'DELETE', `/api/v1/me/webauthn/${mine[1].id}`, undefined, 204);
      assert.equal((await call(alice.token, 'GET', '/api/v1/me/webauthn')).total, 1);
      assert.ok((await audit('webauthn.delete')).some((e) => e.actorName === 'alice' && e.details.name === 'Laptop passkey'));
    });

    it('signs a key-only account in with a recovery code', async () => {
      expectError(await session({ username: 'alice', password: alice.password, totp: 'aaaaa-bbbbb' }), 401, 'invalid_totp');
      const r = await session({ username: 'alice', password: alice.password, totp: recovery[0] });
      assert.equal(r.statusCode, 200, r.body);
      assert.ok((await audit('auth.recovery_code_used')).some((e) => e.actorName === 'alice'));
      expectError(await session({ username: 'alice', password: alice.password, totp: recovery[0] }), 401, 'invalid_totp');
    });

    it('lets an administrator reset a user’s keys (audited); the password alone signs in after', async () => {
      assert.equal((await admin('GET', `/api/v1/users/${alice.id}/webauthn`)).total, 1);
      const r = await admin('POST', `/api/v1/users/${alice.id}/webauthn/reset`);
      assert.equal(r.removed, 1);
      assert.equal((await call(alice.token, 'GET', '/api/v1/me/webauthn')).total, 0);
      const ev = (await audit('webauthn.reset')).find((e) => e.targetId === alice.id);
      assert.ok(ev && ev.actorName === 'admin' && ev.details.removed === 1, JSON.stringify(ev));
      assert.equal((await session({ username: 'alice', password: alice.password })).statusCode, 200);
      // The recovery codes went with the last second factor.
      assert.equal((await t.core.dir.userRow(alice.id)).recoveryCodes, null);
    });

    it('refuses keys on a node reached by address only', async () => {
      await admin('PATCH', '/api/v1/settings', { publicUrl: 'https://127.0.0.1:8443' });
      try {
        expectError(await req(bob.token, 'POST', '/api/v1/me/webauthn/options'), 409, 'webauthn_not_configured');
      } finally {
        await admin('PATCH', '/api/v1/settings', { publicUrl: ORIGIN });
      }
    });
  });
}
