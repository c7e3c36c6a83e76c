// What the RDP session-sharing e2e tests (browser-rdp-invite, rdp-session-sharing,
// rdp-sharing-native, rdp-sharing-firefox) share: the shared desktop's set-up (a secret for
// FreeRDP's shadow server, the users, the owner's view permission, the rdp launcher's join
// options), portal contexts signed in per user, the owner's session (in Chromium's browser RDP
// page or natively in xfreerdp), the joiner's click on the join page's canvas, waiting for what
// the joiner typed on the target (xevPrints, in rdp-browser-session.ts), and the audit and recording reads the tests assert on.
// chromiumSharingRig is the whole set-up of the two tests whose owner and joiners are all in
// Chromium. Kept here so each test file says only what its sharing flow proves.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { launchBrowser, newContext, signInPortal, stepRunner, until, type Ctx } from './browser.js';
import { startGateway, type Gateway } from './gateway.js';
import { canvasInfo } from './rdp-canvas.js';
import { rdpAdmin, xevWindow, type RdpAdmin } from './rdp-browser-session.js';
import { runXfreerdp, SHADOW_DESKTOP_RGB, startShadowServer, type ShadowServer, type XDisplay, type XfreerdpRun } from './xrdp.js';

export interface SharedDesktop {
  /** The secret's name (the Live sessions row and the Invite button name it). */
  name: string;
  port: number;
  account: { username: string; password: string };
  /** Username → roles; every user's password is pw(username). */
  users: Record<string, readonly string[]>;
  pw: (u: string) => string;
  /** The owner, who gets view on the secret. */
  owner: string;
  /** The rdp launcher's options (allowJoinRequests, allowJoinInvites). */
  launcherOptions: Record<string, boolean>;
}

/** Creates the shared desktop's secret and users, gives the owner view and sets the launcher's join options; the secret's id. */
export async function sharedDesktop(api: RdpAdmin, d: SharedDesktop): Promise<string> {
  const secretId = await api.windowsSecret(d.name, d.port, d.account.username, d.account.password);
  for (const [u, roles] of Object.entries(d.users)) assert.equal((await api.call('POST', '/api/v1/users', { username: u, password: d.pw(u), roles })).status, 201);
  await api.call('PUT', `/api/v1/secrets/${secretId}/permissions`, { entries: [{ principalType: 'user', principal: d.owner, level: 'view' }] });
  const l = await api.call('PATCH', '/api/v1/launchers/rdp', { options: d.launcherOptions });
  assert.equal(l.status, 200, l.raw);
  return secretId;
}

/** A Chromium context per user, signed in to the portal (pushed on `contexts` to be closed at the end). */
export async function signedInContexts<U extends string>(browser: Browser, gw: Gateway, users: readonly U[], pw: (u: string) => string, contexts: Ctx[]): Promise<Record<U, Ctx>> {
  const c = {} as Record<U, Ctx>;
  for (const u of users) {
    c[u] = await newContext(browser, gw.running.url);
    contexts.push(c[u]);
    await signInPortal(c[u].page, u, pw(u));
  }
  return c;
}

export type AuditRow = { actorName: string; outcome: string; details: Record<string, unknown> };
/** The audit rows of `action` about the session. */
export const auditOf = async (api: RdpAdmin, action: string, sessionId: string) => (await api.call('GET', `/api/v1/audit?action=${action}&targetId=${sessionId}`)).body.items as AuditRow[];

/** The secret's live session (waits for it). */
export const liveSession = (api: RdpAdmin, secretId: string) => until(async () => (await api.call('GET', `/api/v1/sessions?status=live&secretId=${secretId}`)).body.items[0]?.id as string | undefined, 'the live session');

/** The recording's lines with who typed them. */
export const recordingLines = async (api: RdpAdmin, sessionId: string) => (await api.call('GET', `/api/v1/recordings/${sessionId}/text`)).body.items as { kind: string; text: string; by: string | null }[];

/** The owner's browser RDP session: launched with the owner's token, opened on `page` (signed in as the owner), the shadowed desktop on its canvas; the session id. */
export async function ownerBrowserSession(gw: Gateway, api: RdpAdmin, secretId: string, ownerToken: string, page: Page): Promise<string> {
  const l = await gw.api('POST', `/api/v1/secrets/${secretId}/launch`, { token: ownerToken, body: { launcher: 'rdp' } });
  assert.equal(l.status, 200, l.raw);
  await page.goto(`/rdp/session?ticket=${l.body.ticket}&consent=1`);
  await until(async () => (await page.locator('.rdpw-page').getAttribute('data-phase')) === 'connected', 'olive’s session to connect', 60_000);
  await until(async () => (await canvasInfo(page, SHADOW_DESKTOP_RGB)).share > 0.3, 'the desktop on olive’s canvas', 60_000);
  return liveSession(api, secretId);
}

/**
 * The owner's native session: the launch's .rdp file (fetched with the owner's token, written in
 * `work`) opened by xfreerdp on `client`; `started` gets the run at once (so the test can stop it
 * whatever happens), and this returns when xfreerdp is active.
 */
export async function ownerNativeSession(gw: Gateway, secretId: string, ownerToken: string, work: string, client: XDisplay, started: (run: XfreerdpRun) => void): Promise<void> {
  const l = await gw.api('POST', `/api/v1/secrets/${secretId}/launch`, { token: ownerToken, body: { launcher: 'rdp' } });
  assert.equal(l.status, 200, l.raw);
  const f = await gw.api('GET', l.body.rdpFile, { token: ownerToken });
  assert.equal(f.status, 200, f.raw);
  const file = join(work, 'olive.rdp');
  writeFileSync(file, f.raw);
  const run = runXfreerdp(file, client);
  started(run);
  await until(async () => /CONNECTION_STATE_ACTIVE/.test(run.output()) || (run.proc.exitCode !== null ? Promise.reject(new Error(`xfreerdp exited ${run.proc.exitCode}:\n${run.output().slice(-3000)}`)) : false), 'xfreerdp to become active', 60_000);
}

/** Clicks desktop pixel (x, y) of the canvas `selector` on a joiner's page (the canvas is scaled to fit). */
export async function clickJoinCanvas(page: Page, selector: string, x: number, y: number): Promise<void> {
  const p = await page.evaluate(
    ({ selector, x, y }) => {
      const el = (globalThis as any).document.querySelector(selector);
      const r = el.getBoundingClientRect();
      return { x: r.left + (x * r.width) / el.width, y: r.top + (y * r.height) / el.height };
    },
    { selector, x, y },
  );
  await page.mouse.move(p.x, p.y, { steps: 3 });
  await page.mouse.down();
  await page.mouse.up();
}

export interface ChromiumSharingRig<U extends string> {
  gw: Gateway;
  shadow: ShadowServer;
  browser: Browser;
  contexts: Ctx[];
  /** A signed-in Chromium context per user. */
  c: Record<U, Ctx>;
  step: ReturnType<typeof stepRunner>;
  api: RdpAdmin;
  secretId: string;
  /** The xev window on the shadowed display (the target's side of the typing). */
  xev: ReturnType<typeof xevWindow>;
}

/**
 * Registers the hooks of a sharing test with every person in Chromium: a gateway, a shadow server
 * with an xev window (`xevEvents`) at the top left of its display, the shared desktop (with the
 * session connector on first when `sessionConnector`), and a signed-in context per user.
 */
export function chromiumSharingRig<U extends string>(
  stepName: string,
  o: { shadowAccount: { username: string; password: string }; desktop: Omit<SharedDesktop, 'port' | 'account' | 'users'> & { users: Record<U, readonly string[]> }; xevEvents: string[]; sessionConnector?: boolean },
): ChromiumSharingRig<U> {
  const rig = { contexts: [] as Ctx[], secretId: '' } as ChromiumSharingRig<U>;
  rig.step = stepRunner(rig.contexts, stepName, () => rig.gw?.logs() ?? '');
  rig.api = rdpAdmin(() => rig.gw);
  before(async () => {
    assert.ok(existsSync(join(UI_DIR, 'index.html')), 'the UI is built (npm run build)');
    [rig.gw, rig.shadow, rig.browser] = await Promise.all([startGateway('sqlite'), startShadowServer(o.shadowAccount), launchBrowser()]);
    rig.xev = xevWindow({ ...process.env, DISPLAY: rig.shadow.display.display }, o.xevEvents, '260x160+20+20');
    if (o.sessionConnector) assert.equal((await rig.api.call('PATCH', '/api/v1/settings', { sessionConnector: true })).status, 200);
    rig.secretId = await sharedDesktop(rig.api, { ...o.desktop, port: rig.shadow.port, account: o.shadowAccount });
    rig.c = await signedInContexts(rig.browser, rig.gw, Object.keys(o.desktop.users) as U[], o.desktop.pw, rig.contexts);
  });
  after(async () => {
    rig.xev?.proc.kill();
    for (const x of rig.contexts) await x.context.close().catch(() => undefined);
    await rig.browser?.close();
    await rig.gw?.close();
    await rig.shadow?.stop();
  });
  return rig;
}
