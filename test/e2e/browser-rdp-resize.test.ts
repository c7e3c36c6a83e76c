// Resizing the browser window resizes the remote desktop where the target supports the
// Display Control channel, and scales the canvas to fit where it does not (issue 14 point 3).
//   xrdp (Xvnc backend) with dynamic virtual channels on: the page's Display Control request
//   goes through the relay (drdynvc passes the channel policy), xrdp resizes the Xvnc
//   desktop (the X server's own screen, read with xwd on the target, has the new size) and
//   the canvas follows;
//   FreeRDP's shadow server (NLA): it shares a fixed X display and offers no Display Control,
//   so the desktop keeps its size and the canvas is scaled into the smaller window.
// Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { ensureTargetAccount } from '../support/accounts.js';
import { launchBrowser, newContext, screenshot, stepRunner, until, type Ctx } from '../support/browser.js';
import { desktopShown, phaseOf, xrdpScreen } from '../support/browser-rdp.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { canvasInfo } from '../support/rdp-canvas.js';
import { SHADOW_DESKTOP_RGB, startShadowServer, startXrdp, XRDP_DESKTOP_RGB, type ShadowServer, type Xrdp } from '../support/xrdp.js';

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

  describe('xrdp with Display Control (Xvnc backend)', () => {
    let xrdp: Xrdp;
    const account = ensureTargetAccount();
    before(async () => {
      xrdp = await startXrdp({ drdynvc: true });
    });
    after(async () => {
      await xrdp?.stop();
    });

    it('a smaller window, then a larger one: the target\'s X screen and the canvas take the window\'s size', async () => {
      const id = await secret('xrdp-resize', xrdp.port, account.username, account.password);
      const c = await newContext(browser, gw.running.url);
      contexts.push(c);
      await step(async () => {
        await c.page.goto(`/rdp/session?ticket=${await launch(id)}&consent=1`);
        const first = await desktopShown(c.page, XRDP_DESKTOP_RGB, () => gw.logs().slice(-3000));
        assert.deepEqual([first.width, first.height], [1280, 800], 'the desktop of the window (1280×800 at ratio 1)');
        const screen = () => {
          const s = xrdpScreen(xrdp, account.home);
          return [s.width, s.height];
        };
        assert.deepEqual(screen(), [1280, 800], 'the target\'s X screen');
        for (const [w, h] of [
          [1000, 700],
          [1200, 900],
        ] as const) {
          await c.page.setViewportSize({ width: w, height: h });
          await until(
            async () => {
              const i = await canvasInfo(c.page, XRDP_DESKTOP_RGB);
              return i.width === w && i.height === h && i.share > 0.3 ? i : null;
            },
            `the canvas at ${w}×${h}`,
            30_000,
          ).catch(async (e) => {
            const i = await canvasInfo(c.page, XRDP_DESKTOP_RGB);
            throw new Error(`${(e as Error).message}: page ${await phaseOf(c.page)}, canvas ${i.width}×${i.height}, target screen ${screen().join('×')}\nxrdp: ${xrdp.xrdpLog().split('\n').filter((l) => /resiz|monitor|disp|drdynvc/i.test(l)).slice(-20).join('\n')}`);
          });
          assert.deepEqual(screen(), [w, h], 'the target\'s X screen resized');
        }
        await screenshot(c.page, 'browser-rdp-resize-xrdp');
        await c.page.getByRole('button', { name: 'Disconnect' }).click();
        await until(async () => (await phaseOf(c.page)) === 'ended', 'the page to end', 20_000);
      });
    });
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
