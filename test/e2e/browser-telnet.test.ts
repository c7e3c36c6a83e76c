// A Telnet target in the browser terminal, end to end in headless Chromium
// (playwright-core) against a whole Gatehouse and inetutils telnetd: sign in, open the
// Telnet launcher, agree to the recording, type a command only the target's real shell
// can answer, exit, then find and replay the session under Recordings. Every WebSocket
// frame the browser received and every HTTP answer it loaded are kept and searched for
// the vaulted password (UTF-8, Latin-1, UTF-16LE, base64 at every alignment).
// Screenshots go to test-artifacts/screenshots. Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { ensureLocalAccount } from '../support/accounts.js';
import { launchBrowser, newContext, screenshot, screenshotDir, signInPortal, until, waitForTerminalText, type Ctx, stepRunner } from '../support/browser.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { wireLeaks, type Blob } from '../support/scan.js';
import { startTelnetd, type TelnetdHandle } from '../support/telnetd.js';

/** The Telnet target's account; a non-ASCII password (Gatehouse negotiates Telnet BINARY, so UTF-8 arrives whole). */
const TARGET = { username: 'ghleakweb', password: `Web-Tn-Ünïcødé-€-${randomBytes(6).toString('hex')}-Pw!7` };
const USERS = {
  tess: { password: 'tess-Telnet-pass-1', roles: ['User'] },
  audra: { password: 'audra-Telnet-pass-1', roles: ['Auditor'] },
};
const SECRET_NAME = 'telnet-box';
/** `$((6*7))` is arithmetic only a shell does; /proc/$PPID/comm names the process that started it (login, under telnetd). */
const COMMAND = 'echo $((6*7))-marker-$(cat /proc/$PPID/comm)';
const OUTPUT = /^42-marker-login\s*$/m;

/** What a browser context received: every WebSocket frame (all pages) and every HTTP answer's body. */
interface Received {
  frames: Blob[];
  bodies: Promise<Blob | null>[];
  all(): Promise<Blob[]>;
}

function receive(c: Ctx, label: string): Received {
  const r: Received = {
    frames: [],
    bodies: [],
    all: async () => [...r.frames, ...((await Promise.all(r.bodies)).filter(Boolean) as Blob[])],
  };
  const watch = (p: Page) =>
    p.on('websocket', (ws) => {
      const path = new URL(ws.url()).pathname;
      ws.on('framereceived', (f) => r.frames.push({ name: `${label}: websocket frame ${path} #${r.frames.length + 1}`, data: Buffer.isBuffer(f.payload) ? f.payload : Buffer.from(f.payload, 'utf8') }));
    });
  watch(c.page);
  c.context.on('page', watch);
  c.context.on('response', (res) =>
    r.bodies.push(
      res.body().then(
        (data) => ({ name: `${label}: ${res.request().method()} ${new URL(res.url()).pathname}`, data }),
        () => null, // redirects and aborted loads have no body
      ),
    ),
  );
  return r;
}

describe('browser Telnet session in Chromium', { timeout: 120_000 }, () => {
  let telnetd: TelnetdHandle;
  let gw: Gateway;
  let browser: Browser;
  let secretId: string;
  let sessionId: string;
  const contexts: Ctx[] = [];
  const received: Received[] = [];

  const url = (path = '/') => `${gw.running.url}${path}`;
  const admin = (method: string, path: string, body?: unknown) => gw.api(method, path, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });

  async function context(label: string): Promise<Ctx> {
    const c = await newContext(browser, gw.running.url);
    contexts.push(c);
    received.push(receive(c, label));
    return c;
  }

  const signIn = signInPortal;

  before(async () => {
    assert.ok(existsSync(`${UI_DIR}/index.html`), 'the UI is built (npm run build)');
    ensureLocalAccount(TARGET.username, TARGET.password);
    const dir = screenshotDir();
    for (const f of readdirSync(dir)) if (f.startsWith('telnet-failed-')) rmSync(join(dir, f));
    [telnetd, gw, browser] = await Promise.all([startTelnetd(), startGateway('sqlite'), launchBrowser()]);
    const s = await admin('POST', '/api/v1/secrets', { name: SECRET_NAME, template: 'unix-account', fields: { machine: '127.0.0.1', port: telnetd.port, username: TARGET.username, password: TARGET.password } });
    assert.equal(s.status, 201, s.raw);
    secretId = s.body.id;
    for (const [username, u] of Object.entries(USERS)) {
      const r = await admin('POST', '/api/v1/users', { username, password: u.password, roles: u.roles });
      assert.equal(r.status, 201, r.raw);
    }
    const acl = await admin('PUT', `/api/v1/secrets/${secretId}/permissions`, { entries: [{ principalType: 'user', principal: 'tess', level: 'view' }] });
    assert.equal(acl.status, 200, acl.raw);
  });

  after(async () => {
    await browser?.close();
    await gw?.close();
    await telnetd?.stop();
  });

  const step = stepRunner(contexts, 'telnet');

  it('opens the Telnet launcher in the browser terminal: the real shell answers, exit ends the session; no frame carries the password', () =>
    step(async () => {
      const c = await context('tess');
      const { page } = c;
      await signIn(page, 'tess', USERS.tess.password);
      const row = page.getByRole('row').filter({ hasText: SECRET_NAME });
      const telnet = row.locator('.launcher-row').filter({ hasText: /^Telnet/ }).getByRole('link', { name: 'Open in browser' });
      assert.equal(await telnet.getAttribute('href'), `/terminal/${secretId}/telnet`);
      await screenshot(page, 'telnet-01-my-access');
      const [term] = await Promise.all([c.context.waitForEvent('page'), telnet.click()]);
      await term.getByRole('heading', { name: 'This session is recorded' }).waitFor();
      await term.getByRole('button', { name: 'I agree' }).click();
      await term.getByText('Connected', { exact: true }).waitFor();
      // Logged in by Gatehouse: the person lands at the shell prompt, no login dialogue shown.
      const first = await waitForTerminalText(term, new RegExp(`${TARGET.username}@[^\\s:]*:[^\\n]*\\$`), 20_000);
      assert.doesNotMatch(first, /^(?!Last )\S+ login:|Password:/m);
      await term.locator('.xterm').click();
      await term.keyboard.type(COMMAND);
      await term.keyboard.press('Enter');
      const screen = await waitForTerminalText(term, OUTPUT);
      assert.ok(!screen.includes(TARGET.password));
      await screenshot(term, 'telnet-02-terminal');

      await term.keyboard.type('exit');
      await term.keyboard.press('Enter');
      const banner = term.getByRole('status').filter({ hasText: 'Session ended' });
      await banner.waitFor();
      await term.getByText('Ended', { exact: true }).waitFor();
      await screenshot(term, 'telnet-03-ended');

      const s = await until(async () => {
        const r = await admin('GET', `/api/v1/sessions?secretId=${secretId}&limit=1`);
        const x = r.body.items[0];
        return x?.status === 'ended' && x.recording.available ? x : null;
      }, 'the Telnet session ended and its recording is available');
      assert.equal(s.door, 'web');
      assert.equal(s.protocol, 'telnet');
      sessionId = s.id;

      const r = received[0]!;
      assert.ok(r.frames.length > 0, 'the browser received WebSocket frames');
      const blobs = await r.all();
      assert.notDeepEqual(wireLeaks(r.frames, { marker: '42-marker-login' }), [], 'the scan sees the output in the frames');
      assert.deepEqual(wireLeaks(blobs, { password: TARGET.password }), [], 'the vaulted password reached the browser');
      await term.close();
    }));

  it('the session is listed under Recordings and replays the shell output; nothing the auditor loads carries the password', () =>
    step(async () => {
      assert.ok(sessionId, 'the session of the first test');
      const { page } = await context('audra');
      await signIn(page, 'audra', USERS.audra.password);
      await page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: 'Recordings', exact: true }).click();
      await page.getByRole('heading', { name: 'Recordings', level: 1 }).waitFor();
      const row = page.getByRole('row').filter({ hasText: SECRET_NAME }).filter({ hasText: 'tess' });
      await row.waitFor();
      assert.match(await row.innerText(), /Telnet/);
      await screenshot(page, 'telnet-04-recordings');
      await row.getByRole('link', { name: 'Play' }).click();
      await page.waitForURL(new RegExp(`/recordings/${sessionId}`));
      await page.getByRole('heading', { name: `tess → ${SECRET_NAME}`, level: 1 }).waitFor();
      const typed = page.locator('.typed-lines');
      await typed.waitFor();
      assert.match(await typed.innerText(), /echo \$\(\(6\*7\)\)-marker/);
      const screen = page.locator('.ap-term');
      await screen.waitFor();
      await page.locator('.player-host .ap-play-button').click();
      await until(async () => /42-marker-login/.test(await screen.innerText()), 'the player shows the shell output after play');
      await screenshot(page, 'telnet-05-recording');

      const blobs = await received[1]!.all();
      assert.ok(blobs.some((b) => b.name.endsWith(`/api/v1/recordings/${sessionId}`)), 'the recording itself was loaded and is scanned');
      assert.deepEqual(wireLeaks(blobs, { password: TARGET.password }), [], 'the vaulted password reached the auditor');
      assert.deepEqual(wireLeaks([{ name: 'gateway log', data: Buffer.from(gw.logs()) }], { password: TARGET.password }), []);
    }));
});
