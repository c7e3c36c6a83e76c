// TSplus-compatible logon tickets (seed 004) on both databases, over HTTP as an external portal
// calls them: the public key, a logon ticket for an RSA-encrypted (Node's crypto, PKCS#1 v1.5)
// Windows credential, html5.html redeeming it into a launch ticket for the browser RDP page
// whose redeem injects that credential (not the secret's); the farm queries in the seed's
// formats and /~~<server> routing; every hardening switch on and off; reuse, expiry, wrong
// phrase, wrong address, plain text when RSA-only; bad input. Every refusal is the same generic
// answer with the precise reason in the log and the audit trail, and no form of the password
// (ASCII, UTF-16LE, base64) is in any answer, the log or the database.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { SessionHandle } from '../../src/core/broker.js';
import { LOGON_TICKET_PATTERN } from '../../src/core/logon-tickets/protocol.js';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';
import { encryptCredentials } from '../support/logon-tickets.js';
import { pgDump, sqliteFiles, wireLeaks, type Blob } from '../support/scan.js';

const WIN_PW = 'Win-Logon-Pw-7q!';
const SHARED_PW = 'Shared-Vault-Pw-1';
const GENERIC = { error: { code: 'refused', message: 'the request was refused' } };

for (const kind of DB_KINDS) {
  describe(`TSplus logon tickets on ${kind}`, () => {
    let t: TestApp;
    let box1 = '';
    let box2 = '';
    const answers: Blob[] = [];
    const handles: SessionHandle[] = [];

    const get = async (url: string, ip = '127.0.0.1') => {
      const r = await t.app.inject({ method: 'GET', url, remoteAddress: ip });
      answers.push({ name: `${url.slice(0, 60)} → ${r.statusCode}`, data: Buffer.from(JSON.stringify(r.headers) + r.body) });
      return r;
    };
    const settings = async (body: Record<string, unknown>) => {
      const r = await t.req('PATCH', '/api/v1/settings', { token: t.adminToken, body });
      assert.equal(r.statusCode, 200, r.body);
    };
    const publicKey = async (via = '') => {
      const r = await get(`${via}/socket.io/WCREDS?GetRuntimePublicModulusExponent`);
      assert.equal(r.statusCode, 200, r.body);
      return r.body;
    };
    const lpw = async (text: string, opts: { via?: string; ip?: string } = {}) => get(`${opts.via ?? ''}/socket.io/socket.io/LPW?rsabase64nojs=${encodeURIComponent(encryptCredentials(await publicKey(opts.via), text))}`, opts.ip);
    const ticketFor = async (text = `WinUser=CORP\\winuser&WinPassword=${WIN_PW}`, opts: { via?: string; ip?: string } = {}) => {
      const r = await lpw(text, opts);
      assert.equal(r.statusCode, 200, r.body);
      assert.match(r.body, LOGON_TICKET_PATTERN);
      assert.match(String(r.headers['content-type']), /^text\/plain/);
      return r.body;
    };
    const html5 = (ticket: string, via = '', extra = '') => get(`${via}/software/html5.html?user=${encodeURIComponent(ticket)}${extra}`);
    /** The last refusal's reason, as the log and the audit trail have it. */
    const refusedFor = async (reason: string) => {
      const lines = t.logs().trim().split('\n').filter((l) => l.includes('LogonTicketRefused'));
      assert.match(lines.at(-1) ?? '', new RegExp(`LogonTicketRefused: ${reason}\\b`), 'the latest refusal in the log');
      const ev = await t.core.store.db.selectFrom('auditEvents').select(['details', 'outcome']).where('action', '=', 'logon_ticket.refused').orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow();
      assert.equal(JSON.parse(ev.details).reason, reason, 'the latest refusal in the audit trail');
      assert.equal(ev.outcome, 'failure');
    };
    const refused = async (r: { statusCode: number; body: string }, reason: string, page = false) => {
      assert.equal(r.statusCode, 403, r.body);
      if (page) assert.match(r.body, /This link cannot be opened/);
      else assert.deepEqual(JSON.parse(r.body), GENERIC);
      await refusedFor(reason);
    };
    const launchTicketOf = (r: { statusCode: number; headers: Record<string, unknown>; body: string }) => {
      assert.equal(r.statusCode, 303, r.body);
      const loc = new URL(String(r.headers.location), 'https://x');
      assert.equal(loc.pathname, '/rdp/session');
      return loc.searchParams.get('ticket')!;
    };
    const redeem = async (launchTicket: string) => {
      const h = await t.core.launching.redeem(launchTicket, { clientIp: '127.0.0.1', door: 'web' });
      handles.push(h);
      return h;
    };

    before(async () => {
      t = await startTestApp(kind);
      await t.user('portal-svc', ['user']);
      const secret = async (name: string, port: number) => {
        const r = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name, template: 'windows-account', fields: { machine: '127.0.0.1', port, username: 'shared-user', password: SHARED_PW } } });
        assert.equal(r.statusCode, 201, r.body);
        const id = r.json().id as string;
        const p = await t.req('PUT', `/api/v1/secrets/${id}/permissions`, { token: t.adminToken, body: { entries: [{ principalType: 'user', principal: 'portal-svc', level: 'view' }] } });
        assert.equal(p.statusCode, 200, p.body);
        return id;
      };
      box1 = await secret('lt-box1', 33891);
      box2 = await secret('lt-box2', 33892);
      // Every refusal gets its own audit event here (no aggregation), so each test can read its reason.
      await settings({ logonTicketUser: 'portal-svc', logonTicketServers: [`app1|${box1}|rdp`, 'app2|lt-box2|Remote Desktop|alice;CORP\\winuser'], publicUrl: 'https://gw.gw.com', loginAuditThreshold: 0 });
    });
    after(async () => {
      for (const h of handles) await h.end('test over').catch(() => undefined);
      await t?.close();
    });

    it('modulus:exponent → RSA logon ticket → html5.html → launch ticket whose redeem injects the Windows credential; single use, wiped', async () => {
      const key = await publicKey();
      assert.match(key, /^[0-9a-f]{512}:10001$/);
      const ticket = await ticketFor();
      const row = await t.core.store.db.selectFrom('logonTickets').selectAll().where('winUser', '=', 'CORP\\winuser').orderBy('createdAt', 'desc').executeTakeFirstOrThrow();
      assert.ok(row.credentialSealed && row.dataKeyId, 'held sealed until used');
      assert.equal(row.server, 'app1');

      // A link checker's HEAD does not use it up.
      const head = await t.app.inject({ method: 'HEAD', url: `/software/html5.html?user=${encodeURIComponent(ticket)}`, remoteAddress: '127.0.0.1' });
      assert.notEqual(head.statusCode, 303);
      assert.equal((await t.core.store.db.selectFrom('logonTickets').select('usedAt').where('id', '=', row.id).executeTakeFirstOrThrow()).usedAt, null);
      const r = await html5(ticket);
      assert.equal(r.headers['referrer-policy'], 'no-referrer');
      assert.equal(r.headers['cache-control'], 'no-store');
      const launch = launchTicketOf(r);
      const after1 = await t.core.store.db.selectFrom('logonTickets').selectAll().where('id', '=', row.id).executeTakeFirstOrThrow();
      assert.ok(after1.usedAt);
      assert.equal(after1.credentialSealed, null, 'wiped on use');
      assert.equal(after1.dataKeyId, null);
      assert.equal((await t.core.store.db.selectFrom('dataKeys').select('id').where('id', '=', row.dataKeyId!).execute()).length, 0, 'its data key is gone');
      assert.ok(after1.launchTicketId);
      const lt = await t.core.store.db.selectFrom('tickets').selectAll().where('id', '=', after1.launchTicketId!).executeTakeFirstOrThrow();
      assert.equal(lt.secretId, box1);
      assert.equal(lt.launcherId, 'rdp');
      assert.equal(lt.clientIp, '127.0.0.1', 'bound to the browser that opened html5.html');
      assert.equal((await t.core.store.db.selectFrom('launchCredentials').select('ticketId').execute()).length, 1, 'the launch ticket carries it, sealed');

      const h = await redeem(launch);
      assert.equal(h.plan.protocol, 'rdp');
      assert.deepEqual(h.plan.target, { host: '127.0.0.1', port: 33891 });
      assert.equal(h.plan.credential.username, 'winuser');
      assert.equal(h.plan.credential.domain, 'CORP');
      assert.equal(h.plan.credential.fields.password, WIN_PW, 'the logon ticket\'s credential, not the secret\'s');
      assert.equal(h.plan.user.username, 'portal-svc');
      assert.equal((await t.core.store.db.selectFrom('launchCredentials').select('ticketId').execute()).length, 0, 'taken at redeem');

      const actions = (await t.core.store.db.selectFrom('auditEvents').select(['action', 'details']).execute()).map((e) => ({ action: e.action, details: JSON.parse(e.details) }));
      assert.ok(actions.some((e) => e.action === 'logon_ticket.issued' && e.details.winUser === 'CORP\\winuser' && e.details.method === 'rsa'));
      assert.ok(actions.some((e) => e.action === 'logon_ticket.used' && e.details.server === 'app1'));
      assert.ok(actions.some((e) => e.action === 'secret.launch' && e.details.transientCredential?.source === 'logon_ticket'));

      // Used once: the same logon ticket, and the same launch ticket, are refused.
      await refused(await html5(ticket), 'used', true);
      await assert.rejects(t.core.launching.redeem(launch, { clientIp: '127.0.0.1', door: 'web' }));
    });

    it('GUAC_WIDTH/GUAC_HEIGHT/GUAC_DPI become the launch\'s display settings; a bad one is refused and leaves the logon ticket unused', async () => {
      const ticket = await ticketFor();
      for (const [extra, detail] of [
        ['&GUAC_WIDTH=100&GUAC_HEIGHT=720', /width must be an integer from 200 to 8192/],
        ['&GUAC_WIDTH=1280&GUAC_HEIGHT=720&GUAC_DPI=1000', /dpi must be an integer from 96 to 480/],
        ['&GUAC_WIDTH=1280', /width and height go together/],
        ['&GUAC_WIDTH=12a0&GUAC_HEIGHT=720', /GUAC_WIDTH is not a whole number/],
      ] as const) {
        await refused(await html5(ticket, '', extra), 'bad_display', true);
        const line = t.logs().trim().split('\n').filter((l) => l.includes('LogonTicketRefused')).at(-1)!;
        assert.match(line, detail, 'the precise reason in the log');
      }
      const r = await html5(ticket, '', '&GUAC_WIDTH=1280&GUAC_HEIGHT=720&GUAC_DPI=144');
      const loc = new URL(String(r.headers.location), 'https://x');
      assert.equal(loc.searchParams.get('GUAC_WIDTH'), '1280', 'the page asks the same desktop');
      const h = await redeem(launchTicketOf(r));
      assert.deepEqual(h.plan.display, { width: 1280, height: 720, dpi: 144 });
      const ev = await t.core.store.db.selectFrom('auditEvents').select('details').where('action', '=', 'secret.launch').orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow();
      assert.deepEqual(JSON.parse(ev.details).display, { width: 1280, height: 720, dpi: 144 });
    });

    it('an expired logon ticket is refused and wiped; the sweeper wipes those nobody presents', async () => {
      const a = await ticketFor();
      const b = await ticketFor();
      await t.core.store.db.updateTable('logonTickets').set({ expiresAt: Date.now() - 1000 }).where('usedAt', 'is', null).execute();
      await refused(await html5(a), 'expired', true);
      assert.ok(await t.core.logonTickets.sweep() >= 1);
      const left = await t.core.store.db.selectFrom('logonTickets').select(['credentialSealed', 'dataKeyId']).where('usedAt', 'is', null).execute();
      assert.ok(left.length >= 1 && left.every((r) => r.credentialSealed === null && r.dataKeyId === null));
      await refused(await html5(b), 'expired', true);
    });

    it('lpw_phrase on: none or a wrong WinLPWphrase refused, the right one accepted; off: not asked', async () => {
      await settings({ lpw_phrase: 'my_secret' });
      await refused(await lpw(`WinUser=winuser&WinPassword=${WIN_PW}`), 'phrase_required');
      await refused(await lpw(`WinUser=winuser&WinPassword=${WIN_PW}&WinLPWphrase=not_it`), 'wrong_phrase');
      assert.doesNotMatch(t.logs(), /not_it|my_secret/, 'no phrase in the log');
      await ticketFor(`WinUser=winuser&WinPassword=${WIN_PW}&WinLPWphrase=my_secret`);
      await settings({ lpw_phrase: '' });
      await ticketFor(`WinUser=winuser&WinPassword=${WIN_PW}`);
    });

    it('lpw_timeout_list_ip on: another address is refused, a listed one served; off: any address', async () => {
      await settings({ lpw_timeout_list_ip: '|10.9.8.7|192.0.2.1|' });
      await refused(await lpw(`WinUser=winuser&WinPassword=${WIN_PW}`), 'ip_not_allowed');
      await ticketFor(undefined, { ip: '10.9.8.7' });
      await settings({ lpw_timeout_list_ip: '' });
      await ticketFor(undefined, { ip: '198.51.100.4' });
      const bad = await t.req('PATCH', '/api/v1/settings', { token: t.adminToken, body: { lpw_timeout_list_ip: '10.0.0.1' } });
      assert.equal(bad.statusCode, 400);
    });

    it('accept_lpw_only_rsa_secured on (default): plain text refused; off: accepted and it opens', async () => {
      const plain = `/socket.io/socket.io/LPW?WinUser=${encodeURIComponent('CORP\\winuser')}&WinPassword=${encodeURIComponent(WIN_PW)}`;
      await refused(await get(plain), 'plain_text_refused');
      await settings({ accept_lpw_only_rsa_secured: false });
      const r = await get(plain);
      assert.equal(r.statusCode, 200, r.body);
      const h = await redeem(launchTicketOf(await html5(r.body)));
      assert.equal(h.plan.credential.fields.password, WIN_PW);
      await settings({ accept_lpw_only_rsa_secured: true });
      assert.doesNotMatch(t.logs(), /WinPassword=Win/, 'the plain request\'s URL is logged without the password');
    });

    it('logon_type_allowance 3 (default): html5.html only with a logon ticket; below 3: no ticket → the sign-in page; URL credentials never', async () => {
      await refused(await get('/software/html5.html'), 'no_ticket', true);
      await refused(await get('/software/html5.html?user=alice'), 'no_ticket', true);
      await refused(await get(`/software/html5.html?user=alice&pwd=${encodeURIComponent(WIN_PW)}`), 'url_credentials', true);
      await settings({ logon_type_allowance: 0 });
      const r = await get('/software/html5.html');
      assert.equal(r.statusCode, 303);
      assert.equal(r.headers.location, '/');
      await refused(await get('/software/html5.html?user=alice'), 'not_a_ticket', true);
      await refused(await get(`/software/html5.html?user=alice&password=${encodeURIComponent(WIN_PW)}`), 'url_credentials', true);
      await settings({ logon_type_allowance: 3 });
      const bad = await t.req('PATCH', '/api/v1/settings', { token: t.adminToken, body: { logon_type_allowance: 4 } });
      assert.equal(bad.statusCode, 400);
    });

    it('farm: hb.exe lb (off, then least-loaded among the assigned) and srvassigned (CRLF lines, KO); /~~<server> picks the server', async () => {
      let r = await get('/cgi-bin/hb.exe?action=lb&l=alice&d=CORP');
      assert.equal(r.body, 'loadbalancing-off');
      await settings({ logonTicketLoadBalancing: true });
      // app1 runs sessions from the tests above; app2 (assigned to alice) runs none.
      for (const h of handles) await h.end('test over').catch(() => undefined);
      r = await get('/cgi-bin/hb.exe?action=lb&l=alice&d=CORP');
      assert.equal(r.body, 'loadbalancing-on|app1|gw.gw.com/~~app1|https|443', 'equal load: the first');
      const busy = await redeem(launchTicketOf(await html5(await ticketFor())));
      r = await get('/cgi-bin/hb.exe?action=lb&l=alice&d=CORP');
      assert.equal(r.body, 'loadbalancing-on|app2|gw.gw.com/~~app2|https|443', 'app1 is busier');
      r = await get('/cgi-bin/hb.exe?action=lb&l=bob&d=CORP');
      assert.equal(r.body, 'loadbalancing-on|app1|gw.gw.com/~~app1|https|443', 'app2 is not assigned to bob');
      await busy.end('test over');
      r = await get('/cgi-bin/hb.exe?action=srvassigned&l=winuser&d=CORP');
      assert.equal(r.body, 'app1|gw.gw.com/~~app1:443\r\napp2|gw.gw.com/~~app2:443');
      r = await get('/cgi-bin/hb.exe?action=srvassigned&l=bob&d=CORP');
      assert.equal(r.body, 'app1|gw.gw.com/~~app1:443');
      await settings({ logonTicketServers: ['app2|lt-box2|Remote Desktop|alice;CORP\\winuser'] });
      assert.equal((await get('/cgi-bin/hb.exe?action=srvassigned&l=bob&d=CORP')).body, 'KO');
      await settings({ logonTicketServers: [`app1|${box1}|rdp`, 'app2|lt-box2|Remote Desktop|alice;CORP\\winuser'], logonTicketLoadBalancing: false });

      // /~~app2: the same key; the ticket opens app2's target, and only there.
      assert.equal(await publicKey('/~~app2'), await publicKey());
      const tk = await ticketFor(undefined, { via: '/~~app2' });
      await refused(await html5(tk, '/~~app1'), 'server_mismatch', true);
      const h = await redeem(launchTicketOf(await html5(tk, '/~~app2')));
      assert.deepEqual(h.plan.target, { host: '127.0.0.1', port: 33892 });
      assert.equal(h.plan.credential.secretId, box2);
      // Not assigned to app2: refused there.
      await refused(await lpw(`WinUser=bob&WinPassword=${WIN_PW}`, { via: '/~~app2' }), 'not_assigned');
      await refused(await get('/~~nosuch/socket.io/WCREDS?GetRuntimePublicModulusExponent'), 'unknown_server');
    });

    it('bad input: every one the same generic refusal, its reason logged, never a 500', async () => {
      const key = await publicKey();
      const len = Number.parseInt(key.split(':')[0]!.length.toString(), 10) / 2;
      const cases: [string, string, string][] = [
        ['malformed base64', '/socket.io/socket.io/LPW?rsabase64nojs=%25%25%25', 'bad_base64'],
        ['base64 with a stray character', '/socket.io/socket.io/LPW?rsabase64nojs=AAAA*AAA', 'bad_base64'],
        ['RSA blob one byte short', `/socket.io/socket.io/LPW?rsabase64nojs=${encodeURIComponent(randomBytes(len - 1).toString('base64'))}`, 'rsa_length'],
        ['RSA blob one byte long', `/socket.io/socket.io/LPW?rsabase64nojs=${encodeURIComponent(randomBytes(len + 1).toString('base64'))}`, 'rsa_length'],
        ['RSA blob of the right length, not ours', `/socket.io/socket.io/LPW?rsabase64nojs=${encodeURIComponent(Buffer.concat([Buffer.from([0]), randomBytes(len - 1)]).toString('base64'))}`, 'rsa_decrypt'],
        ['oversized rsabase64nojs', `/socket.io/socket.io/LPW?rsabase64nojs=${'A'.repeat(5000)}`, 'oversized'],
        ['oversized WinUser', `/socket.io/socket.io/LPW?WinUser=${'a'.repeat(5000)}&WinPassword=x`, 'oversized'],
        ['repeated parameter', '/socket.io/socket.io/LPW?rsabase64nojs=AAAA&rsabase64nojs=BBBB', 'oversized'],
        // Names an object already has are parameters like any other (their limit was the inherited function's).
        ['oversized parameter named constructor', `/socket.io/WCREDS?GetRuntimePublicModulusExponent&constructor=${'a'.repeat(5000)}`, 'oversized'],
        ['oversized parameter named __proto__', `/socket.io/WCREDS?GetRuntimePublicModulusExponent&__proto__=${'a'.repeat(5000)}`, 'oversized'],
        ['oversized parameter named toString', `/socket.io/WCREDS?GetRuntimePublicModulusExponent&toString=${'a'.repeat(5000)}`, 'oversized'],
        ['no credential at all', '/socket.io/socket.io/LPW', 'no_credentials'],
        ['unknown action', '/cgi-bin/hb.exe?action=reboot&l=a&d=b', 'unknown_action'],
        ['no action', '/cgi-bin/hb.exe?l=a', 'unknown_action'],
        ['WCREDS without its question', '/socket.io/WCREDS', 'unknown_action'],
        ['not a server name', '/~~a%20b/socket.io/WCREDS?GetRuntimePublicModulusExponent', 'unknown_server'],
      ];
      for (const [name, url, reason] of cases) {
        const r = await get(url);
        assert.equal(r.statusCode, 403, `${name}: ${r.body}`);
        assert.deepEqual(JSON.parse(r.body), GENERIC, name);
        await refusedFor(reason);
      }
      // Encrypted right, but not the credential text.
      await refused(await lpw('hello world'), 'malformed_credentials');
      await refused(await lpw('WinUser=a\\b\\c&WinPassword=x'), 'malformed_credentials');
      await refused(await html5('x'.repeat(5000)), 'oversized', true);
      await refused(await html5('*' + 'A'.repeat(32)), 'unknown', true);
      assert.doesNotMatch(t.logs(), /unhandled error/);
    });

    it('key rotation (administrators, audited): the new key answers, blobs for the old one are refused', async () => {
      const before = await publicKey();
      const blob = encryptCredentials(before, `WinUser=winuser&WinPassword=${WIN_PW}`);
      const info = await t.req('GET', '/api/v1/logon-tickets/key', { token: t.adminToken });
      assert.equal(info.statusCode, 200, info.body);
      const r = await t.req('POST', '/api/v1/logon-tickets/key/rotate', { token: t.adminToken });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().previousFingerprint, info.json().fingerprint);
      assert.notEqual(r.json().fingerprint, info.json().fingerprint);
      assert.notEqual(await publicKey(), before);
      await refused(await get(`/socket.io/socket.io/LPW?rsabase64nojs=${encodeURIComponent(blob)}`), 'rsa_decrypt');
      await ticketFor();
      const ev = await t.core.store.db.selectFrom('auditEvents').select('details').where('action', '=', 'logon_ticket.key_rotated').execute();
      assert.equal(ev.length, 1);
    });

    it('refusals count like failed sign-ins: past loginRateLimit an address is refused even with a good request', async () => {
      const ip = '192.0.2.77';
      const good = `/socket.io/socket.io/LPW?rsabase64nojs=${encodeURIComponent(encryptCredentials(await publicKey(), `WinUser=winuser&WinPassword=${WIN_PW}`))}`;
      await settings({ loginRateLimit: 3 });
      try {
        for (let i = 0; i < 3; i++) await refused(await get('/socket.io/socket.io/LPW?rsabase64nojs=%25%25', ip), 'bad_base64');
        const held = await get(good, ip);
        assert.equal(held.statusCode, 403);
        assert.deepEqual(JSON.parse(held.body), GENERIC);
        assert.match(t.logs().trim().split('\n').filter((l) => l.includes('LogonTicketRefused')).at(-1)!, /LogonTicketRefused: too_many_attempts/);
        const ev = await t.core.store.db.selectFrom('auditEvents').select('details').where('action', '=', 'logon_ticket.refused').orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow();
        assert.deepEqual(JSON.parse(ev.details), { step: 'request', reason: 'too many failed sign-ins from this address' });
        const other = await get(good, '192.0.2.78');
        assert.equal(other.statusCode, 200, 'another address is not held back');
      } finally {
        await settings({ loginRateLimit: 0 });
      }
    });

    it('a server entry that cannot launch refuses without using the logon ticket up', async () => {
      const tk = await ticketFor();
      await settings({ logonTicketServers: [`app1|${box1}|ssh`] });
      await refused(await html5(tk), 'launch_refused', true);
      await settings({ logonTicketServers: ['app1|no-such-secret|rdp'] });
      await refused(await html5(tk), 'launch_refused', true);
      await settings({ logonTicketServers: [`app1|${box1}|rdp`, 'app2|lt-box2|Remote Desktop|alice;CORP\\winuser'] });
      const h = await redeem(launchTicketOf(await html5(tk)));
      assert.equal(h.plan.credential.fields.password, WIN_PW);
    });

    it('off when logonTicketUser or the server list is empty', async () => {
      await settings({ logonTicketUser: '' });
      await refused(await get('/socket.io/WCREDS?GetRuntimePublicModulusExponent'), 'not_configured');
      await settings({ logonTicketUser: 'portal-svc' });
    });

    it('no form of the password in any answer, the log or the database', async () => {
      const blobs: Blob[] = [...answers, { name: 'log', data: Buffer.from(t.logs()) }];
      if (kind === 'sqlite') blobs.push(...sqliteFiles(t.dataDir));
      else blobs.push(await pgDump(t.config.databaseUrl!));
      assert.deepEqual(wireLeaks(blobs, { password: WIN_PW }), []);
    });
  });
}
