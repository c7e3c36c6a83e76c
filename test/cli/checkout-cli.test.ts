// End to end: `gatehouse secret checkout|checkin|checkout-status|checkout-queue` (the real
// CLI against a real `gatehouse serve`): one person checks a shared secret out, another's
// launch is refused with the seed's message and queues, the holder checks in.
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

describe('gatehouse secret checkout (CLI)', () => {
  const adminPw = `Cli-Admin-${randomBytes(6).toString('hex')}`;
  const bobPw = `Bob-Pw-${randomBytes(6).toString('hex')}`;
  let server: Server;
  let env: NodeJS.ProcessEnv;
  let bobEnv: NodeJS.ProcessEnv;
  const cli = (args: string[], e = env, input?: string) => runCli(args, { env: e, input });

  before(async () => {
    const dir = tempDir();
    server = await Server.start(await serverEnv(join(dir, 'data'), { GATEHOUSE_ADMIN_PASSWORD: adminPw }));
    const token = await apiLogin(server.url, 'admin', adminPw);
    const bob = await api(server.url, 'POST', '/api/v1/users', { token, body: { username: 'bob', password: bobPw, roles: ['User'] } });
    assert.equal(bob.status, 201, bob.body);
    const s = await api(server.url, 'POST', '/api/v1/secrets', { token, body: { name: 'db1', template: 'unix-account', fields: { machine: '127.0.0.1', username: 'root', password: 'db1-Root-pw' } } });
    assert.equal(s.status, 201, s.body);
    const share = await api(server.url, 'PUT', `/api/v1/secrets/${JSON.parse(s.body).id}/permissions`, { token, body: { entries: [{ principalType: 'user', principal: 'bob', level: 'view' }] } });
    assert.equal(share.status, 200, share.body);
    env = cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, 'admin.json') });
    bobEnv = cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, 'bob.json') });
    ok(await cli(['login', '--url', server.url, '-u', 'admin', '--password-stdin'], env, adminPw), 'admin login');
    ok(await cli(['login', '--url', server.url, '-u', 'bob', '--password-stdin'], bobEnv, bobPw), 'bob login');
  });
  after(() => server?.kill());

  it('checkout, a refused launch, the queue, checkout-status and checkin', T, async () => {
    const c = await cli(['secret', 'checkout', 'db1', '--reason', 'patching', '--duration', '2h']);
    ok(c, 'checkout');
    assert.match(c.stdout, /^checked out by you \(explicit\) since \S+ until \S+: patching$/m);

    // Bob has no personal credential for db1 either: the seed's second message; his explicit checkout asks for the shared one only.
    fails(await cli(['launch', 'db1'], bobEnv), /^gatehouse: No shared or personal credentials are available\.$/);
    fails(await cli(['secret', 'checkout', 'db1'], bobEnv), /^gatehouse: None of the shared credentials are available\.$/);
    const q = await cli(['secret', 'checkout-queue', 'db1'], bobEnv);
    ok(q, 'queue');
    assert.match(q.stdout, /you are number 1 in the queue/);

    const st = await cli(['secrets', 'checkout-status', 'db1', '--json']);
    ok(st, 'status');
    const status = JSON.parse(st.stdout);
    assert.equal(status.holder.name, 'admin');
    assert.equal(status.reason, 'patching');
    assert.deepEqual(status.queue.map((x: { user: { name: string } }) => x.user.name), ['bob']);

    const back = await cli(['secret', 'checkin', 'db1']);
    ok(back, 'checkin');
    assert.match(back.stdout, /^available$/m);
    const bobTurn = await cli(['secret', 'checkout-status', 'db1'], bobEnv);
    assert.match(bobTurn.stdout, /^available, and held for you until \S+/);
    ok(await cli(['launch', 'db1'], bobEnv), 'bob launches on his turn');
    fails(await cli(['secret', 'checkout', 'db1', '--duration', 'soon']), /--duration expects seconds/);
  });
});
