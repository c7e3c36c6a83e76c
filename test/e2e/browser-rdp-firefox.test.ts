// Remote Desktop in Firefox (Debian's firefox-esr over WebDriver BiDi): the same page and
// web client as in Chromium (browser-rdp.test.ts) open an xrdp desktop through the browser
// RDP door; the desktop's colour shows on the canvas, keys pressed in Firefox reach the
// recording's keystroke log, and Disconnect ends the session. Needs the UI built.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UI_DIR } from '../../src/web/ui.js';
import { CANVAS_INFO } from '../support/rdp-canvas.js';
import { ensureTargetAccount } from '../support/accounts.js';
import { until } from '../support/browser.js';
import { Firefox, type FirefoxPage } from '../support/firefox.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { startXrdp, XRDP_DESKTOP_RGB, type Xrdp } from '../support/xrdp.js';

describe('browser RDP in Firefox', { timeout: 180_000 }, () => {
  let gw: Gateway;
  let xrdp: Xrdp;
  let ff: Firefox;
  let page: FirefoxPage;
  const account = ensureTargetAccount();
  const admin = (method: string, path: string, body?: unknown) => gw.api(method, path, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });
  const step = (fn: () => Promise<void>) => ff.step('firefox-rdp')(fn);

  before(async () => {
    assert.ok(existsSync(join(UI_DIR, 'index.html')), 'the UI is built (npm run build)');
    [gw, xrdp, ff] = await Promise.all([startGateway('sqlite'), startXrdp(), Firefox.launch()]);
    page = await ff.firstPage();
  });

  after(async () => {
    await ff?.close();
    await gw?.close();
    await xrdp?.stop();
  });

  it('opens the xrdp desktop, records keys pressed in Firefox, and disconnects', () =>
    step(async () => {
      const s = await admin('POST', '/api/v1/secrets', { name: 'xrdp-firefox', template: 'windows-account', fields: { machine: '127.0.0.1', port: xrdp.port, username: account.username, password: account.password } });
      assert.equal(s.status, 201, s.raw);
      const l = await admin('POST', `/api/v1/secrets/${s.body.id}/launch`, { launcher: 'rdp' });
      assert.equal(l.status, 200, l.raw);
      await page.navigate(`${gw.running.url}/rdp/session?ticket=${l.body.ticket}&consent=1`);
      await page.waitForFunction(`() => document.querySelector('.rdpw-page')?.dataset.phase === 'connected'`, 'the session to connect', { timeoutMs: 60_000 });
      assert.equal(new URL(await page.url()).searchParams.get('ticket'), null);
      await page.waitForFunction(`() => (${CANVAS_INFO})(${XRDP_DESKTOP_RGB}).share > 0.3`, 'the xrdp desktop on the canvas', { timeoutMs: 60_000 });
      await page.screenshot('firefox-rdp-xrdp');
      const live = ((await admin('GET', `/api/v1/sessions?secretId=${s.body.id}`)).body.items as any[]).find((x) => x.status === 'live');
      assert.ok(live);
      await page.click({ css: '.rdpw-screen' });
      await page.type('echo firefox-typed-77');
      await page.press('Enter');
      await until(async () => ((await admin('GET', `/api/v1/recordings/${live.id}/text`)).body.items as any[]).some((i) => i.kind === 'command' && i.text === 'echo firefox-typed-77'), 'the typed line in the session index', 20_000);
      await page.click({ css: 'button', text: 'Disconnect' });
      await page.waitForFunction(`() => document.querySelector('.rdpw-page')?.dataset.phase === 'ended'`, 'the page to end', { timeoutMs: 20_000 });
    }));
});
