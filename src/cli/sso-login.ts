// `gatehouse login --sso <provider>`: signing the CLI in through the browser with an OIDC
// provider, by the loopback redirect the server implements (RFC 8252; docs/identity.md "CLI:
// loopback redirect"). The CLI listens on http://127.0.0.1:<random port>/callback, starts the
// sign-in with that address and the S256 challenge of a verifier only it knows, prints the
// URL (and opens a browser when it can), and trades the one-time code Gatehouse sends back
// to the listener, with the verifier, for a login token.
//
// The browser's request to the listener is held until the exchange is done, so the page the
// person sees says whether the CLI is signed in, not merely that a code arrived.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { delimiter, join } from 'node:path';
import { api, type Ok } from '../web/contract/index.js';
import { ApiError, apiError, call, callApi, parseJson, pathOf, type CliState } from './client.js';

export interface SsoLoginOptions {
  /** The provider's name (its path segment, as `GET /api/v1/auth/providers` lists it). */
  provider: string;
  /** How long to wait for the browser to come back. */
  timeoutSeconds: number;
  /** Try to open a browser (false: only print the URL). */
  openBrowser: boolean;
  /** Where the instructions go (the URL among them); stdout stays for the result. */
  say: (line: string) => void;
}

export interface SsoLoginResult {
  /** The state the CLI talked to the server with (its certificate pin included). */
  state: CliState;
  token: Ok<typeof api.oidc.cliToken>;
}

/** A PKCE verifier and its S256 challenge (RFC 7636): 32 random bytes, base64url. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The address the browser opens: the provider's start page with the CLI's listener and challenge. */
export function ssoStartUrl(serverUrl: string, startPath: string, redirect: string, challenge: string): string {
  const u = new URL(startPath, serverUrl);
  u.searchParams.set('cli_redirect', redirect);
  u.searchParams.set('cli_challenge', challenge);
  return u.href;
}

/** An executable of that name on PATH, or null. */
function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Asks the desktop to open `url`; answers whether an opener was started. Never fails: the URL
 * is printed anyway. On Linux only with a display, so that xdg-open cannot start a text
 * browser on a terminal the CLI does not hand it.
 */
export function tryOpenBrowser(url: string): boolean {
  const opener = process.platform === 'darwin' ? onPath('open') : process.platform === 'win32' ? null : process.env.DISPLAY || process.env.WAYLAND_DISPLAY ? onPath('xdg-open') : null;
  if (!opener) return false;
  try {
    const child = spawn(opener, [url], { detached: true, stdio: 'ignore' });
    child.once('error', () => undefined);
    child.unref();
    return true;
  } catch {
    return false;
  }
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** Answers a small page; resolves once it is written out (so closing the listener cannot cut it). */
function answerPage(res: ServerResponse, status: number, title: string, text: string): Promise<void> {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head><body style="font-family:system-ui,sans-serif;margin:3rem auto;max-width:36rem"><h1>${esc(title)}</h1><p id="message">${esc(text)}</p></body></html>`;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': "default-src 'none'",
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
    connection: 'close',
  });
  return new Promise((resolve) => {
    res.once('close', resolve);
    res.end(html);
  });
}

/** Signs the CLI in through the browser; answers the token (the caller saves it). */
export async function ssoLogin(base: CliState, opts: SsoLoginOptions): Promise<SsoLoginResult> {
  // The first request pins the server's certificate (trust on first use, as the password
  // login does); every later one, the code exchange included, is held to that pin.
  const first = await call(base, 'GET', pathOf(api.oidc.providers, {}));
  if (first.status !== 200) throw apiError(first);
  const state: CliState = { ...base, ...(base.caFile ? {} : { fingerprint256: base.fingerprint256 ?? first.fingerprint256 }) };
  const providers = (parseJson(first) as Ok<typeof api.oidc.providers>).oidc;
  const provider = providers.find((p) => p.name === opts.provider);
  if (!provider) {
    const known = providers.length ? `; this server offers: ${providers.map((p) => p.name).join(', ')}` : '; this server has no single sign-on provider enabled';
    throw new ApiError(404, 'unknown_provider', `no sign-in provider named "${opts.provider}" on ${state.url}${known}`);
  }

  const { verifier, challenge } = pkcePair();
  let settle: (r: { ok: SsoLoginResult } | { err: Error }) => void = () => undefined;
  const outcome = new Promise<{ ok: SsoLoginResult } | { err: Error }>((resolve) => (settle = resolve));
  let busy = false;
  const listener = createServer((req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const code = u.searchParams.get('code');
    if (req.method !== 'GET' || u.pathname !== '/callback') return void answerPage(res, 404, 'Not found', 'This address only takes the Gatehouse sign-in.');
    if (!code) return void answerPage(res, 400, 'No sign-in code', 'This address expects the redirect from Gatehouse after the sign-in.');
    if (busy) return void answerPage(res, 409, 'Already signing in', 'A sign-in is already being completed; see the command line.');
    busy = true;
    callApi(state, api.oidc.cliToken, { body: { code, verifier } }).then(
      async (token) => {
        await answerPage(res, 200, 'Gatehouse CLI signed in', `The command line is signed in as ${token.username}. You can close this window.`);
        settle({ ok: { state, token } });
      },
      async (e: Error) => {
        await answerPage(res, 400, 'Gatehouse CLI sign-in failed', `${e.message}.`);
        settle({ err: e });
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(0, '127.0.0.1', () => resolve());
  });
  const redirect = `http://127.0.0.1:${(listener.address() as AddressInfo).port}/callback`;
  const url = ssoStartUrl(state.url, provider.startUrl, redirect, challenge);

  const opened = opts.openBrowser && tryOpenBrowser(url);
  opts.say(`Sign in with ${provider.displayName} in your browser${opened ? ' (opening it now)' : ''}. If it does not open, open this URL:`);
  opts.say(`  ${url}`);
  opts.say(`Waiting up to ${opts.timeoutSeconds} s for the sign-in to come back to ${redirect} …`);

  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ err: Error }>((resolve) => {
    timer = setTimeout(
      () => resolve({ err: new ApiError(408, 'timeout', `no sign-in came back within ${opts.timeoutSeconds} s (the browser did not reach ${redirect}); finish the sign-in in the browser sooner, or run the login again (--timeout <seconds>)`) }),
      opts.timeoutSeconds * 1000,
    );
  });
  try {
    const r = await Promise.race([outcome, timeout]);
    if ('err' in r) throw r.err;
    return r.ok;
  } finally {
    clearTimeout(timer);
    listener.close();
    listener.closeAllConnections();
  }
}
