// A headless Chromium (Debian's, at /usr/bin/chromium: browsers are never downloaded)
// driven by playwright-core, fresh contexts that accept the gateway's self-signed
// certificate, screenshots saved as test artifacts, and small waits on what a page shows.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
}

export interface Ctx {
  context: BrowserContext;
  page: Page;
  /** Console errors, page errors and failed requests seen so far, for failure messages. */
  problems: string[];
}

/** A fresh context (own cookies) with one page, 1280×800, that accepts self-signed certificates. */
export async function newContext(browser: Browser, baseURL?: string): Promise<Ctx> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 }, ...(baseURL ? { baseURL } : {}) });
  // Generous: the whole suite may run alongside (two files at a time by default).
  context.setDefaultTimeout(15_000);
  const problems: string[] = [];
  const watch = (p: Page) => {
    // Failed requests are listed with their address by the response handler below.
    p.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && problems.push(`console: ${m.text()}`));
    p.on('response', (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`));
    p.on('requestfailed', (r) => problems.push(`request failed: ${r.method()} ${new URL(r.url()).pathname} ${r.failure()?.errorText ?? ''}`));
    p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  };
  context.on('page', watch);
  const page = await context.newPage();
  return { context, page, problems };
}

/** Signs in on the portal's page (the context's base URL) and waits for My access. */
export async function signInPortal(page: Page, username: string, password: string): Promise<void> {
  await page.goto('/');
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('heading', { name: 'My access', level: 1 }).waitFor();
}

let announced = false;

/** The folder screenshots go to (printed once, so the test run shows where). */
export function screenshotDir(): string {
  const dir = resolve(join(process.env.GATEHOUSE_TEST_ARTIFACTS ?? 'test-artifacts', 'screenshots'));
  mkdirSync(dir, { recursive: true });
  if (!announced) {
    announced = true;
    console.log(`screenshots: ${dir}`);
  }
  return dir;
}

/** Saves a PNG of the page (viewport, or the whole page with fullPage) and returns its path. */
export async function screenshot(page: Page, name: string, opts: { fullPage?: boolean } = {}): Promise<string> {
  const path = join(screenshotDir(), `${name.replace(/[^A-Za-z0-9_.-]+/g, '-')}.png`);
  await page.screenshot({ path, fullPage: opts.fullPage ?? false, animations: 'disabled' });
  return path;
}

/** Polls until fn returns a truthy value; the error names what was awaited and the last value seen. */
export async function until<T>(fn: () => Promise<T | null | undefined | false | ''>, what: string, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(100);
  }
}

/** The text xterm.js shows (its DOM renderer's rows), one line per row. */
export async function terminalText(page: Page): Promise<string> {
  return page.locator('.xterm-rows').first().innerText();
}

/** Waits until the xterm on the page shows text matching pattern; returns the whole screen text. */
export function waitForTerminalText(page: Page, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  let seen = '';
  return until(
    async () => {
      seen = await terminalText(page);
      return pattern.test(seen) ? seen : null;
    },
    `terminal text ${pattern}`,
    timeoutMs,
  ).catch((e: Error) => {
    throw new Error(`${e.message}\nscreen:\n${seen}`);
  });
}

/**
 * The screenshot name of page `n` at a runner's `failure`-th failed step: `<prefix>-failed-N`,
 * and from the second failure on `<prefix>-failed-K-N`, so a later failure does not overwrite
 * an earlier one's screenshots. (Chromium's stepRunner and Firefox's step.)
 */
export const failedShotName = (prefix: string, failure: number, n: number): string => `${prefix}-failed${failure > 1 ? `-${failure}` : ''}-${n}`;

/**
 * Runs a test step; when it fails, the error also carries what the browser complained about
 * and a screenshot path for every open page (named by failedShotName), and the last lines
 * of the gateway's log when `gatewayLog` is given.
 */
export function stepRunner(contexts: Ctx[], prefix: string, gatewayLog?: () => string): (fn: () => Promise<void>) => Promise<void> {
  let failures = 0;
  return async (fn) => {
    try {
      await fn();
    } catch (e) {
      const err = e as Error;
      const problems = contexts.flatMap((c) => c.problems);
      if (problems.length) err.message += `\nbrowser problems:\n${problems.join('\n')}`;
      // What the gateway said last (a session's end and its reason, a door's error).
      if (gatewayLog) err.message += `\ngateway log (last lines):\n${gatewayLog().split('\n').slice(-40).join('\n')}`;
      const failure = ++failures;
      let n = 0;
      for (const c of contexts)
        for (const p of c.context.pages()) {
          const path = await screenshot(p, failedShotName(prefix, failure, ++n)).catch(() => null);
          if (path) err.message += `\npage ${p.url()} → ${path}`;
        }
      throw err;
    }
  };
}
