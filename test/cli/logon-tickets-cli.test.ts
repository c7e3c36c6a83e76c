// End to end with a real `gatehouse serve`: the logon-ticket RSA key is made at first start in
// the data dir (mode 0600), the WCREDS answer over HTTPS is its modulus:exponent, and
// `gatehouse logon-tickets key|rotate-key` show and replace it (audited; the file follows).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { api, apiLogin, cleanEnv, killAll, ok, removeTempDirs, runCli, Server, serverEnv, tempDir } from './support.js';

const T = { timeout: 120_000 };

after(() => {
  killAll();
  removeTempDirs();
});

describe('gatehouse logon-tickets (CLI)', () => {
  const adminPw = `Cli-Admin-${randomBytes(6).toString('hex')}`;
  let server: Server;
  let dataDir = '';
  let env: NodeJS.ProcessEnv;
  const fileFingerprint = () => createHash('sha256').update(createPublicKey(createPrivateKey(readFileSync(join(dataDir, 'logon-ticket.key'), 'utf8'))).export({ type: 'spki', format: 'der' })).digest('hex');

  before(async () => {
    const dir = tempDir();
    dataDir = join(dir, 'data');
    server = await Server.start(await serverEnv(dataDir, { GATEHOUSE_ADMIN_PASSWORD: adminPw }));
    const token = await apiLogin(server.url, 'admin', adminPw);
    await api(server.url, 'POST', '/api/v1/users', { token, body: { username: 'portal-svc', password: `Svc-${randomBytes(6).toString('hex')}`, roles: ['User'] } });
    const s = await api(server.url, 'PATCH', '/api/v1/settings', { token, body: { logonTicketUser: 'portal-svc', logonTicketServers: ['app1|some-secret|rdp'] } });
    assert.equal(s.status, 200, s.body);
    env = cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, 'admin.json') });
    ok(await runCli(['login', '--url', server.url, '-u', 'admin', '--password-stdin'], { env, input: adminPw }), 'login');
  });
  after(() => server?.kill());

  it('made at first start (0600); key, WCREDS and rotate-key agree with the file', T, async () => {
    assert.equal(statSync(join(dataDir, 'logon-ticket.key')).mode & 0o777, 0o600);
    const shown = await runCli(['logon-tickets', 'key'], { env });
    ok(shown, 'logon-tickets key');
    assert.equal(shown.stdout, `${fileFingerprint()} (RSA 2048)\n`);
    const wcreds = await api(server.url, 'GET', '/socket.io/WCREDS?GetRuntimePublicModulusExponent');
    assert.equal(wcreds.status, 200);
    const jwk = createPublicKey(createPrivateKey(readFileSync(join(dataDir, 'logon-ticket.key'), 'utf8'))).export({ format: 'jwk' }) as { n: string };
    assert.equal(wcreds.body, `${Buffer.from(jwk.n, 'base64url').toString('hex')}:10001`);

    const before = fileFingerprint();
    const rotated = await runCli(['logon-tickets', 'rotate-key'], { env });
    ok(rotated, 'logon-tickets rotate-key');
    assert.equal(rotated.stdout, `logon-ticket key rotated: ${before} -> ${fileFingerprint()}\n`);
    assert.notEqual(fileFingerprint(), before);
    assert.equal(statSync(join(dataDir, 'logon-ticket.key')).mode & 0o777, 0o600);
    const token = await apiLogin(server.url, 'admin', adminPw);
    const audit = await api(server.url, 'GET', '/api/v1/audit?action=logon_ticket.key_rotated', { token });
    assert.equal(audit.status, 200, audit.body);
    assert.deepEqual(audit.json().items.map((e: { details: Record<string, unknown> }) => e.details), [{ previousFingerprint: before, fingerprint: fileFingerprint() }]);
  });
});
