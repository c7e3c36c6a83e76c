// End to end: the real `gatehouse serve` process — first start, data dir layout, TLS,
// health, PostgreSQL, configuration errors and a clean SIGTERM shutdown.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { api, apiLogin, cleanEnv, count, freePort, freshPgDatabase, killAll, lines, removeTempDirs, runCli, Server, serverEnv, tempDir } from './support.js';

const T = { timeout: 120_000 };
const BOOT_RE = /gatehouse: bootstrap administrator created: username "admin" password "([^"]+)"/;

after(() => {
  killAll();
  removeTempDirs();
});

/** The certificate the server presents, read with a raw TLS connection. */
function peerCertificate(url: string): Promise<{ raw: Buffer; subjectaltname?: string; fingerprint256: string }> {
  const u = new URL(url);
  return new Promise((res, rej) => {
    const sock = connect({ host: u.hostname, port: Number(u.port), rejectUnauthorized: false, timeout: 15_000 });
    sock.once('secureConnect', () => {
      const c = sock.getPeerCertificate();
      sock.end();
      res({ raw: c.raw, subjectaltname: c.subjectaltname, fingerprint256: c.fingerprint256 });
    });
    sock.once('timeout', () => sock.destroy(new Error('TLS connect timed out')));
    sock.once('error', rej);
  });
}

const mode = (f: string) => statSync(f).mode & 0o777;

describe('gatehouse serve on SQLite: first start, data dir, TLS, shutdown, restart', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let server: Server;
  let password: string;

  before(async () => {
    dataDir = join(tempDir(), 'data');
    env = await serverEnv(dataDir);
    server = await Server.start(env);
  });
  after(() => server?.kill());

  it('prints the bootstrap administrator password exactly once, and it logs in', T, async () => {
    const m = BOOT_RE.exec(server.stdout);
    assert.ok(m, `no bootstrap line in stdout:\n${server.stdout}`);
    password = m[1]!;
    assert.ok(password.length >= 16, 'generated password is long');
    assert.equal(count(server.stdout, password), 1, 'password appears once on stdout');
    assert.equal(lines(server.stdout).filter((l) => l.includes('bootstrap administrator')).length, 1);
    assert.ok(!server.stderr.includes(password));
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const token = await apiLogin(server.url, 'admin', password);
    assert.ok(token);
    const me = await api(server.url, 'GET', '/api/v1/users', { token });
    assert.equal(me.status, 200, me.body);
  });

  it('keeps its database (WAL), keys and TLS key in the data dir with private modes', T, () => {
    for (const f of ['gatehouse.db', 'gatehouse.db-wal', 'master.key', 'audit-signing.key', 'tls-key.pem', 'tls-cert.pem']) {
      assert.ok(existsSync(join(dataDir, f)), `${f} exists while running (have: ${readdirSync(dataDir).join(', ')})`);
    }
    for (const f of ['master.key', 'audit-signing.key', 'tls-key.pem']) assert.equal(mode(join(dataDir, f)).toString(8), '600', `${f} is 0600`);
    assert.equal(mode(dataDir) & 0o077, 0, 'data dir is private to its owner');
    assert.equal(mode(join(dataDir, 'logs')) & 0o077, 0, 'logs dir is private to its owner');
  });

  it('serves HTTPS with a self-signed certificate for 127.0.0.1', T, async () => {
    const c = await peerCertificate(server.url);
    const x = new X509Certificate(c.raw);
    assert.equal(x.subject, x.issuer, 'subject == issuer');
    assert.ok(x.verify(x.publicKey), 'signed by its own key');
    assert.match(c.subjectaltname ?? '', /IP Address:127\.0\.0\.1\b/);
    assert.equal(c.fingerprint256, server.fingerprint, 'the fingerprint announced on stdout is the one served');
    assert.equal(x.fingerprint256, new X509Certificate(readFileSync(join(dataDir, 'tls-cert.pem'))).fingerprint256, 'the certificate kept in the data dir');
  });

  it('answers /healthz without authentication', T, async () => {
    const r = await api(server.url, 'GET', '/healthz');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json().status, 'ok');
    assert.equal(r.json().database, 'sqlite');
  });

  it('stops cleanly on SIGTERM with a system.stop event and a signed checkpoint', T, async () => {
    const exit = await server.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, `stderr: ${server.stderr}`);
    assert.equal(server.stderr, '', 'nothing on stderr');

    const offlineEnv = cleanEnv({ GATEHOUSE_DATA_DIR: dataDir });
    const v = await runCli(['audit', 'verify', '--offline'], { env: offlineEnv });
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /audit chain OK: (\d+) events, ([1-9]\d*) signed checkpoints \(last at event (\d+)\)/);
    const [, events, , lastCp] = /audit chain OK: (\d+) events, (\d+) signed checkpoints \(last at event (\d+)\)/.exec(v.stdout)!;
    assert.equal(lastCp, events, 'the shutdown checkpoint covers the last event');

    const out = join(tempDir(), 'audit.jsonl');
    const x = await runCli(['audit', 'export', '--offline', '-o', out], { env: offlineEnv });
    assert.equal(x.code, 0, x.stderr);
    const evs = lines(readFileSync(out, 'utf8')).map((l) => JSON.parse(l));
    assert.equal(String(evs.length), events);
    assert.deepEqual(
      ['system.bootstrap', 'system.start', 'auth.login', 'system.stop'].map((a) => evs.some((e) => e.action === a)),
      [true, true, true, true],
      `actions: ${evs.map((e) => e.action).join(', ')}`,
    );
    assert.equal(evs.at(-1).action, 'system.stop', 'system.stop is the last event');
  });

  it('never writes the bootstrap password to the database or the log', T, () => {
    const logFile = join(dataDir, 'logs', 'gatehouse.log');
    assert.ok(existsSync(logFile));
    const log = readFileSync(logFile, 'utf8');
    assert.ok(log.includes('Server listening'), 'the log file is written');
    for (const f of readdirSync(dataDir).filter((f) => f.startsWith('gatehouse.db'))) {
      assert.ok(!readFileSync(join(dataDir, f)).includes(password), `password not in ${f}`);
    }
    assert.ok(!log.includes(password), 'password not in logs/gatehouse.log');
    const jsonLogLines = lines(server.stdout).filter((l) => l.startsWith('{'));
    assert.ok(jsonLogLines.length > 0);
    assert.ok(!jsonLogLines.some((l) => l.includes(password)), 'password not in any log line on stdout');
  });

  it('on a second start on the same data dir prints no password and the first one still works', T, async () => {
    server = await Server.start(env);
    assert.doesNotMatch(server.stdout, /bootstrap administrator/);
    assert.ok(!server.stdout.includes(password));
    assert.ok(await apiLogin(server.url, 'admin', password));
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
  });
});

describe('gatehouse serve with GATEHOUSE_ADMIN_PASSWORD', () => {
  let server: Server;
  after(() => server?.kill());

  it('uses it for the bootstrap administrator and never prints it', T, async () => {
    const dataDir = join(tempDir(), 'data');
    const pw = `Env-Admin-${randomBytes(6).toString('hex')}`;
    server = await Server.start(await serverEnv(dataDir, { GATEHOUSE_ADMIN_PASSWORD: pw }));
    assert.match(server.stdout, /bootstrap administrator "admin" created with the password from GATEHOUSE_ADMIN_PASSWORD/);
    assert.doesNotMatch(server.stdout, BOOT_RE);
    assert.ok(await apiLogin(server.url, 'admin', pw));
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
    assert.ok(!server.stdout.includes(pw) && !server.stderr.includes(pw), 'not printed');
    assert.ok(!readFileSync(join(dataDir, 'logs', 'gatehouse.log'), 'utf8').includes(pw), 'not logged');
    for (const f of readdirSync(dataDir).filter((f) => f.startsWith('gatehouse.db'))) assert.ok(!readFileSync(join(dataDir, f)).includes(pw), `not in ${f}`);
  });
});

describe('gatehouse serve and a SIGTERM the moment it listens', () => {
  it('still drains and stops cleanly (exit 0, system.stop audited), with or without a metrics listener', T, async () => {
    for (const extra of [{}, { GATEHOUSE_METRICS_LISTEN: '127.0.0.1:0' }]) {
      const dataDir = join(tempDir(), 'data');
      const s = Server.spawn(await serverEnv(dataDir, { GATEHOUSE_ADMIN_PASSWORD: `Pw-${randomBytes(6).toString('hex')}`, ...extra }));
      // The port is open once the line is printed: a service manager may stop it right then.
      await s.waitFor(/gatehouse: listening on /);
      assert.deepEqual(await s.stop('SIGTERM'), { code: 0, signal: null }, `stderr: ${s.stderr}`);
      const out = join(tempDir(), 'audit.jsonl');
      assert.equal((await runCli(['audit', 'export', '--offline', '-o', out], { env: cleanEnv({ GATEHOUSE_DATA_DIR: dataDir }) })).code, 0);
      assert.equal(JSON.parse(lines(readFileSync(out, 'utf8')).at(-1)!).action, 'system.stop');
    }
  });
});

describe('test support: Server.start and door ports taken by another test', () => {
  let server: Server | undefined;
  after(() => server?.kill());

  it('draws a door port serverEnv drew again when it is taken before the server binds it; a port the test gave is not', T, async () => {
    const dataDir = join(tempDir(), 'data');
    const env = await serverEnv(dataDir, { GATEHOUSE_ADMIN_PASSWORD: `Pw-${randomBytes(6).toString('hex')}` });
    const taken = env.GATEHOUSE_SSH_PORT!;
    // Another test's server took the port between serverEnv and the start.
    const blocker = createServer();
    await new Promise<void>((res, rej) => blocker.once('error', rej).listen(Number(taken), '127.0.0.1', () => res()));
    try {
      server = await Server.start(env);
      assert.notEqual(env.GATEHOUSE_SSH_PORT, taken, 'drawn again in the same environment');
      assert.match(server.stdout, new RegExp(`gatehouse: ssh door on port ${env.GATEHOUSE_SSH_PORT}\\n`));
      assert.deepEqual(await server.stop(), { code: 0, signal: null });
      server = undefined;
      const given = await serverEnv(join(tempDir(), 'data'), { GATEHOUSE_SSH_PORT: taken });
      await assert.rejects(Server.start(given), /EADDRINUSE/, 'a port the test chose stays its choice');
      assert.equal(given.GATEHOUSE_SSH_PORT, taken);
    } finally {
      await new Promise((res) => blocker.close(res));
    }
  });
});

describe('gatehouse serve on PostgreSQL', () => {
  let server: Server;
  let db: { url: string; drop: () => Promise<void> } | undefined;
  after(async () => {
    server?.kill();
    await server?.waitExit(10_000).catch(() => {});
    await db?.drop();
  });

  it('runs the same server against GATEHOUSE_DATABASE_URL', T, async () => {
    db = await freshPgDatabase();
    const dataDir = join(tempDir(), 'data');
    const env = await serverEnv(dataDir, { GATEHOUSE_DATABASE_URL: db.url });
    server = await Server.start(env);
    assert.match(server.stdout, /database: postgres/);
    const pw = BOOT_RE.exec(server.stdout)?.[1];
    assert.ok(pw, `bootstrap password printed:\n${server.stdout}`);
    const h = await api(server.url, 'GET', '/healthz');
    assert.equal(h.status, 200, h.body);
    assert.equal(h.json().status, 'ok');
    assert.equal(h.json().database, 'postgres');
    const token = await apiLogin(server.url, 'admin', pw);
    const c = await api(server.url, 'POST', '/api/v1/secrets', { token, body: { name: 'pg1', template: 'unix-account', fields: { machine: 'h', username: 'u', password: 'Pg-Secret-Value-1' } } });
    assert.equal(c.status, 201, c.body);
    assert.ok(!existsSync(join(dataDir, 'gatehouse.db')), 'no SQLite database when PostgreSQL is configured');
    assert.ok(existsSync(join(dataDir, 'master.key')), 'keys still live in the data dir');
    assert.deepEqual(await server.stop(), { code: 0, signal: null });

    const v = await runCli(['audit', 'verify', '--offline'], { env });
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /audit chain OK: \d+ events, [1-9]\d* signed checkpoints/);

    // A restart on the same database keeps the administrator and does not bootstrap again.
    server = await Server.start(env);
    assert.doesNotMatch(server.stdout, /bootstrap administrator/);
    assert.ok(await apiLogin(server.url, 'admin', pw));
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
  });
});

describe('gatehouse serve with a GATEHOUSE_CONFIG file', () => {
  let server: Server;
  after(() => server?.kill());

  it('takes settings from the file (camelCase or GATEHOUSE_ keys), the environment overriding it', T, async () => {
    const dir = tempDir();
    const dataDir = join(dir, 'from-file');
    const pw = `File-Admin-${randomBytes(6).toString('hex')}`;
    const file = join(dir, 'gatehouse.json');
    writeFileSync(
      file,
      JSON.stringify({
        dataDir,
        bindHost: '127.0.0.1',
        httpPort: 'not-a-port', // overridden by the environment below
        sshPort: await freePort(),
        GATEHOUSE_RDP_PORT: await freePort(),
        GATEHOUSE_ADMIN_PASSWORD: pw,
        logLevel: 'warn',
      }),
    );
    server = await Server.start(cleanEnv({ GATEHOUSE_CONFIG: file, GATEHOUSE_HTTP_PORT: '0' }));
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(existsSync(join(dataDir, 'gatehouse.db')), 'data dir from the file');
    assert.ok(!server.stdout.includes('"level":30'), 'log level warn from the file: no info lines');
    assert.ok(await apiLogin(server.url, 'admin', pw), 'admin password from the file');
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
  });
});

describe('gatehouse serve refuses invalid configuration with one clear line', () => {
  let base: NodeJS.ProcessEnv;
  let dir: string;
  before(async () => {
    dir = tempDir();
    base = await serverEnv(join(dir, 'data'));
  });

  /** Runs serve (which must exit by itself) and checks the single stderr line. */
  async function refuses(env: NodeJS.ProcessEnv, re: RegExp): Promise<void> {
    const r = await runCli(['serve'], { env, timeoutMs: 30_000 });
    assert.notEqual(r.code, 0, `exit code non-zero; stdout: ${r.stdout} stderr: ${r.stderr}`);
    assert.equal(r.signal, null);
    const errLines = lines(r.stderr);
    assert.equal(errLines.length, 1, `exactly one line on stderr, got:\n${r.stderr}`);
    assert.match(errLines[0]!, re);
    for (const s of [r.stdout, r.stderr]) {
      assert.doesNotMatch(s, /^\s+at .*\(?.*:\d+:\d+\)?$/m, 'no stack trace');
      assert.doesNotMatch(s, /node:internal|Node\.js v\d/, 'no crash report');
    }
    assert.doesNotMatch(r.stdout, /listening on/);
  }

  const cases: [string, string, RegExp][] = [
    ['GATEHOUSE_HTTP_PORT', 'abc', /^gatehouse: invalid configuration: GATEHOUSE_HTTP_PORT .*"abc"/],
    ['GATEHOUSE_SSH_PORT', '70000', /^gatehouse: invalid configuration: GATEHOUSE_SSH_PORT .*"70000"/],
    ['GATEHOUSE_RDP_PORT', '-1', /^gatehouse: invalid configuration: GATEHOUSE_RDP_PORT .*"-1"/],
    ['GATEHOUSE_DATABASE_URL', 'mysql://x', /^gatehouse: invalid configuration: GATEHOUSE_DATABASE_URL .*postgres/],
    ['GATEHOUSE_MASTER_KEY', 'short', /^gatehouse: invalid configuration: GATEHOUSE_MASTER_KEY /],
    ['GATEHOUSE_ADMIN_PASSWORD', 'short', /^gatehouse: invalid configuration: GATEHOUSE_ADMIN_PASSWORD .*12 characters/],
    ['GATEHOUSE_PUBLIC_URL', 'http://gatehouse.example', /^gatehouse: invalid configuration: GATEHOUSE_PUBLIC_URL .*https/],
    ['GATEHOUSE_LOG_LEVEL', 'loud', /^gatehouse: invalid configuration: GATEHOUSE_LOG_LEVEL .*"loud"/],
    ['GATEHOUSE_LOGIN_GRACE_SECONDS', '30s', /^gatehouse: invalid configuration: GATEHOUSE_LOGIN_GRACE_SECONDS must be a whole number from 0 to 3600, got "30s"/],
    ['GATEHOUSE_MAX_STARTUPS', '0', /^gatehouse: invalid configuration: GATEHOUSE_MAX_STARTUPS must be a whole number from 1 .*"0"/],
    ['GATEHOUSE_MAX_STARTUPS_PER_SOURCE', '-5', /^gatehouse: invalid configuration: GATEHOUSE_MAX_STARTUPS_PER_SOURCE must be a whole number .*"-5"/],
    ['GATEHOUSE_CONFIG', '/nonexistent', /^gatehouse: invalid configuration: GATEHOUSE_CONFIG .*\/nonexistent/],
    ['GATEHOUSE_TLS_CERT', '/nonexistent/cert.pem', /^gatehouse: invalid configuration: GATEHOUSE_TLS_KEY must be set together with GATEHOUSE_TLS_CERT/],
  ];
  for (const [key, value, re] of cases) {
    it(`${key}=${value}`, T, async () => refuses({ ...base, [key]: value }, re));
  }

  it('a GATEHOUSE_CONFIG file with an unknown key', T, async () => {
    const file = join(dir, 'unknown.json');
    writeFileSync(file, JSON.stringify({ httpPort: 0, colour: 'blue' }));
    await refuses({ ...base, GATEHOUSE_CONFIG: file }, /^gatehouse: invalid configuration: GATEHOUSE_CONFIG .*unknown setting "colour"/);
  });

  it('a GATEHOUSE_CONFIG file with an invalid value names the setting', T, async () => {
    const file = join(dir, 'bad-value.json');
    writeFileSync(file, JSON.stringify({ sshPort: 70000 }));
    const env: NodeJS.ProcessEnv = { ...base, GATEHOUSE_CONFIG: file };
    delete env.GATEHOUSE_SSH_PORT;
    await refuses(env, /^gatehouse: invalid configuration: GATEHOUSE_SSH_PORT .*"70000"/);
  });

  it('a GATEHOUSE_CONFIG file that is not JSON', T, async () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{ httpPort: ');
    await refuses({ ...base, GATEHOUSE_CONFIG: file }, /^gatehouse: invalid configuration: GATEHOUSE_CONFIG .*not valid JSON/);
  });

  it('an HTTP port already in use', T, async () => {
    const blocker = createServer();
    await new Promise<void>((res, rej) => blocker.once('error', rej).listen(0, '127.0.0.1', () => res()));
    try {
      const port = (blocker.address() as AddressInfo).port;
      await refuses({ ...base, GATEHOUSE_DATA_DIR: join(dir, 'port-in-use'), GATEHOUSE_HTTP_PORT: String(port) }, new RegExp(`^gatehouse: .*(EADDRINUSE|in use).*127\\.0\\.0\\.1:${port}`));
    } finally {
      await new Promise((res) => blocker.close(res));
    }
  });

  it('an unreachable PostgreSQL server', T, async () => {
    await refuses({ ...base, GATEHOUSE_DATA_DIR: join(dir, 'pg-unreachable'), GATEHOUSE_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x' }, /^gatehouse: cannot connect to the database: .*ECONNREFUSED/);
  });

  it('a master key that does not match the secrets already in the database', T, async () => {
    const dataDir = join(dir, 'has-secrets');
    const pw = `Admin-${randomBytes(6).toString('hex')}`;
    const env = await serverEnv(dataDir, { GATEHOUSE_ADMIN_PASSWORD: pw });
    const server = await Server.start(env);
    try {
      const token = await apiLogin(server.url, 'admin', pw);
      const c = await api(server.url, 'POST', '/api/v1/secrets', { token, body: { name: 'k1', template: 'unix-account', fields: { machine: 'h', username: 'u', password: 'Key-Test-Value-1' } } });
      assert.equal(c.status, 201, c.body);
      assert.deepEqual(await server.stop(), { code: 0, signal: null });
    } finally {
      server.kill();
    }
    await refuses({ ...env, GATEHOUSE_MASTER_KEY: randomBytes(32).toString('base64') }, /^gatehouse: invalid configuration: GATEHOUSE_MASTER_KEY does not match/);
    // The right key (the file in the data dir) still works.
    const again = await Server.start(env);
    try {
      assert.ok(await apiLogin(again.url, 'admin', pw));
      assert.deepEqual(await again.stop(), { code: 0, signal: null });
    } finally {
      again.kill();
    }
  });
});

describe('gatehouse serve after a crash', () => {
  let server: Server | undefined;
  after(() => server?.kill());

  // The end of a session the crash left live is written at the next start (as interrupted), and
  // what its end does runs once the node has started: here, its launch checkout is checked in.
  it('ends the sessions it left live, then checks in their launch checkouts', T, async () => {
    const PW = `Pw-${randomBytes(6).toString('hex')}`;
    const dataDir = join(tempDir(), 'data');
    const env = await serverEnv(dataDir, { GATEHOUSE_ADMIN_PASSWORD: PW });
    server = await Server.start(env);
    let token = await apiLogin(server.url, 'admin', PW);
    const adminId = (await api(server.url, 'GET', '/api/v1/me', { token })).json().id as string;
    const secret = await api(server.url, 'POST', '/api/v1/secrets', { token, body: { name: 'crashed', template: 'generic', fields: { username: 'u', password: `pw-${randomBytes(6).toString('hex')}` } } });
    assert.equal(secret.status, 201, secret.body);
    const secretId = secret.json().id as string;
    assert.deepEqual(await server.stop('SIGTERM'), { code: 0, signal: null });

    // What the crashed process left: a live session of this node holding a launch checkout.
    const node = readFileSync(join(dataDir, 'node-id'), 'utf8').trim();
    const sessionId = `crashed-${randomBytes(4).toString('hex')}`;
    const at = Date.now() - 60_000;
    const db = new Database(join(dataDir, 'gatehouse.db'));
    try {
      db.prepare(
        `insert into sessions (id, user_id, username, secret_id, secret_name, launcher_id, protocol, target_host, target_port, target_user, client_ip, door, status, started_at, bytes_in, bytes_out, record_keystrokes, node)
         values (?, ?, 'admin', ?, 'crashed', 'ssh', 'ssh', '127.0.0.1', 22, 'u', '127.0.0.1', 'ssh', 'live', ?, 0, 0, 1, ?)`,
      ).run(sessionId, adminId, secretId, at, node);
      db.prepare(`insert into checkouts (id, secret_id, user_id, username, source, since, expires_at, session_id) values (?, ?, ?, 'admin', 'launch', ?, ?, ?)`).run(`co-${sessionId}`, secretId, adminId, at, Date.now() + 3600_000, sessionId);
    } finally {
      db.close();
    }

    server = await Server.start(env);
    token = await apiLogin(server.url, 'admin', PW);
    const s = (await api(server.url, 'GET', `/api/v1/sessions/${sessionId}`, { token })).json();
    assert.deepEqual([s.status, s.endReason], ['ended', 'interrupted']);
    let checkin: { details: { sessionId?: string; reason?: string } } | undefined;
    for (let i = 0; i < 100 && !checkin; i++) {
      const items = (await api(server.url, 'GET', `/api/v1/audit?action=secret.checkin&targetId=${secretId}&limit=10`, { token })).json().items as { details: { sessionId?: string; reason?: string } }[];
      checkin = items.find((e) => e.details.sessionId === sessionId);
      if (!checkin) await new Promise((r) => setTimeout(r, 100));
    }
    // Before: the checkout stayed open until it expired (or someone looked at the secret).
    assert.equal(checkin?.details.reason, 'session_end');
  });
});
