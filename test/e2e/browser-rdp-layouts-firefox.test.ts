// Typing in two keyboard layouts in a browser RDP session in Firefox (Debian's firefox-esr over
// WebDriver BiDi; issue 14 points 4 and 8), the counterpart of browser-rdp-layouts.test.ts
// (Chromium): WebDriver key actions make Firefox fire key events with the physical key
// (KeyboardEvent.code) of a US keyboard, IronRDP's web client sends them as scan codes, and
// the launch's layout (us / de) is what xrdp and the keystroke log read them with. The target
// side is xev on the xrdp session's own X display. Under de, the physical keys Y and Z are
// swapped and AltGr (right Alt) + Q is @. Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UI_DIR } from '../../src/web/ui.js';
import { CANVAS_INFO, xevTyped, type CanvasInfo } from '../support/rdp-canvas.js';
import { ensureTargetAccount } from '../support/accounts.js';
import { until } from '../support/browser.js';
import { Firefox, type FirefoxPage } from '../support/firefox.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { startXrdp, XRDP_DESKTOP_RGB, type Xrdp } from '../support/xrdp.js';

/** WebDriver's key for the right Alt key (AltGr on a German keyboard). */
const R_ALT = '\uE052';

describe('browser RDP in Firefox: typing under the us and de keyboard layouts (xrdp)', { timeout: 300_000 }, () => {
  let gw: Gateway;
  let xrdp: Xrdp;
  let ff: Firefox;
  let page: FirefoxPage;
  const account = ensureTargetAccount();
  const admin = (method: string, path: string, body?: unknown) => gw.api(method, path, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });
  const step = (name: string, fn: () => Promise<void>) => ff.step(name)(fn);
  let secretId = '';
  let xev: ChildProcess | null = null;

  before(async () => {
    assert.ok(existsSync(join(UI_DIR, 'index.html')), 'the UI is built (npm run build)');
    [gw, xrdp, ff] = await Promise.all([startGateway('sqlite'), startXrdp(), Firefox.launch()]);
    page = await ff.firstPage();
    const s = await admin('POST', '/api/v1/secrets', { name: 'xrdp-layouts-firefox', template: 'windows-account', fields: { machine: '127.0.0.1', port: xrdp.port, username: account.username, password: account.password } });
    assert.equal(s.status, 201, s.raw);
    secretId = s.body.id;
  });

  after(async () => {
    xev?.kill();
    await ff?.close();
    await gw?.close();
    await xrdp?.stop();
  });

  /** The xrdp session's X display (sesman names it when it starts the X server). */
  const xrdpDisplay = () => {
    const all = [...xrdp.sesmanLog().matchAll(/Starting X server on display (\d+)/g)];
    return all.length ? `:${all[all.length - 1]![1]}` : null;
  };
  const sessionsOf = async () => (await admin('GET', `/api/v1/sessions?secretId=${secretId}`)).body.items as any[];
  const textOf = async (id: string) => (await admin('GET', `/api/v1/recordings/${id}/text`)).body.items as { kind: string; text: string }[];
  /** Key actions (keyDown/keyUp of WebDriver key values) with a pause between them, so each reaches the target on its own. */
  const keys = (values: [('down' | 'up'), string][]) =>
    ff.bidi.send('input.performActions', {
      context: page.context,
      actions: [{ type: 'key', id: 'keyboard', actions: values.flatMap(([d, v]) => [{ type: d === 'down' ? 'keyDown' : 'keyUp', value: v }, { type: 'pause', duration: 30 }]) }],
    });
  const press = (v: string): [('down' | 'up'), string][] => [
    ['down', v],
    ['up', v],
  ];

  const typeUnder = (layout: 'us' | 'de', actions: [('down' | 'up'), string][], expected: string) =>
    step(`firefox-rdp-layout-${layout}`, async () => {
      const l = await admin('POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'rdp', keyboardLayout: layout });
      assert.equal(l.status, 200, l.raw);
      await page.navigate(`${gw.running.url}/rdp/session?ticket=${l.body.ticket}&consent=1`);
      await page.waitForFunction(`() => document.querySelector('.rdpw-page')?.dataset.phase === 'connected'`, 'the session to connect', { timeoutMs: 60_000 });
      const info = await page.waitForFunction<CanvasInfo>(`() => { const i = (${CANVAS_INFO})(${XRDP_DESKTOP_RGB}); return i.share > 0.3 ? i : null; }`, 'the xrdp desktop on the canvas', { timeoutMs: 60_000 });
      const sessionId = (await sessionsOf()).find((s) => s.status === 'live')?.id as string;
      assert.ok(sessionId, 'a live session');
      let out = '';
      xev?.kill();
      xev = spawn('stdbuf', ['-oL', 'xev', '-geometry', '300x200+400+300', '-event', 'keyboard', '-event', 'structure'], { env: { ...process.env, DISPLAY: xrdpDisplay() ?? '', XAUTHORITY: `${account.home}/.Xauthority` }, stdio: ['ignore', 'pipe', 'ignore'] });
      xev.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      await until(async () => /MapNotify/.test(out), 'the xev window on the target display', 15_000);
      // No window manager: the focus follows the pointer, so the pointer goes over xev's window (and clicks, which focuses the canvas).
      const x = Math.round(info.left + (550 * info.cssWidth) / info.width);
      const y = Math.round(info.top + (400 * info.cssHeight) / info.height);
      await ff.bidi.send('input.performActions', {
        context: page.context,
        actions: [{ type: 'pointer', id: 'mouse', parameters: { pointerType: 'mouse' }, actions: [{ type: 'pointerMove', x: x - 20, y: y - 20, origin: 'viewport' }, { type: 'pointerMove', x, y, origin: 'viewport', duration: 100 }, { type: 'pointerDown', button: 0 }, { type: 'pointerUp', button: 0 }] }],
      });
      await keys(actions);
      await until(async () => xevTyped(out).includes(expected), `xev on the target to print ${JSON.stringify(expected)}`, 60_000).catch((e) => {
        throw new Error(`${(e as Error).message}\nxev saw: ${JSON.stringify(xevTyped(out))}`);
      });
      await page.press('Enter');
      await until(async () => (await textOf(sessionId)).some((i) => i.kind === 'command' && i.text === expected), `the keystroke log's line ${JSON.stringify(expected)}`, 20_000).catch(async (e) => {
        throw new Error(`${(e as Error).message}\nlog: ${JSON.stringify(await textOf(sessionId))}`);
      });
      await page.screenshot(`firefox-rdp-layout-${layout}`);
      await page.click({ css: 'button', text: 'Disconnect' });
      await until(async () => (await sessionsOf()).every((s) => s.status === 'ended'), 'the session to end', 20_000);
    });

  it('us: the physical keys Y and Z give y and z', () => typeUnder('us', [...press('y'), ...press('z'), ...press('2')], 'yz2'));

  it('de: the same physical keys give z and y, and AltGr+Q gives @', () => typeUnder('de', [...press('y'), ...press('z'), ...press('2'), ['down', R_ALT], ...press('q'), ['up', R_ALT]], 'zy2@'));
});
