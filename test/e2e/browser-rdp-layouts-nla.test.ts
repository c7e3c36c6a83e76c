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
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Page } from 'playwright-core';
import { clickDesktop } from '../support/browser-rdp.js';
import { screenshot, until } from '../support/browser.js';
import { chromiumRdpRig, disconnect, openSession, pressYZ2, pressYZ2AltGrQ } from '../support/chromium-rdp.js';
import { clickUntilXevSees, typedOnTarget, xevWindow } from '../support/rdp-browser-session.js';
import { SHADOW_DESKTOP_RGB, startShadowServer, type ShadowServer } from '../support/xrdp.js';

describe('browser RDP: typing under the us and de keyboard layouts (Chromium, NLA target)', { timeout: 300_000 }, () => {
  const rig = chromiumRdpRig('browser-rdp-layouts-nla');
  let shadow: ShadowServer;
  const shadowAccount = { username: 'ghlayoutshadow', password: 'Sh4dow-Layout-Vault-Pw!4r' };

  // Each layout gets a shadow server (and X display) of its own, so each starts from a display
  // no earlier client has touched. (The pointer input that once went nowhere in full runs was
  // another test file's Xvfb taking the same display number: startXvfb now lets Xvfb pick it.)
  const freshShadow = async (layout: string) => {
    await shadow?.stop();
    shadow = await startShadowServer(shadowAccount);
    rig.secretId = await rig.api.windowsSecret(`shadow-layouts-${layout}`, shadow.port, shadowAccount.username, shadowAccount.password);
  };

  after(async () => {
    await shadow?.stop();
  });

  const typeUnder = async (layout: 'us' | 'de', keys: (page: Page) => Promise<void>, expected: string) => {
    await freshShadow(layout);
    const c = await rig.context();
    const env = { ...process.env, DISPLAY: shadow.display.display };
    execFileSync('setxkbmap', [layout], { env });
    await rig.step(async () => {
      const { info, sessionId } = await openSession(rig, c.page, { keyboardLayout: layout }, SHADOW_DESKTOP_RGB);
      rig.xev?.kill();
      const x = xevWindow(env, ['keyboard', 'structure', 'button']);
      rig.xev = x.proc;
      await until(async () => /MapNotify/.test(x.out()), 'the xev window on the target display', 15_000);
      // No window manager: the focus follows the pointer, so the pointer goes over xev's window.
      await clickUntilXevSees(x.out, () => clickDesktop(c.page, info, 550, 400), 'xev on the target to see a click (the pointer is over its window)').catch((e: Error) => {
        // What the target side saw: the shadow server's own output and xev's events.
        e.message += `\nfreerdp-shadow-cli (last lines):\n${shadow.log().split('\n').slice(-30).join('\n')}\nxev:\n${x.out().slice(-3000)}`;
        throw e;
      });
      await keys(c.page);
      await typedOnTarget(x.out, expected, () => c.page.keyboard.press('Enter'), () => rig.api.textOf(sessionId));
      await screenshot(c.page, `browser-rdp-nla-layout-${layout}`);
      await disconnect(rig, c.page);
      const notes = await rig.api.textOf(sessionId);
      assert.ok(notes.some((i) => i.kind === 'event' && i.text.startsWith('rdp_target_nla')), 'the gateway logged on to the target with NLA');
      if (layout === 'de') assert.ok(notes.some((i) => i.kind === 'event' && i.text.startsWith('rdp_keyboard_layout') && i.text.includes('German')), JSON.stringify(notes));
    }).finally(() => execFileSync('setxkbmap', ['us'], { env }));
  };

  it('de: the same physical keys give z and y, and AltGr+Q gives @', () => typeUnder('de', pressYZ2AltGrQ, 'zy2@'));

  it('us: the physical keys Y and Z give y and z', () => typeUnder('us', pressYZ2, 'yz2'));
});
