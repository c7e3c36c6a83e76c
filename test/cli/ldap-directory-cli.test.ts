// End to end: `gatehouse directory ldap test|sync|show` (the real CLI against a real `gatehouse
// serve` and a real slapd): the test and the sync print what happened and exit 0; with the
// directory unreachable both say why and exit 1; a User is refused. No LDAP password in any output.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { freePort } from '../support/sshd.js';
import { api, apiLogin, cleanEnv, fails, killAll, ok, removeTempDirs, runCli, Server, serverEnv, tempDir, type RunResult } from './support.js';

const T = { timeout: 120_000 };

after(() => {
  killAll();
  removeTempDirs();
});

describe('gatehouse directory ldap (CLI)', () => {
  const adminPw = `Cli-Admin-${randomBytes(6).toString('hex')}`;
  const patPw = `Pat-Pw-${randomBytes(6).toString('hex')}`;
  let server: Server;
  let slapd: Slapd;
  let token: string;
  let dir: string;
  const env = {} as Record<'admin' | 'pat', NodeJS.ProcessEnv>;
  const outputs: RunResult[] = [];
  const cli = async (who: keyof typeof env, args: string[], input?: string) => {
    const r = await runCli(args, { env: env[who], input });
    outputs.push(r);
    return r;
  };
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await api(server.url, method, path, { token, ...(body !== undefined ? { body } : {}) });
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.body}`);
    return r.body ? r.json() : undefined;
  };

  before(async () => {
    slapd = await startSlapd();
    dir = tempDir();
    server = await Server.start(await serverEnv(join(dir, 'data'), { GATEHOUSE_ADMIN_PASSWORD: adminPw }));
    token = await apiLogin(server.url, 'admin', adminPw);
    await call('POST', '/api/v1/users', { username: 'pat', password: patPw, roles: ['User'] });
    await call('POST', '/api/v1/groups', { name: 'ops', roles: ['User'] });
    const s = await call('POST', '/api/v1/secrets', { name: 'ldap bind', template: 'generic', fields: { username: slapd.serviceDn, password: slapd.servicePassword } });
    await call('PUT', '/api/v1/directory/ldap', {
      enabled: true, url: slapd.url, security: 'starttls', caFile: slapd.caFile, bindDn: slapd.serviceDn, bindSecretId: s.id,
      userBaseDn: slapd.peopleOu, groupBaseDn: slapd.groupsOu, groupMappings: [{ ldapGroup: slapd.groupDn('staff'), group: 'ops' }],
    });
    for (const [who, user, pw] of [['admin', 'admin', adminPw], ['pat', 'pat', patPw]] as const) {
      env[who] = cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, `${who}.json`) });
      ok(await cli(who, ['login', '--url', server.url, '-u', user, '--password-stdin'], pw), `${who} login`);
    }
  });
  after(async () => {
    await server?.stop();
    await slapd?.stop();
  });

  it('test and sync report what happened; show prints the settings with the secret reference', T, async () => {
    const t = await cli('admin', ['directory', 'ldap', 'test']);
    ok(t, 'directory ldap test');
    assert.match(t.stdout, /^ok: connected \(starttls\) and bound as the service account; 4 users, 4 groups$/m);
    const s = await cli('admin', ['directory', 'ldap', 'sync']);
    ok(s, 'directory ldap sync');
    // staff (mapped to ops) holds dave and, through the nested group operators, bob.
    assert.match(s.stdout, /^4 directory users; created: (alice|bob|carol|dave)(, (alice|bob|carol|dave)){3}; disabled: -; enabled again: -; group membership changes: 2; sessions terminated: 0$/m);
    const show = await cli('admin', ['directory', 'ldap', 'show']);
    ok(show, 'directory ldap show');
    assert.equal(JSON.parse(show.stdout).lastSync.ok, true);
  });

  it('the directory unreachable: both say why and exit 1; a User is refused', T, async () => {
    await call('PUT', '/api/v1/directory/ldap', { url: `ldap://127.0.0.1:${await freePort()}` });
    const t = await cli('admin', ['directory', 'ldap', 'test']);
    assert.equal(t.code, 1, t.stderr);
    assert.match(t.stdout, /^failed: LDAP directory: StartTLS failed: cannot connect \(ECONNREFUSED\)/m);
    const s = await cli('admin', ['directory', 'ldap', 'sync']);
    assert.equal(s.code, 1);
    assert.match(s.stdout, /^failed: .*ECONNREFUSED/m);
    fails(await cli('pat', ['directory', 'ldap', 'sync']), /^gatehouse: /);
  });

  it('no LDAP password in any output', () => {
    const all = outputs.map((o) => o.stdout + o.stderr).join('\n');
    for (const pw of [slapd.servicePassword, 'Alice-Ldap-Pw-4411']) assert.ok(!all.includes(pw));
  });
});
