// Request rate limits (issue 16 point 7) on both databases: sign-in requests (API login and
// browser sign-in), OAuth2 token requests and ticket requests (launches) per source address
// and per account, whatever their outcome: past a limit 429 rate_limited with Retry-After,
// other addresses and accounts unaffected, 0 turns a limit off; the audit trail gets one
// `rate_limit.exceeded` event per refusing bucket however many requests are refused, and
// the refusals are counted in gatehouse_rate_limited_total. Source addresses are set per
// request (inject's remoteAddress, loopback only); the limits are turned on per test.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DB_KINDS, sourceRequests, startTestApp, type TestApp } from '../support/harness.js';

const OFF = { loginRequestsPerIp: 0, loginRequestsPerAccount: 0, tokenRequestsPerIp: 0, tokenRequestsPerAccount: 0, ticketRequestsPerIp: 0, ticketRequestsPerAccount: 0 };

for (const kind of DB_KINDS) {
  describe(`request rate limits on ${kind}`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
    });
    after(async () => t?.close());

    const { from, login, settings } = sourceRequests(() => t);
    const exceeded = async () => {
      const r = await t.req('GET', '/api/v1/audit?limit=500&action=rate_limit.exceeded', { token: t.adminToken });
      assert.equal(r.statusCode, 200, r.body);
      return r.json().items as any[];
    };
    const limitedTotal = async (labels: string) => {
      const text = (await t.core.metrics.exposition()).body;
      const line = text.split('\n').find((l) => l.startsWith(`gatehouse_rate_limited_total{${labels}}`));
      return line ? Number(line.split(' ').at(-1)) : 0;
    };
    /** A 429 from these limits: code, message, Retry-After within one refill (60/limit s) and the same in the body. */
    const isLimited = (r: Awaited<ReturnType<typeof from>>, limit: number, what: RegExp) => {
      assert.equal(r.statusCode, 429, r.body);
      assert.equal(r.json().error.code, 'rate_limited');
      assert.match(r.json().error.message, what);
      const retry = Number(r.headers['retry-after']);
      assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= Math.ceil(60 / limit), `Retry-After ${r.headers['retry-after']}`);
      assert.equal(r.json().error.retryAfter, retry);
    };

    it('sign-in requests per address: right and wrong passwords alike; another address goes on; one audit event however many refusals', async () => {
      const u = await t.user('rl-ip', ['user']);
      await settings({ ...OFF, loginRequestsPerIp: 3 });
      try {
        const ip = '127.0.0.21';
        const before = await limitedTotal('kind="login",scope="ip"');
        assert.equal((await login(ip, 'rl-ip', u.password)).statusCode, 200);
        assert.equal((await login(ip, 'rl-ip', 'wrong-password-1')).statusCode, 401);
        assert.equal((await login(ip, 'someone-else', 'x-password')).statusCode, 401);
        // The fourth request in the minute, whoever it names and whatever its password.
        isLimited(await login(ip, 'rl-ip', u.password), 3, /too many sign-in requests from your address/);
        for (let i = 0; i < 10; i++) assert.equal((await login(ip, `other-${i}`, 'x-password')).statusCode, 429);
        // Browser sign-in shares the limit.
        isLimited(await from(ip, 'POST', '/api/v1/auth/session', { username: 'rl-ip', password: u.password }), 3, /sign-in requests/);
        // Another address is not limited.
        assert.equal((await login('127.0.0.22', 'rl-ip', u.password)).statusCode, 200);
        // Twelve refusals, one audit event naming the address and the limit.
        const events = (await exceeded()).filter((e) => e.details.ip === ip);
        assert.equal(events.length, 1, JSON.stringify(events));
        assert.deepEqual({ kind: events[0].details.kind, scope: events[0].details.scope, limit: events[0].details.limitPerMinute, outcome: events[0].outcome }, { kind: 'login', scope: 'ip', limit: 3, outcome: 'failure' });
        assert.equal((await limitedTotal('kind="login",scope="ip"')) - before, 12);
        // 0 turns the limit off.
        await settings({ loginRequestsPerIp: 0 });
        assert.equal((await login(ip, 'rl-ip', u.password)).statusCode, 200);
      } finally {
        await settings(OFF);
      }
    });

    it('sign-in requests per account: one user name from many addresses is limited, other names are not', async () => {
      const u = await t.user('rl-acct', ['user']);
      const v = await t.user('rl-acct2', ['user']);
      await settings({ ...OFF, loginRequestsPerAccount: 2 });
      try {
        assert.equal((await login('127.0.0.31', 'rl-acct', 'wrong-password-1')).statusCode, 401);
        assert.notEqual((await login('127.0.0.32', 'RL-ACCT', u.password)).statusCode, 429, 'the second request naming it (names count case-folded)');
        isLimited(await login('127.0.0.33', 'rl-acct', u.password), 2, /too many sign-in requests from this account/);
        assert.equal((await login('127.0.0.33', 'rl-acct2', v.password)).statusCode, 200);
        const events = (await exceeded()).filter((e) => e.details.account === 'rl-acct');
        assert.equal(events.length, 1);
        assert.equal(events[0].details.scope, 'account');
      } finally {
        await settings(OFF);
      }
    });

    it('both the address and the account empty: the longer wait is told, and each first refusal is audited', async () => {
      await t.user('rl-both', ['user']);
      await settings({ ...OFF, loginRequestsPerIp: 3, loginRequestsPerAccount: 2 });
      try {
        // The account's two requests, then another name's: the address's three are gone too.
        for (const name of ['rl-both', 'rl-both', 'rl-someone-else']) assert.notEqual((await login('127.0.0.41', name, 'wrong-password-1')).statusCode, 429);
        const r = await login('127.0.0.41', 'rl-both', 'wrong-password-1');
        assert.equal(r.statusCode, 429, r.body);
        // The address refills one request every 20 s, the account every 30 s. Before: the address's wait (about 20 s) was told, and the client came back to be refused by the account.
        const retry = Number(r.headers['retry-after']);
        assert.ok(retry >= 25 && retry <= 30, `Retry-After ${retry}`);
        assert.match(r.json().error.message, /from this account/);
        const events = (await exceeded()).filter((e) => e.details.ip === '127.0.0.41' || e.details.account === 'rl-both');
        assert.deepEqual(events.map((e) => e.details.scope).sort(), ['account', 'ip'], 'each bucket\'s first refusal audited');
      } finally {
        await settings(OFF);
      }
    });

    it('OAuth2 token requests per address and per client id', async () => {
      const mk = async (name: string) => {
        const app = await t.req('POST', '/api/v1/users', { token: t.adminToken, body: { username: name, isApplication: true } });
        assert.equal(app.statusCode, 201, app.body);
        return (await t.req('POST', `/api/v1/users/${app.json().id}/client-credentials`, { token: t.adminToken })).json() as { clientId: string; clientSecret: string };
      };
      const a = await mk('rl-app-a');
      const b = await mk('rl-app-b');
      const grant = (ip: string, c: { clientId: string; clientSecret: string }) => from(ip, 'POST', '/oauth2/token', { grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.clientSecret });
      await settings({ ...OFF, tokenRequestsPerAccount: 2 });
      try {
        assert.equal((await grant('127.0.0.41', a)).statusCode, 200);
        assert.equal((await grant('127.0.0.42', a)).statusCode, 200);
        isLimited(await grant('127.0.0.43', a), 2, /too many token requests from this account/);
        assert.equal((await grant('127.0.0.43', b)).statusCode, 200, 'another client id');
        await settings({ ...OFF, tokenRequestsPerIp: 2 });
        assert.equal((await grant('127.0.0.44', b)).statusCode, 200);
        assert.equal((await grant('127.0.0.44', b)).statusCode, 200);
        const r = await grant('127.0.0.44', a);
        isLimited(r, 2, /too many token requests from your address/);
        // Also over HTTP Basic.
        const basic = await from('127.0.0.44', 'POST', '/oauth2/token', { grant_type: 'client_credentials' }, { authorization: `Basic ${Buffer.from(`${b.clientId}:${b.clientSecret}`).toString('base64')}` });
        assert.equal(basic.statusCode, 429);
      } finally {
        await settings(OFF);
      }
    });

    it('ticket requests (launches) per account and per address', async () => {
      const s = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name: 'rl-target', template: 'unix-account', fields: { machine: '127.0.0.1', port: 22, username: 'nobody', password: 'rl-target-password' } } });
      assert.equal(s.statusCode, 201, s.body);
      const other = await t.user('rl-ops', ['administrator']);
      const launch = (ip: string, token: string) => from(ip, 'POST', `/api/v1/secrets/${s.json().id}/launch`, { launcher: 'ssh' }, { authorization: `Bearer ${token}` });
      await settings({ ...OFF, ticketRequestsPerAccount: 2 });
      try {
        assert.equal((await launch('127.0.0.51', t.adminToken)).statusCode, 200);
        assert.equal((await launch('127.0.0.52', t.adminToken)).statusCode, 200);
        const r = await launch('127.0.0.53', t.adminToken);
        isLimited(r, 2, /too many launch requests from this account/);
        assert.equal((await launch('127.0.0.53', other.token)).statusCode, 200, 'another account launches');
        await settings({ ...OFF, ticketRequestsPerIp: 1 });
        assert.equal((await launch('127.0.0.54', other.token)).statusCode, 200);
        isLimited(await launch('127.0.0.54', t.adminToken), 1, /too many launch requests from your address/);
        const events = (await exceeded()).filter((e) => e.details.kind === 'ticket');
        assert.deepEqual(events.map((e) => e.details.scope).sort(), ['account', 'ip']);
        // No ticket was issued for a refused request.
        const launches = await t.req('GET', `/api/v1/audit?limit=500&action=secret.launch&targetId=${s.json().id}`, { token: t.adminToken });
        assert.equal(launches.json().items.length, 4);
      } finally {
        await settings(OFF);
      }
    });

    it('the settings are bounded and documented', async () => {
      const bad = await t.req('PATCH', '/api/v1/settings', { token: t.adminToken, body: { loginRequestsPerIp: -1 } });
      assert.equal(bad.statusCode, 400, bad.body);
      const r = await t.req('GET', '/api/v1/settings', { token: t.adminToken });
      for (const k of Object.keys(OFF)) assert.match(r.json().definitions[k].description, /per minute|0 = no limit/);
    });
  });
}
