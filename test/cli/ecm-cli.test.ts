// End to end: `gatehouse ecm test|applications|approve|revoke|token-cache|clear-token-cache`
// (the real CLI against a real `gatehouse serve`): the ECM's application account runs Test
// Settings for a person who has not approved it (pending approval), the person approves in
// Manage Applications, the test then shows the credentials (never a password), an
// administrator tries unsaved settings (DOMAIN\name with fall-back), the token cache is
// listed and cleared, and the person revokes the application.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { api, apiLogin, cleanEnv, fails, killAll, ok, removeTempDirs, runCli, Server, serverEnv, tempDir } from './support.js';

const T = { timeout: 120_000 };

after(() => {
  killAll();
  removeTempDirs();
});

describe('gatehouse ecm (CLI)', () => {
  const adminPw = `Cli-Admin-${randomBytes(6).toString('hex')}`;
  const alicePw = `Alice-Pw-${randomBytes(6).toString('hex')}`;
  const appPw = `Ecm-App-Pw-${randomBytes(6).toString('hex')}`;
  const secretPw = `Web1-Root-${randomBytes(6).toString('hex')}`;
  let server: Server;
  let token: string;
  const env = {} as Record<'admin' | 'alice' | 'app', NodeJS.ProcessEnv>;
  const cli = (who: keyof typeof env, args: string[], input?: string) => runCli(args, { env: env[who], input });
  const call = async (method: string, path: string, body?: unknown, t = token) => {
    const r = await api(server.url, method, path, { token: t, ...(body !== undefined ? { body } : {}) });
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.body}`);
    return r.body ? r.json() : undefined;
  };

  before(async () => {
    const dir = tempDir();
    server = await Server.start(await serverEnv(join(dir, 'data'), { GATEHOUSE_ADMIN_PASSWORD: adminPw }));
    token = await apiLogin(server.url, 'admin', adminPw);
    await call('PATCH', '/api/v1/settings', { webservicesEnabled: true });
    await call('POST', '/api/v1/users', { username: 'alice', password: alicePw, roles: ['User'] });
    await call('POST', '/api/v1/roles', { name: 'ECM', permissions: ['webservices_impersonate'] });
    await call('POST', '/api/v1/users', { username: 'ecm-app', password: appPw, isApplication: true, roles: ['ECM'] });
    const s = await call('POST', '/api/v1/secrets', { name: 'web1 root', template: 'unix-account', fields: { machine: 'web1.corp.example', username: 'root', password: secretPw } });
    await call('PUT', `/api/v1/secrets/${s.id}/permissions`, { entries: [{ principalType: 'user', principal: 'alice', level: 'view' }] });
    for (const [who, user, pw] of [['admin', 'admin', adminPw], ['alice', 'alice', alicePw], ['app', 'ecm-app', appPw]] as const) {
      env[who] = cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, `${who}.json`) });
      ok(await cli(who, ['login', '--url', server.url, '-u', user, '--password-stdin'], pw), `${who} login`);
    }
  });
  after(() => server?.kill());

  it('test settings: pending approval, approve, the list without passwords; token cache; revoke', T, async () => {
    const pending = await cli('app', ['ecm', 'test', '--user', 'alice', '--endpoint', 'web1']);
    ok(pending, 'ecm test (pending)');
    assert.match(pending.stdout, /^Authenticated as ecm-app; .*pending approval/m);
    assert.match(pending.stdout, /approval: pending/);

    const apps = await cli('alice', ['ecm', 'applications']);
    ok(apps, 'ecm applications');
    assert.match(apps.stdout, /ecm-app\s+pending\s+web1/);
    const approved = await cli('alice', ['ecm', 'approve', 'ecm-app']);
    ok(approved, 'ecm approve');
    assert.equal(approved.stdout, 'ecm-app: approved\n');

    const listed = await cli('app', ['ecm', 'test', '--user', 'alice', '--endpoint', 'web1']);
    ok(listed, 'ecm test (approved)');
    assert.match(listed.stdout, /^1 credential for alice on web1\.$/m);
    assert.match(listed.stdout, /^web1 root\s+machine\s+root\s+web1\.corp\.example\s+Unix Account$/m);

    // An administrator names the application and tries unsaved settings: CORP\alice falls back to alice.
    fails(await cli('admin', ['ecm', 'test', '--user', 'CORP\\alice', '--endpoint', 'web1', '--application', 'ecm-app']), /^gatehouse: no user matches "CORP\\alice"$/);
    const fb = await cli('admin', ['ecm', 'test', '--user', 'CORP\\alice', '--endpoint', 'web1', '--application', 'ecm-app', '--fallback']);
    ok(fb, 'ecm test --fallback');
    assert.match(fb.stdout, /user: alice \(matched as fall-back\); application: ecm-app; approval: approved/);
    fails(await cli('alice', ['ecm', 'test', '--user', 'alice', '--endpoint', 'web1']), /^gatehouse: Test Settings needs the Web Services Impersonate permission, or administer$/);

    // The application's own call fills the token cache; an administrator lists and clears it.
    const appToken = await apiLogin(server.url, 'ecm-app', appPw);
    await call('GET', '/api/v1/webservices/credentials?user=alice&endpoint=web1', undefined, appToken);
    const cache = await cli('admin', ['ecm', 'token-cache']);
    ok(cache, 'ecm token-cache');
    assert.match(cache.stdout, /^1 cached token$/m);
    assert.match(cache.stdout, /^ecm-app\s+alice\s+/m);
    const cleared = await cli('admin', ['ecm', 'clear-token-cache']);
    ok(cleared, 'ecm clear-token-cache');
    assert.equal(cleared.stdout, 'cleared 1 cached token\n');
    assert.match((await cli('admin', ['ecm', 'token-cache'])).stdout, /^0 cached tokens$/m);
    fails(await cli('alice', ['ecm', 'clear-token-cache']), /^gatehouse: you need the administer permission$/);

    const revoked = await cli('alice', ['ecm', 'revoke', 'ecm-app']);
    ok(revoked, 'ecm revoke');
    const again = await cli('app', ['ecm', 'test', '--user', 'alice', '--endpoint', 'web1']);
    assert.match(again.stdout, /pending approval/);

    for (const text of [pending.stdout, listed.stdout, fb.stdout, cache.stdout, server.stdout, server.stderr]) assert.ok(!text.includes(secretPw), 'no password in CLI output or the server log');
  });
});
