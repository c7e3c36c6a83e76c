// Resizing the browser window where the target offers no Display Control channel scales the
// canvas to fit (issue 14 point 3): FreeRDP's shadow server (NLA) shares a fixed X display,
// so the desktop keeps its size and the canvas is scaled into the smaller window. (Resizing
// the desktop itself through Display Control is not proven yet: xrdp 0.9.21 with Xvnc never
// brought the dynamic channel up behind the relay — see docs/protocols/rdp.md.)
// Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { launchBrowser, newContext, screenshot, stepRunner, until, type Ctx } from '../support/browser.js';
import { desktopShown, phaseOf } from '../support/browser-rdp.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { canvasInfo } from '../support/rdp-canvas.js';
import { SHADOW_DESKTOP_RGB, startShadowServer, type ShadowServer } from '../support/xrdp.js';

describe('browser RDP: resizing the window (Chromium)', { timeout: 360_000 }, () => {
  let gw: Gateway;
  let browser: Browser;
  const contexts: Ctx[] = [];
  const step = stepRunner(contexts, 'browser-rdp-resize');
  const admin = (method: string, path: string, body?: unknown) => gw.api(method, path, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });
  const secret = async (name: string, port: number, username: string, password: string) => {
    const s = await admin('POST', '/api/v1/secrets', { name, template: 'windows-account', fields: { machine: '127.0.0.1', port, username, password } });
    assert.equal(s.status, 201, s.raw);
    return s.body.id as string;
  };
  const launch = async (secretId: string) => {
    const l = await admin('POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'rdp' });
    assert.equal(l.status, 200, l.raw);
    return l.body.ticket as string;
  };

  before(async () => {
    assert.ok(existsSync(join(UI_DIR, 'index.html')), 'the UI is built (npm run build)');
    [gw, browser] = await Promise.all([startGateway('sqlite'), launchBrowser()]);
  });

  after(async () => {
    for (const c of contexts) await c.context.close().catch(() => undefined);
    await browser?.close();
    await gw?.close();
  });

  describe('FreeRDP shadow server (NLA, no Display Control)', () => {
    let shadow: ShadowServer;
    const shadowAccount = { username: 'ghresizeshadow', password: 'Sh4dow-Resize-Vault-Pw!3k' };
    before(async () => {
      shadow = await startShadowServer(shadowAccount);
    });
    after(async () => {
      await shadow?.stop();
    });

    it('the desktop keeps the shared display\'s size and the canvas scales to fit the smaller window', async () => {
      const id = await secret('shadow-resize', shadow.port, shadowAccount.username, shadowAccount.password);
      const c = await newContext(browser, gw.running.url);
      contexts.push(c);
      await step(async () => {
        await c.page.goto(`/rdp/session?ticket=${await launch(id)}&consent=1`);
        const first = await desktopShown(c.page, SHADOW_DESKTOP_RGB, () => gw.logs().slice(-3000));
        assert.deepEqual([first.width, first.height], [800, 600], 'the shadowed display');
        await c.page.setViewportSize({ width: 600, height: 500 });
        const fitted = await until(
          async () => {
            const i = await canvasInfo(c.page, SHADOW_DESKTOP_RGB);
            return i.cssWidth <= 600 && i.cssHeight <= 500 && i.cssWidth > 300 ? i : null;
          },
          'the canvas scaled into the smaller window',
          15_000,
        );
        assert.deepEqual([fitted.width, fitted.height], [800, 600], 'the desktop keeps its size');
        assert.ok(Math.abs(fitted.cssWidth / fitted.cssHeight - 800 / 600) < 0.02, 'the shape is kept');
        assert.ok(fitted.share > 0.3, 'still the shadowed desktop');
        // Some time for a resize request to have been answered, had the target taken one.
        await new Promise((r) => setTimeout(r, 2000));
        const later = await canvasInfo(c.page, SHADOW_DESKTOP_RGB);
        assert.deepEqual([later.width, later.height], [800, 600]);
        await screenshot(c.page, 'browser-rdp-resize-shadow');
        await c.page.getByRole('button', { name: 'Disconnect' }).click();
        await until(async () => (await phaseOf(c.page)) === 'ended', 'the page to end', 20_000);
      });
    });
  });
});
