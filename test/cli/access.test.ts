// End to end: `gatehouse access …` with the real CLI against a real `gatehouse serve` — an
// administrator creates a policy and attaches it; the refused launch says how to request
// access; a request is approved by two approvers from their own CLI; the requester then
// launches; an approver revokes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, cleanEnv, fails, killAll, lines, ok, removeTempDirs, runCli, Server, serverEnv, tempDir } from './support.js';

const T = { timeout: 120_000 };

after(() => {
  killAll();
  removeTempDirs();
});

describe('gatehouse access (CLI)', () => {
  const adminPw = `Cli-Admin-${randomBytes(6).toString('hex')}`;
  let dir: string;
  let server: Server;
  const envOf: Record<string, NodeJS.ProcessEnv> = {};
  const as = (who: string, args: string[], input?: string) => runCli(args, { env: envOf[who]!, ...(input !== undefined ? { input } : {}) });

  before(async () => {
    dir = tempDir();
    server = await Server.start(await serverEnv(join(dir, 'data'), { GATEHOUSE_ADMIN_PASSWORD: adminPw }));
    for (const who of ['admin', 'alice', 'bob', 'carol']) envOf[who] = cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, `${who}.json`) });
    ok(await as('admin', ['login', '--url', server.url, '-u', 'admin', '--password-stdin'], adminPw), 'admin login');
    for (const who of ['alice', 'bob', 'carol']) {
      const pw = `Pw-${who}-${randomBytes(6).toString('hex')}`;
      ok(await as('admin', ['users', 'create', who, '--password-stdin', '--role', 'User'], pw), `create ${who}`);
      ok(await as(who, ['login', '--url', server.url, '-u', who, '--password-stdin'], pw), `${who} login`);
    }
    const secret = await as('admin', ['secrets', 'create', 'db1', '-t', 'unix-account', '-f', 'machine=127.0.0.1', '-f', 'username=root', '--secret-field', 'password'], 'db1-Password-1\n');
    ok(secret, 'secret');
    ok(await as('admin', ['secrets', 'share', JSON.parse(secret.stdout).id, 'alice', 'view']), 'share');
  });
  after(() => server?.kill());

  it('policies create, list and attach', T, async () => {
    const c = await as('admin', ['access', 'policies', 'create', 'prod', '--approver', 'bob', '--approver', 'carol', '--approvals', '2', '--max-window', '120', '--hours', 'sun-sat 00:00-23:59 UTC', '--modes', 'ssh,telnet']);
    ok(c, 'policies create');
    const p = JSON.parse(c.stdout);
    assert.deepEqual(p.allowedHours, { days: [0, 1, 2, 3, 4, 5, 6], from: '00:00', to: '23:59', timeZone: 'UTC' });
    assert.deepEqual(p.allowedModes, ['ssh', 'telnet']);
    const u = await as('admin', ['access', 'policies', 'update', 'prod', '--hours', 'none']);
    ok(u, 'policies update');
    assert.equal(JSON.parse(u.stdout).allowedHours, null);
    assert.equal(JSON.parse(u.stdout).reasonRequired, true, 'update leaves what it was not given');
    const l = await as('admin', ['access', 'policies', 'list']);
    ok(l, 'policies list');
    assert.match(lines(l.stdout).find((x) => x.startsWith('prod ')) ?? '', /^prod\s+bob,carol\s+2\s+60\/120 min\s+ssh,telnet\s/);
    const a = await as('admin', ['access', 'policies', 'attach', 'prod', '--secret', 'db1']);
    ok(a, 'attach');
    assert.equal(a.stdout, 'db1: policy prod\n');
    fails(await as('alice', ['access', 'policies', 'list']), /administer/);
  });

  it('request, approve twice, launch, revoke', T, async () => {
    fails(await as('alice', ['launch', 'db1']), /^gatehouse: Access to this secret needs an approved request: request it in the portal \(My access\) or with `gatehouse access request <secret>`\./);
    fails(await as('alice', ['access', 'request', 'db1']), /a reason is required/);
    const r = await as('alice', ['access', 'request', 'db1', '-r', 'rotate logs', '--for', '30', '--mode', 'ssh', '--ticket-ref', 'CHG-42']);
    ok(r, 'request');
    const id = /^request (\S+): pending, 2 approval\(s\) needed/.exec(r.stdout)?.[1];
    assert.ok(id, r.stdout);
    const pending = await as('bob', ['access', 'list', '--pending']);
    ok(pending, 'bob list --pending');
    assert.match(lines(pending.stdout).find((x) => x.startsWith(id)) ?? '', /db1\s+alice\s+pending\s+0\/2\s/);
    fails(await as('alice', ['access', 'approve', id]), /your own request/);
    ok(await as('bob', ['access', 'approve', id, '-c', 'ok']), 'bob approves');
    const two = await as('carol', ['access', 'approve', id]);
    ok(two, 'carol approves');
    assert.equal(two.stdout, `request ${id} (alice → db1): approved\n`);
    const mine = await as('alice', ['access', 'list']);
    assert.match(lines(mine.stdout).find((x) => x.startsWith(id)) ?? '', /approved\s+2\/2\s/);
    ok(await as('alice', ['launch', 'db1']), 'launch within the window');
    const rv = await as('bob', ['access', 'revoke', id, '-c', 'done']);
    ok(rv, 'revoke');
    assert.equal(rv.stdout, `request ${id} (alice → db1): revoked\n`);
    fails(await as('alice', ['launch', 'db1']), /needs an approved request/);
    const audit = await api(server.url, 'GET', '/api/v1/audit?action=access.revoke', { token: JSON.parse(readFileSync(join(dir, 'admin.json'), 'utf8')).token });
    assert.equal(audit.status, 200);
    assert.equal(audit.json().items[0]?.details.comment, 'done');
  });
});
