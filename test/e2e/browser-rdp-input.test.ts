// Input in a browser RDP session reaching the target (issue 14 point 4): the mouse wheel, and
// typing under the UK and French layouts, a French dead key included (browser-rdp-layouts
// covers us and de). Headless Chromium sends browser events through IronRDP's web client
// (keys as scan codes from KeyboardEvent.code, the physical key); xev on the xrdp session's
// own X display is the target's side (xrdp turns the scan codes into keysyms with the layout
// from the Connect Initial Gatehouse rewrote; the X client composes a dead key with the next
// key), and the keystroke log decodes the same scan codes with the session's layout.
//   wheel: up → button 4, down → button 5;
//   uk: Shift+3 → £, the key left of Enter → #, Shift+' → @;
//   fr: the physical Q key → a (AZERTY), ^ (dead) then e → ê, the 2 key → é.
// Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { ensureTargetAccount } from '../support/accounts.js';
import { launchBrowser, newContext, screenshot, stepRunner, until, type Ctx } from '../support/browser.js';
import { clickDesktop, desktopShown, phaseOf, xevOn } from '../support/browser-rdp.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { xevButtons, xevKeysyms } from '../support/rdp-canvas.js';
import { startXrdp, XRDP_DESKTOP_RGB, type Xrdp } from '../support/xrdp.js';

describe('browser RDP input: wheel, UK and French layouts with a dead key (Chromium, xrdp)', { timeout: 360_000 }, () => {
  let gw: Gateway;
  let xrdp: Xrdp;
  let browser: Browser;
  const contexts: Ctx[] = [];
  const account = ensureTargetAccount();
  const step = stepRunner(contexts, 'browser-rdp-input');
  const admin = (method: string, path: string, body?: unknown) => gw.api(method, path, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });
  let secretId = '';
  let xev: ChildProcess | null = null;

  before(async () => {
    assert.ok(existsSync(join(UI_DIR, 'index.html')), 'the UI is built (npm run build)');
    [gw, xrdp, browser] = await Promise.all([startGateway('sqlite'), startXrdp(), launchBrowser()]);
    const s = await admin('POST', '/api/v1/secrets', { name: 'xrdp-input', template: 'windows-account', fields: { machine: '127.0.0.1', port: xrdp.port, username: account.username, password: account.password } });
    assert.equal(s.status, 201, s.raw);
    secretId = s.body.id;
  });

  after(async () => {
    xev?.kill();
    for (const c of contexts) await c.context.close().catch(() => undefined);
    await browser?.close();
    await gw?.close();
    await xrdp?.stop();
  });

  const sessionsOf = async () => (await admin('GET', `/api/v1/sessions?secretId=${secretId}`)).body.items as any[];
  const textOf = async (id: string) => (await admin('GET', `/api/v1/recordings/${id}/text`)).body.items as { kind: string; text: string }[];

  /** One session under `layout` with an xev window focused on the target; `fn` gets the page and xev's output. */
  const session = async (layout: 'us' | 'uk' | 'fr', name: string, fn: (page: Page, out: () => string, sessionId: string) => Promise<void>) => {
    const c = await newContext(browser, gw.running.url);
    contexts.push(c);
    await step(async () => {
      const l = await admin('POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'rdp', keyboardLayout: layout });
      assert.equal(l.status, 200, l.raw);
      await c.page.goto(`/rdp/session?ticket=${l.body.ticket}&consent=1`);
      const info = await desktopShown(c.page, XRDP_DESKTOP_RGB, () => gw.logs().slice(-3000));
      const sessionId = (await sessionsOf()).find((s) => s.status === 'live')?.id as string;
      assert.ok(sessionId, 'a live session');
      xev?.kill();
      const x = xevOn(xrdp, account.home, '300x200+400+300', ['keyboard', 'button', 'structure']);
      xev = x.proc;
      await until(async () => /MapNotify/.test(x.out()), 'the xev window on the target display', 15_000);
      // No window manager: the focus follows the pointer, so the pointer goes over xev's window.
      await clickDesktop(c.page, info, 550, 400);
      await until(async () => xevButtons(x.out()).includes(1), 'xev to see the click', 15_000);
      await fn(c.page, x.out, sessionId);
      await screenshot(c.page, `browser-rdp-input-${name}`);
      await c.page.getByRole('button', { name: 'Disconnect' }).click();
      await until(async () => (await phaseOf(c.page)) === 'ended', 'the page to end', 20_000);
      await until(async () => (await sessionsOf()).every((s) => s.status === 'ended'), 'the session to end', 20_000);
    });
  };

  /** Waits for xev to print `keysyms` (in order, from its start) and the keystroke log to have the line `line` after Enter. */
  const typed = async (page: Page, out: () => string, sessionId: string, keysyms: string[], line: string) => {
    await until(async () => xevKeysyms(out()).length >= keysyms.length || null, `xev on the target to print ${keysyms.join(' ')}`, 30_000).catch((e) => {
      throw new Error(`${(e as Error).message}\nxev saw: ${xevKeysyms(out()).join(' ')}`);
    });
    assert.deepEqual(xevKeysyms(out()).slice(0, keysyms.length), keysyms, 'the keysyms the target\'s X server produced');
    await page.keyboard.press('Enter');
    await until(async () => (await textOf(sessionId)).some((i) => i.kind === 'command' && i.text === line), `the keystroke log's line ${JSON.stringify(line)}`, 20_000).catch(async (e) => {
      throw new Error(`${(e as Error).message}\nlog: ${JSON.stringify((await textOf(sessionId)).filter((i) => i.kind !== 'event'))}`);
    });
  };

  it('the mouse wheel reaches the target: up is button 4, down is button 5', () =>
    session('us', 'wheel', async (page, out) => {
      const from = xevButtons(out()).length;
      await page.mouse.wheel(0, -360);
      await until(async () => xevButtons(out()).slice(from).includes(4), 'xev to see button 4 (wheel up)', 15_000).catch((e) => {
        throw new Error(`${(e as Error).message}: saw ${xevButtons(out()).slice(from).join(',')}`);
      });
      const mid = xevButtons(out()).length;
      await page.mouse.wheel(0, 360);
      await until(async () => xevButtons(out()).slice(mid).includes(5), 'xev to see button 5 (wheel down)', 15_000).catch((e) => {
        throw new Error(`${(e as Error).message}: saw ${xevButtons(out()).slice(mid).join(',')}`);
      });
      assert.ok(!xevButtons(out()).slice(mid).includes(4), 'no wheel-up while scrolling down');
    }));

  it('uk: Shift+3 is £, the key left of Enter is #, Shift+\' is @ (target and keystroke log)', () =>
    session('uk', 'uk', async (page, out, sessionId) => {
      await page.keyboard.press('Shift+Digit3', { delay: 30 });
      await page.keyboard.press('Backslash', { delay: 30 });
      await page.keyboard.press('Shift+Quote', { delay: 30 });
      await typed(page, out, sessionId, ['sterling', 'numbersign', 'at'], '£#@');
    }));

  it('fr: the physical Q key is a, the dead ^ then e is ê, the 2 key is é (target and keystroke log)', () =>
    session('fr', 'fr', async (page, out, sessionId) => {
      await page.keyboard.press('KeyQ', { delay: 30 });
      await page.keyboard.press('BracketLeft', { delay: 30 });
      await page.keyboard.press('KeyE', { delay: 30 });
      await page.keyboard.press('Digit2', { delay: 30 });
      // The target gets the dead key as a keysym of its own; xev's input method composes it with
      // the next key and hands the result on as a key press of its own (ecircumflex after the e).
      await typed(page, out, sessionId, ['a', 'dead_circumflex', 'e', 'ecircumflex', 'eacute'], 'aêé');
    }));
});
