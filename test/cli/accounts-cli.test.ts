// End to end: `gatehouse secrets rotate|heartbeat|versions|reveal-version` (the real CLI
// against a real `gatehouse serve` and a real OpenSSH target): the account changes its own
// password (passwd), the CLI shows the new version, the old value is a version an owner can
// reveal, and the heartbeat finds the new password working while the old one is refused.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { ensureLocalAccount } from '../support/accounts.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { api, apiLogin, cleanEnv, fails, killAll, ok, removeTempDirs, runCli, Server, serverEnv, tempDir } from './support.js';

const T = { timeout: 120_000 };
const USER = 'gh12acli';
const OLD = 'Cli-Old-Pw-12a!k';

after(() => {
  killAll();
  removeTempDirs();
});

function canLogin(port: number, password: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.on('ready', () => {
      c.end();
      resolve(true);
    });
    c.on('error', (e: Error & { level?: string }) => (e.level === 'client-authentication' ? resolve(false) : reject(e)));
    c.connect({ host: '127.0.0.1', port, username: USER, password, readyTimeout: 10_000 });
  });
}

describe('gatehouse secrets rotate (CLI)', () => {
  const adminPw = `Cli-Admin-${randomBytes(6).toString('hex')}`;
  let server: Server;
  let sshd: Sshd;
  let env: NodeJS.ProcessEnv;
  const cli = (args: string[], input?: string) => runCli(args, { env, input });

  before(async () => {
    sshd = await startSshd();
    ensureLocalAccount(USER, OLD);
    const dir = tempDir();
    server = await Server.start(await serverEnv(join(dir, 'data'), { GATEHOUSE_ADMIN_PASSWORD: adminPw }));
    const token = await apiLogin(server.url, 'admin', adminPw);
    const s = await api(server.url, 'POST', '/api/v1/secrets', { token, body: { name: 'cli-rot', template: 'unix-account', fields: { machine: '127.0.0.1', port: sshd.port, username: USER, password: OLD } } });
    assert.equal(s.status, 201, s.body);
    await api(server.url, 'POST', '/api/v1/secrets', { token, body: { name: 'cli-generic', template: 'generic', fields: { username: 'u', password: 'generic-12a' } } });
    env = cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, 'admin.json') });
    ok(await cli(['login', '--url', server.url, '-u', 'admin', '--password-stdin'], adminPw), 'admin login');
  });
  after(async () => {
    server?.kill();
    await sshd?.stop();
  });

  it('rotate, versions, reveal-version and heartbeat', T, async () => {
    const r = await cli(['secrets', 'rotate', 'cli-rot']);
    ok(r, 'rotate');
    assert.match(r.stdout, /^rotated: the password is now version 2 \(\S+\)$/m);
    assert.ok(!r.stdout.includes(OLD));
    assert.equal(await canLogin(sshd.port, OLD), false, 'the old password is refused');

    const v = await cli(['secrets', 'versions', 'cli-rot']);
    ok(v, 'versions');
    const versions = JSON.parse(v.stdout);
    assert.equal(versions.total, 1);
    assert.equal(versions.items[0].reason, 'rotation');
    const old = await cli(['secrets', 'reveal-version', 'cli-rot', '1']);
    ok(old, 'reveal-version');
    assert.equal(JSON.parse(old.stdout).fields.password, OLD);

    const hb = await cli(['secrets', 'heartbeat', 'cli-rot']);
    ok(hb, 'heartbeat');
    assert.match(hb.stdout, /^ok \(\S+\)$/m);

    fails(await cli(['secrets', 'rotate', 'cli-generic']), /not a managed target account/);
  });
});
