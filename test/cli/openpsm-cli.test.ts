// End to end: `gatehouse openpsm link|notices` (the real CLI against a real `gatehouse serve`
// that plays both OpenPSM sides, its IAM address being its own https URL): a person prints
// the /start link for a secret of the real test sshd, follows it over HTTPS (the master
// password, the browser terminal's WebSocket, `exit`), and an auditor lists the endsession
// call delivered. Refused: an unknown secret, a bad --mode, a node without OpenPSM settings,
// no sign-in, notices without the audit permission. No password (sign-in, master, target)
// in any output; the link's ApiKey only inside the URL the person must open.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { api, apiLogin, cleanEnv, count, fails, killAll, ok, removeTempDirs, runCli, Server, serverEnv, tempDir, type RunResult } from './support.js';

const T = { timeout: 120_000 };

after(() => {
  killAll();
  removeTempDirs();
});

describe('gatehouse openpsm (CLI)', () => {
  const adminPw = `Cli-Admin-${randomBytes(6).toString('hex')}`;
  const patPw = `Pat-Pw-${randomBytes(6).toString('hex')}`;
  const master = `Pat-Master-${randomBytes(6).toString('hex')}`;
  let server: Server;
  let sshd: Sshd;
  let token: string;
  let dir: string;
  const env = {} as Record<'admin' | 'pat', NodeJS.ProcessEnv>;
  const outputs: RunResult[] = [];
  const cli = async (who: keyof typeof env | NodeJS.ProcessEnv, args: string[], input?: string) => {
    const r = await runCli(args, { env: typeof who === 'string' ? env[who] : who, input });
    outputs.push(r);
    return r;
  };
  const call = async (method: string, path: string, body?: unknown, t = token) => {
    const r = await api(server.url, method, path, { token: t, ...(body !== undefined ? { body } : {}) });
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.body}`);
    return r.body ? r.json() : undefined;
  };

  before(async () => {
    ensureTargetAccount();
    sshd = await startSshd();
    dir = tempDir();
    server = await Server.start(await serverEnv(join(dir, 'data'), { GATEHOUSE_ADMIN_PASSWORD: adminPw }));
    token = await apiLogin(server.url, 'admin', adminPw);
    await call('POST', '/api/v1/users', { username: 'pat', password: patPw, roles: ['User'] });
    const s = await call('POST', '/api/v1/secrets', { name: 'psm-box', template: 'unix-account', fields: { machine: '127.0.0.1', port: sshd.port, username: 'ghtarget', password: TARGET_PASSWORD } });
    await call('PUT', `/api/v1/secrets/${s.id}/permissions`, { entries: [{ principalType: 'user', principal: 'pat', level: 'view' }] });
    await call('PUT', '/api/v1/me/master-password', { masterPassword: master }, await apiLogin(server.url, 'pat', patPw));
    for (const [who, user, pw] of [['admin', 'admin', adminPw], ['pat', 'pat', patPw]] as const) {
      env[who] = cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, `${who}.json`) });
      ok(await cli(who, ['login', '--url', server.url, '-u', user, '--password-stdin'], pw), `${who} login`);
    }
  });
  after(async () => {
    await server?.stop();
    await sshd?.stop();
  });

  it('refuses a link while this node has no OpenPSM settings, and without a sign-in', T, async () => {
    fails(await cli('pat', ['openpsm', 'link', 'psm-box']), /^gatehouse: OpenPSM is not configured on this node/);
    fails(await cli(cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, 'nobody.json') }), ['openpsm', 'link', 'psm-box']), /^gatehouse: not logged in: run `gatehouse login` first$/);
    fails(await cli(cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, 'nobody.json') }), ['openpsm', 'notices']), /^gatehouse: not logged in/);
  });

  it('link: the /start URL, followed to a browser session; notices: the endsession delivered', T, async () => {
    // Both sides on one node: it sends people to its own /start and answers its own getcredential.
    const cert = readFileSync(join(dir, 'data', 'tls-cert.pem'), 'utf8');
    await call('PATCH', '/api/v1/settings', { openpsmGatewayUrl: server.url, openpsmApplicationKey: randomUUID(), publicUrl: server.url, openpsmAllowedApiUrls: [server.url], openpsmTrustedCa: cert, openpsmEndSessionBackoffSeconds: 0 });

    const l = await cli('pat', ['openpsm', 'link', 'psm-box', '--mode', 'ssh']);
    ok(l, 'openpsm link');
    assert.equal(l.stdout.split('\n').filter(Boolean).length, 1, l.stdout);
    const url = new URL(l.stdout.trim());
    assert.equal(`${url.origin}${url.pathname}`, `${server.url}/start`);
    assert.equal(url.searchParams.get('Mode'), 'SSH');
    assert.equal(url.searchParams.get('ApiUrl'), server.url);
    const apiKey = url.searchParams.get('ApiKey')!;
    const loginSessionId = url.searchParams.get('LoginSessionID')!;
    assert.match(l.stderr, new RegExp(`^open it in a browser before \\S+ \\(LoginSessionID ${loginSessionId}\\)$`, 'm'));
    assert.equal(count(l.stdout + l.stderr, apiKey), 1, 'the ApiKey only inside the URL');

    const j = await cli('pat', ['openpsm', 'link', 'psm-box', '--mode', 'Telnet', '--json']);
    ok(j, 'openpsm link --json');
    const body = JSON.parse(j.stdout);
    assert.deepEqual(Object.keys(body).sort(), ['expiresAt', 'loginSessionId', 'url']);
    assert.equal(new URL(body.url).searchParams.get('Mode'), 'Telnet');

    // What a browser does with the link: /start, the master password, the terminal, exit.
    const start = await redirectOf(`${url.pathname}${url.search}`);
    assert.equal(start.status, 303);
    const startId = /^\/start\/([A-Za-z0-9_-]+)$/.exec(start.location)![1]!;
    const pw = await api(server.url, 'POST', `/api/v1/openpsm/starts/${startId}/password`, { body: { password: master } });
    assert.equal(pw.status, 200, pw.body);
    const ws = new WebSocket(`${server.url.replace('https', 'wss')}/api/v1/openpsm/starts/${startId}/terminal?cols=80&rows=24`, { rejectUnauthorized: false });
    let screen = '';
    const frames: { type: string }[] = [];
    ws.on('message', (d, binary) => {
      if (binary) screen += d.toString();
      else {
        const f = JSON.parse(d.toString()) as { type: string };
        frames.push(f);
        if (f.type === 'ready') ws.send(JSON.stringify({ type: 'input', data: 'echo $((6*7))-psm-cli; exit\n' }));
      }
    });
    await once(ws, 'close');
    assert.ok(frames.some((f) => f.type === 'ready'), JSON.stringify(frames));
    assert.match(screen, /42-psm-cli/);

    // The notice, as the auditor sees it (the endsession call goes to this very node).
    let n: RunResult;
    for (let i = 0; ; i++) {
      n = await cli('admin', ['openpsm', 'notices', '--json']);
      ok(n, 'openpsm notices --json');
      const item = JSON.parse(n.stdout).items.find((x: { loginSessionId: string }) => x.loginSessionId === loginSessionId);
      if (item?.outcome) {
        assert.equal(item.outcome, 'delivered');
        assert.equal(item.attempts, 1);
        assert.equal(item.apiUrl, server.url);
        break;
      }
      assert.ok(i < 100, `the endsession call is settled: ${n.stdout}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const t = await cli('admin', ['openpsm', 'notices']);
    ok(t, 'openpsm notices');
    assert.match(t.stdout, /^SESSION\s+LOGINSESSIONID\s+APIURL\s+ATTEMPTS\s+UNAUTHORIZED\s+OUTCOME/);
    assert.match(t.stdout, new RegExp(`${loginSessionId}.*delivered`));
    assert.ok(!(t.stdout + n.stdout).includes(apiKey), 'no ApiKey in the notices');
  });

  it('refuses an unknown secret, a bad mode, and notices without the audit permission', T, async () => {
    fails(await cli('pat', ['openpsm', 'link', 'no-such-secret']), /^gatehouse: .*not found/i);
    fails(await cli('pat', ['openpsm', 'link', 'psm-box', '--mode', 'vnc']), /^gatehouse: --mode must be one of RDP, SSH, Telnet$/);
    fails(await cli('pat', ['openpsm', 'notices']), /^gatehouse: .*(permission|forbidden|audit)/i);
  });

  it('no password in any output', () => {
    assert.ok(outputs.length > 5);
    const all = outputs.map((r) => r.stdout + r.stderr).join('\n');
    for (const [what, v] of Object.entries({ 'admin password': adminPw, 'pat password': patPw, 'master password': master, 'target password': TARGET_PASSWORD })) assert.ok(!all.includes(v), `${what} in the CLI output`);
  });

  /** A GET's status and Location (a redirect is not followed). */
  function redirectOf(path: string): Promise<{ status: number; location: string }> {
    return new Promise((res, rej) => {
      const req = request(new URL(path, server.url), { method: 'GET', agent: false, rejectUnauthorized: false }, (r) => {
        r.resume();
        r.on('end', () => res({ status: r.statusCode ?? 0, location: String(r.headers.location ?? '') }));
      });
      req.on('error', rej);
      req.end();
    });
  }
});
