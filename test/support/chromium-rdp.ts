// What the Chromium browser RDP tests that type on the target (browser-rdp-input, -layouts,
// -layouts-nla) share: the suite's set-up and tear-down (a gateway, xrdp when the test wants it,
// headless Chromium, a windows-account secret, the xev window a test left open), opening a
// launched session page and waiting for the desktop and the live session, disconnecting, and
// the physical keys the us/de layout tests press.
// The page helpers themselves are in browser-rdp.ts; the gateway calls and the target's side in
// rdp-browser-session.ts. Call chromiumRdpRig inside a describe: it registers before/after hooks.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { ensureTargetAccount } from './accounts.js';
import { launchBrowser, newContext, stepRunner, until, type Ctx } from './browser.js';
import { desktopShown, phaseOf } from './browser-rdp.js';
import { startGateway, type Gateway } from './gateway.js';
import type { CanvasInfo } from './rdp-canvas.js';
import { rdpAdmin, type RdpAdmin } from './rdp-browser-session.js';
import { startXrdp, type Xrdp } from './xrdp.js';

export interface ChromiumRdpRig {
  gw: Gateway;
  /** Started when the rig was asked for xrdp (with a secret for it in `secretId`). */
  xrdp: Xrdp;
  browser: Browser;
  contexts: Ctx[];
  account: ReturnType<typeof ensureTargetAccount>;
  step: ReturnType<typeof stepRunner>;
  api: RdpAdmin;
  secretId: string;
  /** The xev window the test has open on the target, killed at the end. */
  xev: ChildProcess | null;
  /** A new browser context on the gateway (closed at the end). */
  context(): Promise<Ctx>;
  /** The sessions of the current secret. */
  sessions(): Promise<any[]>;
}

/** Registers the suite's hooks; `xrdpSecret` starts xrdp and makes a secret of that name for it. */
export function chromiumRdpRig(stepName: string, opts: { xrdpSecret?: string } = {}): ChromiumRdpRig {
  const rig = {
    contexts: [] as Ctx[],
    account: ensureTargetAccount(),
    secretId: '',
    xev: null,
    async context() {
      const c = await newContext(rig.browser, rig.gw.running.url);
      rig.contexts.push(c);
      return c;
    },
    sessions: () => rig.api.sessionsOf(rig.secretId),
  } as unknown as ChromiumRdpRig;
  rig.step = stepRunner(rig.contexts, stepName, () => rig.gw?.logs() ?? '');
  rig.api = rdpAdmin(() => rig.gw);

  before(async () => {
    assert.ok(existsSync(join(UI_DIR, 'index.html')), 'the UI is built (npm run build)');
    [rig.gw, rig.xrdp, rig.browser] = await Promise.all([startGateway('sqlite'), opts.xrdpSecret ? startXrdp() : (undefined as unknown as Xrdp), launchBrowser()]);
    if (opts.xrdpSecret) rig.secretId = await rig.api.windowsSecret(opts.xrdpSecret, rig.xrdp.port, rig.account.username, rig.account.password);
  });

  after(async () => {
    rig.xev?.kill();
    for (const c of rig.contexts) await c.context.close().catch(() => undefined);
    await rig.browser?.close();
    await rig.gw?.close();
    await rig.xrdp?.stop();
  });
  return rig;
}

/** Launches the rig's secret with `body`, opens the session page, waits for the desktop colour `rgb` and the live session. */
export async function openSession(rig: ChromiumRdpRig, page: Page, body: Record<string, unknown>, rgb: number): Promise<{ info: CanvasInfo; sessionId: string }> {
  const ticket = await rig.api.launch(rig.secretId, body);
  await page.goto(`/rdp/session?ticket=${ticket}&consent=1`);
  const info = await desktopShown(page, rgb, () => rig.gw.logs().slice(-3000));
  const sessionId = (await rig.sessions()).find((s) => s.status === 'live')?.id as string;
  assert.ok(sessionId, 'a live session');
  return { info, sessionId };
}

/** Clicks Disconnect and waits for the page and every session of the rig's secret to end. */
export async function disconnect(rig: ChromiumRdpRig, page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Disconnect' }).click();
  await until(async () => (await phaseOf(page)) === 'ended', 'the page to end', 20_000);
  await until(async () => (await rig.sessions()).every((s) => s.status === 'ended'), 'the session to end', 20_000);
}

/** The physical keys Y, Z and 2 (y z 2 under us, z y 2 under de), each on its own. */
export async function pressYZ2(p: Page): Promise<void> {
  await p.keyboard.press('KeyY', { delay: 30 });
  await p.keyboard.press('KeyZ', { delay: 30 });
  await p.keyboard.press('Digit2', { delay: 30 });
}

/** pressYZ2, then AltGr (right Alt) + Q (@ under de). */
export async function pressYZ2AltGrQ(p: Page): Promise<void> {
  await pressYZ2(p);
  await p.keyboard.down('AltRight');
  await p.keyboard.press('KeyQ', { delay: 30 });
  await p.keyboard.up('AltRight');
}
