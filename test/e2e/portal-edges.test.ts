// The web portal's edge behaviours in a real browser (headless Chromium through
// playwright-core) against a whole Gatehouse and a real OpenSSH target: the lockout
// message at sign-in, the return to sign-in when a session is revoked, the "Connection
// lost" banner when the terminal's socket drops, and copy/paste in the browser terminal.
// Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { ensureTargetAccount } from '../support/accounts.js';
import { launchBrowser, newContext, screenshot, screenshotDir, until, waitForTerminalText, type Ctx, stepRunner } from '../support/browser.js';
import { seedPortal } from '../support/portal-seed.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { startSshd, type Sshd } from '../support/sshd.js';

const USERS = {
  lou: { password: 'lou-Edges-pass-1', roles: ['User'] },
  sam: { password: 'sam-Edges-pass-1', roles: ['User'] },
  tess: { password: 'tess-Edges-pass-1', roles: ['User'] },
};

describe('web portal edge cases in a browser', { timeout: 60_000 }, () => {
  let sshd: Sshd;
  let gw: Gateway;
  let browser: Browser;
  let secretId: string;
  let ids: Record<string, string> = {};
  const contexts: Ctx[] = [];

  const url = (path = '/') => `${gw.running.url}${path}`;
  const admin = (method: string, path: string, body?: unknown) => gw.api(method, path, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });

  async function context(): Promise<Ctx> {
    const c = await newContext(browser, gw.running.url);
    contexts.push(c);
    return c;
  }

  /** Fills and submits the sign-in form (the page must show it). */
  async function submitSignIn(page: Page, username: string, password: string): Promise<void> {
    await page.getByLabel('Username', { exact: true }).fill(username);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  /** Signs in through the sign-in page and waits for My access. */
  async function signIn(page: Page, username: string, password: string): Promise<void> {
    await page.goto(url('/'));
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await submitSignIn(page, username, password);
    await page.getByRole('heading', { name: 'My access', level: 1 }).waitFor();
  }

  /** Signs in as tess and opens the SSH launcher in a new tab, past the consent notice, up to a prompt. */
  async function openTerminal(c: Ctx): Promise<Page> {
    await signIn(c.page, 'tess', USERS.tess.password);
    const row = c.page.getByRole('row').filter({ hasText: 'edges-target' });
    const ssh = row.locator('.launcher-row').filter({ hasText: /^SSH/ }).getByRole('link', { name: 'Open in browser' });
    const [term] = await Promise.all([c.context.waitForEvent('page'), ssh.click()]);
    await term.getByRole('heading', { name: 'This session is recorded' }).waitFor();
    await term.getByRole('button', { name: 'I agree' }).click();
    await term.getByText('Connected', { exact: true }).waitFor();
    await waitForTerminalText(term, /ghtarget@/);
    return term;
  }

  before(async () => {
    assert.ok(existsSync(`${UI_DIR}/index.html`), 'the UI is built (npm run build)');
    ensureTargetAccount();
    const dir = screenshotDir();
    for (const f of readdirSync(dir)) if (f.startsWith('portal-edges-failed-')) rmSync(join(dir, f));
    [sshd, gw, browser] = await Promise.all([startSshd(), startGateway('sqlite'), launchBrowser()]);
    ({ secretId, ids } = await seedPortal(gw, { secretName: 'edges-target', sshdPort: sshd.port, users: USERS, shareWith: ['tess'] }));
  });

  after(async () => {
    await browser?.close();
    await gw?.close();
    await sshd?.stop();
  });

  const step = stepRunner(contexts, 'portal-edges');

  it('after three wrong passwords the sign-in page says the account is locked', () =>
    step(async () => {
      const set = await admin('PATCH', '/api/v1/settings', { lockoutThreshold: 3 });
      assert.equal(set.status, 200, set.raw);
      const { page } = await context();
      await page.goto(url('/'));
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      const alert = page.getByRole('alert');
      for (let i = 1; i <= 2; i++) {
        await submitSignIn(page, 'lou', `wrong-password-${i}`);
        await until(async () => (await alert.count()) > 0 && (await alert.innerText()).trim() === 'The username or password is not right. Check them and try again.', `wrong password ${i} refused`);
        // The form clears the password after a wrong one; wait for that before the next try.
        await until(async () => (await page.getByLabel('Password', { exact: true }).inputValue()) === '', 'password cleared');
      }
      // The third failure locks the account and says so at once …
      await submitSignIn(page, 'lou', 'wrong-password-3');
      await page.getByText('This account is locked after too many failed sign-in attempts, until').waitFor();
      // … and now even the right password is refused, in plain words, saying when the lock ends.
      const answer = page.waitForResponse((r) => r.url().includes('/api/v1/auth/') && r.request().method() === 'POST');
      await submitSignIn(page, 'lou', USERS.lou.password);
      const locked = await answer;
      assert.equal(locked.status(), 423);
      const lockedUntil = ((await locked.json()) as { error: { lockedUntil: string } }).error.lockedUntil;
      assert.ok(Date.parse(lockedUntil) > Date.now(), lockedUntil);
      // As the portal words a time: "today 14:05", or date and time when the lock ends on another day.
      const shown = await page.evaluate((iso) => {
        const d = new Date(iso);
        return d.toDateString() === new Date().toDateString()
          ? `today ${new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' }).format(d)}`
          : new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }).format(d);
      }, lockedUntil);
      await page.getByText('This account is locked after too many failed sign-in attempts, until').waitFor();
      assert.equal((await alert.innerText()).trim(), `This account is locked after too many failed sign-in attempts, until ${shown}. Try again then, or ask an administrator to unlock it.`);
      assert.equal(await page.getByRole('heading', { name: 'My access' }).count(), 0);
      await screenshot(page, 'edges-01-locked');
    }));

  it('a session revoked on the server returns the page to sign-in with "Your session expired"', () =>
    step(async () => {
      const { page } = await context();
      await signIn(page, 'sam', USERS.sam.password);
      // My access's own requests finish first: otherwise one of them may meet the revoked token.
      await page.waitForLoadState('networkidle');
      const samId = ids.sam;
      assert.ok(samId);
      const gone = await gw.running.core.store.db.deleteFrom('apiTokens').where('userId', '=', samId).where('kind', '=', 'session').executeTakeFirst();
      assert.ok(Number(gone.numDeletedRows) >= 1, 'the browser session token was deleted');
      // The next navigation asks the API, which answers 401.
      // A background refresh may meet the 401 first and bring sign-in before the click lands
      // (the link is then gone from the page), so whichever comes first counts.
      const signInHeading = page.getByRole('heading', { name: 'Sign in' });
      await Promise.race([
        page.getByRole('link', { name: 'Account', exact: true }).click().catch(() => undefined),
        signInHeading.waitFor(),
      ]);
      await signInHeading.waitFor();
      await page.getByText('Your session expired; sign in again.').waitFor();
      assert.equal(await page.getByRole('heading', { name: 'Account and security' }).count(), 0);
      await screenshot(page, 'edges-02-expired');
      // Signing in again works from there.
      await submitSignIn(page, 'sam', USERS.sam.password);
      await page.getByRole('heading', { name: /My access|Account and security/, level: 1 }).waitFor();
    }));

  it('shows "Connection lost" with a Reconnect button when the terminal socket drops', () =>
    step(async () => {
      const term = await openTerminal(await context());
      // Drop the browser's socket abruptly on the gateway side (no end message, no close frame).
      const wss = (gw.running.app as unknown as { websocketServer: { clients: Set<{ terminate(): void }> } }).websocketServer;
      assert.ok(wss.clients.size >= 1, 'the terminal socket is open');
      for (const c of wss.clients) c.terminate();
      const banner = term.getByRole('alert').filter({ hasText: 'Connection lost.' });
      await banner.waitFor();
      assert.match(await banner.innerText(), /Connection lost\. The link to Gatehouse dropped and the session was interrupted\./);
      await term.locator('.status-pill').getByText('Connection lost', { exact: true }).waitFor();
      await screenshot(term, 'edges-03-connection-lost');
      // Reconnect starts over: consent again, then a fresh prompt.
      await banner.getByRole('button', { name: 'Reconnect' }).click();
      await term.getByRole('button', { name: 'I agree' }).click();
      await term.getByText('Connected', { exact: true }).waitFor();
      await waitForTerminalText(term, /ghtarget@/);
      await term.getByRole('button', { name: 'Disconnect' }).click();
      await term.close();
    }));

  it('copies terminal output with the Copy button and pastes it back with the Paste button', () =>
    step(async () => {
      const c = await context();
      await c.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gw.running.url });
      const term = await openTerminal(c);
      await term.locator('.xterm').click();
      await term.keyboard.type('echo copy-$((1+1))');
      await term.keyboard.press('Enter');
      await waitForTerminalText(term, /^copy-2\s*$/m);
      // Double-click the output word to select it with xterm's own selection.
      const row = term.locator('.xterm-rows > div').filter({ hasText: /^copy-2\s*$/ }).first();
      const box = await row.boundingBox();
      assert.ok(box, 'the output row is on screen');
      await term.mouse.dblclick(box.x + 12, box.y + box.height / 2);
      await term.getByRole('button', { name: 'Copy', exact: true }).click();
      await term.getByText('Copied', { exact: true }).waitFor();
      assert.equal(await term.evaluate('navigator.clipboard.readText()'), 'copy-2');
      // Paste after a typed prefix: the shell runs the combined line.
      await term.keyboard.type('echo pasted-');
      await term.getByRole('button', { name: 'Paste', exact: true }).click();
      await waitForTerminalText(term, /echo pasted-copy-2\s*$/m);
      await term.keyboard.press('Enter');
      await waitForTerminalText(term, /^pasted-copy-2\s*$/m);
      await screenshot(term, 'edges-04-copy-paste');
      await term.getByRole('button', { name: 'Disconnect' }).click();
      await term.close();
    }));
});
