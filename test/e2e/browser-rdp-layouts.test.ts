// Typing in two keyboard layouts in a browser RDP session (issue 14 point 4 and 8): headless
// Chromium sends browser key events (KeyboardEvent.code, the physical key) through IronRDP's
// web client as scan codes; the launch chooses the layout (keyboardLayout us / de) and the
// target composes the characters with it, as with a native client. The target side is xev
// on the xrdp session's own X display (xrdp reads the keys with the client's layout, from the
// Connect Initial Gatehouse rewrote); the keystroke log decodes the same scan codes with the
// session's layout. Under de, the physical keys Y and Z are swapped and AltGr+Q is @.
// Needs the UI built (npm run build).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { clickDesktop } from '../support/browser-rdp.js';
import { screenshot, until } from '../support/browser.js';
import { chromiumRdpRig, disconnect, openSession, pressYZ2, pressYZ2AltGrQ } from '../support/chromium-rdp.js';
import { typedOnTarget, xevWindow, xrdpSessionEnv } from '../support/rdp-browser-session.js';
import { XRDP_DESKTOP_RGB } from '../support/xrdp.js';

describe('browser RDP: typing under the us and de keyboard layouts (Chromium, xrdp)', { timeout: 300_000 }, () => {
  const rig = chromiumRdpRig('browser-rdp-layouts', { xrdpSecret: 'xrdp-layouts' });

  /** One session launched with this layout: the keys pressed, what xev on the target printed, the keystroke log's line. */
  const typeUnder = async (layout: 'us' | 'de', keys: (page: Page) => Promise<void>, expected: string) => {
    const c = await rig.context();
    await rig.step(async () => {
      const { info, sessionId } = await openSession(rig, c.page, { keyboardLayout: layout }, XRDP_DESKTOP_RGB);
      // A window on the session's X display printing every key the X server gets (the target's side).
      rig.xev?.kill();
      const x = xevWindow(xrdpSessionEnv(rig.xrdp, rig.account.home), ['keyboard', 'structure']);
      rig.xev = x.proc;
      await until(async () => /MapNotify/.test(x.out()), 'the xev window on the target display', 15_000);
      // No window manager: the focus follows the pointer, so the pointer goes over xev's window.
      await clickDesktop(c.page, info, 550, 400);
      await keys(c.page);
      await typedOnTarget(x.out, expected, () => c.page.keyboard.press('Enter'), () => rig.api.textOf(sessionId));
      await screenshot(c.page, `browser-rdp-layout-${layout}`);
      await disconnect(rig, c.page);
      const rec = await rig.api.call('GET', `/api/v1/sessions/${sessionId}`);
      assert.equal(rec.status, 200, rec.raw);
    });
  };

  it('us: the physical keys Y and Z give y and z', () => typeUnder('us', pressYZ2, 'yz2'));

  it('de: the same physical keys give z and y, and AltGr+Q gives @', () => typeUnder('de', pressYZ2AltGrQ, 'zy2@'));
});
