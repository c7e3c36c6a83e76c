// Exclusive checkout on the portal's My access page in a real browser (headless Chromium
// through playwright-core): one person checks a shared secret out, another sees who holds
// it, is refused a launch with the seed's message and queues; when the holder checks in,
// the first in line sees it is their turn. Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Browser, Locator, Page } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { launchBrowser, newContext, screenshot, stepRunner, type Ctx } from '../support/browser.js';
import { seedPortal } from '../support/portal-seed.js';
import { startGateway, type Gateway } from '../support/gateway.js';

const USERS = {
  ann: { password: 'ann-Checkout-pass-1', roles: ['User'] },
  ben: { password: 'ben-Checkout-pass-1', roles: ['User'] },
};

describe('exclusive checkout on My access in a browser', { timeout: 60_000 }, () => {
  let gw: Gateway;
  let browser: Browser;
  const contexts: Ctx[] = [];

  async function signIn(username: keyof typeof USERS): Promise<Page> {
    const c = await newContext(browser, gw.running.url);
    contexts.push(c);
    const { page } = c;
    await page.goto(`${gw.running.url}/`);
    await page.getByLabel('Username', { exact: true }).fill(username);
    await page.getByLabel('Password', { exact: true }).fill(USERS[username].password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'My access', level: 1 }).waitFor();
    return page;
  }
  const row = (page: Page): Locator => page.getByRole('row').filter({ hasText: 'checkout-target' });

  before(async () => {
    assert.ok(existsSync(`${UI_DIR}/index.html`), 'the UI is built (npm run build)');
    [gw, browser] = await Promise.all([startGateway('sqlite'), launchBrowser()]);
    // The target is never contacted here: launches stop at the checkout.
    await seedPortal(gw, { secretName: 'checkout-target', sshdPort: 22, users: USERS, shareWith: ['ann', 'ben'] });
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
  });

  const step = stepRunner(contexts, 'portal-checkout');

  it('check out, a refused launch and the queue, check in, the next one’s turn', () =>
    step(async () => {
      const ann = await signIn('ann');
      await row(ann).getByRole('button', { name: 'Check out' }).click();
      await row(ann).getByText(/^Checked out by you until /).waitFor();
      await screenshot(ann, '30-checkout-mine');

      const ben = await signIn('ben');
      await row(ben).getByText(/^Checked out by ann until /).waitFor();
      await row(ben).locator('.launcher-row').filter({ hasText: /^SSH/ }).getByRole('button', { name: 'Copy ssh command' }).click();
      // Ben has no personal credential for it either: the seed's second message.
      assert.equal((await row(ben).page().getByRole('alert').innerText()).trim(), 'No shared or personal credentials are available.');
      await row(ben).getByRole('button', { name: 'Join queue' }).click();
      await row(ben).getByRole('button', { name: 'Leave queue (#1)' }).waitFor();
      await screenshot(ben, '30-checkout-queued');

      // Checked in: held for ben, the first in line.
      await row(ann).getByRole('button', { name: 'Check in' }).click();
      await row(ann).getByText(/^Held for the next in the queue until /).waitFor();
      await ben.reload();
      await row(ben).getByText(/^Your turn until /).waitFor();
      await row(ben).getByRole('button', { name: 'Check out' }).click();
      await row(ben).getByText(/^Checked out by you until /).waitFor();
      await screenshot(ben, '30-checkout-turn-taken');
    }));
});
