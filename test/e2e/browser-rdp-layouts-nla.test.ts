// Typing in two keyboard layouts in a browser RDP session to the NLA target (FreeRDP's shadow
// server; issue 14 points 4 and 8), the counterpart of browser-rdp-layouts.test.ts (xrdp):
// headless Chromium sends browser key events (KeyboardEvent.code, the physical key) through
// IronRDP's web client as scan codes, the gateway relays them after logging on with NLA, and
// the launch's layout (us / de) goes into the Connect Initial and the keystroke log. The
// shadow server injects the scan codes into its X display by physical key, and that display
// composes characters with its own keymap (a Windows target uses the client's layout; a
// shadowed X desktop keeps its own): the test gives the display the layout the launch chose,
// so xev on the target prints what a person with that layout expects. Under de, the physical
// keys Y and Z are swapped and AltGr+Q is @. Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { canvasInfo, xevTyped } from '../support/rdp-canvas.js';
import { launchBrowser, newContext, screenshot, stepRunner, until, type Ctx } from '../support/browser.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { SHADOW_DESKTOP_RGB, startShadowServer, type ShadowServer } from '../support/xrdp.js';

const phaseOf = (page: Page) => page.locator('.rdpw-page').getAttribute('data-phase');

describe('browser RDP: typing under the us and de keyboard layouts (Chromium, NLA target)', { timeout: 300_000 }, () => {
  let gw: Gateway;
  let shadow: ShadowServer;
  let browser: Browser;
  const contexts: Ctx[] = [];
  const shadowAccount = { username: 'ghlayoutshadow', password: 'Sh4dow-Layout-Vault-Pw!4r' };
  const step = stepRunner(contexts, 'browser-rdp-layouts-nla');
  const admin = (method: string, path: string, body?: unknown) => gw.api(method, path, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });
  let secretId = '';
  let xev: ChildProcess | null = null;

  before(async () => {
    assert.ok(existsSync(join(UI_DIR, 'index.html')), 'the UI is built (npm run build)');
    [gw, browser] = await Promise.all([startGateway('sqlite'), launchBrowser()]);
  });

  // Each layout gets a shadow server of its own: in full runs a second client of the same shadow
  // server (after the first one disconnected) had its pointer input go nowhere, while the first
  // client's always arrived.
  const freshShadow = async (layout: string) => {
    await shadow?.stop();
    shadow = await startShadowServer(shadowAccount);
    const s = await admin('POST', '/api/v1/secrets', { name: `shadow-layouts-${layout}`, template: 'windows-account', fields: { machine: '127.0.0.1', port: shadow.port, username: shadowAccount.username, password: shadowAccount.password } });
    assert.equal(s.status, 201, s.raw);
    secretId = s.body.id;
  };

  after(async () => {
    xev?.kill();
    for (const c of contexts) await c.context.close().catch(() => undefined);
    await browser?.close();
    await gw?.close();
    await shadow?.stop();
  });

  const sessionsOf = async () => (await admin('GET', `/api/v1/sessions?secretId=${secretId}`)).body.items as any[];
  const textOf = async (id: string) => (await admin('GET', `/api/v1/recordings/${id}/text`)).body.items as { kind: string; text: string }[];

  const typeUnder = async (layout: 'us' | 'de', keys: (page: Page) => Promise<void>, expected: string) => {
    await freshShadow(layout);
    const c = await newContext(browser, gw.running.url);
    contexts.push(c);
    const env = { ...process.env, DISPLAY: shadow.display.display };
    execFileSync('setxkbmap', [layout], { env });
    await step(async () => {
      const l = await admin('POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'rdp', keyboardLayout: layout });
      assert.equal(l.status, 200, l.raw);
      await c.page.goto(`/rdp/session?ticket=${l.body.ticket}&consent=1`);
      await until(async () => (await phaseOf(c.page)) === 'connected', 'the session to connect', 60_000);
      const info = await until(async () => {
        const i = await canvasInfo(c.page, SHADOW_DESKTOP_RGB);
        return i.share > 0.3 ? i : null;
      }, 'the shadowed desktop on the canvas', 60_000);
      const sessionId = (await sessionsOf()).find((s) => s.status === 'live')?.id as string;
      assert.ok(sessionId, 'a live session');
      let out = '';
      xev?.kill();
      xev = spawn('stdbuf', ['-oL', 'xev', '-geometry', '300x200+400+300', '-event', 'keyboard', '-event', 'structure', '-event', 'button'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
      xev.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      await until(async () => /MapNotify/.test(out), 'the xev window on the target display', 15_000);
      // No window manager: the focus follows the pointer, so the pointer goes over xev's window.
      // Clicked again every 3 s until xev sees one: on a loaded machine the first click can reach the
      // shadow server before xev's window is on its screen.
      let clickedAt = 0;
      await until(async () => {
        if (/ButtonPress/.test(out)) return true;
        if (Date.now() - clickedAt > 3_000) {
          clickedAt = Date.now();
          await c.page.mouse.move(info.left + (550 * info.cssWidth) / info.width, info.top + (400 * info.cssHeight) / info.height, { steps: 4 });
          await c.page.mouse.down();
          await c.page.mouse.up();
        }
        return false;
      }, 'xev on the target to see a click (the pointer is over its window)', 60_000);
      await keys(c.page);
      await until(async () => xevTyped(out).includes(expected), `xev on the target to print ${JSON.stringify(expected)}`, 60_000).catch((e) => {
        throw new Error(`${(e as Error).message}\nxev saw: ${JSON.stringify(xevTyped(out))}`);
      });
      await c.page.keyboard.press('Enter');
      await until(async () => (await textOf(sessionId)).some((i) => i.kind === 'command' && i.text === expected), `the keystroke log's line ${JSON.stringify(expected)}`, 20_000).catch(async (e) => {
        throw new Error(`${(e as Error).message}\nlog: ${JSON.stringify(await textOf(sessionId))}`);
      });
      await screenshot(c.page, `browser-rdp-nla-layout-${layout}`);
      await c.page.getByRole('button', { name: 'Disconnect' }).click();
      await until(async () => (await sessionsOf()).every((s) => s.status === 'ended'), 'the session to end', 20_000);
      const notes = await textOf(sessionId);
      assert.ok(notes.some((i) => i.kind === 'event' && i.text.startsWith('rdp_target_nla')), 'the gateway logged on to the target with NLA');
      if (layout === 'de') assert.ok(notes.some((i) => i.kind === 'event' && i.text.startsWith('rdp_keyboard_layout') && i.text.includes('German')), JSON.stringify(notes));
    }).finally(() => execFileSync('setxkbmap', ['us'], { env }));
  };

  it('de: the same physical keys give z and y, and AltGr+Q gives @', () =>
    typeUnder(
      'de',
      async (p) => {
        await p.keyboard.press('KeyY', { delay: 30 });
        await p.keyboard.press('KeyZ', { delay: 30 });
        await p.keyboard.press('Digit2', { delay: 30 });
        await p.keyboard.down('AltRight');
        await p.keyboard.press('KeyQ', { delay: 30 });
        await p.keyboard.up('AltRight');
      },
      'zy2@',
    ));

  it('us: the physical keys Y and Z give y and z', () =>
    typeUnder(
      'us',
      async (p) => {
        await p.keyboard.press('KeyY', { delay: 30 });
        await p.keyboard.press('KeyZ', { delay: 30 });
        await p.keyboard.press('Digit2', { delay: 30 });
      },
      'yz2',
    ));
});
