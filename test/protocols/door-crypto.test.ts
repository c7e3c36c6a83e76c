// What an outside scanner sees: ssh-audit against the SSH door and testssl.sh against the
// HTTPS port (both from Debian), on loopback. The SSH door offers Ed25519 and RSA with SHA-2
// signatures only, no NIST curves, no SHA-1, no encrypt-and-MAC, no pre-auth zlib; HTTPS
// offers only forward-secret AEAD suites, sends HSTS, marks API answers no-store, answers
// HEAD / like GET /, and its self-signed certificate is valid at most 825 days. The stock
// clients keep working: OpenSSH, PuTTY's plink, paramiko and asyncssh run a command each.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import ssh2 from 'ssh2';
import { loadDoorHostKeys } from '../../src/protocols/ssh/host-keys.js';
import { loadTls, SELF_SIGNED_MAX_DAYS } from '../../src/tls.js';
import { ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { ADMIN_PASSWORD } from '../support/harness.js';
import { clientFor, createSecret, launch, run } from '../support/ssh-client.js';

const DAY = 86400_000;
// Debian's python3-paramiko and python3-asyncssh live with the system interpreter.
const PYTHON = '/usr/bin/python3';

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function https(port: number, method: string, path: string, opts: { body?: unknown; token?: string } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        rejectUnauthorized: false,
        agent: false,
        headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const fingerprint = (knownHostsLine: string) => `SHA256:${createHash('sha256').update(Buffer.from(knownHostsLine.trim().split(/\s+/).pop()!, 'base64')).digest('base64').replace(/=+$/, '')}`;
const keyLine = (knownHosts: string[], type: string) => knownHosts.find((l) => l.split(/\s+/)[1] === type)!;

describe('door crypto and headers, as scanners and stock clients see them', () => {
  let sshd: Sshd;
  let gw: Gateway;
  let secretId: string;
  let httpsPort: number;
  let work: string;
  before(async () => {
    ensureTargetAccount();
    // One after the other: if one fails to start, the other is already assigned and gets stopped.
    sshd = await startSshd();
    gw = await startGateway('sqlite');
    secretId = await createSecret(gw, 'crypto-target', { port: sshd.port, password: TARGET_PASSWORD });
    httpsPort = Number(new URL(gw.running.url).port);
    work = mkdtempSync(join(tmpdir(), 'gh-door-crypto-'));
  });
  after(async () => {
    await gw?.close();
    await sshd?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ssh-audit: Ed25519 and RSA/SHA-2 host keys, no NIST curves, no SHA-1, encrypt-then-MAC only, no pre-auth zlib; no failures', async () => {
    const j = await run('ssh-audit', ['-j', '-p', String(gw.sshPort), '127.0.0.1'], { timeoutMs: 120_000 });
    const audit = JSON.parse(j.stdout);
    const names = (xs: { algorithm: string }[]) => xs.map((x) => x.algorithm);
    const keys = names(audit.key);
    const kex = names(audit.kex);
    assert.ok(keys.includes('ssh-ed25519'), keys.join());
    assert.deepEqual(keys.filter((k: string) => k.startsWith('rsa-') || k === 'ssh-rsa').sort(), ['rsa-sha2-256', 'rsa-sha2-512']);
    assert.ok(!keys.some((k: string) => /ecdsa|nistp|ssh-dss/.test(k)), keys.join());
    assert.ok(!kex.some((k: string) => /nistp|sha1$|group1-|group14-sha1/.test(k)), kex.join());
    assert.ok(kex.includes('curve25519-sha256'));
    assert.ok(audit.mac.length > 0 && audit.mac.every((m: string) => /-etm@openssh\.com$/.test(m) && !/sha1|md5/.test(m)), audit.mac.join());
    assert.ok(!audit.enc.some((c: string) => /cbc|3des|arcfour|blowfish/.test(c)), audit.enc.join());
    assert.ok(!audit.compression.includes('zlib'), audit.compression.join());
    // Its verdicts: no [fail]; the only warning is the Terrapin countermeasure this
    // ssh-audit (2.5, older than Terrapin) does not know yet.
    const text = await run('ssh-audit', ['-n', '-b', '-l', 'warn', '-p', String(gw.sshPort), '127.0.0.1'], { timeoutMs: 120_000 });
    const verdicts = text.stdout.split('\n').filter((l) => /\[(fail|warn)\]/.test(l));
    assert.ok(!verdicts.some((l) => l.includes('[fail]')), text.stdout);
    assert.ok(verdicts.every((l) => l.includes('kex-strict-s-v00@openssh.com')), text.stdout);
  });

  it('OpenSSH: both host keys verify (RSA under either SHA-2 name); ssh-rsa (SHA-1), ECDSA and encrypt-and-MAC are refused; compression after login works', async () => {
    const l = await launch(gw, secretId);
    const c = clientFor(gw, l.knownHosts);
    for (const algo of ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256']) {
      const t = await launch(gw, secretId);
      const r = await run('ssh', [...c.base(['-o', 'BatchMode=yes', '-o', `HostKeyAlgorithms=${algo}`, '-C', '-l', t.ticket]), '127.0.0.1', `echo ${algo}-$((40+2))`]);
      assert.equal(r.code, 0, `${algo}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`${algo}-42`));
    }
    for (const [opt, value] of [
      ['HostKeyAlgorithms', 'ssh-rsa'],
      ['HostKeyAlgorithms', 'ecdsa-sha2-nistp256'],
      ['KexAlgorithms', 'ecdh-sha2-nistp256,diffie-hellman-group14-sha1'],
      ['MACs', 'hmac-sha2-256,hmac-sha2-512,hmac-sha1'],
    ]) {
      // Non-AEAD cipher so the MAC list matters.
      const extra = opt === 'MACs' ? ['-c', 'aes128-ctr'] : [];
      const r = await run('ssh', [...c.base(['-o', 'BatchMode=yes', '-o', `${opt}=${value}`, ...extra, '-l', l.ticket]), '127.0.0.1', 'true']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Unable to negotiate|no matching/, `${opt}=${value}: ${r.stderr}`);
    }
  });

  it('PuTTY plink, paramiko (Ed25519, and RSA under each SHA-2 name) and asyncssh run a command through a ticket', async () => {
    const l0 = await launch(gw, secretId);
    const ed = keyLine(l0.knownHosts, 'ssh-ed25519');
    const plink = await run('plink', ['-ssh', '-batch', '-P', String(gw.sshPort), '-hostkey', fingerprint(ed), '-l', l0.ticket, '127.0.0.1', 'echo plink-$((40+2))'], { timeoutMs: 60_000 });
    assert.equal(plink.code, 0, plink.stderr);
    assert.match(plink.stdout, /plink-42/);

    const paramiko = `
import sys, paramiko
port, ticket, known = int(sys.argv[1]), sys.argv[2], sys.argv[3].split('\\n')
disabled = sys.argv[4].split(',') if len(sys.argv) > 4 and sys.argv[4] else []
t = paramiko.Transport(('127.0.0.1', port), disabled_algorithms={'keys': disabled})
t.start_client(timeout=30)
k = t.get_remote_server_key()
assert any(line.split()[1:] == [k.get_name(), k.get_base64()] for line in known if line), 'host key not in known_hosts'
t.auth_none(ticket)
ch = t.open_session()
ch.exec_command('echo paramiko-$((40+2))')
print(t.host_key_type, ch.makefile().read().decode().strip())
t.close()
`;
    for (const [disabled, expect] of [
      ['', 'ssh-ed25519'],
      ['ssh-ed25519', 'rsa-sha2-512'],
      ['ssh-ed25519,rsa-sha2-512', 'rsa-sha2-256'],
    ] as const) {
      const l = await launch(gw, secretId);
      const r = await run(PYTHON, ['-W', 'ignore', '-c', paramiko, String(gw.sshPort), l.ticket, l.knownHosts.join('\n'), disabled], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), `${expect} paramiko-42`);
    }

    const l = await launch(gw, secretId);
    const known = join(work, 'asyncssh_known_hosts');
    writeFileSync(known, l.knownHosts.join('\n') + '\n');
    const asyncssh = `
import asyncio, sys, asyncssh
async def main():
    async with asyncssh.connect('127.0.0.1', int(sys.argv[1]), username=sys.argv[2], known_hosts=sys.argv[3], client_keys=None, agent_path=None, password=None) as conn:
        r = await conn.run('echo asyncssh-$((40+2))', check=True)
        print(r.stdout.strip())
asyncio.run(main())
`;
    const a = await run(PYTHON, ['-W', 'ignore', '-c', asyncssh, String(gw.sshPort), l.ticket, known], { timeoutMs: 60_000 });
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout.trim(), 'asyncssh-42');
  });

  it('testssl.sh: TLS 1.2/1.3 only, forward-secret AEAD suites only (no CBC, no static RSA), HSTS, certificate within 825 days', async () => {
    const out = join(work, 'testssl.json');
    const r = await run('testssl', ['--quiet', '--warnings', 'off', '--color', '0', '--nodns', 'none', '-p', '-s', '-E', '-S', '-h', '--jsonfile', out, `https://127.0.0.1:${httpsPort}`], { timeoutMs: 480_000 });
    assert.ok(existsSync(out), `testssl wrote no JSON (exit ${r.code}): ${r.stdout.slice(-2000)} ${r.stderr.slice(-2000)}`);
    const findings = JSON.parse(readFileSync(out, 'utf8')) as { id: string; severity: string; finding: string }[];
    const f = (id: string) => {
      const x = findings.find((y) => y.id === id);
      assert.ok(x, `testssl finding ${id} missing`);
      return x!;
    };
    for (const id of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1']) assert.match(f(id).finding, /not offered/, id);
    assert.match(f('TLS1_2').finding, /^offered/);
    assert.match(f('TLS1_3').finding, /^offered/);
    // cipherlist_AVERAGE is testssl's "obsolete CBC ciphers" category.
    for (const id of ['cipherlist_NULL', 'cipherlist_aNULL', 'cipherlist_EXPORT', 'cipherlist_LOW', 'cipherlist_3DES_IDEA', 'cipherlist_AVERAGE']) assert.match(f(id).finding, /not offered/, id);
    // Every suite offered, per protocol: ECDHE or DHE key exchange, AES-GCM or ChaCha20-Poly1305.
    const suites = findings.filter((x) => /^cipher-tls1_[23]_/.test(x.id));
    assert.ok(suites.some((x) => x.id.startsWith('cipher-tls1_2_')) && suites.some((x) => x.id.startsWith('cipher-tls1_3_')), suites.map((x) => x.id).join());
    for (const s of suites) assert.match(s.finding, /\s(ECDH|DH) \d+\s+(AESGCM|ChaCha20)\s/, s.finding);
    assert.equal(f('HSTS_time').severity, 'OK', f('HSTS_time').finding);
    assert.equal(f('cert_validityPeriod').finding, 'No finding');
    assert.equal(f('cert_expirationStatus').severity, 'OK');
  });

  it('HTTPS answers: HSTS everywhere, no-store on the login answer and every other API answer; HEAD / answers like GET /', async () => {
    const login = await https(httpsPort, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
    assert.equal(login.status, 200, login.body);
    assert.ok(JSON.parse(login.body).token);
    assert.equal(login.headers['cache-control'], 'no-store');
    assert.match(String(login.headers['strict-transport-security']), /^max-age=\d{8,}/);
    const token = JSON.parse(login.body).token as string;
    for (const [method, path, auth, status] of [
      ['GET', '/api/v1/me', true, 200],
      ['GET', `/api/v1/secrets/${secretId}`, true, 200],
      ['GET', '/api/v1/me', false, 401],
      ['GET', '/api/v1/no-such-thing', true, 404],
      ['POST', '/api/v1/auth/login', false, 400],
    ] as const) {
      const r = await https(httpsPort, method, path, { ...(auth ? { token } : {}), ...(method === 'POST' ? { body: {} } : {}) });
      assert.equal(r.status, status, `${method} ${path}: ${r.body}`);
      assert.equal(r.headers['cache-control'], 'no-store', `${method} ${path}`);
      assert.ok(r.headers['strict-transport-security'], `${method} ${path}`);
    }
    const get = await https(httpsPort, 'GET', '/');
    const head = await https(httpsPort, 'HEAD', '/');
    assert.equal(get.status, 200);
    assert.equal(head.status, get.status);
    assert.equal(head.body, '');
    // The date and the request id are each answer's own.
    const strip = (h: HttpAnswer['headers']) => Object.fromEntries(Object.entries(h).filter(([k]) => k !== 'date' && k !== 'x-request-id'));
    assert.deepEqual(strip(head.headers), strip(get.headers));
    assert.ok(get.headers['strict-transport-security']);
  });

  it('the self-signed certificate is valid at most 825 days; an older one valid longer (or expiring) is replaced at start, a good one kept', async () => {
    const served = new X509Certificate(readFileSync(join(gw.dataDir, 'tls-cert.pem')));
    assert.ok(Date.parse(served.validTo) - Date.parse(served.validFrom) <= SELF_SIGNED_MAX_DAYS * DAY);

    const dir = mkdtempSync(join(tmpdir(), 'gh-tls-'));
    try {
      // What earlier versions made: an hour back, 825 days forward.
      const now = Date.now();
      const old = await generate([{ name: 'commonName', value: 'old' }], { keyType: 'rsa', keySize: 2048, algorithm: 'sha256', notBeforeDate: new Date(now - 3600_000), notAfterDate: new Date(now + 825 * DAY) } as Parameters<typeof generate>[1]);
      writeFileSync(join(dir, 'tls-cert.pem'), old.cert);
      writeFileSync(join(dir, 'tls-key.pem'), old.private);
      const renewed = await loadTls(dir);
      assert.match(renewed.renewed ?? '', /more than 825 days/);
      const c = new X509Certificate(renewed.cert);
      assert.ok(Date.parse(c.validTo) - Date.parse(c.validFrom) <= SELF_SIGNED_MAX_DAYS * DAY);
      assert.notEqual(renewed.fingerprint256, new X509Certificate(old.cert).fingerprint256);
      const again = await loadTls(dir);
      assert.equal(again.renewed, undefined);
      assert.equal(again.fingerprint256, renewed.fingerprint256);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an install from before Ed25519 keeps its RSA host key, gains an Ed25519 one, and no longer offers ECDSA', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-hostkeys-'));
    try {
      const rsaPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
      writeFileSync(join(dir, 'ssh_host_rsa_key.pem'), rsaPem, { mode: 0o600 });
      writeFileSync(join(dir, 'ssh_host_ecdsa_key.pem'), generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'sec1', format: 'pem' }).toString(), { mode: 0o600 });
      const keys = loadDoorHostKeys(dir);
      assert.deepEqual(keys.map((k) => k.publicLine.split(' ')[0]), ['ssh-ed25519', 'ssh-rsa']);
      const rsa = ssh2.utils.parseKey(rsaPem) as ssh2.ParsedKey;
      assert.equal(keys[1]!.publicLine, `ssh-rsa ${rsa.getPublicSSH().toString('base64')}`);
      assert.equal(statSync(join(dir, 'ssh_host_ed25519_key')).mode & 0o777, 0o600);
      assert.equal(loadDoorHostKeys(dir)[0]!.publicLine, keys[0]!.publicLine);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
