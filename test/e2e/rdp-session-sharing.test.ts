// Shared control of an RDP session, end to end: olive opens a browser RDP session (IronRDP's
// web client through the browser RDP door) to FreeRDP's shadow server (NLA target); audrey
// (Auditor) asks to join from Live sessions in a second Chromium context; olive accepts in the
// strip of her RDP page; audrey's page shows the live desktop and what she types there is
// injected by the gateway: xev on the target's X display prints it, and the recording's
// keystroke index names audrey. Olive removes her (kick): audrey's page says so. bert (a User
// without join_sessions) is refused and audited. Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { canvasInfo, xevTyped } from '../support/rdp-canvas.js';
import { launchBrowser, newContext, screenshot, signInPortal, stepRunner, until, type Ctx } from '../support/browser.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { SHADOW_DESKTOP_RGB, startShadowServer, type ShadowServer } from '../support/xrdp.js';

const USERS = { olive: ['User'], audrey: ['Auditor'], bert: ['User'] } as const;
const pw = (u: string) => `${u}-Rdp-Shared-pass-1`;
const SECRET_NAME = 'shared-desktop';

/** Where a desktop pixel is on a page's canvas (the canvas is scaled to fit). */
async function canvasPoint(page: Page, selector: string, x: number, y: number): Promise<{ x: number; y: number } | null> {
  return page.evaluate(
    ({ selector, x, y }) => {
      const c = (globalThis as any).document.querySelector(selector);
      if (!c || !c.width) return null;
      const r = c.getBoundingClientRect();
      return { x: r.left + (x * r.width) / c.width, y: r.top + (y * r.height) / c.height };
    },
    { selector, x, y },
  );
}

describe('shared control of an RDP session in Chromium', { timeout: 300_000 }, () => {
  let gw: Gateway;
  let shadow: ShadowServer;
  let browser: Browser;
  let xev: ChildProcess;
  let xevOut = '';
  let secretId = '';
  const shadowAccount = { username: 'ghwebshadow', password: 'Sh4dow-Web-Vault-Pw!9z' };
  const contexts: Ctx[] = [];
  const c = {} as Record<keyof typeof USERS, Ctx>;
  const step = stepRunner(contexts, 'rdp-sharing');
  const admin = (method: string, path: string, body?: unknown) => gw.api(method, path, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });
  const auditOf = async (action: string, sessionId: string) => (await admin('GET', `/api/v1/audit?action=${action}&targetId=${sessionId}`)).body.items as { actorName: string; outcome: string; details: Record<string, unknown> }[];

  before(async () => {
    assert.ok(existsSync(join(UI_DIR, 'index.html')), 'the UI is built (npm run build)');
    [gw, shadow, browser] = await Promise.all([startGateway('sqlite'), startShadowServer(shadowAccount), launchBrowser()]);
    // A window on the shadowed display that prints every key the X server gets: the target's side of the typing.
    xev = spawn('stdbuf', ['-oL', 'xev', '-geometry', '260x160+20+20', '-event', 'keyboard', '-event', 'button'], { env: { ...process.env, DISPLAY: shadow.display.display }, stdio: ['ignore', 'pipe', 'ignore'] });
    xev.stdout!.on('data', (d: Buffer) => (xevOut += d.toString()));
    assert.equal((await admin('PATCH', '/api/v1/settings', { sessionConnector: true })).status, 200);
    const s = await admin('POST', '/api/v1/secrets', { name: SECRET_NAME, template: 'windows-account', fields: { machine: '127.0.0.1', port: shadow.port, username: shadowAccount.username, password: shadowAccount.password } });
    assert.equal(s.status, 201, s.raw);
    secretId = s.body.id;
    for (const [u, roles] of Object.entries(USERS)) assert.equal((await admin('POST', '/api/v1/users', { username: u, password: pw(u), roles })).status, 201);
    await admin('PUT', `/api/v1/secrets/${secretId}/permissions`, { entries: [{ principalType: 'user', principal: 'olive', level: 'view' }] });
    const l = await admin('PATCH', '/api/v1/launchers/rdp', { options: { allowJoinRequests: true, allowJoinInvites: true } });
    assert.equal(l.status, 200, l.raw);
    for (const u of Object.keys(USERS) as (keyof typeof USERS)[]) {
      c[u] = await newContext(browser, gw.running.url);
      contexts.push(c[u]);
      await signInPortal(c[u].page, u, pw(u));
    }
  });
  after(async () => {
    xev?.kill();
    for (const x of contexts) await x.context.close().catch(() => undefined);
    await browser?.close();
    await gw?.close();
    await shadow?.stop();
  });

  it('audrey asks, olive accepts in her RDP page, audrey types into the desktop: the target gets it, the recording names her; a kick ends her view; bert is refused', async () => {
    let sessionId = '';
    await step(async () => {
      // Olive's own browser RDP session (launched with her token, opened in her signed-in context).
      const olive = await gw.userToken('olive', pw('olive'));
      const l = await gw.api('POST', `/api/v1/secrets/${secretId}/launch`, { token: olive, body: { launcher: 'rdp' } });
      assert.equal(l.status, 200, l.raw);
      const owner = c.olive.page;
      await owner.goto(`/rdp/session?ticket=${l.body.ticket}&consent=1`);
      await until(async () => (await owner.locator('.rdpw-page').getAttribute('data-phase')) === 'connected', 'olive’s session to connect', 60_000);
      await until(async () => (await canvasInfo(owner, SHADOW_DESKTOP_RGB)).share > 0.3, 'the desktop on olive’s canvas', 60_000);
      sessionId = await until(async () => (await admin('GET', `/api/v1/sessions?status=live&secretId=${secretId}`)).body.items[0]?.id as string | undefined, 'the live session');

      // bert holds no join_sessions: refused and audited.
      const bert = await gw.userToken('bert', pw('bert'));
      const refused = await gw.api('POST', `/api/v1/sessions/${sessionId}/join-requests`, { token: bert });
      assert.equal(refused.status, 403, refused.raw);
      assert.ok((await auditOf('session.join_refused', sessionId)).some((e) => e.actorName === 'bert' && e.outcome === 'failure' && e.details.reason === 'no_permission'));

      // Audrey asks from Live sessions; her page waits for olive.
      const joiner = c.audrey.page;
      await joiner.goto('/sessions/live');
      await joiner.getByRole('row').filter({ hasText: 'olive' }).filter({ hasText: SECRET_NAME }).getByRole('button', { name: 'Ask to join' }).click();
      await joiner.getByText('Waiting for the owner to accept…').waitFor({ timeout: 15_000 });
      // Olive answers in the strip of her RDP page.
      const strip = owner.locator('.rdpw-joins');
      await strip.getByText('audrey').waitFor({ timeout: 15_000 });
      await screenshot(owner, 'rdp-sharing-owner-prompt');
      await strip.getByRole('button', { name: 'Accept' }).click();
      await joiner.getByText("Joined olive's session").waitFor({ timeout: 15_000 });
      // The live desktop on audrey's page (the keyframe, then the records).
      const screen = '.join-screen canvas';
      await until(async () => (await canvasInfo(joiner, SHADOW_DESKTOP_RGB, screen)).share > 0.3, 'the desktop on audrey’s screen', 30_000);
      // Audrey clicks into xev's window on the target and types.
      const p = await canvasPoint(joiner, screen, 120, 90);
      assert.ok(p, 'audrey’s canvas');
      const buttons = () => [...xevOut.matchAll(/ButtonPress event[\s\S]*?button (\d+)/g)].length;
      const before = buttons();
      await joiner.mouse.move(p.x, p.y, { steps: 3 });
      await joiner.mouse.down();
      await joiner.mouse.up();
      await until(async () => buttons() > before, 'xev to see audrey’s click', 15_000);
      await joiner.keyboard.type('joined 77', { delay: 40 });
      await joiner.keyboard.press('Enter');
      await until(async () => xevTyped(xevOut).includes('joined 77'), 'xev on the target display to print what audrey typed', 60_000).catch((e) => {
        throw new Error(`${(e as Error).message}\nxev saw: ${JSON.stringify(xevTyped(xevOut))}`);
      });
      await screenshot(joiner, 'rdp-sharing-joiner');
      // Olive removes her: audrey's page says so.
      const joins = (await gw.api('GET', `/api/v1/sessions/${sessionId}/joins`, { token: olive })).body.items as { id: string; status: string }[];
      const j = joins.find((x) => x.status === 'joined');
      assert.ok(j, JSON.stringify(joins));
      assert.equal((await gw.api('POST', `/api/v1/sessions/${sessionId}/joins/${j.id}/kick`, { token: olive })).status, 200);
      await joiner.getByText('removed from the session by olive').waitFor({ timeout: 15_000 });
      await owner.getByRole('button', { name: 'Disconnect' }).click();
    });
    await until(async () => (await admin('GET', `/api/v1/sessions?secretId=${secretId}`)).body.items.every((s: { status: string }) => s.status === 'ended'), 'the session to end', 20_000);
    const text = (await admin('GET', `/api/v1/recordings/${sessionId}/text`)).body.items as { kind: string; text: string; by: string | null }[];
    assert.ok(text.some((l) => l.kind === 'command' && l.text === 'joined 77' && l.by === 'audrey'), JSON.stringify(text));
    assert.ok(text.some((l) => l.kind === 'event' && l.text.startsWith('session.join ')), 'the recording notes the join');
    for (const action of ['session.join_request', 'session.join_accept', 'session.join', 'session.kick']) assert.equal((await auditOf(action, sessionId)).length, 1, action);
  });
});
