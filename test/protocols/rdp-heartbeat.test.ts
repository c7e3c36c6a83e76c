// The RDP heartbeat (issue 12, point 3: "RDP via an NLA authentication only") against real
// targets on loopback: FreeRDP's shadow server with NLA (test/support/xrdp.ts, its SAM file
// from winpr-hash) accepts the stored password ('ok') and refuses another (drift, "the stored
// password no longer works", in the API and the audit trail); a closed port is unreachable;
// xrdp, which offers no NLA, is never 'ok'. A Windows secret cannot be rotated (a clear 400,
// the old password stays). No password in the log, the API answers or the audit trail.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type Gateway } from '../support/gateway.js';
import { freePort } from '../support/sshd.js';
import { startShadowServer, startXrdp, type ShadowServer, type Xrdp } from '../support/xrdp.js';

const ACCOUNT = { username: 'ghhbshadow', password: 'Hb-Shadow-Vault-Pw!3k' };
const WRONG = 'Hb-Not-The-Password-9z';

describe('RDP heartbeat through an NLA logon (FreeRDP shadow server, xrdp)', () => {
  let shadow: ShadowServer;
  let xrdp: Xrdp;
  let gw: Gateway;
  const answers: string[] = [];
  const api = async (method: string, url: string, body?: unknown) => {
    const r = await gw.api(method, url, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });
    if (!/\/reveal$/.test(url)) answers.push(r.raw);
    return r;
  };
  const secret = async (name: string, port: number, password: string, template = 'windows-account', extra: Record<string, unknown> = {}) => {
    const r = await api('POST', '/api/v1/secrets', { name, template, fields: { machine: '127.0.0.1', port, username: ACCOUNT.username, password, ...extra } });
    assert.equal(r.status, 201, r.raw);
    return r.body.id as string;
  };
  const heartbeat = async (id: string) => {
    const r = await api('POST', `/api/v1/secrets/${id}/heartbeat`);
    assert.equal(r.status, 200, r.raw);
    return r.body as { status: string; message: string | null };
  };

  before(async () => {
    shadow = await startShadowServer(ACCOUNT);
    xrdp = await startXrdp();
    gw = await startGateway('sqlite');
  });

  after(async () => {
    await gw?.running.core.rotation.settled();
    await gw?.close();
    await shadow?.stop();
    await xrdp?.stop();
  });

  it('the stored password passes the NLA logon: ok, and a Windows secret is a managed target of kind windows', async () => {
    const id = await secret('rdp hb ok', shadow.port, ACCOUNT.password);
    const s = await api('GET', `/api/v1/secrets/${id}`);
    assert.equal(s.body.account.targetKind, 'windows');
    assert.equal((await heartbeat(id)).status, 'ok');
    assert.equal((await api('GET', `/api/v1/secrets/${id}`)).body.account.lastHeartbeat.status, 'ok');
  });

  it('a password the target refuses is drift, in the API and the audit trail', async () => {
    const id = await secret('rdp hb drift', shadow.port, WRONG);
    const hb = await heartbeat(id);
    assert.equal(hb.status, 'drift');
    assert.equal(hb.message, 'the stored password no longer works');
    assert.equal((await api('GET', `/api/v1/secrets/${id}`)).body.account.lastHeartbeat.status, 'drift');
    const audit = await api('GET', '/api/v1/audit?action=secret.heartbeat&limit=50');
    assert.equal(audit.status, 200, audit.raw);
    assert.ok(
      audit.body.items.some((e: { targetId: string; outcome: string; details: { status?: string; targetKind?: string } }) => e.targetId === id && e.outcome === 'failure' && e.details.status === 'drift' && e.details.targetKind === 'windows'),
      'a secret.heartbeat drift event',
    );
  });

  it('an Active Directory account is not managed unless asked; a domain account of kind windows logs on with its domain', async () => {
    const ad = await api('POST', '/api/v1/secrets', { name: 'rdp hb ad', template: 'active-directory-account', fields: { domain: 'GHTEST', username: ACCOUNT.username, password: ACCOUNT.password, machine: '127.0.0.1' } });
    assert.equal(ad.status, 201, ad.raw);
    assert.equal(ad.body.account.targetKind, null);
    const before = await api('POST', `/api/v1/secrets/${ad.body.id}/heartbeat`);
    assert.equal(before.status, 409, before.raw);
    assert.equal(before.body.error.code, 'not_managed');
    assert.equal((await api('PATCH', `/api/v1/secrets/${ad.body.id}`, { account: { targetKind: 'windows' } })).body.account.targetKind, 'windows');
    // The built-in template has no port field (3389 then), so the logon with a domain goes to the shadow server through a template that has one.
    const t = await api('POST', '/api/v1/templates', {
      name: 'domain account on a machine',
      targetKind: 'windows',
      machineField: 'machine',
      domainField: 'domain',
      usernameField: 'username',
      fields: [
        { name: 'machine', label: 'Machine', type: 'text' },
        { name: 'port', label: 'Port', type: 'number' },
        { name: 'domain', label: 'Domain', type: 'text' },
        { name: 'username', label: 'Username', type: 'text' },
        { name: 'password', label: 'Password', type: 'password', secret: true },
      ],
    });
    assert.equal(t.status, 201, t.raw);
    const id = await secret('rdp hb domain', shadow.port, ACCOUNT.password, t.body.id, { domain: 'GHTEST' });
    const hb = await heartbeat(id);
    // GHTEST\user with the right password: the shadow server's SAM line names no domain, which WinPR accepts in any domain.
    assert.equal(hb.status, 'ok', hb.message ?? '');
  });

  it('a closed port is unreachable, not drift', async () => {
    const id = await secret('rdp hb closed', await freePort(), ACCOUNT.password);
    const hb = await heartbeat(id);
    assert.equal(hb.status, 'unreachable');
    assert.match(hb.message ?? '', /connect/);
  });

  it('xrdp offers no NLA: never ok, and says so', async () => {
    const id = await secret('rdp hb xrdp', xrdp.port, ACCOUNT.password);
    const hb = await heartbeat(id);
    assert.equal(hb.status, 'unreachable');
    assert.match(hb.message ?? '', /does not offer NLA/);
  });

  it('rotation of a Windows secret is refused clearly and the old password stays', async () => {
    const id = await secret('rdp rotate', shadow.port, ACCOUNT.password);
    const r = await api('POST', `/api/v1/secrets/${id}/rotate`);
    assert.equal(r.status, 400, r.raw);
    assert.equal(r.body.error.code, 'rotation_failed');
    assert.match(r.body.error.message, /heartbeat only/);
    assert.equal((await gw.api('POST', `/api/v1/secrets/${id}/reveal`, { token: gw.adminToken })).body.fields.password, ACCOUNT.password);
    assert.equal((await heartbeat(id)).status, 'ok', 'the target was not touched');
    // Rotation after use and JIT would fail at every use: refused when turned on.
    for (const account of [{ rotateAfterUse: true }, { jit: { enabled: true } }, { targetKind: 'linux', rotateAfterUse: true }]) {
      const r = await api('PATCH', `/api/v1/secrets/${id}`, { account });
      if ('targetKind' in account) assert.equal(r.status, 200, r.raw);
      else {
        assert.equal(r.status, 400, r.raw);
        assert.equal(r.body.error.code, 'heartbeat_only');
      }
    }
    // Back to windows with rotation after use on: refused as well.
    const back = await api('PATCH', `/api/v1/secrets/${id}`, { account: { targetKind: null } });
    assert.equal(back.status, 400, back.raw);
    assert.equal(back.body.error.code, 'heartbeat_only');
  });

  it('no password in the log, the API answers (reveals aside) or the audit trail', async () => {
    const audit = (await gw.api('GET', '/api/v1/audit?limit=1000', { token: gw.adminToken })).raw;
    const hay = [gw.logs(), audit, ...answers].join('\n');
    for (const p of [ACCOUNT.password, WRONG]) assert.ok(!hay.includes(p), `a password leaked (${p.slice(0, 3)}…)`);
  });
});
