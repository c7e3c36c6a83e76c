// End to end: `gatehouse personal …` against a real `gatehouse serve` — set the master
// password, unlock (a wrong one is refused and may be retried), add a credential whose
// password is read from stdin and never printed, list, launch with it, lock, remove, and
// the reset that needs its confirmation word for word.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { api, cleanEnv, fails, freePort, killAll, lines, ok, removeTempDirs, runCli, Server, serverEnv, tempDir } from './support.js';

const T = { timeout: 120_000 };

after(() => {
  killAll();
  removeTempDirs();
});

describe('gatehouse personal (CLI)', () => {
  const adminPw = `Cli-Admin-${randomBytes(6).toString('hex')}`;
  const master = `Cli-Master-${randomBytes(6).toString('hex')}`;
  const personalPw = `Cli-Personal-${randomBytes(6).toString('hex')}`;
  let env: NodeJS.ProcessEnv;
  let server: Server;

  const cli = (args: string[], input?: string) => runCli(args, { env, input });

  before(async () => {
    const dir = tempDir();
    server = await Server.start(await serverEnv(join(dir, 'data'), { GATEHOUSE_ADMIN_PASSWORD: adminPw, GATEHOUSE_HTTP_PORT: String(await freePort()) }));
    env = cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, 'state.json') });
    ok(await cli(['login', '--url', server.url, '-u', 'admin', '--password-stdin'], adminPw), 'login');
    ok(await cli(['secrets', 'create', 'db1', '-t', 'unix-account', '-f', 'machine=127.0.0.1', '-f', 'username=root', '--secret-field', 'password'], 'shared-pw\n'), 'secrets create');
  });
  after(() => server?.kill());

  it('set-master, then status says set and unlocked', T, async () => {
    const r = await cli(['personal', 'set-master', '--password-stdin'], `${master}\n`);
    ok(r, 'set-master');
    assert.match(r.stdout, /master password set\. .*forgotten, your personal credentials are lost/);
    assert.ok(!r.stdout.includes(master));
    assert.match((await cli(['personal', 'status'])).stdout, /master password set; this sign-in is unlocked/);
  });

  it('add (password on stdin), list without the secret, launch with it', T, async () => {
    const a = await cli(['personal', 'add', 'my-db', '--secret', 'db1', '-u', 'alice-dba', '--password-stdin'], `${personalPw}\n`);
    ok(a, 'personal add');
    assert.deepEqual(JSON.parse(a.stdout).secretFields, ['password']);
    assert.ok(!a.stdout.includes(personalPw));
    const l = await cli(['personal', 'list']);
    ok(l, 'personal list');
    const row = lines(l.stdout).find((x) => x.startsWith('my-db '));
    assert.ok(row, l.stdout);
    assert.match(row, /secret \S+\s+alice-dba\s+password\s+/);
    assert.ok(!l.stdout.includes(personalPw));
    const launch = await cli(['personal', 'launch', 'db1', 'my-db']);
    ok(launch, 'personal launch');
    assert.match(launch.stdout.trim(), /^ssh -p \d+ \S+@\S+$/);
  });

  it('lock; a wrong master password is refused, the right one unlocks again', T, async () => {
    ok(await cli(['personal', 'lock']), 'lock');
    fails(await cli(['personal', 'launch', 'db1', 'my-db']), /locked: unlock them with your master password/);
    fails(await cli(['personal', 'unlock', '--password-stdin'], 'not-the-master\n'), /Invalid Master Password/);
    const u = await cli(['personal', 'unlock', '--password-stdin'], `${master}\n`);
    ok(u, 'unlock');
    assert.match(u.stdout, /unlocked/);
  });

  it('change the master password (current first on stdin)', T, async () => {
    ok(await cli(['personal', 'set-master', '--password-stdin'], `${master}\n${master}-2\n`), 'change');
    ok(await cli(['personal', 'lock']), 'lock');
    fails(await cli(['personal', 'unlock', '--password-stdin'], `${master}\n`), /Invalid Master Password/);
    ok(await cli(['personal', 'unlock', '--password-stdin'], `${master}-2\n`), 'unlock with the new one');
  });

  it('remove, and reset only with the confirmation', T, async () => {
    ok(await cli(['personal', 'add', 'second', '--machine', 'h2', '--protocol', 'ssh', '-u', 'me', '--password-stdin'], 'p2\n'), 'add second');
    ok(await cli(['personal', 'remove', 'my-db']), 'remove');
    fails(await cli(['personal', 'reset', '--confirm', 'yes']), /send confirm "delete my personal credentials"/);
    const r = await cli(['personal', 'reset', '--confirm', 'delete my personal credentials']);
    ok(r, 'reset');
    assert.match(r.stdout, /deleted 1 personal credential/);
    assert.match((await cli(['personal', 'status'])).stdout, /master password not set/);
    const token = JSON.parse((await import('node:fs')).readFileSync(env.GATEHOUSE_CLI_STATE!, 'utf8')).token as string;
    const list = await api(server.url, 'GET', '/api/v1/me/personal-credentials', { token });
    assert.equal(list.json().total, 0);
  });
});
