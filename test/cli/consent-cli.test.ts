// End to end: `gatehouse launch` for a secret whose access policy requires consent to
// recording (the real CLI against a real `gatehouse serve`): without --consent the policy's
// text is shown and an RDP launch is refused; with --consent the launch records it (audited).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { api, apiLogin, cleanEnv, fails, killAll, ok, removeTempDirs, runCli, Server, serverEnv, tempDir } from './support.js';

const T = { timeout: 120_000 };
const TEXT = 'CLI-CONSENT: this session is recorded.';

after(() => {
  killAll();
  removeTempDirs();
});

describe('gatehouse launch --consent (CLI)', () => {
  const adminPw = `Cli-Admin-${randomBytes(6).toString('hex')}`;
  let server: Server;
  let env: NodeJS.ProcessEnv;
  let token: string;
  let dir: string;
  const cli = (args: string[], input?: string) => runCli(args, { env, input });

  before(async () => {
    dir = tempDir();
    server = await Server.start(await serverEnv(join(dir, 'data'), { GATEHOUSE_ADMIN_PASSWORD: adminPw }));
    token = await apiLogin(server.url, 'admin', adminPw);
    const call = async (method: string, url: string, body: unknown, status: number) => {
      const r = await api(server.url, method, url, { token, body });
      assert.equal(r.status, status, r.body);
      return JSON.parse(r.body) as { id: string };
    };
    await call('POST', '/api/v1/access-policies', { name: 'consent-policy', preApproved: [{ principalType: 'user', principal: 'admin' }], recordingRequired: true, consentText: TEXT }, 201);
    const db1 = await call('POST', '/api/v1/secrets', { name: 'db1', template: 'unix-account', fields: { machine: '127.0.0.1', username: 'root', password: 'db1-Root-pw' } }, 201);
    const win1 = await call('POST', '/api/v1/secrets', { name: 'win1', template: 'windows-account', fields: { machine: '127.0.0.1', username: 'u', password: 'Win1-Root-pw' } }, 201);
    for (const s of [db1, win1]) await call('PATCH', `/api/v1/secrets/${s.id}`, { policyId: 'consent-policy' }, 200);
    env = cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, 'admin.json') });
    ok(await cli(['login', '--url', server.url, '-u', 'admin', '--password-stdin'], adminPw), 'admin login');
  });
  after(() => server?.kill());

  it('shows the text without --consent, refuses RDP without it, records it with it', T, async () => {
    const without = await cli(['launch', 'db1']);
    ok(without, 'launch without consent');
    assert.ok(without.stderr.includes(TEXT), without.stderr);
    assert.match(without.stderr, /Run again with --consent/);
    fails(await cli(['launch', 'win1', '-l', 'rdp', '-o', join(dir, 'w.rdp')]), /agree to the recording at launch/);
    const withIt = await cli(['launch', 'db1', '--consent', '--json']);
    ok(withIt, 'launch with consent');
    assert.deepEqual(JSON.parse(withIt.stdout).consent, { required: true, text: TEXT, given: true });
    ok(await cli(['launch', 'win1', '-l', 'rdp', '--consent', '-o', join(dir, 'w.rdp')]), 'rdp with consent');
    const audit = await api(server.url, 'GET', '/api/v1/audit?action=session.consent&limit=50', { token });
    assert.equal(JSON.parse(audit.body).items.length, 2, audit.body);
  });
});
