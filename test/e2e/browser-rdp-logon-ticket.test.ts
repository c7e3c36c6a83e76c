// A TSplus logon ticket (seed 004) all the way to a real desktop in Chromium (issue 14 point 7;
// logon-tickets.test.ts stops where the browser lands on /rdp/session). The external portal's
// server encrypts the person's Windows credential with the public modulus:exponent (RSA
// PKCS#1 v1.5 from Node's crypto); the person's browser opens /software/html5.html?user=…
// with no Gatehouse sign-in and ends on the xrdp desktop logged on as that Windows user: the
// application server's secret names only the target (its own password is wrong on purpose),
// so the desktop proves the ticket's credential was injected on Gatehouse's side. The
// session runs as logonTicketUser; no form of the password is in any WebSocket frame or HTTP
// answer the browser got. Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { ensureTargetAccount } from '../support/accounts.js';
import { launchBrowser, newContext, screenshot, stepRunner, until, type Ctx } from '../support/browser.js';
import { desktopShown, phaseOf, xrdpDisplay } from '../support/browser-rdp.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { encryptCredentials } from '../support/logon-tickets.js';
import { wireLeaks, type Blob } from '../support/scan.js';
import { ok } from '../support/ssh-client.js';
import { startXrdp, XRDP_DESKTOP_RGB, type Xrdp } from '../support/xrdp.js';

describe('logon ticket → a real xrdp desktop in Chromium', { timeout: 240_000 }, () => {
  let gw: Gateway;
  let xrdp: Xrdp;
  let browser: Browser;
  const contexts: Ctx[] = [];
  const account = ensureTargetAccount();
  const step = stepRunner(contexts, 'browser-rdp-logon-ticket');
  let secretId = '';

  before(async () => {
    assert.ok(existsSync(join(UI_DIR, 'index.html')), 'the UI is built (npm run build)');
    [gw, xrdp, browser] = await Promise.all([startGateway('sqlite'), startXrdp(), launchBrowser()]);
    await ok(gw, 'POST', '/api/v1/users', { username: 'portal-svc', password: 'Portal-Svc-Pw-1', roles: ['User'] }, 201);
    // The secret names the target only: its account and password are not used for logon tickets.
    secretId = (await ok(gw, 'POST', '/api/v1/secrets', { name: 'app1-xrdp', template: 'windows-account', fields: { machine: '127.0.0.1', port: xrdp.port, username: 'not-this-one', password: 'Not-The-Target-Pw-1' } }, 201)).id;
    await ok(gw, 'PUT', `/api/v1/secrets/${secretId}/permissions`, { entries: [{ principalType: 'user', principal: 'portal-svc', level: 'view' }] });
    await ok(gw, 'PATCH', '/api/v1/settings', { logonTicketUser: 'portal-svc', logonTicketServers: [`app1|${secretId}|rdp`] });
  });

  after(async () => {
    for (const c of contexts) await c.context.close().catch(() => undefined);
    await browser?.close();
    await gw?.close();
    await xrdp?.stop();
  });

  it('html5.html?user=<logon ticket> opens the desktop as the ticket\'s Windows user, with no sign-in; the password reaches neither the page nor the socket', async () => {
    // The portal's server side.
    const get = async (url: string) => (await gw.running.app.inject({ method: 'GET', url, remoteAddress: '127.0.0.1' })).body;
    const key = await get('/socket.io/WCREDS?GetRuntimePublicModulusExponent');
    const logonTicket = await get(`/socket.io/socket.io/LPW?rsabase64nojs=${encodeURIComponent(encryptCredentials(key, `WinUser=${account.username}&WinPassword=${account.password}`))}`);
    assert.match(logonTicket, /^\*[A-Za-z0-9_-]{32}$/);

    // The person's browser: every WebSocket frame and every HTTP answer it gets.
    const c = await newContext(browser, gw.running.url);
    contexts.push(c);
    const got: Blob[] = [];
    const bodies: Promise<Blob | null>[] = [];
    c.page.on('websocket', (ws) => ws.on('framereceived', (f) => got.push({ name: `websocket frame #${got.length + 1}`, data: Buffer.isBuffer(f.payload) ? f.payload : Buffer.from(f.payload, 'utf8') })));
    c.page.on('response', (r) => bodies.push(r.body().then((b) => ({ name: `${r.status()} ${new URL(r.url()).pathname}`, data: Buffer.concat([Buffer.from(JSON.stringify(r.headers())), b]) })).catch(() => null)));
    let sessionId = '';
    await step(async () => {
      await c.page.goto(`/software/html5.html?user=${encodeURIComponent(logonTicket)}`);
      await desktopShown(c.page, XRDP_DESKTOP_RGB, () => gw.logs().slice(-3000));
      assert.equal(new URL(c.page.url()).pathname, '/rdp/session');
      assert.equal(new URL(c.page.url()).searchParams.get('ticket'), null, 'the launch ticket leaves the address bar');
      // The target's side: sesman started an X session for the ticket's Windows user.
      assert.ok(xrdpDisplay(xrdp, account.home).display);
      assert.match(xrdp.sesmanLog(), new RegExp(account.username));
      const live = (await ok(gw, 'GET', `/api/v1/sessions?secretId=${secretId}&status=live`)).items as any[];
      assert.equal(live.length, 1);
      sessionId = live[0].id;
      assert.equal(live[0].user.username, 'portal-svc', 'the session runs as logonTicketUser');
      assert.equal(live[0].door, 'web');
      await screenshot(c.page, 'browser-rdp-logon-ticket');
      await c.page.getByRole('button', { name: 'Disconnect' }).click();
      await until(async () => (await phaseOf(c.page)) === 'ended', 'the page to end', 20_000);
    });
    await until(async () => ((await ok(gw, 'GET', `/api/v1/sessions?secretId=${secretId}`)).items as any[]).every((s) => s.status === 'ended'), 'the session to end', 20_000);
    const text = (await ok(gw, 'GET', `/api/v1/recordings/${sessionId}/text`)).items as { kind: string; text: string }[];
    const injected = text.find((i) => i.kind === 'event' && i.text.startsWith('rdp_logon_injected'));
    assert.ok(injected, JSON.stringify(text.filter((i) => i.kind === 'event')));
    assert.ok(injected.text.includes(account.username), injected.text);
    assert.ok(!injected.text.includes('not-this-one'), 'not the secret\'s own account');
    const used = ((await ok(gw, 'GET', '/api/v1/audit?action=logon_ticket.used&limit=10')).items as any[])[0];
    assert.equal(used?.details?.winUser, account.username);
    assert.ok(got.length > 20, `the browser received RDP (${got.length} frames)`);
    assert.deepEqual(wireLeaks([...got, ...((await Promise.all(bodies)).filter(Boolean) as Blob[])], { password: account.password }), [], 'no form of the password reached the browser');
  });
});
