// The log grep: after logins (good and bad), secret create/update/reveal, token creation,
// the OAuth2 client-credentials grant in every client-authentication form and TOTP
// enrolment, no secret value, password (wrong ones included), token, client secret,
// TOTP seed or recovery code appears in the server log or in any audit event.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ADMIN_PASSWORD, DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';
import { nextTotp } from '../support/totp.js';

const rnd = () => randomBytes(12).toString('base64url');

for (const kind of DB_KINDS) {
  describe(`no secrets in logs or audit events on ${kind}`, () => {
    let t: TestApp;
    const secrets: Record<string, string> = {};
    /** Every Authorization header value sent. */
    const authHeaders: string[] = [];
    let auditText = '';

    before(async () => {
      t = await startTestApp(kind);
      secrets.adminPassword = ADMIN_PASSWORD;
      secrets.adminToken = t.adminToken;
      authHeaders.push(`Bearer ${t.adminToken}`);

      // Logins: failed ones with distinctive wrong passwords, for a known and an unknown user.
      const bob = await t.user('bob', ['user']);
      secrets.bobPassword = bob.password;
      secrets.bobToken = bob.token;
      for (const [user, label] of [
        ['bob', 'wrongPasswordKnownUser'],
        ['nobody-here', 'wrongPasswordUnknownUser'],
        ['admin', 'wrongPasswordAdmin'],
      ] as const) {
        const pw = `WrongPw-${label}-${rnd()}`;
        secrets[label] = pw;
        const r = await t.req('POST', '/api/v1/auth/login', { body: { username: user, password: pw } });
        assert.equal(r.statusCode, 401, r.body);
      }
      // A malformed login (unknown property) still carries a password that must not be logged.
      secrets.rejectedBodyPassword = `RejectedBodyPw-${rnd()}`;
      const bad = await t.req('POST', '/api/v1/auth/login', { body: { username: 'bob', password: secrets.rejectedBodyPassword, extra: 1 } });
      assert.equal(bad.statusCode, 400);
      // A password sent where a username belongs is just an unknown user, never logged either.
      const ok = await t.login('bob', bob.password);
      secrets.bobToken2 = ok;

      // Secrets: create, update, reveal.
      const v = { pw: `LogSecretPw-${rnd()}`, key: `LogSecretKey-${rnd()}-${randomBytes(40).toString('base64')}`, pass: `LogPassphrase-${rnd()}`, pw2: `LogSecretPw2-${rnd()}`, win: `LogWinPw-${rnd()}` };
      Object.assign(secrets, { secretPassword: v.pw, secretKey: v.key, secretPassphrase: v.pass, secretPasswordUpdated: v.pw2, winPassword: v.win });
      const c = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name: 'logs1', template: 'unix-account', fields: { machine: 'h1', username: 'root', password: v.pw, privateKey: v.key, passphrase: v.pass } } });
      assert.equal(c.statusCode, 201, c.body);
      const id = c.json().id;
      const w = await t.req('POST', '/api/v1/secrets', { token: bob.token, body: { name: 'logs2', template: 'windows-account', fields: { machine: 'w1', username: 'Administrator', password: v.win } } });
      assert.equal(w.statusCode, 201, w.body);
      const u = await t.req('PATCH', `/api/v1/secrets/${id}`, { token: t.adminToken, body: { fields: { password: v.pw2 } } });
      assert.equal(u.statusCode, 200, u.body);
      const rv = await t.req('POST', `/api/v1/secrets/${id}/reveal`, { token: t.adminToken });
      assert.equal(rv.json().fields.password, v.pw2);
      const rv2 = await t.req('POST', `/api/v1/secrets/${w.json().id}/reveal`, { token: bob.token });
      assert.equal(rv2.json().fields.password, v.win);
      // A reveal that is refused is audited too, with nothing secret in it.
      const denied = await t.req('POST', `/api/v1/secrets/${id}/reveal`, { token: bob.token });
      assert.equal(denied.statusCode, 404);

      // Tokens.
      const tok = await t.req('POST', '/api/v1/tokens', { token: t.adminToken, body: { name: 'logs', scopes: ['read', 'reveal'] } });
      assert.equal(tok.statusCode, 201, tok.body);
      secrets.apiToken = tok.json().token;
      authHeaders.push(`Bearer ${secrets.apiToken}`);
      const use = await t.req('POST', `/api/v1/secrets/${id}/reveal`, { token: secrets.apiToken });
      assert.equal(use.statusCode, 200);

      // OAuth2 client credentials for an application account, in all three forms.
      const app = await t.req('POST', '/api/v1/users', { token: t.adminToken, body: { username: 'svc-logs', isApplication: true } });
      assert.equal(app.statusCode, 201, app.body);
      const cc = await t.req('POST', `/api/v1/users/${app.json().id}/client-credentials`, { token: t.adminToken });
      assert.equal(cc.statusCode, 201, cc.body);
      const { clientId, clientSecret } = cc.json();
      secrets.clientSecret = clientSecret;
      const asJson = await t.req('POST', '/oauth2/token', { body: { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret } });
      assert.equal(asJson.statusCode, 200, asJson.body);
      const asForm = await t.req('POST', '/oauth2/token', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: 'read' }).toString(),
      });
      assert.equal(asForm.statusCode, 200, asForm.body);
      const basic = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
      authHeaders.push(basic);
      const asBasic = await t.req('POST', '/oauth2/token', { headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials' });
      assert.equal(asBasic.statusCode, 200, asBasic.body);
      for (const [i, r] of [asJson, asForm, asBasic].entries()) {
        secrets[`oauthAccessToken${i}`] = r.json().access_token;
        authHeaders.push(`Bearer ${r.json().access_token}`);
      }
      const me = await t.req('GET', '/api/v1/me', { token: asBasic.json().access_token });
      assert.equal(me.statusCode, 200, me.body);
      secrets.wrongClientSecret = `WrongClientSecret-${rnd()}`;
      const wrong = await t.req('POST', '/oauth2/token', { body: { grant_type: 'client_credentials', client_id: clientId, client_secret: secrets.wrongClientSecret } });
      assert.equal(wrong.statusCode, 401);
      const wrongBasic = `Basic ${Buffer.from(`${clientId}:${secrets.wrongClientSecret}`).toString('base64')}`;
      authHeaders.push(wrongBasic);
      const wb = await t.req('POST', '/oauth2/token', { headers: { authorization: wrongBasic }, body: { grant_type: 'client_credentials' } });
      assert.equal(wb.statusCode, 401);

      // TOTP enrolment and a login with it, then with a recovery code.
      const en = await t.req('POST', '/api/v1/me/totp', { token: bob.token });
      assert.equal(en.statusCode, 200, en.body);
      const seed: string = en.json().secret;
      secrets.totpSeed = seed;
      secrets.otpauthUrl = en.json().otpauthUrl;
      const cf = await t.req('POST', '/api/v1/me/totp/confirm', { token: bob.token, body: { code: await nextTotp(seed) } });
      assert.equal(cf.statusCode, 200, cf.body);
      const codes: string[] = cf.json().recoveryCodes;
      codes.forEach((code, i) => {
        secrets[`recoveryCode${i}`] = code;
        secrets[`recoveryCode${i}compact`] = code.replace('-', '');
      });
      secrets.bobTotpLoginToken = await t.login('bob', bob.password, await nextTotp(seed));
      secrets.bobRecoveryLoginToken = await t.login('bob', bob.password, codes[0]!);
      // A stale recovery code is refused; the refused code is not logged either.
      const again = await t.req('POST', '/api/v1/auth/login', { body: { username: 'bob', password: bob.password, totp: codes[0] } });
      assert.equal(again.statusCode, 401);

      for (const k of ['bobToken', 'bobToken2', 'bobTotpLoginToken', 'bobRecoveryLoginToken']) authHeaders.push(`Bearer ${secrets[k]}`);

      const ex = await t.req('GET', '/api/v1/audit/export', { token: t.adminToken });
      assert.equal(ex.statusCode, 200);
      auditText = ex.body;
    });
    after(async () => t?.close());

    const found = (hay: string) =>
      Object.entries(secrets)
        .filter(([, v]) => hay.includes(v) || hay.includes(JSON.stringify(v).slice(1, -1)) || hay.includes(encodeURIComponent(v)))
        .map(([k]) => k);

    it('the log is not empty and covers the requests (so the grep has something to look at)', () => {
      const log = t.logs();
      assert.ok(log.includes('/api/v1/auth/login'), 'login requests are logged');
      assert.ok(log.includes('/oauth2/token'), 'token requests are logged');
      assert.ok(log.includes('/reveal'), 'reveals are logged');
    });

    it('no secret value, password, token, client secret, TOTP seed or recovery code is in the log', () => {
      assert.deepEqual(found(t.logs()), []);
    });

    it('no Authorization header value is in the log', () => {
      const log = t.logs();
      for (const h of authHeaders) {
        assert.ok(!log.includes(h), `authorization header logged: ${h.slice(0, 12)}…`);
        assert.ok(!log.includes(h.split(' ')[1]!), 'credential of an authorization header logged');
      }
      assert.doesNotMatch(log, /"authorization"\s*:\s*"(Bearer|Basic)/i);
      assert.doesNotMatch(log, /\bBearer\s+gh_/);
      assert.doesNotMatch(log, /\bgh_[A-Za-z0-9_-]{20,}/, 'something shaped like a token is in the log');
    });

    it('the audit trail has the events but no secret value, password, token, client secret, TOTP seed or recovery code', () => {
      const actions = new Set(auditText.trim().split('\n').map((l) => JSON.parse(l).action as string));
      for (const a of ['auth.login', 'secret.create', 'secret.update', 'secret.reveal', 'token.create', 'user.client_credentials', 'auth.oauth_token', 'totp.enrol_start', 'totp.enable', 'auth.recovery_code_used']) {
        assert.ok(actions.has(a), `missing audit action ${a}`);
      }
      assert.deepEqual(found(auditText), []);
      assert.doesNotMatch(auditText, /\bgh_[A-Za-z0-9_-]{20,}/);
    });
  });
}
