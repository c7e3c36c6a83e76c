// Remote Desktop in the browser, end to end: headless Chromium (playwright-core) loads
// the portal's /rdp/session page, IronRDP's web client (WASM) speaks RDCleanPath over a
// WebSocket to Gatehouse's browser RDP door with the launch ticket, and lands on xrdp
// (TLS target, credential injected into the Client Info PDU) or FreeRDP's shadow server
// (NLA target, CredSSP on Gatehouse's side) logged on as the vaulted account. Keys typed
// with browser key events reach the target (xev on the shadowed X display prints them)
// and the recording's keystroke log; no form of the password is in any WebSocket frame
// the browser received or any page it loaded. Refusals: a wrong or reused ticket, bytes
// that are not RDCleanPath (a raw X.224 request, a text frame, junk DER). Needs the UI
// built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import WebSocket from 'ws';
import { UI_DIR } from '../../src/web/ui.js';
import { decodePdu, encodePdu } from '../../src/protocols/rdp-web/rdcleanpath.js';
import { buildConnectionRequest, PROTOCOL } from '../../src/protocols/rdp/pdu/x224.js';
import { canvasInfo } from '../support/rdp-canvas.js';
import { ensureTargetAccount } from '../support/accounts.js';
import { launchBrowser, newContext, screenshot, until, type Ctx, stepRunner } from '../support/browser.js';
import { clickDesktop, phaseOf } from '../support/browser-rdp.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { holdTargetClipboard, rdpAdmin, targetClipboard as clipboardOn, xevPrints, xevWindow, xrdpSessionDisplay, xrdpSessionEnv } from '../support/rdp-browser-session.js';
import { ADMIN_PASSWORD } from '../support/harness.js';
import { wireLeaks, type Blob } from '../support/scan.js';
import { SHADOW_DESKTOP_RGB, startShadowServer, startXrdp, XRDP_DESKTOP_RGB, type ShadowServer, type Xrdp } from '../support/xrdp.js';

/** Every WebSocket frame the page received and every HTTP answer's body. */
function receive(c: Ctx): { frames: Blob[]; bodies: Promise<Blob | null>[]; all(): Promise<Blob[]> } {
  const r = {
    frames: [] as Blob[],
    bodies: [] as Promise<Blob | null>[],
    all: async () => [...r.frames, ...((await Promise.all(r.bodies)).filter(Boolean) as Blob[])],
  };
  const watch = (p: Page) =>
    p.on('websocket', (ws) => {
      ws.on('framereceived', (f) => r.frames.push({ name: `websocket frame #${r.frames.length + 1}`, data: Buffer.isBuffer(f.payload) ? f.payload : Buffer.from(f.payload, 'utf8') }));
    });
  watch(c.page);
  c.context.on('page', watch);
  c.context.on('response', (res) => r.bodies.push(res.body().then((data) => ({ name: `${res.request().method()} ${new URL(res.url()).pathname}`, data }), () => null)));
  return r;
}

describe('browser RDP in Chromium (IronRDP web client, RDCleanPath door)', { timeout: 420_000 }, () => {
  let gw: Gateway;
  let xrdp: Xrdp;
  let browser: Browser;
  const contexts: Ctx[] = [];
  const account = ensureTargetAccount();
  const step = stepRunner(contexts, 'browser-rdp');
  const admin = (method: string, path: string, body?: unknown) => gw.api(method, path, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });
  let xrdpSecret = '';

  before(async () => {
    assert.ok(existsSync(join(UI_DIR, 'index.html')), 'the UI is built (npm run build)');
    [gw, xrdp, browser] = await Promise.all([startGateway('sqlite'), startXrdp({ clipboard: true }), launchBrowser()]);
    const on = await admin('PATCH', '/api/v1/settings', { sessionConnector: true });
    assert.equal(on.status, 200, on.raw);
    xrdpSecret = await secret('xrdp-web', xrdp.port, account.username, account.password);
  });

  after(async () => {
    for (const c of contexts) await c.context.close().catch(() => undefined);
    await browser?.close();
    await gw?.close();
    await xrdp?.stop();
  });

  const api = rdpAdmin(() => gw);
  const secret = api.windowsSecret;
  const launch = (secretId: string, launcher = 'rdp') => api.launch(secretId, { launcher });
  const sessionsOf = api.sessionsOf;
  const textOf = api.textOf;
  const auditEvents = async (action: string) => (await admin('GET', `/api/v1/audit?action=${action}&limit=500`)).body.items as any[];
  const context = async () => {
    const c = await newContext(browser, gw.running.url);
    contexts.push(c);
    return { c, got: receive(c) };
  };
  const connected = async (page: Page, rgb: number) => {
    await until(async () => (await phaseOf(page)) === 'connected', 'the session to connect', 60_000).catch(async (e) => {
      throw new Error(`${(e as Error).message}\nphase: ${await phaseOf(page)}: ${await page.locator('.rdpw-reason').textContent().catch(() => '')}\n${gw.logs().slice(-3000)}`);
    });
    return until(async () => {
      const i = await canvasInfo(page, rgb);
      return i.share > 0.3 ? i : null;
    }, 'the remote desktop colour on the canvas', 60_000);
  };

  it('opens an xrdp desktop logged on as the vaulted account; typed keys land in the keystroke log; the ticket leaves the address bar; no password byte reaches the browser', async () => {
    const { c, got } = await context();
    let sessionId = '';
    await step(async () => {
      const ticket = await launch(xrdpSecret);
      await c.page.goto(`/rdp/session?ticket=${ticket}&consent=1`);
      const info = await connected(c.page, XRDP_DESKTOP_RGB);
      assert.equal(new URL(c.page.url()).searchParams.get('ticket'), null, 'the ticket leaves the address bar');
      const live = (await sessionsOf(xrdpSecret)).find((s) => s.status === 'live');
      assert.ok(live, 'a live session');
      sessionId = live.id;
      assert.equal(live.door, 'web');
      await clickDesktop(c.page, info, 600, 400);
      await c.page.keyboard.type('echo web-typed-4242', { delay: 30 });
      await c.page.keyboard.press('Enter');
      await until(async () => (await textOf(sessionId)).some((i) => i.kind === 'command' && i.text === 'echo web-typed-4242'), 'the typed line in the session index', 20_000);
      await c.page.getByRole('button', { name: 'Ctrl+Alt+Del' }).click();
      await screenshot(c.page, 'browser-rdp-xrdp');
      // An administrator ends it: the page says so.
      const t = await admin('POST', `/api/v1/sessions/${sessionId}/terminate`, { reason: 'browser rdp test' });
      assert.equal(t.status, 200, t.raw);
      await until(async () => (await phaseOf(c.page)) === 'ended', 'the page to show the end', 20_000);
    });
    await until(async () => (await sessionsOf(xrdpSecret)).every((s) => s.status === 'ended'), 'the session to end', 15_000);
    const text = await textOf(sessionId);
    const events = text.filter((i) => i.kind === 'event').map((i) => i.text.split(' ')[0]);
    for (const kind of ['rdp_client', 'rdp_target_tls', 'rdp_logon_injected', 'rdp_channels']) assert.ok(events.includes(kind), `${kind} in ${events.join(', ')}`);
    const redeem = (await auditEvents('ticket.redeem')).find((e) => e.details?.sessionId === sessionId);
    assert.equal(redeem?.details?.door, 'web');
    const leaks = wireLeaks(await got.all(), { password: account.password });
    assert.deepEqual(leaks, [], 'no form of the password reached the browser');
    assert.ok(got.frames.length > 20, `the browser received RDP (${got.frames.length} frames)`);
  });

  it('the portal\'s "Open in browser" on an RDP launcher opens the session in a new tab (the recording notice first when the launcher records)', async () => {
    const { c } = await context();
    await step(async () => {
      await c.page.goto('/');
      await c.page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await c.page.getByLabel('Username', { exact: true }).fill('admin');
      await c.page.getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
      await c.page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await c.page.getByRole('heading', { name: 'My access', level: 1 }).waitFor();
      const row = c.page.getByRole('row').filter({ hasText: 'xrdp-web' });
      // The keyboard layout the person chooses goes with the launch (and is remembered), with the window's size and DPI.
      await row.locator('.launcher-row').first().getByLabel('Keyboard layout').selectOption('de');
      const [tab] = await Promise.all([c.context.waitForEvent('page'), row.locator('.launcher-row').first().getByRole('button', { name: 'Open in browser' }).click()]);
      await until(async () => ['consent', 'connecting', 'connected'].includes((await phaseOf(tab)) ?? ''), 'the session page', 30_000);
      if ((await phaseOf(tab)) === 'consent') await tab.getByRole('button', { name: 'Agree and connect' }).click();
      await connected(tab, XRDP_DESKTOP_RGB);
      assert.equal(new URL(tab.url()).pathname, '/rdp/session');
      assert.equal(new URL(tab.url()).searchParams.get('ticket'), null);
      const launched = (await admin('GET', '/api/v1/audit?action=secret.launch&limit=1')).body.items[0];
      const win = await c.page.evaluate(() => {
        const w = globalThis as any;
        return { w: w.innerWidth as number, h: w.innerHeight as number, r: w.devicePixelRatio as number };
      });
      assert.equal(launched.details.display.keyboardLayout, 'de');
      assert.equal(launched.details.display.width, Math.round(win.w * win.r) & ~1, 'the width from the window');
      assert.equal(launched.details.display.height, Math.round(win.h * win.r));
      assert.equal(launched.details.display.dpi, Math.round(96 * win.r));
      assert.equal(await c.page.evaluate(() => (globalThis as any).localStorage.getItem('gatehouse.rdp.keyboardLayout')), 'de', 'remembered');
      await tab.getByRole('button', { name: 'Disconnect' }).click();
      await until(async () => (await phaseOf(tab)) === 'ended', 'the tab to show the end', 20_000);
    });
  });

  const xrdpDisplay = () => xrdpSessionDisplay(xrdp);
  const xenv = () => xrdpSessionEnv(xrdp, account.home);
  /** The target session's X clipboard (CLIPBOARD selection), read by a Tk client on its display. */
  const targetClipboard = () => clipboardOn(xenv());
  const clipboardLauncher = api.clipboardLauncher;
  const pageClipboard = (page: Page, text?: string) =>
    page.evaluate((t) => {
      const nav = (globalThis as any).navigator;
      return t === undefined ? nav.clipboard.readText() : nav.clipboard.writeText(t).then(() => t);
    }, text) as Promise<string>;

  it('clipboard text both ways when the launcher allows it; none when it denies it (the relay drops cliprdr)', async () => {
    const allowed = await clipboardLauncher('rdp-clip-on', true);
    const denied = await clipboardLauncher('rdp-clip-off', false);
    const { c } = await context();
    await c.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gw.running.url });
    let setter: ChildProcess | null = null;
    await step(async () => {
      await c.page.goto(`/rdp/session?ticket=${await launch(xrdpSecret, allowed)}&consent=1`);
      await connected(c.page, XRDP_DESKTOP_RGB);
      await c.page.bringToFront();
      // Browser → target: the page's clipboard becomes the remote X clipboard.
      await pageClipboard(c.page, 'gh-clip-from-browser-7');
      await until(async () => (await targetClipboard()) === 'gh-clip-from-browser-7', 'the browser clipboard on the target', 30_000).catch(async (e) => {
        const live = (await sessionsOf(xrdpSecret)).find((x) => x.status === 'live');
        const notes = live ? (await textOf(live.id)).filter((i) => i.kind === 'event').map((i) => i.text.slice(0, 300)) : [];
        throw new Error(`${(e as Error).message}\ntarget has ${JSON.stringify(await targetClipboard())} on ${xrdpDisplay()}\nnotes:\n${notes.join('\n')}\nxrdp:\n${xrdp.xrdpLog().split('\n').filter((l) => /chansrv|cliprdr|channel/i.test(l)).slice(-30).join('\n')}\nsesman:\n${xrdp.sesmanLog().split('\n').filter((l) => /chansrv/i.test(l)).slice(-10).join('\n')}\nbrowser: ${c.problems.join('\n')}`);
      });
      // Target → browser: a text copied on the remote desktop reaches the page's clipboard.
      setter = holdTargetClipboard(xenv(), 'gh-clip-from-target-8');
      await until(async () => (await pageClipboard(c.page)) === 'gh-clip-from-target-8', 'the target clipboard in the browser', 30_000);
      await c.page.getByRole('button', { name: 'Disconnect' }).click();
      await until(async () => (await phaseOf(c.page)) === 'ended', 'the page to end', 20_000);
      (setter as ChildProcess | null)?.kill();
      setter = null;

      // Denied: the same page, the same browser clipboard; nothing crosses, and the session says why.
      await pageClipboard(c.page, 'gh-clip-denied-9');
      await c.page.goto(`/rdp/session?ticket=${await launch(xrdpSecret, denied)}&consent=1`);
      await connected(c.page, XRDP_DESKTOP_RGB);
      await c.page.bringToFront();
      await pageClipboard(c.page, 'gh-clip-denied-10');
      const live = (await sessionsOf(xrdpSecret)).find((x) => x.status === 'live');
      assert.ok(live);
      await until(async () => (await textOf(live.id)).some((i) => i.kind === 'event' && i.text.startsWith('rdp_channel_denied ') && i.text.includes('cliprdr')), 'the relay to drop cliprdr', 20_000);
      for (let i = 0; i < 3; i++) {
        const seen = await targetClipboard();
        assert.ok(!seen.startsWith('gh-clip-denied'), `the target got ${seen}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
      await c.page.getByRole('button', { name: 'Disconnect' }).click();
    }).finally(() => (setter as ChildProcess | null)?.kill());
  });

  it('display: GUAC_WIDTH/GUAC_HEIGHT choose the desktop; a window smaller than the desktop scales it to fit', async () => {
    const { c } = await context();
    await step(async () => {
      await c.page.goto(`/rdp/session?ticket=${await launch(xrdpSecret)}&consent=1&GUAC_WIDTH=1024&GUAC_HEIGHT=640&GUAC_DPI=96`);
      const info = await connected(c.page, XRDP_DESKTOP_RGB);
      assert.deepEqual([info.width, info.height], [1024, 640], 'the desktop asked for');
      await c.page.setViewportSize({ width: 700, height: 500 });
      const fitted = await until(async () => {
        const i = await canvasInfo(c.page, XRDP_DESKTOP_RGB);
        return i.cssWidth <= 700 && i.cssHeight <= 500 - 36 + 1 && i.cssWidth > 300 ? i : null;
      }, 'the canvas scaled into the smaller window', 15_000);
      assert.ok(Math.abs(fitted.cssWidth / fitted.cssHeight - 1024 / 640) < 0.02, 'the shape is kept');
      await c.page.getByRole('button', { name: 'Disconnect' }).click();
      await until(async () => (await phaseOf(c.page)) === 'ended', 'the page to end', 20_000);
    });
  });

  it('a wrong ticket and a used one are refused with an RDCleanPath error; the core audits why', async () => {
    const { c } = await context();
    await step(async () => {
      await c.page.goto(`/rdp/session?ticket=${'B'.repeat(32)}&consent=1`);
      await until(async () => (await phaseOf(c.page)) === 'error', 'the page to show the refusal', 30_000);
      assert.match((await c.page.locator('.rdpw-reason').textContent()) ?? '', /expired or been used/);
      const ticket = await launch(xrdpSecret);
      await c.page.goto(`/rdp/session?ticket=${ticket}&consent=1`);
      await connected(c.page, XRDP_DESKTOP_RGB);
      const { c: second } = await context();
      await second.page.goto(`/rdp/session?ticket=${ticket}&consent=1`);
      await until(async () => (await phaseOf(second.page)) === 'error', 'the reused ticket to be refused', 30_000);
      await c.page.getByRole('button', { name: 'Disconnect' }).click();
      await until(async () => (await phaseOf(c.page)) === 'ended', 'the page to end', 20_000);
    });
    const refused = (await auditEvents('ticket.refused')).map((e) => e.details?.reason);
    assert.ok(refused.includes('unknown'), refused.join(','));
    assert.ok(refused.includes('used'), refused.join(','));
  });

  it('bytes that are not RDCleanPath are refused: a raw X.224 request, a text frame, junk DER, a request without TLS; a recording launcher without consent=1', async () => {
    const url = `${gw.running.url.replace('https', 'wss')}/api/v1/rdp/socket`;
    /** Sends frames, then collects what comes back until the socket closes. */
    const exchange = (frames: (Buffer | string)[]) =>
      new Promise<{ got: Buffer[]; code: number }>((resolve, reject) => {
        const ws = new WebSocket(url, { rejectUnauthorized: false });
        const got: Buffer[] = [];
        ws.on('open', () => {
          for (const f of frames) ws.send(f, { binary: typeof f !== 'string' });
        });
        ws.on('message', (d: Buffer) => got.push(d));
        ws.on('close', (code) => resolve({ got, code }));
        ws.on('error', reject);
        setTimeout(() => reject(new Error('the socket stayed open')), 20_000).unref();
      });
    const x224 = buildConnectionRequest({ requestedProtocols: PROTOCOL.SSL });
    const raw = await exchange([x224]);
    assert.equal(raw.got.length, 1);
    assert.equal(decodePdu(raw.got[0]!).error?.httpStatusCode, 400, 'an RDCleanPath error');
    const text = await exchange(['{"type":"hello"}']);
    assert.ok(text.got.every((g) => decodePdu(g).error), 'at most an RDCleanPath error');
    const junk = await exchange([Buffer.from([0x30, 0x05, 0xa0, 0x03, 0x02, 0x01, 0x07])]);
    assert.equal(decodePdu(junk.got[0]!).error?.httpStatusCode, 400);
    const ticket = await launch(xrdpSecret);
    const noTls = await exchange([encodePdu({ destination: 'x', proxyAuth: ticket, x224: buildConnectionRequest({ requestedProtocols: PROTOCOL.HYBRID }) })]);
    assert.equal(decodePdu(noTls.got[0]!).error?.httpStatusCode, 400);
    const reasons = (await auditEvents('ticket.refused')).map((e) => e.details?.reason);
    assert.ok(reasons.includes('missing') && reasons.includes('tls_required'), reasons.join(','));
    // The launcher records: without consent=1 on the socket the door refuses before redeeming (audited), and the ticket stays usable.
    const unconsented = await launch(xrdpSecret);
    const noConsent = await exchange([encodePdu({ destination: 'x', proxyAuth: unconsented, x224 })]);
    assert.equal(decodePdu(noConsent.got[0]!).error?.httpStatusCode, 403);
    assert.ok((await auditEvents('ticket.refused')).some((e) => e.details?.reason === 'consent_missing' && e.details?.door === 'web-rdp'));
    const stillUsable = await admin('GET', `/api/v1/launch/rdp-file?ticket=${unconsented}`);
    assert.equal(stillUsable.status, 200, stillUsable.raw);
  });

  describe('NLA target (FreeRDP shadow server)', () => {
    let shadow: ShadowServer;
    let xev: ReturnType<typeof xevWindow>;
    const shadowAccount = { username: 'ghwebshadow', password: 'Sh4dow-Web-Vault-Pw!9z' };
    before(async () => {
      shadow = await startShadowServer(shadowAccount);
      // A window on the shared display that prints every key the X server gets: the target's side of the typing.
      xev = xevWindow({ ...process.env, DISPLAY: shadow.display.display }, ['keyboard', 'button'], '260x160+20+20');
    });
    after(async () => {
      xev?.proc.kill();
      await shadow?.stop();
    });

    it('Gatehouse completes NLA with the vaulted credential; keys typed in the browser reach the target\'s X server and the recording', async () => {
      const id = await secret('shadow-web', shadow.port, shadowAccount.username, shadowAccount.password);
      const { c, got } = await context();
      await step(async () => {
        await c.page.goto(`/rdp/session?ticket=${await launch(id)}&consent=1`);
        const info = await connected(c.page, SHADOW_DESKTOP_RGB);
        assert.deepEqual([info.width, info.height], [800, 600], 'the shadowed display');
        assert.match(gw.logs(), /"nla":true,"via":"browser",("reqId":"[^"]+",)?"msg":"rdp session connected"/);
        await clickDesktop(c.page, info, 120, 90);
        await c.page.keyboard.type('hello web 42', { delay: 40 });
        await xevPrints(xev.out, 'hello web 42', 'xev on the target display to print the typed text');
        await screenshot(c.page, 'browser-rdp-shadow');
        await c.page.getByRole('button', { name: 'Disconnect' }).click();
      });
      await until(async () => (await sessionsOf(id)).every((s) => s.status === 'ended'), 'the session to end', 20_000);
      const sessionId = (await sessionsOf(id))[0].id as string;
      const text = await admin('GET', `/api/v1/recordings/${sessionId}/text`);
      assert.ok(text.raw.includes('rdp_target_nla'), text.raw);
      assert.deepEqual(wireLeaks(await got.all(), { password: shadowAccount.password }), [], 'no form of the password reached the browser');
    });

    it('touch on a narrow screen: a tap is a click, two fingers moving scroll (the target\'s X server sees the buttons)', async () => {
      const id = await secret('shadow-touch', shadow.port, shadowAccount.username, shadowAccount.password);
      const context = await browser.newContext({ ignoreHTTPSErrors: true, baseURL: gw.running.url, viewport: { width: 390, height: 700 }, hasTouch: true, isMobile: true });
      const c: Ctx = { context, page: await context.newPage(), problems: [] };
      contexts.push(c);
      await step(async () => {
        await c.page.goto(`/rdp/session?ticket=${await launch(id)}&consent=1`);
        const info = await connected(c.page, SHADOW_DESKTOP_RGB);
        const at = (x: number, y: number) => ({ x: info.left + (x * info.cssWidth) / info.width, y: info.top + (y * info.cssHeight) / info.height });
        const buttons = () => [...xev.out().matchAll(/ButtonPress event[\s\S]*?button (\d+)/g)].map((m) => Number(m[1]));
        const before = buttons().length;
        const p = at(120, 90);
        await c.page.touchscreen.tap(p.x, p.y);
        await until(async () => buttons().slice(before).includes(1), 'xev to see the tap as button 1', 15_000);
        // Two fingers moving up: touch events as a phone sends them (Playwright taps only), turned into the wheel.
        const afterTap = buttons().length;
        // A string: tsx's helpers (named functions) do not exist in the page.
        await c.page.evaluate(`(() => {
          const { x, y } = ${JSON.stringify(p)};
          const canvas = document.querySelector('iron-remote-desktop').shadowRoot.querySelector('canvas');
          const touches = (dy) => [0, 1].map((i) => new Touch({ identifier: i, target: canvas, clientX: x + i * 30, clientY: y + dy }));
          const fire = (type, list) => canvas.dispatchEvent(new TouchEvent(type, { touches: type === 'touchend' ? [] : list, changedTouches: list, bubbles: true, cancelable: true, composed: true }));
          fire('touchstart', touches(0));
          for (let dy = -10; dy >= -120; dy -= 10) fire('touchmove', touches(dy));
          fire('touchend', touches(-120));
        })()`);
        await until(async () => buttons().slice(afterTap).some((b) => b === 4 || b === 5), 'xev to see wheel buttons (4/5) from the two-finger move', 15_000).catch((e) => {
          throw new Error(`${(e as Error).message}: saw ${buttons().slice(afterTap).join(',')}`);
        });
        await c.page.getByRole('button', { name: 'Disconnect' }).click();
      });
    });
  });
});
