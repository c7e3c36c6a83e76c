// End to end: the real `gatehouse` CLI against a real `gatehouse serve` — login with a
// pinned certificate, users, secrets, sharing, audit, master key rotation, logout — and
// the offline bootstrap command.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, apiLogin, cleanEnv, count, fails, freePort, killAll, lines, ok, removeTempDirs, runCli, Server, serverEnv, tempDir } from './support.js';

const T = { timeout: 120_000 };

after(() => {
  killAll();
  removeTempDirs();
});

const mode = (f: string) => statSync(f).mode & 0o777;

describe('gatehouse CLI against a running server', () => {
  const adminPw = `Cli-Admin-${randomBytes(6).toString('hex')}`;
  const alicePw = `Alice-Pw-${randomBytes(6).toString('hex')}`;
  const dbPassword = `Db1-Root-${randomBytes(6).toString('hex')}`;
  let dir: string;
  let dataDir: string;
  let stateFile: string;
  let serverEnvVars: NodeJS.ProcessEnv;
  let env: NodeJS.ProcessEnv;
  let server: Server;
  let secretId: string;

  const cli = (args: string[], input?: string, e: NodeJS.ProcessEnv = env) => runCli(args, { env: e, input });

  before(async () => {
    dir = tempDir();
    dataDir = join(dir, 'data');
    stateFile = join(dir, 'cli', 'state.json');
    // A fixed port so a restart keeps the URL the CLI saved.
    serverEnvVars = await serverEnv(dataDir, { GATEHOUSE_ADMIN_PASSWORD: adminPw, GATEHOUSE_HTTP_PORT: String(await freePort()) });
    server = await Server.start(serverEnvVars);
    env = cleanEnv({ GATEHOUSE_CLI_STATE: stateFile });
  });
  after(() => server?.kill());

  it('a wrong password prints one line, exits 1 and saves nothing', T, async () => {
    const r = await cli(['login', '--url', server.url, '-u', 'admin', '--password-stdin'], 'not-the-password');
    fails(r, /^gatehouse: invalid username or password/);
    assert.ok(!existsSync(stateFile));
  });

  it('any command before login says "not logged in"', T, async () => {
    fails(await cli(['users', 'list']), /not logged in/);
  });

  it('login reads the password from stdin, saves the token 0600 and pins the certificate', T, async () => {
    const r = await cli(['login', '--url', server.url, '-u', 'admin', '--password-stdin'], adminPw + '\n');
    ok(r, 'login');
    assert.match(r.stdout, /^logged in as admin until \S+ \(token saved in .*state\.json\)/);
    assert.ok(!r.stdout.includes(adminPw) && !r.stderr.includes(adminPw));
    assert.equal(mode(stateFile).toString(8), '600');
    assert.equal(mode(join(dir, 'cli')) & 0o077, 0, 'state dir private');
    const state = JSON.parse(readFileSync(stateFile, 'utf8'));
    assert.equal(state.url, server.url);
    assert.equal(state.username, 'admin');
    assert.match(state.token, /\S{20,}/);
    assert.equal(state.fingerprint256, server.fingerprint, 'pinned the certificate the server announced');
    assert.ok(!readFileSync(stateFile, 'utf8').includes(adminPw), 'password not saved');
  });

  it('users create (password on stdin) and users list', T, async () => {
    const c = await cli(['users', 'create', 'alice', '--password-stdin', '--role', 'User'], alicePw);
    ok(c, 'users create');
    const created = JSON.parse(c.stdout);
    assert.equal(created.username, 'alice');
    assert.deepEqual(created.roles.map((r: { name: string }) => r.name), ['User']);
    assert.ok(!c.stdout.includes(alicePw));
    const l = await cli(['users', 'list']);
    ok(l, 'users list');
    assert.match(l.stdout, /^USERNAME\s+DISPLAYNAME/);
    const row = lines(l.stdout).find((x) => x.startsWith('alice '));
    assert.ok(row, l.stdout);
    assert.match(row, /\buser\s+User\s+enabled\b/);
    assert.ok(await apiLogin(server.url, 'alice', alicePw), 'alice logs in with the password given on stdin');
  });

  it('secrets create (secret field on stdin), list, reveal and share', T, async () => {
    const c = await cli(['secrets', 'create', 'db1', '-t', 'unix-account', '-f', 'machine=127.0.0.1', '-f', 'username=root', '-f', 'port=2222', '--secret-field', 'password'], dbPassword + '\n');
    ok(c, 'secrets create');
    const created = JSON.parse(c.stdout);
    secretId = created.id;
    assert.deepEqual(created.secretFields, ['password']);
    // The API refuses string ports; the CLI sends the template's number fields as numbers.
    assert.equal(created.fields.port, 2222);
    assert.ok(!c.stdout.includes(dbPassword), 'create does not echo the secret');

    const l = await cli(['secrets', 'list']);
    ok(l, 'secrets list');
    const row = lines(l.stdout).find((x) => x.startsWith('db1 '));
    assert.ok(row, l.stdout);
    assert.match(row, /Unix Account\s+127\.0\.0\.1\s+root\s+owner\s+/);
    assert.ok(row.endsWith(secretId));
    assert.ok(!l.stdout.includes(dbPassword));

    const r = await cli(['secrets', 'reveal', secretId]);
    ok(r, 'secrets reveal');
    assert.equal(JSON.parse(r.stdout).fields.password, dbPassword, 'the trailing newline from stdin is not part of the value');

    const s = await cli(['secrets', 'share', secretId, 'alice', 'view']);
    ok(s, 'secrets share');
    const entries = JSON.parse(s.stdout).entries as { principalType: string; principalId: string; level: string }[];
    assert.ok(entries.some((e) => e.principalType === 'user' && e.level === 'view'), s.stdout);
    assert.ok(entries.some((e) => e.level === 'owner'), 'the owner entry is kept');

    // alice, with her own CLI state, now sees and can reveal it.
    const aliceEnv = cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, 'alice.json') });
    ok(await cli(['login', '--url', server.url, '-u', 'alice', '--password-stdin'], alicePw, aliceEnv), 'alice login');
    const al = await cli(['secrets', 'list'], undefined, aliceEnv);
    ok(al, 'alice secrets list');
    assert.match(lines(al.stdout).find((x) => x.startsWith('db1 ')) ?? '', /\bview\b/);
    const ar = await cli(['secrets', 'reveal', secretId], undefined, aliceEnv);
    ok(ar, 'alice reveal');
    assert.equal(JSON.parse(ar.stdout).fields.password, dbPassword);
  });

  it('launch prints the ssh command for ssh launchers and saves the .rdp file for rdp launchers', T, async () => {
    const l = await cli(['launch', 'db1']);
    ok(l, 'launch ssh');
    assert.match(l.stdout.trim(), /^ssh -p \d+ [A-Za-z0-9_][A-Za-z0-9_-]{31}@\S+$/);
    assert.match(l.stderr, /single-use ticket, valid until/);
    const file = join(dir, 'db1.rdp');
    const r = await cli(['launch', 'db1', '-l', 'rdp', '-o', file]);
    ok(r, 'launch rdp');
    const text = readFileSync(file, 'utf8');
    assert.match(text, /loadbalanceinfo:s:[A-Za-z0-9_-]{32}\r\n/);
    assert.match(text, /prompt for credentials:i:0/);
    assert.ok(!text.includes(dbPassword));
    assert.equal(mode(file), 0o600);
  });

  it('audit verify and audit export', T, async () => {
    const v = await cli(['audit', 'verify']);
    ok(v, 'audit verify');
    assert.match(v.stdout, /^audit chain OK: \d+ events, \d+ signed checkpoints/);
    const out = join(dir, 'export.jsonl');
    const x = await cli(['audit', 'export', '-o', out]);
    ok(x, 'audit export');
    const text = readFileSync(out, 'utf8');
    const evs = lines(text).map((l) => JSON.parse(l));
    assert.match(x.stderr, new RegExp(`exported ${evs.length} events to `));
    assert.equal(mode(out).toString(8), '600');
    assert.deepEqual(evs.map((e) => e.seq), evs.map((_, i) => i + 1), 'every event, in order');
    for (const a of ['system.start', 'auth.login', 'user.create', 'secret.create', 'secret.reveal', 'secret.share']) assert.ok(evs.some((e) => e.action === a), `has ${a}`);
    for (const pw of [adminPw, alicePw, dbPassword]) assert.ok(!text.includes(pw), 'no secret value in the audit trail');
  });

  it('rotate-master-key succeeds and secrets still reveal, also after a restart', T, async () => {
    const before = readFileSync(join(dataDir, 'master.key'), 'utf8');
    const r = await cli(['rotate-master-key']);
    ok(r, 'rotate-master-key');
    assert.match(r.stdout, /^master key rotated: (\w+) -> (\w+), [1-9]\d* data keys rewrapped/);
    const [, from, to] = /rotated: (\w+) -> (\w+)/.exec(r.stdout)!;
    assert.notEqual(from, to);
    const after = readFileSync(join(dataDir, 'master.key'), 'utf8');
    assert.notEqual(after, before);
    assert.equal(lines(after).length, 1, 'the old key is dropped once everything is rewrapped');
    assert.equal(mode(join(dataDir, 'master.key')).toString(8), '600');
    const rv = await cli(['secrets', 'reveal', secretId]);
    ok(rv, 'reveal after rotation');
    assert.equal(JSON.parse(rv.stdout).fields.password, dbPassword);

    assert.deepEqual(await server.stop(), { code: 0, signal: null });
    server = await Server.start(serverEnvVars);
    const rv2 = await cli(['secrets', 'reveal', secretId]);
    ok(rv2, 'reveal after restart');
    assert.equal(JSON.parse(rv2.stdout).fields.password, dbPassword);
  });

  it('refuses to talk to a server whose certificate does not match the pin, before sending the token', T, async () => {
    const good = readFileSync(stateFile, 'utf8');
    const state = JSON.parse(good);
    const fake = state.fingerprint256.replace(/^../, state.fingerprint256.startsWith('00') ? '11' : '00');
    writeFileSync(stateFile, JSON.stringify({ ...state, fingerprint256: fake }), { mode: 0o600 });
    const seen = count(server.stdout, '"url":"/api/v1/users');
    const r = await cli(['users', 'list']);
    fails(r, /^gatehouse: server certificate changed \(pinned (00|11):/);
    assert.match(r.stderr, /certificate changed.*login/);
    assert.ok(!r.stdout.includes('alice'));
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(count(server.stdout, '"url":"/api/v1/users'), seen, 'the request never reached the server');
    writeFileSync(stateFile, good, { mode: 0o600 });
    ok(await cli(['users', 'list']), 'works again with the right pin');
  });

  it('logout revokes the token; afterwards commands say "not logged in"', T, async () => {
    const token = JSON.parse(readFileSync(stateFile, 'utf8')).token as string;
    const r = await cli(['logout']);
    ok(r, 'logout');
    assert.match(r.stdout, /logged out/);
    assert.ok(!existsSync(stateFile), 'state file removed');
    const u = await api(server.url, 'GET', '/api/v1/users', { token });
    assert.equal(u.status, 401, 'the token is revoked on the server');
    for (const args of [['users', 'list'], ['secrets', 'list'], ['secrets', 'reveal', secretId], ['audit', 'verify']]) {
      fails(await cli(args), /^gatehouse: not logged in/);
    }
  });
});

describe('gatehouse bootstrap (offline)', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let server: Server | undefined;
  after(() => server?.kill());

  before(async () => {
    dataDir = join(tempDir(), 'data');
    env = await serverEnv(dataDir);
  });

  async function loginWorks(password: string): Promise<boolean> {
    server = await Server.start(env);
    try {
      assert.doesNotMatch(server.stdout, /bootstrap administrator/, 'serve does not bootstrap again');
      const r = await api(server.url, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password } });
      return r.status === 200;
    } finally {
      assert.deepEqual(await server.stop(), { code: 0, signal: null });
    }
  }

  let first: string;
  it('creates the administrator on an empty data dir and prints the password', T, async () => {
    const r = await runCli(['bootstrap'], { env });
    ok(r, 'bootstrap');
    const m = /^bootstrap administrator "admin" created; password: (\S+)$/m.exec(r.stdout);
    assert.ok(m, r.stdout);
    first = m[1]!;
    assert.ok(first.length >= 16);
    assert.equal(count(r.stdout, first), 1);
    for (const f of ['master.key', 'audit-signing.key']) assert.equal(mode(join(dataDir, f)).toString(8), '600', f);
    assert.ok(!readFileSync(join(dataDir, 'gatehouse.db')).includes(first), 'password not stored in plaintext');
    assert.ok(await loginWorks(first), 'the printed password logs in');
  });

  it('refuses on a data dir that already has users', T, async () => {
    const r = await runCli(['bootstrap'], { env });
    assert.notEqual(r.code, 0);
    assert.equal(lines(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr, /^gatehouse: users already exist; use --reset/);
    assert.doesNotMatch(r.stdout, /password/);
  });

  it('--reset -u admin prints a new password that works (and the old one no longer does)', T, async () => {
    const r = await runCli(['bootstrap', '--reset', '-u', 'admin'], { env });
    ok(r, 'bootstrap --reset');
    const m = /^password of "admin" reset to: (\S+)$/m.exec(r.stdout);
    assert.ok(m, r.stdout);
    const second = m[1]!;
    assert.notEqual(second, first);
    assert.ok(await loginWorks(second), 'the new password logs in');
    assert.equal(await loginWorks(first), false, 'the old password is refused');
    const v = await runCli(['audit', 'verify', '--offline'], { env });
    ok(v, 'audit verify --offline');
    assert.match(v.stdout, /audit chain OK/);
  });

  it('--reset of an unknown user fails with one line', T, async () => {
    fails(await runCli(['bootstrap', '--reset', '-u', 'nobody'], { env }), /^gatehouse: user "nobody" not found/);
  });
});
