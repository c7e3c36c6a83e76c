// MFA step-up on the portal's My access page in a real browser (headless Chromium through
// playwright-core): a secret whose access policy asks for a fresh second factor answers the
// launch with mfa_required; the portal asks for the code in a small dialog and launches
// again with it; a wrong code shows the refusal. Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Browser, Locator, Page } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { launchBrowser, newContext, screenshot, stepRunner, type Ctx } from '../support/browser.js';
import { seedPortal } from '../support/portal-seed.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { nextTotp, wrongTotp } from '../support/totp.js';

const USERS = { ann: { password: 'ann-StepUp-pass-1', roles: ['User'] } };

describe('MFA step-up on My access in a browser', { timeout: 60_000 }, () => {
  let gw: Gateway;
  let browser: Browser;
  let secretId: string;
  const contexts: Ctx[] = [];
  const row = (page: Page): Locator => page.getByRole('row').filter({ hasText: 'mfa-target' });

  before(async () => {
    assert.ok(existsSync(`${UI_DIR}/index.html`), 'the UI is built (npm run build)');
    [gw, browser] = await Promise.all([startGateway('sqlite'), launchBrowser()]);
    // The target is never contacted here: the test stops at the ticket.
    ({ secretId } = await seedPortal(gw, { secretName: 'mfa-target', sshdPort: 22, users: USERS, shareWith: ['ann'] }));
    const policy = await gw.api('POST', '/api/v1/access-policies', { token: gw.adminToken, body: { name: 'mfa', approvers: [{ principalType: 'user', principal: 'admin' }], approvalsRequired: 1, preApproved: [{ principalType: 'user', principal: 'ann' }], mfa: 'always' } });
    assert.equal(policy.status, 201, policy.raw);
    const attach = await gw.api('PATCH', `/api/v1/secrets/${secretId}`, { token: gw.adminToken, body: { policyId: policy.body.id } });
    assert.equal(attach.status, 200, attach.raw);
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
  });

  const step = stepRunner(contexts, 'portal-step-up');

  it('a launch asks for the code in a dialog and goes through with it', () =>
    step(async () => {
      const c = await newContext(browser, gw.running.url);
      contexts.push(c);
      const { page } = c;
      await page.goto(`${gw.running.url}/`);
      await page.getByLabel('Username', { exact: true }).fill('ann');
      await page.getByLabel('Password', { exact: true }).fill(USERS.ann.password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'My access', level: 1 }).waitFor();
      // ann enrols TOTP (with a token of her own) after signing in.
      const token = await gw.userToken('ann', USERS.ann.password);
      const seed = (await gw.api('POST', '/api/v1/me/totp', { token })).body.secret as string;
      assert.equal((await gw.api('POST', '/api/v1/me/totp/confirm', { token, body: { code: await nextTotp(seed) } })).status, 200);

      const copy = () => row(page).locator('.launcher-row').filter({ hasText: /^SSH/ }).getByRole('button', { name: 'Copy ssh command' }).click();
      const dialog = page.getByRole('dialog', { name: 'Verify it is you' });
      await copy();
      await dialog.waitFor();
      await dialog.getByText(/needs a fresh second-factor check/).waitFor();
      await screenshot(page, '40-step-up-dialog');
      await dialog.getByLabel('Verification code').fill(wrongTotp(seed));
      await dialog.getByRole('button', { name: 'Verify and launch' }).click();
      await row(page).page().getByRole('alert').filter({ hasText: 'invalid verification code' }).waitFor();

      await copy();
      await dialog.getByLabel('Verification code').fill(await nextTotp(seed));
      await dialog.getByRole('button', { name: 'Verify and launch' }).click();
      await page.getByText(/^ssh -p \d+ /).first().waitFor();
      assert.equal(await dialog.count(), 0);
    }));
});
