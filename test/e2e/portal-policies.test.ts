// Access policies in the portal, in a real browser (headless Chromium through playwright-core)
// against a whole Gatehouse: an administrator creates a policy on its edit page (approvers
// from the directory, allowed hours, MFA, consent text), sees the API's validation error
// next to the form, edits it, and attaches it to a folder, where the secret inside shows it
// as inherited; then a person launches a secret whose policy requires consent to recording:
// the browser terminal and the .rdp download both show the policy's text, a "no" opens no
// session and downloads nothing, a "yes" opens the terminal / downloads the file.
// Needs the UI built (npm run build); the .rdp file is downloaded, never opened.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { ensureTargetAccount } from '../support/accounts.js';
import { launchBrowser, newContext, screenshot, stepRunner, terminalText, until, type Ctx } from '../support/browser.js';
import { seedPortal } from '../support/portal-seed.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { ADMIN_PASSWORD } from '../support/harness.js';
import { startSshd, type Sshd } from '../support/sshd.js';

const USERS = {
  ann: { password: 'ann-Policy-pass-1', roles: ['User'] },
  bob: { password: 'bob-Policy-pass-1', roles: ['User'] },
};
const CONSENT = 'Policy 7: this session is recorded for the change board. Say yes only if you agree.';

interface AuditEvent {
  action: string;
  details: Record<string, unknown>;
}

describe('access policies in the portal', { timeout: 120_000 }, () => {
  let sshd: Sshd;
  let gw: Gateway;
  let browser: Browser;
  let secretId: string;
  let ids: Record<string, string>;
  let folderId: string;
  let innerId: string;
  const contexts: Ctx[] = [];
  const url = (path = '/') => `${gw.running.url}${path}`;
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await gw.api(method, path, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.raw}`);
    return r.body;
  };
  const audit = async (action: string): Promise<AuditEvent[]> => (await api('GET', `/api/v1/audit?action=${action}&limit=100`)).items;

  async function signIn(username: keyof typeof USERS | 'admin'): Promise<Ctx> {
    const c = await newContext(browser, gw.running.url);
    contexts.push(c);
    await c.page.goto(url('/'));
    await c.page.getByLabel('Username', { exact: true }).fill(username);
    await c.page.getByLabel('Password', { exact: true }).fill(username === 'admin' ? ADMIN_PASSWORD : USERS[username].password);
    await c.page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await c.page.getByRole('heading', { name: 'My access', level: 1 }).waitFor();
    return c;
  }
  /** Chooses one entry of a picker: types it and takes the first suggestion. */
  async function pick(page: Page, picker: string, text: string) {
    const input = page.getByRole('combobox', { name: picker });
    await input.fill(text);
    await page.getByRole('option', { name: new RegExp(`^${text}`) }).first().waitFor();
    await input.press('Enter');
    await page.getByRole('list', { name: picker }).getByText(text, { exact: true }).waitFor();
  }

  before(async () => {
    assert.ok(existsSync(`${UI_DIR}/index.html`), 'the UI is built (npm run build)');
    ensureTargetAccount();
    [sshd, gw, browser] = await Promise.all([startSshd(), startGateway('sqlite'), launchBrowser()]);
    ({ secretId, ids } = await seedPortal(gw, { secretName: 'consent-target', sshdPort: sshd.port, users: USERS, shareWith: ['ann'] }));
    await api('POST', '/api/v1/groups', { name: 'night-ops', members: [ids.bob] });
    folderId = (await api('POST', '/api/v1/folders', { name: 'ops' })).id;
    // Never launched: it shows the folder's policy as inherited.
    innerId = (await api('POST', '/api/v1/secrets', { name: 'inner-target', template: 'unix-account', folderId, fields: { machine: '127.0.0.1', port: sshd.port, username: 'ghtarget' } })).id;
    // The consent part: ann is pre-approved, so only the consent stands between her and a session.
    await api('POST', '/api/v1/access-policies', {
      name: 'consent-policy',
      approvers: [{ principalType: 'user', principal: 'admin' }],
      preApproved: [{ principalType: 'user', principal: 'ann' }],
      recordingRequired: true,
      consentText: CONSENT,
    });
    await api('PATCH', `/api/v1/secrets/${secretId}`, { policyId: 'consent-policy' });
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
    await sshd?.stop();
  });

  const step = stepRunner(contexts, 'portal-policies');

  it('an administrator creates a policy with hours, MFA and consent, edits it, and attaches it to a folder', () =>
    step(async () => {
      const { page } = await signIn('admin');
      await page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: 'Access policies', exact: true }).click();
      await page.getByRole('heading', { name: 'Access policies', level: 1 }).waitFor();
      await page.getByRole('row').filter({ hasText: 'consent-policy' }).filter({ hasText: 'Consent' }).waitFor();
      await page.getByRole('link', { name: 'New policy' }).click();
      await page.getByRole('heading', { name: 'New access policy', level: 1 }).waitFor();

      await page.getByLabel('Name', { exact: true }).fill('ops-hours');
      await page.getByLabel('Description', { exact: true }).fill('office hours for ops');
      await pick(page, 'Approver users', 'bob');
      await pick(page, 'Approver groups', 'night-ops');
      await pick(page, 'Pre-approved users', 'ann');
      await page.getByLabel('Default window (minutes)', { exact: true }).fill('30');
      await page.getByLabel('Longest window (minutes)', { exact: true }).fill('120');
      await page.getByLabel('Only at certain hours', { exact: true }).check();
      await page.getByLabel('Sat', { exact: true }).check();
      await page.getByLabel('From', { exact: true }).fill('07:30');
      await page.getByLabel('To', { exact: true }).fill('19:00');
      // A time zone the API does not know: its validation error shows next to the form.
      await page.getByLabel('Time zone', { exact: true }).fill('Mars/Olympus');
      await page.getByLabel('Allow TELNET', { exact: true }).uncheck();
      await page.locator('#policy-mfa').selectOption('untrusted');
      await page.getByLabel('Trusted networks', { exact: true }).fill('10.0.0.0/8\n192.168.1.0/24');
      await page.getByLabel('MFA valid for (minutes)', { exact: true }).fill('10');
      await page.getByLabel(/^Recording with consent is required/).check();
      await page.getByLabel('Consent text', { exact: true }).fill('Recorded for ops (first text).');
      await page.locator('#policy-ticket').selectOption('optional');
      await page.getByRole('button', { name: 'Create policy' }).click();
      const error = page.getByRole('alert').filter({ hasText: 'unknown time zone "Mars/Olympus"' });
      await error.waitFor();
      assert.doesNotMatch(await error.innerText(), /\bat \S+:\d+|Error:/, 'no stack trace');
      await screenshot(page, '50-policy-validation-error');

      await page.getByLabel('Time zone', { exact: true }).fill('Europe/Berlin');
      await page.getByRole('button', { name: 'Create policy' }).click();
      await page.getByRole('heading', { name: 'ops-hours', level: 1 }).waitFor();
      await screenshot(page, '51-policy-edit', { fullPage: true });

      // Edit: another consent text, no Saturdays, a later end, a ticket reference required.
      await page.getByLabel('Consent text', { exact: true }).fill('Recorded for ops: the change board reviews it.');
      await page.getByLabel('Sat', { exact: true }).uncheck();
      await page.getByLabel('To', { exact: true }).fill('20:15');
      await page.locator('#policy-ticket').selectOption('required');
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.getByText('Changes saved').first().waitFor();

      const p = await api('GET', '/api/v1/access-policies/ops-hours');
      assert.equal(p.description, 'office hours for ops');
      assert.deepEqual(
        p.approvers.map((x: { principalType: string; principalName: string }) => `${x.principalType}:${x.principalName}`),
        ['user:bob', 'group:night-ops'],
      );
      assert.deepEqual(
        p.preApproved.map((x: { principalName: string }) => x.principalName),
        ['ann'],
      );
      assert.equal(p.approvalsRequired, 1);
      assert.deepEqual([p.defaultWindowMinutes, p.maxWindowMinutes], [30, 120]);
      assert.deepEqual(p.allowedHours, { days: [1, 2, 3, 4, 5], from: '07:30', to: '20:15', timeZone: 'Europe/Berlin' });
      assert.deepEqual(p.allowedModes, ['ssh', 'rdp']);
      assert.deepEqual([p.mfa, p.trustedNetworks, p.mfaMaxAgeMinutes], ['untrusted', ['10.0.0.0/8', '192.168.1.0/24'], 10]);
      assert.deepEqual([p.recordingRequired, p.consentText], [true, 'Recorded for ops: the change board reviews it.']);
      assert.deepEqual([p.checkoutRequired, p.reasonRequired, p.ticketReference], [false, true, 'required']);

      // The list shows it; then attach it to the folder.
      await page.getByRole('link', { name: 'Access policies' }).first().click();
      await page.getByRole('row').filter({ hasText: 'ops-hours' }).filter({ hasText: '1 of bob, @night-ops' }).filter({ hasText: '07:30–20:15 (Europe/Berlin)' }).waitFor();
      await screenshot(page, '52-policy-list');
      await page.goto(url(`/admin/folders/${folderId}`));
      await page.getByRole('heading', { name: 'ops', level: 1 }).waitFor();
      await page.locator('#folder-policy').selectOption({ label: 'ops-hours' });
      await page.getByRole('button', { name: 'Save policy' }).click();
      await page.getByTestId('policy-applies').filter({ hasText: 'ops-hours — attached to this folder' }).waitFor();
      assert.equal((await api('GET', `/api/v1/folders/${folderId}`)).policyId, p.id);

      // The secret inside inherits it; the secret with its own policy shows its own.
      await page.goto(url(`/admin/secrets/${innerId}`));
      await page.getByTestId('policy-applies').filter({ hasText: 'ops-hours — inherited from the folder ops' }).waitFor();
      assert.match(await page.locator('#secret-policy option').first().innerText(), /Inherited: ops-hours \(from the folder ops\)/);
      await screenshot(page, '53-secret-inherited-policy', { fullPage: true });
      await page.goto(url(`/admin/secrets/${secretId}`));
      await page.getByTestId('policy-applies').filter({ hasText: 'consent-policy — attached to this secret' }).waitFor();
      assert.equal(await page.locator('#secret-policy').inputValue(), (await api('GET', '/api/v1/access-policies/consent-policy')).id);
    }));

  it('the browser terminal asks for the policy consent: decline opens nothing, agree opens the terminal', () =>
    step(async () => {
      const { page, context } = await signIn('ann');
      const open = page.getByRole('row').filter({ hasText: 'consent-target' }).locator('.launcher-row').filter({ hasText: /^SSH/ }).getByRole('link', { name: 'Open in browser' });
      const [term] = await Promise.all([context.waitForEvent('page'), open.click()]);
      const dialog = term.getByRole('dialog', { name: 'This session is recorded' });
      await dialog.waitFor();
      assert.equal((await dialog.locator('.consent-text').innerText()).trim(), CONSENT);
      await screenshot(term, '54-terminal-policy-consent');
      await dialog.getByRole('button', { name: 'Decline' }).click();
      await term.getByRole('heading', { name: 'Session not started' }).waitFor();
      const declined = await until(async () => (await audit('session.consent_declined')).find((e) => e.details.policy === 'consent-policy'), 'the decline is audited');
      assert.equal(declined.details.decision, 'declined');
      const sessions = await api('GET', `/api/v1/sessions?secretId=${secretId}&limit=10`);
      assert.equal(sessions.items.length, 0, 'no session after the decline');

      await term.getByRole('button', { name: 'Show the notice again' }).click();
      await dialog.waitFor();
      await dialog.getByRole('button', { name: 'I agree' }).click();
      await term.getByText('Connected', { exact: true }).waitFor();
      await until(async () => /ghtarget@/.test(await terminalText(term)), 'the shell prompt');
      const consent = await until(async () => (await audit('session.consent')).find((e) => e.details.policy === 'consent-policy'), 'the consent is audited');
      assert.equal(consent.details.decision, 'given');
      await term.locator('.xterm').click();
      await term.keyboard.type('exit');
      await term.keyboard.press('Enter');
      await term.getByText('Ended', { exact: true }).waitFor();
      await term.close();
    }));

  it('the .rdp download asks for the policy consent: decline downloads nothing, agree downloads the file', () =>
    step(async () => {
      const { page } = await signIn('ann');
      const row = page.getByRole('row').filter({ hasText: 'consent-target' });
      const download = row.locator('.launcher-row').filter({ hasText: /^Remote Desktop/ }).getByRole('button', { name: 'Download .rdp' });
      let downloads = 0;
      page.on('download', () => downloads++);
      const rdpConsents = async () => (await audit('session.consent')).filter((e) => e.details.policy === 'consent-policy' && e.details.launcher === 'Remote Desktop').length;

      // No: the portal asks (a confirm dialog with the policy's text) and launches nothing.
      // (The click returns only once the dialog is answered: answer it in the handler.)
      const asked: string[] = [];
      page.once('dialog', (d) => {
        asked.push(d.message());
        void d.dismiss();
      });
      await download.click();
      await page.getByText('You declined the recording: no session.').waitFor();
      assert.equal(asked.length, 1);
      assert.ok(asked[0]!.includes(CONSENT), `the dialog shows the policy's text: ${asked[0]}`);
      assert.equal(downloads, 0, 'no file after the decline');
      assert.equal(await rdpConsents(), 0);
      // The "no" reached the API as a launch with consent false: refused and audited.
      const declined = (await audit('session.consent_declined')).filter((e) => e.details.policy === 'consent-policy' && e.details.launcher === 'Remote Desktop' && e.details.at === 'launch');
      assert.equal(declined.length, 1, 'the decline is audited');

      // Yes: launched with consent, the file downloads.
      page.once('dialog', (d) => {
        asked.push(d.message());
        void d.accept();
      });
      const [file] = await Promise.all([page.waitForEvent('download'), download.click()]);
      assert.match(file.suggestedFilename(), /\.rdp$/);
      const path = await file.path();
      assert.match(readFileSync(path, 'utf8'), /full address:s:/i);
      assert.ok(asked[1]?.includes(CONSENT));
      assert.equal(await rdpConsents(), 1, 'the consent given at launch is audited');
    }));
});
