// The credential-provider API's portal pages in a real browser (headless Chromium through
// playwright-core) against a whole Gatehouse: an ECM's application account asks for a
// person's credentials (pending approval), the person approves it under Manage
// Applications, the application then retrieves the credential, the person revokes it (the
// application must ask again); an administrator runs Test Settings (the pending answer) and
// Clear Token Cache on the Credential provider page. Needs the UI built.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { launchBrowser, stepRunner, until, type Ctx } from '../support/browser.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { ADMIN_PASSWORD } from '../support/harness.js';
import { okApi, signedInPage } from '../support/portal-session.js';

const ADA = 'ada-Ecm-pass-1';
const APP = 'ecm-App-pass-1';
const SECRET = 'web1-Root-Secret-9';

describe('credential provider in the portal', { timeout: 90_000 }, () => {
  let gw: Gateway;
  let browser: Browser;
  let appToken: string;
  let secretId: string;
  const contexts: Ctx[] = [];
  const api = okApi(() => gw);
  const asApp = (method: string, path: string, body?: unknown) => gw.api(method, path, { token: appToken, ...(body !== undefined ? { body } : {}) });

  const signIn = (username: string, password: string): Promise<Page> => signedInPage(browser, gw, contexts, username, password);

  before(async () => {
    assert.ok(existsSync(`${UI_DIR}/index.html`), 'the UI is built (npm run build)');
    [gw, browser] = await Promise.all([startGateway('sqlite'), launchBrowser()]);
    await api('PATCH', '/api/v1/settings', { webservicesEnabled: true });
    await api('POST', '/api/v1/users', { username: 'ada', password: ADA, roles: ['User'] });
    await api('POST', '/api/v1/roles', { name: 'ECM', permissions: ['webservices_impersonate'] });
    await api('POST', '/api/v1/users', { username: 'ecm-app', password: APP, isApplication: true, roles: ['ECM'] });
    secretId = (await api('POST', '/api/v1/secrets', { name: 'web1 root', template: 'unix-account', fields: { machine: 'web1', username: 'root', password: SECRET } })).id;
    await api('PUT', `/api/v1/secrets/${secretId}/permissions`, { entries: [{ principalType: 'user', principal: 'ada', level: 'view' }] });
    appToken = (await api('POST', '/api/v1/auth/login', { username: 'ecm-app', password: APP }, undefined)).token;
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
  });

  const step = stepRunner(contexts, 'portal-webservices');

  it('pending → approve under Manage Applications → retrieve → revoke; Test Settings and Clear Token Cache', () =>
    step(async () => {
      const first = await asApp('GET', '/api/v1/webservices/credentials?user=ada&endpoint=web1');
      assert.equal(first.status, 403, first.raw);
      assert.equal(first.body.error.code, 'approval_pending');

      const ada = await signIn('ada', ADA);
      await ada.getByRole('link', { name: 'Manage Applications' }).click();
      await ada.getByRole('heading', { name: 'Manage Applications', level: 1 }).waitFor();
      const row = ada.getByRole('row').filter({ hasText: 'ecm-app' });
      await row.getByText('pending').waitFor();
      await row.getByRole('button', { name: 'Approve' }).click();
      await row.getByText('approved').waitFor();

      const listed = await asApp('GET', '/api/v1/webservices/credentials?user=ada&endpoint=web1');
      assert.equal(listed.status, 200, listed.raw);
      assert.deepEqual(listed.body.credentials.map((c: { name: string }) => c.name), ['web1 root']);
      assert.ok(!listed.raw.includes(SECRET));
      const got = await asApp('POST', `/api/v1/webservices/credentials/${secretId}/retrieve`, { user: 'ada', endpoint: 'web1' });
      assert.equal(got.status, 200, got.raw);
      assert.equal(got.body.secrets.password, SECRET);

      await row.getByRole('button', { name: 'Revoke' }).click();
      await row.getByText('revoked').waitFor();
      const again = await asApp('GET', '/api/v1/webservices/credentials?user=ada&endpoint=web1');
      assert.equal(again.body.error.code, 'approval_pending');

      const admin = await signIn('admin', ADMIN_PASSWORD);
      await admin.getByRole('link', { name: 'Credential provider' }).click();
      await admin.getByRole('heading', { name: 'Credential provider', level: 1 }).waitFor();
      await admin.getByLabel('User ID').fill('ada');
      await admin.getByLabel('Machine / Endpoint').fill('web1');
      await admin.getByLabel('Application account').fill('ecm-app');
      await admin.getByRole('button', { name: 'Test Settings' }).click();
      const result = admin.getByTestId('ecm-test-result');
      await result.getByText(/pending approval/).first().waitFor();
      // Clear Token Cache answers and leaves the cache empty (revoking already dropped ada's token; the API test covers a full cache).
      await admin.getByRole('button', { name: 'Clear Token Cache' }).click();
      await admin.getByText(/Token cache cleared/).waitFor();
      await until(async () => (await api('GET', '/api/v1/webservices/token-cache')).entries === 0, 'the token cache is empty');
      const page = await admin.content();
      assert.ok(!page.includes(SECRET), 'no password on the page');
    }));
});
