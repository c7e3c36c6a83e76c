// What the Firefox browser RDP tests (browser-rdp-firefox-nla, -firefox-xrdp, -layouts-firefox)
// share: opening a session page in Firefox and waiting for the desktop on IronRDP's canvas,
// WebDriver pointer and key actions on it, and disconnecting (with the scan of everything
// Firefox received for the password). The Chromium counterparts are in browser-rdp.ts; the
// gateway calls and the target's side are in rdp-browser-session.ts.
import assert from 'node:assert/strict';
import { until } from './browser.js';
import type { Firefox, FirefoxPage } from './firefox.js';
import type { FirefoxReceived } from './firefox-capture.js';
import type { Gateway } from './gateway.js';
import { CANVAS_INFO, type CanvasInfo } from './rdp-canvas.js';
import type { RdpAdmin } from './rdp-browser-session.js';
import { wireLeaks } from './scan.js';

/** WebDriver's key for the right Alt key (AltGr on a German keyboard). */
export const R_ALT = '\uE052';
/** WebDriver key actions: keyDown/keyUp of key values. */
export type Keys = ['down' | 'up', string][];
export const press = (v: string): Keys => [
  ['down', v],
  ['up', v],
];

/** Key actions with a pause between them, so each reaches the target on its own. */
export const firefoxKeys = (ff: Firefox, page: FirefoxPage, values: Keys) =>
  ff.bidi.send('input.performActions', {
    context: page.context,
    actions: [{ type: 'key', id: 'keyboard', actions: values.flatMap(([d, v]) => [{ type: d === 'down' ? 'keyDown' : 'keyUp', value: v }, { type: 'pause', duration: 30 }]) }],
  });

/** Moves the pointer to desktop pixel (x, y) of the canvas (scaled to fit) and clicks. */
export const firefoxClickDesktop = (ff: Firefox, page: FirefoxPage, info: CanvasInfo, x: number, y: number) => {
  const px = Math.round(info.left + (x * info.cssWidth) / info.width);
  const py = Math.round(info.top + (y * info.cssHeight) / info.height);
  return ff.bidi.send('input.performActions', {
    context: page.context,
    actions: [{ type: 'pointer', id: 'mouse', parameters: { pointerType: 'mouse' }, actions: [{ type: 'pointerMove', x: px - 20, y: py - 20, origin: 'viewport' }, { type: 'pointerMove', x: px, y: py, origin: 'viewport', duration: 100 }, { type: 'pointerDown', button: 0 }, { type: 'pointerUp', button: 0 }] }],
  });
};

/** The canvas as it is now (no waiting). */
export const firefoxCanvas = (page: FirefoxPage, rgb: number) => page.evaluate<CanvasInfo>(`() => (${CANVAS_INFO})(${rgb})`);

export interface FirefoxOpen {
  gw: Gateway;
  api: RdpAdmin;
  secretId: string;
  /** The desktop colour to wait for on the canvas, and what to call it in a timeout. */
  rgb: number;
  what: string;
  /** Launch body fields (launcher, keyboardLayout) and extra query (GUAC_*). */
  body?: Record<string, unknown>;
  query?: string;
  /** Also assert that the ticket leaves the address bar. */
  ticketLeaves?: boolean;
}

/** Launches, opens the session page in Firefox, waits for the desktop on the canvas and the live session; brings the tab to the front (key presses go there). */
export async function openInFirefox(page: FirefoxPage, o: FirefoxOpen): Promise<{ info: CanvasInfo; sessionId: string }> {
  const ticket = await o.api.launch(o.secretId, o.body);
  await page.navigate(`${o.gw.running.url}/rdp/session?ticket=${ticket}&consent=1${o.query ?? ''}`);
  await page.waitForFunction(`() => document.querySelector('.rdpw-page')?.dataset.phase === 'connected'`, 'the session to connect', { timeoutMs: 60_000 }).catch(async (e) => {
    throw new Error(`${(e as Error).message}\n${await page.evaluate(`() => document.querySelector('.rdpw-page')?.innerText ?? ''`).catch(() => '')}\n${o.gw.logs().slice(-3000)}`);
  });
  if (o.ticketLeaves) assert.equal(new URL(await page.url()).searchParams.get('ticket'), null, 'the ticket leaves the address bar');
  const info = await page.waitForFunction<CanvasInfo>(`() => { const i = (${CANVAS_INFO})(${o.rgb}); return i.share > 0.3 ? i : null; }`, o.what, { timeoutMs: 60_000 });
  const sessionId = (await o.api.sessionsOf(o.secretId)).find((s) => s.status === 'live')?.id as string;
  assert.ok(sessionId, 'a live session');
  await page.activate();
  return { info, sessionId };
}

/** Clicks Disconnect and waits for the page and every session of `sessions` to end. */
export async function firefoxDisconnect(page: FirefoxPage, sessions: () => Promise<any[]>): Promise<void> {
  await page.click({ css: 'button', text: 'Disconnect' });
  await page.waitForFunction(`() => document.querySelector('.rdpw-page')?.dataset.phase === 'ended'`, 'the page to end', { timeoutMs: 20_000 });
  await until(async () => (await sessions()).every((s) => s.status === 'ended'), 'the session to end', 20_000);
}

/**
 * Disconnects, then scans what Firefox received during this page's session for the password:
 * more than `minFrames` WebSocket frames prove the collector saw the RDP messages.
 */
export async function disconnectAndScan(page: FirefoxPage, received: FirefoxReceived, sessions: () => Promise<any[]>, password: string, minFrames: number): Promise<void> {
  await firefoxDisconnect(page, sessions);
  const got = await received.all(page);
  const frames = got.filter((b) => b.name.startsWith('websocket frame')).length;
  assert.ok(frames > minFrames, `the recorder saw the RDP messages Firefox received (${frames})`);
  assert.ok(got.some((b) => b.name === 'GET /rdp/session' && b.data.length > 0), `the collector kept the HTTP bodies (${got.filter((b) => !b.name.startsWith('websocket')).map((b) => b.name).join(', ')})`);
  assert.deepEqual(wireLeaks(got, { password }), [], 'no form of the password reached Firefox');
}
