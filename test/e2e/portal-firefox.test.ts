// The web portal in Firefox (Debian's firefox-esr, driven over WebDriver BiDi by
// test/support/firefox.ts) against a whole Gatehouse and a real OpenSSH target: sign-in with
// password and TOTP, My access, a browser SSH session with a typed command and its output,
// the session under Recordings and its replay, and the layout of a phone-sized window
// (drawer navigation, terminal refit). Screenshots of every page go to
// test-artifacts/screenshots/firefox-*.png. Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UI_DIR } from '../../src/web/ui.js';
import { ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { screenshotDir, until } from '../support/browser.js';
import { exact, Firefox, type FirefoxPage } from '../support/firefox.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { nextTotp } from '../support/totp.js';

// One person who may both use the secret and review recordings (User + Auditor).
const FERN = { username: 'fern', password: 'fern-Firefox-pass-1', roles: ['User', 'Auditor'] };
const SECRET = 'firefox-target';
// A marker only the shell's arithmetic can print: seeing it proves the command ran.
const TAG = randomBytes(4).toString('hex');
const COMMAND = `echo firefox-$((40+2))-${TAG}`;
const OUTPUT = new RegExp(`^firefox-42-${TAG}\\s*$`, 'm');

/** A page's document is no wider than its window (nothing pushes the layout sideways). */
const noSidewaysScroll = (p: FirefoxPage) => p.evaluate<boolean>('() => document.documentElement.scrollWidth <= window.innerWidth');

describe('web portal in Firefox', { timeout: 120_000 }, () => {
  let sshd: Sshd;
  let gw: Gateway;
  let ff: Firefox;
  let page: FirefoxPage;
  let term: FirefoxPage;
  let secretId: string;
  let fernId: string;
  let seed: string;
  let sessionId: string;

  const url = (path = '/') => `${gw.running.url}${path}`;
  const admin = (method: string, path: string, body?: unknown) => gw.api(method, path, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });
  const heading = (text: string) => exact('h1', text);
  const button = (text: string) => exact('button', text);
  const shot = (p: FirefoxPage, name: string) => p.screenshot(`firefox-${name}`);

  before(async () => {
    assert.ok(existsSync(`${UI_DIR}/index.html`), 'the UI is built (npm run build)');
    ensureTargetAccount();
    const dir = screenshotDir();
    for (const f of readdirSync(dir)) if (f.startsWith('firefox-failed-')) rmSync(join(dir, f));
    [sshd, gw, ff] = await Promise.all([startSshd(), startGateway('sqlite'), Firefox.launch()]);
    const s = await admin('POST', '/api/v1/secrets', { name: SECRET, template: 'unix-account', fields: { machine: '127.0.0.1', port: sshd.port, username: 'ghtarget', password: TARGET_PASSWORD } });
    assert.equal(s.status, 201, s.raw);
    secretId = s.body.id;
    const u = await admin('POST', '/api/v1/users', { username: FERN.username, password: FERN.password, roles: FERN.roles });
    assert.equal(u.status, 201, u.raw);
    fernId = u.body.id;
    const acl = await admin('PUT', `/api/v1/secrets/${secretId}/permissions`, { entries: [{ principalType: 'user', principal: FERN.username, level: 'view' }] });
    assert.equal(acl.status, 200, acl.raw);
    // Her second factor is enrolled through the API; the browser signs in with it.
    const token = await gw.userToken(FERN.username, FERN.password);
    const en = await gw.api('POST', '/api/v1/me/totp', { token });
    assert.equal(en.status, 200, en.raw);
    seed = en.body.secret;
    const cf = await gw.api('POST', '/api/v1/me/totp/confirm', { token, body: { code: await nextTotp(seed) } });
    assert.equal(cf.status, 200, cf.raw);
    page = await ff.firstPage();
  });

  after(async () => {
    await ff?.close();
    await gw?.close();
    await sshd?.stop();
  });

  // Failure messages carry the pages' errors and a screenshot of every tab.
  const step = (fn: () => Promise<void>) => ff.step('firefox')(fn);

  it('signs in with password and TOTP and shows My access with the secret', () =>
    step(async () => {
      await page.navigate(url('/'));
      await page.waitFor(heading('Sign in'));
      await shot(page, '01-sign-in');
      await page.fill({ label: 'Username' }, FERN.username);
      await page.fill({ label: 'Password' }, FERN.password);
      await page.click(button('Sign in'));
      await page.waitFor({ label: 'Authentication code' });
      assert.equal(await page.exists('[role=alert]'), false, 'asking for the code is not an error');
      await shot(page, '01-sign-in-totp');
      await page.fill({ label: 'Authentication code' }, await nextTotp(seed));
      await page.click(button('Verify and sign in'));
      await page.waitFor(heading('My access'));
      await page.waitFor(exact('td .cell-title', SECRET));
      // The row's launch controls follow once templates and launchers have loaded.
      await page.waitFor({ css: 'td.col-actions [aria-busy=true]' }, { gone: true });
      await shot(page, '02-my-access');
    }));

  it('opens a browser SSH session in a new tab, runs a typed command and shows its output', () =>
    step(async () => {
      // The SSH launcher's button (the template also has Telnet and RDP ones) opens a new tab.
      const link = { css: `tr .launcher-row a[href="/terminal/${secretId}/ssh"][target=_blank]`, text: 'Open in browser' };
      term = await ff.waitForNewPage(() => page.click(link));
      await term.waitFor(exact('h2', 'This session is recorded'));
      assert.match(await term.text('.consent-text'), /record/i);
      await shot(term, '03-terminal-consent');
      await term.click(button('I agree'));
      await term.waitFor(exact('.status-pill', 'Connected'));
      await term.waitForTerminalText(/ghtarget@/);
      // A click in the terminal gives xterm.js the keyboard; then real key presses.
      await term.click('.xterm-screen');
      await term.type(COMMAND);
      await term.press('Enter');
      const screen = await term.waitForTerminalText(OUTPUT);
      assert.ok(!screen.includes(TARGET_PASSWORD));
      await shot(term, '03-terminal');

      // A phone-sized window: the terminal refits and still takes input.
      await term.setViewport(390, 844);
      await until(async () => (await term.evaluate<number>(`() => document.querySelector('.xterm-screen').getBoundingClientRect().right`)) <= 390, 'the terminal fits the narrow window');
      assert.ok(await noSidewaysScroll(term), 'the terminal page does not scroll sideways at 390 px');
      await term.type('echo narrow-$((1+1))');
      await term.press('Enter');
      await term.waitForTerminalText(/^narrow-2\s*$/m);
      await shot(term, '03-terminal-narrow');
      await term.setViewport(1280, 800);

      await term.type('exit');
      await term.press('Enter');
      const banner = await term.text({ css: '[role=status]', text: 'Session ended' });
      assert.match(banner, /Session ended: .+/);
      await term.waitFor(exact('.status-pill', 'Ended'));
      await shot(term, '03-terminal-ended');

      const s = await until(async () => {
        const r = await admin('GET', `/api/v1/sessions?secretId=${secretId}&userId=${fernId}&limit=1`);
        const x = r.body.items[0];
        return x?.status === 'ended' && x.recording.available ? x : null;
      }, 'the browser session ended and its recording is available');
      assert.equal(s.door, 'web');
      sessionId = s.id;
      await term.close();
    }));

  it('lists the session under Recordings and replays it', () =>
    step(async () => {
      await page.activate();
      await page.click({ css: 'nav[aria-label="Main navigation"] a', text: 'Recordings' });
      await page.waitFor(heading('Recordings'));
      const row = { css: 'tbody tr', text: new RegExp(`${FERN.username}[\\s\\S]*${SECRET}`) };
      await page.waitFor(row);
      await shot(page, '04-recordings');
      await page.click(exact('tbody tr a', 'Play'));
      await until(async () => (await page.url()).endsWith(`/recordings/${sessionId}`), 'the recording page of the session');
      await page.waitFor('.ap-player');
      assert.ok((await page.text('.typed-lines')).includes(COMMAND), 'the typed command is listed');
      assert.doesNotMatch(await page.text('.ap-term'), OUTPUT);
      await page.click('.player-host .ap-play-button');
      await until(async () => OUTPUT.test(await page.text('.ap-term')), 'the player shows the command output after play');
      await shot(page, '05-recording-detail');
    }));

  it('in a phone-sized window the navigation is a drawer that opens, leads to a page and closes', () =>
    step(async () => {
      await page.setViewport(390, 844);
      await page.navigate(url('/'));
      await page.waitFor(heading('My access'));
      await page.waitFor(exact('td .cell-title', SECRET));
      assert.ok(await noSidewaysScroll(page), 'My access does not scroll sideways at 390 px');
      const recordings = { css: 'nav[aria-label="Main navigation"] a', text: 'Recordings' };
      assert.equal(await page.inViewport(recordings), false, 'the navigation starts hidden');
      await shot(page, '06-narrow-my-access');
      await page.click('button[aria-label="Open navigation"]');
      await until(() => page.inViewport(recordings), 'the drawer slides in');
      await shot(page, '06-narrow-navigation');
      // A real click at the link's centre: it must be on top of the scrim.
      await page.click(recordings);
      await page.waitFor(heading('Recordings'));
      await until(async () => !(await page.inViewport(recordings)), 'the drawer closes after navigating');
      await page.waitFor({ css: 'tbody tr', text: SECRET });
      assert.ok(await noSidewaysScroll(page), 'Recordings does not scroll sideways at 390 px');
      await shot(page, '06-narrow-recordings');
      await page.setViewport(1280, 800);
    }));

  it('Firefox reported no console error and no uncaught exception on any page', () => {
    assert.deepEqual(ff.problems, []);
  });
});
