// Firefox (Debian's firefox-esr over WebDriver BiDi) as the owner of a browser RDP session to
// the NLA target, FreeRDP's shadow server (issue 14 points 3, 4, 5 and 8 "in both browsers";
// the Chromium side is browser-rdp.test.ts and browser-rdp-layouts-nla.test.ts): Gatehouse
// completes NLA with the vaulted credential; a click and keys pressed in Firefox reach the
// target's X server (xev on the shadowed display) under the us and de layouts (the display is
// given the launch's layout, as in the Chromium test: a shadowed X desktop composes with its
// own keymap); a launcher that allows the clipboard lets the web client's cliprdr channel
// through, one that denies it has the relay drop it (the shadow server itself has no
// clipboard, so what crosses is shown against xrdp in browser-rdp-firefox-xrdp.test.ts);
// GUAC_WIDTH/GUAC_HEIGHT reach the Connect Initial and a smaller window scales the desktop to
// fit. No form of the password (UTF-8, UTF-16LE, base64) is in any WebSocket message, HTTP
// body or page Firefox received. Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UI_DIR } from '../../src/web/ui.js';
import { CANVAS_INFO, type CanvasInfo } from '../support/rdp-canvas.js';
import { until } from '../support/browser.js';
import { Firefox, type FirefoxPage } from '../support/firefox.js';
import { captureReceived, type FirefoxReceived } from '../support/firefox-capture.js';
import { disconnectAndScan as scanAfter, firefoxCanvas, firefoxClickDesktop, firefoxKeys, openInFirefox, press, R_ALT, type Keys } from '../support/firefox-rdp.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { clickUntilXevSees, rdpAdmin, typedOnTarget, xevWindow } from '../support/rdp-browser-session.js';
import { SHADOW_DESKTOP_RGB, startShadowServer, type ShadowServer } from '../support/xrdp.js';

describe('browser RDP in Firefox as the session owner: NLA target (FreeRDP shadow server)', { timeout: 420_000 }, () => {
  let gw: Gateway;
  let shadow: ShadowServer;
  let ff: Firefox;
  let page: FirefoxPage;
  let received: FirefoxReceived;
  const shadowAccount = { username: 'ghffshadow', password: 'Sh4dow-Firefox-Vault-Pw!7q' };
  const api = rdpAdmin(() => gw);
  const admin = api.call;
  const step = (name: string, fn: () => Promise<void>) => ff.step(name)(fn);
  let secretId = '';
  let xev: ChildProcess | null = null;
  const xenv = () => ({ ...process.env, DISPLAY: shadow.display.display });

  before(async () => {
    assert.ok(existsSync(join(UI_DIR, 'index.html')), 'the UI is built (npm run build)');
    // The async clipboard without a user gesture (what a person's click on the page grants).
    [gw, shadow, ff] = await Promise.all([startGateway('sqlite'), startShadowServer(shadowAccount), Firefox.launch({ prefs: { 'dom.events.testing.asyncClipboard': true } })]);
    received = await captureReceived(ff);
    // The web client's clipboard runs only while the page has focus; headless Firefox has no focused window.
    await ff.pagesReportFocus();
    page = await ff.firstPage();
    const on = await admin('PATCH', '/api/v1/settings', { sessionConnector: true });
    assert.equal(on.status, 200, on.raw);
    secretId = await secretFor('shadow-firefox');
  });

  /** A secret for the shadow server running now. */
  const secretFor = (name: string) => api.windowsSecret(name, shadow.port, shadowAccount.username, shadowAccount.password);
  // Each layout gets a shadow server of its own (as in browser-rdp-layouts-nla.test.ts: a second
  // client of one shadow server had its pointer input go nowhere in full runs).
  const freshShadow = async (layout: string) => {
    await shadow?.stop();
    shadow = await startShadowServer(shadowAccount);
    secretId = await secretFor(`shadow-firefox-${layout}`);
  };

  after(async () => {
    xev?.kill();
    await ff?.close();
    await gw?.close();
    await shadow?.stop();
  });

  const sessionsOf = () => api.sessionsOf(secretId);

  /** Launches, opens the session page in Firefox, and waits for the shadowed desktop on the canvas. */
  const open = (body: Record<string, unknown>, query = '') => openInFirefox(page, { gw, api, secretId, rgb: SHADOW_DESKTOP_RGB, what: 'the shadowed desktop on the canvas', body, query, ticketLeaves: true });
  /** Disconnects, then scans what Firefox received during this page's session for the password (a still shadowed desktop sends little after its first picture: a few frames prove the collector). */
  const disconnectAndScan = () => scanAfter(page, received, sessionsOf, shadowAccount.password, 5);
  const keys = (values: Keys) => firefoxKeys(ff, page, values);

  const typeUnder = (layout: 'us' | 'de', actions: Keys, expected: string) =>
    step(`firefox-rdp-nla-layout-${layout}`, async () => {
      await freshShadow(layout);
      execFileSync('setxkbmap', [layout], { env: xenv() });
      try {
        const { sessionId } = await open({ keyboardLayout: layout });
        xev?.kill();
        const x = xevWindow(xenv(), ['keyboard', 'structure', 'button']);
        xev = x.proc;
        await until(async () => /MapNotify/.test(x.out()), 'the xev window on the target display', 15_000);
        // No window manager: the focus follows the pointer, so the pointer goes over xev's window.
        // Measured again for each click: Firefox reports the canvas before the page scales it to fit.
        await clickUntilXevSees(x.out, async () => firefoxClickDesktop(ff, page, await firefoxCanvas(page, SHADOW_DESKTOP_RGB), 550, 400), 'xev on the target to see a click from Firefox');
        await keys(actions);
        await typedOnTarget(x.out, expected, () => page.press('Enter'), () => api.textOf(sessionId));
        await page.screenshot(`firefox-rdp-nla-layout-${layout}`);
        await disconnectAndScan();
        const notes = await api.events(sessionId);
        assert.ok(notes.some((t) => t.startsWith('rdp_target_nla')), 'the gateway logged on to the target with NLA');
        if (layout === 'de') assert.ok(notes.some((t) => t.startsWith('rdp_keyboard_layout') && t.includes('German')), notes.join('\n'));
      } finally {
        execFileSync('setxkbmap', ['us'], { env: xenv() });
      }
    });

  it('us: a click and the physical keys Y and Z (y, z) reach the target and the keystroke log', () => typeUnder('us', [...press('y'), ...press('z'), ...press('2')], 'yz2'));

  it('de: the same physical keys give z and y, and AltGr+Q gives @', () => typeUnder('de', [...press('y'), ...press('z'), ...press('2'), ['down', R_ALT], ...press('q'), ['up', R_ALT]], 'zy2@'));

  it('clipboard: an allowing launcher lets the web client\'s cliprdr channel through; a denying one has the relay drop it', () =>
    step('firefox-rdp-nla-clipboard', async () => {
      const allowed = await api.clipboardLauncher('ff-nla-clip-on', true);
      const denied = await api.clipboardLauncher('ff-nla-clip-off', false);
      const on = await open({ launcher: allowed });
      await until(async () => (await api.events(on.sessionId)).some((t) => t.startsWith('rdp_channels ') && t.includes('"cliprdr"')), 'the web client in Firefox to ask for cliprdr', 20_000).catch(async (e) => {
        throw new Error(`${(e as Error).message}\n${(await api.events(on.sessionId)).join('\n')}`);
      });
      await disconnectAndScan();
      assert.ok(!(await api.events(on.sessionId)).some((t) => t.startsWith('rdp_channel_denied ') && t.includes('cliprdr')), 'the allowing launcher kept cliprdr');

      // The shadow server has no clipboard, so nothing crosses cliprdr to be dropped (xrdp's test
      // shows the drops); the relay says at the start that it drops the channel the client asked for.
      const off = await open({ launcher: denied });
      await until(async () => (await api.events(off.sessionId)).some((t) => t.startsWith('rdp_channel_policy ') && t.includes('"dropped":["cliprdr"]')), 'the relay to drop cliprdr', 20_000).catch(async (e) => {
        throw new Error(`${(e as Error).message}\n${(await api.events(off.sessionId)).join('\n')}`);
      });
      assert.ok((await api.events(off.sessionId)).some((t) => t.startsWith('rdp_channels ') && t.includes('"cliprdr"')), 'the web client asked for cliprdr');
      await disconnectAndScan();
    }));

  it('display: GUAC_WIDTH/GUAC_HEIGHT go into the Connect Initial; a window smaller than the desktop scales it to fit', () =>
    step('firefox-rdp-nla-display', async () => {
      // The launch names a layout so the relay notes the client's size (rdp_display_settings); the shadow server keeps its own 800x600.
      const { info, sessionId } = await open({ keyboardLayout: 'us' }, '&GUAC_WIDTH=1024&GUAC_HEIGHT=640&GUAC_DPI=96');
      assert.deepEqual([info.width, info.height], [800, 600], 'the shadowed display');
      const notes = await api.events(sessionId);
      assert.ok(notes.some((t) => t.startsWith('rdp_display_settings ') && t.includes('"client":"1024x640"')), notes.join('\n'));
      await page.setViewport(600, 420);
      const fitted = await page.waitForFunction<CanvasInfo>(
        `() => { const i = (${CANVAS_INFO})(${SHADOW_DESKTOP_RGB}); return i.cssWidth <= 600 && i.cssHeight <= 420 && i.cssWidth > 200 && i.share > 0.3 ? i : null; }`,
        'the canvas scaled into the smaller window',
        { timeoutMs: 15_000 },
      );
      assert.ok(Math.abs(fitted.cssWidth / fitted.cssHeight - 800 / 600) < 0.02, `the shape is kept (${fitted.cssWidth}x${fitted.cssHeight})`);
      await page.screenshot('firefox-rdp-nla-fitted');
      await disconnectAndScan();
      await page.setViewport(1280, 800);
    }));
});
