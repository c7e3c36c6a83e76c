// Typing in two keyboard layouts in a browser RDP session in Firefox (Debian's firefox-esr over
// WebDriver BiDi; issue 14 points 4 and 8), the counterpart of browser-rdp-layouts.test.ts
// (Chromium): WebDriver key actions make Firefox fire key events with the physical key
// (KeyboardEvent.code) of a US keyboard, IronRDP's web client sends them as scan codes, and
// the launch's layout (us / de) is what xrdp and the keystroke log read them with. The target
// side is xev on the xrdp session's own X display. Under de, the physical keys Y and Z are
// swapped and AltGr (right Alt) + Q is @. Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UI_DIR } from '../../src/web/ui.js';
import { ensureTargetAccount } from '../support/accounts.js';
import { until } from '../support/browser.js';
import { Firefox, type FirefoxPage } from '../support/firefox.js';
import { firefoxClickDesktop, firefoxDisconnect, firefoxKeys, openInFirefox, press, R_ALT, type Keys } from '../support/firefox-rdp.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { rdpAdmin, typedOnTarget, xevWindow, xrdpSessionEnv } from '../support/rdp-browser-session.js';
import { startXrdp, XRDP_DESKTOP_RGB, type Xrdp } from '../support/xrdp.js';

describe('browser RDP in Firefox: typing under the us and de keyboard layouts (xrdp)', { timeout: 300_000 }, () => {
  let gw: Gateway;
  let xrdp: Xrdp;
  let ff: Firefox;
  let page: FirefoxPage;
  const account = ensureTargetAccount();
  const api = rdpAdmin(() => gw);
  const step = (name: string, fn: () => Promise<void>) => ff.step(name)(fn);
  let secretId = '';
  let xev: ChildProcess | null = null;

  before(async () => {
    assert.ok(existsSync(join(UI_DIR, 'index.html')), 'the UI is built (npm run build)');
    [gw, xrdp, ff] = await Promise.all([startGateway('sqlite'), startXrdp(), Firefox.launch()]);
    page = await ff.firstPage();
    secretId = await api.windowsSecret('xrdp-layouts-firefox', xrdp.port, account.username, account.password);
  });

  after(async () => {
    xev?.kill();
    await ff?.close();
    await gw?.close();
    await xrdp?.stop();
  });

  const typeUnder = (layout: 'us' | 'de', actions: Keys, expected: string) =>
    step(`firefox-rdp-layout-${layout}`, async () => {
      const { info, sessionId } = await openInFirefox(page, { gw, api, secretId, rgb: XRDP_DESKTOP_RGB, what: 'the xrdp desktop on the canvas', body: { keyboardLayout: layout } });
      xev?.kill();
      const x = xevWindow(xrdpSessionEnv(xrdp, account.home), ['keyboard', 'structure']);
      xev = x.proc;
      await until(async () => /MapNotify/.test(x.out()), 'the xev window on the target display', 15_000);
      // No window manager: the focus follows the pointer, so the pointer goes over xev's window (and clicks, which focuses the canvas).
      await firefoxClickDesktop(ff, page, info, 550, 400);
      await firefoxKeys(ff, page, actions);
      await typedOnTarget(x.out, expected, () => page.press('Enter'), () => api.textOf(sessionId));
      await page.screenshot(`firefox-rdp-layout-${layout}`);
      await firefoxDisconnect(page, () => api.sessionsOf(secretId));
    });

  it('us: the physical keys Y and Z give y and z', () => typeUnder('us', [...press('y'), ...press('z'), ...press('2')], 'yz2'));

  it('de: the same physical keys give z and y, and AltGr+Q gives @', () => typeUnder('de', [...press('y'), ...press('z'), ...press('2'), ['down', R_ALT], ...press('q'), ['up', R_ALT]], 'zy2@'));
});
