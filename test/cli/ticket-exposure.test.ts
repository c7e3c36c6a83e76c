// No ticket in any log, and a ticket presented the wrong way does not stay valid. Against
// the real server (its standard output and logs/gatehouse.log), with real clients:
//   - rdesktop -u <ticket>: the ticket travels as the RDP cookie ("Cookie: mstshash=…");
//   - ssh with the ticket and junk as the user name ("<ticket>x", "me<ticket>", "admin:<ticket>");
//   - the browser terminal URL with the ticket in the wrong place (other parameter, path,
//     junk appended).
// Each time: the connection is refused, `ticket.refused` (reason misplaced) is audited, the
// ticket can no longer be used, and neither log (nor the audit trail) holds the ticket.
// An RDP connection without any ticket is audited as ticket.refused (missing) too.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { run } from '../support/ssh-client.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { startXvfb, waitFor, type XDisplay } from '../support/xrdp.js';
import { ensureBuilt } from '../support/built.js';
import { api, apiLogin, killAll, removeTempDirs, Server, serverEnv, tempDir } from './support.js';

const ADMIN_PW = 'Exposure-Admin-Pw-1';

describe('tickets presented the wrong way: refused, voided, audited, never logged', { timeout: 600_000 }, () => {
  let sshd: Sshd;
  let display: XDisplay;
  let server: Server;
  let dataDir: string;
  let token: string;
  let sshPort: number;
  let rdpPort: number;
  let knownHosts: string;
  let unix: string;
  let windows: string;
  /** Every ticket a test exposed: none may appear in a log. */
  const exposed: string[] = [];

  const call = async (method: string, path: string, payload?: unknown) => {
    const r = await api(server.url, method, path, { token, ...(payload !== undefined ? { body: payload } : {}) });
    let body: any;
    try {
      body = JSON.parse(r.body);
    } catch {
      body = undefined;
    }
    return { status: r.status, body, raw: r.body };
  };
  const launch = async (secretId: string, launcher: string) => {
    const r = await call('POST', `/api/v1/secrets/${secretId}/launch`, { launcher });
    assert.equal(r.status, 200, r.raw);
    exposed.push(r.body.ticket);
    return r.body.ticket as string;
  };
  const sshArgs = (user: string) => ['-F', '/dev/null', '-p', String(sshPort), '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-l', user, '127.0.0.1'];
  const refusals = async () => (await call('GET', '/api/v1/audit?action=ticket.refused&limit=500')).body.items as any[];
  const logs = () => server.stdout + server.stderr + (existsSync(join(dataDir, 'logs', 'gatehouse.log')) ? readFileSync(join(dataDir, 'logs', 'gatehouse.log'), 'utf8') : '');
  const assertNotLogged = (ticket: string, what: string) => {
    const text = logs();
    assert.ok(!text.includes(ticket), `${what}: the ticket is in the server log`);
    assert.ok(!text.includes(ticket.slice(0, 16)) || !text.includes(ticket.slice(16)), `${what}: no half of the ticket in the log`);
  };
  /** A used or voided SSH ticket: the SSH door refuses it (audited as used). */
  const assertSshTicketDead = async (ticket: string) => {
    const r = await run('ssh', [...sshArgs(ticket), 'echo', 'must-not-run'], { timeoutMs: 60_000 });
    assert.notEqual(r.code, 0, 'the ticket no longer opens a session');
    assert.ok(!r.stdout.includes('must-not-run'));
  };

  before(async () => {
    ensureTargetAccount();
    ensureBuilt();
    const work = tempDir('gatehouse-exposure-');
    dataDir = join(work, 'data');
    [sshd, display] = await Promise.all([startSshd(), startXvfb()]);
    const env = await serverEnv(dataDir, { GATEHOUSE_ADMIN_PASSWORD: ADMIN_PW });
    server = await Server.start(env);
    // Read after the start: a door port another test took first is drawn again (support.ts).
    sshPort = Number(env.GATEHOUSE_SSH_PORT);
    rdpPort = Number(env.GATEHOUSE_RDP_PORT);
    token = await apiLogin(server.url, 'admin', ADMIN_PW);
    const secret = async (name: string, template: string, port: number) => {
      const r = await call('POST', '/api/v1/secrets', { name, template, fields: { machine: '127.0.0.1', port, username: 'ghtarget', password: TARGET_PASSWORD } });
      assert.equal(r.status, 201, r.raw);
      return r.body.id as string;
    };
    unix = await secret('unix-box', 'unix-account', sshd.port);
    windows = await secret('windows-box', 'windows-account', 3389);
    const l = await call('POST', `/api/v1/secrets/${unix}/launch`, { launcher: 'ssh' });
    exposed.push(l.body.ticket);
    knownHosts = join(work, 'known_hosts');
    writeFileSync(knownHosts, (l.body.ssh.knownHosts as string[]).join('\n') + '\n');
  });

  after(async () => {
    await server?.stop().catch(() => server.kill());
    await Promise.allSettled([sshd?.stop(), display?.stop()]);
    killAll();
    removeTempDirs();
  });

  /** rdesktop as the person ran it, against the RDP door; it gives up once the door drops the connection. */
  const rdesktop = async (user: string) => {
    const p = spawn('rdesktop', ['-u', user, '-a', '16', `127.0.0.1:${rdpPort}`], { env: { ...process.env, DISPLAY: display.display }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    const [code] = (await once(p, 'exit')) as [number | null];
    clearTimeout(timer);
    return { code, out };
  };

  it('rdesktop -u <ticket> (the ticket as the RDP cookie): refused, voided, audited; the cookie is not logged', async () => {
    const ticket = await launch(windows, 'rdp');
    const before = (await refusals()).length;
    const r = await rdesktop(ticket);
    assert.notEqual(r.code, 0, r.out);
    const events = (await refusals()).slice(0, (await refusals()).length - before);
    const e = events.find((x) => x.details.reason === 'misplaced');
    assert.ok(e, `ticket.refused (misplaced) audited: ${JSON.stringify(events)}`);
    assert.equal(e.details.door, 'rdp');
    assert.equal(e.details.where, 'RDP cookie (user name)');
    assert.ok(e.details.ticketId);
    assert.equal(e.outcome, 'failure');
    // The ticket is used up: its .rdp file is no longer handed out.
    const f = await call('GET', `/api/v1/launch/rdp-file?ticket=${ticket}`);
    assert.equal(f.status, 409, f.raw);
    assert.match(logs(), /TicketRefused: misplaced/);
    assertNotLogged(ticket, 'RDP cookie');
  });

  it('an RDP connection without a ticket is audited as ticket.refused (missing), with its cookie', async () => {
    const before = (await refusals()).length;
    const r = await rdesktop('alice');
    assert.notEqual(r.code, 0, r.out);
    const events = (await refusals()).slice(0, (await refusals()).length - before);
    const e = events.find((x) => x.details.reason === 'missing');
    assert.ok(e, `ticket.refused (missing) audited: ${JSON.stringify(events)}`);
    assert.equal(e.details.door, 'rdp');
    assert.equal(e.details.cookie, 'alice');
  });

  it('the SSH user name with junk around the ticket: refused, voided, audited, not logged', async () => {
    for (const [shape, user] of [
      ['ticket + junk', (t: string) => `${t}xyz`],
      ['junk + ticket', (t: string) => `foo${t}`],
      ['user:ticket', (t: string) => `admin:${t}`],
    ] as const) {
      const ticket = await launch(unix, 'ssh');
      const before = (await refusals()).length;
      const r = await run('ssh', [...sshArgs(user(ticket)), 'echo', 'must-not-run'], { timeoutMs: 60_000 });
      assert.notEqual(r.code, 0, `${shape}: refused`);
      assert.ok(!r.stdout.includes('must-not-run'));
      const events = (await refusals()).slice(0, (await refusals()).length - before);
      const e = events.find((x) => x.details.reason === 'misplaced');
      assert.ok(e, `${shape}: ticket.refused (misplaced) audited: ${JSON.stringify(events)}`);
      assert.equal(e.details.door, 'ssh');
      assert.equal(e.details.where, 'SSH user name');
      assert.equal(events.filter((x) => x.details.reason === 'misplaced').length, 1, `${shape}: one refusal per ticket, however many auth attempts`);
      await assertSshTicketDead(ticket);
      assertNotLogged(ticket, shape);
    }
    // A long user:secret name that hides no issued ticket still works as before (here: an unknown user).
    const r = await run('ssh', [...sshArgs('nobody:a-secret-name-long-enough-to-look-like-a-ticket'), 'true'], { timeoutMs: 60_000 });
    assert.equal(r.code, 255);
    assert.match(r.stderr, /Permission denied/);
  });

  it('the browser terminal URL with the ticket in the wrong place: refused, voided, audited, not logged', async () => {
    const wss = server.url.replace('https', 'wss');
    const open = async (path: string) => {
      const ws = new WebSocket(`${wss}${path}`, { rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` } });
      const frames: any[] = [];
      ws.on('message', (d, binary) => {
        if (!binary) frames.push(JSON.parse(d.toString()));
      });
      ws.on('error', () => undefined);
      // Refused before the upgrade: an HTTP status; after it: the frames until close.
      const status = await new Promise<number>((resolve) => {
        ws.on('unexpected-response', (req, res) => {
          res.resume();
          req.destroy();
          resolve(res.statusCode ?? 0);
        });
        ws.on('close', () => resolve(101));
      });
      return { status, frames };
    };
    for (const [shape, path, expect] of [
      ['another parameter', (t: string) => `/api/v1/terminal?t=${t}&consent=1`, 400],
      ['in the path', (t: string) => `/api/v1/terminal/${t}`, 404],
      ['junk appended', (t: string) => `/api/v1/terminal?ticket=${t}.x&consent=1`, 101],
    ] as const) {
      const ticket = await launch(unix, 'ssh');
      const before = (await refusals()).length;
      const r = await open(path(ticket));
      assert.equal(r.status, expect, shape);
      if (expect === 101) assert.match(String(r.frames[0]?.message), /could not be started/, JSON.stringify(r.frames));
      const e = await waitFor(`${shape}: ticket.refused (misplaced)`, async () => (await refusals()).slice(0, (await refusals()).length - before).find((x) => x.details.reason === 'misplaced'), 10_000, 100);
      assert.equal(e.details.door, 'web');
      // The right URL no longer opens a session.
      const again = await open(`/api/v1/terminal?ticket=${ticket}&consent=1`);
      assert.match(String(again.frames[0]?.message), /could not be started/, `${shape}: the ticket is void: ${JSON.stringify(again.frames)}`);
      assertNotLogged(ticket, shape);
    }
  });

  it('no ticket of this file is in the log or the audit trail', async () => {
    const audit = (await call('GET', '/api/v1/audit/export')).raw;
    for (const t of exposed) {
      assertNotLogged(t, 'overall');
      assert.ok(!audit.includes(t), 'the audit trail holds no ticket');
    }
  });
});
