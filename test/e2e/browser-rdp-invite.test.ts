// Invitations from the browser RDP page (issue 14 point 6): olive, signed in to the portal,
// opens a browser RDP session to FreeRDP's shadow server (NLA target) and presses Invite in
// the page's bar (the same invite dialog as the browser terminal's); bert sees the invitation
// on My access, joins, sees the live desktop and types into it: xev on the target's X display
// prints it and the keystroke log names bert. Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { canvasInfo, xevTyped } from '../support/rdp-canvas.js';
import { launchBrowser, newContext, screenshot, signInPortal, stepRunner, until, type Ctx } from '../support/browser.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { SHADOW_DESKTOP_RGB, startShadowServer, type ShadowServer } from '../support/xrdp.js';

const USERS = { olive: ['User'], bert: ['User'] } as const;
const pw = (u: string) => `${u}-Rdp-Invite-pass-1`;
const SECRET_NAME = 'invite-desktop';

describe('browser RDP page: Invite (Chromium, NLA target)', { timeout: 300_000 }, () => {
  let gw: Gateway;
  let shadow: ShadowServer;
  let browser: Browser;
  let xev: ChildProcess;
  let xevOut = '';
  let secretId = '';
  const shadowAccount = { username: 'ghinviteshadow', password: 'Sh4dow-Invite-Vault-Pw!3q' };
  const contexts: Ctx[] = [];
  const c = {} as Record<keyof typeof USERS, Ctx>;
  const step = stepRunner(contexts, 'browser-rdp-invite');
  const admin = (method: string, path: string, body?: unknown) => gw.api(method, path, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });
  const auditOf = async (action: string, sessionId: string) => (await admin('GET', `/api/v1/audit?action=${action}&targetId=${sessionId}`)).body.items as { actorName: string; details: Record<string, unknown> }[];

  before(async () => {
    assert.ok(existsSync(join(UI_DIR, 'index.html')), 'the UI is built (npm run build)');
    [gw, shadow, browser] = await Promise.all([startGateway('sqlite'), startShadowServer(shadowAccount), launchBrowser()]);
    xev = spawn('stdbuf', ['-oL', 'xev', '-geometry', '260x160+20+20', '-event', 'keyboard'], { env: { ...process.env, DISPLAY: shadow.display.display }, stdio: ['ignore', 'pipe', 'ignore'] });
    xev.stdout!.on('data', (d: Buffer) => (xevOut += d.toString()));
    const s = await admin('POST', '/api/v1/secrets', { name: SECRET_NAME, template: 'windows-account', fields: { machine: '127.0.0.1', port: shadow.port, username: shadowAccount.username, password: shadowAccount.password } });
    assert.equal(s.status, 201, s.raw);
    secretId = s.body.id;
    for (const [u, roles] of Object.entries(USERS)) assert.equal((await admin('POST', '/api/v1/users', { username: u, password: pw(u), roles })).status, 201);
    await admin('PUT', `/api/v1/secrets/${secretId}/permissions`, { entries: [{ principalType: 'user', principal: 'olive', level: 'view' }] });
    assert.equal((await admin('PATCH', '/api/v1/launchers/rdp', { options: { allowJoinInvites: true } })).status, 200);
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

  it('olive invites bert from her RDP page; bert joins from My access, sees the desktop and types into it', async () => {
    let sessionId = '';
    await step(async () => {
      const olive = await gw.userToken('olive', pw('olive'));
      const l = await gw.api('POST', `/api/v1/secrets/${secretId}/launch`, { token: olive, body: { launcher: 'rdp' } });
      assert.equal(l.status, 200, l.raw);
      const owner = c.olive.page;
      await owner.goto(`/rdp/session?ticket=${l.body.ticket}&consent=1`);
      await until(async () => (await owner.locator('.rdpw-page').getAttribute('data-phase')) === 'connected', 'olive’s session to connect', 60_000);
      await until(async () => (await canvasInfo(owner, SHADOW_DESKTOP_RGB)).share > 0.3, 'the desktop on olive’s canvas', 60_000);
      sessionId = await until(async () => (await admin('GET', `/api/v1/sessions?status=live&secretId=${secretId}`)).body.items[0]?.id as string | undefined, 'the live session');

      // The page found its own session: Invite, the dialog, the user name.
      const inviteButton = owner.locator('.rdpw-bar').getByRole('button', { name: 'Invite' });
      await inviteButton.waitFor({ timeout: 20_000 });
      assert.match((await inviteButton.getAttribute('title')) ?? '', new RegExp(SECRET_NAME));
      await inviteButton.click();
      await owner.getByLabel('User name').fill('bert');
      assert.equal(await owner.getByLabel('User name').inputValue(), 'bert', 'typing in the dialog reaches its field, not the remote desktop');
      await screenshot(owner, 'browser-rdp-invite-dialog');
      await owner.getByRole('dialog').getByRole('button', { name: 'Invite' }).click();
      await owner.getByText('Invitation sent').waitFor({ timeout: 15_000 });
      const invites = await auditOf('session.invite', sessionId);
      assert.equal(invites.length, 1);
      assert.equal(invites[0]!.actorName, 'olive');
      assert.equal(invites[0]!.details.user, 'bert');

      // bert: My access shows the invitation; he joins and sees the desktop.
      const joiner = c.bert.page;
      await joiner.goto('/');
      await joiner.getByText('invites you to their session').waitFor({ timeout: 15_000 });
      await joiner.getByRole('link', { name: 'Join session' }).click();
      await joiner.getByText("Joined olive's session").waitFor({ timeout: 15_000 });
      const screen = '.join-screen canvas';
      await until(async () => (await canvasInfo(joiner, SHADOW_DESKTOP_RGB, screen)).share > 0.3, 'the desktop on bert’s screen', 30_000);
      await screenshot(joiner, 'browser-rdp-invite-joiner');
      // xev's window is where the pointer is (no window manager): bert moves there and types.
      const p = await joiner.evaluate((sel) => {
        const el = (globalThis as any).document.querySelector(sel);
        const r = el.getBoundingClientRect();
        return { x: r.left + (120 * r.width) / el.width, y: r.top + (90 * r.height) / el.height };
      }, screen);
      await joiner.mouse.move(p.x, p.y, { steps: 3 });
      await joiner.mouse.down();
      await joiner.mouse.up();
      await joiner.keyboard.type('invited 42', { delay: 40 });
      await joiner.keyboard.press('Enter');
      await until(async () => xevTyped(xevOut).includes('invited 42'), 'xev on the target to print what bert typed', 60_000).catch((e) => {
        throw new Error(`${(e as Error).message}\nxev saw: ${JSON.stringify(xevTyped(xevOut))}`);
      });
      await owner.getByRole('button', { name: 'Disconnect' }).click();
      await joiner.getByText('No longer in the session').waitFor({ timeout: 20_000 });
    });
    await until(async () => (await admin('GET', `/api/v1/sessions/${sessionId}`)).body.status === 'ended', 'the session to end', 20_000);
    const text = (await admin('GET', `/api/v1/recordings/${sessionId}/text`)).body.items as { kind: string; text: string; by: string | null }[];
    assert.ok(text.some((l) => l.kind === 'command' && l.text === 'invited 42' && l.by === 'bert'), JSON.stringify(text));
    const joins = await auditOf('session.join', sessionId);
    assert.equal(joins.length, 1);
    assert.equal(joins[0]!.actorName, 'bert');
    assert.equal(joins[0]!.details.via, 'invite');
  });
});
