// Sign-in abuse: the per-source limit on failed sign-ins (API login, browser sign-in,
// /oauth2/token and the SSH door's `user:secret` password logins share it), aggregation of
// failed-login audit events past a threshold, a lockout that answers the same for unknown
// names as for accounts and says when it ends, and wrong client secrets counted like wrong
// passwords. On both databases; the limits are set low per test.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DB_KINDS, sourceRequests, startTestApp, type TestApp } from '../support/harness.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { eventually, sshPasswordLogin } from '../support/ssh-client.js';

const HOUR = 3600;

for (const kind of DB_KINDS) {
  describe(`sign-in abuse on ${kind}`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(async () => t?.close());

    const { from, login, settings } = sourceRequests(() => t);
    const defaults = { loginRateLimit: 0, loginRateWindowSeconds: 60, loginAuditThreshold: 10, lockoutThreshold: 5, lockoutMinutes: 15 };
    const audit = async (query: string) => {
      const r = await t.req('GET', `/api/v1/audit?limit=500&${query}`, { token: t.adminToken });
      assert.equal(r.statusCode, 200, r.body);
      return r.json().items as any[];
    };

    it('past loginRateLimit failures from one address, every sign-in from it gets 429 with Retry-After, on every route; other addresses are unaffected', async () => {
      const u = await t.user('rate1', ['user']);
      const app = await t.req('POST', '/api/v1/users', { token: t.adminToken, body: { username: 'rate-app', isApplication: true } });
      assert.equal(app.statusCode, 201, app.body);
      const cc = (await t.req('POST', `/api/v1/users/${app.json().id}/client-credentials`, { token: t.adminToken })).json();
      await settings({ loginRateLimit: 3, loginRateWindowSeconds: HOUR });
      try {
        const ip = '127.0.0.2';
        for (let i = 0; i < 3; i++) {
          const r = await login(ip, 'rate1', `wrong-password-${i}`);
          assert.equal(r.statusCode, 401, r.body);
        }
        // The right password no longer helps from this address: it is not even checked.
        const limited = await login(ip, 'rate1', u.password);
        assert.equal(limited.statusCode, 429, limited.body);
        assert.equal(limited.json().error.code, 'too_many_attempts');
        assert.match(limited.json().error.message, /too many failed sign-ins/);
        const retry = Number(limited.headers['retry-after']);
        assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= HOUR, `Retry-After ${limited.headers['retry-after']}`);
        assert.equal(limited.json().error.retryAfter, retry);
        // Browser sign-in and the OAuth2 token endpoint share the limit.
        const session = await from(ip, 'POST', '/api/v1/auth/session', { username: 'rate1', password: u.password });
        assert.equal(session.statusCode, 429, session.body);
        assert.ok(session.headers['retry-after']);
        const token = await from(ip, 'POST', '/oauth2/token', { grant_type: 'client_credentials', client_id: cc.clientId, client_secret: cc.clientSecret });
        assert.equal(token.statusCode, 429, token.body);
        assert.equal(token.json().error.code, 'too_many_attempts');
        // Another address is not limited; successful sign-ins do not count against it.
        for (let i = 0; i < 5; i++) assert.equal((await login('127.0.0.3', 'rate1', u.password)).statusCode, 200);
        const ok = await from('127.0.0.3', 'POST', '/oauth2/token', { grant_type: 'client_credentials', client_id: cc.clientId, client_secret: cc.clientSecret });
        assert.equal(ok.statusCode, 200, ok.body);
        // Refusals are audited, with their reason.
        const refused = (await audit('action=auth.login')).filter((e) => e.ip === ip && e.details.reason === 'too many failed sign-ins from this address');
        assert.equal(refused.length, 2);
      } finally {
        await settings(defaults);
      }
    });

    it('IPv6 sources are counted per /64 (inject source addresses, no traffic), IPv4-mapped ones as IPv4, and the limit can be turned off (0)', async () => {
      const u = await t.user('rate6', ['user']);
      await settings({ loginRateLimit: 2, loginRateWindowSeconds: HOUR });
      try {
        assert.equal((await login('2001:db8:0:1::a', 'rate6', 'wrong-1')).statusCode, 401);
        assert.equal((await login('2001:db8:0:1:ffff::b', 'rate6', 'wrong-2')).statusCode, 401);
        assert.equal((await login('2001:0db8:0000:0001::c', 'rate6', u.password)).statusCode, 429, 'same /64');
        assert.equal((await login('2001:db8:0:2::a', 'rate6', u.password)).statusCode, 200, 'another /64');
        assert.equal((await login('::ffff:127.0.0.11', 'rate6', 'wrong-3')).statusCode, 401);
        assert.equal((await login('127.0.0.11', 'rate6', 'wrong-4')).statusCode, 401);
        assert.equal((await login('::ffff:127.0.0.11', 'rate6', u.password)).statusCode, 429, 'IPv4-mapped is the IPv4 address');
        await settings({ loginRateLimit: 0 });
        assert.equal((await login('2001:db8:0:1::a', 'rate6', u.password)).statusCode, 200);
      } finally {
        await settings(defaults);
      }
    });

    it('an unknown user name gets the same answers as an account: 401 until lockoutThreshold, then 423 with the lock end', async () => {
      const u = await t.user('uniform1', ['user']);
      await settings({ lockoutThreshold: 3, lockoutMinutes: 20 });
      try {
        const answers = async (username: string, password: (i: number) => string) => {
          const out: { status: number; code: string; message: string; keys: string[]; retryAfter?: string; lockedUntil?: string }[] = [];
          for (let i = 0; i < 5; i++) {
            const r = await login('127.0.0.4', username, password(i));
            const e = r.json().error;
            out.push({ status: r.statusCode, code: e.code, message: e.message, keys: Object.keys(e).sort(), retryAfter: r.headers['retry-after'] as string | undefined, lockedUntil: e.lockedUntil });
          }
          return out;
        };
        const known = await answers('uniform1', (i) => (i < 3 ? `wrong-password-${i}` : u.password));
        const unknown = await answers('uniform-nobody', (i) => `wrong-password-${i}`);
        const shape = (a: typeof known) => a.map((x) => `${x.status} ${x.code} ${x.keys.join(',')} ${x.message.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/, 'T')}`);
        assert.deepEqual(shape(unknown), shape(known));
        assert.deepEqual(known.map((x) => x.status), [401, 401, 423, 423, 423]);
        for (const x of [...known, ...unknown].filter((a) => a.status === 423)) {
          assert.equal(x.code, 'account_locked');
          const until = Date.parse(x.lockedUntil!);
          assert.ok(until > Date.now() && until <= Date.now() + 20 * 60_000, x.lockedUntil);
          assert.ok(x.message.includes(x.lockedUntil!), x.message);
          const retry = Number(x.retryAfter);
          assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 20 * 60, x.retryAfter);
        }
        for (const x of [...known, ...unknown].filter((a) => a.status === 401)) assert.equal(x.retryAfter, undefined);
      } finally {
        await settings(defaults);
      }
    });

    it('wrong passwords sent all at once: the attempts being checked count against loginRateLimit, every failure counts toward the lockout, and an unknown name answers alike', async () => {
      const u = await t.user('burst1', ['user']);
      await settings({ lockoutThreshold: 5, lockoutMinutes: 15, loginRateLimit: 10, loginRateWindowSeconds: HOUR });
      try {
        // 20 at once from one address: only loginRateLimit get a password check (the rest 429
        // before any of those has ended), and of those, lockoutThreshold - 1 are plain wrong
        // passwords (401); the one that reaches the threshold locks, the rest find it locked (423).
        const burst = async (ip: string, username: string) => {
          const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => login(ip, username, `wrong-burst-${i}`)));
          const count = (status: number) => rs.filter((r) => r.statusCode === status).length;
          assert.equal(count(401) + count(423) + count(429), 20, rs.map((r) => `${r.statusCode} ${r.body}`).join('\n'));
          return { 401: count(401), 423: count(423), 429: count(429) };
        };
        const known = await burst('127.0.0.12', 'burst1');
        assert.ok(known[423] + known[429] >= 10, JSON.stringify(known));
        assert.deepEqual(known, { 401: 4, 423: 6, 429: 10 });
        const view = await t.req('GET', `/api/v1/users/${u.id}`, { token: t.adminToken });
        assert.equal(view.json().locked, true, view.body);
        const lockouts = (await audit('action=user.lockout')).filter((e) => e.targetId === u.id);
        assert.equal(lockouts.length, 1, 'locked once');
        // Locked: the right password does not help, from another address either.
        const right = await login('127.0.0.13', 'burst1', u.password);
        assert.equal(right.statusCode, 423, right.body);
        // A name that matches no account: the same answers.
        assert.deepEqual(await burst('127.0.0.14', 'burst-nobody'), known);
      } finally {
        await settings(defaults);
      }
    });

    it('/oauth2/token: wrong client secrets count toward the lockout of the application account, and unknown client ids lock alike', async () => {
      const app = await t.req('POST', '/api/v1/users', { token: t.adminToken, body: { username: 'lock-app', isApplication: true } });
      const cc = (await t.req('POST', `/api/v1/users/${app.json().id}/client-credentials`, { token: t.adminToken })).json();
      await settings({ lockoutThreshold: 3 });
      try {
        const grant = (id: string, secret: string) => from('127.0.0.5', 'POST', '/oauth2/token', { grant_type: 'client_credentials', client_id: id, client_secret: secret });
        const run = async (id: string) => {
          const out: number[] = [];
          for (let i = 0; i < 3; i++) out.push((await grant(id, `wrong-secret-${i}`)).statusCode);
          const right = await grant(id, cc.clientSecret);
          out.push(right.statusCode);
          if (right.statusCode === 423) {
            assert.equal(right.json().error.code, 'account_locked');
            assert.ok(Date.parse(right.json().error.lockedUntil) > Date.now());
            assert.ok(right.headers['retry-after']);
          }
          return out;
        };
        assert.deepEqual(await run(cc.clientId), [401, 401, 423, 423]);
        assert.deepEqual(await run(`ghc_${randomBytes(12).toString('base64url')}`), [401, 401, 423, 423]);
        const view = await t.req('GET', `/api/v1/users/${app.json().id}`, { token: t.adminToken });
        assert.equal(view.json().locked, true);
        assert.equal((await t.req('POST', `/api/v1/users/${app.json().id}/unlock`, { token: t.adminToken })).statusCode, 200);
        assert.equal((await grant(cc.clientId, cc.clientSecret)).statusCode, 200);
      } finally {
        await settings(defaults);
      }
    });

    it('wrong client secrets count against the source limit', async () => {
      const app = await t.req('POST', '/api/v1/users', { token: t.adminToken, body: { username: 'rate-app2', isApplication: true } });
      const cc = (await t.req('POST', `/api/v1/users/${app.json().id}/client-credentials`, { token: t.adminToken })).json();
      await settings({ loginRateLimit: 2, loginRateWindowSeconds: HOUR });
      try {
        const grant = (secret: string) => from('127.0.0.6', 'POST', '/oauth2/token', { grant_type: 'client_credentials', client_id: cc.clientId, client_secret: secret });
        assert.equal((await grant('wrong-1')).statusCode, 401);
        assert.equal((await grant('wrong-2')).statusCode, 401);
        const limited = await grant(cc.clientSecret);
        assert.equal(limited.statusCode, 429, limited.body);
        assert.ok(Number(limited.headers['retry-after']) >= 1);
        // Also over HTTP Basic, and for password logins from the same address.
        const basic = await from('127.0.0.6', 'POST', '/oauth2/token', { grant_type: 'client_credentials' }, { authorization: `Basic ${Buffer.from(`${cc.clientId}:${cc.clientSecret}`).toString('base64')}` });
        assert.equal(basic.statusCode, 429);
        assert.equal((await login('127.0.0.6', 'admin', 'whatever-password')).statusCode, 429);
      } finally {
        await settings(defaults);
      }
    });

    it('a signed-in user re-entering a wrong password (password change, TOTP off) counts too', async () => {
      const u = await t.user('rate-self', ['user']);
      await settings({ loginRateLimit: 2, loginRateWindowSeconds: HOUR });
      try {
        const change = (current: string) => t.app.inject({ method: 'POST', url: '/api/v1/me/password', remoteAddress: '127.0.0.7', headers: { authorization: `Bearer ${u.token}`, 'content-type': 'application/json' }, payload: JSON.stringify({ currentPassword: current, newPassword: 'a-Long-enough-new-password-1' }) });
        assert.equal((await change('not-it-1')).statusCode, 403);
        assert.equal((await change('not-it-2')).statusCode, 403);
        const limited = await change(u.password);
        assert.equal(limited.statusCode, 429, limited.body);
        const checks = await audit('action=auth.password_check');
        assert.equal(checks.filter((e) => e.actorId === u.id && e.outcome === 'failure').length, 3);
      } finally {
        await settings(defaults);
      }
    });

    it('past loginAuditThreshold, failures from one address are counted into one summary event written when the window ends; none is lost and the chain stays valid', async () => {
      // Short window: its end writes the summary. After the first failure every attempt is
      // refused without a password check (fast); still, a slow machine may roll a window
      // mid-way, so the checks hold for any number of windows.
      await settings({ loginRateLimit: 1, loginAuditThreshold: 1, loginRateWindowSeconds: 3 });
      const ip = '127.0.0.8';
      const attempts = 12;
      try {
        const statuses: number[] = [];
        for (let i = 0; i < attempts; i++) statuses.push((await login(ip, `flood-${i % 3}`, `flood-password-${i}`)).statusCode);
        assert.ok(statuses.every((s) => s === 401 || s === 429), statuses.join(','));
        assert.ok(statuses.includes(429), statuses.join(','));
        const failures = async () => (await audit('action=auth.login')).filter((e) => e.ip === ip && e.outcome === 'failure');
        const summaries = await eventually(async () => {
          const s = (await audit('action=auth.login.failed.aggregated')).filter((e) => e.ip === ip);
          const counted = s.reduce((n, e) => n + e.details.count, 0);
          return (await failures()).length + counted === attempts ? s : null;
        }, 60_000, 'every failure from the address counted in the trail');
        assert.ok(summaries.length >= 1);
        assert.ok((await failures()).length < attempts);
        for (const s of summaries) {
          assert.equal(s.outcome, 'failure');
          assert.equal(s.actorId, null);
          assert.equal(s.details.ip, ip);
          assert.ok(s.details.count >= 1);
          assert.equal(s.details.summary, `${s.details.count} more failure${s.details.count === 1 ? '' : 's'} from ${ip}`);
          assert.ok(s.details.usernames.length >= 1 && s.details.usernames.every((n: string) => /^flood-\d$/.test(n)), JSON.stringify(s.details.usernames));
          assert.equal(Object.values<number>(s.details.reasons).reduce((a, b) => a + b, 0), s.details.count);
          assert.equal(s.details.via.api, s.details.count);
          assert.ok(Date.parse(s.details.from) <= Date.parse(s.details.to));
        }
        const verify = await t.req('GET', '/api/v1/audit/verify', { token: t.adminToken });
        assert.equal(verify.json().ok, true, verify.body);
      } finally {
        await settings(defaults);
      }
    });

    it('a pending summary is written before the next success from the same address, and at shutdown (flush)', async () => {
      const u = await t.user('agg-ok', ['user']);
      await settings({ loginAuditThreshold: 2, loginRateWindowSeconds: HOUR });
      try {
        const ip = '127.0.0.9';
        for (let i = 0; i < 4; i++) assert.equal((await login(ip, 'agg-ok', `wrong-${i}`)).statusCode, 401);
        assert.equal((await audit('action=auth.login.failed.aggregated')).filter((e) => e.ip === ip).length, 0, 'not yet: the window is open');
        assert.equal((await login(ip, 'agg-ok', u.password)).statusCode, 200);
        const events = (await audit('action=auth.login*')).filter((e) => e.ip === ip).sort((a, b) => a.seq - b.seq);
        assert.deepEqual(
          events.map((e) => `${e.action} ${e.outcome}${e.details.count ? ` ${e.details.count}` : ''}`),
          ['auth.login failure', 'auth.login failure', 'auth.login.failed.aggregated failure 2', 'auth.login success'],
        );
        // Failures pending when the gateway stops are written by the shutdown flush.
        const ip2 = '127.0.0.10';
        for (let i = 0; i < 4; i++) assert.equal((await login(ip2, 'agg-ok', `wrong-${i}`)).statusCode, 401);
        await t.core.auth.flushSignInSummaries();
        const flushed = (await audit('action=auth.login.failed.aggregated')).filter((e) => e.ip === ip2);
        assert.deepEqual(flushed.map((e) => e.details.count), [2]);
      } finally {
        await settings(defaults);
      }
    });
  });
}


for (const kind of DB_KINDS) {
  describe(`the SSH door's password logins share the per-source limit on ${kind}`, () => {
    let gw: Gateway;
    before(async () => {
      gw = await startGateway(kind);
    });
    after(async () => gw?.close());

    it('past the limit even the right password fails at the door, the API answers 429 to the same address, and the refusals are audited', async () => {
      const password = `pw-alice-${randomBytes(6).toString('hex')}`;
      const created = await gw.api('POST', '/api/v1/users', { token: gw.adminToken, body: { username: 'alice', password, roles: ['user'] } });
      assert.equal(created.status, 201, created.raw);
      assert.equal(await sshPasswordLogin(gw.sshPort, 'alice:web1', password), true, 'the right password is accepted before any failure');
      const set = await gw.api('PATCH', '/api/v1/settings', { token: gw.adminToken, body: { loginRateLimit: 2, loginRateWindowSeconds: HOUR } });
      assert.equal(set.status, 200, set.raw);
      assert.equal(await sshPasswordLogin(gw.sshPort, 'alice:web1', 'not-the-password-1'), false);
      assert.equal(await sshPasswordLogin(gw.sshPort, 'alice:web1', 'not-the-password-2'), false);
      assert.equal(await sshPasswordLogin(gw.sshPort, 'alice:web1', password), false, 'limited: the right password is refused too');
      const api = await gw.api('POST', '/api/v1/auth/login', { body: { username: 'alice', password }, remoteAddress: '127.0.0.1' });
      assert.equal(api.status, 429, api.raw);
      const events = (await gw.api('GET', '/api/v1/audit?action=auth.login&limit=100', { token: gw.adminToken })).body.items as any[];
      const ssh = events.filter((e) => e.details.via === 'ssh' && e.outcome === 'failure');
      assert.deepEqual(ssh.map((e) => e.details.reason).sort(), ['too many failed sign-ins from this address', 'wrong password', 'wrong password']);
      // Turning the limit off lets the right password in again.
      assert.equal((await gw.api('PATCH', '/api/v1/settings', { token: gw.adminToken, body: { loginRateLimit: 0 } })).status, 200);
      assert.equal(await sshPasswordLogin(gw.sshPort, 'alice:web1', password), true);
    });
  });
}
