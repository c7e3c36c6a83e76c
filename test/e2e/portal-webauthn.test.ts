// Passkeys and security keys in a real browser: headless Chromium with its virtual
// authenticators (the DevTools protocol's WebAuthn domain, through playwright-core's CDP
// session). A person registers two keys on the Account page (a passkey on the device, then a
// USB security key), signs in with the key as the second factor after the password, verifies
// the step-up a secret's access policy asks for with the key, and signs in with the passkey
// alone once the webauthnPasswordless setting allows it (the button is absent while it is off).
// The page is opened as https://localhost:<port>: browsers refuse an IP address as a WebAuthn
// relying party id, so publicUrl names localhost. Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Browser, CDPSession, Locator, Page } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { launchBrowser, newContext, screenshot, stepRunner, type Ctx } from '../support/browser.js';
import { seedPortal } from '../support/portal-seed.js';
import { startGateway, type Gateway } from '../support/gateway.js';

const USERS = { kim: { password: 'kim-Passkey-pass-1', roles: ['User'] } };

describe('passkeys and security keys in a browser', { timeout: 120_000 }, () => {
  let gw: Gateway;
  let browser: Browser;
  let base: string;
  let c: Ctx;
  let cdp: CDPSession;
  const contexts: Ctx[] = [];
  const step = stepRunner(contexts, 'portal-webauthn');
  const row = (page: Page): Locator => page.getByRole('row').filter({ hasText: 'wa-target' });
  const admin = async (method: string, url: string, body?: unknown) => {
    const r = await gw.api(method, url, { token: gw.adminToken, body });
    assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${r.raw}`);
    return r.body;
  };
  const auditOf = async (action: string) => (await admin('GET', `/api/v1/audit?action=${action}&limit=200`)).items as { outcome: string; actorName: string; details: Record<string, unknown> }[];
  /** A virtual authenticator: `internal` (a passkey on this device, user verification) or `usb` (a security key). */
  const authenticator = async (transport: 'internal' | 'usb') =>
    (await cdp.send('WebAuthn.addVirtualAuthenticator', { options: { protocol: 'ctap2', transport, hasResidentKey: transport === 'internal', hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true } })).authenticatorId;
  const signOut = async (page: Page) => {
    await page.getByRole('button', { name: /kim/ }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    // Back at the start page: the next sign-in lands on My access, not where this one was.
    await page.goto('/');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  };
  const passwordStep = async (page: Page) => {
    await page.getByLabel('Username', { exact: true }).fill('kim');
    await page.getByLabel('Password', { exact: true }).fill(USERS.kim.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  };

  before(async () => {
    assert.ok(existsSync(`${UI_DIR}/index.html`), 'the UI is built (npm run build)');
    [gw, browser] = await Promise.all([startGateway('sqlite'), launchBrowser()]);
    base = gw.running.url.replace('://127.0.0.1:', '://localhost:');
    await admin('PATCH', '/api/v1/settings', { publicUrl: base });
    const { secretId } = await seedPortal(gw, { secretName: 'wa-target', sshdPort: 22, users: USERS, shareWith: ['kim'] });
    const policy = await admin('POST', '/api/v1/access-policies', { name: 'wa-mfa', approvers: [{ principalType: 'user', principal: 'admin' }], approvalsRequired: 1, preApproved: [{ principalType: 'user', principal: 'kim' }], mfa: 'always' });
    await admin('PATCH', `/api/v1/secrets/${secretId}`, { policyId: policy.id });
    c = await newContext(browser, base);
    contexts.push(c);
    cdp = await c.context.newCDPSession(c.page);
    await cdp.send('WebAuthn.enable');
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
  });

  it('registers two keys on the Account page: a passkey, then a USB security key', () =>
    step(async () => {
      const { page } = c;
      const passkey = await authenticator('internal');
      await page.goto('/');
      await passwordStep(page);
      await page.getByRole('heading', { name: 'My access', level: 1 }).waitFor();
      await page.goto('/account');
      const card = page.locator('.card').filter({ has: page.getByRole('heading', { name: 'Security keys and passkeys' }) });
      await card.getByText('No security keys').waitFor();
      await card.getByRole('button', { name: 'Add security key' }).click();
      await card.getByLabel('Key name').fill('Laptop passkey');
      await card.getByRole('button', { name: 'Register key' }).click();
      await card.getByText('Your security key is registered').waitFor();
      assert.equal(await card.locator('.recovery-codes li').count(), 10);
      await screenshot(page, '60-security-key-recovery-codes');
      await card.getByRole('button', { name: 'I saved them' }).click();
      await card.getByRole('cell', { name: /Laptop passkey/ }).first().waitFor();

      // The second key is another authenticator: the passkey's one steps aside (its key kept)
      // while the USB key registers, since a key already registered is excluded from a new one.
      const kept = (await cdp.send('WebAuthn.getCredentials', { authenticatorId: passkey })).credentials;
      assert.equal(kept.length, 1);
      assert.equal(kept[0]!.isResidentCredential, true, 'the passkey is discoverable');
      await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: passkey });
      const usb = await authenticator('usb');
      await card.getByRole('button', { name: 'Add security key' }).click();
      await card.getByLabel('Key name').fill('USB key');
      await card.getByRole('button', { name: 'Register key' }).click();
      await card.getByRole('cell', { name: /USB key/ }).first().waitFor();
      assert.equal(await card.getByText('Your security key is registered').count(), 0, 'recovery codes come with the first key only');
      await screenshot(page, '61-security-keys');
      await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: usb });
      const back = await authenticator('internal');
      await cdp.send('WebAuthn.addCredential', { authenticatorId: back, credential: kept[0]! });
      const kim = (await admin('GET', '/api/v1/users?search=kim')).items[0];
      const keys = await admin('GET', `/api/v1/users/${kim.id}/webauthn`);
      assert.deepEqual(keys.items.map((k: { name: string; discoverable: boolean }) => [k.name, k.discoverable]), [['Laptop passkey', true], ['USB key', false]]);
      assert.equal((await auditOf('webauthn.register')).filter((e) => e.outcome === 'success' && e.actorName === 'kim').length, 2);
      await signOut(page);
    }));

  it('signs in with the passkey as the second factor after the password', () =>
    step(async () => {
      const { page } = c;
      await passwordStep(page);
      // The portal asks for the key at once; the virtual authenticator answers.
      await page.getByRole('heading', { name: 'My access', level: 1 }).waitFor();
      const login = (await auditOf('auth.login')).find((e) => e.outcome === 'success' && e.actorName === 'kim' && e.details.method === 'password+webauthn');
      assert.ok(login, 'audited as a key sign-in');
      assert.equal(login.details.keyName, 'Laptop passkey');
    }));

  it('verifies the step-up a secret’s access policy asks for with the key', () =>
    step(async () => {
      const { page } = c;
      await row(page).waitFor();
      await page.locator('td.col-actions [aria-busy=true]').first().waitFor({ state: 'detached' });
      const dialog = page.getByRole('dialog', { name: 'Verify it is you' });
      await row(page).locator('.launcher-row').filter({ hasText: /^SSH/ }).getByRole('button', { name: 'Copy ssh command' }).click();
      await dialog.waitFor();
      await screenshot(page, '62-step-up-with-key');
      await dialog.getByRole('button', { name: 'Use security key' }).click();
      await page.getByText(/^ssh -p \d+ /).first().waitFor();
      assert.equal(await dialog.count(), 0);
      assert.ok((await auditOf('auth.step_up')).some((e) => e.outcome === 'success' && e.actorName === 'kim' && e.details.method === 'webauthn'));
      await signOut(page);
    }));

  it('signs in with the passkey alone only when the setting allows it', () =>
    step(async () => {
      const { page } = c;
      await page.reload();
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      assert.equal(await page.getByRole('button', { name: 'Sign in with a passkey' }).count(), 0, 'no passkey button while passwordless sign-in is off');
      await admin('PATCH', '/api/v1/settings', { webauthnPasswordless: true });
      await page.reload();
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await page.getByRole('heading', { name: 'My access', level: 1 }).waitFor();
      assert.ok((await auditOf('auth.login')).some((e) => e.outcome === 'success' && e.actorName === 'kim' && e.details.method === 'passkey'));
      await screenshot(page, '63-passkey-signed-in');
    }));
});
