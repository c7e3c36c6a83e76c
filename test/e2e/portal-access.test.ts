// Access requests in the portal, in a real browser (headless Chromium through
// playwright-core) against a whole Gatehouse: a refused launch on My access links to the
// request form, the request shows as pending, an approver approves it from their inbox, and
// once the second approval opens the grant the requester launches. Needs the UI built.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { ensureTargetAccount } from '../support/accounts.js';
import { launchBrowser, screenshot, stepRunner, until, type Ctx } from '../support/browser.js';
import { seedPortal } from '../support/portal-seed.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { ADMIN_PASSWORD } from '../support/harness.js';
import { okApi, signedInPage } from '../support/portal-session.js';
import { startSshd, type Sshd } from '../support/sshd.js';

const USERS = {
  ada: { password: 'ada-Access-pass-1', roles: ['User'] },
  ben: { password: 'ben-Access-pass-1', roles: ['User'] },
  cyd: { password: 'cyd-Access-pass-1', roles: ['User'] },
};

describe('access requests in the portal', { timeout: 90_000 }, () => {
  let sshd: Sshd;
  let gw: Gateway;
  let browser: Browser;
  let secretId: string;
  const contexts: Ctx[] = [];
  const url = (path = '/') => `${gw.running.url}${path}`;
  const api = okApi(() => gw);
  const signIn = (username: keyof typeof USERS | 'admin'): Promise<Page> => signedInPage(browser, gw, contexts, username, username === 'admin' ? ADMIN_PASSWORD : USERS[username].password);
  const sshRow = (page: Page) => page.getByRole('row').filter({ hasText: 'access-target' }).locator('.launcher-row').filter({ hasText: /^SSH/ });

  before(async () => {
    assert.ok(existsSync(`${UI_DIR}/index.html`), 'the UI is built (npm run build)');
    ensureTargetAccount();
    [sshd, gw, browser] = await Promise.all([startSshd(), startGateway('sqlite'), launchBrowser()]);
    ({ secretId } = await seedPortal(gw, { secretName: 'access-target', sshdPort: sshd.port, users: USERS, shareWith: ['ada'] }));
    await api('POST', '/api/v1/access-policies', { name: 'portal-policy', approvers: [{ principalType: 'user', principal: 'ben' }, { principalType: 'user', principal: 'cyd' }], approvalsRequired: 2 });
    await api('PATCH', `/api/v1/secrets/${secretId}`, { policyId: 'portal-policy' });
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
    await sshd?.stop();
  });

  const step = stepRunner(contexts, 'portal-access');

  it('refused launch → request → approve in the inbox → launch', () =>
    step(async () => {
      const ada = await signIn('ada');
      await sshRow(ada).getByRole('button', { name: 'Copy ssh command' }).click();
      const alert = ada.getByRole('alert').filter({ hasText: 'needs an approved request' });
      await alert.waitFor();
      await alert.getByRole('link', { name: 'Request access' }).click();
      await ada.getByRole('heading', { name: 'Access requests', level: 1 }).waitFor();
      assert.equal(await ada.locator('#access-secret').inputValue(), secretId, 'the secret is chosen');
      await ada.getByLabel('Reason', { exact: true }).fill('apply the security patch');
      await ada.getByRole('button', { name: 'Request access', exact: true }).click();
      const mine = ada.getByRole('row').filter({ hasText: 'access-target' });
      await mine.filter({ hasText: 'pending' }).waitFor();
      await screenshot(ada, '40-access-request-pending');

      const ben = await signIn('ben');
      await ben.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: 'Access requests', exact: true }).click();
      const waiting = ben.getByRole('row').filter({ hasText: 'apply the security patch' });
      await waiting.waitFor();
      await screenshot(ben, '41-access-approver-inbox');
      await waiting.getByRole('button', { name: 'Approve' }).click();
      await until(async () => (await waiting.count()) === 0, 'the decided request leaves the inbox');

      // The second approval (through the API) opens the grant.
      const cyd = await gw.userToken('cyd', USERS.cyd.password);
      const [pending] = (await api('GET', '/api/v1/access-requests?scope=approve', undefined, cyd)).items;
      assert.equal((await api('POST', `/api/v1/access-requests/${pending.id}/approve`, {}, cyd)).status, 'approved');

      await ada.reload();
      await mine.filter({ hasText: 'approved' }).waitFor();
      await ada.goto(url('/'));
      await sshRow(ada).getByRole('button', { name: 'Copy ssh command' }).click();
      await ada.getByText(/ssh -p \d+ \S+@/).first().waitFor();
    }));

  it('an administrator lists and creates policies', () =>
    step(async () => {
      const admin = await signIn('admin');
      await admin.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: 'Access policies', exact: true }).click();
      await admin.getByRole('heading', { name: 'Access policies', level: 1 }).waitFor();
      await admin.getByRole('row').filter({ hasText: 'portal-policy' }).filter({ hasText: '2 of ben, cyd' }).waitFor();
      await admin.getByRole('link', { name: 'New policy' }).click();
      await admin.getByLabel('Name', { exact: true }).fill('night-policy');
      for (const name of ['ben', 'cyd']) {
        await admin.getByRole('combobox', { name: 'Approver users' }).fill(name);
        await admin.getByRole('option', { name: new RegExp(`^${name}`) }).first().click();
      }
      await admin.getByLabel('Allow RDP', { exact: true }).uncheck();
      await admin.getByRole('button', { name: 'Create policy' }).click();
      await admin.getByRole('heading', { name: 'night-policy', level: 1 }).waitFor();
      await admin.getByRole('link', { name: 'Access policies' }).first().click();
      await admin.getByRole('row').filter({ hasText: 'night-policy' }).filter({ hasText: 'SSH, TELNET' }).waitFor();
      await screenshot(admin, '42-admin-access-policies');
      const created = (await api('GET', '/api/v1/access-policies/night-policy')) as { approvalsRequired: number; allowedModes: string[] };
      assert.deepEqual([created.approvalsRequired, created.allowedModes], [1, ['ssh', 'telnet']]);
    }));
});
