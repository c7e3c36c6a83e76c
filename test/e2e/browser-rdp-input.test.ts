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
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { screenshot, until } from '../support/browser.js';
import { clickDesktop, xevOn } from '../support/browser-rdp.js';
import { chromiumRdpRig, disconnect, openSession } from '../support/chromium-rdp.js';
import { xevButtons, xevKeysyms } from '../support/rdp-canvas.js';
import { XRDP_DESKTOP_RGB } from '../support/xrdp.js';

describe('browser RDP input: wheel, UK and French layouts with a dead key (Chromium, xrdp)', { timeout: 360_000 }, () => {
  const rig = chromiumRdpRig('browser-rdp-input', { xrdpSecret: 'xrdp-input' });
  const textOf = rig.api.textOf;

  /** One session under `layout` with an xev window focused on the target; `fn` gets the page and xev's output. */
  const session = async (layout: 'us' | 'uk' | 'fr', name: string, fn: (page: Page, out: () => string, sessionId: string) => Promise<void>) => {
    const c = await rig.context();
    await rig.step(async () => {
      const { info, sessionId } = await openSession(rig, c.page, { keyboardLayout: layout }, XRDP_DESKTOP_RGB);
      rig.xev?.kill();
      const x = xevOn(rig.xrdp, rig.account.home, '300x200+400+300', ['keyboard', 'button', 'structure']);
      rig.xev = x.proc;
      await until(async () => /MapNotify/.test(x.out()), 'the xev window on the target display', 15_000);
      // No window manager: the focus follows the pointer, so the pointer goes over xev's window.
      await clickDesktop(c.page, info, 550, 400);
      await until(async () => xevButtons(x.out()).includes(1), 'xev to see the click', 15_000);
      await fn(c.page, x.out, sessionId);
      await screenshot(c.page, `browser-rdp-input-${name}`);
      await disconnect(rig, c.page);
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
