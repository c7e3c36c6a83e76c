// OIDC single sign-on end to end (issue 15 points 1 and 5): a real OpenID Provider
// (oidc-provider, test/support/oidc-idp.ts) on loopback, a whole Gatehouse, and Chromium
// signing in through "Sign in with <provider>". Also what must be refused: a wrong issuer,
// a tampered state and nonce, an ID token already expired, a person whose groups map to no
// Gatehouse group, a domain not allowed; and the client secret never in an answer, the log
// or the database in plaintext. The CLI's loopback login is driven the same way.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, newContext, type Ctx } from '../support/browser.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { startIdp, type Idp, type IdpAccount } from '../support/oidc-idp.js';

const CLIENT_SECRET = `oidc-client-secret-${randomBytes(8).toString('hex')}`;
const ACCOUNTS: Record<string, IdpAccount> = {
  alice: { sub: 'sub-alice', preferred_username: 'alice', name: 'Alice Admin', email: 'alice@example.com', groups: ['gh-ops', 'staff'] },
  bob: { sub: 'sub-bob', preferred_username: 'bob', name: 'Bob', email: 'bob@example.com', groups: ['marketing'] },
  eve: { sub: 'sub-eve', preferred_username: 'eve', name: 'Eve', email: 'eve@evil.test', groups: ['gh-ops'] },
  // Another person at the provider whose username claim is alice's (chosen, or re-used).
  mallory: { sub: 'sub-mallory', preferred_username: 'alice', name: 'Mallory', email: 'mallory@example.com', groups: ['gh-ops'] },
};

/** Every file under a directory, for the plaintext check. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe('OIDC sign-in with a real provider and Chromium', { timeout: 180_000 }, () => {
  let gw: Gateway;
  let idp: Idp;
  let lateIdp: Idp;
  let wrongIdp: Idp;
  let browser: Browser;
  const contexts: Ctx[] = [];
  const admin = (method: string, path: string, body?: unknown) => gw.api(method, path, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });

  async function fresh(): Promise<Page> {
    const c = await newContext(browser, gw.running.url);
    contexts.push(c);
    return c.page;
  }

  /** From the sign-in page through the provider's login form; answers the page where it lands. */
  async function signInWith(page: Page, provider: string, login: string): Promise<void> {
    await page.goto('/');
    await page.getByRole('link', { name: `Sign in with ${provider}` }).click();
    await page.locator('input[name="login"]').waitFor();
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('any-password');
    await page.locator('button[type="submit"]').click();
  }

  const refusal = async (page: Page) => (await page.locator('#reason').textContent({ timeout: 15_000 }))?.trim();

  before(async () => {
    gw = await startGateway('sqlite');
    const redirect = `${gw.running.url}/auth/oidc/callback`;
    const clients = [{ client_id: 'gatehouse', client_secret: CLIENT_SECRET, redirect_uris: [redirect] }];
    [idp, lateIdp] = await Promise.all([startIdp({ clients, accounts: ACCOUNTS }), startIdp({ clients, accounts: ACCOUNTS, clockOffsetSeconds: -7200 })]);
    wrongIdp = await startIdp({ clients, accounts: ACCOUNTS, issuer: 'https://idp.example.com' });
    browser = await launchBrowser();
    assert.equal((await admin('PATCH', '/api/v1/settings', { publicUrl: gw.running.url, oidcJitProvisioning: true, oidcClockToleranceSeconds: 5 })).status, 200);
    assert.equal((await admin('POST', '/api/v1/groups', { name: 'ops', roles: ['User'] })).status, 201);
    const base = { clientId: 'gatehouse', clientSecret: CLIENT_SECRET, scopes: ['openid', 'profile', 'email', 'groups'], groupMap: [{ claim: 'gh-ops', group: 'ops' }], allowedDomains: ['example.com'] };
    for (const [name, displayName, issuer] of [
      ['corp', 'Corp IdP', idp.url],
      ['late', 'Late IdP', lateIdp.url],
      ['wrong', 'Wrong IdP', wrongIdp.url],
    ] as const) {
      const r = await admin('POST', '/api/v1/oidc-providers', { ...base, name, displayName, issuer });
      assert.equal(r.status, 201, r.raw);
      assert.equal(r.body.hasClientSecret, true);
      assert.equal(r.body.redirectUri, redirect);
      assert.ok(!r.raw.includes(CLIENT_SECRET), 'the client secret is not answered');
    }
  });

  after(async () => {
    if (process.env.OIDC_DEBUG) console.log(gw.logs().split('\n').filter((l) => /OIDC/.test(l)).join('\n'));
    for (const c of contexts) await c.context.close().catch(() => undefined);
    await browser?.close();
    await Promise.all([idp?.close(), lateIdp?.close(), wrongIdp?.close()]);
    await gw?.close();
  });

  it('lists the providers publicly for the sign-in page', async () => {
    const r = await gw.api('GET', '/api/v1/auth/providers');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.oidc.map((p: { name: string }) => p.name).sort(), ['corp', 'late', 'wrong']);
    assert.equal(r.body.local, true);
  });

  it('signs a new person in (JIT) with groups from the claims, and signs out', async () => {
    const page = await fresh();
    await signInWith(page, 'Corp IdP', 'alice');
    await page.getByRole('heading', { name: 'My access' }).waitFor();
    const users = (await admin('GET', '/api/v1/users?search=alice')).body.items;
    assert.equal(users.length, 1);
    assert.equal(users[0].displayName, 'Alice Admin');
    assert.deepEqual(users[0].groups.map((g: { name: string }) => g.name), ['ops']);
    const me = (await page.evaluate(async () => (await fetch('/api/v1/me')).json())) as { username: string };
    assert.equal(me.username, 'alice');
    // Sign out: the session is revoked.
    const out = await page.evaluate(async () => (await fetch('/api/v1/auth/session', { method: 'DELETE', headers: { 'x-csrf-token': (globalThis as unknown as { document: { cookie: string } }).document.cookie.match(/__Host-gh_csrf=([^;]+)/)?.[1] ?? '' } })).status);
    assert.equal(out, 204);
    assert.equal(await page.evaluate(async () => (await fetch('/api/v1/me')).status), 401);
    const events = (await admin('GET', '/api/v1/audit?action=auth.login&limit=50')).body.items as { outcome: string; details: Record<string, unknown> }[];
    assert.ok(events.some((e) => e.outcome === 'success' && e.details.method === 'oidc' && e.details.provider === 'corp'));
  });

  it("the flow cookie is __Secure- (HTTPS only, Secure, HttpOnly, SameSite=Lax) and goes to /auth/oidc only", async () => {
    const page = await fresh();
    await page.goto('/auth/oidc/corp/start');
    const flow = (await page.context().cookies(gw.running.url)).filter((c) => c.name.includes('oidc_flow'));
    assert.equal(flow.length, 0, 'not sent to the portal\'s paths');
    const all = await page.context().cookies(`${gw.running.url}/auth/oidc/callback`);
    const c = all.find((x) => x.name.includes('oidc_flow'));
    assert.ok(c, JSON.stringify(all));
    assert.deepEqual([c.name, c.path, c.secure, c.httpOnly, c.sameSite], ['__Secure-gh_oidc_flow', '/auth/oidc', true, true, 'Lax']);
  });

  it('refuses another person with the name of an account already linked at the provider', async () => {
    const page = await fresh();
    await signInWith(page, 'Corp IdP', 'mallory');
    assert.equal(await refusal(page), 'linked_to_another');
    await page.goto('/');
    assert.equal(await page.evaluate(async () => (await fetch('/api/v1/me')).status), 401);
    const events = (await admin('GET', '/api/v1/audit?action=auth.login&limit=50')).body.items as { outcome: string; details: Record<string, unknown> }[];
    assert.ok(events.some((e) => e.outcome === 'failure' && e.details.reason === 'linked_to_another'));
    // alice herself still signs in.
    const hers = await fresh();
    await signInWith(hers, 'Corp IdP', 'alice');
    await hers.getByRole('heading', { name: 'My access' }).waitFor();

    // An administrator sees the link and removes it (the provider re-issued alice's sub, say):
    // the next sign-in of that name matches by name again. Audited; bad ids are 404s.
    const alice = (await admin('GET', '/api/v1/users?search=alice')).body.items[0];
    const links = await admin('GET', `/api/v1/users/${alice.id}/oidc-links`);
    assert.equal(links.status, 200, links.raw);
    assert.deepEqual(links.body.items.map((l: { provider: string }) => l.provider), ['corp']);
    const corp = links.body.items[0];
    assert.equal((await admin('DELETE', `/api/v1/users/${alice.id}/oidc-links/${corp.providerId}`)).status, 204);
    assert.equal((await admin('DELETE', `/api/v1/users/${alice.id}/oidc-links/${corp.providerId}`)).status, 404, 'removed already');
    assert.equal((await admin('GET', '/api/v1/users/no-such-user/oidc-links')).status, 404);
    assert.deepEqual((await admin('GET', `/api/v1/users/${alice.id}/oidc-links`)).body.items, []);
    const unlinked = (await admin('GET', '/api/v1/audit?action=user.oidc_unlinked&limit=5')).body.items[0];
    assert.deepEqual([unlinked.targetId, unlinked.details.provider, unlinked.details.subjects], [alice.id, 'corp', [corp.subject]]);
    const again = await fresh();
    await signInWith(again, 'Corp IdP', 'mallory');
    await again.getByRole('heading', { name: 'My access' }).waitFor();
    // Put alice's link back for the tests after this one.
    const mallorys = (await admin('GET', `/api/v1/users/${alice.id}/oidc-links`)).body.items[0];
    assert.notEqual(mallorys.subject, corp.subject);
    assert.equal((await admin('DELETE', `/api/v1/users/${alice.id}/oidc-links/${corp.providerId}`)).status, 204);
    const back = await fresh();
    await signInWith(back, 'Corp IdP', 'alice');
    await back.getByRole('heading', { name: 'My access' }).waitFor();
    assert.equal((await admin('GET', `/api/v1/users/${alice.id}/oidc-links`)).body.items[0].subject, corp.subject);
  });

  it('refuses a person whose groups map to no Gatehouse group', async () => {
    const page = await fresh();
    await signInWith(page, 'Corp IdP', 'bob');
    assert.equal(await refusal(page), 'no_mapped_group');
    assert.equal((await admin('GET', '/api/v1/users?search=bob')).body.total, 0);
  });

  it('refuses a domain that is not allowed', async () => {
    const page = await fresh();
    await signInWith(page, 'Corp IdP', 'eve');
    assert.equal(await refusal(page), 'domain_not_allowed');
  });

  it('refuses an ID token that is already expired (a provider whose clock is behind)', async () => {
    const page = await fresh();
    await signInWith(page, 'Late IdP', 'alice');
    assert.equal(await refusal(page), 'id_token_expired');
  });

  it('refuses a provider whose discovery names another issuer', async () => {
    const page = await fresh();
    await page.goto('/');
    await page.getByRole('link', { name: 'Sign in with Wrong IdP' }).click();
    assert.equal(await refusal(page), 'wrong_issuer');
  });

  /**
   * Rewrites one query parameter of requests whose URL matches `pattern`, redirects included
   * (playwright's page.route does not see the requests a redirect makes; the DevTools Fetch
   * domain does).
   */
  async function rewriteParam(page: Page, pattern: string, param: string, value: string): Promise<void> {
    const cdp = await page.context().newCDPSession(page);
    cdp.on('Fetch.requestPaused', (e: { requestId: string; request: { url: string } }) => {
      const u = new URL(e.request.url);
      u.searchParams.set(param, value);
      void cdp.send('Fetch.continueRequest', { requestId: e.requestId, url: u.href }).catch(() => undefined);
    });
    await cdp.send('Fetch.enable', { patterns: [{ urlPattern: pattern, requestStage: 'Request' }] });
  }

  it('refuses a tampered state', async () => {
    const page = await fresh();
    await rewriteParam(page, '*/auth/oidc/callback?*', 'state', 'forged-state');
    await signInWith(page, 'Corp IdP', 'alice');
    assert.equal(await refusal(page), 'bad_state');
  });

  it('refuses an ID token for another nonce', async () => {
    const page = await fresh();
    await rewriteParam(page, `${idp.url}/auth?*`, 'nonce', 'another-nonce');
    await signInWith(page, 'Corp IdP', 'alice');
    assert.equal(await refusal(page), 'bad_nonce');
  });

  it('refuses a callback without the flow cookie (another browser, or used twice)', async () => {
    const r = await gw.running.app.inject({ method: 'GET', url: '/auth/oidc/callback?code=x&state=y' });
    assert.equal(r.statusCode, 400);
    assert.match(r.body, /no_flow/);
  });

  it('logs the CLI in through the browser (loopback redirect) with a one-time code bound to its challenge', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    // The CLI's loopback listener, as `gatehouse login --sso` runs it: it takes the code.
    let onCode: (code: string) => void = () => undefined;
    const nextCode = () => new Promise<string>((resolve) => (onCode = resolve));
    // Only /callback counts: the browser also asks this origin for /favicon.ico, which may
    // arrive after the next sign-in has started waiting.
    const listener = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.pathname !== '/callback') {
        res.statusCode = 404;
        res.end();
        return;
      }
      res.end('You can close this window.');
      onCode(url.searchParams.get('code') ?? '');
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    try {
      const cliRedirect = `http://127.0.0.1:${(listener.address() as AddressInfo).port}/callback`;
      const start = `/auth/oidc/corp/start?cli_redirect=${encodeURIComponent(cliRedirect)}&cli_challenge=${challenge}`;
      const page = await fresh();
      let got = nextCode();
      await page.goto(start);
      await page.locator('input[name="login"]').fill('alice');
      await page.locator('input[name="password"]').fill('any-password');
      await page.locator('button[type="submit"]').click();
      let code = await got;
      assert.ok(code);
      const wrong = await gw.api('POST', '/api/v1/auth/oidc/cli-token', { body: { code, verifier: randomBytes(32).toString('base64url') } });
      assert.equal(wrong.status, 400, 'a wrong verifier is refused (and uses the code up)');
      assert.equal((await gw.api('POST', '/api/v1/auth/oidc/cli-token', { body: { code, verifier } })).status, 400, 'the code is single use');
      // A new sign-in (the provider remembers the person) gives a new code.
      got = nextCode();
      await page.goto(start);
      code = await got;
      const r = await gw.api('POST', '/api/v1/auth/oidc/cli-token', { body: { code, verifier } });
      assert.equal(r.status, 200, r.raw);
      assert.equal(r.body.username, 'alice');
      const me = await gw.api('GET', '/api/v1/me', { token: r.body.token });
      assert.equal(me.status, 200);
      assert.equal(me.body.username, 'alice');
    } finally {
      listener.closeAllConnections();
      listener.close();
    }
  });

  it('keeps the local admin sign-in and never shows the client secret', async () => {
    assert.ok(await gw.userToken('admin', (await import('../support/harness.js')).ADMIN_PASSWORD));
    const list = await admin('GET', '/api/v1/oidc-providers');
    assert.equal(list.status, 200);
    assert.ok(!list.raw.includes(CLIENT_SECRET));
    assert.ok(!gw.logs().includes(CLIENT_SECRET), 'not in the log');
    for (const f of filesUnder(gw.dataDir)) assert.ok(!readFileSync(f).includes(CLIENT_SECRET), `not in plaintext in ${f}`);
    const audit = await admin('GET', '/api/v1/audit?limit=200');
    assert.ok(!audit.raw.includes(CLIENT_SECRET), 'not in the audit trail');
  });
});
