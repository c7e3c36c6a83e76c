// What the browser RDP e2e tests (Chromium and Firefox, xrdp and the NLA shadow server) share
// around the page itself: the administrator's API calls a session test makes (a windows-account
// secret, a launch, the secret's sessions, a recording's text and events, a launcher that allows
// or denies the clipboard), and the target's side of a test (the xrdp session's X environment,
// an xev window on it, the target's X clipboard, clicking until xev sees the pointer, waiting for
// typed text on the target (xevPrints) and in the keystroke log). Kept here so each test file says only
// what it proves, not how it reaches the gateway or the target's X display.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { until } from './browser.js';
import type { Gateway } from './gateway.js';
import { xevTyped } from './rdp-canvas.js';
import type { Xrdp } from './xrdp.js';

export type RecordingItem = { kind: string; text: string };

/** The administrator's calls of a browser RDP test; `gw` is read on each call (tests start the gateway in `before`). */
export function rdpAdmin(gw: () => Gateway) {
  const call = (method: string, path: string, body?: unknown) => gw().api(method, path, { token: gw().adminToken, ...(body !== undefined ? { body } : {}) });
  const textOf = async (id: string) => (await call('GET', `/api/v1/recordings/${id}/text`)).body.items as RecordingItem[];
  return {
    call,
    /** A windows-account secret for an RDP target on loopback; its id. */
    async windowsSecret(name: string, port: number, username: string, password: string): Promise<string> {
      const s = await call('POST', '/api/v1/secrets', { name, template: 'windows-account', fields: { machine: '127.0.0.1', port, username, password } });
      assert.equal(s.status, 201, s.raw);
      return s.body.id as string;
    },
    /** Launches the secret (the rdp launcher unless `body` names another); the ticket. */
    async launch(secretId: string, body: Record<string, unknown> = {}): Promise<string> {
      const l = await call('POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'rdp', ...body });
      assert.equal(l.status, 200, l.raw);
      return l.body.ticket as string;
    },
    sessionsOf: async (secretId: string) => (await call('GET', `/api/v1/sessions?secretId=${secretId}`)).body.items as any[],
    textOf,
    /** The recording's event notes (rdp_channels, rdp_target_nla, ...). */
    events: async (id: string) => (await textOf(id)).filter((i) => i.kind === 'event').map((i) => i.text),
    /** A session-connector launcher for RDP that allows or denies the clipboard, offered on the windows-account template; its id. */
    async clipboardLauncher(name: string, rdpClipboard: boolean): Promise<string> {
      const l = await call('POST', '/api/v1/launchers', { name, type: 'session-connector', childType: 'rdp', gatewayHost: '127.0.0.1', gatewayPort: gw().rdpPort, options: { rdpClipboard } });
      assert.equal(l.status, 201, l.raw);
      const t = await call('GET', '/api/v1/templates/windows-account');
      const p = await call('PATCH', '/api/v1/templates/windows-account', { launchers: [...t.body.launchers, l.body.id] });
      assert.equal(p.status, 200, p.raw);
      return l.body.id as string;
    },
  };
}
export type RdpAdmin = ReturnType<typeof rdpAdmin>;

/** The xrdp session's X display (sesman names it when it starts the X server), '' before there is one. */
export function xrdpSessionDisplay(xrdp: Xrdp): string {
  const all = [...xrdp.sesmanLog().matchAll(/Starting X server on display (\d+)/g)];
  return all.length ? `:${all[all.length - 1]![1]}` : '';
}

/** The environment of an X client on the xrdp session's display (the target account's X authority). */
export const xrdpSessionEnv = (xrdp: Xrdp, home: string): NodeJS.ProcessEnv => ({ ...process.env, DISPLAY: xrdpSessionDisplay(xrdp), XAUTHORITY: `${home}/.Xauthority` });

/** An xev window on the display of `env`, printing the events `events` asks for; its output so far. */
export function xevWindow(env: NodeJS.ProcessEnv, events: string[], geometry = '300x200+400+300'): { proc: ChildProcess; out(): string } {
  let out = '';
  const proc = spawn('stdbuf', ['-oL', 'xev', '-geometry', geometry, ...events.flatMap((e) => ['-event', e])], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return { proc, out: () => out };
}

/**
 * Clicks (with `click`) every 3 s until xev's output shows a button press: with no window manager
 * the focus follows the pointer, and on a loaded machine the first click can reach the target
 * before xev's window is on its screen.
 */
export async function clickUntilXevSees(out: () => string, click: () => Promise<unknown>, what: string): Promise<void> {
  let clickedAt = 0;
  await until(
    async () => {
      if (/ButtonPress/.test(out())) return true;
      if (Date.now() - clickedAt > 3_000) {
        clickedAt = Date.now();
        await click();
      }
      return false;
    },
    what,
    60_000,
  );
}

/** Waits for xev on the target to print `text`; says what xev saw when it does not. */
export const xevPrints = (out: () => string, text: string, what: string) =>
  until(async () => xevTyped(out()).includes(text), what, 60_000).catch((e) => {
    throw new Error(`${(e as Error).message}\nxev saw: ${JSON.stringify(xevTyped(out()))}`);
  });

/** Waits for xev on the target to print `expected`, presses Enter (`enter`), then waits for the keystroke log's line `expected`. */
export async function typedOnTarget(out: () => string, expected: string, enter: () => Promise<void>, textOf: () => Promise<RecordingItem[]>): Promise<void> {
  await xevPrints(out, expected, `xev on the target to print ${JSON.stringify(expected)}`);
  await enter();
  await until(async () => (await textOf()).some((i) => i.kind === 'command' && i.text === expected), `the keystroke log's line ${JSON.stringify(expected)}`, 20_000).catch(async (e) => {
    throw new Error(`${(e as Error).message}\nlog: ${JSON.stringify(await textOf())}`);
  });
}

/** The target session's X clipboard (CLIPBOARD selection), read by a Tk client on the display of `env`. */
export const targetClipboard = (env: NodeJS.ProcessEnv) =>
  new Promise<string>((resolve) => {
    const p = spawn('python3', ['-c', 'import tkinter\nr=tkinter.Tk()\nr.withdraw()\ntry:\n  print(r.clipboard_get(), end="")\nexcept Exception as e:\n  print("<none>", end="")'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', () => resolve(out));
    setTimeout(() => p.kill(), 8000).unref();
  });

/** A Tk client on the display of `env` that copies `text` and holds the X clipboard for a minute (kill it sooner). */
export const holdTargetClipboard = (env: NodeJS.ProcessEnv, text: string): ChildProcess =>
  spawn('python3', ['-c', `import tkinter\nr=tkinter.Tk()\nr.withdraw()\nr.clipboard_clear()\nr.clipboard_append(${JSON.stringify(text)})\nr.update()\nr.after(60000, r.destroy)\nr.mainloop()`], { env, stdio: 'ignore' });
