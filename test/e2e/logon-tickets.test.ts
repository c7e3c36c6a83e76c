// A TSplus logon ticket (seed 004) opened in headless Chromium: the external portal's server
// asks for the logon ticket (RSA PKCS#1 v1.5 with Node's crypto), the person's browser opens
// /software/html5.html?user=<ticket> with no Gatehouse sign-in and lands on the browser RDP
// page (/rdp/session) with a launch ticket of the logon-ticket account. Opening the same link
// again shows the generic refusal page. No form of the password is in any answer the browser got.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launchBrowser, newContext, screenshot, type Ctx } from '../support/browser.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { encryptCredentials } from '../support/logon-tickets.js';
import { ok } from '../support/ssh-client.js';
import { wireLeaks, type Blob } from '../support/scan.js';

const WIN_PW = 'Browser-Logon-Pw-3x';

describe('logon ticket in Chromium', { timeout: 120_000 }, () => {
  let gw: Gateway;
  let browser: Browser;
  let c: Ctx;
  const bodies: Promise<Blob | null>[] = [];

  before(async () => {
    [gw, browser] = await Promise.all([startGateway('sqlite'), launchBrowser()]);
    await ok(gw, 'POST', '/api/v1/users', { username: 'portal-svc', password: 'Portal-Svc-Pw-1', roles: ['User'] }, 201);
    const secret = (await ok(gw, 'POST', '/api/v1/secrets', { name: 'win-app1', template: 'windows-account', fields: { machine: '127.0.0.1', port: 3389, username: 'shared', password: 'Shared-Pw-Not-Used-1' } }, 201)).id;
    await ok(gw, 'PUT', `/api/v1/secrets/${secret}/permissions`, { entries: [{ principalType: 'user', principal: 'portal-svc', level: 'view' }] });
    await ok(gw, 'PATCH', '/api/v1/settings', { logonTicketUser: 'portal-svc', logonTicketServers: [`app1|${secret}|rdp`] });
    c = await newContext(browser);
    c.page.on('response', (r) => bodies.push(r.body().then((b) => ({ name: `${r.status()} ${new URL(r.url()).pathname}`, data: Buffer.concat([Buffer.from(JSON.stringify(r.headers())), b]) })).catch(() => null)));
  });
  after(async () => {
    await c?.context.close();
    await browser?.close();
    await gw?.close();
  });

  it('html5.html?user=<logon ticket> → /rdp/session?ticket=<launch ticket>, no sign-in; the link works once', async () => {
    // The portal's server side.
    const get = async (url: string) => (await gw.running.app.inject({ method: 'GET', url, remoteAddress: '127.0.0.1' })).body;
    const key = await get('/socket.io/WCREDS?GetRuntimePublicModulusExponent');
    const logonTicket = await get(`/socket.io/socket.io/LPW?rsabase64nojs=${encodeURIComponent(encryptCredentials(key, `WinUser=CORP\\\\jdoe&WinPassword=${WIN_PW}`))}`);
    assert.match(logonTicket, /^\*[A-Za-z0-9_-]{32}$/);

    // The person's browser.
    const link = `${gw.running.url}/software/html5.html?user=${encodeURIComponent(logonTicket)}`;
    // The request that lands on /rdp/session carries the launch ticket (the page then takes it out
    // of the address bar and redeems it, so the address bar is no witness).
    const arrived = c.page.waitForRequest((r) => new URL(r.url()).pathname === '/rdp/session', { timeout: 60_000 });
    const first = await c.page.goto(link);
    assert.ok(first);
    const landed = new URL((await arrived).url()).searchParams.get('ticket');
    assert.ok(landed, 'the browser on /rdp/session with a launch ticket');
    const row = await gw.running.core.tickets.peek(landed);
    assert.ok(row, 'a launch ticket');
    const svc = await gw.running.core.dir.userByName('portal-svc');
    assert.equal(row.userId, svc!.id);
    assert.equal(row.launcherId, 'rdp');
    await screenshot(c.page, 'logon-ticket-landed');

    const again = await c.page.goto(link);
    assert.equal(again?.status(), 403);
    assert.match(await c.page.content(), /This link cannot be opened/);
    assert.deepEqual(wireLeaks((await Promise.all(bodies)).filter(Boolean) as Blob[], { password: WIN_PW }), []);
  });
});
