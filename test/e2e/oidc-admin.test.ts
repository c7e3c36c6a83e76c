// The portal's Single sign-on page (administrators' OIDC providers) in Chromium: an
// administrator adds a provider through the page (issuer of a real OpenID Provider on
// loopback, client secret, group map), its "Sign in with …" button appears on the sign-in page
// and a person signs in through it; the secret is replaced and removed, the provider
// disabled (the button goes) and deleted. The client secret is in no answer the browser
// received, no page's HTML and not the log.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, newContext, signInPortal, stepRunner, until, type Ctx } from '../support/browser.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { ADMIN_PASSWORD } from '../support/harness.js';
import { startIdp, type Idp, type IdpAccount } from '../support/oidc-idp.js';

const SECRET = `oidc-admin-secret-${randomBytes(8).toString('hex')}`;
const SECRET2 = `oidc-admin-secret2-${randomBytes(8).toString('hex')}`;
const ACCOUNTS: Record<string, IdpAccount> = {
  alice: { sub: 'sub-alice', preferred_username: 'alice', name: 'Alice Ops', email: 'alice@example.com', groups: ['gh-ops'] },
};

describe('Single sign-on admin page (Chromium)', { timeout: 180_000 }, () => {
  let gw: Gateway;
  let idp: Idp;
  let browser: Browser;
  const contexts: Ctx[] = [];
  /** Every answer body the browsers received, and every page's HTML at each step. */
  const seen: Promise<string>[] = [];
  const step = stepRunner(contexts, 'oidc-admin');

  async function fresh(): Promise<Page> {
    const c = await newContext(browser, gw.running.url);
    contexts.push(c);
    c.context.on('response', (r) => void seen.push(r.text().catch(() => '')));
    return c.page;
  }
  const snapshot = (page: Page) => void seen.push(page.content());
  /** Waits until the page says the client secret is `state` ("set" or "not set"). */
  const secretState = (page: Page, state: string) => until(async () => (await page.locator('#oidc-secret-state').textContent()) === state, `client secret ${state}`, 15_000);

  before(async () => {
    gw = await startGateway('sqlite');
    idp = await startIdp({ clients: [{ client_id: 'gatehouse', client_secret: SECRET, redirect_uris: [`${gw.running.url}/auth/oidc/callback`] }], accounts: ACCOUNTS });
    const admin = (method: string, path: string, body: unknown) => gw.api(method, path, { token: gw.adminToken, body });
    assert.equal((await admin('PATCH', '/api/v1/settings', { publicUrl: gw.running.url, oidcJitProvisioning: true })).status, 200);
    assert.equal((await admin('POST', '/api/v1/groups', { name: 'ops', roles: ['User'] })).status, 201);
    browser = await launchBrowser();
  });
  after(async () => {
    for (const c of contexts) await c.context.close().catch(() => undefined);
    await browser?.close();
    await idp?.close();
    await gw?.close();
  });

  it('creates, uses, changes, disables and deletes a provider; the secret never comes back', () =>
    step(async () => {
      const page = await fresh();
      await signInPortal(page, 'admin', ADMIN_PASSWORD);
      await page.getByRole('link', { name: 'Single sign-on' }).click();
      await page.getByRole('heading', { name: 'Single sign-on (OIDC)' }).waitFor();
      await page.getByText('No single sign-on providers yet').waitFor();
      await page.getByRole('link', { name: 'New provider' }).click();
      await page.getByRole('heading', { name: 'New single sign-on provider' }).waitFor();
      await page.getByLabel('Name', { exact: true }).fill('corp');
      await page.getByLabel('Display name', { exact: true }).fill('Corp IdP');
      await page.getByLabel('Issuer', { exact: true }).fill(idp.url);
      await page.getByLabel('Client ID', { exact: true }).fill('gatehouse');
      await page.getByLabel('Client secret', { exact: true }).fill(SECRET);
      await page.getByLabel('Scopes', { exact: true }).fill('openid profile email groups');
      await page.getByRole('button', { name: 'Add a mapping' }).click();
      await page.getByLabel('Claim value 1', { exact: true }).fill('gh-ops');
      await page.getByLabel('Gatehouse group 1', { exact: true }).selectOption({ label: 'ops' });
      await page.getByRole('button', { name: 'Create provider' }).click();

      // The provider's own page: the secret is "set", the field for it empty, the redirect URI shown.
      await page.getByRole('heading', { name: 'Corp IdP', level: 1 }).waitFor();
      await secretState(page, 'set');
      await until(async () => (await page.getByLabel('New client secret', { exact: true }).inputValue()) === '', 'the secret field emptied');
      assert.equal((await page.locator('#oidc-redirect-uri').textContent())?.trim(), `${gw.running.url}/auth/oidc/callback`);
      snapshot(page);
      const list = await gw.api('GET', '/api/v1/oidc-providers', { token: gw.adminToken });
      assert.equal(list.body.total, 1);
      const saved = list.body.items[0];
      assert.equal(saved.issuer, idp.url);
      assert.equal(saved.hasClientSecret, true);
      assert.deepEqual(saved.scopes, ['openid', 'profile', 'email', 'groups']);
      assert.deepEqual(saved.groupMap.map((m: { claim: string; group: { name: string } }) => [m.claim, m.group.name]), [['gh-ops', 'ops']]);

      // The sign-in page offers it, and a person signs in through it (the secret reached the provider).
      const visitor = await fresh();
      await visitor.goto('/');
      await visitor.getByRole('link', { name: 'Sign in with Corp IdP' }).click();
      await visitor.locator('input[name="login"]').fill('alice');
      await visitor.locator('input[name="password"]').fill('any-password');
      await visitor.locator('button[type="submit"]').click();
      await visitor.getByRole('heading', { name: 'My access', level: 1 }).waitFor();
      snapshot(visitor);

      // The list shows it with the secret's state only.
      await page.getByRole('link', { name: 'Single sign-on', exact: true }).first().click();
      await page.getByRole('heading', { name: 'Single sign-on (OIDC)' }).waitFor();
      await page.getByRole('link', { name: 'Corp IdP' }).waitFor();
      snapshot(page);

      // Replace the secret: still "set", the field emptied.
      await page.getByRole('link', { name: 'Corp IdP' }).click();
      await page.getByLabel('New client secret', { exact: true }).fill(SECRET2);
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.getByText('Changes saved').waitFor();
      await until(async () => (await page.getByLabel('New client secret', { exact: true }).inputValue()) === '', 'the secret field emptied');
      snapshot(page);
      const events = (await gw.api('GET', '/api/v1/audit?action=oidc.provider_update&limit=10', { token: gw.adminToken })).body.items as { details: Record<string, unknown> }[];
      assert.ok(events.some((e) => e.details.clientSecret === 'set'), 'the replacement is audited');

      // Remove it: "not set", and no remove button any more.
      await page.getByRole('button', { name: 'Remove client secret' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Remove' }).click();
      await secretState(page, 'not set');
      assert.equal(await page.getByRole('button', { name: 'Remove client secret' }).count(), 0);
      assert.equal((await gw.api('GET', `/api/v1/oidc-providers/${saved.id}`, { token: gw.adminToken })).body.hasClientSecret, false);

      // Disable it: the sign-in page no longer offers it.
      // From the keyboard: the switch's input is drawn over by its track (and the sticky top bar).
      await page.getByRole('switch').focus();
      await page.keyboard.press('Space');
      await page.getByText('Disabled: not offered, sign-ins through it refused', { exact: true }).waitFor();
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.getByText('Disabled', { exact: true }).first().waitFor();
      assert.deepEqual((await gw.api('GET', '/api/v1/auth/providers')).body.oidc, []);
      const later = await fresh();
      await later.goto('/');
      await later.getByRole('heading', { name: 'Sign in' }).waitFor();
      assert.equal(await later.getByRole('link', { name: 'Sign in with Corp IdP' }).count(), 0);

      // Delete it.
      await page.getByRole('button', { name: 'Delete provider' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
      await page.getByText('No single sign-on providers yet').waitFor();
      assert.equal((await gw.api('GET', '/api/v1/oidc-providers', { token: gw.adminToken })).body.total, 0);
      snapshot(page);

      const texts = await Promise.all(seen);
      assert.ok(texts.length > 10, 'answers were captured');
      for (const s of [SECRET, SECRET2]) {
        assert.ok(!texts.some((t) => t.includes(s)), 'no answer or page carries the client secret');
        assert.ok(!gw.logs().includes(s), 'not in the log');
      }
    }));
});
