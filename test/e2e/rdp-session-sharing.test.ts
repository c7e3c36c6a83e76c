// Shared control of an RDP session, end to end: olive opens a browser RDP session (IronRDP's
// web client through the browser RDP door) to FreeRDP's shadow server (NLA target); audrey
// (Auditor) asks to join from Live sessions in a second Chromium context; olive accepts in the
// strip of her RDP page; audrey's page shows the live desktop and what she types there is
// injected by the gateway: xev on the target's X display prints it, and the recording's
// keystroke index names audrey. Olive removes her (kick): audrey's page says so. bert (a User
// without join_sessions) is refused and audited. Needs the UI built (npm run build).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { canvasInfo } from '../support/rdp-canvas.js';
import { screenshot, until } from '../support/browser.js';
import { xevPrints } from '../support/rdp-browser-session.js';
import { auditOf as auditRows, chromiumSharingRig, ownerBrowserSession, recordingLines } from '../support/rdp-sharing.js';
import { SHADOW_DESKTOP_RGB } from '../support/xrdp.js';

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
  // The xev window prints every key the X server gets: the target's side of the typing.
  const rig = chromiumSharingRig('rdp-sharing', {
    shadowAccount: { username: 'ghwebshadow', password: 'Sh4dow-Web-Vault-Pw!9z' },
    desktop: { name: SECRET_NAME, users: USERS, pw, owner: 'olive', launcherOptions: { allowJoinRequests: true, allowJoinInvites: true } },
    xevEvents: ['keyboard', 'button'],
    sessionConnector: true,
  });
  const api = rig.api;
  const admin = api.call;
  const auditOf = (action: string, sessionId: string) => auditRows(api, action, sessionId);

  it('audrey asks, olive accepts in her RDP page, audrey types into the desktop: the target gets it, the recording names her; a kick ends her view; bert is refused', async () => {
    const { gw, c, secretId, xev } = rig;
    let sessionId = '';
    await rig.step(async () => {
      // Olive's own browser RDP session (launched with her token, opened in her signed-in context).
      const olive = await gw.userToken('olive', pw('olive'));
      const owner = c.olive.page;
      sessionId = await ownerBrowserSession(gw, api, secretId, olive, owner);

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
      const buttons = () => [...xev.out().matchAll(/ButtonPress event[\s\S]*?button (\d+)/g)].length;
      const before = buttons();
      await joiner.mouse.move(p.x, p.y, { steps: 3 });
      await joiner.mouse.down();
      await joiner.mouse.up();
      await until(async () => buttons() > before, 'xev to see audrey’s click', 15_000);
      await joiner.keyboard.type('joined 77', { delay: 40 });
      await joiner.keyboard.press('Enter');
      await xevPrints(xev.out, 'joined 77', 'xev on the target display to print what audrey typed');
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
    const text = await recordingLines(api, sessionId);
    assert.ok(text.some((l) => l.kind === 'command' && l.text === 'joined 77' && l.by === 'audrey'), JSON.stringify(text));
    assert.ok(text.some((l) => l.kind === 'event' && l.text.startsWith('session.join ')), 'the recording notes the join');
    for (const action of ['session.join_request', 'session.join_accept', 'session.join', 'session.kick']) assert.equal((await auditOf(action, sessionId)).length, 1, action);
  });
});
