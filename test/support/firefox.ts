// Debian's Firefox ESR (/usr/bin/firefox-esr) driven over WebDriver BiDi, which Firefox has
// built in: Playwright needs its own patched Firefox, which cannot be downloaded here. One
// headless Firefox per launch with a throwaway profile, a small typed BiDi client over `ws`,
// and page helpers that act like a person: real pointer clicks at an element's centre (after
// checking nothing covers it) and real key presses, so React and xterm.js see the same
// events a user's Firefox sends.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { failedShotName, screenshotDir, until } from './browser.js';

export const FIREFOX = '/usr/bin/firefox-esr';

/** Preferences for a quiet, predictable browser: no first-run pages, updates or phoning home. */
const PREFS: Record<string, string | number | boolean> = {
  'remote.active-protocols': 1, // WebDriver BiDi only
  'browser.shell.checkDefaultBrowser': false,
  'browser.startup.page': 0,
  'browser.startup.homepage_override.mstone': 'ignore',
  'browser.aboutwelcome.enabled': false,
  'browser.tabs.warnOnClose': false,
  'browser.sessionstore.resume_from_crash': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'datareporting.healthreport.uploadEnabled': false,
  'toolkit.telemetry.reportingpolicy.firstRun': false,
  'app.update.disabledForTesting': true,
  'app.normandy.enabled': false,
  'messaging-system.rsexperimentloader.enabled': false,
  'extensions.update.enabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'browser.region.network.url': '',
  // Headless tabs report focus as a visible window's would (xterm.js types only when focused).
  'focusmanager.testmode': true,
};

// ---- the protocol

/** A value as BiDi returns it (script.RemoteValue), reduced to what the helpers read. */
interface RemoteValue {
  type: string;
  value?: unknown;
  sharedId?: string;
}
type EvaluateResult = { type: 'success'; result: RemoteValue } | { type: 'exception'; exceptionDetails: { text: string } };
interface ContextInfo {
  context: string;
  url: string;
  parent?: string | null;
  children?: ContextInfo[] | null;
}
interface LogEntry {
  level: string;
  type: string;
  text: string | null;
  source?: { context?: string };
}

/** The commands used here, with their parameters and results. */
interface Commands {
  'session.new': [{ capabilities: { alwaysMatch: Record<string, unknown> } }, { sessionId: string; capabilities: { browserVersion: string } }];
  'session.subscribe': [{ events: string[] }, { subscription?: string }];
  'browser.close': [Record<string, never>, Record<string, never>];
  'browsingContext.getTree': [{ maxDepth?: number; root?: string }, { contexts: ContextInfo[] }];
  'browsingContext.activate': [{ context: string }, Record<string, never>];
  'browsingContext.navigate': [{ context: string; url: string; wait: 'none' | 'interactive' | 'complete' }, { url: string }];
  'browsingContext.close': [{ context: string; promptUnload?: boolean }, Record<string, never>];
  'browsingContext.setViewport': [{ context: string; viewport: { width: number; height: number } }, Record<string, never>];
  'browsingContext.captureScreenshot': [{ context: string; origin?: 'viewport' | 'document' }, { data: string }];
  'script.callFunction': [{ functionDeclaration: string; target: { context: string }; arguments?: unknown[]; awaitPromise: boolean; resultOwnership?: 'none' | 'root' }, EvaluateResult];
  'input.performActions': [{ context: string; actions: unknown[] }, Record<string, never>];
  'script.addPreloadScript': [{ functionDeclaration: string; contexts?: string[] }, { script: string }];
  'network.addDataCollector': [{ dataTypes: ['response']; maxEncodedDataSize: number }, { collector: string }];
  'network.getData': [{ dataType: 'response'; request: string }, { bytes: { type: 'string' | 'base64'; value: string } }];
}
type Command = keyof Commands;

interface Events {
  'browsingContext.contextCreated': ContextInfo;
  'browsingContext.contextDestroyed': ContextInfo;
  'log.entryAdded': LogEntry;
  'network.responseCompleted': { context?: string | null; request: { request: string; url: string; method: string } };
}
type EventName = keyof Events;

/** One WebSocket to Firefox's BiDi server: commands by id with a timeout each, and events. */
export class Bidi {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout; method: string }>();
  private readonly listeners = new Map<string, Set<(params: never) => void>>();
  private closedWith: Error | null = null;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => this.onMessage(String(data)));
    ws.on('close', () => this.failAll(new Error('the connection to Firefox closed')));
    ws.on('error', (e) => this.failAll(new Error(`the connection to Firefox failed: ${e.message}`)));
  }

  static async connect(url: string, timeoutMs = 10_000): Promise<Bidi> {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`connecting to ${url}: no answer within ${timeoutMs} ms`)), timeoutMs);
      ws.once('open', () => (clearTimeout(t), resolve()));
      ws.once('error', (e) => (clearTimeout(t), reject(new Error(`connecting to ${url}: ${e.message}`))));
    });
    return new Bidi(ws);
  }

  // A guard against a hung browser, not a speed check: on a loaded machine a page busy with
  // WebAssembly (the browser RDP client) can take many seconds to dispatch input actions.
  send<C extends Command>(method: C, params: Commands[C][0], timeoutMs = 60_000): Promise<Commands[C][1]> {
    if (this.closedWith) return Promise.reject(new Error(`${method}: ${this.closedWith.message}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: Firefox did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer, method });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  on<E extends EventName>(event: E, fn: (params: Events[E]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn as (params: never) => void);
    return () => set.delete(fn as (params: never) => void);
  }

  close(): void {
    this.failAll(new Error('the client closed the connection'));
    this.ws.terminate();
  }

  private onMessage(text: string): void {
    const msg = JSON.parse(text) as { type: string; id?: number; result?: unknown; error?: string; message?: string; method?: string; params?: unknown };
    if (msg.type === 'event' && msg.method) {
      for (const fn of this.listeners.get(msg.method) ?? []) fn(msg.params as never);
      return;
    }
    const p = msg.id !== undefined ? this.pending.get(msg.id) : undefined;
    if (!p) return;
    this.pending.delete(msg.id!);
    clearTimeout(p.timer);
    if (msg.type === 'success') p.resolve(msg.result);
    else p.reject(new Error(`${p.method}: ${msg.error ?? 'error'}: ${msg.message ?? ''}`));
  }

  private failAll(e: Error): void {
    this.closedWith ??= e;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(`${p.method}: ${e.message}`));
      this.pending.delete(id);
    }
  }
}

// ---- values across the boundary

/** An element found in a page, as a handle the page can resolve again. */
export interface ElementRef {
  sharedId: string;
}

/** Turns an argument into a BiDi script.LocalValue. */
function toLocal(v: unknown): unknown {
  if (v === undefined) return { type: 'undefined' };
  if (v === null) return { type: 'null' };
  if (typeof v === 'string') return { type: 'string', value: v };
  if (typeof v === 'boolean') return { type: 'boolean', value: v };
  if (typeof v === 'number') return Number.isFinite(v) ? { type: 'number', value: Object.is(v, -0) ? '-0' : v } : { type: 'number', value: String(v) };
  if (v instanceof RegExp) return { type: 'regexp', value: { pattern: v.source, flags: v.flags } };
  if (Array.isArray(v)) return { type: 'array', value: v.map(toLocal) };
  if (typeof v === 'object' && typeof (v as ElementRef).sharedId === 'string') return { sharedId: (v as ElementRef).sharedId };
  if (typeof v === 'object') return { type: 'object', value: Object.entries(v as object).map(([k, x]) => [k, toLocal(x)]) };
  throw new Error(`cannot pass a ${typeof v} to the page`);
}

/** Turns a script.RemoteValue into plain data (nodes become ElementRefs). */
function fromRemote(r: RemoteValue): unknown {
  switch (r.type) {
    case 'undefined':
      return undefined;
    case 'null':
      return null;
    case 'string':
    case 'boolean':
      return r.value;
    case 'number':
      return typeof r.value === 'number' ? r.value : Number(r.value);
    case 'bigint':
      return BigInt(r.value as string);
    case 'array':
    case 'set':
    case 'nodelist':
    case 'htmlcollection':
      return ((r.value as RemoteValue[] | undefined) ?? []).map(fromRemote);
    case 'object':
    case 'map':
      return Object.fromEntries(((r.value as [string | RemoteValue, RemoteValue][] | undefined) ?? []).map(([k, x]) => [typeof k === 'string' ? k : String(fromRemote(k)), fromRemote(x)]));
    case 'node':
      return { sharedId: r.sharedId } satisfies Partial<ElementRef>;
    default:
      return { type: r.type };
  }
}

// ---- finding things in a page

/**
 * What to look for: a CSS selector, or a selector with the visible text it must contain (a
 * string, whitespace-normalised) or match (a RegExp), or the form control a label names.
 * Only rendered elements count (display:none and visibility:hidden do not).
 */
export type Target = string | { css: string; text?: string | RegExp; nth?: number } | { label: string | RegExp };

/** `{css: 'h1', text: /^Title$/}`: an element whose whole visible text is exactly this. */
export const exact = (css: string, text: string): Target => ({ css, text: new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`) });

const describeTarget = (t: Target) => (typeof t === 'string' ? t : 'label' in t ? `the control labelled ${String(t.label)}` : `${t.css}${t.text !== undefined ? ` with text ${String(t.text)}` : ''}${t.nth ? ` #${t.nth}` : ''}`);

/** Page-side: resolves a Target to the first matching rendered element, or null. */
const FIND = `
const norm = (s) => String(s ?? '').replace(/\\s+/g, ' ').trim();
const rendered = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
const matches = (want, text) => want === undefined || (want instanceof RegExp ? want.test(text) : norm(text).includes(norm(want)));
const find = (t) => {
  if (typeof t === 'string') t = { css: t };
  if (t.label !== undefined) {
    for (const l of document.querySelectorAll('label'))
      if (l.control && rendered(l.control) && (t.label instanceof RegExp ? t.label.test(l.innerText) : norm(l.innerText) === norm(t.label))) return l.control;
    return null;
  }
  const all = [...document.querySelectorAll(t.css)].filter((el) => rendered(el) && matches(t.text, el.innerText ?? el.textContent));
  return all[t.nth ?? 0] ?? null;
};`;

/** Wraps page code so that the helper esbuild's keepNames adds (`__name`) exists there too. */
const pageFunction = (body: string) => `function (...args) { const __name = (f) => f; ${body} }`;

/** A key for input.performActions: a character, or one of these names. */
const KEYS: Record<string, string> = { Enter: '\uE007', Backspace: '\uE003', Tab: '\uE004', Escape: '\uE00C', Control: '\uE009', Shift: '\uE008' };

// ---- a tab

export class FirefoxPage {
  constructor(
    private readonly ff: Firefox,
    readonly context: string,
  ) {}

  private get bidi(): Bidi {
    return this.ff.bidi;
  }

  /** Loads url and waits for the load event. */
  async navigate(url: string): Promise<void> {
    await this.bidi.send('browsingContext.navigate', { context: this.context, url, wait: 'complete' }, 30_000);
  }

  async url(): Promise<string> {
    return this.evaluate('() => location.href') as Promise<string>;
  }

  /**
   * Runs a function in the page and returns its (awaited) result as plain data. The function
   * is sent as source text: it cannot see variables of the test, only its arguments.
   */
  async evaluate<R = unknown>(fn: string | ((...args: never[]) => unknown), ...args: unknown[]): Promise<R> {
    return this.call(`return (${String(fn)}).apply(this, args);`, args) as Promise<R>;
  }

  private async call(body: string, args: unknown[]): Promise<unknown> {
    const r = await this.bidi.send('script.callFunction', {
      functionDeclaration: pageFunction(body),
      target: { context: this.context },
      arguments: args.map(toLocal),
      awaitPromise: true,
      resultOwnership: 'none',
    });
    if (r.type === 'exception') throw new Error(`in the page: ${r.exceptionDetails.text}`);
    return fromRemote(r.result);
  }

  /** Whether a rendered element matches target now. */
  async exists(target: Target): Promise<boolean> {
    return (await this.call(`${FIND} return find(args[0]) !== null;`, [target])) as boolean;
  }

  /** Waits until a rendered element matches target (or, with gone, until none does). */
  async waitFor(target: Target, opts: { timeoutMs?: number; gone?: boolean } = {}): Promise<void> {
    await until(async () => (await this.exists(target)) !== !!opts.gone, `${opts.gone ? 'no more ' : ''}${describeTarget(target)}`, opts.timeoutMs ?? 15_000);
  }

  /** Waits until fn (run in the page, with args) returns something truthy, and returns it. */
  async waitForFunction<R>(fn: string | ((...args: never[]) => unknown), what: string, opts: { timeoutMs?: number; args?: unknown[] } = {}): Promise<R> {
    return until(async () => (await this.evaluate(fn, ...(opts.args ?? []))) as R, what, opts.timeoutMs ?? 15_000);
  }

  /** The visible text of the element target names (waits for it). */
  async text(target: Target): Promise<string> {
    await this.waitFor(target);
    return (await this.call(`${FIND} const el = find(args[0]); return el ? el.innerText : null;`, [target])) as string;
  }

  /** Whether the element's box lies inside the window (an off-canvas drawer's links do not). */
  async inViewport(target: Target): Promise<boolean> {
    return (await this.call(
      `${FIND} const el = find(args[0]); if (!el) return false; const r = el.getBoundingClientRect();
       return r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0 && r.right <= innerWidth && r.bottom <= innerHeight;`,
      [target],
    )) as boolean;
  }

  /**
   * Clicks the element like a mouse: scrolls it into view, checks that the element (or a
   * part of it) is what lies at its centre, then moves the pointer there and presses.
   */
  async click(target: Target, opts: { timeoutMs?: number } = {}): Promise<void> {
    let last = '';
    const point = await until(
      async () => {
        const r = (await this.call(
          `${FIND} const el = find(args[0]); if (!el) return { miss: 'not found' };
           el.scrollIntoView({ block: 'center', inline: 'center' });
           const b = el.getBoundingClientRect();
           const x = Math.floor(b.left + b.width / 2), y = Math.floor(b.top + b.height / 2);
           if (b.width === 0 || b.height === 0) return { miss: 'has no size' };
           if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) return { miss: 'is outside the window at ' + x + ',' + y };
           const hit = document.elementFromPoint(x, y);
           if (!hit || !(el === hit || el.contains(hit))) return { miss: 'is covered by ' + (hit ? hit.outerHTML.slice(0, 120) : 'nothing') };
           return { x, y };`,
          [target],
        )) as { x?: number; y?: number; miss?: string };
        last = r.miss ?? '';
        return r.miss ? null : { x: r.x!, y: r.y! };
      },
      `clickable ${describeTarget(target)}`,
      opts.timeoutMs ?? 15_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}: it ${last}`);
    });
    await this.bidi.send('input.performActions', {
      context: this.context,
      actions: [
        {
          type: 'pointer',
          id: 'mouse',
          parameters: { pointerType: 'mouse' },
          actions: [
            { type: 'pointerMove', x: point.x, y: point.y, origin: 'viewport' },
            { type: 'pointerDown', button: 0 },
            { type: 'pointerUp', button: 0 },
          ],
        },
      ],
    });
  }

  /** Types text with key presses into whatever has focus; names in KEYS (Enter…) are single keys. */
  async type(text: string): Promise<void> {
    const actions = [...text].flatMap((c) => [
      { type: 'keyDown', value: c },
      { type: 'keyUp', value: c },
    ]);
    await this.bidi.send('input.performActions', { context: this.context, actions: [{ type: 'key', id: 'keyboard', actions }] });
  }

  async press(key: keyof typeof KEYS | string): Promise<void> {
    await this.type(KEYS[key] ?? key);
  }

  /**
   * Replaces the value of an input: focuses it, selects what it holds, and types text with
   * real key presses, so React's onChange runs as it does for a person typing.
   */
  async fill(target: Target, text: string): Promise<void> {
    await this.waitFor(target);
    const had = (await this.call(`${FIND} const el = find(args[0]); el.focus(); el.select?.(); return el.value ?? '';`, [target])) as string;
    if (text) await this.type(text);
    else if (had) await this.press('Backspace');
    const now = (await this.call(`${FIND} return find(args[0])?.value ?? null;`, [target])) as string | null;
    if (now !== text) throw new Error(`fill ${describeTarget(target)}: the field holds ${JSON.stringify(now)}, not what was typed`);
  }

  async setViewport(width: number, height: number): Promise<void> {
    await this.bidi.send('browsingContext.setViewport', { context: this.context, viewport: { width, height } });
  }

  /** Brings the tab to the front (key presses go to the front tab). */
  async activate(): Promise<void> {
    await this.bidi.send('browsingContext.activate', { context: this.context });
  }

  /** Saves a PNG of what the window shows as <artifacts>/screenshots/<name>.png; returns its path. */
  async screenshot(name: string): Promise<string> {
    const { data } = await this.bidi.send('browsingContext.captureScreenshot', { context: this.context, origin: 'viewport' }, 30_000);
    const path = join(screenshotDir(), `${name.replace(/[^A-Za-z0-9_.-]+/g, '-')}.png`);
    writeFileSync(path, Buffer.from(data, 'base64'));
    return path;
  }

  /** The text xterm.js shows (its DOM renderer's rows), one line per row. */
  async terminalText(): Promise<string> {
    return ((await this.evaluate(`() => document.querySelector('.xterm-rows')?.innerText ?? ''`)) as string) ?? '';
  }

  /** Waits until the page's xterm shows text matching pattern; returns the whole screen text. */
  async waitForTerminalText(pattern: RegExp, timeoutMs = 15_000): Promise<string> {
    let seen = '';
    return until(
      async () => {
        seen = await this.terminalText();
        return pattern.test(seen) ? seen : null;
      },
      `terminal text ${pattern}`,
      timeoutMs,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\nscreen:\n${seen}`);
    });
  }

  async close(): Promise<void> {
    await this.bidi.send('browsingContext.close', { context: this.context, promptUnload: false });
  }
}

// ---- the browser

export interface LaunchOptions {
  /** The window size of every tab (default 1280×800, as the Chromium tests use). */
  viewport?: { width: number; height: number };
  /** How long Firefox may take to start listening (default 30 s). */
  startTimeoutMs?: number;
  /** Preferences on top of the quiet defaults (e.g. a test-only switch a test needs). */
  prefs?: Record<string, string | number | boolean>;
}

export class Firefox {
  /** Console errors and uncaught page errors seen so far, for failure messages. */
  readonly problems: string[] = [];
  private readonly pages = new Map<string, FirefoxPage>();
  private readonly created: string[] = [];
  private closed = false;

  private constructor(
    private readonly proc: ChildProcess,
    private readonly profile: string,
    readonly bidi: Bidi,
    readonly version: string,
    private readonly viewport: { width: number; height: number },
    private readonly onExit: () => void,
  ) {
    bidi.on('log.entryAdded', (e) => {
      if (e.level === 'error') this.problems.push(`${e.type === 'javascript' ? 'page error' : 'console'}: ${e.text ?? ''}`);
    });
    bidi.on('browsingContext.contextCreated', (c) => {
      if (!c.parent) this.created.push(c.context);
    });
    bidi.on('browsingContext.contextDestroyed', (c) => {
      this.pages.delete(c.context);
    });
  }

  /**
   * Starts a headless firefox-esr on a fresh profile and opens a BiDi session that accepts
   * the gateway's self-signed certificate. Fails with Firefox's own last words when it exits
   * or stays silent; never leaves the process or the profile behind on failure.
   */
  static async launch(opts: LaunchOptions = {}): Promise<Firefox> {
    const profile = mkdtempSync(join(tmpdir(), 'gatehouse-firefox-'));
    writeFileSync(join(profile, 'user.js'), Object.entries({ ...PREFS, ...opts.prefs }).map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});\n`).join(''));
    const proc = spawn(FIREFOX, ['--headless', '--no-remote', '--remote-debugging-port=0', '--profile', profile, 'about:blank'], {
      // Own process group: Firefox's content processes go down with it.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MOZ_CRASHREPORTER_DISABLE: '1', MOZ_HEADLESS: '1' },
    });
    // A late spawn error (after the start was judged) must not crash the test process.
    proc.on('error', () => undefined);
    const kill = () => {
      try {
        if (proc.pid && proc.exitCode === null && proc.signalCode === null) process.kill(-proc.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      rmSync(profile, { recursive: true, force: true });
    };
    // If the test process dies without closing, Firefox must not outlive it.
    process.once('exit', kill);
    const onExit = () => process.removeListener('exit', kill);
    let bidi: Bidi | null = null;
    try {
      const wsUrl = await listeningUrl(proc, opts.startTimeoutMs ?? 30_000);
      bidi = await Bidi.connect(`${wsUrl}/session`);
      const s = await bidi.send('session.new', { capabilities: { alwaysMatch: { acceptInsecureCerts: true, unhandledPromptBehavior: { default: 'accept' } } } });
      await bidi.send('session.subscribe', { events: ['browsingContext.contextCreated', 'browsingContext.contextDestroyed', 'log.entryAdded'] });
      const ff = new Firefox(proc, profile, bidi, s.capabilities.browserVersion, opts.viewport ?? { width: 1280, height: 800 }, onExit);
      return ff;
    } catch (e) {
      bidi?.close();
      kill();
      onExit();
      throw e;
    }
  }

  /**
   * Makes every page loaded from now on report that it has focus (document.hasFocus()), as
   * the page in a person's front window does: a headless Firefox has no focused window, so
   * its pages always say false, and code that waits for focus (the remote desktop client's
   * clipboard) would never run.
   */
  async pagesReportFocus(): Promise<void> {
    await this.bidi.send('script.addPreloadScript', { functionDeclaration: '() => { Document.prototype.hasFocus = function () { return true; }; }' });
  }

  /** The first tab (the one Firefox opened at start), sized to the default viewport. */
  async firstPage(): Promise<FirefoxPage> {
    const { contexts } = await this.bidi.send('browsingContext.getTree', { maxDepth: 0 });
    const c = contexts[0];
    if (!c) throw new Error('Firefox has no open tab');
    return this.adopt(c.context);
  }

  /** Runs action (e.g. a click on a target=_blank link) and returns the tab it opened. */
  async waitForNewPage(action: () => Promise<void>, timeoutMs = 15_000): Promise<FirefoxPage> {
    const before = this.created.length;
    await action();
    const id = await until(async () => this.created[before], 'a new tab', timeoutMs);
    return this.adopt(id);
  }

  /** Every open tab. */
  async allPages(): Promise<FirefoxPage[]> {
    const { contexts } = await this.bidi.send('browsingContext.getTree', { maxDepth: 0 });
    return contexts.map((c) => this.pages.get(c.context) ?? new FirefoxPage(this, c.context));
  }

  private async adopt(context: string): Promise<FirefoxPage> {
    const p = new FirefoxPage(this, context);
    this.pages.set(context, p);
    await p.setViewport(this.viewport.width, this.viewport.height);
    return p;
  }

  /** Failed steps so far, per screenshot prefix (see step). */
  private readonly failedSteps = new Map<string, number>();

  /**
   * Runs a test step; when it fails, the error also carries what the pages complained about
   * and a screenshot of every open tab (named by failedShotName).
   */
  step(prefix: string): (fn: () => Promise<void>) => Promise<void> {
    return async (fn) => {
      try {
        await fn();
      } catch (e) {
        const err = e as Error;
        if (this.problems.length) err.message += `\nbrowser problems:\n${this.problems.join('\n')}`;
        // Counted per prefix on the browser: tests make a runner per step.
        const failure = (this.failedSteps.get(prefix) ?? 0) + 1;
        this.failedSteps.set(prefix, failure);
        let n = 0;
        for (const p of await this.allPages().catch(() => [])) {
          const path = await p.screenshot(failedShotName(prefix, failure, ++n)).catch(() => null);
          const url = await p.url().catch(() => '?');
          if (path) err.message += `\npage ${url} → ${path}`;
        }
        throw err;
      }
    };
  }

  /** Ends the session and Firefox (killing it if it lingers) and removes the profile. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const exited = new Promise<void>((resolve) => (this.proc.exitCode !== null || this.proc.signalCode !== null ? resolve() : this.proc.once('exit', () => resolve())));
    await this.bidi.send('browser.close', {}, 5_000).catch(() => undefined);
    this.bidi.close();
    await Promise.race([exited, sleep(5_000)]);
    try {
      // The main process may be gone while a content process of its group lingers.
      process.kill(-this.proc.pid!, 'SIGKILL');
    } catch {
      /* the whole group is gone */
    }
    await Promise.race([exited, sleep(2_000)]);
    rmSync(this.profile, { recursive: true, force: true });
    this.onExit();
  }
}

/** Reads Firefox's stderr until it names its BiDi address; fails with its last lines otherwise. */
function listeningUrl(proc: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const tail: string[] = [];
    let buf = '';
    const lastWords = () => (tail.length ? `; its last output:\n${tail.slice(-15).join('\n')}` : '');
    const done = (e: Error | null, url?: string) => {
      clearTimeout(timer);
      proc.stderr?.removeListener('data', onData);
      proc.removeListener('exit', onExitEarly);
      proc.removeListener('error', onError);
      // Keep draining output so a full pipe never blocks Firefox.
      proc.stderr?.resume();
      proc.stdout?.resume();
      if (e) reject(e);
      else resolve(url!);
    };
    const onData = (chunk: Buffer) => {
      buf += chunk.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) {
        const m = /WebDriver BiDi listening on (ws:\/\/\S+)/.exec(line);
        if (m) return done(null, m[1]!);
        if (line.trim()) tail.push(line);
      }
    };
    const onExitEarly = (code: number | null, signal: string | null) => done(new Error(`Firefox (${FIREFOX}) exited before it listened for WebDriver BiDi (code ${code ?? signal})${lastWords()}`));
    const onError = (e: NodeJS.ErrnoException) =>
      done(new Error(e.code === 'ENOENT' ? `Firefox is not installed at ${FIREFOX} (scripts/install-test-deps.sh installs firefox-esr)` : `Firefox (${FIREFOX}) did not start: ${e.message}`));
    const timer = setTimeout(() => done(new Error(`Firefox (${FIREFOX}) did not listen for WebDriver BiDi within ${timeoutMs} ms${lastWords()}`)), timeoutMs);
    proc.stderr?.on('data', onData);
    proc.stdout?.resume();
    proc.once('exit', onExitEarly);
    proc.once('error', onError);
  });
}
