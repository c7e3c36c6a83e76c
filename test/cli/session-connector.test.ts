// Session Connector end to end (issue 13 point 4, seed 000), the real CLI against a real
// `gatehouse serve`: the setting "Session Connector" hides and refuses session connector
// launchers until it is on; "Session Connector Allow Connection Sharing" (allowConnectionSharing)
// set through the settings reaches the .rdp file `gatehouse launch` downloads; the launcher's
// "RDS Server Credentials" are fetched by a gateway node's own application account that the
// secret is shared with (and by nobody else); a ticket refused at the door leaves a log line
// searchable by the word SessionConnector (and TicketRefused) with the reason.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, apiLogin, cleanEnv, fails, freePort, killAll, ok, removeTempDirs, runCli, Server, serverEnv, tempDir } from './support.js';

const T = { timeout: 120_000 };

after(() => {
  killAll();
  removeTempDirs();
});

/** One ssh attempt with the ticket as the user name (no password, no key: the door decides on the ticket). */
function sshWithTicket(port: number, ticket: string): Promise<{ code: number | null; out: string }> {
  return new Promise((res) => {
    const p = spawn('ssh', ['-p', String(port), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=10', `${ticket}@127.0.0.1`, 'true'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      res({ code, out });
    });
  });
}

describe('Session Connector (CLI and server)', () => {
  const adminPw = `Cli-Admin-${randomBytes(6).toString('hex')}`;
  const nodePw = `Gw-Node-Pw-${randomBytes(6).toString('hex')}`;
  const rdsPw = `Rds-Cred-${randomBytes(6).toString('hex')}`;
  const winPw = `Win-Admin-${randomBytes(6).toString('hex')}`;
  let server: Server;
  let token: string;
  let sshPort: number;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const ids = {} as Record<'rds' | 'win' | 'box', string>;
  const call = (method: string, path: string, body?: unknown, t = token) => api(server.url, method, path, { token: t, ...(body !== undefined ? { body } : {}) });
  const must = async (method: string, path: string, body?: unknown, t = token) => {
    const r = await call(method, path, body, t);
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.body}`);
    return r.body ? r.json() : undefined;
  };

  before(async () => {
    dir = tempDir();
    sshPort = await freePort();
    server = await Server.start(await serverEnv(join(dir, 'data'), { GATEHOUSE_ADMIN_PASSWORD: adminPw, GATEHOUSE_SSH_PORT: String(sshPort) }));
    token = await apiLogin(server.url, 'admin', adminPw);
    ids.rds = (await must('POST', '/api/v1/secrets', { name: 'rds-cluster-cred', template: 'active-directory-account', fields: { domain: 'CORP', username: 'svc-rds', password: rdsPw } })).id;
    ids.win = (await must('POST', '/api/v1/secrets', { name: 'win1', template: 'windows-account', fields: { machine: '127.0.0.1', username: 'Administrator', password: winPw } })).id;
    ids.box = (await must('POST', '/api/v1/secrets', { name: 'box1', template: 'unix-account', fields: { machine: '127.0.0.1', port: 1, username: 'root', password: winPw } })).id;
    env = cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, 'admin.json') });
    ok(await runCli(['login', '--url', server.url, '-u', 'admin', '--password-stdin'], { env, input: adminPw }), 'admin login');
  });
  after(() => server?.kill());

  it('off by default: session connector launchers cannot be created and are not listed', T, async () => {
    assert.equal((await must('GET', '/api/v1/settings')).values.sessionConnector, false);
    const r = await call('POST', '/api/v1/launchers', { name: 'RDS cluster', type: 'session-connector', childType: 'rdp', gatewayHost: '127.0.0.1' });
    assert.equal(r.status, 403, r.body);
    assert.equal(r.json().error.code, 'session_connector_disabled');
    assert.match(r.json().error.message, /Session Connector/);
  });

  it('on: the launcher with RDS Server Credentials; allowConnectionSharing reaches the downloaded .rdp file', T, async () => {
    await must('PATCH', '/api/v1/settings', { sessionConnector: true });
    const bad = await call('POST', '/api/v1/launchers', { name: 'x', type: 'session-connector', childType: 'rdp', gatewayHost: '127.0.0.1', options: { rdsServerCredentials: 'no-such-secret' } });
    assert.equal(bad.status, 400, bad.body);
    assert.equal(bad.json().error.code, 'unknown_secret');
    const l = await must('POST', '/api/v1/launchers', { name: 'RDS cluster', type: 'session-connector', childType: 'rdp', gatewayHost: '127.0.0.1', gatewayPort: 3390, options: { rdsServerCredentials: ids.rds } });
    assert.equal(l.options.rdsServerCredentials, ids.rds);
    const tpl = await must('GET', '/api/v1/templates/windows-account');
    await must('PATCH', '/api/v1/templates/windows-account', { launchers: [...tpl.launchers, l.id] });
    assert.ok((await must('GET', '/api/v1/launchers')).items.some((x: any) => x.id === l.id), 'listed while on');

    const download = async (name: string) => {
      const file = join(dir, name);
      ok(await runCli(['launch', 'win1', '--launcher', 'RDS cluster', '--out', file], { env }), `launch → ${name}`);
      return readFileSync(file, 'utf8');
    };
    // Default false: the seed's "disableconnectionsharing" stays on.
    const off = await download('sharing-off.rdp');
    assert.match(off, /^disableconnectionsharing:i:1\r?$/m);
    assert.match(off, /^full address:s:127\.0\.0\.1:3390\r?$/m);
    assert.ok(!off.includes(winPw) && !off.includes(rdsPw), 'no password in the .rdp file');
    await must('PATCH', '/api/v1/settings', { allowConnectionSharing: true });
    assert.equal((await must('GET', '/api/v1/settings')).values.allowConnectionSharing, true);
    const on = await download('sharing-on.rdp');
    assert.match(on, /^disableconnectionsharing:i:0\r?$/m);

    // Turned off again: hidden from the list, and launching is refused with the reason.
    await must('PATCH', '/api/v1/settings', { sessionConnector: false });
    assert.ok(!(await must('GET', '/api/v1/launchers')).items.some((x: any) => x.id === l.id), 'hidden while off');
    fails(await runCli(['launch', 'win1', '--launcher', 'RDS cluster', '--out', join(dir, 'never.rdp')], { env }), /^gatehouse: Session Connector is off/);
    await must('PATCH', '/api/v1/settings', { sessionConnector: true });
  });

  it("RDS Server Credentials: the gateway node's application account, shared, gets them; a person and an unshared node do not", T, async () => {
    const l = (await must('GET', '/api/v1/launchers')).items.find((x: any) => x.name === 'RDS cluster');
    const node = await must('POST', '/api/v1/users', { username: 'gw-node-1', password: nodePw, isApplication: true });
    await must('POST', '/api/v1/users', { username: 'gw-node-2', password: nodePw, isApplication: true });
    const nodeToken = await apiLogin(server.url, 'gw-node-1', nodePw);
    const otherToken = await apiLogin(server.url, 'gw-node-2', nodePw);
    const before = await call('POST', `/api/v1/launchers/${l.id}/rds-credentials`, undefined, nodeToken);
    assert.equal(before.status, 404, before.body);
    // "Share the secret created for the RDS credential ... with the RDS application accounts."
    await must('PUT', `/api/v1/secrets/${ids.rds}/permissions`, { entries: [{ principalType: 'user', principal: node.id, level: 'view' }] });
    const got = await call('POST', `/api/v1/launchers/${l.id}/rds-credentials`, undefined, nodeToken);
    assert.equal(got.status, 200, got.body);
    assert.equal(got.json().fields.username, 'svc-rds');
    assert.equal(got.json().fields.password, rdsPw);
    assert.equal((await call('POST', `/api/v1/launchers/${l.id}/rds-credentials`, undefined, otherToken)).status, 404);
    const person = await call('POST', `/api/v1/launchers/${l.id}/rds-credentials`);
    assert.equal(person.status, 403, person.body);
    const events = (await must('GET', '/api/v1/audit?action=launcher.rds_credentials&limit=10')).items;
    assert.equal(events.length, 1);
    assert.equal(events[0].actorName, 'gw-node-1');
  });

  it('a refused ticket: the log line says SessionConnector and TicketRefused with the reason', T, async () => {
    const l = await must('POST', '/api/v1/launchers', { name: 'SSH via connector', type: 'session-connector', childType: 'ssh', gatewayHost: '127.0.0.1', gatewayPort: sshPort });
    const tpl = await must('GET', '/api/v1/templates/unix-account');
    await must('PATCH', '/api/v1/templates/unix-account', { launchers: [...tpl.launchers, l.id] });
    const launched = await must('POST', `/api/v1/secrets/${ids.box}/launch`, { launcher: l.id });
    // The setting goes off between the launch and the connection: the door refuses the ticket.
    await must('PATCH', '/api/v1/settings', { sessionConnector: false });
    const logBefore = server.stdout.length + server.stderr.length;
    const r = await sshWithTicket(sshPort, launched.ticket);
    assert.notEqual(r.code, 0, r.out);
    assert.ok(!/SessionConnector|launcher_inactive/.test(r.out), `the client hears nothing specific: ${r.out}`);
    const deadline = Date.now() + 20_000;
    let line: string | undefined;
    while (!line && Date.now() < deadline) {
      line = (server.stdout + server.stderr).split('\n').find((x) => x.includes('SessionConnector') && x.includes('TicketRefused: launcher_inactive'));
      if (!line) await new Promise((res) => setTimeout(res, 200));
    }
    assert.ok(line, `a SessionConnector log line in:\n${(server.stdout + server.stderr).slice(logBefore - 2000)}`);
    const entry = JSON.parse(line);
    assert.equal(entry.reason, 'launcher_inactive');
    assert.equal(entry.component, 'SessionConnector');
    assert.match(entry.detail, /setting "Session Connector" is off/);
    assert.match(entry.msg, /^SessionConnector TicketRefused: launcher_inactive \(/);
    assert.ok(!(server.stdout + server.stderr).includes(rdsPw) && !(server.stdout + server.stderr).includes(winPw), 'no password in the log');
  });
});
