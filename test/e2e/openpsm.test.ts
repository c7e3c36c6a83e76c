// The OpenPSM exchange (seed 003) between two Gatehouse processes: two real `gatehouse serve`
// OS processes on their own loopback ports and data dirs, the "portal" node (IAM side) and
// the "gateway" node, driven only over HTTPS like any deployment. The portal node issues a
// /start link for a secret of the real test sshd (through its API, and through its portal's
// "Open through OpenPSM gateway" action); headless Chromium follows it to the gateway node,
// is refused a wrong master password, gets in with the right one (getcredential goes gateway
// → IAM), runs a command only the real shell answers, exits; the gateway then calls
// endsession, which the IAM's address (an https stand-in forwarding over HTTPS to the portal
// process's real URL) answers with 401 four times before letting it through: five calls,
// delivered, audited. Mode RDP: the master password sends the tab on to the gateway's browser
// RDP page with a single-use token; IronRDP's web client shows the xrdp desktop at the GUAC_*
// size (the credential from getcredential injected on the gateway's side); endsession follows
// the disconnect; the token cannot be used twice. Also: an expired access token closes the tab (the link issued while
// the portal's openpsmLinkSeconds was at its 30-second minimum, used after its expiresAt);
// another IAM error shows "Close"; the seed's refusal messages in the browser. Neither the
// master password nor the target's password appears in anything the browser received, in
// either process's stdout/stderr or log file, or in the recording in the gateway's data dir.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { canvasInfo } from '../support/rdp-canvas.js';
import { ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { launchBrowser, newContext, screenshot, until, type Ctx, stepRunner } from '../support/browser.js';
import { startIamProxy, type IamProxy } from '../support/openpsm-proxy.js';
import { recordingFiles, readRecording } from '../support/recordings.js';
import { wireLeaks, type Blob } from '../support/scan.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { startXrdp, XRDP_DESKTOP_RGB } from '../support/xrdp.js';
import { api as https, apiLogin, killAll, removeTempDirs, Server, serverEnv, tempDir } from '../cli/support.js';

const MASTER = `Pat-Master-${randomUUID().slice(0, 8)}-Pw!`;
const USERS = { pat: { password: 'pat-Portal-pass-1', roles: ['User'] } };
const APP_KEY = randomUUID();
const ADMIN_PASSWORD = `Psm-Admin-${randomBytes(6).toString('hex')}`;

/** One `gatehouse serve` process, reached over HTTPS only. */
interface Node {
  server: Server;
  url: string;
  dataDir: string;
  adminToken: string;
  /** What the process wrote to stdout and stderr, and its log file in the data dir. */
  logs(): string;
  api(method: string, path: string, opts?: { token?: string; body?: unknown }): Promise<{ status: number; body: any; raw: string }>;
  userToken(username: string, password: string): Promise<string>;
}

async function startNode(name: string): Promise<Node> {
  const dataDir = join(tempDir(`gatehouse-psm-${name}-`), 'data');
  const server = await Server.start(await serverEnv(dataDir, { GATEHOUSE_ADMIN_PASSWORD: ADMIN_PASSWORD }));
  const api: Node['api'] = async (method, path, opts = {}) => {
    const r = await https(server.url, method, path, opts);
    let body: any = undefined;
    try {
      body = JSON.parse(r.body);
    } catch {
      body = undefined;
    }
    return { status: r.status, body, raw: r.body };
  };
  const logFile = join(dataDir, 'logs', 'gatehouse.log');
  return {
    server,
    url: server.url,
    dataDir,
    adminToken: await apiLogin(server.url, 'admin', ADMIN_PASSWORD),
    logs: () => server.stdout + server.stderr + (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    api,
    userToken: (username, password) => apiLogin(server.url, username, password),
  };
}

after(() => {
  killAll();
  removeTempDirs();
});

describe('OpenPSM: portal node → /start on the gateway node → browser SSH or RDP → endsession', () => {
  let sshd: Sshd;
  let iam: Node;
  let gw: Node;
  let proxy: IamProxy;
  let browser: Browser;
  let c: Ctx;
  let step: (fn: () => Promise<void>) => Promise<void>;
  let secretId = '';
  let patToken = '';
  /** A link issued while openpsmLinkSeconds was 30: its ApiKey has expired by the time the expiry test uses it. */
  let expiring: { url: string; loginSessionId: string; expiresAt: string };
  const blobs: Blob[] = [];
  const contexts: Ctx[] = [];

  const link = async (mode = 'SSH') => {
    const r = await iam.api('POST', '/api/v1/openpsm/links', { token: patToken, body: { secretId, mode } });
    assert.equal(r.status, 200, r.raw);
    return r.body as { url: string; loginSessionId: string; expiresAt: string };
  };
  const keep = (p: Page, label: string) => {
    p.on('websocket', (ws) => ws.on('framereceived', (f) => blobs.push({ name: `${label}: ws frame`, data: Buffer.isBuffer(f.payload) ? f.payload : Buffer.from(f.payload, 'utf8') })));
    p.on('response', (res) => void res.body().then((data) => blobs.push({ name: `${label}: ${new URL(res.url()).pathname}`, data }), () => undefined));
  };

  before(async () => {
    ensureTargetAccount();
    sshd = await startSshd();
    [iam, gw] = await Promise.all([startNode('portal'), startNode('gateway')]);
    proxy = await startIamProxy(iam.url, { key: readFileSync(join(iam.dataDir, 'tls-key.pem')), cert: readFileSync(join(iam.dataDir, 'tls-cert.pem')) });
    // The portal node's secret for the test sshd, its person, and view access for them (all over its API).
    const admin = (method: string, path: string, body: unknown) => iam.api(method, path, { token: iam.adminToken, body });
    const secret = await admin('POST', '/api/v1/secrets', { name: 'psm-box', template: 'unix-account', fields: { machine: '127.0.0.1', port: sshd.port, username: 'ghtarget', password: TARGET_PASSWORD } });
    assert.equal(secret.status, 201, secret.raw);
    secretId = secret.body.id;
    for (const [username, u] of Object.entries(USERS)) {
      const r = await admin('POST', '/api/v1/users', { username, password: u.password, roles: u.roles });
      assert.equal(r.status, 201, r.raw);
    }
    const acl = await admin('PUT', `/api/v1/secrets/${secretId}/permissions`, { entries: [{ principalType: 'user', principal: 'pat', level: 'view' }] });
    assert.equal(acl.status, 200, acl.raw);
    patToken = await iam.userToken('pat', USERS.pat.password);
    const m = await iam.api('PUT', '/api/v1/me/master-password', { token: patToken, body: { masterPassword: MASTER } });
    assert.equal(m.status, 200, m.raw);
    // The portal node: where /start lives, the application key, and the address the gateway calls it at.
    // Until then its portal offers no "Open through OpenPSM gateway".
    assert.deepEqual((await iam.api('GET', '/api/v1/openpsm/gateway', { token: patToken })).body, { gatewayUrl: '' });
    let s = await iam.api('PATCH', '/api/v1/settings', { token: iam.adminToken, body: { openpsmGatewayUrl: gw.url, openpsmApplicationKey: APP_KEY, publicUrl: proxy.url, openpsmLinkSeconds: 30 } });
    assert.equal(s.status, 200, s.raw);
    // The expiry test's link, issued now at the shortest lifetime the setting allows, so that
    // its wait overlaps the tests before it; every other link gets the default again.
    expiring = await link();
    s = await iam.api('PATCH', '/api/v1/settings', { token: iam.adminToken, body: { openpsmLinkSeconds: 300 } });
    assert.equal(s.status, 200, s.raw);
    assert.deepEqual((await iam.api('GET', '/api/v1/openpsm/gateway', { token: patToken })).body, { gatewayUrl: gw.url });
    // The gateway node: which IAM addresses /start may name, and the IAM's certificate.
    s = await gw.api('PATCH', '/api/v1/settings', { token: gw.adminToken, body: { openpsmAllowedApiUrls: [proxy.url], openpsmTrustedCa: readFileSync(join(iam.dataDir, 'tls-cert.pem'), 'utf8'), openpsmEndSessionBackoffSeconds: 0 } });
    assert.equal(s.status, 200, s.raw);
    browser = await launchBrowser();
    c = await newContext(browser);
    contexts.push(c);
    keep(c.page, 'browser');
    c.context.on('page', (p) => keep(p, 'browser popup'));
    step = stepRunner(contexts, 'openpsm');
  });

  after(async () => {
    await browser?.close();
    await proxy?.close();
    await Promise.all([gw?.server.stop(), iam?.server.stop()]);
    await sshd?.stop();
  });

  it('runs the whole exchange; endsession is retried through four 401 answers', () =>
    step(async () => {
      const { url, loginSessionId } = await link();
      assert.ok(url.startsWith(`${gw.url}/start?`), url);
      const q = new URL(url).searchParams;
      for (const k of ['TargetPersonGuid', 'AccessRequestPolicyID', 'TargetComputerGuid', 'IsAdvanceMode', 'ComputerID', 'IsPersonalCred', 'ExternalCredentialCheckOutID', 'LoginSessionID', 'ApiUrl', 'Mode', 'ApiKey', 'CredentialID', 'ApiApplicationKey', 'GUAC_WIDTH', 'GUAC_HEIGHT', 'GUAC_DPI']) assert.ok(q.has(k), k);
      assert.equal(q.get('ApiUrl'), proxy.url);
      proxy.unauthorizedEndsessions = 4;
      const page = c.page;
      await page.goto(url);
      assert.match(new URL(page.url()).pathname, /^\/start\/[A-Za-z0-9_-]+$/, 'the ApiKey leaves the address bar');
      await page.locator('#master').fill('not-the-master-password');
      await page.locator('#unlock-submit').click();
      await until(async () => /Invalid Master Password/.test((await page.locator('#unlock-error').textContent()) ?? ''), 'the re-prompt after a 401');
      assert.equal(await page.locator('#unlock').isVisible(), true);
      await page.locator('#master').fill(MASTER);
      await page.locator('#unlock-submit').click();
      await until(async () => (await page.locator('#status').textContent()) === 'Connected.', 'the session is connected');
      await page.locator('#cmd').fill('echo $((6*7))-openpsm-$(whoami)');
      await page.locator('#cmd').press('Enter');
      await until(async () => /42-openpsm-ghtarget/.test((await page.locator('#out').textContent()) ?? ''), 'the real shell answers', 15_000);
      await screenshot(page, 'openpsm-session');
      await page.locator('#cmd').fill('exit');
      await page.locator('#cmd').press('Enter');
      await until(async () => /^Session ended/.test((await page.locator('#status').textContent()) ?? ''), 'the session ends');
      // endsession: 401 four times (re-authenticating each time), then delivered.
      const notice = await until(async () => {
        const r = await gw.api('GET', '/api/v1/openpsm/end-notices', { token: gw.adminToken });
        const n = r.body.items.find((x: { loginSessionId: string }) => x.loginSessionId === loginSessionId);
        return n?.outcome ? n : null;
      }, 'the endsession call is settled', 15_000);
      assert.equal(notice.outcome, 'delivered');
      assert.equal(notice.unauthorized, 4);
      assert.equal(notice.attempts, 5);
      assert.deepEqual(proxy.calls.filter((x) => x.path.endsWith('/endsession')).map((x) => x.status), [401, 401, 401, 401, 200]);
      assert.deepEqual(proxy.calls.filter((x) => x.path.endsWith('/getcredential')).map((x) => x.status), [401, 200]);
      // Both sides audited it.
      const gwAudit = await gw.api('GET', '/api/v1/audit?action=openpsm.endsession', { token: gw.adminToken });
      assert.ok(gwAudit.body.items.some((e: { outcome: string; details: { unauthorized: number } }) => e.outcome === 'success' && e.details.unauthorized === 4), gwAudit.raw);
      const iamAudit = await iam.api('GET', '/api/v1/audit?action=openpsm.session_ended', { token: iam.adminToken });
      assert.equal(iamAudit.body.items.length, 1, iamAudit.raw);
      const fetched = await iam.api('GET', '/api/v1/audit?action=openpsm.getcredential', { token: iam.adminToken });
      assert.deepEqual(fetched.body.items.map((e: { outcome: string }) => e.outcome).sort(), ['failure', 'success']);
      // The gateway recorded the session (RecordPSMSession true) as a browser session of the OpenPSM person.
      const sessions = await gw.api('GET', '/api/v1/sessions', { token: gw.adminToken });
      assert.equal(sessions.body.items.length, 1, sessions.raw);
      assert.equal(sessions.body.items[0].door, 'web');
    }));

  it('the portal\'s "Open through OpenPSM gateway" opens /start on the gateway node in a new tab', () =>
    step(async () => {
      const portal = await newContext(browser, iam.url);
      contexts.push(portal);
      keep(portal.page, 'portal');
      portal.context.on('page', (p) => keep(p, 'portal popup'));
      const page = portal.page;
      await page.goto(`${iam.url}/`);
      await page.getByLabel('Username', { exact: true }).fill('pat');
      await page.getByLabel('Password', { exact: true }).fill(USERS.pat.password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'My access', level: 1 }).waitFor();
      // The template has an SSH and a Telnet launcher: the action is offered for each.
      const row = page.getByRole('row').filter({ hasText: 'psm-box' });
      const action = row.locator('.launcher-row').filter({ hasText: /^SSH/ }).getByRole('button', { name: 'Open through OpenPSM gateway' });
      await action.waitFor();
      await screenshot(page, 'openpsm-portal-row');
      assert.equal(await row.getByRole('button', { name: 'Open through OpenPSM gateway' }).count(), 2);
      const [tab] = await Promise.all([portal.context.waitForEvent('page'), action.click()]);
      await until(async () => new RegExp(`^${gw.url.replace(/[.]/g, '\\.')}/start/[A-Za-z0-9_-]+$`).test(tab.url()), `the new tab on the gateway's /start (at ${tab.url()})`, 15_000);
      await tab.locator('#master').waitFor();
      await screenshot(tab, 'openpsm-portal-action');
      assert.equal(await tab.evaluate(() => (globalThis as unknown as { opener: unknown }).opener), null, 'the gateway tab cannot reach the portal');
      const links = await iam.api('GET', '/api/v1/audit?action=openpsm.link', { token: iam.adminToken });
      assert.ok(links.body.items.some((e: { actor: { name?: string }; details: { mode: string } }) => e.details.mode === 'SSH'), links.raw);
      await tab.close();
      await portal.context.close();
    }));

  it('an expired access token closes the tab with a message to start again', () =>
    step(async () => {
      const { url, expiresAt } = expiring;
      // Past the link's own expiry (at most the setting's 30-second minimum after before()).
      const left = Date.parse(expiresAt) - Date.now();
      assert.ok(left <= 30_000, expiresAt);
      if (left > -1000) await sleep(left + 1000);
      // Opened the way the portal opens it (a new tab), so the page may close itself.
      const opener = await c.context.newPage();
      await opener.goto(`${gw.url}/start/page.js`);
      const [tab] = await Promise.all([c.context.waitForEvent('page'), opener.evaluate((u) => void (globalThis as unknown as { open(u: string, t: string): unknown }).open(u, '_blank'), url)]);
      await tab.locator('#master').fill(MASTER);
      const closed = tab.waitForEvent('close', { timeout: 15_000 });
      await tab.locator('#unlock-submit').click();
      await until(async () => /access token has expired/.test((await tab.locator('#error').textContent().catch(() => '')) ?? '') || tab.isClosed(), 'the expiry message');
      await closed;
      await opener.close();
    }));

  it('another IAM error shows an error page with Close', () =>
    step(async () => {
      const { url } = await link();
      // The IAM no longer knows the gateway's application key: 403, neither 401 nor an expired token.
      assert.equal((await iam.api('PATCH', '/api/v1/settings', { token: iam.adminToken, body: { openpsmApplicationKey: randomUUID() } })).status, 200);
      try {
        const page = c.page;
        await page.goto(url);
        await page.locator('#master').fill(MASTER);
        await page.locator('#unlock-submit').click();
        await until(async () => /could not be retrieved/.test((await page.locator('#error').textContent()) ?? ''), 'the error page');
        assert.equal(await page.locator('#close').isVisible(), true);
        assert.equal(await page.locator('#close').textContent(), 'Close');
      } finally {
        await iam.api('PATCH', '/api/v1/settings', { token: iam.adminToken, body: { openpsmApplicationKey: APP_KEY } });
      }
    }));

  it("shows the seed's refusal messages", () =>
    step(async () => {
      const { url } = await link();
      const u = new URL(url);
      const page = c.page;
      const show = async (mutate: (q: URLSearchParams) => void) => {
        const v = new URL(u);
        mutate(v.searchParams);
        const r = await page.goto(v.toString());
        assert.equal(r?.status(), 400);
        assert.equal(await page.locator('#close').textContent(), 'Close');
        return (await page.locator('#error').textContent()) ?? '';
      };
      assert.equal(await show((q) => q.delete('ApiKey')), 'Missing request parameters.');
      assert.equal(await show((q) => q.set('CredentialID', 'not-a-guid')), 'Invalid request parameters.');
      assert.equal(await show((q) => q.set('TargetPersonGuid', '42')), 'Invalid Request parameters.');
      assert.equal(await show((q) => q.set('ApiUrl', 'https://127.0.0.2:1')), 'Invalid Request parameters.');
      assert.equal(await show((q) => q.set('Mode', 'VNC')), 'Invalid Request parameters.');
    }));

  it('Mode RDP: the master password opens the browser RDP page on the gateway node; the xrdp desktop is on the canvas at the GUAC_* size; endsession is delivered', () =>
    step(async () => {
      const xrdp = await startXrdp();
      try {
        const admin = (method: string, path: string, body: unknown) => iam.api(method, path, { token: iam.adminToken, body });
        const secret = await admin('POST', '/api/v1/secrets', { name: 'psm-desktop', template: 'windows-account', fields: { machine: '127.0.0.1', port: xrdp.port, username: 'ghtarget', password: TARGET_PASSWORD } });
        assert.equal(secret.status, 201, secret.raw);
        const acl = await admin('PUT', `/api/v1/secrets/${secret.body.id}/permissions`, { entries: [{ principalType: 'user', principal: 'pat', level: 'view' }] });
        assert.equal(acl.status, 200, acl.raw);
        const r = await iam.api('POST', '/api/v1/openpsm/links', { token: patToken, body: { secretId: secret.body.id, mode: 'RDP', width: 1024, height: 640, dpi: 96 } });
        assert.equal(r.status, 200, r.raw);
        const { url, loginSessionId } = r.body as { url: string; loginSessionId: string };
        assert.equal(new URL(url).searchParams.get('Mode'), 'RDP');
        const page = c.page;
        await page.goto(url);
        await page.locator('#master').fill(MASTER);
        // The password call's answer, read on its way to the page (the page navigates away at once).
        let answer = '';
        await page.route('**/api/v1/openpsm/starts/*/password', async (route) => {
          const res = await route.fetch();
          answer = await res.text();
          await route.fulfill({ response: res, body: answer });
        });
        await page.locator('#unlock-submit').click();
        await until(async () => answer !== '', 'the password call answered', 20_000);
        await page.unroute('**/api/v1/openpsm/starts/*/password');
        const rdpSession = (JSON.parse(answer) as { rdpSession: string }).rdpSession;
        assert.match(rdpSession, /^\/rdp\/session\?ticket=openpsm-rdp-[A-Za-z0-9_-]{32}&consent=1&GUAC_WIDTH=1024&GUAC_HEIGHT=640&GUAC_DPI=96$/);
        await until(async () => new URL(page.url()).pathname === '/rdp/session', 'the browser RDP page', 20_000);
        await until(async () => new URL(page.url()).searchParams.get('ticket') === null, 'the token leaves the address bar', 20_000);
        await until(async () => (await page.locator('.rdpw-page').getAttribute('data-phase')) === 'connected', 'the RDP session connects', 60_000).catch(async (e) => {
          throw new Error(`${(e as Error).message}: ${await page.locator('.rdpw-page').textContent().catch(() => '')}\n${gw.logs().slice(-3000)}`);
        });
        const canvas = await until(async () => {
          const i = await canvasInfo(page, XRDP_DESKTOP_RGB);
          return i.share > 0.3 ? i : null;
        }, 'the xrdp desktop colour on the canvas', 60_000);
        assert.deepEqual([canvas.width, canvas.height], [1024, 640], 'the GUAC_* desktop');
        await screenshot(page, 'openpsm-rdp-session');
        // The gateway's session: RDP, browser door, the GUAC_* display; the credential was the IAM's.
        const live = await until(async () => ((await gw.api('GET', '/api/v1/sessions', { token: gw.adminToken })).body.items as any[]).find((x) => x.status === 'live' && x.protocol === 'rdp'), 'the live RDP session');
        assert.equal(live.door, 'web');
        const opened = (await gw.api('GET', '/api/v1/audit?action=openpsm.session', { token: gw.adminToken })).body.items.find((e: any) => e.details.protocol === 'rdp' && e.outcome === 'success');
        assert.ok(opened, 'openpsm.session audited for the RDP session');
        assert.match(xrdp.sesmanLog() + xrdp.xrdpLog(), /ghtarget/, 'xrdp logged the IAM\'s account on');
        await page.getByRole('button', { name: 'Disconnect' }).click();
        await until(async () => (await page.locator('.rdpw-page').getAttribute('data-phase')) === 'ended', 'the page shows the end', 20_000);
        const notice = await until(async () => {
          const n = (await gw.api('GET', '/api/v1/openpsm/end-notices', { token: gw.adminToken })).body.items.find((x: { loginSessionId: string }) => x.loginSessionId === loginSessionId);
          return n?.outcome ? n : null;
        }, 'the endsession call is settled', 20_000);
        assert.equal(notice.outcome, 'delivered');
        // The token was single use: the same page address again is refused (audited on the gateway).
        await page.goto(`${gw.url}${rdpSession}`);
        await until(async () => (await page.locator('.rdpw-page').getAttribute('data-phase')) === 'error', 'the reused token is refused', 30_000);
        const refusedAgain = (await gw.api('GET', '/api/v1/audit?action=openpsm.session', { token: gw.adminToken })).body.items.find((e: any) => e.outcome === 'failure' && e.details.protocol === 'rdp');
        assert.ok(refusedAgain, 'the refusal is audited');
      } finally {
        await xrdp.stop();
      }
    }));

  it('no password in anything the browser received, in either log, or in the recording', async () => {
    const recordings: Blob[] = recordingFiles(join(gw.dataDir, 'recordings')).map((f) => ({ name: `recording ${basename(f)}`, data: readRecording(f) }));
    assert.ok(recordings.length >= 1, 'the session was recorded');
    const all = [...blobs, ...recordings, { name: 'gateway log', data: Buffer.from(gw.logs()) }, { name: 'portal log', data: Buffer.from(iam.logs()) }];
    assert.deepEqual(wireLeaks(all, { 'master password': MASTER, 'target password': TARGET_PASSWORD }), []);
    assert.ok(!gw.logs().includes(new URL((await link()).url).searchParams.get('ApiKey')!), 'no ApiKey in the gateway log');
  });
});
