// A browser RDP session's recording replays to the screen the target had (issue 14 point 8,
// "the recording replays to the same screen"; rdp-replay.test.ts proves it for a native
// client). Headless Chromium opens an xrdp desktop through the web door at a fixed 1024×768;
// the target then draws something recognisable on its own X display (a new root colour and an
// xlogo window beside the session's xclock). The target's screen is taken on the target side
// (xwd on the Xvnc display) and compared pixel by pixel (a grid) with the browser's canvas,
// and then — after the session ends — with the portal player's canvas at the recording's end.
// Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { ensureTargetAccount } from '../support/accounts.js';
import { launchBrowser, newContext, screenshot, signInPortal, stepRunner, until, type Ctx } from '../support/browser.js';
import { desktopShown, phaseOf, xrdpDisplay, xrdpScreen } from '../support/browser-rdp.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { ADMIN_PASSWORD } from '../support/harness.js';
import { canvasGrid, canvasInfo, gridMatch, nearColour } from '../support/rdp-canvas.js';
import { startXrdp, XRDP_DESKTOP_RGB, type Screenshot, type Xrdp } from '../support/xrdp.js';

/** What the target's root window turns to (not the session script's colour). */
const DRAWN_RGB = 0x20a050;
/** The xlogo window's background (black on this). */
const LOGO_RGB = 0xe0c030;
/** Where xlogo draws: its own share of agreement catches a window replayed wrong (rows shifted). */
const LOGO = { x: 600, y: 420, width: 300, height: 220 };
/** Sample every 8th pixel of every 8th row (12 288 points on 1024×768). */
const STEP = 8;
/** Share of the grid that must agree: the pointer and a clock hand moving may differ. */
const SAME = 0.97;

const seconds = (mss: string) => {
  const [m, s] = mss.trim().split(':').map(Number);
  return m! * 60 + s!;
};

describe('browser RDP: the recording replays to the target\'s screen (Chromium, xrdp)', { timeout: 300_000 }, () => {
  let gw: Gateway;
  let xrdp: Xrdp;
  let browser: Browser;
  let logo: ChildProcess | null = null;
  const contexts: Ctx[] = [];
  const account = ensureTargetAccount();
  const step = stepRunner(contexts, 'browser-rdp-replay');
  const admin = (method: string, path: string, body?: unknown) => gw.api(method, path, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });
  let secretId = '';

  before(async () => {
    assert.ok(existsSync(join(UI_DIR, 'index.html')), 'the UI is built (npm run build)');
    [gw, xrdp, browser] = await Promise.all([startGateway('sqlite'), startXrdp(), launchBrowser()]);
    const s = await admin('POST', '/api/v1/secrets', { name: 'xrdp-replay-web', template: 'windows-account', fields: { machine: '127.0.0.1', port: xrdp.port, username: account.username, password: account.password } });
    assert.equal(s.status, 201, s.raw);
    secretId = s.body.id;
    const l = await admin('PATCH', '/api/v1/launchers/rdp', { record: true, recordKeystrokes: true });
    assert.equal(l.status, 200, l.raw);
  });

  after(async () => {
    logo?.kill();
    for (const c of contexts) await c.context.close().catch(() => undefined);
    await browser?.close();
    await gw?.close();
    await xrdp?.stop();
  });

  it('draws on the target; the browser canvas and, after the session, the player at the end both match the target\'s own screen', async () => {
    const c = await newContext(browser, gw.running.url);
    contexts.push(c);
    let sessionId = '';
    let target: Screenshot | null = null;
    await step(async () => {
      const l = await admin('POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'rdp' });
      assert.equal(l.status, 200, l.raw);
      await c.page.goto(`/rdp/session?ticket=${l.body.ticket}&consent=1&GUAC_WIDTH=1024&GUAC_HEIGHT=768&GUAC_DPI=96`);
      const info = await desktopShown(c.page, XRDP_DESKTOP_RGB, () => gw.logs().slice(-3000));
      assert.deepEqual([info.width, info.height], [1024, 768]);
      sessionId = (await admin('GET', `/api/v1/sessions?secretId=${secretId}&status=live`)).body.items[0]?.id;
      assert.ok(sessionId, 'a live session');

      // The target draws: a new root colour and an xlogo window (black on yellow) at a known place.
      const { env } = xrdpDisplay(xrdp, account.home);
      execFileSync('xsetroot', ['-solid', `#${DRAWN_RGB.toString(16).padStart(6, '0')}`], { env, stdio: 'pipe' });
      logo = spawn('xlogo', ['-geometry', `${LOGO.width}x${LOGO.height}+${LOGO.x}+${LOGO.y}`, '-fg', 'black', '-bg', `#${LOGO_RGB.toString(16)}`], { env, stdio: 'ignore' });
      // The pointer off the drawing (the target does not draw it into its framebuffer).
      await c.page.mouse.move(info.left + 2, info.top + info.cssHeight - 2);

      // The browser shows what the target's X server has (the screen taken on the target side).
      const live = await until(
        async () => {
          const shot = xrdpScreen(xrdp, account.home);
          if (!shot.histogram(8).some(([rgb]) => nearColour(rgb, LOGO_RGB))) return null; // xlogo not mapped yet
          // xlogo's window on its own too: IronRDP 0.7 draws xrdp's width-padded bitmaps with rows
          // shifted unless the browser door rewrites them (bitmap-widths.ts; docs/protocols/rdp.md).
          const grid = await canvasGrid(c.page, STEP);
          const m = gridMatch(grid, shot);
          return m >= SAME && gridMatch(grid, shot, 8, LOGO) >= SAME ? { shot, m } : null;
        },
        'the browser canvas to match the target\'s screen',
        30_000,
      ).catch(async (e) => {
        const shot = xrdpScreen(xrdp, account.home);
        const grid = await canvasGrid(c.page, STEP);
        throw new Error(`${(e as Error).message}: ${gridMatch(grid, shot)} of the grid agrees, ${gridMatch(grid, shot, 8, LOGO)} of xlogo's window (target ${shot.width}×${shot.height}, top colours ${JSON.stringify(shot.histogram(8).slice(0, 3))})`);
      });
      target = live.shot;
      assert.ok((await canvasInfo(c.page, DRAWN_RGB)).share > 0.5, 'the drawn colour fills most of the canvas');
      await screenshot(c.page, 'browser-rdp-replay-live');
      // Some time on this picture, so the recording ends on it.
      await new Promise((r) => setTimeout(r, 1500));
      await c.page.getByRole('button', { name: 'Disconnect' }).click();
      await until(async () => (await phaseOf(c.page)) === 'ended', 'the page to end', 20_000);
    });
    await until(async () => (await admin('GET', `/api/v1/sessions/${sessionId}`)).body.recording?.sha256, 'the sealed recording', 30_000);
    const s = await admin('GET', `/api/v1/sessions/${sessionId}`);
    assert.equal(s.body.recording.format, 'ghrec-rdp', s.raw);
    assert.equal(s.body.door, 'web');

    const auditor = await newContext(browser, gw.running.url);
    contexts.push(auditor);
    const { page } = auditor;
    await step(async () => {
      await signInPortal(page, 'admin', ADMIN_PASSWORD);
      await page.goto(`/recordings/${sessionId}`);
      const canvas = page.getByRole('img', { name: 'Recorded screen' });
      await canvas.waitFor();
      const time = page.locator('.rdp-time');
      await until(async () => /\/\s*\d+:\d\d/.test(await time.innerText()), 'the recording\'s length');
      const total = (await time.innerText()).split('/')[1]!.trim();
      await page.getByLabel('Speed').selectOption('8');
      await page.getByRole('button', { name: 'Play', exact: true }).click();
      await until(async () => (await time.innerText()).startsWith(`${total} /`), 'the player at the end', 120_000);
      const selector = 'canvas[aria-label="Recorded screen"]';
      const replayed = await until(
        async () => {
          const grid = await canvasGrid(page, STEP, selector);
          const m = gridMatch(grid, target!);
          return m >= SAME && gridMatch(grid, target!, 8, LOGO) >= SAME ? m : null;
        },
        'the replayed screen to match the target\'s',
        20_000,
      ).catch(async (e) => {
        const g = await canvasGrid(page, STEP, selector);
        throw new Error(`${(e as Error).message}: ${gridMatch(g, target!)} of the grid agrees, ${gridMatch(g, target!, 8, LOGO)} of xlogo's window (player ${g.width}×${g.height}, target ${target!.width}×${target!.height}); warnings: ${await page.locator('.rdp-warnings').allInnerTexts()}`);
      });
      assert.ok(replayed >= SAME);
      assert.equal(seconds(total) >= 1, true);
      assert.equal(await page.locator('.rdp-warnings').count(), 0, `no decoder warnings: ${await page.locator('.rdp-warnings').allInnerTexts()}`);
      await screenshot(page, 'browser-rdp-replay-player');
    });
  });
});
