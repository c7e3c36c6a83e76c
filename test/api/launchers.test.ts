// Launchers and launch tickets at the API level, on both databases.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';

for (const kind of DB_KINDS) {
  describe(`launchers and launch on ${kind}`, () => {
    let t: TestApp;
    let secretId: string;
    before(async () => {
      t = await startTestApp(kind);
      // Session connector launchers exist only while the setting "Session Connector" is on.
      assert.equal((await t.req('PATCH', '/api/v1/settings', { token: t.adminToken, body: { sessionConnector: true } })).statusCode, 200);
      const r = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name: 'box', template: 'unix-account', fields: { machine: '127.0.0.1', username: 'u', password: 'Launcher-Test-Pw-1' } } });
      secretId = r.json().id;
    });
    after(async () => t?.close());

    it('has built-in ssh, telnet and rdp launchers with their policy fields', async () => {
      const r = await t.req('GET', '/api/v1/launchers', { token: t.adminToken });
      assert.equal(r.statusCode, 200);
      const ids = r.json().items.map((l: any) => l.id);
      assert.deepEqual(ids.slice().sort(), ['rdp', 'ssh', 'telnet']);
      const ssh = r.json().items.find((l: any) => l.id === 'ssh');
      for (const k of ['record', 'recordKeystrokes', 'idleTimeoutSeconds', 'maxDurationSeconds', 'allowPortForwarding']) assert.ok(k in ssh, k);
      assert.equal(ssh.allowPortForwarding, false);
    });

    it('creates a session connector launcher mapped to a template; launches hand out its gateway address', async () => {
      const c = await t.req('POST', '/api/v1/launchers', {
        token: t.adminToken,
        body: { name: 'Cluster SSH', type: 'session-connector', childType: 'ssh', gatewayHost: 'gw.cluster.example', gatewayPort: 2022, recordKeystrokes: true, idleTimeoutSeconds: 600 },
      });
      assert.equal(c.statusCode, 201, c.body);
      const launcher = c.json();
      assert.equal(launcher.protocol, 'ssh');
      // Not mapped yet: refused with a clear message.
      const refused = await t.req('POST', `/api/v1/secrets/${secretId}/launch`, { token: t.adminToken, body: { launcher: 'Cluster SSH' } });
      assert.equal(refused.statusCode, 400);
      assert.equal(refused.json().error.code, 'launcher_not_mapped');
      const m = await t.req('PATCH', '/api/v1/templates/unix-account', { token: t.adminToken, body: { launchers: ['ssh', 'telnet', launcher.id] } });
      assert.equal(m.statusCode, 200, m.body);
      const l = await t.req('POST', `/api/v1/secrets/${secretId}/launch`, { token: t.adminToken, body: { launcher: 'Cluster SSH' } });
      assert.equal(l.statusCode, 200, l.body);
      assert.equal(l.json().ssh.host, 'gw.cluster.example');
      assert.equal(l.json().ssh.port, 2022);
      assert.match(l.json().ssh.command, /^ssh -p 2022 [A-Za-z0-9_][A-Za-z0-9_-]{31}@gw\.cluster\.example$/);
      assert.ok(!l.body.includes('Launcher-Test-Pw-1'));
    });

    it('validates session connector launchers', async () => {
      const noChild = await t.req('POST', '/api/v1/launchers', { token: t.adminToken, body: { name: 'x1', type: 'session-connector', childType: null, gatewayHost: 'h' } });
      assert.equal(noChild.statusCode, 400);
      const badHost = await t.req('POST', '/api/v1/launchers', { token: t.adminToken, body: { name: 'x2', type: 'session-connector', childType: 'ssh', gatewayHost: 'bad host name!' } });
      assert.equal(badHost.statusCode, 400);
      const badRegex = await t.req('POST', '/api/v1/launchers', { token: t.adminToken, body: { name: 'x3', type: 'session-connector', childType: 'telnet', gatewayHost: 'h', options: { telnetLoginPrompt: '([' } } });
      assert.equal(badRegex.statusCode, 400);
      const builtinDelete = await t.req('DELETE', '/api/v1/launchers/ssh', { token: t.adminToken });
      assert.equal(builtinDelete.statusCode, 403);
    });

    it('keeps the RDP redirection policy in the launcher options; the .rdp file follows it', async () => {
      const rdpSecret = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name: 'win', template: 'windows-account', fields: { machine: '127.0.0.1', username: 'u', password: 'Launcher-Test-Pw-2' } } });
      assert.equal(rdpSecret.statusCode, 201, rdpSecret.body);
      const fileLines = async () => {
        const l = await t.req('POST', `/api/v1/secrets/${rdpSecret.json().id}/launch`, { token: t.adminToken, body: { launcher: 'rdp' } });
        assert.equal(l.statusCode, 200, l.body);
        const f = await t.req('GET', l.json().rdpFile, { token: t.adminToken });
        assert.equal(f.statusCode, 200, f.body);
        const lines = f.body.split('\r\n');
        return ['redirectclipboard', 'drivestoredirect', 'redirectprinters'].map((k) => lines.find((x: string) => x.startsWith(`${k}:`)));
      };
      // The built-in rdp launcher has no options: everything allowed.
      const builtin = await t.req('GET', '/api/v1/launchers/rdp', { token: t.adminToken });
      assert.deepEqual(builtin.json().options, {});
      assert.deepEqual(await fileLines(), ['redirectclipboard:i:1', 'drivestoredirect:s:*', 'redirectprinters:i:1']);

      const p = await t.req('PATCH', '/api/v1/launchers/rdp', { token: t.adminToken, body: { options: { rdpClipboard: false, rdpDrives: false, rdpPrinters: true } } });
      assert.equal(p.statusCode, 200, p.body);
      assert.deepEqual(p.json().options, { rdpClipboard: false, rdpDrives: false, rdpPrinters: true });
      assert.deepEqual((await t.req('GET', '/api/v1/launchers/rdp', { token: t.adminToken })).json().options, { rdpClipboard: false, rdpDrives: false, rdpPrinters: true });
      assert.deepEqual(await fileLines(), ['redirectclipboard:i:0', 'drivestoredirect:s:', 'redirectprinters:i:1']);

      await t.req('PATCH', '/api/v1/launchers/rdp', { token: t.adminToken, body: { options: { rdpPrinters: false } } });
      assert.deepEqual(await fileLines(), ['redirectclipboard:i:1', 'drivestoredirect:s:*', 'redirectprinters:i:0']);

      // A session connector launcher carries its own policy.
      const c = await t.req('POST', '/api/v1/launchers', { token: t.adminToken, body: { name: 'Cluster RDP', type: 'session-connector', childType: 'rdp', gatewayHost: 'rdp.cluster.example', options: { rdpClipboard: false } } });
      assert.equal(c.statusCode, 201, c.body);
      assert.equal(c.json().options.rdpClipboard, false);

      // Not booleans: refused by the schema, nothing stored.
      for (const bad of [{ rdpClipboard: 'no' }, { rdpDrives: 0 }, { rdpPrinters: null }]) {
        const r = await t.req('PATCH', '/api/v1/launchers/rdp', { token: t.adminToken, body: { options: bad } });
        assert.equal(r.statusCode, 400, JSON.stringify(bad));
      }
      // …and by the service for callers that skip the HTTP schema.
      await assert.rejects(t.core.launchers.update({ id: null, name: 'test' }, 'rdp', { options: { rdpDrives: 'no' as unknown as boolean } }), /rdpDrives/);
      await t.req('PATCH', '/api/v1/launchers/rdp', { token: t.adminToken, body: { options: {} } });
      assert.deepEqual(await fileLines(), ['redirectclipboard:i:1', 'drivestoredirect:s:*', 'redirectprinters:i:1']);
    });

    it('issues tickets with 128+ random bits, stored only as a hash, living sessionTimeout seconds (0 or below = 900)', async () => {
      const tickets: string[] = [];
      /** Launches and checks expiresAt = the moment of issue + ttl seconds (issued between the clock readings around the request). */
      const launchLiving = async (ttl: number, what: string) => {
        const before = Date.now();
        const l = await t.req('POST', `/api/v1/secrets/${secretId}/launch`, { token: t.adminToken, body: { launcher: 'ssh' } });
        const after = Date.now();
        assert.equal(l.statusCode, 200);
        const expires = Date.parse(l.json().expiresAt);
        assert.ok(expires >= before + ttl * 1000 && expires <= after + ttl * 1000, `${what}: expires ${expires - before} ms after the request began (${after - before} ms long)`);
        return l;
      };
      for (let i = 0; i < 5; i++) tickets.push((await launchLiving(900, 'default')).json().ticket);
      assert.equal(new Set(tickets).size, 5);
      for (const tk of tickets) assert.ok(Buffer.from(tk, 'base64url').length * 8 >= 128);
      const rows = await t.core.store.db.selectFrom('tickets').selectAll().execute();
      const dump = JSON.stringify(rows);
      for (const tk of tickets) assert.ok(!dump.includes(tk), 'ticket stored in plaintext');
      for (const v of [0, -5]) {
        assert.equal((await t.req('PATCH', '/api/v1/settings', { token: t.adminToken, body: { sessionTimeout: v } })).statusCode, 200);
        await launchLiving(900, `sessionTimeout ${v}`);
      }
      await t.req('PATCH', '/api/v1/settings', { token: t.adminToken, body: { sessionTimeout: 60 } });
      await launchLiving(60, 'sessionTimeout 60');
      await t.req('PATCH', '/api/v1/settings', { token: t.adminToken, body: { sessionTimeout: 900 } });
    });

    it('needs the launch permission and view access; audits the launch', async () => {
      const auditor = await t.user(`aud-${kind}`, ['Auditor']);
      const denied = await t.req('POST', `/api/v1/secrets/${secretId}/launch`, { token: auditor.token, body: { launcher: 'ssh' } });
      assert.equal(denied.statusCode, 403);
      const bob = await t.user(`bob-${kind}`, ['User']);
      const hidden = await t.req('POST', `/api/v1/secrets/${secretId}/launch`, { token: bob.token, body: { launcher: 'ssh' } });
      assert.equal(hidden.statusCode, 404);
      await t.req('PUT', `/api/v1/secrets/${secretId}/permissions`, { token: t.adminToken, body: { entries: [{ principalType: 'user', principal: bob.id, level: 'list' }] } });
      const listOnly = await t.req('POST', `/api/v1/secrets/${secretId}/launch`, { token: bob.token, body: { launcher: 'ssh' } });
      assert.equal(listOnly.statusCode, 403);
      await t.req('PUT', `/api/v1/secrets/${secretId}/permissions`, { token: t.adminToken, body: { entries: [{ principalType: 'user', principal: bob.id, level: 'view' }] } });
      const ok = await t.req('POST', `/api/v1/secrets/${secretId}/launch`, { token: bob.token, body: { launcher: 'ssh' } });
      assert.equal(ok.statusCode, 200, ok.body);
      const a = await t.req('GET', '/api/v1/audit?action=secret.launch', { token: t.adminToken });
      assert.ok(a.json().items.some((e: any) => e.actorId === bob.id && e.targetId === secretId));
    });

    it('a launcher with record off starts sessions without a recording; with record on the cast is sealed', async () => {
      for (const record of [false, true]) {
        assert.equal((await t.req('PATCH', '/api/v1/launchers/ssh', { token: t.adminToken, body: { record } })).statusCode, 200);
        const l = await t.req('POST', `/api/v1/secrets/${secretId}/launch`, { token: t.adminToken, body: { launcher: 'ssh' } });
        const h = await t.core.launching.redeem(l.json().ticket, { clientIp: '127.0.0.1', door: 'ssh' });
        h.begin({ cols: 80, rows: 24, term: 'xterm' });
        h.output(Buffer.from('hello\r\n'));
        await h.end('test');
        const s = await t.req('GET', `/api/v1/sessions/${h.id}`, { token: t.adminToken });
        assert.equal(s.json().recording.available, record);
        assert.equal(s.json().status, 'ended');
        const rec = await t.req('GET', `/api/v1/recordings/${h.id}`, { token: t.adminToken });
        assert.equal(rec.statusCode, record ? 200 : 404);
        if (record) assert.match(s.json().recording.sha256, /^[0-9a-f]{64}$/);
      }
    });
  });
}
