// End to end: MFA step-up with the real CLI against a real `gatehouse serve` — a secret whose
// access policy asks for a second factor refuses `gatehouse launch` with a message saying
// what to do; `--totp <code>` passes; `gatehouse step-up <code>` verifies the saved session
// for the next launches.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { nextTotp, wrongTotp } from '../support/totp.js';
import { api, apiLogin, cleanEnv, fails, killAll, ok, removeTempDirs, runCli, Server, serverEnv, tempDir } from './support.js';

const T = { timeout: 120_000 };

after(() => {
  killAll();
  removeTempDirs();
});

describe('gatehouse launch with MFA step-up (CLI)', () => {
  const adminPw = `Cli-Admin-${randomBytes(6).toString('hex')}`;
  const alicePw = `Pw-alice-${randomBytes(6).toString('hex')}`;
  let server: Server;
  let seed: string;
  const envOf: Record<string, NodeJS.ProcessEnv> = {};
  const as = (who: string, args: string[], input?: string) => runCli(args, { env: envOf[who]!, ...(input !== undefined ? { input } : {}) });

  before(async () => {
    const dir = tempDir();
    server = await Server.start(await serverEnv(join(dir, 'data'), { GATEHOUSE_ADMIN_PASSWORD: adminPw }));
    for (const who of ['admin', 'alice']) envOf[who] = cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, `${who}.json`) });
    ok(await as('admin', ['login', '--url', server.url, '-u', 'admin', '--password-stdin'], adminPw), 'admin login');
    ok(await as('admin', ['users', 'create', 'alice', '--password-stdin', '--role', 'User'], alicePw), 'create alice');
    ok(await as('alice', ['login', '--url', server.url, '-u', 'alice', '--password-stdin'], alicePw), 'alice login');
    // alice enrols TOTP (over the API, with a token of her own).
    const token = await apiLogin(server.url, 'alice', alicePw);
    seed = (await api(server.url, 'POST', '/api/v1/me/totp', { token })).json().secret;
    assert.equal((await api(server.url, 'POST', '/api/v1/me/totp/confirm', { token, body: { code: await nextTotp(seed) } })).status, 200);
    const secret = await as('admin', ['secrets', 'create', 'db1', '-t', 'unix-account', '-f', 'machine=127.0.0.1', '-f', 'username=root', '--secret-field', 'password'], 'db1-Password-1\n');
    ok(secret, 'secret');
    ok(await as('admin', ['secrets', 'share', JSON.parse(secret.stdout).id, 'alice', 'view']), 'share');
    ok(await as('admin', ['access', 'policies', 'create', 'mfa', '--approver', 'admin', '--pre-approved', 'alice', '--mfa', 'always']), 'policy');
    ok(await as('admin', ['access', 'policies', 'attach', 'mfa', '--secret', 'db1']), 'attach');
  });
  after(() => server?.kill());

  it('refuses without a code, passes with --totp, and after `gatehouse step-up`', T, async () => {
    fails(await as('alice', ['launch', 'db1']), /fresh second-factor check: verify a TOTP code/);
    fails(await as('alice', ['launch', 'db1', '--totp', wrongTotp(seed)]), /invalid verification code/);
    const withCode = await as('alice', ['launch', 'db1', '--totp', await nextTotp(seed)]);
    ok(withCode, 'launch --totp');
    assert.match(withCode.stdout, /^ssh -p \d+ /);
  });

  it('`gatehouse step-up <code>` verifies the saved session', T, async () => {
    const s = await as('alice', ['step-up', await nextTotp(seed)]);
    ok(s, 'step-up');
    assert.match(s.stdout, /^second factor verified at \d{4}-/);
    ok(await as('alice', ['launch', 'db1']), 'launch after step-up');
  });
});
