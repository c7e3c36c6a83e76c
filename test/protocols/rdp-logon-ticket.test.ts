// A TSplus logon ticket (seed 004) through the real RDP door: an external portal encrypts the
// Windows credential with the public modulus:exponent (Node's crypto, RSA PKCS#1 v1.5), gets a
// logon ticket, and html5.html turns it into a launch ticket for the browser RDP page. That
// launch ticket, opened natively (xfreerdp under Xvfb, the .rdp file of the logon-ticket
// account), logs on to xrdp with the logon ticket's credential: the secret's own account holds
// a wrong password, so the desktop only appears if the injected credential is the portal's.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureTargetAccount } from '../support/accounts.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { encryptCredentials } from '../support/logon-tickets.js';
import { ok } from '../support/ssh-client.js';
import { wireLeaks } from '../support/scan.js';
import { runXfreerdp, startXrdp, startXvfb, waitFor, type XDisplay, type Xrdp } from '../support/xrdp.js';

describe('a logon ticket opens an RDP session with the injected Windows credential (sqlite)', { timeout: 240_000 }, () => {
  let gw: Gateway;
  let xrdp: Xrdp;
  let client: XDisplay;
  let work: string;
  let secretId = '';
  let svcToken = '';
  const account = ensureTargetAccount();
  const raw = async (url: string) => {
    const r = await gw.running.app.inject({ method: 'GET', url, remoteAddress: '127.0.0.1' });
    return { status: r.statusCode, body: r.body, headers: r.headers };
  };

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'gatehouse-rdp-logon-'));
    [gw, xrdp, client] = await Promise.all([startGateway('sqlite'), startXrdp(), startXvfb()]);
    await ok(gw, 'PATCH', '/api/v1/launchers/rdp', { gatewayPort: gw.rdpPort });
    await ok(gw, 'POST', '/api/v1/users', { username: 'portal-svc', password: 'Portal-Svc-Pw-1', roles: ['User'] }, 201);
    svcToken = await gw.userToken('portal-svc', 'Portal-Svc-Pw-1');
    // The secret names the target; its own account would fail (wrong password).
    secretId = (await ok(gw, 'POST', '/api/v1/secrets', { name: 'xrdp-app1', template: 'windows-account', fields: { machine: '127.0.0.1', port: xrdp.port, username: account.username, password: 'Not-The-Right-Pw-1' } }, 201)).id;
    await ok(gw, 'PUT', `/api/v1/secrets/${secretId}/permissions`, { entries: [{ principalType: 'user', principal: 'portal-svc', level: 'view' }] });
    await ok(gw, 'PATCH', '/api/v1/settings', { logonTicketUser: 'portal-svc', logonTicketServers: [`app1|${secretId}|rdp`] });
  });
  after(async () => {
    await client?.stop();
    await xrdp?.stop();
    await gw?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('modulus:exponent → encrypted credential → logon ticket → html5.html → launch ticket → xrdp desktop as the portal\'s user', async () => {
    const key = await raw('/socket.io/WCREDS?GetRuntimePublicModulusExponent');
    assert.equal(key.status, 200, key.body);
    const blob = encryptCredentials(key.body, `WinUser=${account.username}&WinPassword=${account.password}`);
    const lpw = await raw(`/socket.io/socket.io/LPW?rsabase64nojs=${encodeURIComponent(blob)}`);
    assert.equal(lpw.status, 200, lpw.body);
    const page = await raw(`/software/html5.html?user=${encodeURIComponent(lpw.body)}`);
    assert.equal(page.status, 303, page.body);
    const to = new URL(String(page.headers.location), 'https://gatehouse');
    assert.equal(to.pathname, '/rdp/session');
    const ticket = to.searchParams.get('ticket')!;

    // The same launch ticket opened natively: the logon-ticket account's .rdp file.
    const f = await gw.api('GET', `/api/v1/launch/rdp-file?ticket=${encodeURIComponent(ticket)}`, { token: svcToken });
    assert.equal(f.status, 200, f.raw);
    const file = join(work, 'logon.rdp');
    writeFileSync(file, f.raw);
    const xf = runXfreerdp(file, client);
    try {
      await waitFor(`xrdp login as ${account.username}`, () => new RegExp(`login successful for user ${account.username}`).test(xrdp.xrdpLog()) || (xf.proc.exitCode !== null ? Promise.reject(new Error(`xfreerdp exited ${xf.proc.exitCode}:\n${xf.output().slice(-3000)}\n${gw.logs().slice(-3000)}`)) : false), 60_000);
      const live = await waitFor('a live session', async () => ((await gw.api('GET', `/api/v1/sessions?secretId=${secretId}`, { token: gw.adminToken })).body.items as any[]).find((s) => s.status === 'live'), 15_000);
      assert.equal(live.user.username, 'portal-svc', 'the session runs as the logon-ticket account');
      assert.equal(live.target.username, account.username);
      const text = await gw.api('GET', `/api/v1/recordings/${live.id}/text`, { token: gw.adminToken });
      assert.ok(text.raw.includes('rdp_logon_injected'), text.raw);
    } finally {
      await xf.stop();
    }
    assert.deepEqual(wireLeaks([{ name: 'gateway log', data: Buffer.from(gw.logs()) }, { name: 'answers', data: Buffer.from(key.body + lpw.body + JSON.stringify(page.headers) + page.body) }], { password: account.password }), []);
    const audit = (await gw.api('GET', '/api/v1/audit?action=logon_ticket.*&limit=50', { token: gw.adminToken })).body.items.map((e: any) => e.action);
    assert.ok(audit.includes('logon_ticket.issued') && audit.includes('logon_ticket.used'), audit.join(','));
  });
});
