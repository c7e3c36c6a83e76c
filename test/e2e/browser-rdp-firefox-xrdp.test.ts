// Firefox (Debian's firefox-esr over WebDriver BiDi) in a browser RDP session to xrdp: the
// clipboard, the display and the password scan (issue 14 points 3, 5 and 8 "in both
// browsers"; the Chromium side is browser-rdp.test.ts, the basic Firefox session is
// browser-rdp-firefox.test.ts). A launcher that allows the clipboard carries text both ways
// between Firefox's clipboard and the xrdp session's X clipboard (read and set by a Tk client
// on the session's display); one that denies it has the relay drop cliprdr and nothing
// crosses. GUAC_WIDTH/GUAC_HEIGHT choose the desktop and a smaller window scales it to fit;
// without them the desktop follows a window resize (Display Control) or, where the target
// cannot resize, is scaled to fit. No form of the password (UTF-8, UTF-16LE, base64) is in any
// WebSocket message, HTTP body or page Firefox received. Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UI_DIR } from '../../src/web/ui.js';
import { CANVAS_INFO, type CanvasInfo } from '../support/rdp-canvas.js';
import { ensureTargetAccount } from '../support/accounts.js';
import { until } from '../support/browser.js';
import { Firefox, type FirefoxPage } from '../support/firefox.js';
import { captureReceived, type FirefoxReceived } from '../support/firefox-capture.js';
import { disconnectAndScan as scanAfter, openInFirefox } from '../support/firefox-rdp.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { holdTargetClipboard, rdpAdmin, targetClipboard as clipboardOn, xrdpSessionDisplay, xrdpSessionEnv } from '../support/rdp-browser-session.js';
import { startXrdp, XRDP_DESKTOP_RGB, type Xrdp } from '../support/xrdp.js';

describe('browser RDP in Firefox: clipboard, display and the password scan (xrdp)', { timeout: 420_000 }, () => {
  let gw: Gateway;
  let xrdp: Xrdp;
  let ff: Firefox;
  let page: FirefoxPage;
  let received: FirefoxReceived;
  const account = ensureTargetAccount();
  const api = rdpAdmin(() => gw);
  const admin = api.call;
  const step = (name: string, fn: () => Promise<void>) => ff.step(name)(fn);
  let secretId = '';

  before(async () => {
    assert.ok(existsSync(join(UI_DIR, 'index.html')), 'the UI is built (npm run build)');
    // The async clipboard without a user gesture (what a person's click on the page grants).
    [gw, xrdp, ff] = await Promise.all([startGateway('sqlite'), startXrdp({ clipboard: true }), Firefox.launch({ prefs: { 'dom.events.testing.asyncClipboard': true } })]);
    received = await captureReceived(ff);
    // The web client's clipboard runs only while the page has focus; headless Firefox has no focused window.
    await ff.pagesReportFocus();
    page = await ff.firstPage();
    const on = await admin('PATCH', '/api/v1/settings', { sessionConnector: true });
    assert.equal(on.status, 200, on.raw);
    secretId = await api.windowsSecret('xrdp-firefox-clip', xrdp.port, account.username, account.password);
  });

  after(async () => {
    await ff?.close();
    await gw?.close();
    await xrdp?.stop();
  });

  const sessionsOf = () => api.sessionsOf(secretId);
  const xrdpDisplay = () => xrdpSessionDisplay(xrdp);
  const xenv = () => xrdpSessionEnv(xrdp, account.home);
  /** The target session's X clipboard (CLIPBOARD selection), read by a Tk client on its display. */
  const targetClipboard = () => clipboardOn(xenv());
  /** Firefox's clipboard: writes text (when given) or reads it. */
  const pageClipboard = (text?: string) => page.evaluate('(t) => (t === undefined ? navigator.clipboard.readText() : navigator.clipboard.writeText(t).then(() => t))', text) as Promise<string>;

  const open = (body: Record<string, unknown>, query = '') => openInFirefox(page, { gw, api, secretId, rgb: XRDP_DESKTOP_RGB, what: 'the xrdp desktop on the canvas', body, query });
  /** Disconnects, then scans what Firefox received during this page's session for the password. */
  const disconnectAndScan = () => scanAfter(page, received, sessionsOf, account.password, 20);

  it('clipboard text both ways when the launcher allows it; none when it denies it (the relay drops cliprdr)', async () => {
    const allowed = await api.clipboardLauncher('ff-rdp-clip-on', true);
    const denied = await api.clipboardLauncher('ff-rdp-clip-off', false);
    let setter: ChildProcess | null = null;
    await step('firefox-rdp-xrdp-clipboard', async () => {
      const on = await open({ launcher: allowed });
      // Firefox → target: Firefox's clipboard becomes the remote X clipboard.
      await pageClipboard('gh-ff-clip-from-browser-7');
      await until(async () => (await targetClipboard()) === 'gh-ff-clip-from-browser-7', 'the Firefox clipboard on the target', 30_000).catch(async (e) => {
        throw new Error(`${(e as Error).message}\ntarget has ${JSON.stringify(await targetClipboard())} on ${xrdpDisplay()}\nnotes:\n${(await api.events(on.sessionId)).map((t) => t.slice(0, 300)).join('\n')}\nfocus: ${await page.evaluate('() => document.hasFocus()')}\nfirefox: ${ff.problems.join('\n')}`);
      });
      // Target → Firefox: a text copied on the remote desktop reaches Firefox's clipboard.
      setter = holdTargetClipboard(xenv(), 'gh-ff-clip-from-target-8');
      await until(async () => (await pageClipboard()) === 'gh-ff-clip-from-target-8', 'the target clipboard in Firefox', 30_000);
      (setter as ChildProcess | null)?.kill();
      setter = null;
      await disconnectAndScan();

      // Denied: the same Firefox clipboard; nothing crosses, and the session says why.
      await pageClipboard('gh-ff-clip-denied-9');
      const off = await open({ launcher: denied });
      await pageClipboard('gh-ff-clip-denied-10');
      await until(async () => (await api.events(off.sessionId)).some((t) => t.startsWith('rdp_channel_denied ') && t.includes('cliprdr')), 'the relay to drop cliprdr', 20_000);
      for (let i = 0; i < 3; i++) {
        const seen = await targetClipboard();
        assert.ok(!seen.startsWith('gh-ff-clip-denied'), `the target got ${seen}`);
        await sleep(1000);
      }
      setter = holdTargetClipboard(xenv(), 'gh-ff-clip-denied-target-11');
      await sleep(3000);
      assert.equal(await pageClipboard(), 'gh-ff-clip-denied-10', 'the target clipboard did not reach Firefox');
      await disconnectAndScan();
    }).finally(() => (setter as ChildProcess | null)?.kill());
  });

  it('display: GUAC_WIDTH/GUAC_HEIGHT choose the desktop; a window smaller than the desktop scales it to fit', () =>
    step('firefox-rdp-xrdp-guac', async () => {
      const { info } = await open({}, '&GUAC_WIDTH=1024&GUAC_HEIGHT=640&GUAC_DPI=96');
      assert.deepEqual([info.width, info.height], [1024, 640], 'the desktop asked for');
      await page.setViewport(700, 500);
      const fitted = await page.waitForFunction<CanvasInfo>(
        `() => { const i = (${CANVAS_INFO})(${XRDP_DESKTOP_RGB}); return i.cssWidth <= 700 && i.cssHeight <= 500 && i.cssWidth > 300 && i.share > 0.3 ? i : null; }`,
        'the canvas scaled into the smaller window',
        { timeoutMs: 15_000 },
      );
      assert.ok(Math.abs(fitted.cssWidth / fitted.cssHeight - 1024 / 640) < 0.02, `the shape is kept (${fitted.cssWidth}x${fitted.cssHeight})`);
      assert.deepEqual([fitted.width, fitted.height], [1024, 640], 'a GUAC_* size stays fixed');
      await page.screenshot('firefox-rdp-xrdp-guac-fitted');
      await disconnectAndScan();
      await page.setViewport(1280, 800);
    }));

  it('window resize: without GUAC_* the desktop follows the window or is scaled to fit it', () =>
    step('firefox-rdp-xrdp-resize', async () => {
      await page.setViewport(1280, 800);
      const { info } = await open({});
      assert.ok(info.width >= 1000 && info.width <= 1280, `the desktop is sized from the window (${info.width}x${info.height})`);
      await page.setViewport(900, 640);
      const after = await page.waitForFunction<CanvasInfo>(
        `() => { const i = (${CANVAS_INFO})(${XRDP_DESKTOP_RGB}); return i.cssWidth <= 900 && i.cssHeight <= 640 && i.cssWidth > 300 && i.share > 0.3 ? i : null; }`,
        'the desktop to fit the resized window',
        { timeoutMs: 30_000 },
      );
      const followed = after.width !== info.width || after.height !== info.height;
      // Followed (Display Control): the new desktop fills the window's width; scaled: the shape is kept.
      if (followed) assert.ok(after.width <= 900 && after.width >= 700, `the desktop follows the window (${after.width}x${after.height})`);
      else assert.ok(Math.abs(after.cssWidth / after.cssHeight - info.width / info.height) < 0.02, `the shape is kept (${after.cssWidth}x${after.cssHeight})`);
      await page.screenshot(`firefox-rdp-xrdp-resized-${followed ? 'followed' : 'scaled'}`);
      await disconnectAndScan();
      await page.setViewport(1280, 800);
    }));
});
