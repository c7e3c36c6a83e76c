// The credential-provider API for an Endpoint Credential Manager (issue 13 point 1, seeds
// 001/002), driven by an application account with an OAuth2 client-credentials token on
// both databases: off by default (403 webservices_disabled on every route); the first call
// for a person makes a pending approval (distinct answer, e-mail, Manage Applications);
// once approved: list for local, DOMAIN\user, user@domain, default-domain and fall-back
// ids; machine and domain credentials; retrieve for injection (audited with both), the
// access gate and checkout applying; token cache reuse and Clear Token Cache; revoke and
// deny; Test Settings with unsaved settings; no secret value in any list answer, the
// audit trail or the log.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp.js';

const rnd = () => randomBytes(6).toString('hex');

for (const kind of DB_KINDS) {
  describe(`credential-provider API on ${kind}`, () => {
    let t: TestApp;
    let smtp: SmtpSink;
    let appToken: string;
    const users = {} as Record<'alice' | 'bob' | 'carol' | 'dave' | 'daveDomain', { id: string; token: string; password: string }>;
    const pw = { web1: `Web1-Root-${rnd()}`, web1local: `Web1-Local-${rnd()}`, db9: `Db9-${rnd()}`, corp: `Corp-Admin-${rnd()}`, hidden: `Hidden-${rnd()}`, held: `Held-${rnd()}` };
    const ids = {} as Record<keyof typeof pw, string>;

    const admin = async (method: string, url: string, body?: unknown, expect = [200, 201, 204]) => {
      const r = await t.req(method, url, { token: t.adminToken, body });
      assert.ok(expect.includes(r.statusCode), `setup ${method} ${url}: ${r.statusCode} ${r.body}`);
      return r.body ? r.json() : undefined;
    };
    const list = (user: string, endpoint: string, token = appToken) => t.req('GET', `/api/v1/webservices/credentials?user=${encodeURIComponent(user)}&endpoint=${encodeURIComponent(endpoint)}`, { token });
    const retrieve = (secretId: string, body: Record<string, unknown>, token = appToken) => t.req('POST', `/api/v1/webservices/credentials/${secretId}/retrieve`, { token, body });
    const expectError = (r: { statusCode: number; body: string; json(): any }, status: number, code: string) => {
      assert.equal(r.statusCode, status, r.body);
      assert.equal(r.json().error.code, code, r.body);
    };
    const audit = async (action: string) => (await admin('GET', `/api/v1/audit?action=${action}&limit=500`)).items as any[];
    const noSecretIn = (text: string, where: string) => {
      for (const [k, v] of Object.entries(pw)) assert.ok(!text.includes(v), `${where} holds the ${k} password`);
    };
    const share = (secretId: string, who: string[]) => admin('PUT', `/api/v1/secrets/${secretId}/permissions`, { entries: who.map((principal) => ({ principalType: 'user', principal, level: 'view' })) });
    /** The person approves the application's pending request in Manage Applications (API). */
    const approve = async (who: { token: string }) => {
      const mine = await t.req('GET', '/api/v1/webservices/applications', { token: who.token });
      assert.equal(mine.statusCode, 200, mine.body);
      const pending = mine.json().items.find((x: any) => x.application.name === 'ecm-app' && x.status === 'pending');
      assert.ok(pending, mine.body);
      const r = await t.req('POST', `/api/v1/webservices/applications/${pending.id}/approve`, { token: who.token });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().status, 'approved');
    };

    before(async () => {
      t = await startTestApp(kind);
      smtp = await startSmtpSink();
      await admin('PATCH', '/api/v1/settings', { smtpHost: '127.0.0.1', smtpPort: smtp.port, smtpFrom: 'gatehouse@example.test' });
      users.alice = await t.user('alice', ['User'], { email: 'alice@example.test' });
      users.bob = await t.user('bob@corp.example', ['User'], { email: 'bob@example.test' });
      users.carol = await t.user('carol', ['User']);
      users.dave = await t.user('dave', ['User']);
      users.daveDomain = await t.user('dave@corp.example', ['User']);
      // The application account of the ECM, in a role holding Web Services Impersonate (seed: "Create API Account").
      await admin('POST', '/api/v1/roles', { name: 'ECM', permissions: ['webservices_impersonate'] });
      const app = await admin('POST', '/api/v1/users', { username: 'ecm-app', isApplication: true, roles: ['ECM'] });
      const client = await admin('POST', `/api/v1/users/${app.id}/client-credentials`);
      const tok = await t.req('POST', '/oauth2/token', { body: { grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret, scope: 'read reveal' } });
      assert.equal(tok.statusCode, 200, tok.body);
      appToken = tok.json().access_token;

      const mk = async (key: keyof typeof pw, name: string, template: string, fields: Record<string, unknown>) => {
        ids[key] = (await admin('POST', '/api/v1/secrets', { name, template, fields: { ...fields, password: pw[key] } })).id;
      };
      await mk('web1', 'web1 root', 'unix-account', { machine: 'web1.corp.example', username: 'root' });
      await mk('web1local', 'web1 local admin', 'windows-account', { machine: 'WEB1', username: 'Administrator' });
      await mk('db9', 'db9 root', 'unix-account', { machine: 'db9.corp.example', username: 'root' });
      await mk('corp', 'CORP domain admin', 'active-directory-account', { domain: 'CORP', username: 'svc-admin' });
      await mk('hidden', 'web1 hidden', 'unix-account', { machine: 'web1.corp.example', username: 'hidden' });
      await mk('held', 'web1 checkout', 'unix-account', { machine: 'web1.corp.example', username: 'held' });
      const everyone = ['alice', 'bob@corp.example', 'carol', 'dave', 'dave@corp.example'];
      await share(ids.web1, everyone);
      await share(ids.web1local, ['alice']);
      await share(ids.db9, everyone);
      await share(ids.corp, ['bob@corp.example', 'alice']);
      await share(ids.held, everyone);
      // "web1 hidden" is shared with nobody: never listed, never retrieved.
      await admin('POST', '/api/v1/access-policies', { name: 'checkout-only', approvers: [{ principalType: 'user', principal: 'admin' }], preApproved: [{ principalType: 'user', principal: 'alice' }, { principalType: 'user', principal: 'bob@corp.example' }], checkoutRequired: true });
      await admin('PATCH', `/api/v1/secrets/${ids.held}`, { policyId: 'checkout-only' });
    });
    after(async () => {
      await smtp?.close();
      await t?.close();
    });

    it('is off by default: every route answers 403 webservices_disabled', async () => {
      const s = await admin('GET', '/api/v1/settings');
      assert.equal(s.values.webservicesEnabled, false);
      assert.equal(s.values.webservicesMachineField, 'Machine');
      assert.equal(s.values.webservicesDomainField, 'Domain');
      expectError(await list('alice', 'web1'), 403, 'webservices_disabled');
      expectError(await retrieve(ids.web1, { user: 'alice' }), 403, 'webservices_disabled');
      expectError(await t.req('POST', '/api/v1/webservices/test', { token: t.adminToken, body: { user: 'alice', endpoint: 'web1' } }), 403, 'webservices_disabled');
      expectError(await t.req('GET', '/api/v1/webservices/applications', { token: users.alice.token }), 403, 'webservices_disabled');
      expectError(await t.req('POST', '/api/v1/webservices/applications/x/approve', { token: users.alice.token }), 403, 'webservices_disabled');
      expectError(await t.req('DELETE', '/api/v1/webservices/applications/x', { token: users.alice.token }), 403, 'webservices_disabled');
      expectError(await t.req('GET', '/api/v1/webservices/token-cache', { token: t.adminToken }), 403, 'webservices_disabled');
      expectError(await t.req('DELETE', '/api/v1/webservices/token-cache', { token: t.adminToken }), 403, 'webservices_disabled');
      await admin('PATCH', '/api/v1/settings', { webservicesEnabled: true, webservicesIncludeDomainCredentialsFor: 'corp.example' });
    });

    it('needs the Web Services Impersonate permission', async () => {
      const plain = await t.user('plain-app', ['Application'], { isApplication: true });
      expectError(await list('alice', 'web1', plain.token), 403, 'forbidden');
      expectError(await retrieve(ids.web1, { user: 'alice' }, plain.token), 403, 'forbidden');
    });

    it('first request: pending approval (distinct answer), e-mail and Manage Applications; approve → list', async () => {
      const first = await list('alice', 'web1');
      expectError(first, 403, 'approval_pending');
      assert.match(first.json().error.message, /pending approval/);
      expectError(await list('alice', 'web1'), 403, 'approval_pending');
      expectError(await retrieve(ids.web1, { user: 'alice' }), 403, 'approval_pending');
      const mail = await smtp.waitFor((m) => m.to.includes('alice@example.test') && m.text.includes('ecm-app'));
      assert.match(mail.text, /Manage Applications/);
      const mine = (await t.req('GET', '/api/v1/webservices/applications', { token: users.alice.token })).json().items;
      assert.equal(mine.length, 1);
      assert.equal(mine[0].status, 'pending');
      assert.equal(mine[0].endpoint, 'web1');
      // Someone else's pending approval does not exist for bob.
      expectError(await t.req('POST', `/api/v1/webservices/applications/${mine[0].id}/approve`, { token: users.bob.token }), 404, 'not_found');
      await approve(users.alice);

      const r = await list('alice', 'web1');
      assert.equal(r.statusCode, 200, r.body);
      const body = r.json();
      assert.deepEqual(body.user, { id: users.alice.id, username: 'alice', matchedAs: 'local' });
      assert.equal(body.organization, null);
      // The short endpoint name matches web1.corp.example and WEB1; db9 and the unshared secret do not appear;
      // the endpoint has no domain, so every listed domain's credentials come too (the CORP one is shared with alice).
      assert.deepEqual(body.credentials.map((c: any) => [c.name, c.kind]), [['web1 checkout', 'machine'], ['web1 local admin', 'machine'], ['web1 root', 'machine'], ['CORP domain admin', 'domain']]);
      assert.deepEqual(Object.keys(body.credentials[0]).sort(), ['domain', 'id', 'kind', 'machine', 'name', 'template', 'username']);
      noSecretIn(r.body, 'the list answer');
    });

    it('DOMAIN\\user, user@domain, the endpoint domain, domain credentials', async () => {
      expectError(await list('CORP\\bob', 'web1.corp.example'), 403, 'approval_pending');
      await approve(users.bob);
      for (const id of ['CORP\\bob', 'corp.example\\bob', 'bob@corp.example', 'bob@CORP']) {
        const r = await list(id, 'web1.corp.example');
        assert.equal(r.statusCode, 200, `${id}: ${r.body}`);
        assert.deepEqual(r.json().user, { id: users.bob.id, username: 'bob@corp.example', matchedAs: 'domain' });
        assert.deepEqual(r.json().credentials.map((c: any) => [c.name, c.kind]), [['web1 checkout', 'machine'], ['web1 root', 'machine'], ['CORP domain admin', 'domain']]);
        noSecretIn(r.body, 'the list answer');
      }
      // An endpoint of another domain gets no domain credentials.
      const other = await list('CORP\\bob', 'web1.lab.example');
      assert.equal(other.statusCode, 200, other.body);
      assert.deepEqual(other.json().credentials, []);
      // Without "Include domain credentials for" only machine-specific ones.
      await admin('PATCH', '/api/v1/settings', { webservicesIncludeDomainCredentialsFor: '' });
      assert.deepEqual((await list('bob@corp.example', 'web1.corp.example')).json().credentials.map((c: any) => c.kind), ['machine', 'machine']);
      await admin('PATCH', '/api/v1/settings', { webservicesIncludeDomainCredentialsFor: 'corp.example' });
      // A bare name of a domain user is not found without a default domain.
      expectError(await list('bob', 'web1'), 404, 'user_not_found');
    });

    it('Default Domain for Local Users is tried first; fall-back to the local account', async () => {
      // dave exists both as dave and dave@corp.example: the default domain wins for the bare name.
      expectError(await list('dave', 'web1'), 403, 'approval_pending');
      await approve(users.dave);
      assert.equal((await list('dave', 'web1')).json().user.username, 'dave');
      await admin('PATCH', '/api/v1/settings', { webservicesDefaultDomain: 'corp.example' });
      expectError(await list('dave', 'web1'), 403, 'approval_pending');
      await approve(users.daveDomain);
      const d = await list('dave', 'web1');
      assert.deepEqual(d.json().user, { id: users.daveDomain.id, username: 'dave@corp.example', matchedAs: 'default-domain' });
      // carol is only a local account: without a domain account, the bare name after the default domain.
      expectError(await list('carol', 'web1'), 403, 'approval_pending');
      await approve(users.carol);
      assert.equal((await list('carol', 'web1')).json().user.matchedAs, 'local');
      await admin('PATCH', '/api/v1/settings', { webservicesDefaultDomain: '' });
      // CORP\carol: no domain account; fall-back off → not found, on → the local carol.
      expectError(await list('CORP\\carol', 'web1'), 404, 'user_not_found');
      await admin('PATCH', '/api/v1/settings', { webservicesFallbackToLocal: true });
      const c = await list('CORP\\carol', 'web1');
      assert.equal(c.statusCode, 200, c.body);
      assert.deepEqual(c.json().user, { id: users.carol.id, username: 'carol', matchedAs: 'fall-back' });
      assert.equal((await list('carol@corp.example', 'web1')).json().user.matchedAs, 'fall-back');
      await admin('PATCH', '/api/v1/settings', { webservicesFallbackToLocal: false });
    });

    it('Include default organization names the one organization; another is not found', async () => {
      expectError(await t.req('GET', '/api/v1/webservices/credentials?user=alice&endpoint=web1&organization=acme', { token: appToken }), 404, 'organization_not_found');
      await admin('PATCH', '/api/v1/settings', { webservicesIncludeDefaultOrganization: true });
      assert.equal((await list('alice', 'web1')).json().organization, 'default');
      await admin('PATCH', '/api/v1/settings', { webservicesIncludeDefaultOrganization: false });
    });

    it('retrieve: the value for injection, audited with the application and the user; unshared and other endpoints refused', async () => {
      const r = await retrieve(ids.web1, { user: 'alice', endpoint: 'web1' });
      assert.equal(r.statusCode, 200, r.body);
      assert.deepEqual(r.json(), { id: ids.web1, name: 'web1 root', machine: 'web1.corp.example', domain: null, username: 'root', secrets: { password: pw.web1 } });
      const ev = (await audit('webservices.credential.retrieve')).find((e) => e.targetId === ids.web1 && e.outcome === 'success');
      assert.ok(ev, 'retrieval audited');
      assert.equal(ev.actorName, 'ecm-app');
      assert.equal(ev.details.application, 'ecm-app');
      assert.deepEqual(ev.details.onBehalfOf, { id: users.alice.id, username: 'alice' });
      expectError(await retrieve(ids.hidden, { user: 'alice' }), 404, 'not_found');
      expectError(await retrieve(ids.db9, { user: 'alice', endpoint: 'web1' }), 400, 'not_for_endpoint');
      expectError(await retrieve(ids.web1local, { user: 'bob@corp.example' }), 404, 'not_found');
      const failed = (await audit('webservices.credential.retrieve')).filter((e) => e.outcome === 'failure');
      assert.ok(failed.some((e) => e.details.code === 'not_for_endpoint'), 'refusals audited');
    });

    it('retrieve obeys checkout: the secret is held for the user; someone else is refused with the seed message', async () => {
      const a = await retrieve(ids.held, { user: 'alice' });
      assert.equal(a.statusCode, 200, a.body);
      const st = await t.req('GET', `/api/v1/secrets/${ids.held}/checkout`, { token: users.alice.token });
      assert.equal(st.json().checkedOut, true, st.body);
      assert.equal(st.json().mine, true, st.body);
      const b = await retrieve(ids.held, { user: 'bob@corp.example' });
      expectError(b, 409, 'credential_unavailable');
      // bob keeps no personal credential for web1: seed 003's second message.
      assert.match(b.json().error.message, /No shared or personal credentials are available\./);
      await t.req('POST', `/api/v1/secrets/${ids.held}/checkin`, { token: users.alice.token });
      assert.equal((await retrieve(ids.held, { user: 'bob@corp.example' })).statusCode, 200);
    });

    it('retrieve obeys access request grants: refused until a request is approved', async () => {
      const s = await admin('POST', '/api/v1/secrets', { name: 'web1 guarded', template: 'unix-account', fields: { machine: 'web1.corp.example', username: 'guarded', password: pw.hidden } });
      await share(s.id, ['alice']);
      await admin('POST', '/api/v1/access-policies', { name: 'needs-request', approvers: [{ principalType: 'user', principal: 'admin' }] });
      await admin('PATCH', `/api/v1/secrets/${s.id}`, { policyId: 'needs-request' });
      const refused = await retrieve(s.id, { user: 'alice', protocol: 'ssh' });
      expectError(refused, 403, 'access_request_required');
      const req = await t.req('POST', '/api/v1/access-requests', { token: users.alice.token, body: { secretId: s.id, reason: 'ECM injection' } });
      assert.equal(req.statusCode, 201, req.body);
      await admin('POST', `/api/v1/access-requests/${req.json().id}/approve`, {});
      const ok = await retrieve(s.id, { user: 'alice', protocol: 'ssh' });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(ok.json().secrets.password, pw.hidden);
    });

    it('token cache: reused until cleared; Clear Token Cache empties it', async () => {
      await list('alice', 'web1');
      const cache = await admin('GET', '/api/v1/webservices/token-cache');
      assert.ok(cache.entries >= 2, JSON.stringify(cache));
      assert.ok(cache.items.some((i: any) => i.application.name === 'ecm-app' && i.user.name === 'alice'));
      const lists = (await audit('webservices.credentials.list')).filter((e) => e.outcome === 'success' && e.details.onBehalfOf.username === 'alice');
      assert.equal(lists[0].details.tokenCached, true);
      const cleared = await admin('DELETE', '/api/v1/webservices/token-cache');
      assert.equal(cleared.cleared, cache.entries);
      assert.equal((await admin('GET', '/api/v1/webservices/token-cache')).entries, 0);
      await list('alice', 'web1');
      const after = (await audit('webservices.credentials.list')).filter((e) => e.outcome === 'success' && e.details.onBehalfOf.username === 'alice');
      assert.equal(after[0].details.tokenCached, false);
      assert.notEqual(after[0].details.tokenRef, lists[0].details.tokenRef);
      assert.equal((await audit('webservices.token_cache.clear')).length, 1);
      // The cached token is sealed under its own data key: the row holds it only encrypted; the audit trail has a short hash of it.
      const row = await t.core.store.db.selectFrom('webserviceTokens').selectAll().where('userId', '=', users.alice.id).executeTakeFirstOrThrow();
      const token = await t.core.dataKeys.decrypt(row.dataKeyId, row.tokenEnc, `webservice-token:${row.applicationId}:${row.userId}`);
      assert.ok(token.length >= 40 && !row.tokenEnc.includes(token));
      assert.equal(createHash('sha256').update(token).digest('hex').slice(0, 12), after[0].details.tokenRef);
      assert.ok(!JSON.stringify(await audit('webservices.*')).includes(token), 'the token itself is never audited');
    });

    it('revoke: the application must ask again; deny: a distinct refusal', async () => {
      const mine = (await t.req('GET', '/api/v1/webservices/applications', { token: users.alice.token })).json().items;
      const r = await t.req('DELETE', `/api/v1/webservices/applications/${mine[0].id}`, { token: users.alice.token });
      assert.equal(r.statusCode, 204, r.body);
      assert.ok(!(await admin('GET', '/api/v1/webservices/token-cache')).items.some((i: any) => i.user.name === 'alice'), 'revoking dropped the cached token');
      expectError(await list('alice', 'web1'), 403, 'approval_pending');
      expectError(await retrieve(ids.web1, { user: 'alice' }), 403, 'approval_pending');
      const again = (await t.req('GET', '/api/v1/webservices/applications', { token: users.alice.token })).json().items;
      assert.equal(again[0].status, 'pending');
      const d = await t.req('POST', `/api/v1/webservices/applications/${again[0].id}/deny`, { token: users.alice.token });
      assert.equal(d.json().status, 'denied');
      expectError(await list('alice', 'web1'), 403, 'approval_denied');
      await approve({ token: users.alice.token }).catch(() => undefined);
      const ok = await t.req('POST', `/api/v1/webservices/applications/${again[0].id}/approve`, { token: users.alice.token });
      assert.equal(ok.json().status, 'approved');
      assert.equal((await list('alice', 'web1')).statusCode, 200);
    });

    it('Test Settings: the list without values, pending approval, unsaved settings', async () => {
      const test = (body: Record<string, unknown>, token = t.adminToken) => t.req('POST', '/api/v1/webservices/test', { token, body });
      const a = await test({ user: 'alice', endpoint: 'web1', application: 'ecm-app' });
      assert.equal(a.statusCode, 200, a.body);
      assert.equal(a.json().approval, 'approved');
      assert.equal(a.json().credentials.length, 5);
      noSecretIn(a.body, 'the test answer');
      // The application itself, for someone who has not approved it yet: pending, no list.
      const newcomer = await t.user('erin', ['User']);
      await share(ids.web1, ['alice', 'bob@corp.example', 'carol', 'dave', 'dave@corp.example', 'erin']);
      const p = await test({ user: 'erin', endpoint: 'web1' }, appToken);
      assert.equal(p.statusCode, 200, p.body);
      assert.equal(p.json().approval, 'pending');
      assert.deepEqual(p.json().credentials, []);
      assert.match(p.json().message, /pending approval/);
      // Unsaved settings are tried, not saved: a Machine Field that no template has lists nothing; fall-back on for this test only.
      const u = await test({ user: 'alice', endpoint: 'web1', application: 'ecm-app', settings: { webservicesMachineField: 'Host', webservicesIncludeDomainCredentialsFor: '' } });
      assert.deepEqual(u.json().credentials, []);
      const f = await test({ user: 'CORP\\carol', endpoint: 'web1', settings: { webservicesFallbackToLocal: true } });
      assert.equal(f.json().approval, 'not_checked');
      assert.equal(f.json().user.matchedAs, 'fall-back');
      assert.equal((await admin('GET', '/api/v1/settings')).values.webservicesFallbackToLocal, false);
      expectError(await test({ user: 'alice', endpoint: 'web1' }, users.alice.token), 403, 'forbidden');
      // A person (not an application account) holding Web Services Impersonate is the
      // application of their own test, as of their real calls: erin has not approved them, so
      // nothing is listed (before: 'not_checked', and erin's credentials listed).
      const impersonator = await t.user('ws-impersonator', ['ECM']);
      const q = await test({ user: 'erin', endpoint: 'web1' }, impersonator.token);
      assert.equal(q.statusCode, 200, q.body);
      assert.equal(q.json().approval, 'pending');
      assert.deepEqual(q.json().credentials, []);
      void newcomer;
    });

    it('no secret value in the audit trail or the log', async () => {
      const all = await admin('GET', '/api/v1/audit?action=webservices.*&limit=500');
      assert.ok(all.items.length > 10);
      noSecretIn(JSON.stringify(all), 'the audit trail');
      noSecretIn(t.logs(), 'the log');
    });

    it('bad input on every route', async () => {
      expectError(await list('bad\\user\\x', 'web1'), 400, 'invalid_user_id');
      expectError(await list('alice', ''), 400, 'invalid_request');
      expectError(await t.req('GET', '/api/v1/webservices/credentials?user=alice', { token: appToken }), 400, 'invalid_request');
      expectError(await retrieve(ids.web1, {}), 400, 'invalid_request');
      expectError(await retrieve(ids.web1, { user: 'alice', protocol: 'vnc' }), 400, 'invalid_request');
      expectError(await t.req('POST', '/api/v1/webservices/test', { token: t.adminToken, body: { user: 'alice', endpoint: 'web1', settings: { webservicesMachineField: '' } } }), 400, 'invalid_request');
      expectError(await t.req('POST', '/api/v1/webservices/test', { token: t.adminToken, body: { user: 'alice', endpoint: 'web1', application: 'nobody' } }), 404, 'application_not_found');
      expectError(await t.req('PATCH', '/api/v1/settings', { token: t.adminToken, body: { webservicesIncludeDomainCredentialsFor: 'corp example' } }), 400, 'invalid_request');
      expectError(await t.req('POST', '/api/v1/webservices/applications/nope/approve', { token: users.alice.token }), 404, 'not_found');
    });
  });
}
