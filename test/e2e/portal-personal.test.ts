// The portal's Personal credentials page in a real browser (headless Chromium through
// playwright-core) against a whole Gatehouse: set a master password, store a credential
// (its password never shown back), launch a secret with it, lock, the Unlock prompt re-prompting on a wrong master
// password without signing the person out, then unlocking; and the unlocked state lives in
// the server only (no cookie carries it). Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { launchBrowser, newContext, type Ctx } from '../support/browser.js';
import { startGateway, type Gateway } from '../support/gateway.js';

describe('portal: personal credentials in a browser', { timeout: 90_000 }, () => {
  let gw: Gateway;
  let browser: Browser;
  let c: Ctx;
  const password = 'pia-Portal-pass-1';
  const master = 'pia-Master-pass-1';
  const personalPw = 'Pia-Own-Target-Pw-77';

  before(async () => {
    assert.ok(existsSync(`${UI_DIR}/index.html`), 'the UI is built (npm run build)');
    [gw, browser] = await Promise.all([startGateway('sqlite'), launchBrowser()]);
    const r = await gw.api('POST', '/api/v1/users', { token: gw.adminToken, body: { username: 'pia', password, roles: ['User'] } });
    assert.equal(r.status, 201, r.raw);
    const sec = await gw.api('POST', '/api/v1/secrets', { token: gw.adminToken, body: { name: 'box-one', template: 'unix-account', fields: { machine: 'box1.example', username: 'shared', password: 'Shared-Box-Pw-1' } } });
    assert.equal(sec.status, 201, sec.raw);
    const share = await gw.api('PUT', `/api/v1/secrets/${sec.body.id}/permissions`, { token: gw.adminToken, body: { entries: [{ principalType: 'user', principal: 'pia', level: 'view' }] } });
    assert.equal(share.status, 200, share.raw);
    c = await newContext(browser, gw.running.url);
  });
  after(async () => {
    await c?.context.close();
    await browser?.close();
    await gw?.close();
  });

  it('set master password, store a credential, lock, re-prompt on a wrong master password, unlock', async () => {
    const page = c.page;
    await page.goto(`${gw.running.url}/`);
    await page.getByLabel('Username', { exact: true }).fill('pia');
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'My access', level: 1 }).waitFor();

    await page.getByRole('link', { name: 'Personal credentials' }).first().click();
    await page.getByRole('heading', { name: 'Personal credentials', level: 1 }).waitFor();
    await page.getByLabel('Master password', { exact: true }).fill(master);
    await page.getByLabel('Master password again', { exact: true }).fill(master);
    await page.getByRole('button', { name: 'Set master password' }).click();
    await page.getByText('Unlocked', { exact: true }).waitFor();

    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByLabel('Name', { exact: true }).fill('my box');
    await page.getByLabel('Machine', { exact: true }).fill('box1.example');
    await page.getByLabel('Username', { exact: true }).fill('pia-admin');
    await page.getByLabel('Password', { exact: true }).fill(personalPw);
    await page.getByRole('button', { name: 'Store', exact: true }).click();
    await page.getByRole('cell', { name: 'pia-admin' }).waitFor();
    assert.ok(!(await page.content()).includes(personalPw), 'the stored password is not shown');
    // Launch the secret on that machine with the personal credential: the ssh command that uses the ticket.
    await page.getByRole('button', { name: 'Launch box-one' }).click();
    await page.locator('.detail-row code').filter({ hasText: /^ssh -p \d+ \S+@\S+$/ }).waitFor();
    const use = await gw.api('GET', '/api/v1/audit?action=personal.credential.use&limit=5', { token: gw.adminToken });
    assert.equal(use.body.items[0].outcome, 'success');
    assert.equal(use.body.items[0].actorName, 'pia');

    await page.getByRole('button', { name: 'Lock', exact: true }).click();
    await page.getByText('Locked', { exact: true }).waitFor();
    await page.getByLabel('Master password', { exact: true }).fill('not-the-master-password');
    await page.getByRole('button', { name: 'Unlock', exact: true }).click();
    await page.getByText('Invalid Master Password. Enter it again.').waitFor();
    // Still signed in, still asked.
    await page.getByRole('heading', { name: 'Personal credentials', level: 1 }).waitFor();
    await page.getByLabel('Master password', { exact: true }).fill(master);
    await page.getByRole('button', { name: 'Unlock', exact: true }).click();
    await page.getByText('Unlocked', { exact: true }).waitFor();

    // Nothing of the vault is in the browser's cookies: only the sign-in session and its CSRF token.
    const cookies = await c.context.cookies();
    assert.deepEqual(cookies.map((k) => k.name).sort(), ['__Host-gh_csrf', '__Host-gh_session']);
    for (const k of cookies) assert.ok(!k.value.includes(master) && !k.value.includes(personalPw));
  });
});
