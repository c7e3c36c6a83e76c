// Target accounts in an LDAP directory through the core (issue 12, points 2-5) against a
// real OpenLDAP slapd (test/support/slapd.ts): rotation of an LDAP secret through its
// management bind (the old bind fails, the new one works, the vault holds the new one),
// heartbeat drift after a password changed behind Gatehouse's back, and a JIT entry created
// under the JIT OU in the groups of the chosen access level for a session and deleted (with
// its memberships) when the session ends. No password in the log or the API answers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Attribute, Change, Client } from 'ldapts';
import { startGateway, type Gateway } from '../support/gateway.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import type { Credential } from '../../src/core/vault/secrets.js';

let slapd: Slapd;
let gw: Gateway;
const answers: string[] = [];

async function canBind(dn: string, password: string): Promise<boolean> {
  const c = new Client({ url: slapd.url });
  try {
    await c.bind(dn, password);
    return true;
  } catch {
    return false;
  } finally {
    await c.unbind().catch(() => undefined);
  }
}

async function asAdmin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ url: slapd.url });
  try {
    await c.bind(slapd.adminDn, slapd.adminPassword);
    return await fn(c);
  } finally {
    await c.unbind();
  }
}

const members = (group: string) =>
  asAdmin(async (c) => {
    const m = (await c.search(slapd.groupDn(group), { scope: 'base', attributes: ['member'] })).searchEntries[0]?.member;
    return (Array.isArray(m) ? m : m === undefined ? [] : [m]).map(String).map((s) => s.toLowerCase());
  });
const jitEntries = () => asAdmin(async (c) => (await c.search(slapd.jitOu, { scope: 'one', attributes: ['uid'] })).searchEntries.map((e) => String(e.uid)));

describe('LDAP target accounts through the core (real slapd)', () => {
  const api = async (method: string, url: string, body?: unknown) => {
    const r = await gw.api(method, url, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });
    if (!/\/reveal$/.test(url)) answers.push(r.raw);
    return r;
  };
  let mgmtId = '';
  const settings = () => ({ url: slapd.url, baseDn: slapd.peopleOu, jitOu: slapd.jitOu, groupsDn: slapd.groupsOu });
  const secret = async (name: string, username: string, password: string) => {
    const r = await api('POST', '/api/v1/secrets', { name, template: 'ldap-account', fields: { machine: '127.0.0.1', port: slapd.port, username, password, ...settings() } });
    assert.equal(r.status, 201, r.raw);
    return r.body.id as string;
  };
  const reveal = async (id: string) => (await gw.api('POST', `/api/v1/secrets/${id}/reveal`, { token: gw.adminToken })).body.fields.password as string;

  before(async () => {
    slapd = await startSlapd();
    gw = await startGateway('sqlite');
    const t = await api('POST', '/api/v1/templates', {
      name: 'ldap-account',
      targetKind: 'ldap',
      machineField: 'machine',
      usernameField: 'username',
      fields: [
        { name: 'machine', label: 'Directory host', type: 'text' },
        { name: 'port', label: 'Port', type: 'number' },
        { name: 'username', label: 'Account', type: 'text' },
        { name: 'password', label: 'Password', type: 'password', secret: true },
        { name: 'url', label: 'URL', type: 'text' },
        { name: 'baseDn', label: 'Base DN', type: 'text' },
        { name: 'jitOu', label: 'JIT OU', type: 'text' },
        { name: 'groupsDn', label: 'Groups DN', type: 'text' },
      ],
    });
    assert.equal(t.status, 201, t.raw);
    mgmtId = await secret('ldap management bind', slapd.serviceDn, slapd.servicePassword);
  });

  after(async () => {
    await gw?.running.core.rotation.settled();
    await gw?.running.core.jit.settled();
    await gw?.close();
    await slapd?.stop();
  });

  it('rotates an LDAP secret through the management bind: the old bind fails, the new one works', async () => {
    const old = slapd.seed.users.find((u) => u.uid === 'bob')!.password;
    const id = await secret('ldap bob', 'bob', old);
    assert.equal((await api('PATCH', `/api/v1/secrets/${id}`, { account: { managementSecretId: mgmtId } })).body.account.targetKind, 'ldap');
    const r = await api('POST', `/api/v1/secrets/${id}/rotate`);
    assert.equal(r.status, 200, r.raw);
    const now = await reveal(id);
    assert.notEqual(now, old);
    assert.equal(await canBind(slapd.userDn('bob'), old), false, 'old bind refused');
    assert.equal(await canBind(slapd.userDn('bob'), now), true, 'new bind accepted');
    assert.ok(!gw.logs().includes(now) && !answers.join('\n').includes(now));
  });

  it('heartbeat flags a password changed behind Gatehouse\'s back as drift', async () => {
    const pw = slapd.seed.users.find((u) => u.uid === 'dave')!.password;
    const id = await secret('ldap dave', 'dave', pw);
    assert.equal((await api('POST', `/api/v1/secrets/${id}/heartbeat`)).body.status, 'ok');
    await asAdmin((c) => c.modify(slapd.userDn('dave'), [new Change({ operation: 'replace', modification: new Attribute({ type: 'userPassword', values: ['Changed-Behind-Our-Back-1'] }) })]));
    const hb = await api('POST', `/api/v1/secrets/${id}/heartbeat`);
    assert.equal(hb.status, 200, hb.raw);
    assert.equal(hb.body.status, 'drift');
    assert.equal((await api('GET', `/api/v1/secrets/${id}`)).body.account.lastHeartbeat.status, 'drift');
  });

  it('a JIT entry under the JIT OU in the level\'s group for a session, deleted with its membership when the session ends', async () => {
    const id = await secret('ldap jit', 'nobody-stored', 'Unused-Stored-Ldap-Pw-1');
    const set = await api('PATCH', `/api/v1/secrets/${id}`, { account: { managementSecretId: mgmtId, jit: { enabled: true, namePrefix: 'ghc-' } } });
    assert.equal(set.status, 200, set.raw);
    const level = await api('POST', '/api/v1/access-levels', { name: 'ldap operators', targetGroups: [slapd.groupDn('operators')], secretIds: [id], preApproved: [{ principalType: 'user', principal: 'admin' }] });
    assert.equal(level.status, 201, level.raw);
    const core = gw.running.core;
    // What a redeem does (Launching.redeem): the level chosen at launch, remembered for the ticket, then prepare.
    core.jit.remember('ticket-ldap-jit', level.body.id, Date.now() + 60_000);
    const cred: Credential = await core.secrets.credential(id);
    const sessionId = 'ldap-jit-session-1';
    const prepared = await core.jit.prepare(sessionId, id, 'ticket-ldap-jit', cred, { id: null, name: 'ldap-core-test', ip: null });
    const name = prepared.credential.username!;
    assert.match(name, /^ghc-[a-z0-9]{8}$/);
    const dn = `uid=${name},${slapd.jitOu}`.toLowerCase();
    assert.ok((await jitEntries()).includes(name), 'entry under the JIT OU during the session');
    assert.ok((await members('operators')).includes(dn), 'member of the level\'s group during the session');
    assert.equal(await canBind(dn, String(prepared.credential.fields.password)), true, 'the session credential binds');
    prepared.started();
    await core.jit.sessionEnded(sessionId);
    assert.ok(!(await jitEntries()).includes(name), 'entry deleted after the session');
    assert.ok(!(await members('operators')).includes(dn), 'membership gone');
    assert.ok(!gw.logs().includes(String(prepared.credential.fields.password)));
  });
});
