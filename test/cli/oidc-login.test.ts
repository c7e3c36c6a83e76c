// End to end: `gatehouse login --sso <provider>` (the real CLI, a child process) against a
// real `gatehouse serve`, a real OpenID Provider (oidc-provider, test/support/oidc-idp.ts) and
// Chromium. The test reads the sign-in URL from the CLI's output and opens it in Chromium,
// which signs in at the provider and lands on the CLI's loopback listener; the CLI trades the
// code for a token, saves it like the password login (pinned certificate, 0600 file) and a
// later command works with it. Also: the opener (xdg-open) is handed the same URL when there
// is one, the CLI never fails when there is none, a wrong provider name is a clear one-line
// error, and a sign-in that never comes back ends with a clear timeout.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchBrowser, newContext, type Ctx } from '../support/browser.js';
import { startIdp, type Idp, type IdpAccount } from '../support/oidc-idp.js';
import { api, apiLogin, BIN, cleanEnv, fails, killAll, lines, ok, removeTempDirs, ROOT, runCli, Server, serverEnv, tempDir, type RunResult } from './support.js';

const T = { timeout: 120_000 };
const ACCOUNTS: Record<string, IdpAccount> = {
  alice: { sub: 'sub-alice', preferred_username: 'alice', name: 'Alice Ops', email: 'alice@example.com', groups: ['gh-ops'] },
};

after(() => {
  killAll();
  removeTempDirs();
});

/** The CLI running in the background: its output so far, a wait for a line, and its end. */
function startCli(args: string[], env: NodeJS.ProcessEnv) {
  const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const r: RunResult = { code: null, signal: null, stdout: '', stderr: '' };
  const waiters = new Set<() => void>();
  const poke = () => waiters.forEach((w) => w());
  p.stdout.on('data', (c: Buffer) => ((r.stdout += c.toString()), poke()));
  p.stderr.on('data', (c: Buffer) => ((r.stderr += c.toString()), poke()));
  const done = new Promise<RunResult>((resolve) => p.once('close', (code, signal) => ((r.code = code), (r.signal = signal), poke(), resolve(r))));
  return {
    result: r,
    /** The first match of `re` on stderr (where the CLI prints what to open). */
    waitStderr(re: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => fin(new Error(`no ${re} on the CLI's stderr within ${timeoutMs} ms\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)), timeoutMs);
        const check = () => {
          const m = re.exec(r.stderr);
          if (m) fin(null, m);
          else if (r.code !== null || r.signal) fin(new Error(`the CLI ended (${r.code}) before printing ${re}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`));
        };
        const fin = (e: Error | null, m?: RegExpExecArray) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (e) reject(e);
          else resolve(m!);
        };
        waiters.add(check);
        check();
      });
    },
    done(timeoutMs = 60_000): Promise<RunResult> {
      let timer: NodeJS.Timeout | undefined;
      return Promise.race([
        done.finally(() => clearTimeout(timer)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            p.kill('SIGKILL');
            reject(new Error(`the CLI did not end within ${timeoutMs} ms\nstdout: ${r.stdout}\nstderr: ${r.stderr}`));
          }, timeoutMs);
        }),
      ]);
    },
    kill: () => p.kill('SIGKILL'),
  };
}

const START_URL = /^ {2}(https:\/\/\S+\/auth\/oidc\/corp\/start\?\S+)$/m;

describe('gatehouse login --sso (CLI, browser, real OpenID Provider)', () => {
  const adminPw = `Cli-Admin-${randomBytes(6).toString('hex')}`;
  const clientSecret = `oidc-cli-secret-${randomBytes(8).toString('hex')}`;
  let server: Server;
  let idp: Idp;
  let browser: Browser;
  let dir: string;
  let adminToken: string;
  const contexts: Ctx[] = [];
  const outputs: RunResult[] = [];

  before(async () => {
    dir = tempDir();
    server = await Server.start(await serverEnv(join(dir, 'data'), { GATEHOUSE_ADMIN_PASSWORD: adminPw }));
    adminToken = await apiLogin(server.url, 'admin', adminPw);
    const call = async (method: string, path: string, body?: unknown) => {
      const r = await api(server.url, method, path, { token: adminToken, body });
      assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.body}`);
      return r.json();
    };
    idp = await startIdp({ clients: [{ client_id: 'gatehouse', client_secret: clientSecret, redirect_uris: [`${server.url}/auth/oidc/callback`] }], accounts: ACCOUNTS });
    await call('PATCH', '/api/v1/settings', { publicUrl: server.url, oidcJitProvisioning: true });
    await call('POST', '/api/v1/groups', { name: 'ops', roles: ['User'] });
    await call('POST', '/api/v1/oidc-providers', {
      name: 'corp', displayName: 'Corp IdP', issuer: idp.url, clientId: 'gatehouse', clientSecret,
      scopes: ['openid', 'profile', 'email', 'groups'], groupMap: [{ claim: 'gh-ops', group: 'ops' }],
    });
    browser = await launchBrowser();
  });
  after(async () => {
    for (const c of contexts) await c.context.close().catch(() => undefined);
    await browser?.close();
    await idp?.close();
    await server?.stop();
  });

  it('signs in through the browser and saves the token as the password login does', T, async () => {
    // A stand-in for the desktop's opener: it notes the URL it was asked to open.
    const bin = join(dir, 'opener-bin');
    mkdirSync(bin);
    const opened = join(dir, 'opened-url');
    writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s' "$1" > '${opened}'\n`);
    chmodSync(join(bin, 'xdg-open'), 0o755);
    const stateFile = join(dir, 'alice.json');
    const env = cleanEnv({ GATEHOUSE_CLI_STATE: stateFile, PATH: bin, DISPLAY: ':99' });
    const cli = startCli(['login', '--url', server.url, '--sso', 'corp'], env);
    try {
      const url = (await cli.waitStderr(START_URL))[1]!;
      assert.match(cli.result.stderr, /Sign in with Corp IdP in your browser \(opening it now\)/);
      const start = new URL(url);
      assert.equal(start.origin, server.url);
      assert.match(start.searchParams.get('cli_redirect') ?? '', /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
      assert.match(start.searchParams.get('cli_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
      const c = await newContext(browser);
      contexts.push(c);
      await c.page.goto(url);
      await c.page.locator('input[name="login"]').fill('alice');
      await c.page.locator('input[name="password"]').fill('any-password');
      await c.page.locator('button[type="submit"]').click();
      // The browser ends on the CLI's listener, which answers once the CLI holds its token.
      await c.page.getByRole('heading', { name: 'Gatehouse CLI signed in' }).waitFor();
      assert.match((await c.page.locator('#message').textContent()) ?? '', /signed in as alice/);
      const r = await cli.done();
      outputs.push(r);
      ok(r, 'login --sso');
      assert.match(r.stdout, /^logged in as alice through corp until \S+ \(token saved in .*alice\.json\)$/m);
      assert.equal(readFileSync(opened, 'utf8'), url, 'the opener was handed the URL the CLI printed');
    } finally {
      cli.kill();
    }
    // Saved as `gatehouse login` saves it: 0600, the certificate pinned, a working token.
    assert.equal(statSync(stateFile).mode & 0o777, 0o600);
    const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as { url: string; token: string; username: string; fingerprint256: string };
    assert.equal(saved.url, server.url);
    assert.equal(saved.username, 'alice');
    assert.equal(saved.fingerprint256, server.fingerprint);
    const me = await api(server.url, 'GET', '/api/v1/me', { token: saved.token });
    assert.equal(me.status, 200);
    assert.equal(me.json().username, 'alice');
    assert.deepEqual(me.json().groups.map((g: { name: string }) => g.name), ['ops']);
    // A later command uses it, and logout revokes it.
    const envAlice = cleanEnv({ GATEHOUSE_CLI_STATE: stateFile });
    const list = await runCli(['sessions', 'list', '--json'], { env: envAlice });
    outputs.push(list);
    ok(list, 'sessions list with the saved token');
    ok(await runCli(['logout'], { env: envAlice }), 'logout');
    assert.equal((await api(server.url, 'GET', '/api/v1/me', { token: saved.token })).status, 401);
  });

  it("an administrator lists alice's OIDC links and removes one (gatehouse users oidc-links / oidc-unlink); a wrong name is a clear error", T, async () => {
    // The admin's saved sign-in, as `gatehouse login` writes it.
    const stateFile = join(dir, 'admin.json');
    writeFileSync(stateFile, JSON.stringify({ url: server.url, token: adminToken, username: 'admin', fingerprint256: server.fingerprint }), { mode: 0o600 });
    const env = cleanEnv({ GATEHOUSE_CLI_STATE: stateFile });
    const links = await runCli(['users', 'oidc-links', 'alice', '--json'], { env });
    outputs.push(links);
    ok(links, 'users oidc-links');
    const listed = JSON.parse(links.stdout) as { items: { provider: string; subject: string }[] };
    assert.deepEqual(listed.items.map((l) => l.provider), ['corp']);
    assert.ok(listed.items[0]!.subject, 'who she is at the provider (its sub)');
    const plain = await runCli(['users', 'oidc-links', 'alice'], { env });
    assert.match(plain.stdout, /^PROVIDER\s+SUBJECT\s+LINKEDAT\ncorp\s+\S+\s+\d{4}-/);
    const wrong = await runCli(['users', 'oidc-unlink', 'alice', 'nope'], { env });
    outputs.push(wrong);
    fails(wrong, /^gatehouse: user "alice" has no link to an OIDC provider "nope"$/);
    const un = await runCli(['users', 'oidc-unlink', 'alice', 'corp'], { env });
    outputs.push(un);
    ok(un, 'users oidc-unlink');
    assert.equal(un.stdout.trim(), 'unlinked alice from corp');
    const none = await runCli(['users', 'oidc-links', 'alice', '--json'], { env });
    assert.deepEqual(JSON.parse(none.stdout).items, []);
  });

  it('a wrong provider name is a clear error naming the ones there are', T, async () => {
    const stateFile = join(dir, 'wrong.json');
    const r = await runCli(['login', '--url', server.url, '--sso', 'nope', '--no-browser'], { env: cleanEnv({ GATEHOUSE_CLI_STATE: stateFile }) });
    outputs.push(r);
    fails(r, /^gatehouse: no sign-in provider named "nope" on https:\/\/\S+; this server offers: corp$/);
    assert.ok(!existsSync(stateFile), 'nothing saved');
  });

  it('times out with a clear message when the browser never comes back, and needs no opener', T, async () => {
    const stateFile = join(dir, 'late.json');
    // No opener on PATH (and no --no-browser): the CLI prints the URL and waits all the same.
    const r = await runCli(['login', '--url', server.url, '--sso', 'corp', '--timeout', '1'], { env: cleanEnv({ GATEHOUSE_CLI_STATE: stateFile, PATH: join(dir, 'empty-bin'), DISPLAY: ':99' }) });
    outputs.push(r);
    assert.equal(r.code, 1, `exit 1; stdout: ${r.stdout} stderr: ${r.stderr}`);
    assert.match(r.stderr, START_URL);
    assert.doesNotMatch(r.stderr, /opening it now/);
    const last = lines(r.stderr).at(-1) ?? '';
    assert.match(last, /^gatehouse: no sign-in came back within 1 s \(the browser did not reach http:\/\/127\.0\.0\.1:\d+\/callback\)/);
    assert.doesNotMatch(r.stderr, /^\s+at .*:\d+:\d+\)?$/m, 'no stack trace');
    assert.ok(!existsSync(stateFile), 'nothing saved');
  });

  it('the client secret is in no output', () => {
    for (const o of outputs) assert.ok(!(o.stdout + o.stderr).includes(clientSecret));
  });
});
