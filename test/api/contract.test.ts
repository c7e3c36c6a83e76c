// Small contract points: every error the framework or Node's HTTP parser raises has the
// {error: {code, message}} shape (431 and malformed HTTP over a real TLS socket, a request
// arriving during shutdown); every list route honours limit/offset or refuses bad values;
// ports are JSON numbers from 1 to 65535; the docs name the settings and bodies the code reads;
// every route is the contract's (src/web/contract), with closed response schemas, and an
// answer outside its schema fails the request under GATEHOUSE_STRICT_RESPONSES.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { InjectOptions } from 'fastify';
import { ConfigError, loadConfig } from '../../src/config.js';
import { clientErrorAnswer } from '../../src/web/client-errors.js';
import { CONTRACT_ROUTES, errorSchema } from '../../src/web/contract/index.js';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';
import { SoftAuthenticator, registerSoftKey } from '../support/soft-authenticator.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { registeredRoutes } from '../support/routes.js';
import { sshPublicKeyLine } from '../support/ssh-public-key.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** Asserts the uniform error shape and returns the error object. */
function uniform(r: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, code: string, what: string): { code: string; message: string } {
  assert.equal(r.statusCode, status, `${what}: ${r.body}`);
  assert.match(String(r.headers['content-type']), /^application\/json/, what);
  const b = JSON.parse(r.body);
  assert.deepEqual(Object.keys(b), ['error'], `${what}: ${r.body}`);
  assert.equal(b.error.code, code, `${what}: ${r.body}`);
  assert.equal(typeof b.error.message, 'string', what);
  assert.ok(b.error.message.length > 0, what);
  return b.error;
}

for (const kind of DB_KINDS) {
  describe(`API contract on ${kind}`, () => {
    let t: TestApp;
    const fx = {} as { userId: string; groupId: string; roleId: string; folderId: string; secretId: string; sessionId: string; policyId: string; requestId: string; personalId: string; levelId?: string; oidcProviderId?: string; auditSinkId?: string };

    const admin = async (method: string, url: string, body?: unknown) => {
      const r = await t.req(method, url, { token: t.adminToken, ...(body !== undefined ? { body } : {}) });
      assert.ok(r.statusCode < 300, `${method} ${url}: ${r.statusCode} ${r.body}`);
      return r.body ? r.json() : undefined;
    };

    /**
     * A recorded, ended session in which `commands` were typed (the target is never contacted);
     * with `sharedBy`, a live one of that person into which they invite the administrator (shared control).
     */
    const session = async (commands: string[], sharedBy?: { id: string; username: string }) => {
      const launcher = await t.core.launchers.get('ssh');
      const plan = {
        sessionId: randomUUID(),
        user: sharedBy ?? { id: fx.userId, username: 'admin' },
        protocol: 'ssh' as const,
        target: { host: 'db1', port: 22 },
        credential: await t.core.secrets.credential(fx.secretId),
        launcher: sharedBy ? { ...launcher, options: { allowJoinInvites: true } } : launcher,
      };
      const s = await t.core.sessions.start(plan, { clientIp: '127.0.0.1', door: 'ssh' });
      s.begin({ cols: 80, rows: 24, term: 'xterm' });
      for (const c of commands) {
        s.input(Buffer.from(`${c}\r`));
        s.output(Buffer.from(`${c} output\r\n`));
      }
      if (sharedBy) {
        s.onJoinInput(() => undefined);
        await t.core.sessions.sharing.invite({ ...sharedBy, userId: sharedBy.id, ip: '127.0.0.1', permissions: new Set() }, s.id, fx.userId);
        return s.id;
      }
      await s.end('finished');
      return s.id;
    };

    before(async () => {
      t = await startTestApp(kind);
      // At least two items in every list, so paging can be seen.
      fx.userId = (await admin('GET', '/api/v1/me')).id;
      await admin('POST', '/api/v1/users', { username: 'contract-user', password: 'contract-Password-1', roles: ['user'] });
      fx.groupId = (await admin('POST', '/api/v1/groups', { name: 'contract-g1' })).id;
      await admin('POST', '/api/v1/groups', { name: 'contract-g2' });
      fx.roleId = (await admin('GET', '/api/v1/roles')).items[0].id;
      fx.folderId = (await admin('POST', '/api/v1/folders', { name: 'contract-f1' })).id;
      await admin('POST', '/api/v1/folders', { name: 'contract-f2' });
      fx.secretId = (await admin('POST', '/api/v1/secrets', { name: 'contract-s1', template: 'unix-account', fields: { machine: '127.0.0.1', username: 'u', password: 'contract-pw-1' } })).id;
      await admin('POST', '/api/v1/secrets', { name: 'contract-s2', template: 'generic', fields: { machine: '127.0.0.1', port: 2222 } });
      await admin('POST', '/api/v1/tokens', { name: 'contract-token', scopes: ['read'] });
      await admin('POST', '/api/v1/me/ssh-keys', { name: 'contract-k1', publicKey: sshPublicKeyLine() });
      await admin('POST', '/api/v1/me/ssh-keys', { name: 'contract-k2', publicKey: sshPublicKeyLine() });
      fx.policyId = (await admin('POST', '/api/v1/access-policies', { name: 'contract-p1', approvers: [{ principalType: 'user', principal: 'contract-user' }] })).id;
      await admin('POST', '/api/v1/access-policies', { name: 'contract-p2', approvers: [{ principalType: 'user', principal: 'contract-user' }] });
      await admin('PATCH', `/api/v1/secrets/${fx.secretId}`, { policyId: fx.policyId });
      for (const name of ['contract-l1', 'contract-l2']) {
        const l = await admin('POST', '/api/v1/access-levels', { name, targetGroups: ['adm'], secretIds: [fx.secretId], preApproved: [{ principalType: 'user', principal: 'admin' }] });
        fx.levelId ??= l.id;
      }
      // Two earlier versions of its values (the versions list).
      await admin('PATCH', `/api/v1/secrets/${fx.secretId}`, { fields: { password: 'contract-pw-2' } });
      await admin('PATCH', `/api/v1/secrets/${fx.secretId}`, { fields: { password: 'contract-pw-3' } });
      fx.requestId = (await admin('POST', '/api/v1/access-requests', { secretId: fx.secretId, reason: 'contract 1' })).id;
      await admin('POST', '/api/v1/access-requests', { secretId: fx.secretId, reason: 'contract 2' });
      await admin('PUT', '/api/v1/me/master-password', { masterPassword: 'contract-Master-Password-1' });
      fx.personalId = (await admin('POST', '/api/v1/me/personal-credentials', { name: 'contract-p1', target: { secretId: fx.secretId }, username: 'me', password: 'contract-personal-1' })).id;
      await admin('POST', '/api/v1/me/personal-credentials', { name: 'contract-p2', target: { machine: '127.0.0.1', port: 2222 }, username: 'me', password: 'contract-personal-2' });
      for (const name of ['contract-held-1', 'contract-held-2']) {
        const held = await admin('POST', '/api/v1/secrets', { name, template: 'generic', fields: { username: 'u', password: 'contract-held-pw' } });
        await admin('POST', `/api/v1/secrets/${held.id}/checkout`, {});
      }
      fx.sessionId = await session(['uptime', 'whoami', 'hostname']);
      const second = await session(['uptime']);
      // Recording retention: two policies and two legal holds (the lists).
      await admin('PUT', '/api/v1/recording-retention', { scope: 'global', keepDays: 3650 });
      await admin('PUT', '/api/v1/recording-retention', { scope: 'launcher', scopeId: 'ssh', keepDays: 7300 });
      for (const id of [fx.sessionId, second]) await admin('PUT', `/api/v1/sessions/${id}/legal-hold`, { reason: 'contract' });
      // Two live sessions of another person who invited the administrator (GET /api/v1/me/joins).
      const owner = await admin('POST', '/api/v1/users', { username: 'contract-owner', roles: ['User'] });
      await session(['uptime'], { id: owner.id, username: 'contract-owner' });
      await session(['uptime'], { id: owner.id, username: 'contract-owner' });
      // Two live sessions of the administrator that another person asks to join (GET /api/v1/me/join-requests).
      const asker = await admin('POST', '/api/v1/users', { username: 'contract-asker', roles: ['Auditor'] });
      const sshLauncher = await t.core.launchers.get('ssh');
      for (const _ of [1, 2]) {
        const s = await t.core.sessions.start(
          { sessionId: randomUUID(), user: { id: fx.userId, username: 'admin' }, protocol: 'ssh', target: { host: 'db1', port: 22 }, credential: await t.core.secrets.credential(fx.secretId), launcher: { ...sshLauncher, options: { allowJoinRequests: true } } },
          { clientIp: '127.0.0.1', door: 'ssh' },
        );
        s.begin({ cols: 80, rows: 24, term: 'xterm' });
        s.onJoinInput(() => undefined);
        await t.core.sessions.sharing.request({ userId: asker.id, username: 'contract-asker', ip: '127.0.0.1', permissions: new Set(['join_sessions']) }, s.id);
      }
      // Two security keys of the administrator (GET /api/v1/me/webauthn, /users/:id/webauthn):
      // registering needs a host name as the relying party, given for the while.
      await admin('PATCH', '/api/v1/settings', { publicUrl: 'https://gatehouse.test' });
      const keys = new SoftAuthenticator('https://gatehouse.test');
      for (const name of ['contract-key-1', 'contract-key-2']) await registerSoftKey(t.req, t.adminToken, keys, name);
      await admin('PATCH', '/api/v1/settings', { publicUrl: '' });
      // Two OIDC providers (GET /api/v1/oidc-providers); nothing is fetched from their issuer.
      fx.oidcProviderId = (await admin('POST', '/api/v1/oidc-providers', { name: 'contract-idp-1', displayName: 'IdP 1', issuer: 'https://idp1.example.com', clientId: 'gh' })).id;
      const idp2 = (await admin('POST', '/api/v1/oidc-providers', { name: 'contract-idp-2', displayName: 'IdP 2', issuer: 'https://idp2.example.com', clientId: 'gh' })).id;
      // The administrator linked at both, as sign-ins leave it (GET /api/v1/users/:id/oidc-links).
      for (const providerId of [fx.oidcProviderId, idp2]) await t.core.store.db.insertInto('oidcLinks').values({ providerId, subject: `contract-sub-${providerId}`, userId: fx.userId, createdAt: Date.now() }).execute();
      // Two audit sinks (GET /api/v1/audit-sinks); not streaming here (the harness starts no streamer).
      fx.auditSinkId = (await admin('POST', '/api/v1/audit-sinks', { name: 'contract-syslog', kind: 'syslog', host: '127.0.0.1', port: 6514 })).id;
      await admin('POST', '/api/v1/audit-sinks', { name: 'contract-hook', kind: 'webhook', url: 'https://siem.example.com/in', hmacKey: 'contract-hmac-key-0123456789' });
      // Two settled OpenPSM endsession notices (the list of GET /api/v1/openpsm/end-notices).
      for (const n of [1, 2]) {
        await t.core.store.db
          .insertInto('openpsmEndNotices')
          .values({ sessionUuid: `00000000-0000-4000-8000-00000000000${n}`, apiUrl: 'https://iam.example.com', loginSessionId: `00000000-0000-4000-9000-00000000000${n}`, credentialId: 'c', computerId: 'c', dataKeyId: 'k', apiKeySealed: 'sealed', appKey: 'a', gatewaySessionId: null, attempts: 1, unauthorized: 0, nextAt: Date.now(), lastError: null, createdAt: Date.now() + n, outcome: 'delivered', doneAt: Date.now() })
          .execute();
      }
    });
    after(async () => {
      await t?.core.sessions.endAll('test over');
      await t?.close();
    });

    it('every list route (every GET answering {items}) honours limit and offset, and refuses bad values with 400', async () => {
      const idFor: Record<string, string> = {
        users: fx.userId,
        groups: fx.groupId,
        'oidc-providers': fx.oidcProviderId!,
        'audit-sinks': fx.auditSinkId!,
        roles: fx.roleId,
        folders: fx.folderId,
        secrets: fx.secretId,
        templates: 'generic',
        launchers: 'ssh',
        sessions: fx.sessionId,
        recordings: fx.sessionId,
        'access-policies': fx.policyId,
        'access-levels': fx.levelId!,
        'access-requests': fx.requestId,
        'personal-credentials': fx.personalId,
        // OpenPSM start pages: no start exists here (GET answers 404; the page is no list).
        starts: 'no-such-start',
        // Shared control: the joiner's terminal of no join (404; a WebSocket is no list).
        joins: 'no-such-join',
      };
      const baseQuery: Record<string, string> = { '/api/v1/recordings': 'q=uptime' };
      const urlOf = (route: string) =>
        route.replace(/\/([a-z-]+)\/:(\w+)/g, (_m, coll: string, param: string) => {
          const id = idFor[coll];
          if (!id) throw new Error(`no fixture id for :${param} after /${coll} (${route}): add one so the walk covers it`);
          return `/${coll}/${encodeURIComponent(id)}`;
        });
      const gets = registeredRoutes(t)
        .filter((r) => r.startsWith('GET '))
        .map((r) => r.slice(4))
        // A WebSocket upgrade and the server-sent event stream are no lists.
        .filter((p) => p !== '/api/v1/terminal');
      const lists: string[] = [];
      for (const route of gets) {
        const base = urlOf(route);
        const q = baseQuery[route];
        const r = await t.req('GET', q ? `${base}?${q}` : base, { token: t.adminToken });
        let body: unknown;
        try {
          body = JSON.parse(r.body);
        } catch {
          continue;
        }
        if (r.statusCode === 200 && body && typeof body === 'object' && Array.isArray((body as { items?: unknown }).items)) lists.push(route);
      }
      // The walk found every list (a new list route needs its fixture above).
      assert.deepEqual(lists.sort(), [
        '/api/v1/access-levels',
        '/api/v1/access-policies',
        '/api/v1/access-requests',
        '/api/v1/audit',
        '/api/v1/audit-sinks',
        '/api/v1/checkouts',
        '/api/v1/folders',
        '/api/v1/groups',
        '/api/v1/launchers',
        '/api/v1/legal-holds',
        '/api/v1/me/join-requests',
        '/api/v1/me/joins',
        '/api/v1/me/personal-credentials',
        '/api/v1/me/ssh-keys',
        '/api/v1/me/webauthn',
        '/api/v1/oidc-providers',
        '/api/v1/openpsm/end-notices',
        '/api/v1/recording-retention',
        '/api/v1/recordings',
        '/api/v1/recordings/:sessionId/text',
        '/api/v1/roles',
        '/api/v1/secrets',
        '/api/v1/secrets/:id/access-levels',
        '/api/v1/secrets/:id/versions',
        '/api/v1/sessions',
        '/api/v1/templates',
        '/api/v1/tokens',
        '/api/v1/users',
        '/api/v1/users/:id/oidc-links',
        '/api/v1/users/:id/webauthn',
      ]);

      const problems: string[] = [];
      for (const route of lists) {
        const base = urlOf(route);
        const with_ = (extra: string) => `${base}?${[baseQuery[route], extra].filter(Boolean).join('&')}`;
        const get = async (extra: string) => {
          const r = await t.req('GET', with_(extra), { token: t.adminToken });
          return { r, b: r.statusCode === 200 ? r.json() : null };
        };
        const full = await get('limit=500');
        if (!full.b) {
          problems.push(`${route} limit=500: ${full.r.statusCode} ${full.r.body}`);
          continue;
        }
        const { items, total } = full.b;
        if (!(total >= 2 && items.length >= 2)) problems.push(`${route}: fixtures give fewer than two items (${total})`);
        if (full.b.limit !== 500 || full.b.offset !== 0) problems.push(`${route}: limit/offset not echoed: ${full.b.limit}/${full.b.offset}`);
        const first = await get('limit=1');
        if (first.b?.items.length !== 1 || first.b.limit !== 1 || first.b.total !== total || JSON.stringify(first.b.items[0]) !== JSON.stringify(items[0])) {
          problems.push(`${route} limit=1: not honoured: ${first.r.body.slice(0, 200)}`);
        }
        const second = await get('limit=1&offset=1');
        if (second.b?.items.length !== 1 || second.b.offset !== 1 || JSON.stringify(second.b.items[0]) !== JSON.stringify(items[1])) {
          problems.push(`${route} limit=1&offset=1: not honoured: ${second.r.body.slice(0, 200)}`);
        }
        const past = await get(`offset=${total}`);
        if (past.b?.items.length !== 0 || past.b.total !== total) problems.push(`${route} offset=${total}: ${past.r.body.slice(0, 200)}`);
        const max = route.endsWith('/text') ? 10_000 : 500;
        for (const bad of ['limit=0', `limit=${max + 1}`, 'limit=abc', 'limit=1.5', 'limit=', 'offset=-1', 'offset=abc', 'offset=1e3x']) {
          const r = await t.req('GET', with_(bad), { token: t.adminToken });
          if (r.statusCode !== 400 || r.json().error?.code !== 'invalid_request') problems.push(`${route} ${bad}: ${r.statusCode} ${r.body.slice(0, 120)}`);
          else if (!/limit|offset/.test(r.json().error.message)) problems.push(`${route} ${bad}: message does not name the parameter: ${r.json().error.message}`);
        }
      }
      assert.deepEqual(problems, []);
    });

    it('framework-level errors (unknown route, media type, body size, JSON, URL, parameters) use {error:{code,message}}', async () => {
      const inject = (o: InjectOptions) => t.app.inject(o) as Promise<{ statusCode: number; headers: Record<string, unknown>; body: string }>;
      const auth = { authorization: `Bearer ${t.adminToken}` };
      uniform(await inject({ method: 'GET', url: '/api/v1/no-such-route', headers: auth }), 404, 'not_found', 'unknown route');
      uniform(await inject({ method: 'DELETE', url: '/api/v1/me', headers: auth }), 404, 'not_found', 'unknown method');
      uniform(await inject({ method: 'GET', url: '/oauth2/authorize' }), 404, 'not_found', 'unknown OAuth2 route');
      uniform(await inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': 'application/xml' }, payload: '<login/>' }), 415, 'unsupported_media_type', 'XML body');
      const big = uniform(await inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ username: 'x', password: 'p'.repeat(1024 * 1024) }) }), 413, 'payload_too_large', 'JSON over 1 MiB');
      assert.match(big.message, /1048576 bytes/);
      const form = uniform(await inject({ method: 'POST', url: '/oauth2/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `grant_type=client_credentials&scope=${'a'.repeat(70_000)}` }), 413, 'payload_too_large', 'form over 64 KiB');
      assert.match(form.message, /65536 bytes/, 'the form limit, not the JSON one');
      uniform(await inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': 'application/json' }, payload: '{"username": ' }), 400, 'invalid_json', 'malformed JSON');
      uniform(await inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': 'application/json' }, payload: '' }), 400, 'invalid_json', 'empty JSON body');
      uniform(await inject({ method: 'GET', url: '/api/v1/users/%E0%A4%A', headers: auth }), 400, 'invalid_url', 'bad percent-encoding');
      uniform(await inject({ method: 'GET', url: `/api/v1/users/${'x'.repeat(500)}`, headers: auth }), 414, 'uri_too_long', 'over-long path parameter');
      uniform(await inject({ method: 'GET', url: '/api/v1/me' }), 401, 'unauthorized', 'no token');
      uniform(await inject({ method: 'GET', url: '/api/v1/templates?colour=blue', headers: auth }), 400, 'invalid_request', 'unknown query parameter on a list');
      // The locked and rate-limited answers add fields but keep the shape (login-abuse.test.ts covers them).
      assert.deepEqual(clientErrorAnswer(Object.assign(new Error('t'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' })), { status: 408, code: 'request_timeout', message: 'the request did not arrive in time' });
    });

    it('ports: 0, strings and out-of-range values are refused; whole numbers 1-65535 are kept as numbers', async () => {
      const create = (fields: Record<string, unknown>, template = 'generic') => t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name: `port-${randomUUID().slice(0, 8)}`, template, fields: { machine: '127.0.0.1', ...fields } } });
      for (const [port, why] of [
        [0, /TCP port number from 1 to 65535/],
        ['22', /not a string/],
        ['0', /not a string/],
        [65536, /from 1 to 65535/],
        [-1, /from 1 to 65535/],
        [22.5, /port/],
      ] as const) {
        const e = uniform(await create({ port }), 400, 'invalid_request', `port ${JSON.stringify(port)}`);
        assert.match(e.message, why);
        assert.match(e.message, /\bport\b/);
      }
      const ok = await create({ port: 22 });
      assert.equal(ok.statusCode, 201, ok.body);
      assert.equal(ok.json().fields.port, 22);
      const high = await create({ port: 65535, username: 'u' }, 'unix-account');
      assert.equal(high.statusCode, 201, high.body);
      const id = ok.json().id;
      uniform(await t.req('PATCH', `/api/v1/secrets/${id}`, { token: t.adminToken, body: { fields: { port: '2222' } } }), 400, 'invalid_request', 'PATCH string port');
      uniform(await t.req('PATCH', `/api/v1/secrets/${id}`, { token: t.adminToken, body: { fields: { port: 0 } } }), 400, 'invalid_request', 'PATCH port 0');
      const patched = await t.req('PATCH', `/api/v1/secrets/${id}`, { token: t.adminToken, body: { fields: { port: 2222 } } });
      assert.equal(patched.statusCode, 200, patched.body);
      assert.equal(patched.json().fields.port, 2222);
      // Templates: `port` is a number field, and a number field's default is a number in range.
      const tpl = (fields: unknown[]) => t.req('POST', '/api/v1/templates', { token: t.adminToken, body: { name: `tpl-${randomUUID().slice(0, 8)}`, fields } });
      uniform(await tpl([{ name: 'port', label: 'Port', type: 'text' }]), 400, 'invalid_request', 'port as a text field');
      uniform(await tpl([{ name: 'port', label: 'Port', type: 'number', default: 0 }]), 400, 'invalid_request', 'port default 0');
      uniform(await tpl([{ name: 'port', label: 'Port', type: 'number', default: '22' }]), 400, 'invalid_request', 'port default "22"');
      assert.equal((await tpl([{ name: 'port', label: 'Port', type: 'number', default: 2022 }])).statusCode, 201);
      // Launchers: the gateway port of a session connector.
      for (const gatewayPort of [0, '3389', 70000]) {
        uniform(await t.req('POST', '/api/v1/launchers', { token: t.adminToken, body: { name: `sc-${randomUUID().slice(0, 8)}`, type: 'session-connector', childType: 'rdp', gatewayHost: 'gw.example.net', gatewayPort } }), 400, 'invalid_request', `gatewayPort ${JSON.stringify(gatewayPort)}`);
      }
    });
  });
}

/** Writes `payload` on a fresh TLS connection and resolves with everything read until the server closes it. */
function rawTls(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => s.write(payload));
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', (e) => (chunks.length ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(e)));
    s.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** Splits raw HTTP/1.1 responses (answers to pipelined requests) into status line, headers and body. */
function parseResponses(raw: string): { status: string; headers: Record<string, string>; body: string }[] {
  const out: { status: string; headers: Record<string, string>; body: string }[] = [];
  let rest = raw;
  while (rest.length) {
    const end = rest.indexOf('\r\n\r\n');
    assert.ok(end > 0, `an HTTP response head in ${JSON.stringify(rest.slice(0, 200))}`);
    const [status, ...lines] = rest.slice(0, end).split('\r\n');
    const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const len = Number(headers['content-length']);
    assert.ok(Number.isInteger(len), `content-length in ${JSON.stringify(rest.slice(0, end))}`);
    const body = Buffer.from(rest.slice(end + 4)).subarray(0, len).toString('utf8');
    out.push({ status: status!, headers, body });
    rest = Buffer.from(rest.slice(end + 4)).subarray(len).toString('utf8');
  }
  return out;
}

const shape = (res: { status: string; headers: Record<string, string>; body: string }, status: string, code: string) => {
  assert.equal(res.status, status);
  assert.match(res.headers['content-type'] ?? '', /^application\/json/);
  uniform({ statusCode: Number(status.split(' ')[1]), headers: res.headers, body: res.body }, Number(status.split(' ')[1]), code, status);
};

describe('parser-level errors over a real HTTPS server', () => {
  let gw: Gateway;
  let port: number;
  before(async () => {
    gw = await startGateway('sqlite');
    port = (gw.running.app.server.address() as { port: number }).port;
  });
  after(async () => gw?.close());

  it('a header too large gets a proper HTTP/1.1 431 with {error:{code:"header_too_large"}}, then the connection closes', async () => {
    const raw = await rawTls(port, `GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    const [res, ...more] = parseResponses(raw);
    shape(res!, 'HTTP/1.1 431 Request Header Fields Too Large', 'header_too_large');
    assert.equal(res!.headers.connection, 'close');
    assert.equal(more.length, 0);
  });

  it('an over-long request line is a 431 too', async () => {
    const [res] = parseResponses(await rawTls(port, `GET /api/v1/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
    shape(res!, 'HTTP/1.1 431 Request Header Fields Too Large', 'header_too_large');
  });

  it('malformed HTTP gets a 400 with {error:{code:"bad_request"}}', async () => {
    for (const bad of ['NOT HTTP AT ALL\r\n\r\n', 'GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header Name: x\r\n\r\n', 'POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello']) {
      const [res] = parseResponses(await rawTls(port, bad));
      shape(res!, 'HTTP/1.1 400 Bad Request', 'bad_request');
    }
  });

  it('a request arriving while the server shuts down gets a 503 in the uniform shape', async () => {
    const server = gw.running.app.server;
    const chunks: Buffer[] = [];
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    s.on('data', (d: Buffer) => chunks.push(d));
    const closed = new Promise((r) => s.on('close', r));
    await new Promise((r) => s.once('secureConnect', r));
    // A request in progress keeps the connection open through the shutdown …
    const routed = new Promise((r) => server.once('request', r));
    s.write('POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n');
    await routed;
    const closing = gw.running.app.close();
    while (server.listening) await new Promise((r) => setImmediate(r));
    // … and the request pipelined behind it arrives during the shutdown.
    s.write('{}GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await closed;
    await closing;
    const [first, second] = parseResponses(Buffer.concat(chunks).toString('utf8'));
    shape(first!, 'HTTP/1.1 400 Bad Request', 'invalid_request');
    shape(second!, 'HTTP/1.1 503 Service Unavailable', 'shutting_down');
  });
});

/** Where a response schema has an object whose properties are not closed, as "path" strings. */
function openObjects(schema: unknown, path: string): string[] {
  if (!schema || typeof schema !== 'object') return [];
  if (Array.isArray(schema)) return schema.flatMap((s, i) => openObjects(s, `${path}[${i}]`));
  const s = schema as Record<string, unknown>;
  const own = 'properties' in s && s.additionalProperties !== false ? [path] : [];
  // An object without properties is a map and must say what its values are.
  const map = s.type === 'object' && !('properties' in s) && !('additionalProperties' in s) ? [`${path} (a map without additionalProperties)`] : [];
  return [...own, ...map, ...Object.entries(s).flatMap(([k, v]) => (k === 'properties' ? Object.entries(v as object).flatMap(([p, x]) => openObjects(x, `${path}.${p}`)) : typeof v === 'object' ? openObjects(v, `${path}/${k}`) : []))];
}

describe('one API contract', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp('sqlite');
  });
  after(async () => t?.close());

  it('every registered API route is a contract route, and every contract route is registered', () => {
    assert.deepEqual(registeredRoutes(t), [...CONTRACT_ROUTES.keys()].sort());
  });

  it('every route declares its successful answers and the uniform error, with closed objects', () => {
    const problems: string[] = [];
    for (const [key, r] of CONTRACT_ROUTES) {
      const codes = Object.keys(r.schema.response);
      if (!codes.some((c) => /^(2..|101)$/.test(c))) problems.push(`${key}: no successful answer declared`);
      if (r.schema.response['4xx'] !== errorSchema || r.schema.response['5xx'] !== errorSchema) problems.push(`${key}: errors are not the uniform error schema`);
      for (const [code, schema] of Object.entries(r.schema.response)) problems.push(...openObjects(schema, `${key} ${code}`));
    }
    assert.deepEqual(problems, []);
  });

  it('an answer with a field its schema does not declare, or without a required one, fails with 500 and a log line', async () => {
    const keys = t.core.sshKeys;
    const launchers = t.core.launchers;
    const list = keys.list.bind(keys);
    const get = launchers.get.bind(launchers);
    await t.req('POST', '/api/v1/me/ssh-keys', { token: t.adminToken, body: { name: 'strict-k1', publicKey: sshPublicKeyLine() } });
    try {
      // Deliberately wrong answers from the services the routes call.
      keys.list = async (userId) => (await list(userId)).map((k) => ({ ...k, privateNote: 'not in the contract' }));
      launchers.get = async (ref) => {
        const { protocol: _dropped, ...rest } = await get(ref);
        return rest as Awaited<ReturnType<typeof get>>;
      };
      const extra = await t.req('GET', '/api/v1/me/ssh-keys', { token: t.adminToken });
      uniform(extra, 500, 'internal', 'undeclared field');
      assert.ok(!extra.body.includes('not in the contract'));
      uniform(await t.req('GET', '/api/v1/launchers/ssh', { token: t.adminToken }), 500, 'internal', 'missing field');
      const lines = t.logs().split('\n').filter((l) => l.includes('response does not match its schema'));
      assert.ok(lines.some((l) => l.includes('GET /api/v1/me/ssh-keys') && /additional properties/.test(l)), lines.join('\n'));
      assert.ok(lines.some((l) => l.includes('GET /api/v1/launchers/:id') && /protocol/.test(l)), lines.join('\n'));
    } finally {
      keys.list = list;
      launchers.get = get;
    }
    assert.equal((await t.req('GET', '/api/v1/me/ssh-keys', { token: t.adminToken })).statusCode, 200, 'the real answers fit');
    assert.equal((await t.req('GET', '/api/v1/launchers/ssh', { token: t.adminToken })).statusCode, 200);
  });

  it('without the strict check the serializer silently drops an undeclared field (why the tests run strict)', async () => {
    const lax = await startTestApp('sqlite', { GATEHOUSE_STRICT_RESPONSES: '0' });
    try {
      await lax.req('POST', '/api/v1/me/ssh-keys', { token: lax.adminToken, body: { name: 'lax-k1', publicKey: sshPublicKeyLine() } });
      const list = lax.core.sshKeys.list.bind(lax.core.sshKeys);
      lax.core.sshKeys.list = async (userId) => (await list(userId)).map((k) => ({ ...k, privateNote: 'not in the contract' }));
      const r = await lax.req('GET', '/api/v1/me/ssh-keys', { token: lax.adminToken });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().items[0].privateNote, undefined);
    } finally {
      await lax.close();
    }
  });
});

describe('docs name what the code reads', () => {
  const docs = () => {
    const files = ['README.md', ...readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];
    return files.map((f) => ({ file: f, text: readFileSync(join(ROOT, f), 'utf8') }));
  };

  it('every GATEHOUSE_* variable the docs mention is one src/config.ts reads', () => {
    const known = new Set(readFileSync(join(ROOT, 'src', 'config.ts'), 'utf8').match(/GATEHOUSE_[A-Z0-9_]+/g));
    const unknown = docs().flatMap(({ file, text }) => [...new Set(text.match(/GATEHOUSE_[A-Z0-9_]+/g) ?? [])].filter((v) => !known.has(v)).map((v) => `${file}: ${v}`));
    assert.deepEqual(unknown, []);
    const rdp = readFileSync(join(ROOT, 'docs', 'protocols', 'rdp.md'), 'utf8');
    assert.match(rdp, /`GATEHOUSE_TLS_CERT`\/`GATEHOUSE_TLS_KEY`/);
  });

  it('docs/api.md documents the permissions body with every property the route accepts', async () => {
    const t = await startTestApp('sqlite');
    try {
      const spec = (await t.req('GET', '/api/openapi.json')).json();
      const api = readFileSync(join(ROOT, 'docs', 'api.md'), 'utf8');
      for (const path of ['/api/v1/secrets/{id}/permissions', '/api/v1/folders/{id}/permissions']) {
        const schema = spec.paths[path].put.requestBody.content['application/json'].schema;
        const props = [...Object.keys(schema.properties), ...Object.keys(schema.properties.entries.items.properties)];
        assert.deepEqual(props.sort(), ['entries', 'inheritPermissions', 'level', 'principal', 'principalType']);
        for (const p of props) assert.ok(api.includes(`\`${p}\``) || api.includes(`"${p}"`), `docs/api.md names ${p}`);
        for (const level of schema.properties.entries.items.properties.level.enum) assert.ok(api.includes(`\`${level}\``), `docs/api.md names level ${level}`);
      }
      assert.match(api, /"principalType": "user", "principal": "alice", "level": "view"/);
    } finally {
      await t.close();
    }
  });

  it('a GATEHOUSE_CONFIG file must give ports as JSON numbers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-config-'));
    try {
      const file = join(dir, 'c.json');
      writeFileSync(file, JSON.stringify({ httpPort: '8443' }));
      assert.throws(() => loadConfig({ GATEHOUSE_CONFIG: file, GATEHOUSE_DATA_DIR: dir }), (e: unknown) => e instanceof ConfigError && /GATEHOUSE_HTTP_PORT must be a JSON number .*"8443"/.test(e.message));
      // The environment overrides the file, so a bad value there that is overridden does not matter.
      assert.equal(loadConfig({ GATEHOUSE_CONFIG: file, GATEHOUSE_DATA_DIR: dir, GATEHOUSE_HTTP_PORT: '9443' }).httpPort, 9443);
      writeFileSync(file, JSON.stringify({ sshPort: 2022 }));
      assert.equal(loadConfig({ GATEHOUSE_CONFIG: file, GATEHOUSE_DATA_DIR: dir }).sshPort, 2022);
      assert.throws(() => loadConfig({ GATEHOUSE_HTTP_PORT: 'abc', GATEHOUSE_DATA_DIR: dir }), /GATEHOUSE_HTTP_PORT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
