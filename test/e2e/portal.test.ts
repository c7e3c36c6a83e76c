// The web portal in a real browser (headless Chromium through playwright-core) against a
// whole Gatehouse and a real OpenSSH target: sign-in with TOTP, a browser SSH session,
// recordings, watching and terminating a live session, administration, and screenshots
// of every page visited (test-artifacts/screenshots). Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { launchBrowser, newContext, screenshot, screenshotDir, terminalText, until, waitForTerminalText, type Ctx, stepRunner } from '../support/browser.js';
import { seedPortal } from '../support/portal-seed.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { ADMIN_PASSWORD } from '../support/harness.js';
import { clientFor, interactive, launch, PROMPT, type Proc } from '../support/ssh-client.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { nextTotp } from '../support/totp.js';

const USERS = {
  tina: { password: 'tina-Portal-pass-1', roles: ['User'] },
  carol: { password: 'carol-Portal-pass-1', roles: ['User'] },
  bob: { password: 'bob-Portal-pass-1', roles: ['User'] },
  audrey: { password: 'audrey-Portal-pass-1', roles: ['Auditor'] },
};

describe('web portal in a browser', { timeout: 120_000 }, () => {
  let sshd: Sshd;
  let gw: Gateway;
  let browser: Browser;
  let secretId: string;
  let tinaSeed: string;
  let ids: Record<string, string> = {};
  const contexts: Ctx[] = [];
  let tina: Ctx;
  let webSessionId: string;
  let sshProc: Proc | null = null;

  const url = (path = '/') => `${gw.running.url}${path}`;
  const admin = (method: string, path: string, body?: unknown) => gw.api(method, path, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });

  async function context(): Promise<Ctx> {
    const c = await newContext(browser, gw.running.url);
    contexts.push(c);
    return c;
  }

  /** Signs in through the sign-in page (with a TOTP code when a seed is given) and waits for My access. */
  async function signIn(page: Page, username: string, password: string, seed?: string): Promise<void> {
    await page.goto(url('/'));
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Username', { exact: true }).fill(username);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    if (seed) {
      const code = page.getByLabel('Authentication code');
      await code.waitFor();
      await code.fill(await nextTotp(seed));
      await page.getByRole('button', { name: 'Verify and sign in' }).click();
    }
    await page.getByRole('heading', { name: 'My access', level: 1 }).waitFor();
  }

  /** Follows a link in the left navigation and waits for the page's heading. */
  async function nav(page: Page, link: string, heading: string | RegExp = link): Promise<void> {
    await page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: link, exact: true }).click();
    await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
  }

  before(async () => {
    assert.ok(existsSync(`${UI_DIR}/index.html`), 'the UI is built (npm run build)');
    ensureTargetAccount();
    // Failure shots of an earlier run would mislead.
    const dir = screenshotDir();
    for (const f of readdirSync(dir)) if (f.startsWith('portal-failed-')) rmSync(join(dir, f));
    [sshd, gw, browser] = await Promise.all([startSshd(), startGateway('sqlite'), launchBrowser()]);
    ({ secretId, ids } = await seedPortal(gw, { secretName: 'portal-target', sshdPort: sshd.port, users: USERS, shareWith: ['tina', 'bob'] }));
    // Session connector launchers exist only while the setting "Session Connector" is on.
    const on = await gw.api('PATCH', '/api/v1/settings', { token: gw.adminToken, body: { sessionConnector: true } });
    assert.equal(on.status, 200, on.raw);
    // tina's second factor is enrolled through the API.
    const token = await gw.userToken('tina', USERS.tina.password);
    const en = await gw.api('POST', '/api/v1/me/totp', { token });
    assert.equal(en.status, 200, en.raw);
    tinaSeed = en.body.secret;
    const cf = await gw.api('POST', '/api/v1/me/totp/confirm', { token, body: { code: await nextTotp(tinaSeed) } });
    assert.equal(cf.status, 200, cf.raw);
  });

  after(async () => {
    sshProc?.kill();
    await browser?.close();
    await gw?.close();
    await sshd?.stop();
  });

  const step = stepRunner(contexts, 'portal');

  it('signs in with password and TOTP; a wrong password shows a plain error; sign-out returns to sign-in', () =>
    step(async () => {
      tina = await context();
      const { page } = tina;
      await page.goto(url('/'));
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await screenshot(page, '01-sign-in');

      await page.getByLabel('Username', { exact: true }).fill('tina');
      await page.getByLabel('Password', { exact: true }).fill('not-her-password');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      assert.equal((await alert.innerText()).trim(), 'The username or password is not right. Check them and try again.');
      await screenshot(page, '01-sign-in-wrong-password');
      assert.equal(await page.getByLabel('Authentication code').count(), 0, 'no TOTP field after a wrong password');

      // Password first; the code field appears; the code is accepted.
      await page.getByLabel('Password', { exact: true }).fill(USERS.tina.password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      const code = page.getByLabel('Authentication code');
      await code.waitFor();
      assert.equal(await page.getByRole('alert').count(), 0, 'asking for the code is not an error');
      await screenshot(page, '01-sign-in-totp');
      await code.fill(await nextTotp(tinaSeed));
      await page.getByRole('button', { name: 'Verify and sign in' }).click();
      await page.getByRole('heading', { name: 'My access', level: 1 }).waitFor();
      await page.getByRole('cell', { name: 'portal-target' }).waitFor();
      // The rows' launch controls follow once templates and launchers have loaded.
      await page.locator('td.col-actions [aria-busy=true]').first().waitFor({ state: 'detached' });
      await screenshot(page, '02-my-access');

      // Sign out from the user menu: back at the sign-in page, and the session cookie is gone.
      await page.getByRole('button', { name: /tina/ }).click();
      await page.getByRole('menuitem', { name: 'Sign out' }).click();
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await page.getByText('You signed out.').waitFor();
      await page.reload();
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      assert.equal(await page.getByRole('heading', { name: 'My access' }).count(), 0);

      await signIn(page, 'tina', USERS.tina.password, tinaSeed);
    }));

  it('enrols TOTP on the Account page: QR code, setup key, code, recovery codes', () =>
    step(async () => {
      const { page } = await context();
      await signIn(page, 'carol', USERS.carol.password);
      await page.getByRole('button', { name: /carol/ }).click();
      await page.getByRole('menuitem', { name: 'Account and security' }).click();
      await page.getByRole('heading', { name: 'Account and security', level: 1 }).waitFor();
      await screenshot(page, '10-account');
      await page.getByRole('button', { name: 'Set up' }).click();
      const qr = page.getByRole('img', { name: 'QR code for your authenticator app' });
      await qr.waitFor();
      assert.ok(await qr.isVisible());
      // (No DOM types in the test project: the element is read as a plain object.)
      const natural = await qr.evaluate((img) => {
        const i = img as unknown as { complete: boolean; naturalWidth: number };
        return i.complete ? i.naturalWidth : 0;
      });
      assert.ok(natural > 0, 'the QR image decoded');
      const key = (await page.locator('.reveal', { hasText: 'Setup key' }).locator('code').innerText()).trim();
      assert.match(key, /^[A-Z2-7]{16,}=*$/);
      await screenshot(page, '10-account-totp-enrol');
      await page.getByLabel('Code', { exact: true }).fill(await nextTotp(key));
      await page.getByRole('button', { name: 'Turn on' }).click();
      await page.getByText('Two-factor authentication is on').waitFor();
      const codes = page.locator('.recovery-codes li');
      assert.equal(await codes.count(), 10);
      assert.match(await codes.first().innerText(), /\w{4,}/);
      await screenshot(page, '10-account-recovery-codes');
      await page.getByRole('button', { name: 'I saved them' }).click();
      await page.getByText('Your account asks for a code at every sign-in.').waitFor();
      // The server agrees: signing in now needs the code.
      const r = await gw.api('POST', '/api/v1/auth/login', { body: { username: 'carol', password: USERS.carol.password } });
      assert.equal(r.status, 401);
      assert.equal(r.body.error.code, 'totp_required');
      const ok = await gw.api('POST', '/api/v1/auth/login', { body: { username: 'carol', password: USERS.carol.password, totp: await nextTotp(key) } });
      assert.equal(ok.status, 200, ok.raw);
    }));

  it('opens a browser SSH session from My access: consent, typed command, output, end reason', () =>
    step(async () => {
      const { page, context: ctx } = tina;
      const row = page.getByRole('row').filter({ hasText: 'portal-target' });
      const ssh = row.locator('.launcher-row').filter({ hasText: /^SSH/ }).getByRole('link', { name: 'Open in browser' });
      const href = await ssh.getAttribute('href');
      assert.equal(href, `/terminal/${secretId}/ssh`);
      // The button opens a new tab.
      const [term] = await Promise.all([ctx.waitForEvent('page'), ssh.click()]);
      await term.getByRole('heading', { name: 'This session is recorded' }).waitFor();
      assert.match(await term.locator('.consent-text').innerText(), /record/i);
      await screenshot(term, '03-terminal-consent');
      await term.getByRole('button', { name: 'I agree' }).click();
      await term.getByText('Connected', { exact: true }).waitFor();
      await waitForTerminalText(term, /ghtarget@/);
      await term.locator('.xterm').click();
      await term.keyboard.type('echo portal-$((40+2))');
      await term.keyboard.press('Enter');
      const screen = await waitForTerminalText(term, /^portal-42\s*$/m);
      assert.ok(!screen.includes(TARGET_PASSWORD));
      await screenshot(term, '03-terminal');

      // Narrow windows: the terminal refits, My access turns its table into cards.
      await term.setViewportSize({ width: 400, height: 800 });
      await term.keyboard.type('echo narrow-$((1+1))');
      await term.keyboard.press('Enter');
      await waitForTerminalText(term, /^narrow-2\s*$/m);
      await screenshot(term, '03-terminal-narrow');
      await page.setViewportSize({ width: 400, height: 800 });
      await page.getByText('portal-target').first().waitFor();
      await screenshot(page, '02-my-access-narrow');
      await page.setViewportSize({ width: 1280, height: 800 });
      await term.setViewportSize({ width: 1280, height: 800 });

      await term.keyboard.type('exit');
      await term.keyboard.press('Enter');
      const banner = term.getByRole('status').filter({ hasText: 'Session ended' });
      await banner.waitFor();
      assert.match(await banner.innerText(), /Session ended: .+/);
      await term.getByText('Ended', { exact: true }).waitFor();
      await screenshot(term, '03-terminal-ended');

      const s = await until(async () => {
        const r = await admin('GET', `/api/v1/sessions?secretId=${secretId}&userId=${ids.tina}&limit=1`);
        const x = r.body.items[0];
        return x?.status === 'ended' && x.recording.available ? x : null;
      }, 'the browser session ended and its recording is available');
      assert.equal(s.door, 'web');
      webSessionId = s.id;
      await term.close();
    }));

  let auditor: Ctx;

  it('finds the session under Recordings, searches a typed word, replays it', () =>
    step(async () => {
      auditor = await context();
      const { page } = auditor;
      await signIn(page, 'audrey', USERS.audrey.password);
      await nav(page, 'Recordings');
      const row = page.getByRole('row').filter({ hasText: 'portal-target' }).filter({ hasText: 'tina' });
      await row.waitFor();
      await screenshot(page, '04-recordings');

      await page.getByRole('searchbox', { name: 'Search typed text in recordings' }).fill('portal');
      const hit = page.locator('.hit').filter({ hasText: 'tina → portal-target' });
      await hit.waitFor();
      assert.match(await hit.locator('.hit-lines').innerText(), /echo portal-\$\(\(40\+2\)\)/);
      assert.equal(await hit.locator('mark').first().innerText(), 'portal');
      await screenshot(page, '04-recordings-search');
      await hit.getByRole('link', { name: 'tina → portal-target' }).click();
      await page.waitForURL(new RegExp(`/recordings/${webSessionId}`));
      await page.getByRole('heading', { name: 'tina → portal-target', level: 1 }).waitFor();

      // The player is there, and the typed line is listed.
      await page.locator('.ap-player').waitFor();
      const typed = page.locator('.typed-lines');
      await typed.waitFor();
      assert.match(await typed.innerText(), /echo portal-\$\(\(40\+2\)\)/);
      // Before playing the screen is empty; pressing play shows the session's output.
      const screen = page.locator('.ap-term');
      await screen.waitFor();
      assert.doesNotMatch(await screen.innerText(), /portal-42/);
      await page.locator('.player-host .ap-play-button').click();
      await until(async () => /portal-42/.test(await screen.innerText()), 'the player shows portal-42 after play');
      assert.match(await page.locator('.ap-time-elapsed').innerText(), /^\d+:\d\d$/);
      // A typed line jumps there: it becomes the current line.
      await typed.getByRole('button').filter({ hasText: 'echo portal-' }).click();
      await page.locator('.typed-lines li.active').waitFor();
      await screenshot(page, '05-recording-detail');
    }));

  it('an auditor watches a live ssh session read-only, then terminates it with a reason', () =>
    step(async () => {
      const token = await gw.userToken('bob', USERS.bob.password);
      const l = await launch(gw, secretId, { token });
      const c = clientFor(gw, l.knownHosts);
      sshProc = interactive([...c.base(), `${l.ticket}@127.0.0.1`]);
      await sshProc.waitFor(PROMPT);

      const { page } = auditor;
      await nav(page, 'Live sessions');
      const row = page.getByRole('row').filter({ hasText: 'bob' });
      await row.waitFor();
      assert.match(await row.innerText(), /portal-target/);
      await screenshot(page, '06-live-sessions');
      await row.getByRole('link', { name: 'Watch' }).click();
      await page.getByText('Watching live — read only.').waitFor();
      await page.locator('.status-pill').filter({ hasText: 'Live' }).waitFor();
      sshProc.write('echo watch-$((6*7))\r');
      await sshProc.waitFor(/watch-42\r?\n/);
      await waitForTerminalText(page, /^watch-42\s*$/m);
      await screenshot(page, '07-watch');

      await page.getByRole('button', { name: 'Terminate' }).click();
      const dialog = page.getByRole('dialog', { name: 'Terminate this session?' });
      await dialog.waitFor();
      await dialog.getByLabel('Reason').fill('e2e audit stop');
      await screenshot(page, '07-watch-terminate');
      await dialog.getByRole('button', { name: 'Terminate' }).click();
      await dialog.waitFor({ state: 'detached' });

      // The person on the ssh client sees why, and the live view shows the end.
      await sshProc.waitFor(/e2e audit stop/);
      const done = await sshProc.done;
      assert.notEqual(done.code, 0);
      sshProc = null;
      const ended = page.getByRole('status').filter({ hasText: 'Session ended.' });
      await ended.waitFor();
      await until(async () => /e2e audit stop/.test(await ended.innerText()), 'the end reason in the live view');
      await screenshot(page, '07-watch-ended');
      assert.ok(!(await terminalText(page)).includes(TARGET_PASSWORD));
    }));

  it('an administrator creates a secret, shares it, and creates a session connector launcher', () =>
    step(async () => {
      const { page } = await context();
      await signIn(page, 'admin', ADMIN_PASSWORD);
      await nav(page, 'Secrets & folders');
      await screenshot(page, '20-admin-secrets');
      await page.getByRole('link', { name: 'New secret' }).first().click();
      await page.getByRole('heading', { name: 'New secret', level: 1 }).waitFor();
      await page.getByLabel('Template').selectOption({ label: 'Unix Account' });
      await page.getByLabel('Name', { exact: true }).fill('e2e-db1');
      await page.getByLabel(/^Machine/).fill('127.0.0.1');
      await page.getByLabel('Port', { exact: true }).fill(String(sshd.port));
      await page.getByLabel(/^Username/).fill('ghtarget');
      await page.getByLabel('Password', { exact: true }).fill(TARGET_PASSWORD);
      await screenshot(page, '20-admin-secret-new');
      await page.getByRole('button', { name: 'Create secret' }).click();
      await page.getByRole('heading', { name: 'e2e-db1', level: 1 }).waitFor();
      const newId = /\/admin\/secrets\/([^/?#]+)/.exec(page.url())?.[1];
      assert.ok(newId && newId !== 'new', page.url());

      // Sharing editor: one user, view.
      await page.getByRole('button', { name: 'Add entry' }).click();
      // The creator is the owner already; the new entry is the last row.
      await page.getByLabel('User or group').first().waitFor();
      assert.equal(await page.getByLabel('User or group').first().inputValue(), 'admin');
      await page.getByLabel('User or group').last().fill('carol');
      await page.getByLabel('Access', { exact: true }).last().selectOption('view');
      await page.getByRole('button', { name: 'Save sharing' }).click();
      await page.getByText('Sharing saved').waitFor();
      // (Viewport shots: the sticky navigation lands mid-page in full-page captures.)
      await page.getByRole('heading', { name: 'Sharing' }).scrollIntoViewIfNeeded();
      await screenshot(page, '20-admin-secret-shared');

      await nav(page, 'Launchers');
      await screenshot(page, '21-admin-launchers');
      await page.getByRole('link', { name: 'New session connector' }).click();
      await page.getByRole('heading', { name: 'New session connector', level: 1 }).waitFor();
      await page.getByLabel('Name', { exact: true }).fill('e2e-connector');
      await page.getByLabel('Child launcher type').selectOption('ssh');
      await page.getByLabel('Gateway host').fill('gw2.example.test');
      await page.getByLabel('Gateway port').fill('2222');
      await screenshot(page, '21-admin-launcher-new');
      await page.getByRole('button', { name: 'Create launcher' }).click();
      await page.getByRole('heading', { name: 'e2e-connector', level: 1 }).waitFor();
      await page.getByText('Launcher e2e-connector created').waitFor();

      // The API sees what the pages made.
      const secret = await admin('GET', `/api/v1/secrets/${newId}`);
      assert.equal(secret.status, 200, secret.raw);
      assert.equal(secret.body.name, 'e2e-db1');
      assert.equal(secret.body.template.id, 'unix-account');
      assert.equal(secret.body.fields.machine, '127.0.0.1');
      assert.equal(Number(secret.body.fields.port), sshd.port);
      assert.ok(secret.body.secretFields.includes('password'));
      assert.ok(!secret.raw.includes(TARGET_PASSWORD));
      const acl = await admin('GET', `/api/v1/secrets/${newId}/permissions`);
      assert.equal(acl.status, 200, acl.raw);
      const entries = acl.body.entries.map((e: { principalType: string; principalId: string; level: string }) => `${e.principalType}:${e.principalId}:${e.level}`).sort();
      assert.ok(entries.includes(`user:${ids.carol}:view`), JSON.stringify(acl.body));
      assert.equal(entries.length, 2, JSON.stringify(acl.body));
      const launchers = await admin('GET', '/api/v1/launchers');
      const conn = launchers.body.items.find((x: { name: string }) => x.name === 'e2e-connector');
      assert.ok(conn, JSON.stringify(launchers.body.items.map((x: { name: string }) => x.name)));
      assert.equal(conn.type, 'session-connector');
      assert.equal(conn.childType ?? conn.protocol, 'ssh');
      assert.equal(conn.gatewayHost, 'gw2.example.test');
      assert.equal(conn.gatewayPort, 2222);

      // Every other administration page renders.
      for (const [link, heading, shot] of [
        ['Users', 'Users', '22-admin-users'],
        ['Groups', 'Groups', '23-admin-groups'],
        ['Roles', 'Roles', '24-admin-roles'],
        ['Templates', 'Templates', '25-admin-templates'],
        ['Settings', 'Settings', '26-admin-settings'],
        ['Audit log', /Audit/, '27-admin-audit'],
      ] as const) {
        await nav(page, link, heading);
        await page.locator('.loading').first().waitFor({ state: 'detached' }).catch(() => undefined);
        await screenshot(page, shot);
      }
    }));
});
