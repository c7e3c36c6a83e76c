// The OpenPSM start pages (seed 003) the gateway serves outside the React app, since the IAM
// sends people straight to /start: the refusal page (the seed's message and "Close"), and
// the page that asks for the master password, reacts to the IAM's answer (enter it again;
// token expired → the tab closes; other errors → an error page with "Close") and then shows
// the browser terminal, or for Mode RDP sends the tab on to the browser RDP page. No inline script (the CSP allows only this origin's files).

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export const PAGE_HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  // The /start URL carries the ApiKey: it must not leave in a Referer.
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
} as const;

const STYLE = `body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}#out{background:#111;color:#ddd;padding:.5rem;min-height:20rem;max-height:40rem;overflow:auto;white-space:pre-wrap}
.err{color:#a00}button{margin-top:.5rem}[hidden]{display:none!important}`;

/** The refusal page: one of the seed's messages and a Close button. */
export function errorPage(message: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Gatehouse: connection refused</title><style>${STYLE}</style><script src="/start/page.js" defer></script></head>
<body><h1>Gatehouse</h1><p id="error" class="err">${esc(message)}</p><button id="close" type="button">Close</button></body></html>`;
}

/** The page a valid /start lands on (by its start id). */
export function startPage(): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Gatehouse: connect</title><style>${STYLE}</style><script src="/start/page.js" defer></script></head>
<body><h1>Gatehouse</h1>
<p id="status">Loading…</p>
<form id="unlock" hidden><label>Master password <input id="master" type="password" autocomplete="current-password" required></label> <button id="unlock-submit" type="submit">Connect</button><p id="unlock-error" class="err" role="alert"></p></form>
<div id="failed" hidden><p id="error" class="err"></p><button id="close" type="button">Close</button></div>
<div id="session" hidden><pre id="out" aria-label="terminal"></pre><form id="input"><input id="cmd" autocomplete="off" size="60" aria-label="command"> <button type="submit">Send</button></form></div>
</body></html>`;
}

/** The script of both pages. */
export const PAGE_SCRIPT = `'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const close = () => { window.close(); };
  if ($('close')) $('close').addEventListener('click', close);
  const m = /^\\/start\\/([A-Za-z0-9_-]+)$/.exec(location.pathname);
  if (!m) return;
  const id = m[1];
  const api = '/api/v1/openpsm/starts/' + id;
  const show = (el) => { for (const k of ['unlock', 'failed', 'session']) $(k).hidden = k !== el; };
  const fail = (msg) => { $('status').textContent = ''; $('error').textContent = msg; show('failed'); };
  const ask = (msg) => { $('status').textContent = 'Enter your master password.'; $('unlock-error').textContent = msg || ''; $('master').value = ''; show('unlock'); $('master').focus(); };
  const strip = (s) => s.replace(/\\x1b\\[[0-9;?]*[ -\\/]*[@-~]/g, '').replace(/\\x1b\\][^\\x07]*\\x07/g, '').replace(/\\r/g, '');
  const connect = () => {
    $('status').textContent = 'Connecting…';
    show('session');
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + api + '/terminal?cols=120&rows=40');
    ws.binaryType = 'arraybuffer';
    const dec = new TextDecoder();
    ws.onmessage = (ev) => {
      if (typeof ev.data !== 'string') { $('out').textContent += strip(dec.decode(ev.data, { stream: true })); $('out').scrollTop = $('out').scrollHeight; return; }
      const f = JSON.parse(ev.data);
      if (f.type === 'ready') $('status').textContent = 'Connected.';
      else if (f.type === 'error') $('status').textContent = f.message;
      else if (f.type === 'end') $('status').textContent = 'Session ended: ' + f.reason;
    };
    ws.onclose = () => { if (!/^Session ended/.test($('status').textContent)) $('status').textContent = 'Session ended.'; };
    $('input').addEventListener('submit', (e) => { e.preventDefault(); ws.send(JSON.stringify({ type: 'input', data: $('cmd').value + '\\r' })); $('cmd').value = ''; });
  };
  $('unlock').addEventListener('submit', async (e) => {
    e.preventDefault();
    $('unlock-submit').disabled = true;
    try {
      const r = await fetch(api + '/password', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: $('master').value }) });
      $('master').value = '';
      if (r.ok) {
        const b = await r.json().catch(() => ({}));
        if (typeof b.rdpSession === 'string' && b.rdpSession.startsWith('/rdp/session?')) { $('status').textContent = 'Opening the remote desktop…'; show(''); return location.replace(b.rdpSession); }
        return connect();
      }
      const b = await r.json().catch(() => ({ error: { message: 'the gateway did not answer' } }));
      if (r.status === 401) return ask(b.error.message);
      if (r.status === 410) { fail(b.error.message); setTimeout(close, 3000); return; }
      fail(b.error.message);
    } finally { $('unlock-submit').disabled = false; }
  });
  fetch(api).then(async (r) => {
    const b = await r.json();
    if (!r.ok) return fail(b.error.message);
    if (b.state !== 'password') return fail('This connection was already used: start again from the portal.');
    if (b.delaySeconds > 0) { $('status').textContent = 'Preparing the account…'; setTimeout(() => ask(''), b.delaySeconds * 1000); }
    else ask('');
  }, () => fail('the gateway did not answer'));
})();
`;
