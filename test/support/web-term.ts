// A signed-in browser as the API and WebSocket tests play it (cookie + CSRF), and a terminal
// WebSocket client (the browser terminal's frames) that collects output and messages.
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import type { Gateway } from './gateway.js';

export interface Browser {
  cookie: string;
  csrf: string;
}

export async function signIn(gw: Gateway, username: string, password: string): Promise<Browser> {
  const r = await gw.running.app.inject({ method: 'POST', url: '/api/v1/auth/session', payload: { username, password } });
  assert.equal(r.statusCode, 200, r.body);
  const cookies = r.cookies as { name: string; value: string; httpOnly?: boolean; secure?: boolean; sameSite?: string }[];
  const session = cookies.find((c) => c.name === '__Host-gh_session')!;
  assert.equal(session.httpOnly, true);
  assert.equal(session.secure, true);
  assert.equal(session.sameSite, 'Strict');
  return { cookie: cookies.map((c) => `${c.name}=${c.value}`).join('; '), csrf: r.json().csrfToken };
}

export async function call(gw: Gateway, b: Browser, method: string, url: string, payload?: unknown, csrf = true) {
  const r = await gw.running.app.inject({ method: method as 'GET', url, headers: { cookie: b.cookie, ...(csrf ? { 'x-csrf-token': b.csrf } : {}) }, ...(payload !== undefined ? { payload: payload as object } : {}) });
  return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : undefined };
}

export interface Term {
  ws: WebSocket;
  output: () => string;
  messages: Record<string, unknown>[];
  waitFor(pred: () => boolean, ms?: number): Promise<void>;
  closed: Promise<void>;
}

export function openTerm(gw: Gateway, b: Browser, query: string, origin?: string, path = '/api/v1/terminal'): Term {
  const url = `${gw.running.url.replace('https', 'wss')}${path}${query ? `?${query}` : ''}`;
  const ws = new WebSocket(url, { rejectUnauthorized: false, headers: { cookie: b.cookie, ...(origin ? { origin } : {}) } });
  let out = '';
  const messages: Record<string, unknown>[] = [];
  ws.on('message', (data, isBinary) => {
    if (isBinary) out += data.toString();
    else messages.push(JSON.parse(data.toString()));
  });
  const closed = new Promise<void>((r) => ws.on('close', () => r()));
  const waitFor = async (pred: () => boolean, ms = 15_000) => {
    const until = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > until) throw new Error(`timed out; output so far: ${JSON.stringify(out.slice(-500))} messages ${JSON.stringify(messages)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { ws, output: () => out, messages, waitFor, closed };
}
