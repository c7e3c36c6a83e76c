// RDP sessions in the portal, in a real browser (headless Chromium through playwright-core)
// against a real session: xfreerdp under Xvfb opens the launched .rdp file and lands on
// xrdp through Gatehouse's RDP door. An auditor watches it live on a canvas (keyframe, then
// the stream: the remote desktop changes colour while they watch) and terminates it; then
// the recording is listed, plays (pixels checked on the canvas), seeks both ways, changes
// speed, shows the keystrokes typed on the client, and a search hit jumps into it.
// Needs the UI built (npm run build) and xdotool; run with `flock /tmp/xrdp.lock` (one xrdp).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { GHREC_CONTENT_TYPE, GHREC_MAGIC } from '../../src/core/sessions/ghrec.js';
import { UI_DIR } from '../../src/web/ui.js';
import { ensureTargetAccount } from '../support/accounts.js';
import { launchBrowser, newContext, screenshot, screenshotDir, stepRunner, until, type Ctx } from '../support/browser.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { runXfreerdp, startXrdp, startXvfb, waitFor, XRDP_DESKTOP_RGB, type XDisplay, type XfreerdpRun, type Xrdp } from '../support/xrdp.js';

const AUDITOR = { username: 'audra', password: 'Audra-Rdp-pass-1' };
/** What the remote desktop turns to while the auditor watches. */
const CHANGED_RGB = 0xc05020;
const TYPED = 'echo rdp-keys-42';
const IDLE_SECONDS = 6;

const near = (c: number, rgb: number) => [16, 8, 0].every((s) => Math.abs(((c >> s) & 0xff) - ((rgb >> s) & 0xff)) <= 8);

/** Share of the sampled pixels of the canvas named `name` that are near `rgb` (no DOM types here: plain objects). */
async function canvasShare(page: Page, name: string, rgb: number): Promise<number> {
  return page.getByRole('img', { name }).evaluate((el, want) => {
    const c = el as unknown as { width: number; height: number; getContext(t: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null };
    const ctx = c.getContext('2d');
    if (!ctx || !c.width || !c.height) return 0;
    const { data } = ctx.getImageData(0, 0, c.width, c.height);
    let n = 0;
    let hit = 0;
    for (let y = 0; y < c.height; y += 4)
      for (let x = 0; x < c.width; x += 4) {
        const i = (y * c.width + x) * 4;
        n++;
        if (Math.abs(data[i]! - ((want >> 16) & 0xff)) <= 8 && Math.abs(data[i + 1]! - ((want >> 8) & 0xff)) <= 8 && Math.abs(data[i + 2]! - (want & 0xff)) <= 8) hit++;
      }
    return hit / n;
  }, rgb);
}

/** Waits until the canvas is mostly `rgb` (the desktop background; the clock window covers a little). */
function waitForCanvasColour(page: Page, name: string, rgb: number, what: string, timeoutMs = 20_000): Promise<number> {
  return until(async () => {
    const s = await canvasShare(page, name, rgb);
    return s > 0.5 ? s : null;
  }, what, timeoutMs);
}

/** Share of the client display's pixels near `rgb`. */
function displayShare(display: XDisplay, rgb: number): number {
  return display
    .screenshot()
    .histogram(4)
    .filter(([c]) => near(c, rgb))
    .reduce((sum, [, n]) => sum + n, 0);
}

/** Moves a range input as a person dragging it would (React hears the input event). */
async function setRange(page: Page, label: string, value: number): Promise<void> {
  await page.getByLabel(label).evaluate((el, v) => {
    const input = el as unknown as { value: string; dispatchEvent(e: Event): boolean };
    Object.getOwnPropertyDescriptor(Object.getPrototypeOf(input), 'value')!.set!.call(input, v);
    input.dispatchEvent(new Event('input', { bubbles: true }));
  }, String(value));
}

/** Seconds shown as m:ss in the player's time label ("0:12 / 0:40"). */
const seconds = (mss: string) => {
  const [m, s] = mss.trim().split(':').map(Number);
  return m! * 60 + s!;
};

describe('RDP live view and replay in a browser', { timeout: 300_000 }, () => {
  let gw: Gateway;
  let xrdp: Xrdp;
  let client: XDisplay;
  let browser: Browser;
  let work: string;
  let secretId: string;
  let sessionId: string;
  let xf: XfreerdpRun | null = null;
  const contexts: Ctx[] = [];
  let auditor: Ctx;

  const url = (path = '/') => `${gw.running.url}${path}`;
  const admin = (method: string, path: string, body?: unknown) => gw.api(method, path, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });

  async function signIn(page: Page, username: string, password: string): Promise<void> {
    await page.goto(url('/'));
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Username', { exact: true }).fill(username);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'My access', level: 1 }).waitFor();
  }

  async function nav(page: Page, link: string): Promise<void> {
    await page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: link, exact: true }).click();
    await page.getByRole('heading', { name: link, level: 1 }).waitFor();
  }

  /** Runs a command on the xrdp session's own X display (as root, with the session's X authority). */
  function onRemoteDisplay(cmd: string, args: string[]): void {
    const displays = [...xrdp.sesmanLog().matchAll(/Starting X server on display (\d+)/g)];
    const n = displays[displays.length - 1]?.[1];
    assert.ok(n, `the X display of the xrdp session in the sesman log:\n${xrdp.sesmanLog().slice(-2000)}`);
    const home = ensureTargetAccount().home;
    execFileSync(cmd, args, { env: { ...process.env, DISPLAY: `:${n}`, XAUTHORITY: join(home, '.Xauthority') }, stdio: 'pipe' });
  }

  before(async () => {
    assert.ok(existsSync(`${UI_DIR}/index.html`), 'the UI is built (npm run build)');
    execFileSync('xdotool', ['--version'], { stdio: 'ignore' });
    const dir = screenshotDir();
    for (const f of readdirSync(dir)) if (f.startsWith('rdp-failed-')) rmSync(join(dir, f));
    work = mkdtempSync(join(tmpdir(), 'gatehouse-rdp-e2e-'));
    [gw, xrdp, client, browser] = await Promise.all([startGateway('sqlite'), startXrdp(), startXvfb(), launchBrowser()]);
    const account = ensureTargetAccount();
    const s = await admin('POST', '/api/v1/secrets', { name: 'xrdp-desk', template: 'windows-account', fields: { machine: '127.0.0.1', port: xrdp.port, username: account.username, password: account.password } });
    assert.equal(s.status, 201, s.raw);
    secretId = s.body.id;
    const l = await admin('PATCH', '/api/v1/launchers/rdp', { record: true, recordKeystrokes: true });
    assert.equal(l.status, 200, l.raw);
    const u = await admin('POST', '/api/v1/users', { username: AUDITOR.username, password: AUDITOR.password, roles: ['Auditor'] });
    assert.equal(u.status, 201, u.raw);
  });

  after(async () => {
    await xf?.stop();
    await browser?.close();
    await client?.stop();
    await xrdp?.stop();
    await gw?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const step = stepRunner(contexts, 'rdp');

  it('an auditor watches a live RDP session on a canvas (keyframe, then the stream) and terminates it', () =>
    step(async () => {
      const launched = await admin('POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'rdp' });
      assert.equal(launched.status, 200, launched.raw);
      const file = await admin('GET', launched.body.rdpFile);
      assert.equal(file.status, 200, file.raw);
      const rdpFile = join(work, 'desk.rdp');
      writeFileSync(rdpFile, file.raw);
      const run = runXfreerdp(rdpFile, client);
      xf = run;
      // The whole desktop, not its first bands: xrdp paints it in pieces, and the replay test
      // below seeks to half a second after the typed line expecting the desktop there. Typing
      // after the first 20 % left a loaded machine's recording half black at that point.
      await waitFor('the whole xrdp desktop on the client display', () => displayShare(client, XRDP_DESKTOP_RGB) > 0.8 || (run.proc.exitCode !== null ? Promise.reject(new Error(`xfreerdp exited ${run.proc.exitCode}:\n${run.output().slice(-3000)}\n${gw.logs().slice(-3000)}`)) : false), 60_000, 500);
      const live = await until(async () => (await admin('GET', `/api/v1/sessions?secretId=${secretId}&status=live`)).body.items[0], 'the live session');
      sessionId = live.id;
      assert.equal(live.recording.format, 'ghrec-rdp');

      // The person types on the client: the keystroke log gets it.
      const win = execFileSync('xdotool', ['search', '--sync', '--onlyvisible', '--class', 'xfreerdp'], { env: { ...process.env, DISPLAY: client.display }, encoding: 'utf8' }).trim().split('\n')[0]!;
      const x = (args: string[]) => execFileSync('xdotool', args, { env: { ...process.env, DISPLAY: client.display }, stdio: 'pipe' });
      x(['windowfocus', '--sync', win]);
      x(['mousemove', '--window', win, '400', '500']);
      x(['type', '--delay', '60', TYPED]);
      x(['key', 'Return']);

      auditor = await newContext(browser, gw.running.url);
      contexts.push(auditor);
      const { page } = auditor;
      // What the live stream carries, as the browser received it.
      const events: { name: string; data: string }[] = [];
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Network.enable');
      cdp.on('Network.eventSourceMessageReceived', (e) => events.push({ name: e.eventName, data: e.data }));

      await signIn(page, AUDITOR.username, AUDITOR.password);
      await nav(page, 'Live sessions');
      const row = page.getByRole('row').filter({ hasText: 'xrdp-desk' });
      await row.waitFor();
      await row.getByRole('link', { name: 'Watch' }).click();
      await page.getByText('Watching live — read only.').waitFor();
      await page.locator('.status-pill').filter({ hasText: 'Live' }).waitFor();
      await page.getByRole('img', { name: 'Live screen' }).waitFor();
      const share = await waitForCanvasColour(page, 'Live screen', XRDP_DESKTOP_RGB, 'the xrdp desktop colour on the live canvas');
      assert.ok(share > 0.5);
      assert.equal(await page.locator('.xterm').isVisible(), false, 'no terminal for an RDP session');
      await screenshot(page, 'rdp-01-live');

      const header = JSON.parse(events.find((e) => e.name === 'header')?.data ?? '{}');
      assert.equal(header.format, 'rdp');
      assert.equal(header.recorded, true);
      assert.equal(header.sessionId, sessionId);
      assert.equal(header.user, 'admin');
      assert.equal(header.secret, 'xrdp-desk');
      assert.ok(header.width > 0 && header.height > 0 && header.startedAt, JSON.stringify(header));
      const keyframe = JSON.parse(events.find((e) => e.name === 'keyframe')?.data ?? '{}');
      assert.ok(keyframe.width > 0 && keyframe.height > 0, 'a keyframe with the desktop size');
      assert.equal(Buffer.from(keyframe.png, 'base64').subarray(1, 4).toString('latin1'), 'PNG');
      assert.equal(events[0]?.name, 'header');
      assert.equal(events[1]?.name, 'keyframe');

      // The stream goes on after the keyframe: the remote desktop changes colour while the auditor watches.
      const before = events.length;
      onRemoteDisplay('xsetroot', ['-solid', `#${CHANGED_RGB.toString(16)}`]);
      await waitForCanvasColour(page, 'Live screen', CHANGED_RGB, 'the new desktop colour on the live canvas');
      assert.ok(events.slice(before).some((e) => e.name === 'message'), 'records streamed after the keyframe');
      await screenshot(page, 'rdp-02-live-changed');
      // An idle stretch for the player to skip.
      await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));

      await page.getByRole('button', { name: 'Terminate' }).click();
      const dialog = page.getByRole('dialog', { name: 'Terminate this session?' });
      await dialog.waitFor();
      await dialog.getByLabel('Reason').fill('rdp e2e stop');
      await screenshot(page, 'rdp-03-live-terminate');
      await dialog.getByRole('button', { name: 'Terminate' }).click();
      await dialog.waitFor({ state: 'detached' });
      await waitFor('xfreerdp to be disconnected', () => run.proc.exitCode !== null || run.proc.signalCode !== null, 15_000, 200);
      const ended = page.getByRole('status').filter({ hasText: 'Session ended.' });
      await ended.waitFor();
      await until(async () => /rdp e2e stop/.test(await ended.innerText()), 'the end reason in the live view');
      // The last picture stays.
      assert.ok((await canvasShare(page, 'Live screen', CHANGED_RGB)) > 0.5);
      await screenshot(page, 'rdp-04-live-ended');
      await xf.stop();
      xf = null;
    }));

  it('the recording is listed and plays: canvas pixels, play/pause, speed, seeking both ways, keystrokes, download', () =>
    step(async () => {
      assert.ok(sessionId, 'needs the session of the previous test');
      await until(async () => (await admin('GET', `/api/v1/sessions/${sessionId}`)).body.recording.sha256, 'the sealed recording');
      const text = await admin('GET', `/api/v1/recordings/${sessionId}/text`);
      assert.ok(text.raw.includes(TYPED), `the typed line in the session text index: ${text.raw}`);
      const { page } = auditor;
      // From the bare live view back into the portal.
      await page.goto(url('/recordings'));
      await page.getByRole('heading', { name: 'Recordings', level: 1 }).waitFor();
      const row = page.getByRole('row').filter({ hasText: 'xrdp-desk' });
      await row.waitFor();
      assert.match(await row.innerText(), /RDP/);
      await screenshot(page, 'rdp-05-recordings');
      await row.getByRole('link', { name: 'Play' }).click();
      await page.getByRole('heading', { name: 'admin → xrdp-desk', level: 1 }).waitFor();
      const canvas = page.getByRole('img', { name: 'Recorded screen' });
      await canvas.waitFor();
      const time = page.locator('.rdp-time');
      const [, total] = (await time.innerText()).split('/');
      const duration = seconds(total!);
      assert.ok(duration >= 3, `a recording of ${duration} s`);
      assert.match(await time.innerText(), /^0:00 \//);

      // The keystroke log shows what was typed, and the markers (logon, termination).
      const side = page.getByRole('complementary', { name: 'Keystrokes and events' });
      const typed = side.getByRole('button').filter({ has: page.locator('.typed-text', { hasText: TYPED }) });
      await typed.waitFor();
      await side.getByRole('button').filter({ hasText: /terminated/ }).waitFor();
      const typedAt = seconds((await typed.locator('.typed-time').innerText()).trim());

      // A line jumps there and plays: the desktop (still its first colour) shows.
      await typed.click();
      await page.getByRole('button', { name: 'Pause', exact: true }).waitFor();
      await waitForCanvasColour(page, 'Recorded screen', XRDP_DESKTOP_RGB, 'the desktop colour after jumping to the typed line');
      await page.getByRole('button', { name: 'Pause', exact: true }).click();
      await page.getByRole('button', { name: 'Play', exact: true }).waitFor();
      const paused = await time.innerText();
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(await time.innerText(), paused, 'paused: the time stands still');
      await screenshot(page, 'rdp-06-player');

      // 8× with idle time skipped: playing on reaches the end and shows the colour the desktop
      // changed to. (How fast the clock runs and that it skips idle gaps is PlayerClock's unit
      // test, test/unit/rdp-player.test.ts; wall-clock time on a shared machine proves nothing.)
      await page.getByLabel('Speed').selectOption('8');
      assert.equal(await page.getByLabel('Skip idle time').isChecked(), true);
      await page.getByRole('button', { name: 'Play', exact: true }).click();
      await until(async () => (await time.innerText()).startsWith(`${total!.trim()} /`), 'the player at the end', 120_000);
      assert.ok(duration - typedAt > IDLE_SECONDS, `${duration - typedAt} s from the typed line to the end`);
      await page.getByRole('button', { name: 'Play', exact: true }).waitFor();
      await waitForCanvasColour(page, 'Recorded screen', CHANGED_RGB, 'the changed desktop colour at the end');
      await screenshot(page, 'rdp-07-player-end');

      // Seeking back (a re-decode from the start) shows the first colour again.
      await setRange(page, 'Position', Math.round((typedAt + 0.5) * 1000));
      await waitForCanvasColour(page, 'Recorded screen', XRDP_DESKTOP_RGB, 'the first desktop colour after seeking back');
      assert.equal(seconds((await time.innerText()).split('/')[0]!), Math.floor(typedAt + 0.5));
      await screenshot(page, 'rdp-08-player-seek');
      assert.equal(await page.locator('.rdp-warnings').count(), 0, `no decoder warnings: ${await page.locator('.rdp-warnings').allInnerTexts()}`);

      // The file to download, and the command that makes a video of it.
      const link = page.getByRole('link', { name: 'Download .ghrec' });
      assert.equal(await link.getAttribute('href'), `/api/v1/recordings/${sessionId}`);
      assert.equal(await link.getAttribute('download'), `${sessionId}.ghrec`);
      const res = await page.request.get(url(`/api/v1/recordings/${sessionId}`));
      assert.equal(res.status(), 200);
      assert.equal(res.headers()['content-type'], GHREC_CONTENT_TYPE);
      assert.deepEqual([...(await res.body()).subarray(0, 8)], [...GHREC_MAGIC]);
      await page.getByText(`gatehouse recording export ${sessionId} --mp4 out.mp4`).waitFor();
    }));

  it('a search hit on typed text opens the player at that moment', () =>
    step(async () => {
      const { page } = auditor;
      await nav(page, 'Recordings');
      await page.getByRole('searchbox', { name: 'Search typed text in recordings' }).fill('rdp-keys');
      const hit = page.locator('.hit').filter({ hasText: 'admin → xrdp-desk' });
      await hit.waitFor();
      const line = hit.locator('.hit-line').first();
      const at = seconds(await line.locator('.hit-time').innerText());
      await line.click();
      await page.waitForURL(new RegExp(`/recordings/${sessionId}\\?q=rdp-keys&at=`));
      await page.getByRole('img', { name: 'Recorded screen' }).waitFor();
      await page.locator('.hit-bar').filter({ hasText: 'rdp-keys' }).waitFor();
      await until(async () => seconds((await page.locator('.rdp-time').innerText()).split('/')[0]!) === at, 'the player at the hit');
      await page.locator('.typed-lines li.hit').filter({ hasText: TYPED }).waitFor();
      await waitForCanvasColour(page, 'Recorded screen', XRDP_DESKTOP_RGB, 'the desktop at the hit');
      await page.getByRole('button', { name: /Jump to search hit/ }).click();
      await screenshot(page, 'rdp-09-search-hit');
    }));
});
