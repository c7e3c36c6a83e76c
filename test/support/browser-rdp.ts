// What the browser-rdp-*.test.ts files (replay, logon ticket, input, resize) share: the
// session page's phase, waiting for the remote desktop on IronRDP's canvas, clicking a
// desktop pixel through the fitted canvas, and the xrdp session's own X display (sesman
// names it) where xev, xsetroot and xwd run as the target's side of a test.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { until } from './browser.js';
import { canvasInfo, type CanvasInfo } from './rdp-canvas.js';
import { parseXwd, type Screenshot, type Xrdp } from './xrdp.js';

/** Run in the page: IronRDP's canvas now, its desktop size and where the page shows it; null while there is none. */
const CANVAS_BOX = `(() => {
  const canvas = document.querySelector('iron-remote-desktop')?.shadowRoot?.querySelector('canvas');
  if (!canvas) return null;
  const r = canvas.getBoundingClientRect();
  return { width: canvas.width, height: canvas.height, left: r.left, top: r.top, cssWidth: r.width, cssHeight: r.height };
})()`;

export const phaseOf = (page: Page) => page.locator('.rdpw-page').getAttribute('data-phase');

/** Waits for the page to connect (agreeing to the recording notice if it shows) and for the desktop colour on the canvas. */
export async function desktopShown(page: Page, rgb: number, diagnostics: () => string = () => ''): Promise<CanvasInfo> {
  await until(
    async () => {
      const phase = await phaseOf(page);
      if (phase === 'consent') await page.getByRole('button', { name: 'Agree and connect' }).click();
      return phase === 'connected' || phase === 'error' || phase === 'ended' ? phase : null;
    },
    'the session to connect',
    60_000,
  );
  const phase = await phaseOf(page);
  if (phase !== 'connected') throw new Error(`the session page is ${phase}: ${await page.locator('.rdpw-reason').textContent().catch(() => '')}\n${diagnostics()}`);
  return until(async () => {
    const i = await canvasInfo(page, rgb);
    return i.share > 0.3 ? i : null;
  }, 'the remote desktop colour on the canvas', 60_000);
}

/**
 * Clicks the remote desktop at desktop pixel (x, y): the canvas is scaled to fit the window.
 * Where the canvas is and how large is read at the click: the page may scale it to fit after
 * `info` was taken (seen against the shadow server: measured before, a click landed 130 px
 * left of where it was meant). `info` stands in while there is no canvas.
 */
export async function clickDesktop(page: Page, info: CanvasInfo, x: number, y: number): Promise<void> {
  const now = (await page.evaluate(CANVAS_BOX).catch(() => null)) as Pick<CanvasInfo, 'width' | 'height' | 'left' | 'top' | 'cssWidth' | 'cssHeight'> | null;
  const at = now && now.width > 0 && now.cssWidth > 0 ? now : info;
  await page.mouse.move(at.left + (x * at.cssWidth) / at.width, at.top + (y * at.cssHeight) / at.height, { steps: 4 });
  await page.mouse.down();
  await page.mouse.up();
}

/** The xrdp session's X display and the environment to reach it (the target account's X authority). */
export function xrdpDisplay(xrdp: Xrdp, home: string): { display: string; env: NodeJS.ProcessEnv } {
  const all = [...xrdp.sesmanLog().matchAll(/Starting X server on display (\d+)/g)];
  const display = all.length ? `:${all[all.length - 1]![1]}` : '';
  if (!display) throw new Error(`no X display in the sesman log:\n${xrdp.sesmanLog().slice(-2000)}`);
  return { display, env: { ...process.env, DISPLAY: display, XAUTHORITY: join(home, '.Xauthority') } };
}

/** The xrdp session's screen as its X server has it (the target side of a comparison). */
export function xrdpScreen(xrdp: Xrdp, home: string): Screenshot {
  const { env } = xrdpDisplay(xrdp, home);
  return parseXwd(execFileSync('xwd', ['-root', '-silent'], { env, maxBuffer: 64 << 20 }));
}

/** An xev window on the xrdp session's display, printing the events `events` asks for; its output so far. */
export function xevOn(xrdp: Xrdp, home: string, geometry: string, events: string[]): { proc: ChildProcess; out(): string } {
  const { env } = xrdpDisplay(xrdp, home);
  let out = '';
  const proc = spawn('stdbuf', ['-oL', 'xev', '-geometry', geometry, ...events.flatMap((e) => ['-event', e])], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return { proc, out: () => out };
}
