// The browser door: cookie sign-in with CSRF, consent, and a WebSocket terminal to a real sshd.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { call, openTerm, signIn, type Browser } from '../support/web-term.js';

describe('browser terminal door', () => {
  let sshd: Sshd;
  let gw: Gateway;
  let secretId: string;
  let alice: Browser;
  let bob: Browser;
  before(async () => {
    ensureTargetAccount();
    sshd = await startSshd();
    gw = await startGateway('sqlite');
    const s = await gw.api('POST', '/api/v1/secrets', { token: gw.adminToken, body: { name: 'web-target', template: 'unix-account', fields: { machine: '127.0.0.1', port: sshd.port, username: 'ghtarget', password: TARGET_PASSWORD } } });
    secretId = s.body.id;
    for (const u of ['alice', 'bob']) {
      const r = await gw.api('POST', '/api/v1/users', { token: gw.adminToken, body: { username: u, password: `${u}-password-123`, roles: ['User'] } });
      assert.equal(r.status, 201, r.raw);
      await gw.api('PUT', `/api/v1/secrets/${secretId}/permissions`, { token: gw.adminToken, body: { entries: [{ principalType: 'user', principal: 'alice', level: 'view' }, { principalType: 'user', principal: 'bob', level: 'view' }] } });
    }
    alice = await signIn(gw, 'alice', 'alice-password-123');
    bob = await signIn(gw, 'bob', 'bob-password-123');
  });
  after(async () => {
    await gw?.close();
    await sshd?.stop();
  });

  it('requires the CSRF header on cookie-authenticated changes', async () => {
    const without = await call(gw, alice, 'POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'ssh' }, false);
    assert.equal(without.status, 403);
    assert.equal(without.body.error.code, 'csrf_failed');
    const withIt = await call(gw, alice, 'POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'ssh' });
    assert.equal(withIt.status, 200);
    assert.equal(withIt.body.consent.required, true);
    assert.match(withIt.body.consent.text, /recorded/);
    assert.equal((await call(gw, alice, 'GET', '/api/v1/me')).status, 200);
  });

  it('runs a recorded shell over the WebSocket: output, input, resize, end reason', async () => {
    const l = await call(gw, alice, 'POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'ssh' });
    const t = openTerm(gw, alice, `ticket=${l.body.ticket}&consent=1&cols=100&rows=30`);
    await t.waitFor(() => t.messages.some((m) => m.type === 'ready'));
    const sessionId = t.messages.find((m) => m.type === 'ready')!.sessionId as string;
    t.ws.send(JSON.stringify({ type: 'input', data: 'stty size; echo web-$((20+22))\r' }));
    await t.waitFor(() => t.output().includes('web-42') && t.output().includes('30 100'));
    t.ws.send(JSON.stringify({ type: 'resize', cols: 120, rows: 40 }));
    await new Promise((r) => setTimeout(r, 200));
    t.ws.send(JSON.stringify({ type: 'input', data: 'stty size\r' }));
    await t.waitFor(() => t.output().includes('40 120'));
    t.ws.send(JSON.stringify({ type: 'input', data: 'exit\r' }));
    await t.waitFor(() => t.messages.some((m) => m.type === 'end'));
    await t.closed;
    assert.ok(!t.output().includes(TARGET_PASSWORD));
    // Recorded like native sessions, door "web".
    let s;
    for (let i = 0; i < 50; i++) {
      s = await gw.api('GET', `/api/v1/sessions/${sessionId}`, { token: gw.adminToken });
      if (s.body.status === 'ended') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(s!.body.door, 'web');
    const cast = await gw.running.app.inject({ method: 'GET', url: `/api/v1/recordings/${sessionId}`, headers: { authorization: `Bearer ${gw.adminToken}` } });
    assert.equal(cast.statusCode, 200);
    assert.match(cast.body, /web-42/);
    assert.match(cast.body, /"i","stty size; echo web/);
    assert.ok(!cast.body.includes(TARGET_PASSWORD));
  });

  it('refuses a recorded session without consent; declining voids the ticket and is audited', async () => {
    const l = await call(gw, alice, 'POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'ssh' });
    const t = openTerm(gw, alice, `ticket=${l.body.ticket}`);
    await t.closed;
    assert.ok(t.messages.some((m) => m.type === 'error' && /agree to the recording/.test(String(m.message))));
    const d = await call(gw, alice, 'POST', '/api/v1/tickets/decline', { ticket: l.body.ticket });
    assert.equal(d.status, 204);
    const again = openTerm(gw, alice, `ticket=${l.body.ticket}&consent=1`);
    await again.closed;
    assert.ok(again.messages.some((m) => m.type === 'error'));
    const audit = await gw.api('GET', '/api/v1/audit?action=session.consent_declined', { token: gw.adminToken });
    assert.equal(audit.body.total, 1);
  });

  it("refuses another user's ticket and cross-origin pages", async () => {
    const l = await call(gw, alice, 'POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'ssh' });
    const t = openTerm(gw, bob, `ticket=${l.body.ticket}&consent=1`);
    await t.closed;
    assert.ok(t.messages.some((m) => m.type === 'error'));
    assert.ok(!t.messages.some((m) => m.type === 'ready'));
    const x = openTerm(gw, alice, `ticket=${l.body.ticket}&consent=1`, 'https://evil.example');
    await x.closed;
    assert.ok(x.messages.some((m) => m.type === 'error' && /cross-origin/.test(String(m.message))));
    // The ticket survived both refusals: its owner can still use it.
    const ok = openTerm(gw, alice, `ticket=${l.body.ticket}&consent=1`);
    await ok.waitFor(() => ok.messages.some((m) => m.type === 'ready'));
    ok.ws.close();
    await ok.closed;
  });

  it('a target that refuses the vaulted password: the browser and the session record say so', async () => {
    const created = await gw.api('POST', '/api/v1/secrets', { token: gw.adminToken, body: { name: 'web-target-wrong', template: 'unix-account', fields: { machine: '127.0.0.1', port: sshd.port, username: 'ghtarget', password: 'Wrong-Web-Vault-Pw-3' } } });
    assert.equal(created.status, 201, created.raw);
    const wrongId = created.body.id;
    await gw.api('PUT', `/api/v1/secrets/${wrongId}/permissions`, { token: gw.adminToken, body: { entries: [{ principalType: 'user', principal: 'alice', level: 'view' }] } });
    const l = await call(gw, alice, 'POST', `/api/v1/secrets/${wrongId}/launch`, { launcher: 'ssh' });
    assert.equal(l.status, 200);
    const t = openTerm(gw, alice, `ticket=${l.body.ticket}&consent=1`);
    await t.waitFor(() => t.messages.some((m) => m.type === 'end'));
    await t.closed;
    assert.ok(t.messages.some((m) => m.type === 'error' && m.message === 'the target refused the vaulted credential'), JSON.stringify(t.messages));
    assert.equal(t.messages.find((m) => m.type === 'end')!.reason, 'target refused the vaulted credential');
    let s;
    for (let i = 0; i < 100; i++) {
      s = (await gw.api('GET', `/api/v1/sessions?secretId=${wrongId}`, { token: gw.adminToken })).body.items[0];
      if (s?.status === 'ended') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(s.endReason, 'target refused the vaulted credential');
  });

  it('shows the terminate reason in the browser', async () => {
    const l = await call(gw, alice, 'POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'ssh' });
    const t = openTerm(gw, alice, `ticket=${l.body.ticket}&consent=1`);
    await t.waitFor(() => t.messages.some((m) => m.type === 'ready'));
    const id = t.messages.find((m) => m.type === 'ready')!.sessionId as string;
    const r = await gw.api('POST', `/api/v1/sessions/${id}/terminate`, { token: gw.adminToken, body: { reason: 'browser test' } });
    assert.equal(r.status, 200);
    await t.waitFor(() => t.messages.some((m) => m.type === 'end'));
    assert.match(String(t.messages.find((m) => m.type === 'end')!.reason), /browser test/);
    await t.closed;
  });

  it('serves the browser app for page routes and JSON 404s for API routes', async () => {
    const page = await gw.running.app.inject({ method: 'GET', url: '/recordings/some-id' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
    // The app's scripts load without a session (the sign-in page needs them).
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(page.body)?.[1];
    assert.ok(asset, 'index.html names its script (is the UI built?)');
    const js = await gw.running.app.inject({ method: 'GET', url: asset });
    assert.equal(js.statusCode, 200);
    assert.match(String(js.headers['content-type']), /javascript/);
    assert.equal(js.headers['x-content-type-options'], 'nosniff');
    // The page under its file name too: the same CSP, never framed.
    const file = await gw.running.app.inject({ method: 'GET', url: '/index.html' });
    assert.equal(file.statusCode, 200);
    assert.match(String(file.headers['content-security-policy']), /frame-ancestors 'none'/);
    assert.equal(file.headers['content-security-policy'], page.headers['content-security-policy']);
    assert.equal(file.headers['x-content-type-options'], 'nosniff');
    const api = await gw.running.app.inject({ method: 'GET', url: '/api/v1/nope' });
    assert.equal(api.statusCode, 404);
    assert.equal(JSON.parse(api.body).error.code, 'not_found');
  });

  it('signs out: the cookie stops working', async () => {
    const b = await signIn(gw, 'bob', 'bob-password-123');
    assert.equal((await call(gw, b, 'DELETE', '/api/v1/auth/session')).status, 204);
    assert.equal((await call(gw, b, 'GET', '/api/v1/me')).status, 401);
  });
});
