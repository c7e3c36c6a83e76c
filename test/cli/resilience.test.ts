// A node never dies on one session's I/O error, and /healthz says when it cannot write.
// The real server (bin/gatehouse.js serve, i.e. dist/) with real targets (OpenSSH sshd,
// inetutils telnetd, xrdp) and real clients (OpenSSH, xfreerdp, a WebSocket):
//   - recordings directory immutable (chattr +i): a launch over each door (SSH, Telnet via
//     SSH, browser terminal, RDP) is refused with a generic message and audited with the
//     exact error; a live session keeps relaying byte-exact; /healthz answers 503 degraded
//     until the directory is writable again;
//   - a live session's recording file immutable: that session is ended (fail closed), audited;
//   - descriptors exhausted (prlimit on the running server, idle connections): the server
//     stays up, refuses a browser-terminal launch (EMFILE), keeps relaying, answers /healthz
//     on a kept-alive connection, and recovers once descriptors are free;
//   - database files immutable: /healthz reports the database check failing.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import WebSocket from 'ws';
import { ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { interactive, Proc, run } from '../support/ssh-client.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { startTelnetd, type TelnetdHandle } from '../support/telnetd.js';
import { runXfreerdp, startXrdp, startXvfb, waitFor, type XDisplay, type Xrdp } from '../support/xrdp.js';
import { ensureBuilt } from '../support/built.js';
import { findRecording } from '../support/recordings.js';
import { api, apiLogin, killAll, removeTempDirs, Server, serverEnv, tempDir } from './support.js';

const ADMIN_PW = 'Resilience-Admin-Pw-1';
const REFUSED = 'session refused: it cannot be recorded right now';
const LOST = 'session ended: its recording failed';

const chattr = (flag: '+i' | '-i', paths: string[]) => {
  if (paths.length) execFileSync('chattr', [flag, ...paths]);
};
/** A directory and every directory below it. */
function dirsUnder(root: string): string[] {
  const out = [root];
  for (const e of readdirSync(root, { withFileTypes: true })) if (e.isDirectory()) out.push(...dirsUnder(join(root, e.name)));
  return out;
}

/** GET over a given agent (a kept-alive connection opened before descriptors ran out). */
function get(url: string, path: string, agent: Agent): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { agent, rejectUnauthorized: false, timeout: 30_000 }, (r) => {
      let body = '';
      r.on('data', (c: Buffer) => (body += c.toString()));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, json: JSON.parse(body) }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

describe('a node survives I/O errors of single sessions; /healthz reports them', { timeout: 900_000 }, () => {
  let sshd: Sshd;
  let telnetd: TelnetdHandle;
  let xrdp: Xrdp;
  let display: XDisplay;
  let server: Server;
  let dataDir: string;
  let token: string;
  let sshPort: number;
  let knownHosts: string;
  let work: string;
  const secrets: Record<'ssh' | 'telnet' | 'rdp', string> = { ssh: '', telnet: '', rdp: '' };
  const immutable = new Set<string>();
  const relays: Proc[] = [];

  const recordings = () => join(dataDir, 'recordings');
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
  const launch = async (secret: keyof typeof secrets, launcher: string) => {
    const r = await call('POST', `/api/v1/secrets/${secrets[secret]}/launch`, { launcher });
    assert.equal(r.status, 200, r.raw);
    return r.body as { ticket: string; rdpFile?: string };
  };
  const sshArgs = (ticket: string, options: string[] = []) => ['-F', '/dev/null', '-p', String(sshPort), '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', ...options, `${ticket}@127.0.0.1`];
  const auditOf = async (action: string) => (await call('GET', `/api/v1/audit?action=${action}&limit=500`)).body.items as any[];
  const sessionsWith = async (reason: string) => ((await call('GET', '/api/v1/sessions?limit=500')).body.items as any[]).filter((s) => s.endReason === reason);
  const healthz = async () => {
    const r = await api(server.url, 'GET', '/healthz');
    return { status: r.status, json: r.json() };
  };
  const alive = () => assert.ok(server.running, `the server is running\nstdout: ${server.stdout.slice(-3000)}\nstderr: ${server.stderr}`);

  /** A long-running `ssh <ticket>@gatehouse cat`: whatever goes in must come back byte for byte. */
  const relay = (ticket: string) => {
    const p = new Proc('ssh', [...sshArgs(ticket), 'cat'], { timeoutMs: 900_000 });
    relays.push(p);
    let sent = '';
    return {
      p,
      async check(what: string) {
        const chunk = `${randomBytes(3000).toString('base64')}\n`;
        sent += chunk;
        p.write(chunk);
        await p.waitFor(chunk, 30_000).catch((e) => assert.fail(`${what}: ${(e as Error).message.slice(0, 500)}`));
        assert.equal(p.stdout, sent, `${what}: the live session relays byte-exact`);
      },
    };
  };

  before(async () => {
    ensureTargetAccount();
    ensureBuilt();
    work = tempDir('gatehouse-resilience-');
    dataDir = join(work, 'data');
    [sshd, telnetd, xrdp, display] = await Promise.all([startSshd(), startTelnetd(), startXrdp(), startXvfb()]);
    // The pre-auth connection limits (10 per source) would close the idle sockets the
    // descriptor test opens long before the process runs out; here the process itself must be
    // exhausted, so they are raised (test/protocols/preauth-limits.test.ts covers the limits).
    const env = await serverEnv(dataDir, { GATEHOUSE_ADMIN_PASSWORD: ADMIN_PW, GATEHOUSE_MAX_STARTUPS: '100000', GATEHOUSE_MAX_STARTUPS_PER_SOURCE: '100000' });
    server = await Server.start(env);
    // Read after the start: a door port another test took first is drawn again (support.ts).
    sshPort = Number(env.GATEHOUSE_SSH_PORT);
    token = await apiLogin(server.url, 'admin', ADMIN_PW);
    const secret = async (name: string, template: string, port: number) => {
      const r = await call('POST', '/api/v1/secrets', { name, template, fields: { machine: '127.0.0.1', port, username: 'ghtarget', password: TARGET_PASSWORD } });
      assert.equal(r.status, 201, r.raw);
      return r.body.id as string;
    };
    secrets.ssh = await secret('ssh-box', 'unix-account', sshd.port);
    secrets.telnet = await secret('telnet-box', 'unix-account', telnetd.port);
    secrets.rdp = await secret('rdp-box', 'windows-account', xrdp.port);
    const l = await call('POST', `/api/v1/secrets/${secrets.ssh}/launch`, { launcher: 'ssh' });
    knownHosts = join(work, 'known_hosts');
    writeFileSync(knownHosts, (l.body.ssh.knownHosts as string[]).join('\n') + '\n');
  });

  // A failed test must not leave the next one (or the clean-up) facing immutable files.
  afterEach(() => {
    chattr('-i', [...immutable].filter((p) => existsSync(p)));
    immutable.clear();
  });

  after(async () => {
    for (const p of relays) p.kill();
    await server?.stop().catch(() => server.kill());
    await Promise.allSettled([sshd?.stop(), telnetd?.stop(), xrdp?.stop(), display?.stop()]);
    killAll();
    removeTempDirs();
  });

  it('recordings directory immutable: SSH, Telnet, browser and RDP launches are refused and audited; the live session relays on; /healthz degraded until it is writable', async () => {
    const a = relay((await launch('ssh', 'ssh')).ticket);
    await a.check('before');
    const dirs = dirsUnder(recordings());
    chattr('+i', dirs);
    for (const d of dirs) immutable.add(d);

    // SSH
    const ssh = await run('ssh', [...sshArgs((await launch('ssh', 'ssh')).ticket), 'echo', 'must-not-run'], { timeoutMs: 60_000 });
    assert.notEqual(ssh.code, 0, ssh.stderr);
    assert.ok(ssh.stderr.includes(REFUSED), ssh.stderr);
    assert.ok(!ssh.stdout.includes('must-not-run'), 'the command never ran on the target');
    assert.doesNotMatch(ssh.stdout + ssh.stderr, /EPERM|recordings\//, 'no internal detail reaches the person');
    alive();
    await a.check('after the SSH refusal');

    // Telnet through the SSH door
    const tn = interactive(sshArgs((await launch('telnet', 'telnet')).ticket), { timeoutMs: 60_000 });
    try {
      await tn.waitFor(REFUSED, 40_000);
      await tn.done;
    } finally {
      tn.kill();
    }
    alive();
    await a.check('after the Telnet refusal');

    // Browser terminal
    const web = await launch('ssh', 'ssh');
    const ws = new WebSocket(`${server.url.replace('https', 'wss')}/api/v1/terminal?ticket=${web.ticket}&consent=1`, { rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` } });
    const frames: any[] = [];
    ws.on('message', (d, binary) => {
      if (!binary) frames.push(JSON.parse(d.toString()));
    });
    await once(ws, 'close');
    assert.deepEqual(frames[0], { type: 'error', message: 'the session could not be started; try again later' });
    assert.deepEqual(frames[1], { type: 'end', reason: REFUSED });
    alive();
    await a.check('after the browser refusal');

    // RDP
    const rdp = await launch('rdp', 'rdp');
    const file = join(work, 'refused.rdp');
    writeFileSync(file, (await call('GET', rdp.rdpFile!)).raw);
    const xf = runXfreerdp(file, display);
    try {
      await waitFor('the RDP session to be refused', async () => (await sessionsWith(REFUSED)).some((s) => s.protocol === 'rdp'), 90_000, 250);
      await waitFor('xfreerdp to give up', () => xf.proc.exitCode !== null, 60_000, 250);
      assert.doesNotMatch(xf.output(), /CONNECTION_STATE_ACTIVE/);
    } finally {
      await xf.stop();
    }
    alive();
    await a.check('after the RDP refusal');

    // Each refusal: a session ended with the generic reason, a recording.failed event with the exact error.
    const refused = await sessionsWith(REFUSED);
    assert.deepEqual(refused.map((s) => `${s.door}/${s.protocol}`).sort(), ['rdp/rdp', 'ssh/ssh', 'ssh/telnet', 'web/ssh']);
    const failed = await auditOf('recording.failed');
    for (const s of refused) {
      const e = failed.find((f) => f.targetId === s.id);
      assert.ok(e, `recording.failed audited for ${s.door}/${s.protocol}`);
      assert.equal(e.outcome, 'failure');
      assert.equal(e.details.stage, 'open');
      assert.equal(e.details.code, 'EPERM');
      assert.equal(s.recording.available, false);
    }
    assert.match(server.stdout, /recording could not be created: session refused/);

    const h = await healthz();
    assert.equal(h.status, 503, JSON.stringify(h.json));
    assert.equal(h.json.status, 'degraded');
    assert.deepEqual(h.json.checks.database, { ok: true });
    assert.equal(h.json.checks.recordings.ok, false);
    assert.equal(h.json.checks.recordings.error, 'EPERM');
    assert.equal(h.json.checks.recordings.lastFailure.code, 'EPERM');

    chattr('-i', dirs);
    for (const d of dirs) immutable.delete(d);
    const ok = await healthz();
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal(ok.json.status, 'ok');
    assert.equal(ok.json.checks.recordings.ok, true);
    const again = await run('ssh', [...sshArgs((await launch('ssh', 'ssh')).ticket), 'echo', 'recorded-again'], { timeoutMs: 60_000 });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /recorded-again/);
    await a.check('after recovery');
    a.p.child.stdin!.end();
    assert.equal((await a.p.done).code, 0);
  });

  it('a live session whose recording can no longer be written is ended (fail closed) and audited; the server goes on', async () => {
    const b = relay((await launch('ssh', 'ssh')).ticket);
    await b.check('before');
    const live = ((await call('GET', '/api/v1/sessions?status=live')).body.items as any[])[0];
    const file = findRecording(recordings(), live.id);
    assert.ok(file, 'the live recording file');
    chattr('+i', [file]);
    immutable.add(file);
    b.p.write(`${randomBytes(2000).toString('base64')}\n`);
    const done = await b.p.done;
    assert.notEqual(done.code, 0);
    assert.ok(done.stderr.includes(LOST), done.stderr);
    alive();
    const ended = await waitFor('the session to end', async () => {
      const s = (await call('GET', `/api/v1/sessions/${live.id}`)).body;
      return s.status === 'ended' ? s : false;
    });
    assert.equal(ended.endReason, LOST);
    const e = (await auditOf('recording.failed')).find((x) => x.targetId === live.id);
    assert.equal(e?.details.stage, 'write');
    assert.equal(e?.details.code, 'EPERM');
    const seal = (await auditOf('recording.seal')).find((x) => x.targetId === live.id);
    assert.equal(seal?.details.incomplete, 'EPERM', 'the seal says the recording is incomplete');
    chattr('-i', [file]);
    immutable.delete(file);
    // The directory is fine: the node is healthy, and the failure is reported as the last one.
    const h = await healthz();
    assert.equal(h.status, 200, JSON.stringify(h.json));
    assert.equal(h.json.checks.recordings.lastFailure.stage, 'write');
  });

  it('descriptors exhausted: the server stays up, refuses launches it cannot record (EMFILE) over SSH and the browser, keeps relaying and answers; it recovers', async () => {
    const c = relay((await launch('ssh', 'ssh')).ticket);
    await c.check('before');
    const web = await launch('ssh', 'ssh');
    const pid = server.proc.pid!;
    const port = Number(new URL(server.url).port);
    // Connections made while descriptors are still free: a kept-alive one for /healthz, one
    // for the WebSocket, and an OpenSSH master connection (authenticated with a ticket, no
    // channel yet) that a later `ssh -S` opens a session channel on.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    assert.equal((await get(server.url, '/healthz', agent)).status, 200);
    const wsSocket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    await once(wsSocket, 'secureConnect');
    wsSocket.on('error', () => undefined);
    const ctl = join(work, 'mux');
    const master = new Proc('ssh', sshArgs((await launch('ssh', 'ssh')).ticket, ['-M', '-S', ctl, '-N']), { timeoutMs: 900_000 });
    relays.push(master);
    await waitFor('the ssh master connection', async () => (await run('ssh', ['-S', ctl, '-O', 'check', 'x'])).code === 0 || (master.exited ? Promise.reject(new Error(master.all)) : false), 30_000, 100);

    const fds = () => readdirSync(`/proc/${pid}/fd`).map(Number);
    const softLimit = Number(/^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))![1]);
    const limit = Math.max(...fds()) + 1 + 16;
    const used = () => fds().filter((n) => n < limit).length;
    execFileSync('prlimit', ['--pid', String(pid), `--nofile=${limit}:`]);
    const idle: Socket[] = [];
    let droppedByServer = 0;
    const openIdle = (n: number) =>
      Promise.all(
        Array.from({ length: n }, () => {
          const s = netConnect(port, '127.0.0.1');
          idle.push(s);
          s.on('error', () => undefined);
          s.on('close', () => {
            if (!s.destroyed || s.readableEnded) droppedByServer++;
          });
          return once(s, 'connect').catch(() => undefined);
        }),
      );
    try {
      // Idle connections to the HTTPS port until the server has no descriptor left: the
      // ones it cannot accept, it accepts and closes at once (libuv's EMFILE fallback).
      for (let round = 0; round < 20 && !(used() >= limit && droppedByServer > 0); round++) {
        await openIdle(Math.max(limit - used(), 0) + 4);
        await waitFor('the server to accept or drop them', () => used() >= limit && droppedByServer > 0, 10_000, 50).catch(() => undefined);
      }
      assert.equal(used(), limit, 'every descriptor of the server is in use');
      assert.ok(droppedByServer > 0, 'connections beyond the limit were dropped');

      const h = await get(server.url, '/healthz', agent);
      assert.equal(h.status, 503, JSON.stringify(h.json));
      assert.equal(h.json.status, 'degraded');
      assert.equal(h.json.checks.recordings.error, 'EMFILE');

      // Browser terminal: the session is redeemed, its recording cannot be opened.
      const ws = new WebSocket(`${server.url.replace('https', 'wss')}/api/v1/terminal?ticket=${web.ticket}&consent=1`, {
        createConnection: () => wsSocket,
        rejectUnauthorized: false,
        headers: { authorization: `Bearer ${token}` },
      });
      const frames: any[] = [];
      ws.on('message', (d, binary) => {
        if (!binary) frames.push(JSON.parse(d.toString()));
      });
      ws.on('error', () => undefined);
      await once(ws, 'close');
      assert.deepEqual(frames[0], { type: 'error', message: 'the session could not be started; try again later' });
      await c.check('with descriptors exhausted');

      // SSH: exactly one descriptor free, for the target connection; the recording gets none.
      const idleOpen = () => idle.filter((s) => !s.destroyed);
      for (let i = 0; i < 20 && used() !== limit - 1; i++) {
        if (used() >= limit) idleOpen()[0]?.destroy();
        else await openIdle(limit - 1 - used());
        await waitFor('one free descriptor', () => used() === limit - 1, 5000, 20).catch(() => undefined);
      }
      assert.equal(used(), limit - 1, 'one descriptor is free');
      const ssh = await run('ssh', ['-S', ctl, '-o', 'BatchMode=yes', 'x', 'echo', 'must-not-run'], { timeoutMs: 60_000 });
      assert.notEqual(ssh.code, 0);
      assert.ok(ssh.stderr.includes(REFUSED), ssh.stderr);
      assert.ok(!ssh.stdout.includes('must-not-run'));
      await c.check('after the SSH refusal');
      alive();
    } finally {
      for (const s of idle) s.destroy();
      execFileSync('prlimit', ['--pid', String(pid), `--nofile=${softLimit}:`]);
      agent.destroy();
    }
    alive();
    await waitFor('descriptors to be released', () => used() < limit - 8, 30_000, 50);
    // (The API needs a new connection: only now.)
    const failed = (await auditOf('recording.failed')).filter((e) => e.details.code === 'EMFILE');
    assert.equal(failed.length, 2, 'both refused launches are audited with EMFILE');
    const h = await healthz();
    assert.equal(h.status, 200, JSON.stringify(h.json));
    await c.check('after recovery');
    const fresh = await run('ssh', [...sshArgs((await launch('ssh', 'ssh')).ticket), 'echo', 'fresh-session'], { timeoutMs: 60_000 });
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.match(fresh.stdout, /fresh-session/);
    c.p.child.stdin!.end();
    await c.p.done;
  });

  it('database files immutable: /healthz reports the database check failing, and recovers', async () => {
    const files = ['gatehouse.db', 'gatehouse.db-wal'].map((f) => join(dataDir, f)).filter((f) => existsSync(f));
    assert.ok(files.length >= 1);
    chattr('+i', files);
    for (const f of files) immutable.add(f);
    try {
      const h = await healthz();
      assert.equal(h.status, 503, JSON.stringify(h.json));
      assert.equal(h.json.status, 'degraded');
      assert.deepEqual(h.json.checks.database, { ok: false, error: 'write_failed' });
      assert.equal(h.json.checks.recordings.ok, true);
      alive();
    } finally {
      chattr('-i', files);
      for (const f of files) immutable.delete(f);
    }
    const ok = await healthz();
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.deepEqual(ok.json.checks.database, { ok: true });
  });
});
