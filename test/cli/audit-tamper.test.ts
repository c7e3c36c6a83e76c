// End to end with the real `gatehouse serve` and CLI on SQLite: the audit signing key is
// announced once at first start and pinned in the data dir; `audit checkpoint export` and
// `audit verify --anchor`; and every way of rewriting the trail with write access to the
// database alone makes `gatehouse audit verify --offline` (also with --public-key) fail
// with its reason — including truncating the unsigned tail while the server runs, caught
// by the server's next periodic checkpoint.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GENESIS, eventHash } from '../../src/core/audit/chain.js';
import { checkpointMessage, keyIdOf } from '../../src/core/audit/signer.js';
import { api, apiLogin, cleanEnv, killAll, lines, ok, removeTempDirs, runCli, Server, serverEnv, tempDir, freePort, type RunResult } from './support.js';

const T = { timeout: 180_000 };

after(() => {
  killAll();
  removeTempDirs();
});

interface Row {
  seq: number;
  ts: number;
  actor_id: string | null;
  actor_name: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  outcome: 'success' | 'failure';
  details: string;
  prev_hash: string;
  hash: string;
}

const hashOf = (r: Row, prevHash: string, details: string) =>
  eventHash({ ts: r.ts, actorId: r.actor_id, actorName: r.actor_name, action: r.action, targetType: r.target_type, targetId: r.target_id, ip: r.ip, outcome: r.outcome, details, prevHash });

/** Opens the data dir's SQLite database as the attacker does: directly, next to a running server if need be. */
function withDb<T>(dataDir: string, fn: (db: Database.Database) => T): T {
  const db = new Database(join(dataDir, 'gatehouse.db'));
  db.pragma('busy_timeout = 10000');
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

function rewrite(db: Database.Database, seq: number): void {
  let prev = GENESIS;
  const upd = db.prepare('update audit_events set details = ?, prev_hash = ?, hash = ? where seq = ?');
  for (const r of db.prepare('select * from audit_events order by seq').all() as Row[]) {
    const details = r.seq === seq ? '{"rewritten":true}' : r.details;
    const hash = hashOf(r, prev, details);
    upd.run(details, prev, hash, r.seq);
    prev = hash;
  }
}

const BROKEN = (reason: string) => new RegExp(`^audit chain BROKEN: audit chain broken at event \\d+: .* \\[${reason}\\]$`, 'm');

function brokenWith(r: RunResult, reason: string): void {
  assert.equal(r.code, 3, `exit 3 expected\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.match(r.stdout, BROKEN(reason));
}

describe('audit trail: pinned key, exported anchors and tampering, end to end', () => {
  const adminPw = `Audit-Admin-${randomBytes(6).toString('hex')}`;
  let dir: string;
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let cliEnv: NodeJS.ProcessEnv;
  let server: Server;
  let pubCopy: string;
  const cli = (args: string[], input?: string) => runCli(args, { env: cliEnv, input });
  const offline = (d: string, args: string[] = []) => runCli(['audit', 'verify', '--offline', ...args], { env: cleanEnv({ GATEHOUSE_DATA_DIR: d }) });

  before(async () => {
    dir = tempDir();
    dataDir = join(dir, 'data');
    env = await serverEnv(dataDir, { GATEHOUSE_ADMIN_PASSWORD: adminPw, GATEHOUSE_HTTP_PORT: String(await freePort()) });
    server = await Server.start(env);
    cliEnv = cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, 'cli.json') });
    ok(await cli(['login', '--url', server.url, '-u', 'admin', '--password-stdin'], adminPw), 'login');
  });
  after(() => server?.kill());

  it('first start prints the signing key fingerprint and public key once; audit-signing.pub holds it; the API names it', T, async () => {
    const re = /^gatehouse: audit signing key created: fingerprint (SHA256:\S+), public key (\S+) \(pinned in (\S+audit-signing\.pub); keep a copy elsewhere/m;
    const m = re.exec(server.stdout);
    assert.ok(m, server.stdout);
    assert.equal(lines(server.stdout).filter((l) => l.includes('audit signing key')).length, 1);
    assert.equal(m[3], join(dataDir, 'audit-signing.pub'));
    const pub = readFileSync(m[3]!, 'utf8');
    assert.ok(pub.includes(m[1]!), 'the file names the fingerprint');
    const token = await apiLogin(server.url, 'admin', adminPw);
    const k = (await api(server.url, 'GET', '/api/v1/audit/public-key', { token })).json();
    assert.equal(k.fingerprint, m[1]);
    assert.equal(k.publicKeyPem.replace(/-----[A-Z ]+-----|\s/g, ''), m[2]);
    // The operator keeps a copy elsewhere: here, next to the test.
    pubCopy = join(dir, 'pinned.pub');
    copyFileSync(m[3]!, pubCopy);
    const v = await cli(['audit', 'verify']);
    ok(v, 'audit verify');
    assert.match(v.stdout, /^audit chain OK: \d+ events, [1-9]\d* signed checkpoints \(last at event \d+\)/, 'the start is signed at once');
    assert.match(v.stdout, /^verified against keys pinned in .*audit-signing\.pub; 1 anchor checkpoint found in the chain$/m);
  });

  it('audit checkpoint export writes the newest signed checkpoint; verify --anchor checks it online and offline', T, async () => {
    ok(await cli(['secrets', 'create', 'anchored', '-t', 'generic', '-f', 'username=u']), 'a change to sign');
    const file = join(dir, 'anchor.json');
    const x = await cli(['audit', 'checkpoint', 'export', '--sign', '-o', file]);
    ok(x, 'checkpoint export');
    const cp = JSON.parse(readFileSync(file, 'utf8'));
    assert.deepEqual(Object.keys(cp).sort(), ['fingerprint', 'format', 'hash', 'keyId', 'seq', 'signature', 'ts']);
    assert.match(cp.fingerprint, /^SHA256:/);
    assert.match(x.stderr, /^wrote the checkpoint of event (\d+) .*`gatehouse audit verify --anchor .*anchor\.json`$/m);
    assert.equal(/event (\d+)/.exec(x.stderr)![1], String(cp.seq));
    const printed = await cli(['audit', 'checkpoint', 'export']);
    ok(printed, 'export to stdout');
    assert.deepEqual(JSON.parse(printed.stdout), cp);
    const v = await cli(['audit', 'verify', '--anchor', file]);
    ok(v, 'verify --anchor online');
    assert.match(v.stdout, /2 anchor checkpoints found in the chain/);
    const o = await offline(dataDir, ['--anchor', file]);
    ok(o, 'verify --anchor offline');
    const bad = join(dir, 'bad-anchor.json');
    (await import('node:fs')).writeFileSync(bad, JSON.stringify({ ...cp, hash: 'b'.repeat(64) }));
    brokenWith(await cli(['audit', 'verify', '--anchor', bad]), 'bad_anchor');
  });

  it('every tamper form fails offline verification, with and without --public-key', T, async () => {
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
    const anchor = join(dir, 'anchor.json');
    const copy = (name: string, tamper: (db: Database.Database) => void): string => {
      const d = join(dir, name);
      cpSync(dataDir, d, { recursive: true });
      withDb(d, tamper);
      return d;
    };
    ok(await offline(dataDir), 'the untouched trail verifies');
    ok(await offline(dataDir, ['--public-key', pubCopy]), 'also with the key kept elsewhere');

    const rehashed = copy('rehashed', (db) => {
      rewrite(db, 3);
      db.prepare('delete from audit_checkpoints').run();
    });
    for (const extra of [[], ['--public-key', pubCopy]]) brokenWith(await offline(rehashed, extra), 'edited');
    // Verified where the data dir's anchor is not at hand: the exported one catches it.
    rmSync(join(rehashed, 'audit-anchor.json'));
    brokenWith(await offline(rehashed, ['--public-key', pubCopy, '--anchor', anchor]), 'edited');

    const cut = copy('cut', (db) => {
      const max = (db.prepare('select max(seq) as m from audit_events').get() as { m: number }).m;
      db.prepare('delete from audit_events where seq > ?').run(max - 3);
      db.prepare('delete from audit_checkpoints').run();
    });
    for (const extra of [[], ['--public-key', pubCopy]]) brokenWith(await offline(cut, extra), 'truncated');

    const noCheckpoints = copy('no-checkpoints', (db) => void db.prepare('delete from audit_checkpoints').run());
    brokenWith(await offline(noCheckpoints), 'missing_checkpoint');

    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const forged = copy('forged-key', (db) => {
      rewrite(db, 2);
      db.prepare('insert into meta (key, value) values (?, ?)').run(`audit_key:${keyIdOf(pem)}`, pem);
      for (const c of db.prepare('select seq, created_at from audit_checkpoints').all() as { seq: number; created_at: number }[]) {
        const h = (db.prepare('select hash from audit_events where seq = ?').get(c.seq) as { hash: string }).hash;
        db.prepare('update audit_checkpoints set hash = ?, key_id = ?, signature = ? where seq = ?').run(h, keyIdOf(pem), sign(null, Buffer.from(checkpointMessage(c.seq, h, c.created_at)), privateKey).toString('base64'), c.seq);
      }
    });
    for (const extra of [[], ['--public-key', pubCopy]]) {
      const r = await offline(forged, extra);
      brokenWith(r, 'bad_signature');
      assert.match(r.stdout, new RegExp(`signed by key ${keyIdOf(pem)}, which is not pinned`));
    }
    const trusting = await offline(forged, ['--trust-db-keys']);
    brokenWith(trusting, 'edited');
    assert.match(trusting.stderr, /^warning: --trust-db-keys: also trusting signing keys recorded in the database/);
    rmSync(join(forged, 'audit-anchor.json'));
    const fooled = await offline(forged, ['--trust-db-keys']);
    ok(fooled, 'with the database keys trusted and no anchor, the forgery passes');
    assert.match(fooled.stdout, /NOT independent of the database/);
    brokenWith(await offline(forged, ['--trust-db-keys', '--anchor', anchor]), 'edited');

    assert.match((await runCli(['audit', 'verify', '--public-key', pubCopy], { env: cliEnv })).stderr, /^gatehouse: --public-key needs --offline/);
  });

  it('truncating the unsigned tail while the server runs is caught by its next periodic checkpoint', T, async () => {
    server = await Server.start(env);
    const token = await apiLogin(server.url, 'admin', adminPw);
    const s = await api(server.url, 'PATCH', '/api/v1/settings', { token, body: { auditCheckpointSeconds: 10 } });
    assert.equal(s.status, 200, s.body);
    const signed = JSON.parse((await cli(['audit', 'checkpoint', 'export', '--sign'])).stdout);
    for (let i = 0; i < 3; i++) assert.equal((await api(server.url, 'POST', '/api/v1/folders', { token, body: { name: `tail-${i}` } })).status, 201);
    withDb(dataDir, (db) => db.prepare('delete from audit_events where seq > ?').run(signed.seq));
    // Wait for the server's own checkpoint (every 10 s now), not a fixed time.
    const deadline = Date.now() + 90_000;
    let r: RunResult;
    for (;;) {
      r = await offline(dataDir);
      if (r.code !== 0 || Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 1000));
    }
    brokenWith(r, 'truncated');
    await server.waitFor(/audit chain tampered: an event this gateway wrote is gone or changed/, 30_000);
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
    brokenWith(await offline(dataDir), 'truncated');
  });
});

describe('offline commands and the pinned key configuration', () => {
  it('`gatehouse bootstrap` on an empty data dir announces the signing key and signs what it wrote', T, async () => {
    const dataDir = join(tempDir(), 'data');
    const env = cleanEnv({ GATEHOUSE_DATA_DIR: dataDir });
    const b = await runCli(['bootstrap'], { env });
    ok(b, 'bootstrap');
    assert.match(b.stdout, /^gatehouse: audit signing key created: fingerprint SHA256:\S+, public key \S+ \(pinned in \S+audit-signing\.pub;/m);
    assert.match(b.stdout, /^bootstrap administrator "admin" created; password: \S+$/m);
    const v = await runCli(['audit', 'verify', '--offline'], { env });
    ok(v, 'verify');
    assert.match(v.stdout, /^audit chain OK: (\d+) events, 1 signed checkpoints \(last at event \1\)$/m);
    const again = await runCli(['bootstrap', '--reset', '-u', 'admin'], { env });
    ok(again, 'bootstrap --reset');
    assert.doesNotMatch(again.stdout + again.stderr, /audit signing key/, 'announced once');
    assert.match((await runCli(['audit', 'verify', '--offline'], { env })).stdout, /^audit chain OK: (\d+) events, 2 signed checkpoints \(last at event \1\)$/m);
  });

  it('serve refuses a GATEHOUSE_AUDIT_PUBLIC_KEY it cannot read, with one line', T, async () => {
    const dataDir = join(tempDir(), 'data');
    const s = Server.spawn(await serverEnv(dataDir, { GATEHOUSE_AUDIT_PUBLIC_KEY: '/nonexistent/audit.pub' }));
    const exit = await s.waitExit(60_000);
    assert.equal(exit.code, 2, s.stderr);
    assert.deepEqual(lines(s.stderr), ['gatehouse: invalid configuration: GATEHOUSE_AUDIT_PUBLIC_KEY names a file that does not exist: /nonexistent/audit.pub']);
    assert.ok(!existsSync(join(dataDir, 'audit-anchor.json')));
  });
});
