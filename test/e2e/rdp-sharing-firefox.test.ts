// Shared control of an RDP session with the joiner in Firefox (Debian's firefox-esr over
// WebDriver BiDi; issue 14 points 6 and 8): olive's session is xfreerdp with the launched
// .rdp file through the RDP door to FreeRDP's shadow server (NLA target); she invites bert;
// bert, signed in to the portal in Firefox, takes the invitation up on My access, sees the
// live desktop on the join page's canvas and types into it: xev on the shadowed display
// prints it and the keystroke log names bert. Needs the UI built (npm run build).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UI_DIR } from '../../src/web/ui.js';
import { CANVAS_INFO } from '../support/rdp-canvas.js';
import { until } from '../support/browser.js';
import { exact, Firefox, type FirefoxPage } from '../support/firefox.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { rdpAdmin, xevPrints, xevWindow } from '../support/rdp-browser-session.js';
import { liveSession, ownerNativeSession, recordingLines, sharedDesktop } from '../support/rdp-sharing.js';
import { SHADOW_DESKTOP_RGB, startShadowServer, startXvfb, type ShadowServer, type XDisplay, type XfreerdpRun } from '../support/xrdp.js';

const pw = (u: string) => `${u}-Rdp-Firefox-pass-1`;
const SECRET_NAME = 'firefox-shared-desktop';

describe('shared control of an RDP session: the joiner in Firefox', { timeout: 300_000 }, () => {
  let gw: Gateway;
  let shadow: ShadowServer;
  let client: XDisplay;
  let ff: Firefox;
  let page: FirefoxPage;
  let xf: XfreerdpRun | null = null;
  let xev: ReturnType<typeof xevWindow>;
  let work = '';
  let secretId = '';
  const shadowAccount = { username: 'ghffshadow', password: 'Sh4dow-Firefox-Vault-Pw!8m' };
  const api = rdpAdmin(() => gw);
  const admin = api.call;
  const step = (fn: () => Promise<void>) => ff.step('firefox-rdp-sharing')(fn);

  before(async () => {
    assert.ok(existsSync(join(UI_DIR, 'index.html')), 'the UI is built (npm run build)');
    work = mkdtempSync(join(tmpdir(), 'gatehouse-rdp-ff-sharing-'));
    [gw, shadow, client, ff] = await Promise.all([startGateway('sqlite'), startShadowServer(shadowAccount), startXvfb(), Firefox.launch()]);
    page = await ff.firstPage();
    // xev's window over the middle of the shadowed desktop (800x600): a click in the middle of the joiner's canvas lands in it.
    xev = xevWindow({ ...process.env, DISPLAY: shadow.display.display }, ['keyboard'], '260x160+270+220');
    secretId = await sharedDesktop(api, { name: SECRET_NAME, port: shadow.port, account: shadowAccount, users: { olive: ['User'], bert: ['User'] }, pw, owner: 'olive', launcherOptions: { allowJoinInvites: true } });
  });
  after(async () => {
    xev?.proc.kill();
    await xf?.stop();
    await ff?.close();
    await gw?.close();
    await shadow?.stop();
    await client?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('bert joins olive’s native RDP session from Firefox and types into it', async () => {
    let sessionId = '';
    await step(async () => {
      const olive = await gw.userToken('olive', pw('olive'));
      await ownerNativeSession(gw, secretId, olive, work, client, (run) => (xf = run));
      sessionId = await liveSession(api, secretId);
      const inv = await gw.api('POST', `/api/v1/sessions/${sessionId}/invites`, { token: olive, body: { user: 'bert' } });
      assert.equal(inv.status, 201, inv.raw);

      // bert in Firefox: sign in, the invitation on My access, Join.
      await page.navigate(`${gw.running.url}/`);
      await page.waitFor(exact('h1', 'Sign in'));
      await page.fill({ label: 'Username' }, 'bert');
      await page.fill({ label: 'Password' }, pw('bert'));
      await page.click(exact('button', 'Sign in'));
      await page.waitFor(exact('h1', 'My access'));
      await page.waitFor({ css: '.join-invitation', text: /invites you to their session/ });
      await page.click(exact('a', 'Join session'));
      await page.waitFor({ css: '[role=status]', text: /Joined olive's session/ }, { timeoutMs: 20_000 });
      await page.waitForFunction(`() => (${CANVAS_INFO})(${SHADOW_DESKTOP_RGB}, '.join-screen canvas').share > 0.3`, 'the desktop on bert’s canvas', { timeoutMs: 30_000 });
      await page.screenshot('firefox-rdp-sharing-joined');
      await page.click({ css: '.join-screen canvas' });
      await page.type('firefox 64');
      await page.press('Enter');
      await xevPrints(xev.out, 'firefox 64', 'xev on the target to print what bert typed in Firefox');
      await page.click(exact('button', 'Leave'));
      await page.waitFor({ css: '[role=status]', text: /you left the session/ });
      await xf!.stop();
      xf = null;
    });
    await until(async () => (await admin('GET', `/api/v1/sessions/${sessionId}`)).body.status === 'ended', 'the session to end', 20_000);
    const text = await recordingLines(api, sessionId);
    assert.ok(text.some((l) => l.kind === 'command' && l.text === 'firefox 64' && l.by === 'bert'), JSON.stringify(text));
    assert.ok(text.some((l) => l.kind === 'event' && l.text.startsWith('session.leave ')), 'the recording notes that bert left');
  });
});
