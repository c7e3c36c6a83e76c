// Shared control of a native RDP session (issue 14 point 6): olive's session is xfreerdp
// opening the launched .rdp file through the RDP door to FreeRDP's shadow server (NLA
// target). A native client has no window of ours to ask in, so olive answers join requests
// on My access in the portal. First audrey (Auditor) asks from Live sessions and olive
// declines: audrey's page says so, no key of hers reaches the target, and the decline and the
// refusal are audited. Then audrey asks again and olive accepts: audrey sees the live desktop
// in Chromium and what she types reaches the target (xev on the shadowed display prints it);
// the keystroke log names her. Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { canvasInfo, xevTyped } from '../support/rdp-canvas.js';
import { launchBrowser, screenshot, stepRunner, until, type Ctx } from '../support/browser.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { rdpAdmin, xevPrints, xevWindow } from '../support/rdp-browser-session.js';
import { auditOf as auditRows, clickJoinCanvas, liveSession, ownerNativeSession, recordingLines, sharedDesktop, signedInContexts } from '../support/rdp-sharing.js';
import { SHADOW_DESKTOP_RGB, startShadowServer, startXvfb, type ShadowServer, type XDisplay, type XfreerdpRun } from '../support/xrdp.js';

const USERS = { olive: ['User'], audrey: ['Auditor'] } as const;
const pw = (u: string) => `${u}-Rdp-Native-pass-1`;
const SECRET_NAME = 'native-shared-desktop';

describe('shared control of a native RDP session (xfreerdp owner, Chromium joiner)', { timeout: 300_000 }, () => {
  let gw: Gateway;
  let shadow: ShadowServer;
  let client: XDisplay;
  let browser: Browser;
  let xf: XfreerdpRun | null = null;
  let xev: ReturnType<typeof xevWindow>;
  let work = '';
  let secretId = '';
  const shadowAccount = { username: 'ghnativeshadow', password: 'Sh4dow-Native-Vault-Pw!5k' };
  const contexts: Ctx[] = [];
  let c = {} as Record<keyof typeof USERS, Ctx>;
  const step = stepRunner(contexts, 'rdp-sharing-native');
  const api = rdpAdmin(() => gw);
  const admin = api.call;
  const auditOf = (action: string, sessionId: string) => auditRows(api, action, sessionId);
  const keyPresses = () => (xev.out().match(/KeyPress event/g) ?? []).length;

  before(async () => {
    assert.ok(existsSync(join(UI_DIR, 'index.html')), 'the UI is built (npm run build)');
    work = mkdtempSync(join(tmpdir(), 'gatehouse-rdp-native-sharing-'));
    [gw, shadow, client, browser] = await Promise.all([startGateway('sqlite'), startShadowServer(shadowAccount), startXvfb(), launchBrowser()]);
    xev = xevWindow({ ...process.env, DISPLAY: shadow.display.display }, ['keyboard'], '260x160+20+20');
    secretId = await sharedDesktop(api, { name: SECRET_NAME, port: shadow.port, account: shadowAccount, users: USERS, pw, owner: 'olive', launcherOptions: { allowJoinRequests: true } });
    c = await signedInContexts(browser, gw, Object.keys(USERS) as (keyof typeof USERS)[], pw, contexts);
  });
  after(async () => {
    xev?.proc.kill();
    await xf?.stop();
    for (const x of contexts) await x.context.close().catch(() => undefined);
    await browser?.close();
    await gw?.close();
    await shadow?.stop();
    await client?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Audrey asks from Live sessions; olive sees the request on My access. */
  const ask = async (joiner: Page, owner: Page) => {
    await joiner.goto('/sessions/live');
    await joiner.getByRole('row').filter({ hasText: 'olive' }).filter({ hasText: SECRET_NAME }).getByRole('button', { name: 'Ask to join' }).click();
    await joiner.getByText('Waiting for the owner to accept…').waitFor({ timeout: 15_000 });
    await owner.goto('/');
    const strip = owner.getByRole('alert', { name: 'Join requests' });
    await strip.getByText('audrey').waitFor({ timeout: 15_000 });
    return strip;
  };

  it('olive declines on My access (audrey is refused, nothing reaches the target), then accepts: audrey types into the native session', async () => {
    let sessionId = '';
    await step(async () => {
      // Olive's native session: her launch, her .rdp file, xfreerdp.
      await ownerNativeSession(gw, secretId, await gw.userToken('olive', pw('olive')), work, client, (run) => (xf = run));
      sessionId = await liveSession(api, secretId);
      const owner = c.olive.page;
      const joiner = c.audrey.page;

      // 1. Declined: audrey's page says so; her keys have nowhere to go.
      let strip = await ask(joiner, owner);
      await screenshot(owner, 'rdp-native-sharing-request');
      const before = keyPresses();
      await strip.getByRole('button', { name: 'Decline' }).click();
      await joiner.getByText('the owner declined your request').waitFor({ timeout: 15_000 });
      await screenshot(joiner, 'rdp-native-sharing-declined');
      await joiner.keyboard.type('declined 13', { delay: 30 });
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(keyPresses(), before, 'no key of the declined joiner reaches the target');
      assert.equal((await auditOf('session.join_decline', sessionId))[0]?.actorName, 'olive');
      assert.ok((await auditOf('session.join_refused', sessionId)).some((e) => e.actorName === 'audrey' && e.outcome === 'failure' && e.details.reason === 'declined'));
      assert.equal((await auditOf('session.join', sessionId)).length, 0);

      // 2. Accepted: the live desktop on audrey's page; her keys reach the target.
      strip = await ask(joiner, owner);
      await strip.getByRole('button', { name: 'Accept' }).click();
      await joiner.getByText("Joined olive's session").waitFor({ timeout: 15_000 });
      const screen = '.join-screen canvas';
      await until(async () => (await canvasInfo(joiner, SHADOW_DESKTOP_RGB, screen)).share > 0.3, 'the desktop on audrey’s screen', 30_000);
      await clickJoinCanvas(joiner, screen, 120, 90);
      await joiner.keyboard.type('native 55', { delay: 40 });
      await joiner.keyboard.press('Enter');
      await xevPrints(xev.out, 'native 55', 'xev on the target to print what audrey typed');
      assert.ok(!xevTyped(xev.out()).includes('declined'), 'nothing typed while refused reached the target');
      await screenshot(joiner, 'rdp-native-sharing-joined');
      // The owner's client ends the session: the joiner is told.
      await xf!.stop();
      xf = null;
      await joiner.getByText('No longer in the session').waitFor({ timeout: 30_000 });
    });
    await until(async () => (await admin('GET', `/api/v1/sessions/${sessionId}`)).body.status === 'ended', 'the session to end', 20_000);
    const text = await recordingLines(api, sessionId);
    assert.ok(text.some((l) => l.kind === 'command' && l.text === 'native 55' && l.by === 'audrey'), JSON.stringify(text));
    assert.ok(!text.some((l) => l.text.includes('declined 13')), 'the refused joiner typed nothing into the session');
    for (const action of ['session.join_accept', 'session.join']) assert.equal((await auditOf(action, sessionId)).length, 1, action);
    assert.equal((await auditOf('session.join_request', sessionId)).length, 2);
  });
});
